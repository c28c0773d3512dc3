"""Do the configs cover the detector? ACTS digitization and space-point-selection configs.

Every sensitive module must be digitized (else ACTS's ``DigitizationAlgorithm`` silently drops
its hits) and every module with measurements must be in the space-point selection
(:func:`check_coverage`); part of ``acts-gnn geometry`` (:mod:`acts_gnn.evaluation.geometry`).

Both configs are ACTS JSON: the digitization config is a geometry hierarchy map (entries keyed
by volume / layer / sensitive ...; a module takes the most specific entry that matches it), the
space-point selection a list of geometry ids (``{"volume": 7}`` selects a whole volume). The
matching follows ACTS's ``GeometryHierarchyMap``: an entry matches a module when all levels of
the entry down to its deepest non-zero level are equal (:meth:`GeometrySelector.matches`).
Modules are given by their geometry ids (uint64).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.schemas import GEOMETRY_ID_FIELDS, decode_geometry_id

#: Levels of an ACTS GeometryIdentifier, most significant first.
GEOMETRY_LEVELS = ("volume", "boundary", "layer", "approach", "sensitive", "extra")


# -- configs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeometrySelector:
    """One geometry id of an ACTS config (hierarchy-map key or selection entry); 0 = any."""

    volume: int = 0
    boundary: int = 0
    layer: int = 0
    approach: int = 0
    sensitive: int = 0
    extra: int = 0

    @classmethod
    def from_json(cls, entry: Mapping[str, Any], source: str | Path = "") -> GeometrySelector:
        """Read the level fields of a JSON object; other keys (``value``) are ignored."""
        values = {}
        for level in GEOMETRY_LEVELS:
            raw = entry.get(level, 0)
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise InputDataError(f"{level} must be a non-negative integer", file=source)
            if raw > GEOMETRY_ID_FIELDS[level][1]:
                raise InputDataError(f"{level} {raw} does not fit a geometry id", file=source)
            values[level] = raw
        return cls(**values)

    def value(self) -> int:
        """The encoded 64-bit geometry id."""
        return sum(getattr(self, lv) << GEOMETRY_ID_FIELDS[lv][0] for lv in GEOMETRY_LEVELS)

    def depth(self) -> int:
        """Number of levels compared (0: matches everything; ACTS ignores ``extra``)."""
        levels = [getattr(self, lv) for lv in GEOMETRY_LEVELS[:-1]]
        return max((k + 1 for k, v in enumerate(levels) if v), default=0)

    def mask(self) -> int:
        """Bit mask of the compared levels (ACTS ``makeLeadingLevelsMask``)."""
        return sum(
            GEOMETRY_ID_FIELDS[lv][1] << GEOMETRY_ID_FIELDS[lv][0]
            for lv in GEOMETRY_LEVELS[: self.depth()]
        )

    def matches(self, geometry_ids: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which of the geometry ids (uint64) this entry applies to."""
        ids = np.asarray(geometry_ids, dtype=np.uint64)
        mask = np.uint64(self.mask())
        return (ids & mask) == (np.uint64(self.value()) & mask)

    def describe(self) -> str:
        """``volume 7, layer 2``; ``everything`` for the all-zero id."""
        parts = [f"{lv} {getattr(self, lv)}" for lv in GEOMETRY_LEVELS if getattr(self, lv)]
        return ", ".join(parts) if parts else "everything"


@dataclass(frozen=True)
class DigiEntry:
    """One entry of a digitization config: where it applies and whether it digitizes."""

    selector: GeometrySelector
    smearing: int  # number of smeared local parameters
    geometric: int  # number of geometrically (pixel/strip) digitized local parameters

    @property
    def digitizes(self) -> bool:
        return self.smearing > 0 or self.geometric > 0


def read_digi_config(path: str | Path) -> list[DigiEntry]:
    """Read an ACTS digitization config (JSON geometry hierarchy map); raises InputDataError."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise InputDataError(
            "not an ACTS digitization config: expected an object with an 'entries' list",
            file=path,
        )
    header = data.get("acts-geometry-hierarchy-map", {})
    identifier = header.get("value-identifier") if isinstance(header, dict) else None
    if identifier not in (None, "digitization-configuration"):
        raise InputDataError(
            f"hierarchy map of {identifier!r}, not a digitization configuration", file=path
        )
    entries = []
    for k, entry in enumerate(data["entries"]):
        if not isinstance(entry, dict):
            raise InputDataError(f"entry {k} is not an object", file=path)
        value = entry.get("value", {})
        if not isinstance(value, dict):
            raise InputDataError(f"entry {k}: 'value' is not an object", file=path)
        geometric = value.get("geometric", {})
        indices = geometric.get("indices", []) if isinstance(geometric, dict) else []
        entries.append(
            DigiEntry(
                GeometrySelector.from_json(entry, path),
                smearing=len(value.get("smearing", []) or []),
                geometric=len(indices or []),
            )
        )
    return entries


def read_spacepoint_selection(path: str | Path) -> list[GeometrySelector]:
    """Read an ACTS space-point geometry selection (JSON list of geometry-id objects)."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise InputDataError(
            "not a space-point selection: expected a JSON list of objects like {'volume': 7}",
            file=path,
        )
    return [GeometrySelector.from_json(entry, path) for entry in data]


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise InputDataError("config file does not exist", file=path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputDataError(f"not valid JSON ({err})", file=path) from err


def check_readable_by_acts(
    digi_config_file: str | Path, spacepoint_selection_file: str | Path
) -> list[str]:
    """Problems ACTS's own JSON readers report on the two files ([] if fine or no pyacts)."""
    try:
        import acts.examples.json as acts_json
    except ImportError:
        return []
    problems = []
    for reader, path in (
        (acts_json.readDigiConfigFromJson, digi_config_file),
        (acts_json.readJsonGeometryList, spacepoint_selection_file),
    ):
        try:
            reader(str(path))
        except Exception as err:  # ACTS raises RuntimeError, ValueError, nlohmann errors, ...
            problems.append(f"ACTS cannot read {path}: {err}")
    return problems


def digitized_mask(
    entries: Sequence[DigiEntry], geometry_ids: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which modules the config digitizes: their most specific matching entry has content."""
    ids = np.asarray(geometry_ids, dtype=np.uint64)
    best_depth = np.full(ids.shape, -1, dtype=np.int64)
    result = np.zeros(ids.shape, dtype=bool)
    for entry in entries:
        depth = entry.selector.depth()
        take = entry.selector.matches(ids) & (depth > best_depth)
        best_depth[take] = depth
        result[take] = entry.digitizes
    return result


def selected_mask(
    selectors: Sequence[GeometrySelector], geometry_ids: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which modules a space-point selection includes."""
    ids = np.asarray(geometry_ids, dtype=np.uint64)
    result = np.zeros(ids.shape, dtype=bool)
    for selector in selectors:
        result |= selector.matches(ids)
    return result


# -- coverage ---------------------------------------------------------------------------------
@dataclass
class UncoveredVolume:
    """A volume with modules a config misses: how many of how many, and on which layers."""

    volume: int
    n_modules: int
    n_uncovered: int
    layers: list[int]
    hits: int = 0  # event hits on the uncovered modules

    def describe(self) -> str:
        extent = (
            "whole volume"
            if self.n_uncovered == self.n_modules
            else f"layers {', '.join(map(str, self.layers))}"
        )
        text = f"volume {self.volume}: {self.n_uncovered} of {self.n_modules} modules ({extent})"
        return text + (f", {self.hits} event hits on them" if self.hits else "")


@dataclass
class CoverageReport:
    """Result of :func:`check_coverage`; ``ok`` when nothing is uncovered."""

    digi_config_file: str
    spacepoint_selection_file: str
    n_modules: int
    digi_entries: int
    selection_entries: int
    digi_uncovered: list[UncoveredVolume]
    spacepoint_uncovered: list[UncoveredVolume]
    volumes_with_measurements: list[int]
    problems: list[str] = field(default_factory=list)  # unreadable or invalid entries

    @property
    def ok(self) -> bool:
        return not (self.digi_uncovered or self.spacepoint_uncovered or self.problems)

    def failure_message(self) -> str:
        """One sentence per failed check ('' when ``ok``)."""
        out = []
        if self.digi_uncovered:
            vols = ", ".join(str(u.volume) for u in self.digi_uncovered)
            out.append(
                f"digitization config {self.digi_config_file} misses sensitive modules of "
                f"volume(s) {vols}: their hits would be dropped without a warning"
            )
        if self.spacepoint_uncovered:
            vols = ", ".join(str(u.volume) for u in self.spacepoint_uncovered)
            out.append(
                f"space-point selection {self.spacepoint_selection_file} misses volume(s) {vols}"
                " that have measurements: they would make no space points"
            )
        out.extend(self.problems)
        return "\n".join(out)

    def lines(self) -> list[str]:
        out = [
            f"digitization config: {self.digi_config_file} ({self.digi_entries} entries)",
            f"space-point selection: {self.spacepoint_selection_file} "
            f"({self.selection_entries} entries)",
            f"sensitive modules of the tracking geometry: {self.n_modules}",
        ]
        if self.digi_uncovered:
            out.append("NOT DIGITIZED (sensitive modules without a digitization entry):")
            out += [f"  {u.describe()}" for u in self.digi_uncovered]
        else:
            out.append("digitization covers every sensitive module: OK")
        vols = ", ".join(map(str, self.volumes_with_measurements))
        if self.spacepoint_uncovered:
            out.append(f"NOT IN THE SPACE-POINT SELECTION (volumes with measurements: {vols}):")
            out += [f"  {u.describe()}" for u in self.spacepoint_uncovered]
        else:
            out.append(f"space-point selection covers every volume with measurements ({vols}): OK")
        out += [f"PROBLEM: {p}" for p in self.problems]
        return out


def _uncovered_by_volume(
    module_ids: npt.NDArray[np.uint64],
    considered: npt.NDArray[np.bool_],
    covered: npt.NDArray[np.bool_],
    hit_geometry_ids: npt.NDArray[np.uint64] | None,
) -> list[UncoveredVolume]:
    volumes = decode_geometry_id(module_ids, "volume")
    layers = decode_geometry_id(module_ids, "layer")
    missing = considered & ~covered
    out = []
    for volume in np.unique(volumes[missing]):
        in_volume = volumes == volume
        miss = missing & in_volume
        hits = 0
        if hit_geometry_ids is not None:
            hits = int(np.isin(hit_geometry_ids, module_ids[miss]).sum())
        out.append(
            UncoveredVolume(
                volume=int(volume),
                n_modules=int((in_volume & considered).sum()),
                n_uncovered=int(miss.sum()),
                layers=sorted(int(v) for v in np.unique(layers[miss])),
                hits=hits,
            )
        )
    return out


def check_coverage(
    module_ids: npt.ArrayLike,
    digi_config_file: str | Path,
    spacepoint_selection_file: str | Path,
    hit_geometry_ids: npt.ArrayLike | None = None,
    acts_check: bool = False,
) -> CoverageReport:
    """Check that the configs cover the detector.

    module_ids: geometry ids (uint64) of all sensitive modules of the tracking geometry.
    Digitization must cover every one of them. The space-point selection must cover every
    module that has measurements: those the config digitizes, plus those with hits in
    ``hit_geometry_ids`` (the ``geometry_id`` column of prepared events). With ``acts_check``
    the files are also read with ACTS's own JSON readers. Malformed files raise InputDataError.
    """
    ids = np.unique(np.asarray(module_ids, dtype=np.uint64))
    hit_ids = None if hit_geometry_ids is None else np.asarray(hit_geometry_ids, np.uint64)
    digi = read_digi_config(digi_config_file)
    selection = read_spacepoint_selection(spacepoint_selection_file)
    problems = (
        check_readable_by_acts(digi_config_file, spacepoint_selection_file) if acts_check else []
    )
    for sel in selection:
        if sel.boundary or sel.approach or sel.extra:
            problems.append(
                f"space-point selection entry ({sel.describe()}) sets boundary, approach or "
                "extra: ACTS's SpacePointMaker accepts only volume, layer (and sensitive)"
            )
    if not selection:
        problems.append(f"space-point selection {spacepoint_selection_file} is empty")

    digitized = digitized_mask(digi, ids)
    with_measurements = digitized.copy()
    if hit_ids is not None:
        with_measurements |= np.isin(ids, hit_ids)
    selected = selected_mask(selection, ids)
    everything = np.ones(len(ids), dtype=bool)
    volumes = decode_geometry_id(ids[with_measurements], "volume")
    return CoverageReport(
        digi_config_file=str(digi_config_file),
        spacepoint_selection_file=str(spacepoint_selection_file),
        n_modules=len(ids),
        digi_entries=len(digi),
        selection_entries=len(selection),
        digi_uncovered=_uncovered_by_volume(ids, everything, digitized, hit_ids),
        spacepoint_uncovered=_uncovered_by_volume(ids, with_measurements, selected, hit_ids),
        volumes_with_measurements=sorted(int(v) for v in np.unique(volumes)),
        problems=problems,
    )


__all__ = [
    "GEOMETRY_LEVELS",
    "CoverageReport",
    "DigiEntry",
    "GeometrySelector",
    "UncoveredVolume",
    "check_coverage",
    "check_readable_by_acts",
    "digitized_mask",
    "read_digi_config",
    "read_spacepoint_selection",
    "selected_mask",
]

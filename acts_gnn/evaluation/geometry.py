"""Geometry validation (``acts-gnn geometry``): hit maps, module-map connectivity, config coverage.

Three questions about a detector set-up, answered from its tracking geometry (the geometry ids
and centres of its sensitive modules), its digitization and space-point-selection configs, a
few prepared events and, optionally, a module map:

* Where are the hits? r-z and x-y maps per volume (:func:`plot_hit_maps`, :func:`hit_summary`).
* What does the module map connect? Doublets and triplets per (volume, layer) pair
  (:func:`module_map_connectivity`), and which detector modules the map never saw, with the
  event hits that fall on them (:func:`module_coverage`).
* Do the configs cover the detector? Every sensitive module must be digitized (else ACTS's
  ``DigitizationAlgorithm`` silently drops its hits) and every module with measurements must be
  in the space-point selection (:func:`check_coverage`).

Both configs are ACTS JSON: the digitization config is a geometry hierarchy map (entries keyed
by volume / layer / sensitive ...; a module takes the most specific entry that matches it), the
space-point selection a list of geometry ids (``{"volume": 7}`` selects a whole volume). The
matching follows ACTS's ``GeometryHierarchyMap``: an entry matches a module when all levels of
the entry down to its deepest non-zero level are equal (:meth:`GeometrySelector.matches`).

Units: positions and radii in mm, angles in rad.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.schemas import GEOMETRY_ID_FIELDS, decode_geometry_id

#: Levels of an ACTS GeometryIdentifier, most significant first.
GEOMETRY_LEVELS = ("volume", "boundary", "layer", "approach", "sensitive", "extra")
#: Hit-table columns this module reads.
HIT_MAP_COLUMNS = ("x", "y", "z", "r", "geometry_id", "volume_id", "layer_id")

LayerKey = tuple[int, int]  # (volume, layer)


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


# -- hits ---------------------------------------------------------------------------------------
def concatenate_hits(events: Iterable[Any]) -> tuple[dict[str, npt.NDArray[Any]], int]:
    """The :data:`HIT_MAP_COLUMNS` of several events' hit tables, joined; and the event count."""
    parts: dict[str, list[npt.NDArray[Any]]] = {c: [] for c in HIT_MAP_COLUMNS}
    n = 0
    for event in events:
        for c in HIT_MAP_COLUMNS:
            parts[c].append(np.asarray(event.hits[c]))
        n += 1
    if n == 0:
        raise InputDataError("no events to read hits from")
    return {c: np.concatenate(v) for c, v in parts.items()}, n


@dataclass
class VolumeHits:
    """Hits of one volume: count, layers, and r, z extent [mm]."""

    volume: int
    hits: int
    layers: list[int]
    r_range: tuple[float, float]
    z_range: tuple[float, float]


def hit_summary(hits: Mapping[str, npt.NDArray[Any]]) -> list[VolumeHits]:
    """Per-volume hit counts, layers and r, z extents [mm] of a hit table."""
    volume = np.asarray(hits["volume_id"])
    out = []
    for v in np.unique(volume):
        sel = volume == v
        r, z = np.asarray(hits["r"])[sel], np.asarray(hits["z"])[sel]
        out.append(
            VolumeHits(
                volume=int(v),
                hits=int(sel.sum()),
                layers=sorted(int(x) for x in np.unique(np.asarray(hits["layer_id"])[sel])),
                r_range=(float(r.min()), float(r.max())),
                z_range=(float(z.min()), float(z.max())),
            )
        )
    return out


def hit_id_mismatches(hits: Mapping[str, npt.NDArray[Any]]) -> int:
    """Hits whose volume_id / layer_id columns disagree with their geometry_id."""
    gid = np.asarray(hits["geometry_id"], dtype=np.uint64)
    return int(
        np.sum(
            (decode_geometry_id(gid, "volume") != np.asarray(hits["volume_id"]))
            | (decode_geometry_id(gid, "layer") != np.asarray(hits["layer_id"]))
        )
    )


# -- module map -------------------------------------------------------------------------------
def layer_keys(geometry_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """(volume, layer) of each geometry id, as an int64 [N, 2] array."""
    ids = np.asarray(geometry_ids, dtype=np.uint64)
    return np.stack(
        [decode_geometry_id(ids, "volume"), decode_geometry_id(ids, "layer")], axis=-1
    ).astype(np.int64)


def layer_label(key: LayerKey) -> str:
    """``7:2`` for volume 7, layer 2."""
    return f"{key[0]}:{key[1]}"


@dataclass
class Connectivity:
    """Module-map connectivity between (volume, layer) pairs.

    layers: the L layers, sorted; doublets[i, j]: doublets from layer i (first module along the
    track) to layer j; triplets[i, j]: triplets with a leg from layer i to layer j (each
    triplet counts on both its legs); layer_triplets: triplet count per (layer, layer, layer).
    """

    layers: list[LayerKey]
    doublets: npt.NDArray[np.int64]
    triplets: npt.NDArray[np.int64]
    layer_triplets: dict[tuple[LayerKey, LayerKey, LayerKey], int]

    def pair_lines(self) -> list[str]:
        """A text table of the layer pairs with doublets (inner -> outer)."""
        out = [f"{'from':>6} {'to':>6} {'doublets':>9} {'triplets':>9}"]
        for i, j in zip(*np.nonzero(self.doublets)):
            out.append(
                f"{layer_label(self.layers[i]):>6} {layer_label(self.layers[j]):>6} "
                f"{self.doublets[i, j]:>9} {self.triplets[i, j]:>9}"
            )
        return out

    def triplet_lines(self) -> list[str]:
        """A text table of the layer triplets, most frequent first."""
        out = [f"{'layer 1':>7} {'layer 2':>7} {'layer 3':>7} {'triplets':>9}"]
        for (a, b, c), n in sorted(self.layer_triplets.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{layer_label(a):>7} {layer_label(b):>7} {layer_label(c):>7} {n:>9}")
        return out


def module_map_connectivity(module_map: Any, layers: Iterable[LayerKey] = ()) -> Connectivity:
    """Doublets and triplets of a :class:`~acts_gnn.graph.module_map.core.ModuleMap` per layer pair.

    ``layers`` adds (volume, layer) keys that get a row even without doublets (e.g. every
    layer of the detector), so the matrix shows layers the map never connects.
    """
    module_layers = layer_keys(module_map.modules)
    keys = sorted({(int(v), int(lay)) for v, lay in module_layers} | set(layers))
    index = {k: n for n, k in enumerate(keys)}
    module_row = np.array([index[(int(v), int(lay))] for v, lay in module_layers], dtype=np.int64)
    n = len(keys)

    doublets = np.zeros((n, n), dtype=np.int64)
    d = np.asarray(module_map.doublets, dtype=np.int64).reshape(-1, 2)
    np.add.at(doublets, (module_row[d[:, 0]], module_row[d[:, 1]]), 1)

    triplets = np.zeros((n, n), dtype=np.int64)
    t = np.asarray(module_map.triplets, dtype=np.int64).reshape(-1, 3)
    rows = module_row[t] if len(t) else np.zeros((0, 3), dtype=np.int64)
    np.add.at(triplets, (rows[:, 0], rows[:, 1]), 1)
    np.add.at(triplets, (rows[:, 1], rows[:, 2]), 1)

    combos, counts = np.unique(rows, axis=0, return_counts=True)
    layer_triplets = {(keys[a], keys[b], keys[c]): int(k) for (a, b, c), k in zip(combos, counts)}
    return Connectivity(keys, doublets, triplets, layer_triplets)


@dataclass
class VolumeModules:
    """Detector modules of one volume vs a module map, with the event hits on missing ones."""

    volume: int
    n_modules: int
    n_in_map: int  # modules in at least one triplet
    hits: int
    hits_on_missing: int

    @property
    def n_missing(self) -> int:
        return self.n_modules - self.n_in_map


@dataclass
class ModuleCoverage:
    """Result of :func:`module_coverage`."""

    volumes: list[VolumeModules]
    missing_ids: npt.NDArray[np.uint64]  # detector modules in no triplet of the map
    foreign_ids: npt.NDArray[np.uint64]  # map modules that are not detector modules

    def lines(self) -> list[str]:
        out = [
            f"{'volume':>6} {'modules':>8} {'in map':>8} {'missing':>8} "
            f"{'hits':>9} {'hits on missing':>16}"
        ]
        for v in self.volumes:
            frac = f" ({v.hits_on_missing / v.hits:.2%})" if v.hits else ""
            out.append(
                f"{v.volume:>6} {v.n_modules:>8} {v.n_in_map:>8} {v.n_missing:>8} "
                f"{v.hits:>9} {v.hits_on_missing:>7}{frac:>9}"
            )
        total = sum(v.n_modules for v in self.volumes)
        hits = sum(v.hits for v in self.volumes)
        on_missing = sum(v.hits_on_missing for v in self.volumes)
        out.append(
            f"{'all':>6} {total:>8} {total - len(self.missing_ids):>8} "
            f"{len(self.missing_ids):>8} {hits:>9} {on_missing:>7}"
            + (f" ({on_missing / hits:.2%})" if hits else "")
        )
        if len(self.foreign_ids):
            out.append(
                f"PROBLEM: {len(self.foreign_ids)} module(s) of the map are not sensitive "
                f"modules of this detector (first: {int(self.foreign_ids[0])}): a map of "
                "another geometry?"
            )
        return out


def module_coverage(
    module_ids: npt.ArrayLike,
    module_map: Any,
    hit_geometry_ids: npt.ArrayLike | None = None,
) -> ModuleCoverage:
    """Which detector modules (geometry ids, uint64) are in no triplet of the module map.

    Per volume: modules, modules in the map, and the hits of ``hit_geometry_ids`` (all / on
    modules missing from the map; those hits can never get a module-map edge).
    """
    ids = np.unique(np.asarray(module_ids, dtype=np.uint64))
    map_modules = np.asarray(module_map.modules, dtype=np.uint64)
    used = map_modules[np.unique(np.asarray(module_map.triplets, dtype=np.int64))]
    in_map = np.isin(ids, used)
    hit_ids = (
        np.zeros(0, np.uint64)
        if hit_geometry_ids is None
        else np.asarray(hit_geometry_ids, np.uint64)
    )
    hit_volume = decode_geometry_id(hit_ids, "volume")
    hit_missing = np.isin(hit_ids, ids[~in_map])
    volumes = decode_geometry_id(ids, "volume")
    rows = [
        VolumeModules(
            volume=int(v),
            n_modules=int((volumes == v).sum()),
            n_in_map=int((in_map & (volumes == v)).sum()),
            hits=int((hit_volume == v).sum()),
            hits_on_missing=int((hit_missing & (hit_volume == v)).sum()),
        )
        for v in np.unique(volumes)
    ]
    return ModuleCoverage(rows, ids[~in_map], np.setdiff1d(map_modules, ids))


# -- the whole report -----------------------------------------------------------------------
@dataclass
class GeometryReport:
    """Everything ``acts-gnn geometry`` finds; :meth:`text` is report.txt."""

    detector: str
    coverage: CoverageReport
    volume_names: Mapping[int, str] = field(default_factory=dict)
    events: int = 0
    input: str | None = None
    hits: list[VolumeHits] | None = None
    hits_on_unknown_modules: int = 0
    hit_id_mismatches: int = 0
    module_map: str | None = None
    module_map_repr: str = ""
    modules: ModuleCoverage | None = None
    connectivity: Connectivity | None = None
    plots: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Everything that makes the command fail (exit code 1)."""
        out = [line for line in self.coverage.failure_message().splitlines() if line]
        if self.hits_on_unknown_modules:
            out.append(
                f"{self.hits_on_unknown_modules} event hit(s) lie on geometry ids that are not "
                f"sensitive modules of the {self.detector} detector"
            )
        if self.hit_id_mismatches:
            out.append(
                f"{self.hit_id_mismatches} hit(s) have volume_id/layer_id columns that disagree "
                "with their geometry_id"
            )
        if self.modules is not None and len(self.modules.foreign_ids):
            out.append(
                f"{len(self.modules.foreign_ids)} module(s) of the module map are not sensitive "
                f"modules of the {self.detector} detector"
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def _name(self, volume: int) -> str:
        return self.volume_names.get(volume, "")

    def text(self) -> str:
        """The full report (report.txt)."""
        out = [f"geometry validation: {self.detector} detector", ""]
        out += ["== configuration coverage ==", *self.coverage.lines(), ""]
        if self.hits is not None:
            out.append(f"== hits: {self.events} event(s) from {self.input} ==")
            out.append(
                f"{'volume':>6} {'':<28} {'hits':>9} {'r min':>8} {'r max':>8} "
                f"{'z min':>9} {'z max':>9}  layers"
            )
            for v in self.hits:
                out.append(
                    f"{v.volume:>6} {self._name(v.volume):<28} {v.hits:>9} "
                    f"{v.r_range[0]:>8.1f} {v.r_range[1]:>8.1f} {v.z_range[0]:>9.1f} "
                    f"{v.z_range[1]:>9.1f}  {','.join(map(str, v.layers))}"
                )
            out.append("(r, z in mm)")
            out.append(
                f"hits on geometry ids that are not detector modules: {self.hits_on_unknown_modules}"
            )
            out.append(
                f"hits whose volume/layer columns disagree with geometry_id: {self.hit_id_mismatches}"
            )
            out.append("")
        if self.modules is not None and self.connectivity is not None:
            out.append(f"== module map {self.module_map}: {self.module_map_repr} ==")
            out.append("detector modules in no triplet of the map, per volume:")
            out += self.modules.lines()
            out.append("")
            out.append("layer pairs (volume:layer, first module along the track -> second):")
            out += self.connectivity.pair_lines()
            out.append("")
            out.append("layer triplets:")
            out += self.connectivity.triplet_lines()
            out.append("")
        if self.plots:
            out.append("== plots ==")
            out += [str(p) for p in self.plots]
            out.append("")
        out.append("RESULT: OK" if self.ok else "RESULT: FAILED")
        out += [f"  {p}" for p in self.problems]
        return "\n".join(out) + "\n"

    def summary(self) -> list[str]:
        """A few lines for the terminal."""
        c = self.coverage
        out = [
            f"{self.detector} detector: {c.n_modules} sensitive modules; digitization "
            f"{'OK' if not c.digi_uncovered else 'misses volume(s) ' + ', '.join(str(u.volume) for u in c.digi_uncovered)}; "
            f"space-point selection "
            f"{'OK' if not c.spacepoint_uncovered else 'misses volume(s) ' + ', '.join(str(u.volume) for u in c.spacepoint_uncovered)}"
        ]
        if self.hits is not None:
            n = sum(v.hits for v in self.hits)
            out.append(
                f"hits: {n} in {self.events} event(s), {len(self.hits)} volumes, "
                f"{sum(len(v.layers) for v in self.hits)} layers"
            )
        if self.modules is not None and self.connectivity is not None:
            hits = sum(v.hits for v in self.modules.volumes)
            on_missing = sum(v.hits_on_missing for v in self.modules.volumes)
            pairs = int(np.count_nonzero(self.connectivity.doublets))
            out.append(
                f"module map: {self.module_map_repr}; {pairs} connected layer pairs, "
                f"{len(self.connectivity.layer_triplets)} layer triplets; "
                f"{len(self.modules.missing_ids)} detector modules never seen"
                + (f" ({on_missing} of {hits} hits on them)" if hits else "")
            )
        return out


def build_report(
    module_ids: npt.ArrayLike,
    digi_config_file: str | Path,
    spacepoint_selection_file: str | Path,
    hits: Mapping[str, npt.NDArray[Any]] | None = None,
    module_map: Any = None,
    *,
    detector: str = "generic",
    volume_names: Mapping[int, str] | None = None,
    events: int = 0,
    input: str | Path | None = None,
    module_map_name: str | Path | None = None,
    acts_check: bool = False,
) -> GeometryReport:
    """Run every check on a detector's sensitive modules (geometry ids, uint64), its two
    configs, an optional hit table (:data:`HIT_MAP_COLUMNS`; mm) and an optional ModuleMap."""
    ids = np.unique(np.asarray(module_ids, dtype=np.uint64))
    hit_ids = None if hits is None else np.asarray(hits["geometry_id"], np.uint64)
    report = GeometryReport(
        detector=detector,
        coverage=check_coverage(
            ids, digi_config_file, spacepoint_selection_file, hit_ids, acts_check=acts_check
        ),
        volume_names=dict(volume_names or {}),
        events=events,
        input=None if input is None else str(input),
    )
    if hits is not None and hit_ids is not None:
        report.hits = hit_summary(hits)
        report.hits_on_unknown_modules = int((~np.isin(hit_ids, ids)).sum())
        report.hit_id_mismatches = hit_id_mismatches(hits)
    if module_map is not None:
        report.module_map = None if module_map_name is None else str(module_map_name)
        report.module_map_repr = repr(module_map)
        report.modules = module_coverage(ids, module_map, hit_ids)
        detector_layers = {(int(v), int(lay)) for v, lay in layer_keys(ids)}
        report.connectivity = module_map_connectivity(module_map, detector_layers)
    return report


# -- plots ----------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def _volume_colours(volumes: Sequence[int]) -> dict[int, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {v: cmap(k % 10) for k, v in enumerate(sorted(volumes))}


def _save(fig: Any, output: Path) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(output, dpi=90)
    return output


def barrel_volumes(hits: Mapping[str, npt.NDArray[Any]]) -> list[int]:
    """Volumes whose hits lie on both sides of z = 0 (barrels; endcaps sit at one sign of z)."""
    volume = np.asarray(hits["volume_id"])
    z = np.asarray(hits["z"])
    return [int(v) for v in np.unique(volume) if z[volume == v].min() < 0 < z[volume == v].max()]


def plot_hit_maps(
    hits: Mapping[str, npt.NDArray[Any]],
    output_dir: str | Path,
    volume_names: Mapping[int, str] | None = None,
    max_points: int = 300_000,
    seed: int = 0,
) -> list[Path]:
    """Write the hit maps of a hit table (positions in mm) into ``output_dir``.

    ``hitmap.png``: scatter plots, one colour per volume, of r-z, x-y of the barrel volumes
    (:func:`barrel_volumes`) and x-y of the others (endcaps), at most ``max_points`` hits (a
    random subset). ``hitmap_density.png``: 2D histograms of all hits in r-z and x-y (log
    colour scale).
    """
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    output_dir = Path(output_dir)
    names = volume_names or {}
    x, y, z, r = (np.asarray(hits[c], np.float64) for c in ("x", "y", "z", "r"))
    volume = np.asarray(hits["volume_id"])
    pick = np.arange(len(x))
    if len(pick) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    volumes = [int(v) for v in np.unique(volume)]
    barrels = set(barrel_volumes(hits))
    colours = _volume_colours(volumes)
    r_max = float(r.max()) if len(r) else 1.0

    fig, axes = plt.subplots(1, 3, figsize=(26, 8), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    for v in volumes:
        sel = pick[volume[pick] == v]
        label = f"{v} {names.get(v, '')}".strip()
        axes[0].scatter(z[sel], r[sel], s=0.3, color=colours[v], label=label, rasterized=True)
        ax = axes[1] if v in barrels else axes[2]
        ax.scatter(x[sel], y[sel], s=0.3, color=colours[v], rasterized=True)
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="r-z", ylim=(0, 1.35 * r_max))
    axes[0].legend(markerscale=20, fontsize=10, loc="upper left", ncol=3, title="volume")
    for ax, title in ((axes[1], "x-y, barrel volumes"), (axes[2], "x-y, endcap volumes")):
        ax.set(xlabel="x [mm]", ylabel="y [mm]", title=title, aspect="equal")
        ax.set(xlim=(-1.05 * r_max, 1.05 * r_max), ylim=(-1.05 * r_max, 1.05 * r_max))
    fig.suptitle(f"{len(x)} hits ({len(pick)} drawn)")
    paths = [_save(fig, output_dir / "hitmap.png")]
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(20, 8), gridspec_kw={"width_ratios": [1.6, 1]})
    if len(x):
        _, _, _, image = axes[0].hist2d(z, r, bins=(300, 150), norm=LogNorm(), cmap="viridis")
        fig.colorbar(image, ax=axes[0], label="hits")
        _, _, _, image = axes[1].hist2d(x, y, bins=(250, 250), norm=LogNorm(), cmap="viridis")
        fig.colorbar(image, ax=axes[1], label="hits")
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="hit density, r-z")
    axes[1].set(xlabel="x [mm]", ylabel="y [mm]", title="hit density, x-y", aspect="equal")
    paths.append(_save(fig, output_dir / "hitmap_density.png"))
    plt.close(fig)
    return paths


def plot_layer_connectivity(connectivity: Connectivity, output: str | Path) -> Path:
    """Layer-to-layer matrix of module-map doublet counts (log colour), rows = first layer."""
    from matplotlib.colors import LogNorm

    plt = _pyplot()
    n = len(connectivity.layers)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.28 * n + 3), max(7.0, 0.28 * n + 2)))
    counts = np.where(connectivity.doublets > 0, connectivity.doublets, np.nan)
    if np.isfinite(counts).any():
        image = ax.imshow(counts, norm=LogNorm(), cmap="viridis", origin="upper")
        fig.colorbar(image, ax=ax, label="doublets")
    labels = [layer_label(k) for k in connectivity.layers]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.tick_params(which="minor", length=0)
    for k in range(1, n):  # volume boundaries
        if connectivity.layers[k][0] != connectivity.layers[k - 1][0]:
            ax.axhline(k - 0.5, color="grey", lw=0.6)
            ax.axvline(k - 0.5, color="grey", lw=0.6)
    ax.set(
        xlabel="second layer (volume:layer)",
        ylabel="first layer (volume:layer)",
        xlim=(-0.5, n - 0.5),
        ylim=(n - 0.5, -0.5),
    )
    ax.set_title("module-map doublets between layers")
    path = _save(fig, Path(output))
    plt.close(fig)
    return path


def plot_module_coverage(
    module_ids: npt.ArrayLike,
    module_centres: npt.ArrayLike,
    missing_ids: npt.ArrayLike,
    output: str | Path,
) -> Path:
    """r-z and x-y of the detector's module centres [mm]: grey in the map, red missing."""
    plt = _pyplot()
    ids = np.asarray(module_ids, dtype=np.uint64)
    centres = np.asarray(module_centres, dtype=np.float64).reshape(-1, 3)
    missing = np.isin(ids, np.asarray(missing_ids, dtype=np.uint64))
    r = np.hypot(centres[:, 0], centres[:, 1])
    fig, axes = plt.subplots(1, 2, figsize=(20, 8), gridspec_kw={"width_ratios": [1.6, 1]})
    for sel, colour, size, label in (
        (~missing, "lightgrey", 2.0, f"in the map ({int((~missing).sum())})"),
        (missing, "red", 6.0, f"in no triplet ({int(missing.sum())})"),
    ):
        axes[0].scatter(centres[sel, 2], r[sel], s=size, color=colour, label=label)
        axes[1].scatter(centres[sel, 0], centres[sel, 1], s=size, color=colour)
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="module centres, r-z")
    axes[1].set(xlabel="x [mm]", ylabel="y [mm]", title="module centres, x-y", aspect="equal")
    axes[0].legend(markerscale=3, loc="upper left")
    path = _save(fig, Path(output))
    plt.close(fig)
    return path


def write_report(
    report: GeometryReport,
    output_dir: str | Path,
    hits: Mapping[str, npt.NDArray[Any]] | None = None,
    module_ids: npt.ArrayLike | None = None,
    module_centres: npt.ArrayLike | None = None,
    plots: bool = True,
) -> Path:
    """Write the plots (unless ``plots`` is False) and ``report.txt`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if plots:
        if hits is not None and len(hits["x"]):
            report.plots += plot_hit_maps(hits, output_dir, report.volume_names)
        if report.connectivity is not None:
            report.plots.append(
                plot_layer_connectivity(report.connectivity, output_dir / "layer_connectivity.png")
            )
        if report.modules is not None and module_ids is not None and module_centres is not None:
            report.plots.append(
                plot_module_coverage(
                    module_ids,
                    module_centres,
                    report.modules.missing_ids,
                    output_dir / "module_coverage.png",
                )
            )
    path = output_dir / "report.txt"
    path.write_text(report.text())
    return path


def run_geometry_validation(
    output_dir: str | Path,
    input_dir: str | Path | None = None,
    *,
    events: int | None = None,
    module_map_path: str | Path | None = None,
    digi_config_file: str | Path | None = None,
    spacepoint_selection_file: str | Path | None = None,
    plots: bool = True,
) -> GeometryReport:
    """What ``acts-gnn geometry`` does, on the generic detector; returns the report written.

    The configs default to the detector's own (``geometry/generic/``); ``events`` limits the
    prepared events read from ``input_dir``.
    """
    from acts_gnn.detector import GENERIC_VOLUMES, load_generic_detector

    detector = load_generic_detector()
    surfaces = detector.surfaces()
    digi = Path(digi_config_file or detector.digi_config_file)
    selection = Path(spacepoint_selection_file or detector.spacepoint_selection_file)
    hits, n_events = None, 0
    if input_dir is not None:
        from acts_gnn.io.event_store import PreparedDataset

        dataset = PreparedDataset(input_dir)
        if events:
            dataset = PreparedDataset(input_dir, dataset.event_ids[:events])
        hits, n_events = concatenate_hits(dataset)
    module_map = None
    if module_map_path is not None:
        from acts_gnn.graph.module_map.formats import load_module_map

        module_map = load_module_map(module_map_path)
    report = build_report(
        surfaces.geometry_ids,
        digi,
        selection,
        hits,
        module_map,
        detector=detector.name,
        volume_names={v: f"{a} {b}" for v, (a, b) in GENERIC_VOLUMES.items()},
        events=n_events,
        input=input_dir,
        module_map_name=module_map_path,
        acts_check=True,
    )
    write_report(report, output_dir, hits, surfaces.geometry_ids, surfaces.translations, plots)
    return report


# -- command line -------------------------------------------------------------------------------
def add_geometry_arguments(parser: Any) -> None:
    """Options of ``acts-gnn geometry`` (an ``argparse.ArgumentParser``)."""
    import argparse

    parser.add_argument(
        "--input", "-i", type=Path, default=None, help="prepared folder (acts-gnn prepare)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output folder (report.txt, PNGs)"
    )
    parser.add_argument("--events", type=int, default=None, help="only the first N events")
    parser.add_argument(
        "--module-map", "-m", type=str, default=None, help="module-map file or prefix (any format)"
    )
    parser.add_argument(
        "--digi-config",
        type=Path,
        default=None,
        help="ACTS digitization config JSON (default: the detector's own)",
    )
    parser.add_argument(
        "--spacepoint-selection",
        type=Path,
        default=None,
        help="ACTS space-point geometry selection JSON (default: the detector's own)",
    )
    parser.add_argument(
        "--plots",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the PNG hit maps and connectivity plots (default on)",
    )


def geometry_command(args: Any) -> int:
    """Run ``acts-gnn geometry``: print the summary; 0 if every check passed, else 1."""
    report = run_geometry_validation(
        args.output,
        args.input,
        events=args.events,
        module_map_path=args.module_map,
        digi_config_file=args.digi_config,
        spacepoint_selection_file=args.spacepoint_selection,
        plots=args.plots,
    )
    for line in report.summary():
        print(line)
    print(f"report: {Path(args.output) / 'report.txt'}")
    if report.ok:
        print("geometry validation: OK")
        return 0
    print("geometry validation FAILED:\n  " + "\n  ".join(report.problems), file=sys.stderr)
    return 1


__all__ = [
    "Connectivity",
    "CoverageReport",
    "DigiEntry",
    "GeometryReport",
    "GeometrySelector",
    "ModuleCoverage",
    "add_geometry_arguments",
    "barrel_volumes",
    "build_report",
    "check_coverage",
    "concatenate_hits",
    "digitized_mask",
    "geometry_command",
    "hit_summary",
    "module_coverage",
    "module_map_connectivity",
    "plot_hit_maps",
    "plot_layer_connectivity",
    "plot_module_coverage",
    "read_digi_config",
    "read_spacepoint_selection",
    "run_geometry_validation",
    "selected_mask",
    "write_report",
]

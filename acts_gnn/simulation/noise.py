"""Detector conditions on simulated hits: random noise hits and misaligned modules.

Both act on the simulated hits (``hits.root`` rows) before ACTS digitization, so every
consumer of a conditioned simulation sees the same measurements: ``acts-gnn prepare`` (the
prepared tables, hence the module map, the GNN and the training data) and ``acts-gnn
compare`` (ACTS's seeding + CKF and the GNN chain inside the Sequencer), which digitize the
same sim hits with the same seed. :func:`write_conditioned_simulation` writes a conditioned
copy of a simulation folder (what ``acts-gnn prepare --noise ...`` and ``acts-gnn
robustness`` do); :class:`ConditionedSimulationFiles` applies the conditions on the fly.

Noise (:class:`NoiseSettings`). The generic detector's digitization is Gaussian smearing
(``geometry/generic/digi-smearing.json``, sigma_0 x sigma_1 per volume), not channels; the
*channel-equivalent cell* of a volume is the pitch of a binary readout with that resolution,
``(sqrt(12) sigma_0) x (sqrt(12) sigma_1)``: 52 um x 52 um in the pixels (0.0027 mm^2),
87 um x 1.21 mm in the short strips (0.105 mm^2), 121 um x 3.46 mm in the long strips
(0.42 mm^2). ``rate`` is the noise occupancy, the probability per cell and event of a noise
hit: a module of active area A gets Poisson(rate * A / cell) noise hits per event, placed
uniformly over its active area (its rectangle or trapezoid bounds, module frame), turned into
global positions with the module's surface transform. The generic detector has 1.8e9 pixel,
4.6e8 short-strip and 1.3e8 long-strip cells, so rate = 1e-6 adds about 2400 noise hits per
event, 2.4 % of a Pythia8 MU = 200 event's ~100 000 measurements (rate 4e-7: about 1 %).
Noise hits carry the all-zero barcode (ACTS particle number 0: no particle), so the prepared
tables give them ``particle_id = -1`` and every metric counts them as hits of no particle.
They are drawn from ``numpy.random.default_rng((seed, event_id))``: the same (seed, event)
gives the same noise hits whatever other events are conditioned.

Misalignment: :mod:`acts_gnn.detector.misalignment` (``layer`` level groups the modules by
ACTS (volume, layer)); noise hits are not moved (they are uniform over the module's own area
whichever way it sits).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.detector import Detector, SurfaceTransforms, load_generic_detector
from acts_gnn.detector.misalignment import Misalignment, MisalignmentSettings
from acts_gnn.errors import InputDataError
from acts_gnn.io.root_reader import ENTRY_COLUMN, SimulationFiles
from acts_gnn.io.root_writer import SimulationRootWriter
from acts_gnn.io.schemas import GEOMETRY_ID_FIELDS, HIT_BRANCHES, decode_geometry_id

#: Kinds of module bounds in :class:`ModuleAreas` (ACTS RectangleBounds, TrapezoidBounds).
RECTANGLE, TRAPEZOID = 0, 1
#: Momentum [GeV] given to noise sim hits, along the module normal (ACTS digitization needs
#: a direction; nothing else reads it).
NOISE_MOMENTUM_GEV = 1.0
#: The key of a conditioned simulation's metadata (in both ROOT files and ``conditions.json``).
CONDITIONS_KEY = "conditions"
CONDITIONS_FILE = "conditions.json"


@dataclass(frozen=True)
class NoiseSettings:
    """Noise occupancy ``rate`` per channel-equivalent cell and event (module docstring);
    ``seed`` with the event id seeds the draw."""

    rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.rate) and 0 <= self.rate <= 1):
            raise ValueError(f"noise rate must be an occupancy in [0, 1], got {self.rate!r}")


@dataclass(frozen=True)
class DetectorConditions:
    """Noise and misalignment applied to simulated hits (either may be off)."""

    noise: NoiseSettings = field(default_factory=NoiseSettings)
    misalignment: MisalignmentSettings = field(default_factory=MisalignmentSettings)

    @property
    def is_nominal(self) -> bool:
        """No noise and no misalignment: the hits pass unchanged."""
        return self.noise.rate == 0 and self.misalignment.is_identity

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings (units in the keys)."""
        return {
            "noise_rate_per_cell": float(self.noise.rate),
            "noise_seed": int(self.noise.seed),
            "misalignment": self.misalignment.describe(),
        }


def cell_areas(digi_config_file: str | Path, volumes: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Channel-equivalent cell area [mm^2] of each volume id in ``volumes``: 12 sigma_0
    sigma_1 of the volume's smearing entry in an ACTS digitization config (JSON)."""
    path = Path(digi_config_file)
    sigma: dict[int, float] = {}
    for entry in json.loads(path.read_text())["entries"]:
        smear = {s["index"]: float(s["stddev"]) for s in entry["value"].get("smearing", [])}
        if 0 in smear and 1 in smear and "volume" in entry:
            sigma[int(entry["volume"])] = 12.0 * smear[0] * smear[1]
    vols = np.asarray(volumes, dtype=np.int64)
    missing = sorted(set(vols.tolist()) - set(sigma))
    if missing:
        raise InputDataError(
            f"no 2D smearing entry for volume(s) {missing[:5]}: cannot size their noise cells",
            file=path,
            field="entries",
        )
    return np.array([sigma[int(v)] for v in vols], dtype=np.float64)


class ModuleAreas:
    """Active area of each sensitive surface, rows in ``surfaces`` order: ``kind``
    (:data:`RECTANGLE` / :data:`TRAPEZOID`), ``bounds`` [M, 4] (rectangle: min x, min y,
    max x, max y; trapezoid: half x at -y, half x at +y, half y, 0; mm), ``area`` [M] and
    ``cell_area`` [M] (mm^2)."""

    def __init__(
        self,
        surfaces: SurfaceTransforms,
        kind: npt.NDArray[np.int64],
        bounds: npt.NDArray[np.float64],
        cell_area: npt.NDArray[np.float64],
    ) -> None:
        self.surfaces = surfaces
        self.kind = np.asarray(kind, dtype=np.int64)
        self.bounds = np.asarray(bounds, dtype=np.float64)
        self.cell_area = np.asarray(cell_area, dtype=np.float64)
        b = self.bounds
        rect = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        trap = 2.0 * (b[:, 0] + b[:, 1]) * b[:, 2]
        self.area = np.where(self.kind == RECTANGLE, rect, trap)

    @classmethod
    def from_detector(cls, detector: Detector) -> ModuleAreas:
        """Read the bounds of ``detector``'s sensitive surfaces (ACTS) and its cell areas."""
        import acts

        surfaces = detector.surfaces()
        by_id = {
            gid.value: surface
            for gid, surface in detector.tracking_geometry.geoIdSurfaceMap().items()
            if gid.sensitive > 0
        }
        m = len(surfaces)
        kind = np.empty(m, dtype=np.int64)
        bounds = np.zeros((m, 4))
        for k, gid in enumerate(surfaces.geometry_ids.tolist()):
            b = by_id[gid].bounds
            values = list(b.values())
            if isinstance(b, acts.RectangleBounds):
                kind[k], bounds[k] = RECTANGLE, values[:4]
            elif isinstance(b, acts.TrapezoidBounds) and abs(values[3]) < 1e-12:
                kind[k], bounds[k, :3] = TRAPEZOID, values[:3]
            else:
                raise InputDataError(
                    f"module bounds {type(b).__name__} {values} are not supported for noise",
                    field=f"geometry_id {gid}",
                )
        volumes = decode_geometry_id(surfaces.geometry_ids, "volume")
        return cls(surfaces, kind, bounds, cell_areas(detector.digi_config_file, volumes))

    def expected_noise(self, rate: float) -> npt.NDArray[np.float64]:
        """Mean noise hits per module and event [M] at occupancy ``rate``."""
        return rate * self.area / self.cell_area

    def sample_local(
        self, rows: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> npt.NDArray[np.float64]:
        """Uniform points [N, 2] (mm, module frame) over the active area of module ``rows``."""
        b = self.bounds[rows]
        u, v = rng.random(len(rows)), rng.random(len(rows))
        out = np.empty((len(rows), 2))
        rect = self.kind[rows] == RECTANGLE
        out[rect, 0] = b[rect, 0] + u[rect] * (b[rect, 2] - b[rect, 0])
        out[rect, 1] = b[rect, 1] + v[rect] * (b[rect, 3] - b[rect, 1])
        t = ~rect
        lo, hi, half_y = b[t, 0], b[t, 1], b[t, 2]
        # y from the density proportional to the width: invert the CDF of a linear density
        slope = hi - lo
        target = v[t] * (lo + hi)  # 2 x the CDF's normalisation
        safe = np.where(np.abs(slope) > 1e-12, slope, 1.0)
        frac = np.where(
            np.abs(slope) > 1e-12,
            (-lo + np.sqrt(lo**2 + safe * target)) / safe,
            v[t],
        )
        half_x = lo + slope * frac
        out[t, 1] = -half_y + 2.0 * half_y * frac
        out[t, 0] = (2.0 * u[t] - 1.0) * half_x
        return out


def noise_hits(
    event_id: int, settings: NoiseSettings, areas: ModuleAreas
) -> dict[str, npt.NDArray]:
    """The noise sim hits of one event: columns of :data:`~acts_gnn.io.schemas.HIT_BRANCHES`
    (but ``event_id``), all-zero barcode, positions on the module surfaces (mm), time 0,
    momentum :data:`NOISE_MOMENTUM_GEV` along the module normal. Reproducible per
    (``settings.seed``, ``event_id``)."""
    rng = np.random.default_rng((int(settings.seed), int(event_id)))
    counts = rng.poisson(areas.expected_noise(settings.rate)) if settings.rate > 0 else None
    if counts is None or counts.sum() == 0:
        rows = np.zeros(0, dtype=np.int64)
    else:
        rows = np.repeat(np.arange(len(counts)), counts)
    surfaces = areas.surfaces
    local = areas.sample_local(rows, rng)
    gid = surfaces.geometry_ids[rows]
    position = surfaces.local_to_global(gid, local[:, 0], local[:, 1]) if len(rows) else local
    normal = surfaces.rotations[rows, :, 2] * NOISE_MOMENTUM_GEV
    n = len(rows)
    out: dict[str, npt.NDArray] = {
        name: np.zeros(n, dtype=dtype) for name, dtype in HIT_BRANCHES.items() if name != "event_id"
    }
    out["geometry_id"] = gid.astype(np.uint64)
    for k, axis in enumerate("xyz"):
        out[f"t{axis}"] = position[:, k].astype(np.float32) if n else out[f"t{axis}"]
        out[f"tp{axis}"] = normal[:, k].astype(np.float32)
    out["te"] = np.full(n, NOISE_MOMENTUM_GEV, dtype=np.float32)
    for name in GEOMETRY_ID_FIELDS:
        if f"{name}_id" in out:
            out[f"{name}_id"] = decode_geometry_id(gid, name)
    return out


def layer_groups(geometry_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """One label per module: its ACTS (volume, layer) (the rigid groups of layer-level
    misalignment)."""
    gid = np.asarray(geometry_ids, dtype=np.uint64)
    volume = decode_geometry_id(gid, "volume").astype(np.int64)
    return volume * 4096 + decode_geometry_id(gid, "layer").astype(np.int64)


class ConditionedHits:
    """Applies :class:`DetectorConditions` to one event's hit columns at a time."""

    def __init__(self, conditions: DetectorConditions, detector: Detector | None = None) -> None:
        self.conditions = conditions
        self.detector = detector or load_generic_detector()
        surfaces = self.detector.surfaces()
        self.surfaces = surfaces
        self.areas = ModuleAreas.from_detector(self.detector) if conditions.noise.rate else None
        mis = conditions.misalignment
        self.misalignment = (
            None
            if mis.is_identity
            else Misalignment.draw(mis, surfaces, layer_groups(surfaces.geometry_ids))
        )

    def apply(self, event_id: int, hits: dict[str, npt.NDArray]) -> dict[str, npt.NDArray]:
        """The conditioned columns: misaligned positions (hits on known sensitive modules),
        noise hits added (entry numbers -1, -2, ...), rows in container order (geometry id,
        time, entry) as :meth:`SimulationFiles.hits` keeps them."""
        out = {k: np.array(v, copy=True) for k, v in hits.items()}
        if self.misalignment is not None and len(out["geometry_id"]):
            gid = out["geometry_id"].astype(np.uint64)
            known_ids = self.surfaces.geometry_ids
            pos = np.minimum(np.searchsorted(known_ids, gid), len(known_ids) - 1)
            known = known_ids[pos] == gid
            xyz = np.stack([out[c][known] for c in ("tx", "ty", "tz")], 1).astype(np.float64)
            direction = None
            if all(c in out for c in ("tpx", "tpy", "tpz")):
                direction = np.stack([out[c][known] for c in ("tpx", "tpy", "tpz")], 1)
            moved = self.misalignment.apply(gid[known], xyz, direction)
            for k, c in enumerate(("tx", "ty", "tz")):
                out[c][known] = moved[:, k].astype(out[c].dtype)
        if self.areas is not None:
            noise = noise_hits(event_id, self.conditions.noise, self.areas)
            n = len(noise["geometry_id"])
            noise[ENTRY_COLUMN] = -1 - np.arange(n, dtype=np.int64)
            out = {
                k: np.concatenate([v, np.asarray(noise[k], dtype=v.dtype)])
                if k in noise
                else np.concatenate([v, np.zeros(n, dtype=v.dtype)])
                for k, v in out.items()
            }
            time = out["tt"] if "tt" in out else np.zeros(len(out["geometry_id"]))
            order = np.lexsort((out[ENTRY_COLUMN], time, out["geometry_id"]))
            out = {k: v[order] for k, v in out.items()}
        return out


class ConditionedSimulationFiles(SimulationFiles):
    """:class:`SimulationFiles` whose :meth:`hits` come with the conditions applied
    (:class:`ConditionedHits`); everything else (checks, particles) as the base class."""

    def __init__(
        self,
        particles_file: str | Path,
        hits_file: str | Path,
        conditions: DetectorConditions,
        detector: Detector | None = None,
    ) -> None:
        super().__init__(particles_file, hits_file)
        self.conditioner = ConditionedHits(conditions, detector)
        self._conditioned: tuple[int, dict[str, npt.NDArray]] | None = None

    @classmethod
    def from_dir_with(
        cls,
        directory: str | Path,
        conditions: DetectorConditions,
        detector: Detector | None = None,
    ) -> ConditionedSimulationFiles:
        """The pair in ``directory``, conditioned."""
        directory = Path(directory)
        if not directory.is_dir():
            raise InputDataError("input folder does not exist", file=directory)
        return cls(directory / "particles.root", directory / "hits.root", conditions, detector)

    def hits(self, event_id: int) -> dict[str, npt.NDArray]:
        """Conditioned hit columns of one event (the last one is kept)."""
        if self._conditioned is not None and self._conditioned[0] == event_id:
            return self._conditioned[1]
        out = self.conditioner.apply(event_id, super().hits(event_id))
        self._conditioned = (event_id, out)
        return out


def write_conditioned_simulation(
    input_dir: str | Path,
    output_dir: str | Path,
    conditions: DetectorConditions,
    detector: Detector | None = None,
    events: int | None = None,
) -> dict[str, Any]:
    """Write ``particles.root`` (unchanged) and the conditioned ``hits.root`` of the first
    ``events`` events (None: all) of ``input_dir`` to ``output_dir``, with the conditions
    in both files' metadata and in ``conditions.json``. Returns that record: the input, the
    conditions, events, sim hits in and noise sim hits added per event."""
    from acts_gnn.io.atomic import write_json

    files = ConditionedSimulationFiles.from_dir_with(input_dir, conditions, detector)
    ids = files.event_ids[:events] if events is not None else files.event_ids
    metadata = dict(files.metadata or {})
    metadata[CONDITIONS_KEY] = {**conditions.describe(), "input": str(Path(input_dir).resolve())}
    record: dict[str, Any] = {**metadata[CONDITIONS_KEY], "events": list(ids), "per_event": {}}
    if files.conditioner.misalignment is not None:
        record["misalignment_drawn"] = files.conditioner.misalignment.summary()
    with SimulationRootWriter(output_dir, metadata) as writer:
        for event_id in ids:
            particles, hits = files.event(event_id)
            n_noise = int(np.sum(hits[ENTRY_COLUMN] < 0))
            record["per_event"][str(event_id)] = {
                "sim_hits": int(len(hits["geometry_id"]) - n_noise),
                "noise_sim_hits": n_noise,
            }
            writer.write_event(event_id, _full_particles(particles), _full_hits(hits))
    write_json(Path(output_dir) / CONDITIONS_FILE, record, sort_keys=True)
    return record


def conditioned_prepare_input(args: argparse.Namespace) -> Path:
    """The input ``acts-gnn prepare`` digitizes: ``args.input``, or with ``--noise`` /
    ``--misalign-*`` (:func:`acts_gnn.cli.options.add_conditions_options`) a conditioned copy
    of its first ``args.events`` events written to ``<args.output>/conditioned-simulation``,
    which ``acts-gnn compare`` can read to see the same hits."""
    seed = int(getattr(args, "conditions_seed", 1))
    conditions = DetectorConditions(
        NoiseSettings(float(getattr(args, "noise", 0.0)), seed),
        MisalignmentSettings(
            float(getattr(args, "misalign_shift", 0.0)),
            float(getattr(args, "misalign_rotation", 0.0)),
            str(getattr(args, "misalign_level", "module")),
            seed,
        ),
    )
    if conditions.is_nominal:
        return Path(args.input)
    folder = Path(args.output) / "conditioned-simulation"
    record = write_conditioned_simulation(args.input, folder, conditions, events=args.events)
    noise = sum(v["noise_sim_hits"] for v in record["per_event"].values())
    print(
        f"conditioned simulation in {folder}: {noise} noise sim hits, {len(record['events'])} events"
    )
    return folder


def _full_particles(particles: dict[str, npt.NDArray]) -> dict[str, npt.NDArray]:
    from acts_gnn.io.schemas import PARTICLE_BRANCHES

    n = len(next(iter(particles.values()))) if particles else 0
    return {
        name: particles.get(name, np.zeros(n, dtype=dtype))
        for name, dtype in PARTICLE_BRANCHES.items()
        if name != "event_id"
    }


def _full_hits(hits: dict[str, npt.NDArray]) -> dict[str, npt.NDArray]:
    n = len(hits["geometry_id"])
    return {
        name: hits.get(name, np.zeros(n, dtype=dtype))
        for name, dtype in HIT_BRANCHES.items()
        if name != "event_id"
    }


__all__ = [
    "CONDITIONS_FILE",
    "ConditionedHits",
    "ConditionedSimulationFiles",
    "DetectorConditions",
    "ModuleAreas",
    "NoiseSettings",
    "cell_areas",
    "conditioned_prepare_input",
    "layer_groups",
    "noise_hits",
    "write_conditioned_simulation",
]

"""The in-memory event: a hit table, a particle table and the truth graph, as numpy columns.

Hit table columns (one row per measurement, row order = ACTS measurement index order):

============== ======== ==========================================================
measurement_id int64    index of the measurement in ACTS's MeasurementContainer
x, y, z        float32  global position [mm]
r, phi, eta    float32  cylindrical radius [mm], azimuth [rad], pseudorapidity of the position
geometry_id    uint64   ACTS GeometryIdentifier of the module (the "module id")
volume_id      uint32   ACTS volume number (see detector.GENERIC_VOLUMES)
layer_id       uint32   ACTS layer number within the volume
loc0, loc1     float32  local measurement coordinates on the module [mm]
var_loc0/1     float32  measurement variances [mm^2]
particle_id    int64    row in the particle table of the particle that made the hit, -1: none
============== ======== ==========================================================

Particle table columns (one row per simulated particle): particle_id (= row), the barcode
(vertex_primary, vertex_secondary, particle, generation, sub_particle), pdg, q [e], px, py, pz,
pt, p [GeV], eta, phi, vx, vy, vz [mm], n_measurements, is_primary.

The truth graph (``truth_edges`` int64 [2, E], row indices into the hit table) joins
consecutive measurements of one particle ordered by distance from its production vertex; see
:mod:`acts_gnn.graph.truth` for the selection options.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

HIT_COLUMNS: dict[str, type] = {
    "measurement_id": np.int64,
    "x": np.float32,
    "y": np.float32,
    "z": np.float32,
    "r": np.float32,
    "phi": np.float32,
    "eta": np.float32,
    "geometry_id": np.uint64,
    "volume_id": np.uint32,
    "layer_id": np.uint32,
    "loc0": np.float32,
    "loc1": np.float32,
    "var_loc0": np.float32,
    "var_loc1": np.float32,
    "particle_id": np.int64,
}

PARTICLE_COLUMNS: dict[str, type] = {
    "particle_id": np.int64,
    "vertex_primary": np.uint32,
    "vertex_secondary": np.uint32,
    "particle": np.uint32,
    "generation": np.uint32,
    "sub_particle": np.uint32,
    "pdg": np.int32,
    "q": np.float32,
    "px": np.float32,
    "py": np.float32,
    "pz": np.float32,
    "pt": np.float32,
    "p": np.float32,
    "eta": np.float32,
    "phi": np.float32,
    "vx": np.float32,
    "vy": np.float32,
    "vz": np.float32,
    "n_measurements": np.int32,
    "is_primary": np.bool_,
}


@dataclass
class Event:
    """One event's tables; see the module docstring for the columns and units."""

    event_id: int
    hits: dict[str, npt.NDArray] = field(default_factory=dict)
    particles: dict[str, npt.NDArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hits = _typed(self.hits, HIT_COLUMNS, "hits")
        self.particles = _typed(self.particles, PARTICLE_COLUMNS, "particles")

    @property
    def n_hits(self) -> int:
        return len(self.hits["x"])

    @property
    def n_particles(self) -> int:
        return len(self.particles["particle_id"])

    def hit_particle(self, column: str) -> npt.NDArray:
        """A particle column for every hit (NaN / 0 / False where the hit has no particle)."""
        values = self.particles[column]
        pid = self.hits["particle_id"]
        out = np.zeros(len(pid), dtype=values.dtype)
        if np.issubdtype(values.dtype, np.floating):
            out[:] = np.nan
        has = pid >= 0
        out[has] = values[pid[has]]
        return out

    def positions(self) -> npt.NDArray[np.float64]:
        """Hit positions [N, 3] in mm (float64)."""
        return np.stack([self.hits["x"], self.hits["y"], self.hits["z"]], axis=1).astype(np.float64)


def _typed(
    table: dict[str, npt.NDArray], schema: dict[str, type], name: str
) -> dict[str, npt.NDArray]:
    if not table:
        return {c: np.zeros(0, dtype=t) for c, t in schema.items()}
    missing = [c for c in schema if c not in table]
    if missing:
        raise KeyError(f"{name} table lacks columns {missing}")
    lengths = {len(table[c]) for c in schema}
    if len(lengths) != 1:
        raise ValueError(f"{name} table columns have different lengths: {sorted(lengths)}")
    return {c: np.ascontiguousarray(table[c], dtype=t) for c, t in schema.items()}

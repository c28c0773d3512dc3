"""ACTS whiteboard collections -> :class:`~acts_gnn.event.Event`, inside a Sequencer.

Used by the truth hooks of the Sequencer algorithms (per-stage edge metrics, our own track
metrics next to ACTS's): hits come from a space-point container with one space point per
measurement, particles from an ``acts.examples.SimParticleContainer``, the hit -> particle
link from ``measurement_particles_map``. Columns the whiteboard does not give (local
coordinates and variances) are zero. Units: mm, GeV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event


def _barcode_key(barcode: Any) -> tuple[int, int, int, int, int]:
    return (
        barcode.vertexPrimary,
        barcode.vertexSecondary,
        barcode.particle,
        barcode.generation,
        barcode.subParticle,
    )


def particle_table(particles: Any) -> tuple[dict[str, npt.NDArray], dict[tuple, int]]:
    """(particle columns of :data:`~acts_gnn.event.PARTICLE_COLUMNS`, barcode key -> row)."""
    rows: dict[tuple, int] = {}
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "vertex_primary",
            "vertex_secondary",
            "particle",
            "generation",
            "sub_particle",
            "pdg",
            "q",
            "px",
            "py",
            "pz",
            "vx",
            "vy",
            "vz",
        )
    }
    for k, p in enumerate(particles):
        key = _barcode_key(p.particleId)
        rows[key] = k
        for name, value in zip(
            ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle"), key
        ):
            columns[name].append(value)
        columns["pdg"].append(int(p.pdg))
        columns["q"].append(p.charge)
        momentum, position = p.momentum, p.position
        for axis, (m, v) in enumerate(zip(("px", "py", "pz"), ("vx", "vy", "vz"))):
            columns[m].append(momentum[axis])
            columns[v].append(position[axis])
    table = {name: np.asarray(values) for name, values in columns.items()}
    n = len(rows)
    px, py, pz = (table[c].astype(np.float64) for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    table["particle_id"] = np.arange(n, dtype=np.int64)
    table["pt"] = pt
    table["p"] = np.sqrt(pt**2 + pz**2)
    table["eta"] = np.arcsinh(np.divide(pz, pt, out=np.zeros(n), where=pt > 0))
    table["phi"] = np.arctan2(py, px)
    table["n_measurements"] = np.zeros(n, dtype=np.int32)
    table["is_primary"] = (table["generation"] == 0) & (table["sub_particle"] == 0)
    if n == 0:
        table = {}
    return table, rows


def event_from_whiteboard(
    event_id: int,
    positions: npt.NDArray[np.float64],
    geometry_ids: npt.NDArray[np.uint64],
    measurement_ids: npt.NDArray[np.int64],
    particles: Any,
    measurement_particles: Any,
) -> Event:
    """An :class:`Event` with one hit row per space point (``positions`` [N, 3] mm, module
    ``geometry_ids`` [N], ``measurement_ids`` [N]), the ``particles`` container as particle
    table and each hit's particle from ``measurement_particles`` (a measurement made by
    several particles gets the first)."""
    table, row_of = particle_table(particles)
    n_measurements = int(measurement_ids.max(initial=-1)) + 1
    measurement_particle = np.full(n_measurements, -1, np.int64)
    for measurement, barcode in measurement_particles:
        if measurement < n_measurements and measurement_particle[measurement] < 0:
            measurement_particle[measurement] = row_of.get(_barcode_key(barcode), -1)
    hit_particle = measurement_particle[measurement_ids]
    if table:
        table["n_measurements"] = np.bincount(
            hit_particle[hit_particle >= 0], minlength=len(row_of)
        ).astype(np.int32)
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    r = np.hypot(x, y)
    n = len(positions)
    geo = np.asarray(geometry_ids, np.uint64)
    zeros = np.zeros(n, np.float32)
    hits = {
        "measurement_id": measurement_ids,
        "x": x,
        "y": y,
        "z": z,
        "r": r,
        "phi": np.arctan2(y, x),
        "eta": np.arcsinh(z / np.maximum(r, 1e-12)),
        "geometry_id": geo,
        "volume_id": (geo >> np.uint64(56)).astype(np.uint32),
        "layer_id": ((geo >> np.uint64(36)) & np.uint64(0xFFF)).astype(np.uint32),
        "loc0": zeros,
        "loc1": zeros,
        "var_loc0": zeros,
        "var_loc1": zeros,
        "particle_id": hit_particle,
    }
    return Event(event_id, hits if n else {}, table)

"""ACTS whiteboard collections -> :class:`~acts_gnn.event.Event`, inside a Sequencer.

Used by the truth hooks of the Sequencer algorithms (per-stage edge metrics, our own track
metrics next to ACTS's): hits come from a space-point container with one space point per
measurement, particles from an ``acts.examples.SimParticleContainer``, the hit -> particle
link from ``measurement_particles_map``. The tables are the ones ``acts-gnn prepare`` writes
(:mod:`acts_gnn.io.acts_edm`), except the local coordinates and variances, which are zero.
Units: mm, GeV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.io.acts_edm import (
    event_particle_table,
    hit_columns,
    particle_rows,
    particles_to_columns,
)
from acts_gnn.io.schemas import barcode_hash


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
    table, particle_hash = event_particle_table(particles_to_columns(particles))
    links = [
        (m, b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
        for m, b in measurement_particles
    ]
    n_measurements = int(measurement_ids.max(initial=-1)) + 1
    measurement_particle = np.full(n_measurements, -1, np.int64)
    if links:
        a = np.asarray(links, dtype=np.int64)
        measured, first = np.unique(a[:, 0], return_index=True)
        keep = measured < n_measurements
        ids = [a[first[keep], k].astype(np.uint32) for k in range(1, 6)]
        measurement_particle[measured[keep]] = particle_rows(particle_hash, barcode_hash(*ids))
    hit_particle = measurement_particle[measurement_ids]
    table["n_measurements"] = np.bincount(
        hit_particle[hit_particle >= 0], minlength=len(particle_hash)
    ).astype(np.int32)
    hits = hit_columns(measurement_ids, positions, geometry_ids, hit_particle)
    return Event(event_id, hits if len(positions) else {}, table if len(particle_hash) else {})

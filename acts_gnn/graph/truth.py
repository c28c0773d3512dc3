"""The truth graph: consecutive hits of each particle, ordered along its trajectory.

For every selected particle, its hits are sorted by 3D distance from the particle's production
vertex and each hit is joined to the next one: a particle with n hits gives n - 1 directed
edges (inner -> outer). This is the reference for edge efficiency and purity (docs/design.md,
"Metrics").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event


@dataclass(frozen=True)
class TruthSelection:
    """Which particles contribute truth edges.

    min_pt: minimum transverse momentum [GeV]; min_hits: minimum number of measurements;
    primaries_only: keep only particles from the generator (no Fatras secondaries);
    max_abs_eta: maximum |eta| of the particle direction.
    """

    min_pt: float = 0.0
    min_hits: int = 1
    primaries_only: bool = False
    max_abs_eta: float = np.inf

    def particle_mask(self, event: Event) -> npt.NDArray[np.bool_]:
        """Boolean mask over the event's particle table."""
        p = event.particles
        mask = (p["pt"] >= self.min_pt) & (p["n_measurements"] >= self.min_hits)
        mask &= np.abs(p["eta"]) <= self.max_abs_eta
        if self.primaries_only:
            mask &= p["is_primary"]
        return mask


def truth_graph(event: Event, selection: TruthSelection | None = None) -> npt.NDArray[np.int64]:
    """Truth edges [2, E] (int64 hit-row indices, inner -> outer) of the selected particles."""
    selection = selection or TruthSelection()
    keep_particle = selection.particle_mask(event)
    pid = event.hits["particle_id"]
    rows = np.flatnonzero(pid >= 0)
    rows = rows[keep_particle[pid[rows]]]
    if len(rows) < 2:
        return np.zeros((2, 0), dtype=np.int64)
    p = event.particles
    hit_pid = pid[rows]
    vertex = np.stack([p["vx"], p["vy"], p["vz"]], axis=1).astype(np.float64)[hit_pid]
    distance = np.linalg.norm(event.positions()[rows] - vertex, axis=1)
    order = np.lexsort((distance, hit_pid))
    ordered_rows = rows[order]
    ordered_pid = hit_pid[order]
    same = ordered_pid[1:] == ordered_pid[:-1]
    return np.stack([ordered_rows[:-1][same], ordered_rows[1:][same]]).astype(np.int64)

"""Per-edge training weights, including the TrackML score hit weights.

TrackML hit weights (Amrouche et al., "The Tracking Machine Learning challenge: accuracy
phase", 2019; the definition of the challenge's scoring library, reimplemented here): every hit
of a particle with at least 4 hits gets ``w_order(i, n) * w_pt(pT)``, where

* ``w_order`` interpolates the profile (10, 8, 6, 5, 3, 3, 3, 5, 6) over the n hits of the
  particle ordered by distance from its production vertex (first hits count most), normalised
  to sum 1 per particle; n is capped at 20 and hits beyond the 20th get 0;
* ``w_pt`` is 0.2 below 0.5 GeV, rises linearly to 1 at 3 GeV and stays 1 above (0 below
  0.05 GeV).

Hits without a particle and particles with fewer than 4 hits get weight 0. The challenge
normalises the weights to sum 1 per event; for training we normalise them to mean 1 over the
hits with a non-zero weight, so that the loss scale does not depend on the event size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event

ORDER_PROFILE = (10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0)
ORDER_MIN_HITS = 4
ORDER_MAX_HITS = 20


def _order_matrix() -> npt.NDArray[np.float64]:
    """w[n, i]: weight of hit i of a particle with n hits (rows sum to 1 for n >= 4)."""
    w = np.zeros((ORDER_MAX_HITS + 1, ORDER_MAX_HITS))
    profile = np.asarray(ORDER_PROFILE)
    for n in range(ORDER_MIN_HITS, ORDER_MAX_HITS + 1):
        support = np.arange(len(profile)) * (n - 1) / (len(profile) - 1)
        row = np.interp(np.arange(n), support, profile)
        w[n, :n] = row / row.sum()
    return w


_ORDER = _order_matrix()


def pt_weight(pt: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """TrackML transverse-momentum weight of hits of particles with ``pt`` [GeV]."""
    return np.interp(np.asarray(pt, float), [0.05, 0.5, 3.0], [0.2, 0.2, 1.0], left=0.0, right=1.0)


def trackml_hit_weights(event: Event) -> npt.NDArray[np.float64]:
    """TrackML weight of every hit [N], normalised to mean 1 over hits with a weight > 0."""
    pid = event.hits["particle_id"]
    weights = np.zeros(len(pid))
    rows = np.flatnonzero(pid >= 0)
    if not len(rows):
        return weights
    p = event.particles
    hit_pid = pid[rows]
    vertex = np.stack([p["vx"], p["vy"], p["vz"]], axis=1).astype(np.float64)[hit_pid]
    distance = np.linalg.norm(event.positions()[rows] - vertex, axis=1)
    order = np.lexsort((distance, hit_pid))
    rows, hit_pid = rows[order], hit_pid[order]
    starts = np.flatnonzero(np.r_[True, hit_pid[1:] != hit_pid[:-1]])
    counts = np.diff(np.r_[starts, len(rows)])
    n_hits = np.repeat(counts, counts)
    index = np.arange(len(rows)) - np.repeat(starts, counts)
    usable = (n_hits >= ORDER_MIN_HITS) & (index < ORDER_MAX_HITS)
    w_order = np.zeros(len(rows))
    w_order[usable] = _ORDER[np.minimum(n_hits[usable], ORDER_MAX_HITS), index[usable]]
    pt = np.asarray(p["pt"], float)[hit_pid]
    weights[rows] = w_order * pt_weight(pt)
    positive = weights > 0
    if positive.any():
        weights /= weights[positive].mean()
    return weights


def edge_weights(
    y: npt.NDArray[np.bool_],
    target: npt.NDArray[np.bool_],
    pos_weight: float,
    non_target_weight: float,
    fake_weight: float,
) -> npt.NDArray[np.float32]:
    """Weight per edge: target truth -> pos_weight, other truth -> non_target_weight,
    fake -> fake_weight. ``y``, ``target``: bool [E]."""
    w = np.full(len(y), fake_weight, dtype=np.float32)
    w[y] = non_target_weight
    w[y & target] = pos_weight
    return w


def target_pt_factors(
    event: Event,
    edge_index: npt.NDArray[np.int64],
    target: npt.NDArray[np.bool_],
    knots: list[list[float]],
) -> npt.NDArray[np.float32]:
    """Factor per edge [E]: ``knots`` ``[[pT_GeV, factor], ...]`` interpolated linearly at the
    pT of a target edge's particle (constant beyond the ends), 1 for every other edge.

    ``edge_index``: int [2, E] hit rows; ``target``: bool [E] (both hits of a target edge belong
    to the same particle, so its first hit names it).
    """
    factors = np.ones(len(target), np.float32)
    rows = np.flatnonzero(target)
    if not knots or not len(rows):
        return factors
    pid = event.hits["particle_id"][edge_index[0, rows]]
    pt = np.asarray(event.particles["pt"], np.float64)[pid]
    pts, values = zip(*knots, strict=True)
    factors[rows] = np.interp(pt, pts, values)
    return factors

"""The vertex fit of the vertexing stage (:mod:`acts_gnn.chain.vertexing`, step 4).

Tracks are perigee parameters with respect to the beam line (:class:`~acts_gnn.chain.vertexing.
TrackSet`). Near the beam line a track from vertex V = (x, y, z) with direction (phi, theta)
has d0 = -x sin(phi) + y cos(phi) and z0 = z - cot(theta) (x cos(phi) + y sin(phi))
(:func:`track_jacobians`), so a vertex is a linear least-squares fit of (x, y, z) [mm] to the
tracks' (d0, z0) with their 2 x 2 covariance, with the beam spot as a Gaussian constraint in
x and y. Two fits:

* :func:`fit_vertices`: each cluster of tracks alone, adaptive: track weights
  ``w_i = 1 / (1 + exp((chi2_i - chi2_cut) / 2T))`` recomputed at each temperature T of a
  schedule (default five passes at T = 1), chi2_i of the track's (d0, z0) to the vertex;
* :func:`multi_vertex_fit`: all vertices together, each track shared between the vertices
  its z0 is compatible with and weighted by its compatibility with each relative to the others
  (ACTS's adaptive multi-vertex fit in spirit), with deterministic annealing.

Both return :class:`Vertices` ordered by the sum of pT^2 of their tracks (first: the
hard-scatter candidate). Covariance: the inverse of the weighted normal matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from acts_gnn.chain.vertexing import TrackSet


@dataclass
class Vertices:
    """One event's vertices, ordered by ``sum_pt2`` descending (first: hard-scatter candidate).

    ``position`` [V, 3] mm, ``covariance`` [V, 3, 3] mm^2, ``n_tracks`` [V], ``sum_pt2`` [V]
    GeV^2, ``chi2`` [V] (of the z fit), ``track_vertex`` [N] (vertex of every input track;
    -1: in no vertex), ``track_weight`` [N] (the track's weight in its vertex's fit, 0 if
    none), ``times`` (seconds per step).
    """

    position: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]
    n_tracks: npt.NDArray[np.int64]
    sum_pt2: npt.NDArray[np.float64]
    chi2: npt.NDArray[np.float64]
    track_vertex: npt.NDArray[np.int64]
    track_weight: npt.NDArray[np.float64]
    times: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.position)

    def tracks_of(self, vertex: int) -> npt.NDArray[np.int64]:
        """Indices of the tracks of ``vertex``."""
        return np.flatnonzero(self.track_vertex == vertex)


def track_jacobians(tracks: TrackSet) -> npt.NDArray[np.float64]:
    """d(d0, z0) / d(vx, vy, vz) [N, 2, 3] of every track near the beam line: a track from a
    vertex V with direction (phi, theta) has d0 = -vx sin(phi) + vy cos(phi) and
    z0 = vz - cot(theta) (vx cos(phi) + vy sin(phi)) (straight line over the um between V
    and the perigee; ACTS's sign of d0)."""
    phi, theta = tracks.params[:, 2], tracks.params[:, 3]
    cot = np.cos(theta) / np.maximum(np.sin(theta), 1e-9)
    a = np.zeros((len(tracks), 2, 3))
    a[:, 0, 0], a[:, 0, 1] = -np.sin(phi), np.cos(phi)
    a[:, 1, 0], a[:, 1, 1], a[:, 1, 2] = -cot * np.cos(phi), -cot * np.sin(phi), 1.0
    return a


def _track_terms(
    tracks: TrackSet,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Per track: measurement m = (d0, z0) [N, 2], its weight matrix G [N, 2, 2], the
    Jacobian A [N, 2, 3] and the normal-equation terms A^T G A [N, 3, 3], A^T G m [N, 3]."""
    m = tracks.params[:, :2]
    g = np.asarray(np.linalg.inv(tracks.covariance[:, :2, :2]), np.float64)
    a = track_jacobians(tracks)
    at_g = np.einsum("kji,kjl->kil", a, g)
    at_g_a = np.asarray(at_g @ a, np.float64)
    return m, g, a, at_g_a, np.asarray(np.einsum("kij,kj->ki", at_g, m), np.float64)


def _solve(
    n_v: int,
    vertex: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    at_g_a: npt.NDArray[np.float64],
    at_g_m: npt.NDArray[np.float64],
    prior: npt.NDArray[np.float64],
    prior_rhs: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Weighted least squares of ``n_v`` vertices from (track, vertex) terms: entry k adds
    ``weight[k]`` times its track's terms to vertex ``vertex[k]``; returns positions [V, 3]
    and covariances [V, 3, 3] (inverse of the weighted normal matrix)."""
    normal = np.broadcast_to(prior, (n_v, 3, 3)).copy()
    rhs = np.broadcast_to(prior_rhs, (n_v, 3)).copy()
    np.add.at(normal, vertex, weight[:, None, None] * at_g_a)
    np.add.at(rhs, vertex, weight[:, None] * at_g_m)
    covariance = np.asarray(np.linalg.inv(normal), np.float64)
    return np.einsum("vij,vj->vi", covariance, rhs), covariance


def _beam_prior(
    beam_spot: tuple[float, float], beam_sigma: tuple[float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    prior = np.zeros((3, 3))
    prior[0, 0], prior[1, 1] = 1 / beam_sigma[0] ** 2, 1 / beam_sigma[1] ** 2
    return prior, prior @ np.array([beam_spot[0], beam_spot[1], 0.0])


def _adaptive_weight(
    chi2: npt.NDArray[np.float64], chi2_cut: float, temperature: float = 1.0
) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(np.clip((chi2 - chi2_cut) / (2.0 * temperature), -50, 50)))


def fit_vertices(
    tracks: TrackSet,
    labels: npt.NDArray[np.int64],
    min_tracks: int = 2,
    beam_spot: tuple[float, float] = (0.0, 0.0),
    beam_sigma: tuple[float, float] = (0.0125, 0.0125),
    chi2_cut: float = 9.0,
    fit_iterations: int = 5,
    temperatures: tuple[float, ...] | None = None,
) -> Vertices:
    """Fit every cluster of ``labels`` [N] (-1: no cluster) with >= ``min_tracks`` tracks:
    an adaptive, beam-spot constrained weighted least-squares fit of (x, y, z) [mm] to the
    tracks' (d0, z0) with their 2 x 2 covariance, linearised by :func:`track_jacobians`; the
    beam spot (``beam_spot`` x, y [mm], widths ``beam_sigma`` [mm]) enters as a Gaussian
    constraint in x and y. Track weights ``w_i = 1 / (1 + exp((chi2_i - chi2_cut) / 2))``
    (chi2_i of the track's (d0, z0) to the vertex) are recomputed ``fit_iterations`` times.
    Covariance: the inverse of the weighted normal matrix."""
    labels = np.asarray(labels, np.int64)
    valid = labels >= 0
    counts = np.bincount(labels[valid], minlength=labels.max(initial=-1) + 1)
    good = np.flatnonzero(counts >= min_tracks)
    remap = np.full(len(counts), -1, np.int64)
    remap[good] = np.arange(len(good))
    cluster = np.where(valid, remap[np.maximum(labels, 0)], -1)
    inside = cluster >= 0
    c = cluster[inside]
    n_v = len(good)
    m_all, g_all, a_all, ata_all, atm_all = _track_terms(tracks)
    m, g, a = m_all[inside], g_all[inside], a_all[inside]
    at_g_a, at_g_m = ata_all[inside], atm_all[inside]
    prior, prior_rhs = _beam_prior(beam_spot, beam_sigma)
    weight = np.ones(len(c))
    position = np.zeros((n_v, 3))
    covariance: npt.NDArray[np.float64] = np.zeros((n_v, 3, 3))
    chi2_i = np.zeros(len(c))
    schedule = temperatures if temperatures else (1.0,) * max(fit_iterations, 1)
    for iteration in range(len(schedule) + 1):
        position, covariance = _solve(n_v, c, weight, at_g_a, at_g_m, prior, prior_rhs)
        residual = m - np.einsum("kij,kj->ki", a, position[c])
        chi2_i = np.einsum("ki,kij,kj->k", residual, g, residual)
        if iteration < len(schedule):  # the last pass keeps the weights it used
            weight = _adaptive_weight(chi2_i, chi2_cut, schedule[iteration])
    track_weight = np.zeros(len(labels))
    track_weight[inside] = weight
    return _ordered(tracks, cluster, position, covariance, weight * chi2_i, track_weight)


def _ordered(
    tracks: TrackSet,
    cluster: npt.NDArray[np.int64],
    position: npt.NDArray[np.float64],
    covariance: npt.NDArray[np.float64],
    chi2_terms: npt.NDArray[np.float64],
    track_weight: npt.NDArray[np.float64],
) -> Vertices:
    """:class:`Vertices` of vertex ``cluster`` [N] (-1: none) of every track, ordered by
    sum pT^2; ``chi2_terms`` [K]: the weighted chi2 of the K tracks with a vertex."""
    n_v = len(position)
    inside = cluster >= 0
    c = cluster[inside]
    chi2 = np.bincount(c, chi2_terms, minlength=n_v)
    sum_pt2 = np.bincount(c, tracks.pt[inside] ** 2, minlength=n_v)
    order = np.argsort(-sum_pt2, kind="stable")
    rank = np.empty(n_v, np.int64)
    rank[order] = np.arange(n_v)
    track_vertex = np.full(len(cluster), -1, np.int64)
    track_vertex[inside] = rank[c]
    return Vertices(
        position=position[order],
        covariance=covariance[order],
        n_tracks=np.bincount(c, minlength=n_v)[order].astype(np.int64),
        sum_pt2=sum_pt2[order].astype(np.float64),
        chi2=chi2[order].astype(np.float64),
        track_vertex=track_vertex,
        track_weight=track_weight,
    )


def track_vertex_candidates(
    z0: npt.NDArray[np.float64],
    sigma_z0: npt.NDArray[np.float64],
    vertex_z: npt.NDArray[np.float64],
    n_sigma: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(track, vertex) index pairs [K], [K] with |z0 - z_vertex| < ``n_sigma`` sigma_z0
    (vertices sorted once; cost O((N + V) log V + K))."""
    order = np.argsort(vertex_z, kind="stable")
    zs = vertex_z[order]
    lo = np.searchsorted(zs, z0 - n_sigma * sigma_z0, side="left")
    hi = np.searchsorted(zs, z0 + n_sigma * sigma_z0, side="right")
    n = np.maximum(hi - lo, 0)
    track = np.repeat(np.arange(len(z0)), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return track.astype(np.int64), order[np.repeat(lo, n) + offsets].astype(np.int64)


def multi_vertex_fit(
    tracks: TrackSet,
    seeds: Vertices,
    beam_spot: tuple[float, float] = (0.0, 0.0),
    beam_sigma: tuple[float, float] = (0.0125, 0.0125),
    chi2_cut: float = 9.0,
    temperatures: tuple[float, ...] = (4.0, 2.0, 1.0, 1.0, 1.0),
    n_sigma: float = 6.0,
    reassign: bool = False,
) -> Vertices:
    """Refit all vertices of ``seeds`` together, with every track shared between the
    vertices it is compatible with (an adaptive multi-vertex fit, as ACTS's AMVF does after
    finding): track i's weight in vertex v is

        w_iv = exp(-chi2_iv / 2T) / (exp(-chi2_cut / 2T) + sum_u exp(-chi2_iu / 2T)),

    chi2_iv of the track's (d0, z0) to vertex v (linearised as in :func:`fit_vertices`),
    over the vertices within ``n_sigma`` sigma_z0 of its z0; the weights and positions are
    updated once per temperature T of ``temperatures`` (deterministic annealing, ending at
    T = 1), then the vertices are refitted with the last weights. A track of a vertex's own
    cluster that a nearby vertex explains better loses weight there, and tracks the
    clustering left out (or put into a split-off fragment) join the vertex they fit.
    ``reassign``: each track's vertex becomes the one with its largest weight if that is
    >= 0.5 (else it keeps its cluster's vertex); by default the clusters are kept as the
    track membership and only the positions, covariances and weights change. Ordered by
    sum pT^2 again."""
    n_v = len(seeds)
    if n_v == 0:
        return seeds
    m, g, a, at_g_a, at_g_m = _track_terms(tracks)
    prior, prior_rhs = _beam_prior(beam_spot, beam_sigma)
    position = seeds.position.copy()
    covariance = seeds.covariance.copy()
    sigma_z0 = np.sqrt(tracks.covariance[:, 1, 1])
    trk, vtx = track_vertex_candidates(tracks.z0, sigma_z0, position[:, 2], n_sigma)
    own = seeds.track_vertex
    # a track always competes for its own cluster's vertex, however far it has moved
    missing = (own >= 0) & ~np.isin(
        np.arange(len(own)), trk[vtx == own[trk]] if len(trk) else np.zeros(0, np.int64)
    )
    trk = np.concatenate([trk, np.flatnonzero(missing)])
    vtx = np.concatenate([vtx, own[missing]])
    weight = np.zeros(len(trk))
    chi2 = np.zeros(len(trk))
    for temperature in (*temperatures, None):
        residual = m[trk] - np.einsum("kij,kj->ki", a[trk], position[vtx])
        chi2 = np.einsum("ki,kij,kj->k", residual, g[trk], residual)
        if temperature is None:
            break
        logit = -chi2 / (2.0 * temperature)
        floor = -chi2_cut / (2.0 * temperature)
        top = np.full(len(tracks), floor)
        np.maximum.at(top, trk, logit)
        e = np.exp(logit - top[trk])
        total = np.exp(floor - top) + np.bincount(trk, e, minlength=len(tracks))
        weight = e / total[trk]
        position, covariance = _solve(n_v, vtx, weight, at_g_a[trk], at_g_m[trk], prior, prior_rhs)
    cluster = own.copy()
    if reassign:
        best = np.zeros(len(tracks))
        np.maximum.at(best, trk, weight)
        is_best = (weight >= 0.5) & (weight == best[trk])
        cluster[trk[is_best]] = vtx[is_best]
    # seeds are ordered by sum pT^2: their indices are the cluster ids here
    mine = (cluster[trk] == vtx) & (cluster[trk] >= 0)
    track_weight = np.zeros(len(tracks))
    track_weight[trk[mine]] = weight[mine]
    chi2_terms = np.zeros(len(tracks))
    chi2_terms[trk[mine]] = (weight * chi2)[mine]
    return _ordered(tracks, cluster, position, covariance, chi2_terms[cluster >= 0], track_weight)


def merge_compatible(
    vertices: Vertices, max_significance: float, min_tracks_large: int = 0
) -> npt.NDArray[np.int64]:
    """New cluster labels [N] of the tracks of ``vertices`` (-1: none) after joining vertices
    whose z are compatible: neighbours in z with |z_a - z_b| < ``max_significance``
    sqrt(sigma_z,a^2 + sigma_z,b^2) are joined, nearest pairs first and each vertex at most once
    per call, so a chain of compatible vertices is not collapsed at once. With
    ``min_tracks_large`` > 0 only pairs where one of the two has at least that many tracks are
    joined (fragments split off a large vertex)."""
    n_v = len(vertices)
    labels = vertices.track_vertex.copy()
    if n_v < 2:
        return labels
    z = vertices.position[:, 2]
    var = vertices.covariance[:, 2, 2]
    order = np.argsort(z, kind="stable")
    a, b = order[:-1], order[1:]
    significance = np.abs(z[b] - z[a]) / np.sqrt(var[a] + var[b])
    large = np.maximum(vertices.n_tracks[a], vertices.n_tracks[b]) >= min_tracks_large
    target = np.arange(n_v)
    used = np.zeros(n_v, bool)
    for k in np.argsort(significance, kind="stable"):
        if significance[k] >= max_significance:
            break
        if not large[k] or used[a[k]] or used[b[k]]:
            continue
        keep, drop = (
            (a[k], b[k]) if vertices.sum_pt2[a[k]] >= vertices.sum_pt2[b[k]] else (b[k], a[k])
        )
        target[drop] = keep
        used[a[k]] = used[b[k]] = True
    inside = labels >= 0
    labels[inside] = target[labels[inside]]
    return labels

"""Primary-vertex finding from fitted tracks: candidate pairs, pair scores, clustering, fit.

The framework-free vertexing stage (design.md, Rooms: ``chain``); the Sequencer algorithm of
:mod:`acts_gnn.sequencer.vertexing` runs it on ACTS track parameters. Input: one event's
fitted tracks as perigee parameters with respect to the beam line, :class:`TrackSet`
(d0 [mm], z0 [mm], phi [rad], theta [rad], q/p [e/GeV] and their 5 x 5 covariance). Steps:

1. **candidate pairs** (:func:`candidate_pairs`): only pairs with |z0_a - z0_b| < ``window``
   [mm]; the tracks are sorted by z0 and swept, so the cost is O(N log N + P), not O(N^2);
   of those, pairs more than ``max_significance`` sigma apart in z0 are dropped
   (:func:`compatible_pairs`);
2. **pair scores** (a *pair scorer*: any callable ``(features [N, 10], pairs [2, P]) ->
   logits [P]``): the trained :class:`~acts_gnn.nn.vertex_pairs.VertexPairNet` through
   :class:`TorchPairScorer` or :class:`OnnxPairScorer`, or the analytic baseline
   :class:`SignificanceScorer` (the z0-compatibility chi2 of the pair);
3. **clustering** of the weighted pair graph (weight = sigmoid(logit)):

   * ``"components"``: connected components of the pairs with score > ``cut``
     (:func:`connected_clusters`); one spurious link joins two vertices into one;
   * ``"split"`` (default): those components, each then split recursively along z0 where the
     normalised cut of the weighted graph is lowest (:func:`split_clusters`): for tracks
     ordered by z0 and a split between rank k and k + 1, ``ncut = cut(k) (1 / vol_left +
     1 / vol_right)`` (Shi & Malik 2000), where ``cut`` sums the scores of the pairs across the
     split and ``vol`` the scores of the pairs touching each side; a split is made while the
     best ``ncut`` < ``split_ncut``. A fully connected cluster has ncut ~ 1 for every split,
     two clusters joined by a few links have ncut ~ (links / pairs), so the spurious links
     that chain vertices together ("non-zero interconnection between blocks") are cut;

4. **vertex fit** (:func:`fit_vertices`) of every cluster with at least ``min_tracks``
   tracks: an adaptive, beam-spot constrained weighted least-squares fit of (x, y, z) to the
   tracks' (d0, z0) and their covariance, linearised near the beam line (d0 = -x sin phi +
   y cos phi, z0 = z - cot theta (x cos phi + y sin phi)); track weights
   ``w_i = 1 / (1 + exp((chi2_i - chi2_cut) / 2))`` recomputed ``fit_iterations`` times, so
   outliers fade out as in ACTS's adaptive fitters; covariance: the inverse of the weighted
   normal matrix. The perigee is the beam line (x = y = 0), as in the reconstruction here.

The result, :class:`Vertices`, is ordered by the sum of pT^2 of the vertex's tracks,
descending: the first vertex is the hard-scatter candidate (the ACTS convention).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from acts_gnn.errors import InputDataError
from acts_gnn.nn.vertex_pairs import N_TRACK_FEATURES

#: A pair scorer: (track features [N, 10] float32, pairs [2, P] int64) -> logits [P].
PairScorer = Callable[[npt.NDArray[np.float32], npt.NDArray[np.int64]], npt.NDArray[np.float32]]
#: Clustering methods of :class:`VertexFinder`.
CLUSTERINGS = ("components", "split")


@dataclass
class TrackSet:
    """One event's fitted tracks at the perigee (beam line).

    ``params`` [N, 5] float64: d0 [mm], z0 [mm], phi [rad], theta [rad], q/p [e/GeV];
    ``covariance`` [N, 5, 5] float64 in the same order (ACTS's bound covariance without time).
    """

    params: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        self.params = np.asarray(self.params, np.float64).reshape(-1, 5)
        self.covariance = np.asarray(self.covariance, np.float64).reshape(-1, 5, 5)
        if len(self.covariance) != len(self.params):
            raise InputDataError(
                f"{len(self.params)} tracks but {len(self.covariance)} covariances",
                field="covariance",
            )
        if not np.isfinite(self.params).all():
            bad = int(np.flatnonzero(~np.isfinite(self.params).all(axis=1))[0])
            raise InputDataError(f"track {bad} has non-finite parameters", field="params")
        diagonal = np.diagonal(self.covariance, axis1=1, axis2=2)
        if not (np.isfinite(diagonal).all() and (diagonal > 0).all()):
            bad = int(np.flatnonzero(~((diagonal > 0) & np.isfinite(diagonal)).all(axis=1))[0])
            raise InputDataError(
                f"track {bad} has a non-positive or non-finite covariance diagonal",
                field="covariance",
            )

    def __len__(self) -> int:
        return len(self.params)

    @property
    def z0(self) -> npt.NDArray[np.float64]:
        return self.params[:, 1]

    @property
    def sigma(self) -> npt.NDArray[np.float64]:
        """The uncertainties [N, 5] (square roots of the covariance diagonal)."""
        return np.sqrt(np.diagonal(self.covariance, axis1=1, axis2=2))

    @property
    def pt(self) -> npt.NDArray[np.float64]:
        """Transverse momentum [GeV] assuming |q| = 1 e."""
        return np.sin(self.params[:, 3]) / np.maximum(np.abs(self.params[:, 4]), 1e-12)

    def features(self) -> npt.NDArray[np.float32]:
        """The pair network's per-track inputs [N, 10] (``TRACK_FEATURES`` order)."""
        return np.concatenate([self.params, self.sigma], axis=1).astype(np.float32)

    @classmethod
    def from_sigmas(cls, params: npt.ArrayLike, sigmas: npt.ArrayLike) -> TrackSet:
        """Tracks with a diagonal covariance from uncertainties ``sigmas`` [N, 5]."""
        s = np.asarray(sigmas, np.float64).reshape(-1, 5)
        cov = np.zeros((len(s), 5, 5))
        cov[:, range(5), range(5)] = s**2
        return cls(np.asarray(params, np.float64), cov)


def candidate_pairs(z0: npt.ArrayLike, window: float) -> npt.NDArray[np.int64]:
    """All pairs (a, b), a < b as track indices, with |z0_a - z0_b| < ``window`` [mm]:
    [2, P] int64, by a sort and a sweep (cost O(N log N + P))."""
    if window <= 0:
        raise ValueError(f"the z0 window must be positive, got {window}")
    z = np.asarray(z0, np.float64)
    order = np.argsort(z, kind="stable")
    zs = z[order]
    ends = np.searchsorted(zs, zs + window, side="left")  # first rank at or beyond z + window
    n_after = ends - np.arange(len(zs)) - 1
    n_after = np.maximum(n_after, 0)
    first = np.repeat(np.arange(len(zs)), n_after)
    offsets = np.arange(int(n_after.sum())) - np.repeat(np.cumsum(n_after) - n_after, n_after)
    second = first + 1 + offsets
    a, b = order[first], order[second]
    return np.stack([np.minimum(a, b), np.maximum(a, b)]).astype(np.int64)


def compatible_pairs(
    tracks: TrackSet, window: float, max_significance: float | None
) -> npt.NDArray[np.int64]:
    """:func:`candidate_pairs` within ``window`` [mm] whose z0 difference is also below
    ``max_significance`` standard deviations (sigma^2 = sigma_z0,a^2 + sigma_z0,b^2; None:
    no such cut): [2, P] int64. Pairs this far apart are not scored (the network costs most of
    the stage) and do not enter the pair graph."""
    pairs = candidate_pairs(tracks.z0, window)
    if max_significance is None or pairs.shape[1] == 0:
        return pairs
    var = tracks.covariance[:, 1, 1]
    dz = tracks.z0[pairs[0]] - tracks.z0[pairs[1]]
    keep = dz**2 < max_significance**2 * (var[pairs[0]] + var[pairs[1]])
    return pairs[:, keep]


# ---------------------------------------------------------------------------------------------
# pair scorers
# ---------------------------------------------------------------------------------------------


@dataclass
class SignificanceScorer:
    """The analytic baseline: logit = ``offset`` - chi2 / 2 with chi2 = dz0^2 / (sigma_z0,a^2
    + sigma_z0,b^2 + ``extra_sigma``^2), the z0 compatibility of the two tracks [mm]."""

    offset: float = 2.0
    extra_sigma: float = 0.0

    def __call__(
        self, features: npt.NDArray[np.float32], pairs: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        f = features.astype(np.float64)
        a, b = pairs
        dz = f[a, 1] - f[b, 1]
        var = f[a, 6] ** 2 + f[b, 6] ** 2 + self.extra_sigma**2
        return (self.offset - 0.5 * dz**2 / var).astype(np.float32)


class TorchPairScorer:
    """A torch pair network (a :class:`~acts_gnn.nn.vertex_pairs.VertexPairNet` or its
    TorchScript file) as a pair scorer; pairs scored in chunks of ``chunk`` on ``device``."""

    def __init__(
        self, model: torch.nn.Module | str | Path, device: str = "cpu", chunk: int = 1 << 20
    ) -> None:
        if isinstance(model, (str, Path)):
            from acts_gnn.nn.files import load_torchscript, read_torchscript_metadata

            self.metadata: dict[str, Any] = read_torchscript_metadata(model)
            model = load_torchscript(model, device)
        else:
            self.metadata = {}
        self.model = model.to(device).eval()
        self.device = device
        self.chunk = chunk

    def __call__(
        self, features: npt.NDArray[np.float32], pairs: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        x = torch.from_numpy(np.ascontiguousarray(features, np.float32)).to(self.device)
        e = torch.from_numpy(np.ascontiguousarray(pairs, np.int64)).to(self.device)
        out = []
        with torch.inference_mode():
            for start in range(0, max(e.shape[1], 1), self.chunk):
                out.append(self.model(x, e[:, start : start + self.chunk]).float().cpu())
        return torch.cat(out).numpy()


class OnnxPairScorer:
    """An exported pair network (ONNX, inputs ``x``, ``edge_index``) as a pair scorer;
    ``threads``: ONNX Runtime intra-op threads (0: its default)."""

    def __init__(
        self, path: str | Path, providers: list[str] | None = None, threads: int = 0
    ) -> None:
        from acts_gnn.extras import onnxruntime
        from acts_gnn.nn.files import read_onnx_metadata

        ort = onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.metadata = read_onnx_metadata(path)
        self.session = ort.InferenceSession(
            str(path), options, providers=providers or ["CPUExecutionProvider"]
        )

    def __call__(
        self, features: npt.NDArray[np.float32], pairs: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        if pairs.shape[1] == 0:
            return np.zeros(0, np.float32)
        (out,) = self.session.run(
            None,
            {
                "x": np.ascontiguousarray(features, np.float32),
                "edge_index": np.ascontiguousarray(pairs, np.int64),
            },
        )
        return np.asarray(out, np.float32)


def sigmoid(logits: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Scores in [0, 1] from logits (numerically safe)."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, np.float64)))


# ---------------------------------------------------------------------------------------------
# clustering
# ---------------------------------------------------------------------------------------------


def connected_clusters(
    n_tracks: int, pairs: npt.NDArray[np.int64], scores: npt.ArrayLike, cut: float
) -> npt.NDArray[np.int64]:
    """Cluster label [N] of every track: connected components of the pairs with score >
    ``cut`` (a track without such a pair is a cluster of its own)."""
    keep = np.asarray(scores) > cut
    a, b = pairs[0][keep], pairs[1][keep]
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n_tracks, n_tracks))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def best_split(
    z0: npt.NDArray[np.float64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    w: npt.NDArray[np.float64],
) -> tuple[float, int, npt.NDArray[np.int64]]:
    """The lowest normalised cut of one cluster along z0: (ncut, k, order) where ``order``
    sorts the cluster's tracks by ``z0`` [n] and the split is between ranks k and k + 1;
    ``a``, ``b`` [E] are pair ends as cluster-local indices, ``w`` [E] their scores.
    (inf, -1, order) when no split is possible."""
    n = len(z0)
    order = np.argsort(z0, kind="stable")
    if n < 2 or len(w) == 0:
        return np.inf, -1, order
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    lo, hi = np.minimum(rank[a], rank[b]), np.maximum(rank[a], rank[b])
    crossing = np.bincount(lo, w, minlength=n) - np.bincount(hi, w, minlength=n)
    cut = np.cumsum(crossing)[:-1]  # pairs across the split after rank k, k = 0 .. n - 2
    degree = np.bincount(rank[a], w, minlength=n) + np.bincount(rank[b], w, minlength=n)
    left = np.cumsum(degree)[:-1]
    right = degree.sum() - left
    with np.errstate(divide="ignore", invalid="ignore"):
        ncut = cut * (1.0 / left + 1.0 / right)
    ncut[~np.isfinite(ncut)] = np.inf  # a side without any pair: not a split of the graph
    k = int(np.argmin(ncut))
    return float(ncut[k]), k, order


def split_clusters(
    z0: npt.ArrayLike,
    pairs: npt.NDArray[np.int64],
    scores: npt.ArrayLike,
    cut: float,
    split_ncut: float,
) -> npt.NDArray[np.int64]:
    """Cluster label [N] of every track: :func:`connected_clusters` at ``cut``, each cluster
    then split recursively along z0 at its lowest normalised cut while that is <
    ``split_ncut`` (see the module docstring). All candidate pairs of a cluster count in
    the cut, with their scores as weights."""
    z = np.asarray(z0, np.float64)
    w_all = np.asarray(scores, np.float64)
    labels = connected_clusters(len(z), pairs, w_all, cut)
    same = labels[pairs[0]] == labels[pairs[1]]
    pa, pb, pw = pairs[0][same], pairs[1][same], w_all[same]
    pair_cluster = labels[pa]
    by_cluster = np.argsort(pair_cluster, kind="stable")
    bounds = np.searchsorted(pair_cluster[by_cluster], np.arange(labels.max(initial=-1) + 2))
    members = np.argsort(labels, kind="stable")
    member_bounds = np.searchsorted(labels[members], np.arange(labels.max(initial=-1) + 2))
    out = np.full(len(z), -1, np.int64)
    next_label = 0
    local = np.full(len(z), -1, np.int64)
    for c in range(labels.max(initial=-1) + 1):
        tracks = members[member_bounds[c] : member_bounds[c + 1]]
        sel = by_cluster[bounds[c] : bounds[c + 1]]
        stack = [(tracks, pa[sel], pb[sel], pw[sel])]
        while stack:
            t, ea, eb, ew = stack.pop()
            local[t] = np.arange(len(t))
            la, lb = local[ea], local[eb]
            ncut, k, order = best_split(z[t], la, lb, ew)
            if ncut >= split_ncut:
                out[t] = next_label
                next_label += 1
                continue
            rank = np.empty(len(t), np.int64)
            rank[order] = np.arange(len(t))
            is_left = rank <= k
            for side in (True, False):
                keep = (is_left[la] == side) & (is_left[lb] == side)
                stack.append((t[is_left == side], ea[keep], eb[keep], ew[keep]))
    return out


# ---------------------------------------------------------------------------------------------
# vertex fit
# ---------------------------------------------------------------------------------------------


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


def fit_vertices(
    tracks: TrackSet,
    labels: npt.NDArray[np.int64],
    min_tracks: int = 2,
    beam_spot: tuple[float, float] = (0.0, 0.0),
    beam_sigma: tuple[float, float] = (0.0125, 0.0125),
    chi2_cut: float = 9.0,
    fit_iterations: int = 5,
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
    m = tracks.params[inside][:, :2]  # (d0, z0) [K, 2]
    cov2 = tracks.covariance[inside][:, :2, :2]
    g = np.linalg.inv(cov2)  # [K, 2, 2]
    a = track_jacobians(tracks)[inside]  # [K, 2, 3]
    at_g = np.einsum("kji,kjl->kil", a, g)  # A^T G [K, 3, 2]
    at_g_a = at_g @ a  # [K, 3, 3]
    at_g_m = np.einsum("kij,kj->ki", at_g, m)  # [K, 3]
    prior = np.zeros((3, 3))
    prior[0, 0], prior[1, 1] = 1 / beam_sigma[0] ** 2, 1 / beam_sigma[1] ** 2
    prior_rhs = prior @ np.array([beam_spot[0], beam_spot[1], 0.0])
    weight = np.ones(len(c))
    position = np.zeros((n_v, 3))
    covariance: npt.NDArray[np.float64] = np.zeros((n_v, 3, 3))
    chi2_i = np.zeros(len(c))
    for iteration in range(max(fit_iterations, 1) + 1):
        normal = np.broadcast_to(prior, (n_v, 3, 3)).copy()
        rhs = np.broadcast_to(prior_rhs, (n_v, 3)).copy()
        np.add.at(normal, c, weight[:, None, None] * at_g_a)
        np.add.at(rhs, c, weight[:, None] * at_g_m)
        covariance = np.asarray(np.linalg.inv(normal), np.float64)
        position = np.einsum("vij,vj->vi", covariance, rhs)
        residual = m - np.einsum("kij,kj->ki", a, position[c])
        chi2_i = np.einsum("ki,kij,kj->k", residual, g, residual)
        if iteration < max(fit_iterations, 1):  # the last pass keeps the weights it used
            weight = 1.0 / (1.0 + np.exp(np.clip((chi2_i - chi2_cut) / 2.0, -50, 50)))
    chi2 = np.bincount(c, weight * chi2_i, minlength=n_v)
    sum_pt2 = np.bincount(c, tracks.pt[inside] ** 2, minlength=n_v)
    order = np.argsort(-sum_pt2, kind="stable")
    rank = np.empty(n_v, np.int64)
    rank[order] = np.arange(n_v)
    track_vertex = np.full(len(labels), -1, np.int64)
    track_vertex[inside] = rank[c]
    track_weight = np.zeros(len(labels))
    track_weight[inside] = weight
    return Vertices(
        position=position[order],
        covariance=covariance[order],
        n_tracks=np.bincount(c, minlength=n_v)[order].astype(np.int64),
        sum_pt2=sum_pt2[order].astype(np.float64),
        chi2=chi2[order].astype(np.float64),
        track_vertex=track_vertex,
        track_weight=track_weight,
    )


# ---------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------


@dataclass
class VertexFinder:
    """The vertexing stage: ``finder(tracks) -> Vertices`` (see the module docstring).

    ``scorer``: a pair scorer (default: :class:`SignificanceScorer`); ``window``: z0 window of
    the candidate pairs [mm]; ``cut``: score cut of the pair graph; ``clustering``: one of
    :data:`CLUSTERINGS`; ``split_ncut``: normalised-cut threshold of ``"split"``;
    ``max_significance``: pairs further apart in z0 than this many sigma are not scored
    (:func:`compatible_pairs`; None: all pairs in the window); ``min_tracks``: smallest
    vertex; the rest are :func:`fit_vertices`'s knobs.
    """

    scorer: PairScorer | None = None
    window: float = 3.0
    max_significance: float | None = 6.0
    cut: float = 0.5
    clustering: str = "split"
    split_ncut: float = 0.9
    min_tracks: int = 2
    beam_spot: tuple[float, float] = (0.0, 0.0)
    beam_sigma: tuple[float, float] = (0.0125, 0.0125)
    chi2_cut: float = 9.0

    def __post_init__(self) -> None:
        if self.clustering not in CLUSTERINGS:
            raise ValueError(f"clustering must be one of {CLUSTERINGS}, got {self.clustering!r}")
        if self.scorer is None:
            self.scorer = SignificanceScorer()

    def cluster(self, tracks: TrackSet) -> tuple[npt.NDArray[np.int64], dict[str, float]]:
        """Cluster labels [N] and the seconds spent per step (pairs, scores, clustering)."""
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        pairs = compatible_pairs(tracks, self.window, self.max_significance)
        t1 = time.perf_counter()
        features = tracks.features()
        if features.shape[1] != N_TRACK_FEATURES:
            raise ValueError("track features must have 10 columns")
        assert self.scorer is not None
        scores = sigmoid(self.scorer(features, pairs)) if pairs.shape[1] else np.zeros(0)
        t2 = time.perf_counter()
        if self.clustering == "components":
            labels = connected_clusters(len(tracks), pairs, scores, self.cut)
        else:
            labels = split_clusters(tracks.z0, pairs, scores, self.cut, self.split_ncut)
        t3 = time.perf_counter()
        times.update(pairs=t1 - t0, scores=t2 - t1, clustering=t3 - t2)
        times["n_pairs"] = float(pairs.shape[1])
        return labels, times

    def __call__(self, tracks: TrackSet) -> Vertices:
        labels, times = self.cluster(tracks)
        t0 = time.perf_counter()
        vertices = fit_vertices(
            tracks, labels, self.min_tracks, self.beam_spot, self.beam_sigma, self.chi2_cut
        )
        times["fit"] = time.perf_counter() - t0
        vertices.times = times
        return vertices

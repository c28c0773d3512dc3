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

4. **vertex fit** (:mod:`acts_gnn.chain.vertex_fit`) of every cluster with at least
   ``min_tracks`` tracks: an adaptive, beam-spot constrained weighted least-squares fit of
   (x, y, z) to the tracks' (d0, z0) and their covariance, linearised near the beam line
   (:func:`~acts_gnn.chain.vertex_fit.fit_vertices`); then vertices compatible in z with a
   large neighbour (fragments the split cut off it) are merged back and refitted
   (:func:`~acts_gnn.chain.vertex_fit.merge_compatible`); optionally all vertices are refitted
   together with shared tracks (:func:`~acts_gnn.chain.vertex_fit.multi_vertex_fit`). The
   perigee is the beam line (x = y = 0), as in the reconstruction here.

The result, :class:`Vertices`, is ordered by the sum of pT^2 of the vertex's tracks,
descending: the first vertex is the hard-scatter candidate (the ACTS convention).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from acts_gnn.chain.vertex_fit import (  # the fit of step 4, and the result type
    Vertices,
    fit_vertices,
    merge_compatible,
    multi_vertex_fit,
)
from acts_gnn.errors import InputDataError
from acts_gnn.nn.vertex_pairs import N_TRACK_FEATURES

#: A pair scorer: (track features [N, 10] float32, pairs [2, P] int64) -> logits [P].
PairScorer = Callable[[npt.NDArray[np.float32], npt.NDArray[np.int64]], npt.NDArray[np.float32]]
#: Clustering methods of :class:`VertexFinder`.
CLUSTERINGS = ("components", "split")
#: Vertex fits of :class:`VertexFinder`: each cluster alone, or all together after that.
FITS = ("adaptive", "multi")


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
    vertex; ``beam_spot``, ``beam_sigma``, ``chi2_cut``, ``temperatures``: the knobs of
    :func:`~acts_gnn.chain.vertex_fit.fit_vertices`; ``merge_significance`` (None: no merge)
    and ``merge_min_tracks``: those of :func:`~acts_gnn.chain.vertex_fit.merge_compatible`;
    ``fit``: one of :data:`FITS` (``"multi"``: then
    :func:`~acts_gnn.chain.vertex_fit.multi_vertex_fit`, with ``reassign``).
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
    fit: str = "adaptive"
    reassign: bool = False
    temperatures: tuple[float, ...] | None = None
    merge_significance: float | None = 3.0
    merge_min_tracks: int = 20

    def __post_init__(self) -> None:
        if self.clustering not in CLUSTERINGS:
            raise ValueError(f"clustering must be one of {CLUSTERINGS}, got {self.clustering!r}")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
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
            tracks,
            labels,
            self.min_tracks,
            self.beam_spot,
            self.beam_sigma,
            self.chi2_cut,
            temperatures=self.temperatures,
        )
        if self.merge_significance is not None:
            merged = merge_compatible(vertices, self.merge_significance, self.merge_min_tracks)
            vertices = fit_vertices(
                tracks,
                merged,
                self.min_tracks,
                self.beam_spot,
                self.beam_sigma,
                self.chi2_cut,
                temperatures=self.temperatures,
            )
        if self.fit == "multi":
            vertices = multi_vertex_fit(
                tracks,
                vertices,
                self.beam_spot,
                self.beam_sigma,
                self.chi2_cut,
                reassign=self.reassign,
            )
        times["fit"] = time.perf_counter() - t0
        vertices.times = times
        return vertices

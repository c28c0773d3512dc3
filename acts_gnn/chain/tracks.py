"""Track-building stages: scored graph -> track candidates (ordered lists of hits).

Three stages, named after upstream ACTS ``Plugins/Gnn`` where it has one, all called as
``builder(edge_index, scores, n_nodes)`` with ``edge_index`` int64 [2, E] (directed,
inner -> outer hit, rows of the hit table) and ``scores`` [E] (edge-classifier outputs,
probabilities):

* :class:`ConnectedComponentsTrackBuilding` (upstream ``BoostTrackBuilding``): the weakly
  connected components of the edges with ``score > cut``; scipy on CPU, cugraph on CUDA (the
  labels are renumbered canonically, so both give identical candidates).
* :class:`JunctionRemovalTrackBuilding` (upstream ``CudaTrackBuilding`` with
  ``doJunctionRemoval``): keep an edge only if it is the best-scoring out-edge of its source and
  the best-scoring in-edge of its target, then take the components (now simple chains). The C++
  core on CPU (upstream has it on CUDA only), torch scatter ops on CUDA; same output.
* :class:`WalkthroughTrackBuilding` (in the spirit of GNN4ITk's "CC and walkthrough"):
  junction removal on the high-score edges (``score > cut_high``), then lower-score
  continuations (``score > cut_low``) joining a chain end to a chain start (or a lone hit)
  where that is the only candidate of both; see :func:`acts_gnn._core.walkthrough`.

Output: a list of candidates, each an int64 array of hit rows (or of ``spacePointIds[row]``
when a mapping is given); chains come ordered by their first hit's row, components by their
lowest hit row. Candidates with fewer than ``minMeasurementsPerTrack`` hits are dropped; a hit
on no surviving edge is never a candidate (upstream Boost returns lone hits as one-hit
candidates, which the algorithm's minimum then removes).

Order of the hits inside a candidate ("along the trajectory"): where the candidate is a simple
directed path (always for junction removal and walkthrough) it is the graph order, from the
innermost hit along the edges; this follows loopers through their turn, where sorting by r
would fold them. A closed loop starts at its lowest hit row. Components of connected
components that are not simple paths are sorted by 3D distance from the origin when
``positions`` are given (by hit row otherwise).

Self loops carry no track information and are dropped by every stage. Zero edges give no
candidates (upstream warns and returns none).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn import _core
from acts_gnn.chain.tracks_torch import (
    chain_labels_torch,
    check_edge_inputs,
    junction_removal_torch,
    walkthrough_torch,
)
from acts_gnn.event import Event

ArrayLike = Any  # numpy array or torch tensor
Candidates = list[npt.NDArray[np.int64]]

# -- inputs --------------------------------------------------------------------------------


def _numpy(value: ArrayLike, dtype: type) -> npt.NDArray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value, dtype=dtype)


def _tensor(value: ArrayLike, dtype: torch.dtype | None, device: torch.device) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    t = torch.as_tensor(value, device=device)
    return t if dtype is None else t.to(dtype)


def _n_nodes(
    edge_index: ArrayLike,
    n_nodes: int | None,
    spacePointIds: ArrayLike | None,
    positions: ArrayLike | None,
) -> int:
    if n_nodes is not None:
        return int(n_nodes)
    if spacePointIds is not None:
        return len(spacePointIds)
    if positions is not None:
        return len(positions)
    return int(edge_index.max()) + 1 if edge_index.shape[1] else 0


# -- torch implementations (any device) ----------------------------------------------------


def candidates_from_labels(
    label: npt.ArrayLike,
    order: npt.ArrayLike,
    minMeasurementsPerTrack: int = 3,
    spacePointIds: npt.ArrayLike | None = None,
) -> Candidates:
    """Group hits by ``label`` (int [N], -1: none), each group sorted by ``order`` [N].

    Groups come out by increasing label; those with fewer than ``minMeasurementsPerTrack``
    hits are dropped. Returns hit rows, or ``spacePointIds[row]`` when given.
    """
    label = np.asarray(label, dtype=np.int64)
    rows = np.flatnonzero(label >= 0)
    rows = rows[np.lexsort((np.asarray(order)[rows], label[rows]))]
    if spacePointIds is not None:
        ids = np.asarray(spacePointIds, dtype=np.int64)
        if len(ids) != len(label):
            raise ValueError(f"spacePointIds has {len(ids)} entries for {len(label)} hits")
        values = ids[rows]
    else:
        values = rows.astype(np.int64)
    bounds = np.flatnonzero(np.diff(label[rows])) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(rows)]])
    keep = (ends - starts) >= max(minMeasurementsPerTrack, 1)
    return [values[s:e] for s, e in zip(starts[keep], ends[keep]) if e > s]


def _candidates_from_chains(
    label: npt.NDArray[np.int64],
    position: npt.NDArray[np.int64],
    minMeasurementsPerTrack: int,
    spacePointIds: npt.NDArray[np.int64] | None,
) -> Candidates:
    """:func:`candidates_from_labels` for chain labels, whose positions number each chain's
    hits 0, 1, ...: hits are placed directly (O(N), no sort)."""
    rows = np.flatnonzero(label >= 0)
    if len(rows) == 0:
        return []
    chain, pos = label[rows], position[rows]
    length = np.bincount(chain)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    values = np.empty(len(rows), dtype=np.int64)
    values[start[chain] + pos] = rows if spacePointIds is None else spacePointIds[rows]
    keep = np.flatnonzero(length >= max(minMeasurementsPerTrack, 1))
    return [values[b:e] for b, e in zip(start[keep], start[keep] + length[keep])]


def track_labels(candidates: Sequence[npt.ArrayLike], n_hits: int) -> npt.NDArray[np.int64]:
    """Per-hit candidate number (int64 [n_hits], -1: in no candidate).

    Raises ValueError if a hit is in two candidates (the labels would be ambiguous).
    """
    label = np.full(n_hits, -1, dtype=np.int64)
    if not candidates:
        return label
    arrays = [np.asarray(c, dtype=np.int64).reshape(-1) for c in candidates]
    rows = np.concatenate(arrays)
    which = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
    if len(rows) and (rows.min() < 0 or rows.max() >= n_hits):
        raise ValueError(f"candidates hold hit indices outside [0, {n_hits})")
    if len(np.unique(rows)) != len(rows):
        raise ValueError("a hit is in more than one candidate")
    label[rows] = which
    return label


# -- stages --------------------------------------------------------------------------------


class _TrackBuilding(abc.ABC):
    """Shared call protocol: ``builder(edge_index, scores, n_nodes, ...) -> candidates``."""

    #: whether ``_label`` returns chain labels and positions (a faster way to candidates)
    _chains = False

    def __init__(self, minMeasurementsPerTrack: int, device: str | torch.device) -> None:
        if minMeasurementsPerTrack < 1:
            raise ValueError(f"minMeasurementsPerTrack must be >= 1, got {minMeasurementsPerTrack}")
        self.minMeasurementsPerTrack = int(minMeasurementsPerTrack)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA device requested but CUDA is not available")

    @abc.abstractmethod
    def _label(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None,
        n_nodes: int,
        positions: ArrayLike | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray]:
        """Per-node (label, order key) as numpy arrays; label -1 for no candidate."""

    def _prepare(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None,
        n_nodes: int | None,
        spacePointIds: ArrayLike | None,
        positions: ArrayLike | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray]:
        check_edge_inputs(edge_index, scores)
        n = _n_nodes(edge_index, n_nodes, spacePointIds, positions)
        if positions is not None and tuple(positions.shape) != (n, 3):
            raise ValueError(f"positions must have shape [{n}, 3], got {tuple(positions.shape)}")
        if edge_index.shape[1] == 0:
            return np.full(n, -1, dtype=np.int64), np.zeros(n)
        return self._label(edge_index, scores, n, positions)

    def labels(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None = None,
        n_nodes: int | None = None,
        *,
        positions: ArrayLike | None = None,
    ) -> npt.NDArray[np.int64]:
        """Per-hit candidate number (int64 [N], -1: none), numbered as ``__call__`` returns."""
        candidates = self(edge_index, scores, n_nodes, positions=positions)
        n = _n_nodes(edge_index, n_nodes, None, positions)
        return track_labels(candidates, n)

    def __call__(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None = None,
        n_nodes: int | None = None,
        *,
        spacePointIds: ArrayLike | None = None,
        positions: ArrayLike | None = None,
    ) -> Candidates:
        """Track candidates of one graph.

        edge_index: int64 [2, E] (hit rows, inner -> outer); scores: [E] edge scores;
        n_nodes: number of hits (default: len(spacePointIds), len(positions) or max index + 1);
        spacePointIds: int [N], what to return for each hit row (e.g. measurement indices);
        positions: float [N, 3] hit positions [mm], to order non-chain components.
        Returns a list of int64 arrays, each sorted along the trajectory (module docstring).
        """
        label, order = self._prepare(edge_index, scores, n_nodes, spacePointIds, positions)
        ids = None if spacePointIds is None else _numpy(spacePointIds, np.int64)
        if ids is not None and len(ids) != len(label):
            raise ValueError(f"spacePointIds has {len(ids)} entries for {len(label)} hits")
        if self._chains:
            return _candidates_from_chains(label, order, self.minMeasurementsPerTrack, ids)
        return candidates_from_labels(label, order, self.minMeasurementsPerTrack, ids)


def _use_torch(backend: str, device: torch.device, *arrays: ArrayLike) -> bool:
    if backend not in ("auto", "cpp", "torch"):
        raise ValueError(f"backend must be 'auto', 'cpp' or 'torch', got {backend!r}")
    if backend != "auto":
        return backend == "torch"
    on_gpu = any(isinstance(a, torch.Tensor) and a.device.type != "cpu" for a in arrays)
    return device.type != "cpu" or on_gpu


def _torch_device(device: torch.device, *arrays: ArrayLike) -> torch.device:
    if device.type != "cpu":
        return device
    for a in arrays:
        if isinstance(a, torch.Tensor):
            return a.device
    return device


class ConnectedComponentsTrackBuilding(_TrackBuilding):
    """Weakly connected components of the edges with ``score > cut`` (upstream Boost).

    ``cut=None`` (or ``scores=None`` at call time) keeps every edge. ``device="cuda"`` (or
    CUDA inputs) runs cugraph (``pip install "acts-gnn[gpu-cu12]"``); labels are renumbered
    by each component's lowest hit row, so CPU and GPU give identical candidates.
    """

    def __init__(
        self,
        cut: float | None = 0.5,
        minMeasurementsPerTrack: int = 3,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(minMeasurementsPerTrack, device)
        self.cut = None if cut is None else float(cut)

    def _label(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None,
        n_nodes: int,
        positions: ArrayLike | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray]:
        if _use_torch("auto", self.device, edge_index, scores):
            device = _torch_device(self.device, edge_index, scores)
            ei = _tensor(edge_index, torch.int64, device)
            if scores is not None and self.cut is not None:
                ei = ei[:, _tensor(scores, None, device) > self.cut]
            ei = ei[:, ei[0] != ei[1]]
            label = _cugraph_components(n_nodes, ei)
            edges = ei.cpu().numpy()
        else:
            edges = _numpy(edge_index, np.int64)
            if scores is not None and self.cut is not None:
                edges = edges[:, _numpy(scores, np.float64) > self.cut]
            edges = edges[:, edges[0] != edges[1]]
            label = connected_components(n_nodes, edges)
        return label, _component_order(n_nodes, edges, label, positions)


def connected_components(n_nodes: int, edge_index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Weakly connected components with scipy: int64 [N], -1 for nodes on no edge.

    Components are numbered by their lowest node index (canonical, backend-independent).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as scipy_cc

    src, dst = edge_index
    graph = sp.coo_matrix(
        (np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n_nodes, n_nodes)
    ).tocsr()
    _, label = scipy_cc(graph, directed=True, connection="weak")
    return _canonical(label.astype(np.int64), src, dst, n_nodes)


def _canonical(
    label: npt.NDArray[np.int64], src: npt.NDArray, dst: npt.NDArray, n_nodes: int
) -> npt.NDArray[np.int64]:
    """Renumber component labels by lowest node; -1 for nodes on no edge."""
    on_edge = np.zeros(n_nodes, dtype=bool)
    on_edge[src] = True
    on_edge[dst] = True
    nodes = np.flatnonzero(on_edge)
    # nodes are ascending, so a label's first occurrence is its lowest node
    used, first = np.unique(label[nodes], return_index=True)
    rank = np.full(int(label.max()) + 1 if len(label) else 0, -1, dtype=np.int64)
    rank[used[np.argsort(nodes[first], kind="stable")]] = np.arange(len(used))
    return np.where(on_edge, rank[label], -1)


def _cugraph_components(n_nodes: int, edge_index: torch.Tensor) -> npt.NDArray[np.int64]:
    """Weakly connected components on the GPU with cugraph (labels canonicalised on CPU)."""
    from acts_gnn.extras import cugraph, require

    cg = cugraph()
    cupy = require("cupy")
    sparse = require("cupyx.scipy.sparse")
    src = cupy.from_dlpack(edge_index[0].contiguous())
    dst = cupy.from_dlpack(edge_index[1].contiguous())
    ones = cupy.ones(src.shape[0], dtype=cupy.float32)
    graph = sparse.coo_matrix((ones, (src, dst)), shape=(n_nodes, n_nodes)).tocsr()
    _, label = cg.connected_components(graph, directed=True, connection="weak")
    edges = edge_index.cpu().numpy()
    return _canonical(cupy.asnumpy(label).astype(np.int64), edges[0], edges[1], n_nodes)


def _component_order(
    n_nodes: int,
    edges: npt.NDArray[np.int64],
    label: npt.NDArray[np.int64],
    positions: ArrayLike | None,
) -> npt.NDArray:
    """Order key per node: graph order on simple-path components, else distance (or row)."""
    src, dst = edges
    if positions is not None:
        order = np.linalg.norm(_numpy(positions, np.float64), axis=1)
    else:
        order = np.arange(n_nodes, dtype=np.float64)
    if len(src) == 0:
        return order
    n_comp = int(label.max()) + 1
    junction = (np.bincount(src, minlength=n_nodes) > 1) | (np.bincount(dst, minlength=n_nodes) > 1)
    nodes = np.flatnonzero(label >= 0)
    comp_nodes = np.bincount(label[nodes], minlength=n_comp)
    comp_edges = np.bincount(label[src], minlength=n_comp)
    comp_junction = np.bincount(label[nodes], weights=junction[nodes], minlength=n_comp) > 0
    is_path = (comp_edges == comp_nodes - 1) & ~comp_junction
    on_path = is_path[label[src]]
    if on_path.any():
        _, position, _, _ = _core.chain_labels(n_nodes, edges[:, on_path])
        path_nodes = np.flatnonzero(position >= 0)
        order[path_nodes] = position[path_nodes]
    return order


class JunctionRemovalTrackBuilding(_TrackBuilding):
    """Junction removal on the edges with ``score > cut``, then chains (upstream CUDA builder).

    ``backend``: ``"auto"`` (C++ core for CPU inputs, torch on CUDA), ``"cpp"`` or ``"torch"``
    (torch on ``device``, or on the inputs' device). Both give identical candidates.
    Differences from upstream ``junctionRemovalCuda``: ties go to the lower edge index (upstream:
    GPU thread order), and a junction's best edge survives whatever its score (upstream's
    running maximum starts at 0, so a junction whose scores are all <= 0 loses every edge).
    """

    _chains = True

    def __init__(
        self,
        cut: float = 0.5,
        minMeasurementsPerTrack: int = 3,
        device: str | torch.device = "cpu",
        backend: str = "auto",
    ) -> None:
        super().__init__(minMeasurementsPerTrack, device)
        self.cut = float(cut)
        self.backend = backend
        _use_torch(backend, self.device)

    def _label(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None,
        n_nodes: int,
        positions: ArrayLike | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray]:
        if scores is None:
            raise ValueError("junction removal needs edge scores")
        if _use_torch(self.backend, self.device, edge_index, scores):
            device = _torch_device(self.device, edge_index, scores)
            ei = _tensor(edge_index, torch.int64, device)
            s = _tensor(scores, None, device)
            keep = (s > self.cut) & (ei[0] != ei[1])
            ei, s = ei[:, keep], s[keep]
            ei = ei[:, junction_removal_torch(n_nodes, ei, s)]
            label_t, position_t = chain_labels_torch(n_nodes, ei)
            return label_t.cpu().numpy(), position_t.cpu().numpy()
        edges = _numpy(edge_index, np.int64)
        s_np = _numpy(scores, np.float64)
        keep = (s_np > self.cut) & (edges[0] != edges[1])
        edges, s_np = edges[:, keep], s_np[keep]
        edges = edges[:, _core.junction_removal(n_nodes, edges, s_np)]
        label, position, _, _ = _core.chain_labels(n_nodes, edges)
        return label, position


class WalkthroughTrackBuilding(_TrackBuilding):
    """Junction-free high-score chains extended by unambiguous lower-score edges.

    ``cut_high``: edges above it form the chains (after junction removal); ``cut_low``: an
    edge above it that is not on a chain may join a chain end (a hit without out-edge) to a
    chain start (a hit without in-edge; lone hits are both) when it is the only such edge of
    both hits. The candidates include high-score edges that junction removal dropped (a hit
    whose best continuation went to another chain takes its unclaimed second choice), so
    ``cut_low == cut_high`` is junction removal plus these recoveries. The edge classifier's
    own cut must be at most ``cut_low`` for the low band to reach this stage. ``backend`` as
    for :class:`JunctionRemovalTrackBuilding`.
    """

    _chains = True

    def __init__(
        self,
        cut_high: float = 0.5,
        cut_low: float = 0.1,
        minMeasurementsPerTrack: int = 3,
        device: str | torch.device = "cpu",
        backend: str = "auto",
    ) -> None:
        super().__init__(minMeasurementsPerTrack, device)
        if not cut_low <= cut_high:
            raise ValueError(f"need cut_low <= cut_high, got {cut_low} > {cut_high}")
        self.cut_high = float(cut_high)
        self.cut_low = float(cut_low)
        self.backend = backend
        _use_torch(backend, self.device)

    def _label(
        self,
        edge_index: ArrayLike,
        scores: ArrayLike | None,
        n_nodes: int,
        positions: ArrayLike | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray]:
        if scores is None:
            raise ValueError("the walkthrough needs edge scores")
        if _use_torch(self.backend, self.device, edge_index, scores):
            device = _torch_device(self.device, edge_index, scores)
            label_t, position_t, _ = walkthrough_torch(
                n_nodes,
                _tensor(edge_index, torch.int64, device),
                _tensor(scores, None, device),
                self.cut_high,
                self.cut_low,
            )
            return label_t.cpu().numpy(), position_t.cpu().numpy()
        label, position, _, _ = _core.walkthrough(
            n_nodes,
            _numpy(edge_index, np.int64),
            _numpy(scores, np.float64),
            self.cut_high,
            self.cut_low,
        )
        return label, position


# -- test graphs ---------------------------------------------------------------------------


def scored_truth_graph(
    event: Event,
    fakes_per_edge: float = 0.5,
    seed: int = 0,
    true_scores: tuple[float, float] = (0.6, 1.0),
    fake_scores: tuple[float, float] = (0.0, 0.7),
    neighbours: int = 8,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """A stand-in for a classified graph, until a trained model exists (tests, benchmarks).

    The truth graph (:func:`acts_gnn.graph.truth.truth_graph`, all particles) with scores
    uniform in ``true_scores``, plus ``fakes_per_edge`` fake edges per truth edge with scores
    uniform in ``fake_scores``. A fake edge re-routes one end of a random truth edge to one of
    the ``neighbours`` nearest hits (3D) of that end, so fakes make junctions with the true
    edges, as a real classifier's mistakes do. Deterministic for a given seed.

    Returns (edge_index int64 [2, E], scores float32 [E], is_true bool [E]), truth edges first.
    """
    from scipy.spatial import cKDTree

    from acts_gnn.graph.truth import truth_graph

    rng = np.random.default_rng(seed)
    truth = truth_graph(event)
    n_true = truth.shape[1]
    n_fake = round(fakes_per_edge * n_true)
    if n_true == 0 or n_fake == 0 or event.n_hits < 3:
        scores = np.asarray(rng.uniform(*true_scores, size=n_true), dtype=np.float32)
        return truth, scores, np.ones(n_true, dtype=bool)
    positions = event.positions()
    k = min(neighbours + 1, event.n_hits)
    _, near = cKDTree(positions).query(positions, k=k)
    pick = rng.integers(0, n_true, n_fake)
    move_target = rng.random(n_fake) < 0.5
    other = near[np.where(move_target, truth[1, pick], truth[0, pick]), rng.integers(1, k, n_fake)]
    src = np.where(move_target, truth[0, pick], other)
    dst = np.where(move_target, other, truth[1, pick])
    n = np.int64(event.n_hits)
    true_keys = np.concatenate(
        [truth[0] * n + truth[1], truth[1] * n + truth[0]]
    )  # either direction
    fake_keys = src * n + dst
    ok = (src != dst) & ~np.isin(fake_keys, true_keys)
    _, first = np.unique(fake_keys[ok], return_index=True)
    chosen = np.flatnonzero(ok)[np.sort(first)]
    fakes = np.stack([src[chosen], dst[chosen]]).astype(np.int64)
    edges = np.concatenate([truth, fakes], axis=1)
    scores = np.concatenate(
        [rng.uniform(*true_scores, n_true), rng.uniform(*fake_scores, fakes.shape[1])]
    ).astype(np.float32)
    is_true = np.concatenate([np.ones(n_true, bool), np.zeros(fakes.shape[1], bool)])
    return edges, scores, is_true


__all__ = [
    "ConnectedComponentsTrackBuilding",
    "JunctionRemovalTrackBuilding",
    "WalkthroughTrackBuilding",
    "candidates_from_labels",
    "chain_labels_torch",
    "connected_components",
    "junction_removal_torch",
    "scored_truth_graph",
    "track_labels",
    "walkthrough_torch",
]

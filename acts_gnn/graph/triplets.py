r"""The triplet graph of a scored doublet graph (Exa.TrkX, EPJ C 81 (2021) 876, section 3.2).

A doublet graph has hits as nodes and directed edges ``a -> b`` (inner -> outer, as every graph
builder here orients them) with GNN scores. Its **triplet graph** has

* one node per doublet edge whose score passes a (loose) cut, and
* one edge ``d1 -> d2`` per pair of such doublets that share a middle hit with a consistent
  orientation: ``d1 = a -> b`` ends where ``d2 = b -> c`` starts. The triplet stands for the
  three hits ``(a, b, c)``, bottom, middle and top.

:func:`triplet_index` builds the edges vectorised in O(T) = O(E x degree): the doublets are
grouped by their middle hit (in-edges by target, out-edges by source) and every in-edge is
expanded against the out-edges of its target hit.

Features (all float32, scaled as recorded in :data:`DOUBLET_FEATURES` / :data:`TRIPLET_FEATURES`,
so a model's metadata names them):

* triplet nodes (doublets) [D, 13]: the two hits' r, phi, z (mm, rad divided by 1000, pi,
  1000), the six standard edge features of :data:`acts_gnn.graph.features.EDGE_FEATURES`
  divided by the GNN's scales, and the doublet score;
* triplet edges [T, 7]: signed xy curvature of the circle through the three hits [1/mm]
  (x 1000), transverse impact parameter of that circle [mm] (/ 10; the line's when the hits are
  collinear), z at r = 0 of the bottom doublet's r-z line [mm] (/ 100), differences of the two
  doublets' polar angles and azimuthal directions [rad] (/ 0.1), product and minimum of the
  doublet scores.

Truth (:func:`triplet_truth`): a doublet is true when it joins consecutive hits of one particle
(an edge of :func:`acts_gnn.graph.truth.truth_graph`); a triplet is true when both doublets are
(then its three hits belong to the particle of the middle hit).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.graph.features import EDGE_FEATURES, edge_features
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask

#: Edge-feature scales of the doublet part of the triplet-node features (the shipped GNN's).
EDGE_FEATURE_SCALES = (100.0, 0.1, 100.0, 1.0, 0.001, 1.0)
#: Triplet-node (doublet) feature names and their divisors.
DOUBLET_FEATURES: tuple[tuple[str, float], ...] = (
    ("r_inner", 1000.0),
    ("phi_inner", float(np.pi)),
    ("z_inner", 1000.0),
    ("r_outer", 1000.0),
    ("phi_outer", float(np.pi)),
    ("z_outer", 1000.0),
    *zip(EDGE_FEATURES, EDGE_FEATURE_SCALES, strict=True),
    ("score", 1.0),
)
#: Triplet-edge feature names and their divisors.
TRIPLET_FEATURES: tuple[tuple[str, float], ...] = (
    ("curvature", 1e-3),
    ("d0", 10.0),
    ("z0", 100.0),
    ("dtheta", 0.1),
    ("dphi", 0.1),
    ("score_product", 1.0),
    ("score_min", 1.0),
)
#: Largest |d0| and |z0| written as features [mm] (collinear hits far from the beam line).
MAX_IMPACT = 1000.0


def triplet_index(edge_index: npt.ArrayLike, n_nodes: int) -> npt.NDArray[np.int64]:
    """The triplet edges [2, T] int64 (rows: in-doublet ``d1``, out-doublet ``d2``, columns of
    ``edge_index`` [2, E]) of a directed doublet graph on ``n_nodes`` hits: every pair
    ``d1 = a -> b``, ``d2 = b -> c``. Ordered by ``d1``, then ``d2``. Doublets joining a hit to
    itself give no triplet."""
    ei = np.asarray(edge_index, dtype=np.int64)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {ei.shape}")
    if ei.shape[1] and (ei.min() < 0 or ei.max() >= n_nodes):
        raise ValueError(f"edge_index holds hits outside 0..{n_nodes - 1}")
    src, dst = ei
    ok = src != dst
    out_order = np.flatnonzero(ok)[np.argsort(src[ok], kind="stable")]  # out-edges by source
    out_count = np.bincount(src[ok], minlength=n_nodes)
    out_start = np.concatenate([[0], np.cumsum(out_count)[:-1]])
    d1 = np.flatnonzero(ok)
    per_d1 = out_count[dst[d1]]  # triplets of each in-edge: the out-degree of its target
    total = int(per_d1.sum())
    first = np.repeat(d1, per_d1)
    ramp = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per_d1) - per_d1, per_d1)
    second = out_order[np.repeat(out_start[dst[d1]], per_d1) + ramp]
    return np.stack([first, second]).astype(np.int64)


@dataclass
class TripletGraph:
    """A triplet graph (see the module docstring).

    doublets: int64 [2, D] hit rows of the kept doublets (triplet nodes), inner -> outer;
    doublet_scores: float32 [D]; index: int64 [2, T] triplet edges into the doublets;
    x: float32 [D, 13] node features; edge_attr: float32 [T, 7] edge features;
    y: float32 [T] triplet truth (1 true) or None; doublet_y: float32 [D] or None.
    """

    doublets: npt.NDArray[np.int64]
    doublet_scores: npt.NDArray[np.float32]
    index: npt.NDArray[np.int64]
    x: npt.NDArray[np.float32]
    edge_attr: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32] | None = None
    doublet_y: npt.NDArray[np.float32] | None = None

    @property
    def hits(self) -> npt.NDArray[np.int64]:
        """The hit rows [T, 3] (bottom, middle, top) of every triplet."""
        return np.stack(
            [
                self.doublets[0, self.index[0]],
                self.doublets[1, self.index[0]],
                self.doublets[1, self.index[1]],
            ],
            axis=1,
        )


def _cylindrical(p: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.hypot(p[:, 0], p[:, 1]), np.arctan2(p[:, 1], p[:, 0]), p[:, 2]


def doublet_features(
    positions: npt.NDArray[np.float64],
    doublets: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Triplet-node features [D, 13] (:data:`DOUBLET_FEATURES`, scaled) of ``doublets``
    [2, D] (rows of ``positions`` [N, 3], mm) with GNN ``scores`` [D]."""
    inner, outer = positions[doublets[0]], positions[doublets[1]]
    columns = [*_cylindrical(inner), *_cylindrical(outer)]
    raw = edge_features(positions, doublets).astype(np.float64)
    columns += [raw[:, k] for k in range(raw.shape[1])]
    columns.append(np.asarray(scores, dtype=np.float64))
    scales = np.array([s for _, s in DOUBLET_FEATURES])
    return (np.stack(columns, axis=1) / scales).astype(np.float32).reshape(-1, len(scales))


def triplet_features(
    positions: npt.NDArray[np.float64],
    hits: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Triplet-edge features [T, 7] (:data:`TRIPLET_FEATURES`, scaled) of the hit triplets
    ``hits`` [T, 3] (bottom, middle, top rows of ``positions`` [N, 3], mm) whose doublets have
    the GNN ``scores`` [T, 2]."""
    a, b, c = (positions[hits[:, k]].astype(np.float64) for k in range(3))
    ab, bc, ac = b - a, c - b, c - a
    cross = ab[:, 0] * bc[:, 1] - ab[:, 1] * bc[:, 0]
    lengths = (
        np.hypot(ab[:, 0], ab[:, 1]) * np.hypot(bc[:, 0], bc[:, 1]) * np.hypot(ac[:, 0], ac[:, 1])
    )
    curvature = np.where(lengths > 0, 2.0 * cross / np.maximum(lengths, 1e-300), 0.0)
    # circumcentre of (a, b, c) in xy; the line through a and c where the hits are collinear
    d = 2.0 * (a[:, 0] * bc[:, 1] + b[:, 0] * (a[:, 1] - c[:, 1]) + c[:, 0] * ab[:, 1])
    a2, b2, c2 = ((p[:, 0] ** 2 + p[:, 1] ** 2) for p in (a, b, c))
    with np.errstate(divide="ignore", invalid="ignore"):
        ux = (a2 * (b[:, 1] - c[:, 1]) + b2 * (c[:, 1] - a[:, 1]) + c2 * (a[:, 1] - b[:, 1])) / d
        uy = (a2 * (c[:, 0] - b[:, 0]) + b2 * (a[:, 0] - c[:, 0]) + c2 * (b[:, 0] - a[:, 0])) / d
        radius = np.hypot(ux - a[:, 0], uy - a[:, 1])
        circle_d0 = np.abs(np.hypot(ux, uy) - radius)
        chord = np.hypot(ac[:, 0], ac[:, 1])
        line_d0 = np.abs(a[:, 0] * ac[:, 1] - a[:, 1] * ac[:, 0]) / chord
    d0 = np.where(np.isfinite(circle_d0) & (np.abs(curvature) > 1e-9), circle_d0, line_d0)
    d0 = np.nan_to_num(d0, nan=MAX_IMPACT).clip(0.0, MAX_IMPACT)
    r_a, r_b, r_c = (np.hypot(p[:, 0], p[:, 1]) for p in (a, b, c))
    dr1 = r_b - r_a
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = a[:, 2] - r_a * ab[:, 2] / dr1
    z0 = np.nan_to_num(z0, nan=MAX_IMPACT, posinf=MAX_IMPACT, neginf=-MAX_IMPACT)
    z0 = z0.clip(-MAX_IMPACT, MAX_IMPACT)
    dtheta = np.arctan2(r_c - r_b, bc[:, 2]) - np.arctan2(dr1, ab[:, 2])
    dphi = np.arctan2(bc[:, 1], bc[:, 0]) - np.arctan2(ab[:, 1], ab[:, 0])
    dphi = (dphi + np.pi) % (2 * np.pi) - np.pi
    s = np.asarray(scores, dtype=np.float64).reshape(-1, 2)
    columns = [curvature, d0, z0, dtheta, dphi, s[:, 0] * s[:, 1], s.min(axis=1)]
    scales = np.array([v for _, v in TRIPLET_FEATURES])
    return (np.stack(columns, axis=1) / scales).astype(np.float32).reshape(-1, len(scales))


def build_triplet_graph(
    positions: npt.ArrayLike,
    edge_index: npt.ArrayLike,
    scores: npt.ArrayLike,
    doublet_cut: float = 0.0,
) -> TripletGraph:
    """The triplet graph (with features, no truth) of the doublet graph ``edge_index`` [2, E]
    (inner -> outer rows of ``positions`` [N, 3] mm) scored ``scores`` [E]: the doublets with
    score > ``doublet_cut`` become nodes."""
    pos = np.ascontiguousarray(positions, dtype=np.float64)
    ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    sc = np.asarray(scores, dtype=np.float32).reshape(-1)
    if sc.shape[0] != ei.shape[1]:
        raise ValueError(f"{sc.shape[0]} scores for {ei.shape[1]} doublets")
    keep = sc > doublet_cut
    doublets, kept = ei[:, keep], sc[keep]
    index = triplet_index(doublets, len(pos))
    graph = TripletGraph(
        doublets, kept, index, doublet_features(pos, doublets, kept), np.zeros((0, 7), np.float32)
    )
    graph.edge_attr = triplet_features(pos, graph.hits, kept[index.T])
    return graph


def triplet_truth(
    graph: TripletGraph, event: Event, selection: TruthSelection | None = None
) -> TripletGraph:
    """``graph`` (hit rows of ``event``) with ``doublet_y`` and ``y`` set: doublets that are
    edges of the truth graph of ``selection``'s particles (default: all), triplets whose two
    doublets both are."""
    truth = truth_graph(event, selection)
    doublet_true = edge_truth_mask(graph.doublets, truth, event.n_hits)
    graph.doublet_y = doublet_true.astype(np.float32)
    graph.y = (doublet_true[graph.index[0]] & doublet_true[graph.index[1]]).astype(np.float32)
    return graph


def innermost_triplets(
    index: npt.NDArray[np.int64], selected: npt.NDArray[np.bool_], depth: int = 1
) -> npt.NDArray[np.bool_]:
    """Of the ``selected`` triplets [T] (edges ``index`` [2, T] of a triplet graph), those whose
    bottom doublet is not the top doublet of another selected triplet: one seed at the inner
    end of every chain of selected triplets. With ``depth`` k > 1, also the triplets up to
    k - 1 steps further out along each chain (those whose bottom doublet is the top doublet of
    a triplet already picked), so every chain gives up to k seeds."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    n = int(index.max(initial=-1)) + 1
    is_top = np.zeros(n, dtype=bool)
    is_top[index[1, selected]] = True
    picked = selected & ~is_top[index[0]]
    level = picked
    for _ in range(depth - 1):
        tops = np.zeros(n, dtype=bool)
        tops[index[1, level]] = True
        level = selected & ~picked & tops[index[0]]
        picked = picked | level
    return picked


class TripletSeeding:
    """A track-builder stage of :class:`~acts_gnn.chain.pipeline.GnnPipeline` that returns
    seeds: the scored doublet graph -> triplet graph (doublets above the model's
    ``doublet_cut``) -> the triplet classifier (TorchScript ``model``) -> the triplets scoring
    above ``cut`` (default: the model's ``score_cut``), with ``innermost`` only the inner end of
    every chain of them (:func:`innermost_triplets`; ``seedsPerChain`` > 1: also the next
    triplets out along the chain, up to that many per chain). Each candidate is the three
    space-point ids (bottom, middle, top, inner -> outer), so the Sequencer's proto-tracks are
    seeds.
    The edge classifier before it should keep the doublets above ``doublet_cut``
    (``edge_classifier(..., cut=stage.doublet_cut)``).

    Seed cuts for a CKF, applied before the innermost triplets are picked (None: none):
    ``maxSeedR``, the bottom hit's largest radius [mm] (ACTS seeds in the pixels; the
    GNN-seeded chain does not cut on it);
    ``minPt`` [GeV] with ``bFieldTesla``, the smallest pT of the triplet's circle
    (|curvature| <= 0.3 B / pT); ``maxImpact``, the largest |d0| of that circle [mm];
    ``minSeedDeltaR``, the smallest radial distance between the bottom and middle and between
    the middle and top hits [mm] (two hits on one layer, in the overlap of two modules, give
    the three-point estimate of the CKF's start parameters a lever arm of ~2 mm and a q/p of
    either sign: docs/triplet-seeds.md)."""

    def __init__(
        self,
        model: str | Path,
        cut: float | None = None,
        innermost: bool = True,
        device: str = "cpu",
        maxSeedR: float | None = None,
        minPt: float | None = None,
        maxImpact: float | None = None,
        bFieldTesla: float = 2.0,
        minSeedDeltaR: float | None = None,
        seedsPerChain: int = 1,
    ) -> None:
        import torch

        from acts_gnn.nn.files import load_torchscript, read_torchscript_metadata

        self.path = Path(model)
        self.metadata = read_torchscript_metadata(self.path)
        kind = self.metadata.get("model")
        if kind is not None and kind != "TripletClassifier":
            raise ValueError(f"{self.path}: a {kind}, not a triplet classifier")
        self.model = load_torchscript(self.path, device)
        self.device = torch.device(device)
        self.cut = float(self.metadata.get("score_cut", 0.5) if cut is None else cut)
        self.doublet_cut = float(self.metadata.get("doublet_cut", 0.0))
        self.innermost = bool(innermost)
        self.maxSeedR = maxSeedR
        self.minPt = minPt
        self.maxImpact = maxImpact
        self.bFieldTesla = float(bFieldTesla)
        self.minSeedDeltaR = minSeedDeltaR
        if seedsPerChain < 1:
            raise ValueError(f"seedsPerChain must be >= 1, got {seedsPerChain}")
        self.seedsPerChain = int(seedsPerChain)
        self.minMeasurementsPerTrack = 3
        self.triplets = 0  # triplets scored, summed over events
        self.seeds = 0  # seeds returned, summed over events

    def scores(self, graph: TripletGraph) -> npt.NDArray[np.float32]:
        """The classifier's scores [T] of ``graph``'s triplets."""
        import torch

        if graph.index.shape[1] == 0:
            return np.zeros(0, np.float32)
        with torch.inference_mode():
            logits = self.model(
                torch.from_numpy(graph.x).to(self.device),
                torch.from_numpy(graph.index).to(self.device),
                torch.from_numpy(graph.edge_attr).to(self.device),
            )
        return torch.sigmoid(logits.float()).cpu().numpy().reshape(-1)

    def seed_cuts(self, graph: TripletGraph, positions: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which triplets [T] pass ``maxSeedR``, ``minPt``, ``maxImpact`` and
        ``minSeedDeltaR``."""
        names = [n for n, _ in TRIPLET_FEATURES]
        scales = dict(TRIPLET_FEATURES)
        keep = np.ones(graph.index.shape[1], dtype=bool)
        if self.maxSeedR is not None:
            bottom = np.asarray(positions, dtype=np.float64)[graph.hits[:, 0]]
            keep &= np.hypot(bottom[:, 0], bottom[:, 1]) <= self.maxSeedR
        if self.minPt is not None:
            curvature = graph.edge_attr[:, names.index("curvature")] * scales["curvature"]
            # pT [GeV] = 0.3 B [T] R [m]: |curvature| [1/mm] <= 0.3e-3 B / pT
            keep &= np.abs(curvature) <= 0.3e-3 * self.bFieldTesla / self.minPt
        if self.maxImpact is not None:
            keep &= graph.edge_attr[:, names.index("d0")] * scales["d0"] <= self.maxImpact
        if self.minSeedDeltaR is not None:
            p = np.asarray(positions, dtype=np.float64)
            r = np.hypot(p[:, 0], p[:, 1])[graph.hits]  # [T, 3]
            keep &= (np.abs(np.diff(r, axis=1)) >= self.minSeedDeltaR).all(axis=1)
        return keep

    def __call__(
        self,
        edge_index: Any,
        scores: Any,
        n_nodes: int,
        spacePointIds: npt.ArrayLike | None = None,
        positions: npt.ArrayLike | None = None,
    ) -> list[npt.NDArray[np.int64]]:
        """Seeds (int64 [3] of ``spacePointIds``) of the doublets ``edge_index`` [2, E] scored
        ``scores`` [E] (tensors or arrays) on ``n_nodes`` hits at ``positions`` [N, 3] mm."""
        if positions is None:
            raise ValueError("TripletSeeding needs the hit positions")
        ei = np.asarray(getattr(edge_index, "cpu", lambda: edge_index)(), dtype=np.int64)
        sc = np.asarray(getattr(scores, "cpu", lambda: scores)(), dtype=np.float32)
        graph = build_triplet_graph(positions, ei, sc, self.doublet_cut)
        selected = (self.scores(graph) > self.cut) & self.seed_cuts(graph, positions)
        if self.innermost:
            selected = innermost_triplets(graph.index, selected, self.seedsPerChain)
        ids = (
            np.arange(n_nodes, dtype=np.int64)
            if spacePointIds is None
            else np.asarray(spacePointIds, dtype=np.int64)
        )
        seeds = ids[graph.hits[selected]]
        self.triplets += graph.index.shape[1]
        self.seeds += len(seeds)
        return list(seeds)

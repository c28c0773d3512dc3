"""The GNN track-finding chain of one event, independent of the ACTS framework.

graph construction -> edge classifiers (run in sequence) -> track building, on one device,
mirroring upstream ACTS ``TrackFindingAlgorithmGnn`` (``Plugins/Gnn``). The Sequencer algorithm
(:mod:`acts_gnn.sequencer.algorithm`) and the benchmarks call :class:`GnnPipeline`; it can also run on
prepared events directly (:meth:`GnnPipeline.run_event`).

Between stages one small :class:`GraphData` travels: scaled node features ``x`` [N, F]
(``nodeFeatures`` divided by ``featureScales``, as upstream), hit positions [N, 3] (mm),
module ids [N], the id each node stands for (a measurement index) [N], and once a graph
exists ``edge_index`` int64 [2, E], raw edge features [E, 6]
(:data:`acts_gnn.graph.features.EDGE_FEATURES`: mm, rad, 1/mm) and scores [E]. Stages never
see each other.

Stages (knobs as upstream):

* graph constructors: :class:`~acts_gnn.graph.module_map.core.ModuleMapGraphBuilder` (C++, CPU),
  :class:`~acts_gnn.graph.module_map.torch_builder.TorchModuleMapGraphBuilder` (torch, GPU),
  :class:`~acts_gnn.graph.metric_learning.MetricLearning` (embedding + radius/kNN search), or
  any object with ``construct_graph(data: GraphData) -> (edge_index [2, E], edge_attr [E, 6]
  or None)`` (tensors);
* edge classifiers: :class:`~acts_gnn.chain.classify.TorchEdgeClassifier`,
  :class:`~acts_gnn.chain.classify.OnnxEdgeClassifier` (each keeps the edges above its ``cut``;
  the next classifier and the track builder see only those);
* track builders: :mod:`acts_gnn.chain.tracks` (connected components, junction removal,
  walkthrough).

Before the first event the pipeline settles what the stages exchange, in one place for every
caller (:class:`~acts_gnn.sequencer.algorithm.TrackFindingAlgorithmGnn`, the benchmarks, a
script): the edge-feature convention
(:func:`~acts_gnn.chain.classify.check_edge_feature_conventions`) and the edge orientation
(:func:`settle_edge_orientation`: the edges of a constructor that gives another order than the
classifiers' models were trained on are oriented inner -> outer from the hit positions, or the
pipeline refuses, naming both).

``shrinkNodes``: after graph construction, nodes without any edge are dropped before the
classifiers (they cannot be on a candidate); candidates still report the original ids.
A truth graph (:class:`StageTruth`) turns on per-stage edge efficiency and purity.

``firstPass``: iterative track finding, as the CKF chains of the LHC experiments do it in
pT-ordered iterations. Another :class:`GnnPipeline` (e.g. the pT > 1 GeV operating point) runs
first on every space point; this pipeline then runs on the space points none of the first
pass's candidates holds, and the event's candidates are the first pass's followed by this
pass's. The low-pT graph so never sees the hits of the high-pT tracks already found: it is
smaller, and its fake edges cannot pull those tracks apart (docs/results.md, "The low-pT
operating point"). Stage times, counts and edge metrics of the first pass are reported under
``first pass: <stage>``; this pass's truth is the event's truth on its space points
(:meth:`StageTruth.subset`).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn.chain.classify import (
    REVERSED_EDGE_FEATURE_SIGNS,
    EdgeClassification,
    check_edge_feature_conventions,
)
from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.graph.features import edge_features, node_feature_matrix
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.nn.files import AS_CONSTRUCTED, EDGE_ORIENTATIONS, INNER_TO_OUTER

#: A graph constructor's edges: unique ``(min, max)`` node-index pairs, any direction
#: (``TorchMetricLearning``, ``MetricLearning(orientation="index")``).
INDEX_PAIRS = "index-pairs"
#: A graph constructor's edges: every edge in both directions (``MetricLearning(undirected)``).
BOTH_DIRECTIONS = "both-directions"


def constructor_edge_orientation(stage: Any) -> str | None:
    """The orientation of the edges ``stage`` constructs: its ``edgeOrientation`` attribute if
    it has one; our module-map builders and ``MetricLearning(orientation="radius")``
    :data:`~acts_gnn.nn.files.INNER_TO_OUTER`; :data:`INDEX_PAIRS`, :data:`BOTH_DIRECTIONS`;
    None for a constructor that does not say."""
    from acts_gnn.graph.metric_learning import MetricLearning
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
    from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

    declared = getattr(stage, "edgeOrientation", None)
    if declared is not None:
        return str(declared)
    if isinstance(stage, (ModuleMapGraphBuilder, TorchModuleMapGraphBuilder)):
        return INNER_TO_OUTER
    if isinstance(stage, MetricLearning):
        if stage.undirected:
            return BOTH_DIRECTIONS
        return INNER_TO_OUTER if stage.orientation == "radius" else INDEX_PAIRS
    return None


def settle_edge_orientation(graph_constructor: Any, classifiers: Sequence[Any]) -> bool:
    """Whether the pipeline must orient the constructed edges inner -> outer for the
    classifiers' models (their ``edgeOrientation``; upstream models take the edges as
    constructed). True for a constructor of unique index pairs (oriented exactly: source the
    hit nearer the origin, as :func:`~acts_gnn.graph.metric_learning.orient_outwards`);
    ValueError naming both for one that gives every edge twice; a constructor that does not
    say how it orients is taken as it is."""
    wanted = [
        (k, stage)
        for k, stage in enumerate(classifiers)
        if getattr(stage, "edgeOrientation", AS_CONSTRUCTED) == INNER_TO_OUTER
    ]
    produced = constructor_edge_orientation(graph_constructor)
    if not wanted or produced in (None, INNER_TO_OUTER):
        return False
    k, stage = wanted[0]
    who = f"edge classifier {k} ({type(stage).__name__})"
    if produced == INDEX_PAIRS:
        return True
    raise ValueError(
        f"{who} runs a model trained on {EDGE_ORIENTATIONS[INNER_TO_OUTER]} "
        f"({INNER_TO_OUTER!r}), but the graph constructor {type(graph_constructor).__name__} "
        f"gives {produced!r} edges; use a constructor of single inner -> outer edges "
        "(e.g. MetricLearning(undirected=False))"
    )


def orient_inner_to_outer(
    positions: npt.NDArray[np.float64], edge_index: torch.Tensor, edge_attr: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``edge_index`` [2, E] with every source the hit nearer the origin (``positions`` [N, 3]
    mm), and ``edge_attr`` [E, 6] (or None) with the flipped edges' features reversed exactly
    (:data:`~acts_gnn.chain.classify.REVERSED_EDGE_FEATURE_SIGNS`)."""
    from acts_gnn.graph.features import EDGE_FEATURES
    from acts_gnn.graph.metric_learning import orient_outwards

    pos = torch.from_numpy(positions).to(edge_index.device)
    oriented = orient_outwards(edge_index, pos)
    if edge_attr is None or oriented.shape[1] == 0:
        return oriented, edge_attr
    if edge_attr.shape[1] != len(EDGE_FEATURES):
        raise ValueError(
            f"orienting edges with features needs the {len(EDGE_FEATURES)} standard edge "
            f"features {EDGE_FEATURES}, got {edge_attr.shape[1]} columns"
        )
    signs = torch.tensor(
        [REVERSED_EDGE_FEATURE_SIGNS[n] for n in EDGE_FEATURES],
        dtype=edge_attr.dtype,
        device=edge_attr.device,
    )
    flipped = (oriented[0] != edge_index[0]).to(edge_attr.device)[:, None]
    return oriented, torch.where(flipped, edge_attr * signs, edge_attr)


@dataclass
class GraphData:
    """What travels between stages (see the module docstring); tensors on one device."""

    x: torch.Tensor  # float32 [N, F], scaled
    positions: npt.NDArray[np.float64]  # [N, 3] mm
    geometry_ids: npt.NDArray[np.uint64]  # [N]
    node_ids: npt.NDArray[np.int64]  # [N] what candidates report (measurement index)
    node_rows: npt.NDArray[np.int64]  # [N] row in the event's input (truth bookkeeping)
    edge_index: torch.Tensor | None = None  # int64 [2, E] into the rows of x
    edge_attr: torch.Tensor | None = None  # float32 [E, 6] EDGE_FEATURES, unscaled
    scores: torch.Tensor | None = None  # float32 [E]

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_edges(self) -> int:
        return 0 if self.edge_index is None else int(self.edge_index.shape[1])

    def shrunk(self) -> GraphData:
        """The same graph without nodes that have no edge (nodes renumbered in order)."""
        assert self.edge_index is not None
        used = torch.zeros(self.n_nodes, dtype=torch.bool, device=self.x.device)
        used[self.edge_index.reshape(-1)] = True
        new_row = torch.cumsum(used, 0) - 1
        keep = used.cpu().numpy()
        return replace(
            self,
            x=self.x[used],
            positions=self.positions[keep],
            geometry_ids=self.geometry_ids[keep],
            node_ids=self.node_ids[keep],
            node_rows=self.node_rows[keep],
            edge_index=new_row[self.edge_index],
        )


@dataclass
class StageTruth:
    """Truth graph of an event in input rows: ``target`` [2, T] (the edges whose efficiency
    is measured, e.g. pT > 1 GeV) and ``all_true`` [2, A] (edges of any particle, for the
    purity)."""

    target: npt.NDArray[np.int64]
    all_true: npt.NDArray[np.int64]
    n_nodes: int

    def subset(self, rows: npt.NDArray[np.int64]) -> StageTruth:
        """The truth graph of the space points ``rows`` [M] (increasing input rows) alone,
        renumbered 0..M-1: the edges with both ends among them."""
        new_row = np.full(self.n_nodes, -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows), dtype=np.int64)

        def keep(edges: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
            mapped = new_row[edges]
            return mapped[:, np.all(mapped >= 0, axis=0)]

        return StageTruth(keep(self.target), keep(self.all_true), len(rows))

    def metrics(self, data: GraphData) -> tuple[float, float]:
        """(edge efficiency, edge purity) of ``data``'s edges."""
        if data.edge_index is None or data.n_edges == 0:
            return (0.0 if self.target.shape[1] else math.nan), math.nan
        rows = data.node_rows[data.edge_index.cpu().numpy()]
        true = edge_truth_mask(rows, self.all_true, self.n_nodes)
        found = edge_truth_mask(self.target, rows, self.n_nodes)
        efficiency = float(found.mean()) if len(found) else math.nan
        return efficiency, float(true.mean())


@dataclass
class EventResult:
    """One event through the pipeline.

    candidates: int64 arrays of node ids (measurement indices), in trajectory order (a first
    pass's first); seconds: wall time per stage; counts: nodes/edges after each stage;
    edge_metrics: stage -> (efficiency, purity) when a truth graph was given, and
    truth_edges: stage -> the number of target edges its efficiency is of (a second pass sees
    only the truth edges among its space points).
    """

    candidates: list[npt.NDArray[np.int64]]
    seconds: dict[str, float]
    counts: dict[str, int]
    edge_metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    truth_edges: dict[str, int] = field(default_factory=dict)


@dataclass
class StageTimes:
    """Seconds per event of every stage, collected over events."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, seconds: dict[str, float]) -> None:
        for name, value in seconds.items():
            self.samples.setdefault(name, []).append(value)

    def summary(self) -> dict[str, dict[str, float]]:
        """stage -> {mean, std, min, max, events} in seconds."""
        out = {}
        for name, values in self.samples.items():
            a = np.asarray(values)
            out[name] = {
                "mean": float(a.mean()),
                "std": float(a.std()),
                "min": float(a.min()),
                "max": float(a.max()),
                "events": len(a),
            }
        return out

    def table(self) -> str:
        """A text table (milliseconds) of :meth:`summary`."""
        lines = [f"{'stage':<22}{'mean':>10}{'std':>10}{'min':>10}{'max':>10}  [ms]"]
        for name, s in self.summary().items():
            lines.append(
                f"{name:<22}"
                + "".join(f"{1e3 * s[k]:>10.2f}" for k in ("mean", "std", "min", "max"))
            )
        return "\n".join(lines)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _stage_name(stage: Any) -> str:
    return type(stage).__name__


class GnnPipeline:
    """graph construction -> edge classifiers -> track building for one event at a time.

    ``nodeFeatures`` (names of :data:`acts_gnn.graph.features.NODE_FEATURE_FUNCTIONS`) divided
    by ``featureScales``
    give the x the stages see. ``device``: where tensors live between stages (the stages
    run where they were configured). Per-stage times accumulate in :attr:`times`.
    ``firstPass``: a pipeline run before this one, on every space point; this one then runs
    on the space points its candidates left (module docstring). :attr:`first_pass_candidates`
    holds the last event's first-pass candidates ([] without a first pass).
    """

    firstPass: GnnPipeline | None

    def __init__(
        self,
        graphConstructor: Any,
        edgeClassifiers: Sequence[Any],
        trackBuilder: Any,
        nodeFeatures: Sequence[str] = ("r", "phi", "z", "eta"),
        featureScales: Sequence[float] = (1000.0, math.pi, 1000.0, 1.0),
        minMeasurementsPerTrack: int | None = None,
        device: str | torch.device = "cpu",
        shrinkNodes: bool = False,
        firstPass: GnnPipeline | None = None,
    ) -> None:
        if firstPass is not None and not isinstance(firstPass, GnnPipeline):
            raise TypeError(f"firstPass must be a GnnPipeline, got {type(firstPass).__name__}")
        if firstPass is not None and firstPass.firstPass is not None:
            raise ValueError("a first pass cannot have a first pass of its own (two passes)")
        self.firstPass = firstPass
        self.first_pass_candidates: list[npt.NDArray[np.int64]] = []
        self.graphConstructor = graphConstructor
        self.edgeClassifiers = list(edgeClassifiers)
        self.trackBuilder = trackBuilder
        self.nodeFeatures = list(nodeFeatures)
        self.featureScales = [float(s) for s in featureScales]
        node_feature_matrix(np.zeros((0, 3)), self.nodeFeatures, self.featureScales)  # checks
        if minMeasurementsPerTrack is not None:
            trackBuilder.minMeasurementsPerTrack = int(minMeasurementsPerTrack)
        self.device = torch.device(device)
        self.shrinkNodes = bool(shrinkNodes)
        for stage in self.edgeClassifiers:  # stages without a device of their own run here
            if hasattr(stage, "place"):
                stage.place(self.device)
        check_edge_feature_conventions(graphConstructor, self.edgeClassifiers)
        #: orient the constructed edges inner -> outer (:func:`settle_edge_orientation`)
        self.orientEdges = settle_edge_orientation(graphConstructor, self.edgeClassifiers)
        self.times = StageTimes()
        self._unknown_module_hits = 0

    @property
    def unknown_module_hits(self) -> int:
        """Space points so far on modules the graph constructor does not know (both passes)."""
        first = 0 if self.firstPass is None else self.firstPass.unknown_module_hits
        return self._unknown_module_hits + first

    # -- stages ------------------------------------------------------------------------------
    def _construct(self, data: GraphData) -> GraphData:
        from acts_gnn.graph.metric_learning import MetricLearning
        from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
        from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

        stage = self.graphConstructor
        edge_attr: torch.Tensor | None = None
        if hasattr(stage, "construct_graph"):
            edge_index, edge_attr = stage.construct_graph(data)
        elif isinstance(stage, ModuleMapGraphBuilder):
            graph = stage(data.positions, data.geometry_ids)
            self._unknown_module_hits += graph.hits_unknown_module
            edge_index = torch.from_numpy(graph.edge_index)
            edge_attr = torch.from_numpy(graph.edge_features)
        elif isinstance(stage, TorchModuleMapGraphBuilder):
            edge_index, _ = stage(data.positions, data.geometry_ids)
        elif isinstance(stage, MetricLearning):
            ml_graph = stage(data.x, data.positions)
            edge_index = ml_graph.edge_index
            if ml_graph.edge_features is not None:
                edge_attr = ml_graph.edge_features.float()
        else:
            raise TypeError(f"unknown graph constructor {_stage_name(stage)}")
        if self.orientEdges:
            edge_index, edge_attr = orient_inner_to_outer(data.positions, edge_index, edge_attr)
        if edge_attr is None:
            edge_attr = torch.from_numpy(edge_features(data.positions, edge_index.cpu().numpy()))
        return replace(
            data,
            edge_index=edge_index.to(self.device),
            edge_attr=edge_attr.to(self.device),
        )

    @staticmethod
    def _classify(stage: Any, data: GraphData) -> GraphData:
        assert data.edge_index is not None
        result: EdgeClassification = stage.classify(data.x, data.edge_index, data.edge_attr)
        return replace(
            data,
            edge_index=result.edge_index.to(data.x.device),
            edge_attr=None if result.edge_attr is None else result.edge_attr.to(data.x.device),
            scores=result.kept_scores.to(data.x.device),
        )

    def _build_tracks(self, data: GraphData) -> list[npt.NDArray[np.int64]]:
        assert data.edge_index is not None
        return list(
            self.trackBuilder(
                data.edge_index,
                data.scores,
                data.n_nodes,
                spacePointIds=data.node_ids,
                positions=data.positions,
            )
        )

    # -- one event ---------------------------------------------------------------------------
    def __call__(
        self,
        positions: npt.ArrayLike,
        geometry_ids: npt.ArrayLike,
        node_ids: npt.ArrayLike | None = None,
        truth: StageTruth | None = None,
    ) -> EventResult:
        """Run the chain on one event.

        positions [N, 3] mm; geometry_ids [N] (ACTS geometry identifiers of the hits'
        modules); node_ids [N] (what the candidates contain; default: row numbers);
        truth: optional truth graph for per-stage edge efficiency and purity.
        """
        seconds: dict[str, float] = {}
        counts: dict[str, int] = {}
        metrics: dict[str, tuple[float, float]] = {}
        truth_edges: dict[str, int] = {}
        start = t0 = time.perf_counter()
        pos = np.ascontiguousarray(positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions must have shape [N, 3], got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            raise InputDataError("non-finite space-point positions", field="positions")
        n = len(pos)
        ids = np.arange(n, dtype=np.int64) if node_ids is None else np.asarray(node_ids, np.int64)
        geo = np.asarray(geometry_ids, dtype=np.uint64)
        if len(ids) != n or len(geo) != n:
            raise ValueError(f"{n} positions but {len(geo)} geometry ids and {len(ids)} node ids")
        first: EventResult | None = None
        if self.firstPass is not None:
            first = self.firstPass(pos, geo, ids, truth)
            self.first_pass_candidates = first.candidates
            held = np.concatenate([np.zeros(0, np.int64), *first.candidates])
            rest = np.flatnonzero(~np.isin(ids, held))
            for name, value in first.seconds.items():
                seconds[f"first pass: {name}"] = value
            for name, count in first.counts.items():
                counts[f"first pass: {name}"] = count
            for name, pair in first.edge_metrics.items():
                metrics[f"first pass: {name}"] = pair
            truth_edges = {f"first pass: {k}": v for k, v in first.truth_edges.items()}
            pos, geo, ids, n = pos[rest], geo[rest], ids[rest], len(rest)
            truth = None if truth is None else truth.subset(rest)
            t0 = time.perf_counter()  # this pass's features from here
        x = torch.from_numpy(node_feature_matrix(pos, self.nodeFeatures, self.featureScales))
        data = GraphData(x.to(self.device), pos, geo, ids, np.arange(n, dtype=np.int64))
        seconds["features"] = time.perf_counter() - t0
        counts["nodes"] = n

        def timed(name: str, step: Callable[[GraphData], GraphData], d: GraphData) -> GraphData:
            t = time.perf_counter()
            out = step(d)
            _sync(self.device)
            seconds[name] = time.perf_counter() - t
            counts[f"{name} edges"] = out.n_edges
            if truth is not None:
                metrics[name] = truth.metrics(out)
                truth_edges[name] = int(truth.target.shape[1])
            return out

        data = timed("graph construction", self._construct, data)
        if self.shrinkNodes:
            t = time.perf_counter()
            data = data.shrunk()
            seconds["shrink nodes"] = time.perf_counter() - t
            counts["nodes after shrinking"] = data.n_nodes
        for k, stage in enumerate(self.edgeClassifiers):
            name = f"classifier {k} ({_stage_name(stage)})"
            data = timed(name, functools.partial(self._classify, stage), data)
        t = time.perf_counter()
        candidates = self._build_tracks(data)
        seconds["track building"] = time.perf_counter() - t
        counts["candidates"] = len(candidates)
        seconds["total"] = time.perf_counter() - start
        if first is not None:
            candidates = self.first_pass_candidates + candidates
            counts["candidates"] = len(candidates)
        self.times.add(seconds)
        return EventResult(candidates, seconds, counts, metrics, truth_edges)

    def run_event(self, event: Event, truth: StageTruth | None = None) -> EventResult:
        """The chain on a prepared event (hit rows as node ids)."""
        return self(event.positions(), event.hits["geometry_id"], None, truth)

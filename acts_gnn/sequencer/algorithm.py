"""``TrackFindingAlgorithmGnn``: GNN track finding as an ``acts.examples`` Sequencer algorithm.

Same name, inputs, outputs and knobs as upstream ACTS's C++ algorithm (``Examples/Algorithms/
TrackFindingGnn``), on top of the PyPI ``pyacts`` wheel: it reads an
``acts.SpacePointContainer`` (one space point per measurement, as ``SpacePointMaker`` makes with
every volume selected), runs :class:`~acts_gnn.chain.pipeline.GnnPipeline` and writes an
``acts.examples.ProtoTrackContainer`` whose proto-tracks hold measurement indices in trajectory
order, ready for ``ProtoTracksToParameters`` and the Kalman fit.

Per-stage times are collected per event and printed in ``finalize`` (mean, std, min, max;
also :attr:`TrackFindingAlgorithmGnn.times`). With ``inputMeasurementParticlesMap`` and
``inputParticles`` set, the truth graph of every event (particles passing ``truthSelection``)
gives edge efficiency and purity after each stage, logged per event and summed in
``finalize`` (:attr:`edge_metrics`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.chain.classify import as_torch_device
from acts_gnn.chain.pipeline import GnnPipeline, StageTruth
from acts_gnn.chain.upstream import node_feature_names
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.io.acts_edm import data_handle
from acts_gnn.io.whiteboard import event_from_whiteboard
from acts_gnn.sequencer.memory import reusable_heap

try:  # the Sequencer base class; the module imports without ACTS for documentation tools
    import acts
    import acts.examples

    _IAlgorithm: Any = acts.examples.IAlgorithm
except ImportError:  # pragma: no cover - pyacts is a dependency
    _IAlgorithm = object


def space_point_columns(
    space_points: Any,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """(positions [N, 3] mm, geometry ids [N], measurement indices [N]) of an
    ``acts.SpacePointContainer``, from the first ``IndexSourceLink`` of each space point (the
    only one for the 2D measurements ``SpacePointMaker`` turns into space points here)."""
    n = len(space_points)
    positions = np.stack(
        [np.asarray(space_points.x), np.asarray(space_points.y), np.asarray(space_points.z)],
        axis=1,
    ).astype(np.float64)
    geometry_ids = np.empty(n, dtype=np.uint64)
    measurements = np.empty(n, dtype=np.int64)
    from_link = acts.examples.IndexSourceLink.fromSourceLink
    for k, sp in enumerate(space_points):
        link = from_link(next(iter(sp.sourceLinks)))
        geometry_ids[k] = link.geometryId().value
        measurements[k] = link.index()
    return positions, geometry_ids, measurements


class _EdgeMetricSums:
    """Per stage: truth edges found, truth edges, true edges kept, edges kept."""

    def __init__(self) -> None:
        self.sums: dict[str, list[float]] = {}

    def add(self, name: str, efficiency: float, purity: float, n_truth: int, n_edges: int) -> None:
        s = self.sums.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        if not math.isnan(efficiency):
            s[0] += efficiency * n_truth
            s[1] += n_truth
        if not math.isnan(purity):
            s[2] += purity * n_edges
            s[3] += n_edges

    def summary(self) -> dict[str, tuple[float, float]]:
        return {
            name: (s[0] / s[1] if s[1] else math.nan, s[2] / s[3] if s[3] else math.nan)
            for name, s in self.sums.items()
        }


class TrackFindingAlgorithmGnn(_IAlgorithm):  # type: ignore[misc]
    """GNN track finding in an ``acts.examples.Sequencer`` (see the module docstring).

    Knobs as upstream: ``inputSpacePoints``, ``inputClusters`` (accepted; the node features
    that would need it raise :class:`~acts_gnn.chain.upstream.NodeFeatureError`),
    ``outputProtoTracks``, ``graphConstructor``, ``edgeClassifiers``, ``trackBuilder``,
    ``nodeFeatures`` (upstream :class:`~acts_gnn.chain.upstream.NodeFeature` members or names
    of :data:`~acts_gnn.graph.features.NODE_FEATURE_FUNCTIONS`) and ``featureScales`` (their
    divisors), ``minMeasurementsPerTrack``, ``device`` ("cpu", "cuda" or
    :class:`~acts_gnn.chain.upstream.Device`), ``shrinkNodes``, ``geometryIdMap`` (geometry
    id -> module id of the graph constructor, for every space point's module; an id missing
    from a non-empty map is an error). ``inputTruthGraph`` and ``outputGraph`` need the
    whiteboard ``Graph`` type (``ActsExamples::Graph``), which pyacts 48 uses only inside its
    C++ ``CsvGnnGraphReader``/``CsvGnnGraphWriter`` and does not bind to Python, so no Python
    algorithm can read or write it: setting them raises, naming the alternative (``inputMeasurementParticlesMap`` +
    ``inputParticles`` give the same per-stage truth metrics, :attr:`counts` the edges after
    each stage). The stages' edge-feature conventions and edge orientations are settled by the
    pipeline (:class:`~acts_gnn.chain.pipeline.GnnPipeline`), as for any caller.

    Ours: ``firstPass``, a :class:`~acts_gnn.chain.pipeline.GnnPipeline` run first on every
    space point; the configured stages then run on the space points its candidates left, and
    the proto-tracks are both passes' (iterative tracking; the ``lowpt`` operating point).
    """

    def __init__(
        self,
        graphConstructor: Any,
        edgeClassifiers: Sequence[Any],
        trackBuilder: Any,
        nodeFeatures: Sequence[Any],
        featureScales: Sequence[float],
        inputSpacePoints: str = "spacepoints",
        outputProtoTracks: str = "gnn-protoTracks",
        inputClusters: str = "",
        minMeasurementsPerTrack: int = 3,
        device: Any = "cpu",
        shrinkNodes: bool = False,
        inputTruthGraph: str = "",
        outputGraph: str = "",
        geometryIdMap: dict[int, int] | None = None,
        inputMeasurementParticlesMap: str = "",
        inputParticles: str = "",
        truthSelection: TruthSelection | None = None,
        level: Any = None,
        name: str = "TrackFindingAlgorithmGnn",
        firstPass: GnnPipeline | None = None,
    ) -> None:
        super().__init__(name, acts.logging.INFO if level is None else level)
        for knob, value in (("inputTruthGraph", inputTruthGraph), ("outputGraph", outputGraph)):
            if value:
                raise ValueError(
                    f"{knob}={value!r}: the whiteboard Graph type (ActsExamples::Graph) has "
                    "no Python binding in pyacts 48 (only the C++ CsvGnnGraphReader/Writer "
                    "use it), so a Python algorithm can neither read nor write one; for "
                    "per-stage truth metrics set inputMeasurementParticlesMap and "
                    "inputParticles (the edges after each stage are in the algorithm's counts)"
                )
        if len(nodeFeatures) != len(featureScales):
            raise ValueError(
                f"nodeFeatures and featureScales must have the same length "
                f"(got {len(nodeFeatures)} and {len(featureScales)})"
            )
        self.pipeline = GnnPipeline(
            graphConstructor,
            edgeClassifiers,
            trackBuilder,
            node_feature_names(nodeFeatures),
            featureScales,
            minMeasurementsPerTrack=minMeasurementsPerTrack,
            device=as_torch_device(device),
            shrinkNodes=shrinkNodes,
            firstPass=firstPass,
        )
        self.inputTruthGraph = inputTruthGraph
        self.outputGraph = outputGraph
        self.geometryIdMap = dict(geometryIdMap or {})
        self.inputSpacePoints = inputSpacePoints
        self.outputProtoTracks = outputProtoTracks
        self.inputClusters = inputClusters
        self.truthSelection = truthSelection or TruthSelection(min_pt=1.0, min_hits=3)
        self._space_points = data_handle(
            self, "read", acts.SpacePointContainer, "InputSpacePoints", inputSpacePoints
        )
        self._proto_tracks = data_handle(
            self,
            "write",
            acts.examples.ProtoTrackContainer,
            "OutputProtoTracks",
            outputProtoTracks,
        )
        self._truth = bool(inputMeasurementParticlesMap and inputParticles)
        if bool(inputMeasurementParticlesMap) != bool(inputParticles):
            raise ValueError(
                "the truth hook needs both inputMeasurementParticlesMap and inputParticles"
            )
        if self._truth:
            self._measurement_particles = data_handle(
                self,
                "read",
                acts.examples.MeasurementParticlesMap,
                "InputMeasurementParticlesMap",
                inputMeasurementParticlesMap,
            )
            self._particles = data_handle(
                self, "read", acts.examples.SimParticleContainer, "InputParticles", inputParticles
            )
        self.edge_metrics = _EdgeMetricSums()
        self.read_seconds: list[float] = []
        self.truth_seconds: list[float] = []
        self.counts: list[dict[str, int]] = []
        self.events = 0

    def mean_counts(self) -> dict[str, float]:
        """Nodes, edges after each stage and candidates, averaged over the events so far."""
        keys = {k for c in self.counts for k in c}
        return {k: float(np.mean([c.get(k, 0) for c in self.counts])) for k in sorted(keys)}

    @property
    def times(self) -> Any:
        """:class:`~acts_gnn.chain.pipeline.StageTimes` of the events so far (the truth hook's
        bookkeeping, :attr:`truth_seconds`, is not in them)."""
        return self.pipeline.times

    def _truth_graph(
        self,
        context: Any,
        positions: npt.NDArray[np.float64],
        geometry_ids: npt.NDArray[np.uint64],
        measurements: npt.NDArray[np.int64],
    ) -> StageTruth:
        """Truth edges of the event in space-point rows, from the whiteboard's truth."""
        store = context.eventStore
        event = event_from_whiteboard(
            context.eventNumber,
            positions,
            geometry_ids,
            measurements,
            self._particles(store),
            self._measurement_particles(store),
        )
        return StageTruth(truth_graph(event, self.truthSelection), truth_graph(event), event.n_hits)

    def _module_ids(
        self, geometry_ids: npt.NDArray[np.uint64], event: int
    ) -> npt.NDArray[np.uint64]:
        """The graph constructor's module ids of the space points (``geometryIdMap``)."""
        if not self.geometryIdMap:
            return geometry_ids
        keys = np.fromiter(self.geometryIdMap.keys(), np.uint64, len(self.geometryIdMap))
        values = np.fromiter(self.geometryIdMap.values(), np.uint64, len(self.geometryIdMap))
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        pos = np.minimum(np.searchsorted(keys, geometry_ids), max(len(keys) - 1, 0))
        missing = keys[pos] != geometry_ids
        if np.any(missing):
            from acts_gnn.errors import InputDataError

            raise InputDataError(
                f"geometry id {int(geometry_ids[missing][0])} is not in geometryIdMap "
                f"({int(np.count_nonzero(missing))} space points)",
                event=event,
                field="geometryIdMap",
            )
        return values[pos]

    def execute(self, context: Any) -> Any:
        t0 = time.perf_counter()
        space_points = self._space_points(context.eventStore)
        positions, geometry_ids, measurements = space_point_columns(space_points)
        module_ids = self._module_ids(geometry_ids, context.eventNumber)
        self.read_seconds.append(time.perf_counter() - t0)
        truth = None
        if self._truth:
            t1 = time.perf_counter()
            truth = self._truth_graph(context, positions, geometry_ids, measurements)
            self.truth_seconds.append(time.perf_counter() - t1)
        with reusable_heap():  # torch's tensors reused, all freed memory returned after
            result = self.pipeline(positions, module_ids, measurements, truth)
        protos = acts.examples.ProtoTrackContainer()
        for candidate in result.candidates:
            protos.append(acts.examples.ProtoTrack(candidate.tolist()))
        n_protos = len(protos)
        self._proto_tracks(context, protos)
        self.counts.append(result.counts)
        self.events += 1
        self.logger.debug(
            f"event {context.eventNumber}: {len(positions)} space points, "
            f"{result.counts.get('graph construction edges', 0)} edges, {n_protos} proto-tracks"
        )
        if truth is not None:
            for name, (eff, pur) in result.edge_metrics.items():
                n_edges = result.counts.get(f"{name} edges", 0)
                n_truth = result.truth_edges[name]  # a second pass: its own space points' truth
                self.edge_metrics.add(name, eff, pur, n_truth, n_edges)
                self.logger.info(
                    f"event {context.eventNumber}: after {name}: edge efficiency {eff:.4f}, "
                    f"purity {pur:.4f}, {n_edges} edges"
                )
        return acts.examples.ProcessCode.SUCCESS

    def summary(self) -> str:
        """Timing table (and per-stage edge metrics when truth was used) as text."""
        lines = [f"{self.name()}: {self.events} events", self.times.table()]
        if self.read_seconds:
            r = np.asarray(self.read_seconds)
            lines.append(f"space-point reading: mean {1e3 * r.mean():.2f} ms")
        if self.counts:
            lines.append(
                "mean per event: "
                + ", ".join(f"{k} {v:.0f}" for k, v in self.mean_counts().items())
            )
        if self.pipeline.unknown_module_hits:
            lines.append(
                f"space points on modules missing from the module map: "
                f"{self.pipeline.unknown_module_hits} (they get no edges)"
            )
        for name, (eff, pur) in self.edge_metrics.summary().items():
            lines.append(f"after {name}: edge efficiency {eff:.4f}, purity {pur:.4f}")
        return "\n".join(lines)

    def finalize(self) -> Any:
        for line in self.summary().splitlines():
            self.logger.info(line)
        return acts.examples.ProcessCode.SUCCESS

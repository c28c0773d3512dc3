"""The GNN chain at several edge-score cuts in one Sequencer: one graph, several track sets.

Graph construction and edge classification run once per event; track building runs once per
cut on the same scored graph, and each cut's candidates get their own start parameters and
Kalman fit (:func:`~acts_gnn.sequencer.fitting.addCandidateFit`).
:func:`~acts_gnn.sequencer.reconstruction.addGnn` does this with ``extraEdgeCuts``:

* :class:`MultiCutTrackBuilding` wraps the configured track builder: called by the pipeline
  as the builder is, it builds the candidates at every cut, returns the first cut's (the
  chain's ``gnn-protoTracks``) and keeps the others for the event, with the seconds each
  builder took;
* :class:`CutProtoTracks`, right after ``TrackFindingAlgorithmGnn``, writes those to the
  whiteboard: ``{label}_prototracks`` per extra cut (:func:`cut_label`: ``gnn_cut0p8`` for
  0.8);
* :class:`CutMarker` (an empty algorithm named ``GnnCut_{label}``) stands before each extra
  cut's fit, so the Sequencer's ``timing.csv`` tells which fit belongs to which cut
  (:func:`~acts_gnn.sequencer.compare.stage_times`).

The Sequencer must run one event at a time (``numThreads=1``, as ``compare`` does): the
candidates are handed from the builder to :class:`CutProtoTracks` through the wrapper.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

import acts
import acts.examples
import numpy as np
import numpy.typing as npt

from acts_gnn.chain.cleaning import CleanedTrackBuilding
from acts_gnn.detector.generic import Detector
from acts_gnn.io.acts_edm import data_handle
from acts_gnn.sequencer.fitting import addCandidateFit
from acts_gnn.sequencer.parameters import CandidateAccounting

#: Prefix of the :class:`CutMarker` algorithms' names (``timing.csv``: ``Algorithm:`` + name).
MARKER_PREFIX = "GnnCut_"


def cut_label(cut: float) -> str:
    """Summary key and whiteboard prefix of an extra cut: ``gnn_cut0p8`` for 0.8."""
    return "gnn_cut" + f"{cut:g}".replace(".", "p").replace("-", "m")


def builder_cut(builder: Any) -> float:
    """The edge-score cut of a track builder (``cut``; ``cut_high`` for the walkthrough; a
    cleaned builder's builder's)."""
    if isinstance(builder, CleanedTrackBuilding):
        return builder_cut(builder.builder)
    for name in ("cut_high", "cut"):
        value = getattr(builder, name, None)
        if value is not None:
            return float(value)
    raise ValueError(f"{type(builder).__name__} has no edge-score cut (cut or cut_high)")


def builder_at_cut(builder: Any, cut: float) -> Any:
    """A copy of ``builder`` with its edge-score cut set to ``cut`` (everything else kept).
    The walkthrough's low band must stay below the new cut (``cut_low <= cut``). A cleaned
    builder (:class:`~acts_gnn.chain.cleaning.CleanedTrackBuilding`) gets its own cleaner."""
    if isinstance(builder, CleanedTrackBuilding):
        return CleanedTrackBuilding(
            builder_at_cut(builder.builder, cut), copy.copy(builder.cleaner)
        )
    out = copy.copy(builder)
    if hasattr(out, "cut_high"):
        if cut < out.cut_low:
            raise ValueError(
                f"edge cut {cut} is below the walkthrough's low cut {out.cut_low}: "
                "need cut_low <= cut"
            )
        out.cut_high = float(cut)
    elif hasattr(out, "cut"):
        out.cut = float(cut)
    else:
        raise ValueError(f"{type(builder).__name__} has no edge-score cut (cut or cut_high)")
    return out


class MultiCutTrackBuilding:
    """A track builder that builds at several cuts (module docstring).

    ``builder``: the chain's builder (its cut is the first); ``cuts``: the extra cuts, in
    order. After each call: :attr:`extra` (one candidate list per extra cut) and
    :attr:`seconds` (wall time of each builder, the first's first, this event).
    ``minMeasurementsPerTrack`` sets every builder's."""

    def __init__(self, builder: Any, cuts: Sequence[float]) -> None:
        if not cuts:
            raise ValueError("MultiCutTrackBuilding needs at least one extra cut")
        every = [builder_cut(builder), *(float(c) for c in cuts)]
        if len(set(every)) != len(every):
            raise ValueError(f"edge cuts must be distinct, got {every}")
        self.builders = [builder, *(builder_at_cut(builder, c) for c in cuts)]
        self.cuts = every
        self.extra: list[list[npt.NDArray[np.int64]]] = []
        self.seconds: list[float] = []
        self.calls = 0

    @property
    def minMeasurementsPerTrack(self) -> int:
        return int(self.builders[0].minMeasurementsPerTrack)

    @minMeasurementsPerTrack.setter
    def minMeasurementsPerTrack(self, value: int) -> None:
        for b in self.builders:
            b.minMeasurementsPerTrack = int(value)

    def __call__(self, *args: Any, **kwargs: Any) -> list[npt.NDArray[np.int64]]:
        """The builder's call (same arguments); returns the first cut's candidates."""
        results, seconds = [], []
        for b in self.builders:
            t = time.perf_counter()
            results.append(list(b(*args, **kwargs)))
            seconds.append(time.perf_counter() - t)
        self.extra, self.seconds = results[1:], seconds
        self.calls += 1
        return results[0]


class CutProtoTracks(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Writes the extra cuts' candidates of :class:`MultiCutTrackBuilding` (this event's) as
    ``outputProtoTracks[k]`` (``ProtoTrackContainer``, measurement indices in trajectory
    order); ``inputProtoTracks``: the GNN algorithm's output (read so that this runs after
    it). :attr:`seconds`: per event, each builder's time (:attr:`MultiCutTrackBuilding.
    seconds`). ``pipeline``: the GNN algorithm's :class:`~acts_gnn.chain.pipeline.GnnPipeline`;
    with a first pass, its candidates (the same at every cut: the cuts are the last pass's)
    lead every extra cut's proto-tracks, as they lead the chain's own."""

    def __init__(
        self,
        builder: MultiCutTrackBuilding,
        inputProtoTracks: str,
        outputProtoTracks: Sequence[str],
        level: Any = None,
        pipeline: Any = None,
    ) -> None:
        super().__init__("CutProtoTracks", acts.logging.INFO if level is None else level)
        if len(outputProtoTracks) != len(builder.cuts) - 1:
            raise ValueError(
                f"{len(builder.cuts) - 1} extra cuts but {len(outputProtoTracks)} outputs"
            )
        self.builder = builder
        self.pipeline = pipeline
        self.seconds: list[list[float]] = []
        self._input = data_handle(
            self, "read", acts.examples.ProtoTrackContainer, "InputProtoTracks", inputProtoTracks
        )
        self._outputs = [
            data_handle(self, "write", acts.examples.ProtoTrackContainer, f"Output{k}", name)
            for k, name in enumerate(outputProtoTracks)
        ]
        self._events = 0

    def execute(self, context: Any) -> Any:
        self._input(context.eventStore)
        self._events += 1
        if self.builder.calls != self._events:
            raise RuntimeError(
                f"event {context.eventNumber}: the track builder ran {self.builder.calls} "
                f"times for {self._events} events; several cuts need numThreads=1"
            )
        leading = [] if self.pipeline is None else self.pipeline.first_pass_candidates
        for handle, candidates in zip(self._outputs, self.builder.extra, strict=True):
            protos = acts.examples.ProtoTrackContainer()
            for c in [*leading, *candidates]:
                protos.append(acts.examples.ProtoTrack(np.asarray(c).tolist()))
            handle(context, protos)
        self.seconds.append(list(self.builder.seconds))
        return acts.examples.ProcessCode.SUCCESS

    def mean_seconds(self) -> list[float]:
        """Mean track-building seconds per event of each cut (the first's first)."""
        if not self.seconds:
            return [0.0] * len(self.builder.cuts)
        return [float(v) for v in np.mean(np.asarray(self.seconds), axis=0)]


class CutMarker(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Does nothing; its name (``GnnCut_{label}``) marks in ``timing.csv`` where the
    algorithms of an extra cut's fit begin."""

    def __init__(self, label: str, level: Any = None) -> None:
        super().__init__(MARKER_PREFIX + label, acts.logging.INFO if level is None else level)

    def execute(self, context: Any) -> Any:
        return acts.examples.ProcessCode.SUCCESS


def addCutFits(
    s: acts.examples.Sequencer,
    detector: Detector,
    labels: Sequence[str],
    inputSpacePoints: str,
    minTransverseDistance: float,
    level: Any,
    merge: bool = True,
) -> dict[str, CandidateAccounting]:
    """Per extra cut ``label``: a :class:`CutMarker`, then start parameters and the Kalman fit
    of ``{label}_prototracks`` -> ``{label}_tracks`` (``merge=False``: the two fits apart,
    :func:`~acts_gnn.sequencer.fitting.fitted_track_collections`); returns each cut's
    accounting."""
    out = {}
    for label in labels:
        s.addAlgorithm(CutMarker(label, level))
        out[label] = addCandidateFit(
            s,
            detector,
            f"{label}_prototracks",
            inputSpacePoints,
            minTransverseDistance,
            True,
            label,
            level,
            merge=merge,
        )
    return out


__all__ = [
    "MARKER_PREFIX",
    "CutMarker",
    "CutProtoTracks",
    "MultiCutTrackBuilding",
    "addCutFits",
    "builder_at_cut",
    "builder_cut",
    "cut_label",
]

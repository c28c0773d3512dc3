"""Start parameters for every GNN candidate: accounting, a fallback estimate, one track set.

``ProtoTracksToParameters`` skips a candidate when it cannot pick three space points on
three layers at least ``minTransverseDistance`` apart transversally (steep forward
candidates cross successive disks at nearly the same (x, y)). :class:`CandidateAccounting`
counts the candidates in and out, with why each skipped one was skipped (:func:`skip_reason`,
checked against ACTS), and can hand the skipped ones to a second ``ProtoTracksToParameters``
without the distance cut (the fallback estimate of
:func:`~acts_gnn.sequencer.reconstruction.addGnn`); :class:`TrackMerge` joins the two fits
into one track collection, so every candidate with three layers reaches the fit and the
rest are counted, with why.

Start covariance: ``ProtoTracksToParameters`` (ACTS 48) gives every candidate a fixed
covariance far tighter than its three-space-point estimate (sigma loc0 0.025 mm, loc1 0.1 mm,
phi and theta 0.35 mrad); the Kalman fit then trusts the rough start values over the
measurements, which left the fitted tracks' pulls at 4-6 in d0, z0, phi and theta.
:func:`add_start_parameters` re-estimates the parameters from the same seeds with
``TrackParamsEstimationAlgorithm`` and the CKF chain's start covariance
(:data:`START_SIGMAS`), so both chains' fits start from the same prior.
"""

from __future__ import annotations

from typing import Any

import acts
import acts.examples
import numpy as np
import numpy.typing as npt

from acts_gnn.detector.generic import Detector
from acts_gnn.io.acts_edm import data_handle
from acts_gnn.sequencer.algorithm import space_point_columns

#: Why ProtoTracksToParameters gave a candidate no start parameters (our diagnosis, from the
#: candidate's space points; in this order).
SKIP_REASONS = (
    "fewer than 3 space points",
    "fewer than 3 layers",
    "no 3 layers with space points >= minTransverseDistance apart",
    "parameter estimation failed",
)


u = acts.UnitConstants

#: Start-parameter sigmas of the GNN candidates: loc0, loc1 [mm], phi, theta [rad], q/p
#: [e/GeV] (0: from :data:`START_SIGMA_QOP_PT` and :data:`START_SIGMA_PT_REL` instead),
#: time [ns]; as the CKF chain's (ACTS's ``ckf_tracks.py`` ``addSeeding`` values).
START_SIGMAS = (1 * u.mm, 1 * u.mm, 1 * u.degree, 1 * u.degree, 0.0, 1 * u.ns)
#: sigma(q/pT) [e/GeV] of the start parameters
START_SIGMA_QOP_PT = 0.1 / u.GeV
#: relative sigma of pT of the start parameters
START_SIGMA_PT_REL = 0.1


def add_start_parameters(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputSeeds: str,
    inputProtoTracks: str,
    tag: str,
    level: Any,
) -> None:
    """``TrackParamsEstimationAlgorithm`` on ``ProtoTracksToParameters``' seeds and
    proto-tracks (same order) -> ``{tag}_parameters``, ``{tag}_seeds`` and
    ``{tag}_fit_prototracks`` (one each per seed whose estimate succeeds), with the start
    covariance of :data:`START_SIGMAS` (module docstring)."""
    s.addAlgorithm(
        acts.examples.TrackParamsEstimationAlgorithm(
            level=level,
            inputSeeds=inputSeeds,
            inputProtoTracks=inputProtoTracks,
            outputTrackParameters=f"{tag}_parameters",
            outputSeeds=f"{tag}_seeds",
            outputProtoTracks=f"{tag}_fit_prototracks",
            trackingGeometry=detector.tracking_geometry,
            magneticField=detector.field,
            initialSigmas=list(START_SIGMAS),
            initialSigmaQoverPt=START_SIGMA_QOP_PT,
            initialSigmaPtRel=START_SIGMA_PT_REL,
            initialVarInflation=[1.0] * 6,
        )
    )


def skip_reason(
    positions: npt.NDArray[np.float64],
    layers: npt.NDArray[np.int64],
    min_transverse_distance: float,
) -> str:
    """Why a candidate with these space points ([S, 3] mm, in track order; ``layers`` [S]:
    volume and layer of each) gets no start parameters from ``ProtoTracksToParameters``: one
    of :data:`SKIP_REASONS`. Three space points are picked walking the track, the first of
    each new layer whose transverse distance to every one already picked is >=
    ``min_transverse_distance`` [mm]; when three are found, only the estimate itself can have
    failed."""
    if len(positions) < 3:
        return SKIP_REASONS[0]
    if len(np.unique(layers)) < 3:
        return SKIP_REASONS[1]
    picked: list[int] = []
    seen: set[int] = set()
    for k, layer in enumerate(layers.tolist()):
        if layer in seen:
            continue
        xy = positions[k, :2]
        if any(np.hypot(*(xy - positions[j, :2])) < min_transverse_distance for j in picked):
            continue
        seen.add(layer)
        picked.append(k)
        if len(picked) == 3:
            return SKIP_REASONS[3]
    return SKIP_REASONS[2]


class CandidateAccounting(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Counts the track candidates that reach the fit and the ones ``ProtoTracksToParameters``
    skipped, with why (:func:`skip_reason`).

    ``inputProtoTracks``: the candidates given to ``ProtoTracksToParameters``;
    ``inputSeededProtoTracks``: its ``outputProtoTracks`` (one per candidate with start
    parameters, the same measurements, reordered); ``inputSpacePoints``: its space points.
    After the run: ``candidates``, ``with_parameters`` (per event) and ``reasons`` (reason ->
    count over all events); :meth:`summary`.
    """

    def __init__(
        self,
        inputProtoTracks: str,
        inputSeededProtoTracks: str,
        inputSpacePoints: str,
        minTransverseDistance: float,
        outputSkippedProtoTracks: str | None = None,
        level: Any = None,
    ) -> None:
        super().__init__("CandidateAccounting", acts.logging.INFO if level is None else level)
        self.min_transverse_distance = float(minTransverseDistance)
        #: the accounting of the fallback pass on the skipped candidates, if any
        self.fallback: CandidateAccounting | None = None
        self._skipped_out = (
            data_handle(
                self,
                "write",
                acts.examples.ProtoTrackContainer,
                "OutputSkippedProtoTracks",
                outputSkippedProtoTracks,
            )
            if outputSkippedProtoTracks
            else None
        )
        self.candidates: list[int] = []
        self.with_parameters: list[int] = []
        self.reasons: dict[str, int] = dict.fromkeys(SKIP_REASONS, 0)
        self._candidates = data_handle(
            self, "read", acts.examples.ProtoTrackContainer, "InputProtoTracks", inputProtoTracks
        )
        self._seeded = data_handle(
            self,
            "read",
            acts.examples.ProtoTrackContainer,
            "InputSeededProtoTracks",
            inputSeededProtoTracks,
        )
        self._space_points = data_handle(
            self, "read", acts.SpacePointContainer, "InputSpacePoints", inputSpacePoints
        )

    def execute(self, context: Any) -> Any:
        from collections import Counter

        from acts_gnn.io.schemas import decode_geometry_id

        store = context.eventStore
        candidates = [tuple(int(i) for i in proto) for proto in self._candidates(store)]
        seeded = Counter(tuple(sorted(int(i) for i in proto)) for proto in self._seeded(store))
        self.candidates.append(len(candidates))
        self.with_parameters.append(sum(seeded.values()))
        skipped = []
        for c in candidates:
            key = tuple(sorted(c))
            if seeded[key] > 0:
                seeded[key] -= 1
            else:
                skipped.append(c)
        if self._skipped_out is not None:
            out = acts.examples.ProtoTrackContainer()
            for c in skipped:
                out.append(acts.examples.ProtoTrack(list(c)))
            self._skipped_out(context, out)
        if not skipped:
            return acts.examples.ProcessCode.SUCCESS
        positions, geometry_ids, measurements = space_point_columns(self._space_points(store))
        row_of = np.full(int(measurements.max(initial=-1)) + 1, -1, np.int64)
        row_of[measurements] = np.arange(len(measurements))
        layer = decode_geometry_id(geometry_ids, "volume").astype(np.int64) * 100000
        layer += decode_geometry_id(geometry_ids, "layer").astype(np.int64)
        for c in skipped:
            ids = np.asarray(c, dtype=np.int64)
            rows = row_of[ids[ids < len(row_of)]]
            rows = rows[rows >= 0]
            reason = skip_reason(positions[rows], layer[rows], self.min_transverse_distance)
            self.reasons[reason] += 1
        return acts.examples.ProcessCode.SUCCESS

    def summary(self) -> dict[str, Any]:
        """Totals over the events: candidates, with start parameters (they go to the fit),
        skipped, skipped per event (mean, max), skipped by reason; with a ``fallback``, also
        how many of the skipped it gave parameters and the ones still lost, by reason."""
        skipped = [c - w for c, w in zip(self.candidates, self.with_parameters, strict=True)]
        out: dict[str, Any] = {
            "candidates": int(sum(self.candidates)),
            "with_parameters": int(sum(self.with_parameters)),
            "skipped": int(sum(skipped)),
            "skipped_per_event_mean": float(np.mean(skipped)) if skipped else 0.0,
            "skipped_per_event_max": int(max(skipped, default=0)),
            "skipped_by_reason": {k: v for k, v in self.reasons.items() if v},
            "min_transverse_distance_mm": self.min_transverse_distance,
        }
        if self.fallback is not None:
            again = self.fallback.summary()
            out["fallback_min_transverse_distance_mm"] = again["min_transverse_distance_mm"]
            out["recovered_by_fallback"] = again["with_parameters"]
            out["lost"] = again["skipped"]
            out["lost_by_reason"] = again["skipped_by_reason"]
        else:
            out["lost"] = out["skipped"]
            out["lost_by_reason"] = out["skipped_by_reason"]
        return out


class TrackMerge(acts.examples.IAlgorithm):  # type: ignore[misc]
    """One track collection from several (``inputTracks``, in order; tracks and their states
    copied) -> ``outputTracks``; ``name``: the algorithm's (and its ``timing.csv`` row's)."""

    def __init__(
        self,
        inputTracks: list[str],
        outputTracks: str,
        level: Any = None,
        name: str = "TrackMerge",
    ) -> None:
        super().__init__(name, acts.logging.INFO if level is None else level)
        self._inputs = [
            data_handle(self, "read", acts.examples.ConstTrackContainer, f"InputTracks{k}", name)
            for k, name in enumerate(inputTracks)
        ]
        self._output = data_handle(
            self, "write", acts.examples.ConstTrackContainer, "OutputTracks", outputTracks
        )

    def execute(self, context: Any) -> Any:
        merged = acts.examples.TrackContainer()
        for handle in self._inputs:
            tracks = handle(context.eventStore)
            merged.ensureDynamicColumns(tracks)
            for track in tracks:
                merged.makeTrack().copyFrom(track)
        self._output(context, merged.makeConst())
        return acts.examples.ProcessCode.SUCCESS


__all__ = [
    "SKIP_REASONS",
    "START_SIGMAS",
    "START_SIGMA_PT_REL",
    "START_SIGMA_QOP_PT",
    "CandidateAccounting",
    "TrackMerge",
    "add_start_parameters",
    "skip_reason",
]

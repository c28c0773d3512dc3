"""Start parameters and the Kalman fit of track candidates (GNN proto-tracks) in a Sequencer.

:func:`addCandidateFit` is what :func:`~acts_gnn.sequencer.reconstruction.addGnn` runs with
``fit=True``, once per track-building cut when it has several: ``ProtoTracksToParameters``
(seeds from each candidate's space points, ``minTransverseDistance`` apart), the start
parameters re-estimated from those seeds with the CKF chain's start covariance
(:func:`~acts_gnn.sequencer.parameters.add_start_parameters`: ``ProtoTracksToParameters``'
own covariance is far too tight and left the fitted pulls at 4-6), a fallback estimate without
the distance cut for the candidates skipped, the accounting of every candidate
(:class:`~acts_gnn.sequencer.parameters.CandidateAccounting`) and :func:`addKalmanFit` of
both sets, merged into one track collection.

Whiteboard names start with ``prefix`` (``gnn`` for the first cut):
``{prefix}_parameters``, ``{prefix}_seeds``, ``{prefix}_fit_prototracks`` (candidates with
start parameters), ``{prefix}_fallback_*`` and the fitted ``{prefix}_tracks``. ACTS units.
"""

from __future__ import annotations

from typing import Any

import acts
import acts.examples

from acts_gnn.detector.generic import Detector
from acts_gnn.sequencer.parameters import CandidateAccounting, TrackMerge, add_start_parameters


def _level(s: acts.examples.Sequencer, logLevel: Any) -> Any:
    return acts.examples.defaultLogging(s, logLevel)()


def addKalmanFit(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputProtoTracks: str,
    inputParameters: str,
    outputTracks: str,
    logLevel: Any = None,
) -> str:
    """ACTS's Kalman fitter (``TrackFittingAlgorithm``: multiple scattering and energy loss,
    smoothing, no reverse filtering) of ``inputProtoTracks`` from ``inputParameters`` (same
    order) -> ``outputTracks``, expressed at the perigee of the origin; returns its name."""
    level = _level(s, logLevel)
    fit = acts.examples.makeKalmanFitterFunction(
        detector.tracking_geometry,
        detector.field,
        multipleScattering=True,
        energyLoss=True,
        reverseFilteringMomThreshold=0.0,
        reverseFilteringCovarianceScaling=100.0,
        freeToBoundCorrection=acts.examples.FreeToBoundCorrection(False),
        level=level,
        chi2Cut=float(
            "inf"
        ),  # anything finite silently rejects every track (docs/design.md, "pyacts facts")
        useJosephFormulation=False,
    )
    s.addAlgorithm(
        acts.examples.TrackFittingAlgorithm(
            level=level,
            inputMeasurements="measurements",
            inputProtoTracks=inputProtoTracks,
            inputInitialTrackParameters=inputParameters,
            inputClusters="",
            outputTracks=outputTracks,
            pickTrack=-1,
            fit=fit,
            calibrator=acts.examples.makePassThroughCalibrator(),
            referenceSurface=acts.Surface.createPerigee(acts.Vector3(0, 0, 0)),
        )
    )
    return outputTracks


def addCandidateParameters(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputProtoTracks: str,
    inputSpacePoints: str,
    minTransverseDistance: float,
    prefix: str,
    logLevel: Any = None,
) -> None:
    """Start parameters of candidates: ``ProtoTracksToParameters`` (``minTransverseDistance``
    [mm]) for the seeds, then :func:`~acts_gnn.sequencer.parameters.add_start_parameters`
    on them -> ``{prefix}_parameters``, ``{prefix}_seeds``, ``{prefix}_fit_prototracks``."""
    level = _level(s, logLevel)
    s.addAlgorithm(
        acts.examples.ProtoTracksToParameters(
            level=level,
            inputProtoTracks=inputProtoTracks,
            inputSpacePoints=inputSpacePoints,
            outputSeeds=f"{prefix}_estimate_seeds",
            outputParameters=f"{prefix}_estimate_parameters",
            outputProtoTracks=f"{prefix}_estimate_prototracks",
            geometry=detector.tracking_geometry,
            magneticField=detector.field,
            minTransverseDistance=minTransverseDistance,
        )
    )
    # its fixed start covariance is far too tight: the same seeds with the CKF chain's
    add_start_parameters(
        s, detector, f"{prefix}_estimate_seeds", f"{prefix}_estimate_prototracks", prefix, level
    )


def fitted_track_collections(prefix: str, minTransverseDistance: float, merge: bool) -> list[str]:
    """The whiteboard collections :func:`addCandidateFit` leaves the fitted tracks of
    ``prefix`` in: ``[{prefix}_tracks]``, or with ``merge=False`` and a fallback
    (``minTransverseDistance > 0``) the two fits, the main one first."""
    if merge or minTransverseDistance <= 0:
        return [f"{prefix}_tracks"]
    return [f"{prefix}_fitted_tracks", f"{prefix}_fallback_fitted_tracks"]


def addCandidateFit(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputProtoTracks: str,
    inputSpacePoints: str,
    minTransverseDistance: float = 10.0,
    fit: bool = True,
    prefix: str = "gnn",
    logLevel: Any = None,
    merge: bool = True,
) -> CandidateAccounting:
    """Start parameters for every candidate of ``inputProtoTracks`` and, with ``fit``, their
    Kalman fit -> ``{prefix}_tracks`` (module docstring). The candidates
    ``ProtoTracksToParameters`` skips at ``minTransverseDistance`` [mm] (> 0) get a fallback
    estimate without the cut. ``merge=False`` leaves the two fits apart (no
    ``{prefix}_tracks``: :func:`fitted_track_collections` names them), for a caller that
    selects from each and joins only the selected tracks: the join copies every track
    state, ~60 MB per pile-up 200 event. Returns the accounting (every candidate reaches
    the fit or is counted as lost, with why); add it before ``s.run()``, read it after."""
    level = _level(s, logLevel)
    fallback = minTransverseDistance > 0
    distance = minTransverseDistance
    addCandidateParameters(s, detector, inputProtoTracks, inputSpacePoints, distance, prefix, level)
    accounting = CandidateAccounting(
        inputProtoTracks,
        f"{prefix}_fit_prototracks",
        inputSpacePoints,
        distance,
        outputSkippedProtoTracks=f"{prefix}_fallback_candidates" if fallback else None,
        level=level,
    )
    s.addAlgorithm(accounting)
    if fallback:
        again = f"{prefix}_fallback"
        addCandidateParameters(
            s, detector, f"{again}_candidates", inputSpacePoints, 0.0, again, level
        )
        accounting.fallback = CandidateAccounting(
            f"{again}_candidates", f"{again}_fit_prototracks", inputSpacePoints, 0.0, level=level
        )
        s.addAlgorithm(accounting.fallback)
    if not fit:
        return accounting
    if not fallback:
        addKalmanFit(
            s,
            detector,
            f"{prefix}_fit_prototracks",
            f"{prefix}_parameters",
            f"{prefix}_tracks",
            level,
        )
        return accounting
    parts = []
    for tag in (prefix, f"{prefix}_fallback"):
        parts.append(
            addKalmanFit(
                s,
                detector,
                f"{tag}_fit_prototracks",
                f"{tag}_parameters",
                f"{tag}_fitted_tracks",
                level,
            )
        )
    if merge:
        s.addAlgorithm(TrackMerge(parts, f"{prefix}_tracks", level))
    return accounting


__all__ = ["addCandidateFit", "addCandidateParameters", "addKalmanFit", "fitted_track_collections"]

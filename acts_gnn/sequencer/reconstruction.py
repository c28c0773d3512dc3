"""``addXxx(s, ...)`` helpers that put GNN tracking and its CKF reference into a Sequencer.

In the style of ``acts.examples.reconstruction`` (each helper extends an
``acts.examples.Sequencer`` and takes ``logLevel=None``):

* :func:`addRootSimulationInput`: ROOT simulation files (ACTS schemas, read with uproot) ->
  particles and simulated hits -> ACTS ``DigitizationAlgorithm`` with the detector's config;
* :func:`addGnn`: space points of every volume -> :class:`~acts_gnn.sequencer.algorithm.
  TrackFindingAlgorithmGnn` -> proto-tracks; then ``ProtoTracksToTracks`` (the candidates as
  they are, before any fit, ``gnn_prefit_tracks``) and ``ProtoTracksToParameters`` -> Kalman
  fit (``gnn_tracks``), optionally a CKF seeded from the GNN track parameters
  (``gnn_ckf_tracks``);
* :func:`addCkfReference`: ACTS seeding on pixel space points -> CKF -> greedy ambiguity
  resolution (``ckf_tracks``), configured for the generic detector (values below), and
  :func:`addTrackQualitySelection`, its track selection, for the GNN tracks;
* :func:`addParticleSelection` and :func:`addTrackPerformance`: the particles that count
  (pT, |eta|, measurements) and ACTS's own ``TrackTruthMatcher`` +
  ``PythonPatternRecognitionPerformanceWriter``, whose ``stats()`` give efficiency, fake and
  duplicate ratios.

Units: ACTS units (``acts.UnitConstants``: mm, GeV, T) throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import acts
import acts.examples

from acts_gnn.detector.generic import SOLENOID_FIELD_TESLA, Detector
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn

u = acts.UnitConstants


def _level(s: acts.examples.Sequencer, logLevel: Any) -> Any:
    return acts.examples.defaultLogging(s, logLevel)()


def addRootSimulationInput(
    s: acts.examples.Sequencer,
    inputDir: str | Path,
    detector: Detector,
    digitizationSeed: int = 7,
    logLevel: Any = None,
) -> acts.examples.Sequencer:
    """Read ``inputDir/particles.root`` and ``hits.root`` (written by ``acts-gnn simulate`` or
    ACTS's ROOT writers; read through uproot) and digitize them with the detector's config.

    Whiteboard: ``particles``, ``simhits``, ``measurements``, ``measurement_subset``,
    ``measurement_particles_map``, ``particle_measurements_map``, ...
    """
    from acts.examples.simulation import addDigitization

    from acts_gnn.io.root_reader import SimulationFiles, make_root_reader

    level = _level(s, logLevel)
    s.addReader(make_root_reader(SimulationFiles.from_dir(inputDir), level))
    addDigitization(
        s,
        detector.tracking_geometry,
        detector.field,
        digiConfigFile=detector.digi_config_file,
        rnd=acts.examples.RandomNumbers(seed=digitizationSeed),
        logLevel=level,
    )
    return s


def addSpacePoints(
    s: acts.examples.Sequencer,
    detector: Detector,
    selectionFile: str | Path,
    outputSpacePoints: str,
    logLevel: Any = None,
) -> str:
    """``SpacePointMaker`` on ``measurement_subset`` for the volumes in ``selectionFile``."""
    import acts.examples.json

    s.addAlgorithm(
        acts.examples.SpacePointMaker(
            level=_level(s, logLevel),
            inputMeasurements="measurement_subset",
            outputSpacePoints=outputSpacePoints,
            trackingGeometry=detector.tracking_geometry,
            geometrySelection=acts.examples.json.readJsonGeometryList(str(selectionFile)),
        )
    )
    return outputSpacePoints


def _kalman_fit(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputProtoTracks: str,
    inputParameters: str,
    outputTracks: str,
    level: Any,
) -> None:
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


def addGnn(
    s: acts.examples.Sequencer,
    graphConstructor: Any,
    edgeClassifiers: Sequence[Any],
    trackBuilder: Any,
    nodeFeatures: Sequence[str],
    featureScales: Sequence[float],
    detector: Detector,
    inputSpacePoints: str | None = None,
    outputProtoTracks: str = "gnn_prototracks",
    minMeasurementsPerTrack: int = 3,
    device: str = "cpu",
    shrinkNodes: bool = True,
    fit: bool = True,
    ckfFromGnn: bool = False,
    truthMetrics: bool = False,
    parameterSpacePointDistance: float = 10 * u.mm,
    logLevel: Any = None,
) -> TrackFindingAlgorithmGnn:
    """GNN track finding and the standard ACTS fitting chain after it.

    ``inputSpacePoints``: an existing space-point collection with one space point per
    measurement; None makes ``gnn_spacepoints`` from every volume. Returns the GNN algorithm
    (its ``times`` and ``summary()`` hold the per-stage timing). Outputs:
    ``gnn_prefit_tracks`` (proto-tracks as tracks, no fit), ``gnn_tracks`` (Kalman fit of the
    proto-tracks, when ``fit``), ``gnn_ckf_tracks`` (CKF seeded from the GNN track
    parameters, when ``ckfFromGnn``). ``truthMetrics``: edge efficiency and purity after
    every stage (pT > 1 GeV truth), logged per event. ``parameterSpacePointDistance``:
    ``ProtoTracksToParameters.minTransverseDistance``, the smallest transverse distance
    between the three space points the start parameters come from (ACTS's 10 mm; 0 also
    fits the few steep forward candidates it skips, without changing the efficiency here).
    """
    level = _level(s, logLevel)
    if inputSpacePoints is None:
        inputSpacePoints = addSpacePoints(
            s, detector, detector.spacepoint_selection_file, "gnn_spacepoints", logLevel
        )
    truth = {"inputMeasurementParticlesMap": "", "inputParticles": ""}
    if truthMetrics:
        truth = {
            "inputMeasurementParticlesMap": "measurement_particles_map",
            "inputParticles": "particles",
        }
    algorithm = TrackFindingAlgorithmGnn(
        graphConstructor=graphConstructor,
        edgeClassifiers=edgeClassifiers,
        trackBuilder=trackBuilder,
        nodeFeatures=nodeFeatures,
        featureScales=featureScales,
        inputSpacePoints=inputSpacePoints,
        outputProtoTracks=outputProtoTracks,
        minMeasurementsPerTrack=minMeasurementsPerTrack,
        device=device,
        shrinkNodes=shrinkNodes,
        truthSelection=TruthSelection(min_pt=1.0, min_hits=3),
        level=level,
        **truth,
    )
    s.addAlgorithm(algorithm)
    s.addAlgorithm(
        acts.examples.ProtoTracksToTracks(
            level=level,
            inputProtoTracks=outputProtoTracks,
            inputMeasurements="measurement_subset",
            outputTracks="gnn_prefit_tracks",
        )
    )
    if fit or ckfFromGnn:
        s.addAlgorithm(
            acts.examples.ProtoTracksToParameters(
                level=level,
                inputProtoTracks=outputProtoTracks,
                inputSpacePoints=inputSpacePoints,
                outputSeeds="gnn_seeds",
                outputParameters="gnn_parameters",
                outputProtoTracks="gnn_fit_prototracks",
                geometry=detector.tracking_geometry,
                magneticField=detector.field,
                minTransverseDistance=parameterSpacePointDistance,
            )
        )
    if fit:
        _kalman_fit(s, detector, "gnn_fit_prototracks", "gnn_parameters", "gnn_tracks", level)
    if ckfFromGnn:
        _add_ckf(s, detector, "gnn_parameters", "gnn_seeds", "gnn_ckf_tracks", level)
    return algorithm


@dataclass(frozen=True)
class CkfSettings:
    """The CKF reference chain's settings for the generic detector (ACTS units).

    Seeding as in ACTS's generic-detector examples (pixel space points, r < 200 mm,
    1 mm < delta r < 60 mm, |z| < 2 m, collision region |z| < 250 mm, pT > 500 MeV, |d0| < 3 mm,
    one seed per middle space point); CKF chi2 cuts 15 (measurement) / 25 (outlier), 10
    measurements per surface at most, seed deduplication, stay on seed; tracks with pT > 500
    MeV and >= 7 measurements; greedy ambiguity resolution with at most 3 shared hits.
    """

    min_pt: float = 0.5 * u.GeV
    max_seed_r: float = 200 * u.mm
    delta_r: tuple[float, float] = (1 * u.mm, 60 * u.mm)
    collision_region: tuple[float, float] = (-250 * u.mm, 250 * u.mm)
    z_range: tuple[float, float] = (-2000 * u.mm, 2000 * u.mm)
    impact_max: float = 3 * u.mm
    max_seeds_per_middle: int = 1
    sigma_scattering: float = 5.0
    rad_length_per_seed: float = 0.1
    chi2_measurement: float = 15.0
    chi2_outlier: float = 25.0
    measurements_per_surface: int = 10
    min_measurements: int = 7
    max_shared_hits: int = 3


def _add_ckf(
    s: acts.examples.Sequencer,
    detector: Detector,
    inputParameters: str,
    inputSeeds: str,
    outputTracks: str,
    level: Any,
    settings: CkfSettings | None = None,
) -> None:
    """A CKF (``TrackFindingAlgorithm``) from the given start parameters and seeds."""
    c = settings or CkfSettings()
    selector = acts.TrackSelector.Config(ptMin=c.min_pt, minMeasurements=c.min_measurements)
    s.addAlgorithm(
        acts.examples.TrackFindingAlgorithm(
            level=level,
            measurementSelectorCfg=acts.MeasurementSelector.Config(
                [
                    (
                        acts.GeometryIdentifier(),
                        (
                            [],
                            [c.chi2_measurement],
                            [c.chi2_outlier],
                            [c.measurements_per_surface],
                        ),
                    )
                ]
            ),
            inputMeasurements="measurement_subset",
            inputInitialTrackParameters=inputParameters,
            inputSeeds=inputSeeds,
            outputTracks=outputTracks,
            findTracks=acts.examples.TrackFindingAlgorithm.makeTrackFinderFunction(
                detector.tracking_geometry, detector.field, level
            ),
            trackingGeometry=detector.tracking_geometry,
            magneticField=detector.field,
            trackSelectorCfg=selector,
            seedDeduplication=True,
            stayOnSeed=True,
        )
    )


def addCkfReference(
    s: acts.examples.Sequencer,
    detector: Detector,
    settings: CkfSettings | None = None,
    outputTracks: str = "ckf_tracks",
    selectedParticles: str = "particles_selected",
    logLevel: Any = None,
) -> str:
    """ACTS's standard chain: seeding (grid triplet seeder on pixel space points) -> track
    parameter estimation -> CKF -> greedy ambiguity resolution; returns the output name.

    ``selectedParticles`` (from :func:`addParticleSelection`, added before) feeds the seeding's
    own truth bookkeeping."""
    from acts.examples.reconstruction import (
        SeedFinderConfigArg,
        SeedFinderOptionsArg,
        SeedingAlgorithm,
        addSeeding,
    )

    c = settings or CkfSettings()
    level = _level(s, logLevel)
    addSeeding(
        s,
        detector.tracking_geometry,
        detector.field,
        geoSelectionConfigFile=detector.seeding_selection_file,
        seedingAlgorithm=SeedingAlgorithm.GridTriplet,
        seedFinderConfigArg=SeedFinderConfigArg(
            r=(None, c.max_seed_r),
            deltaR=c.delta_r,
            collisionRegion=c.collision_region,
            z=c.z_range,
            maxSeedsPerSpM=c.max_seeds_per_middle,
            sigmaScattering=c.sigma_scattering,
            radLengthPerSeed=c.rad_length_per_seed,
            minPt=c.min_pt,
            impactMax=c.impact_max,
        ),
        seedFinderOptionsArg=SeedFinderOptionsArg(bFieldInZ=SOLENOID_FIELD_TESLA * u.T),
        initialSigmas=[1 * u.mm, 1 * u.mm, 1 * u.degree, 1 * u.degree, 0.1 / u.GeV, 1 * u.ns],
        initialSigmaPtRel=0.1,
        initialVarInflation=[1.0] * 6,
        selectedParticles=selectedParticles,
        logLevel=level,
    )
    _add_ckf(s, detector, "estimatedparameters", "estimatedseeds", "ckf_raw_tracks", level, c)
    s.addAlgorithm(
        acts.examples.GreedyAmbiguityResolutionAlgorithm(
            level=level,
            inputTracks="ckf_raw_tracks",
            outputTracks=outputTracks,
            maximumSharedHits=c.max_shared_hits,
            nMeasurementsMin=c.min_measurements,
            maximumIterations=100000,
        )
    )
    return outputTracks


def addTrackQualitySelection(
    s: acts.examples.Sequencer,
    inputTracks: str,
    outputTracks: str,
    settings: CkfSettings | None = None,
    logLevel: Any = None,
) -> str:
    """The CKF chain's track selection (pT > ``min_pt``, >= ``min_measurements``) on other
    tracks, e.g. the fitted GNN tracks, so both chains are scored on the same footing."""
    c = settings or CkfSettings()
    s.addAlgorithm(
        acts.examples.TrackSelectorAlgorithm(
            level=_level(s, logLevel),
            inputTracks=inputTracks,
            outputTracks=outputTracks,
            selectorConfig=acts.TrackSelector.Config(
                ptMin=c.min_pt, minMeasurements=c.min_measurements
            ),
        )
    )
    return outputTracks


@dataclass(frozen=True)
class ParticleSelectionSettings:
    """The particles efficiency is measured on (ACTS units): pT, |eta|, measurements."""

    min_pt: float = 1.0 * u.GeV
    max_abs_eta: float = 2.5
    min_measurements: int = 7
    primaries_only: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "min_pt_GeV": self.min_pt / u.GeV,
            "max_abs_eta": self.max_abs_eta,
            "min_measurements": self.min_measurements,
            "primaries_only": self.primaries_only,
        }


def addParticleSelection(
    s: acts.examples.Sequencer,
    selection: ParticleSelectionSettings | None = None,
    outputParticles: str = "particles_selected",
    logLevel: Any = None,
) -> str:
    """``ParticleSelector`` on ``particles`` (charged; pT, |eta|, measurements)."""
    sel = selection or ParticleSelectionSettings()
    s.addAlgorithm(
        acts.examples.ParticleSelector(
            level=_level(s, logLevel),
            inputParticles="particles",
            inputParticleMeasurementsMap="particle_measurements_map",
            outputParticles=outputParticles,
            ptMin=sel.min_pt,
            absEtaMax=sel.max_abs_eta,
            measurementsMin=sel.min_measurements,
            removeNeutral=True,
            removeSecondaries=sel.primaries_only,
        )
    )
    return outputParticles


def addTrackPerformance(
    s: acts.examples.Sequencer,
    tracks: str,
    label: str,
    selectedParticles: str = "particles_selected",
    logLevel: Any = None,
) -> Any:
    """ACTS's ``TrackTruthMatcher`` (double matching, 50 %) and
    ``PythonPatternRecognitionPerformanceWriter`` for ``tracks``; returns the writer, whose
    ``stats()`` and ``histograms()`` give the numbers after ``s.run()``.

    The matcher sees all particles (a track matched to an unselected particle is not fake);
    the writer's efficiency counts the selected particles."""
    level = _level(s, logLevel)
    s.addAlgorithm(
        acts.examples.TrackTruthMatcher(
            level=level,
            inputTracks=tracks,
            inputParticles="particles",
            inputMeasurementParticlesMap="measurement_particles_map",
            outputTrackParticleMatching=f"{label}_track_particle_matching",
            outputParticleTrackMatching=f"{label}_particle_track_matching",
            doubleMatching=True,
            matchingRatio=0.5,
        )
    )
    writer = acts.examples.PythonPatternRecognitionPerformanceWriter(
        level=level,
        inputTracks=tracks,
        inputParticles=selectedParticles,
        inputTrackParticleMatching=f"{label}_track_particle_matching",
        inputParticleTrackMatching=f"{label}_particle_track_matching",
        inputParticleMeasurementsMap="particle_measurements_map",
        label=label,
    )
    s.addWriter(writer)
    return writer

"""``addXxx(s, ...)`` helpers that put GNN tracking and its CKF reference into a Sequencer.

In the style of ``acts.examples.reconstruction`` (each helper extends an
``acts.examples.Sequencer`` and takes ``logLevel=None``):

* :func:`addRootSimulationInput`: ROOT simulation files (ACTS schemas, read with uproot) ->
  particles and simulated hits -> ACTS ``DigitizationAlgorithm`` with the detector's config;
* :func:`addGnn` (upstream's signature and outputs): the script's space points ->
  :class:`~acts_gnn.sequencer.algorithm.TrackFindingAlgorithmGnn` -> ``gnn-protoTracks``;
  then ``ProtoTracksToTracks`` (the candidates as they are, before any fit, ``gnn-tracks``)
  and the truth matcher; with ``fit=True`` ``ProtoTracksToParameters`` -> Kalman fit
  (``gnn_tracks``), optionally a CKF seeded from the GNN track parameters
  (``gnn_ckf_tracks``);
* :func:`addCkfReference`: ACTS seeding on pixel space points -> CKF -> greedy ambiguity
  resolution (``ckf_tracks``), configured by a :class:`~acts_gnn.sequencer.ckf.CkfSettings`
  or a named preset, and :func:`addTrackQualitySelection`, its track selection, for the GNN
  tracks;
* :func:`addParticleSelection` and :func:`addTrackPerformance`: the particles that count
  (pT, |eta|, measurements) and ACTS's own ``TrackTruthMatcher`` +
  ``PythonPatternRecognitionPerformanceWriter``, whose ``stats()`` give efficiency, fake and
  duplicate ratios.

Units: ACTS units (``acts.UnitConstants``: mm, GeV, T) throughout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import acts
import acts.examples

from acts_gnn.detector.generic import SOLENOID_FIELD_TESLA, Detector
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn
from acts_gnn.sequencer.ckf import CkfSettings, ckf_preset
from acts_gnn.sequencer.fitting import addCandidateFit, fitted_track_collections
from acts_gnn.sequencer.gnn_cuts import (
    CutProtoTracks,
    MultiCutTrackBuilding,
    addCutFits,
    cut_label,
)
from acts_gnn.sequencer.parameters import TrackMerge

u = acts.UnitConstants
log = logging.getLogger(__name__)


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


def addGnn(
    s: acts.examples.Sequencer,
    graphConstructor: Any,
    edgeClassifiers: Sequence[Any],
    trackBuilder: Any,
    nodeFeatures: Sequence[Any],
    featureScales: Sequence[float],
    inputSpacePoints: str = "spacepoints",
    inputClusters: str = "",
    outputDirRoot: Path | str | None = None,
    device: Any = None,
    shrinkNodes: bool = False,
    writeMatchingDetails: bool = False,
    logLevel: Any = None,
    *,
    detector: Detector | None = None,
    minMeasurementsPerTrack: int = 3,
    matchTracks: bool = True,
    inputParticles: str = "particles_selected",
    fit: bool = False,
    ckfFromGnn: bool = False,
    truthMetrics: bool = False,
    parameterSpacePointDistance: float = 10 * u.mm,
    extraEdgeCuts: Sequence[float] = (),
    mergeFits: bool = True,
    firstPass: Any = None,
) -> acts.examples.Sequencer:
    """GNN track finding, as upstream ACTS's ``addGnn``, and optionally our fitting chain.

    Upstream's arguments, defaults and outputs: the space points ``inputSpacePoints`` (the
    script's ``"spacepoints"``; one per measurement) -> :class:`~acts_gnn.sequencer.algorithm.
    TrackFindingAlgorithmGnn` -> ``gnn-protoTracks`` (alias ``protoTracks``) ->
    ``ProtoTracksToTracks`` -> ``gnn-tracks`` (alias ``tracks``; no fit) -> ``TrackTruthMatcher``
    (single matching, ``inputParticles``) -> ``gnn_track_particle_matching`` /
    ``gnn_particle_track_matching`` (aliases ``track_particle_matching`` /
    ``particle_track_matching``). ``device`` None is upstream's ``Device.Cuda()``. Returns the
    Sequencer, as upstream; the algorithm is ``s.gnnAlgorithm`` (its ``times``,
    ``summary()``). ``outputDirRoot``: upstream writes ROOT finder-performance files with
    writers the pyacts wheel lacks; here it adds ACTS's
    ``PythonPatternRecognitionPerformanceWriter`` on the same matching
    (``s.gnnPerformanceWriter``, whose ``stats()`` give efficiency, fake and duplicate ratios
    after ``s.run()``), writes no file and says so in the log; ``writeMatchingDetails``
    belongs to those ROOT writers and is accepted.

    Ours, keyword-only (their defaults keep upstream's behaviour): ``detector`` (needed by
    ``fit`` and ``ckfFromGnn``), ``minMeasurementsPerTrack``, ``matchTracks`` (False leaves
    out the matcher, for callers that match with their own settings), ``fit``: start
    parameters from ``ProtoTracksToParameters`` and a Kalman fit (``gnn_tracks``; aliases
    ``gnn_prototracks`` and ``gnn_prefit_tracks`` name the two upstream collections), and
    ``ckfFromGnn`` (a CKF seeded from those parameters, ``gnn_ckf_tracks``); the accounting
    of candidates that get parameters is ``s.gnnAlgorithm.parameter_accounting``.
    ``truthMetrics``: edge efficiency and purity after every stage (pT > 1 GeV truth).
    ``parameterSpacePointDistance``: ``ProtoTracksToParameters.minTransverseDistance``; the
    candidates it skips for that get a fallback estimate without the cut and are fitted too
    (:func:`~acts_gnn.sequencer.fitting.addCandidateFit`; start covariance: the CKF
    chain's), so only candidates on fewer than three layers are lost, counted in the
    accounting. ``extraEdgeCuts``: the same graph and edge scores built into tracks at each
    further cut too (:mod:`acts_gnn.sequencer.gnn_cuts`; needs ``numThreads=1``):
    ``{label}_prototracks`` and, with ``fit``, ``{label}_tracks`` per cut
    (``label = cut_label(cut)``, e.g. ``gnn_cut0p8``); ``s.gnnAlgorithm.edge_cuts`` maps
    ``gnn`` and each label to its cut, ``.cut_candidates`` times the builders,
    ``.cut_parameter_accounting`` holds each cut's accounting. ``mergeFits=False`` (with
    ``fit``): each track set's main and fallback fits stay apart, without
    ``{label}_tracks`` (saves a copy of every track state); ``s.gnnAlgorithm.fitted_tracks``
    maps ``gnn`` and each label to the collections of its fitted tracks, in order, for
    :func:`addTrackQualitySelection`. ``firstPass``: a
    :class:`~acts_gnn.chain.pipeline.GnnPipeline` run first on every space point, the stages
    above then on the space points its candidates left (iterative tracking,
    ``TrackFindingAlgorithmGnn``'s ``firstPass``; the ``lowpt`` operating point's first pass
    is ``default``: :class:`~acts_gnn.chain.defaults.OperatingPoint`); the extra cuts are the
    last pass's.
    """
    level = _level(s, logLevel)
    if outputDirRoot is not None and not matchTracks:
        raise ValueError("outputDirRoot needs the truth matching (matchTracks=True)")
    if (fit or ckfFromGnn) and detector is None:
        raise ValueError("fit and ckfFromGnn need the detector (detector=...)")
    if device is None:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(
                "device=None means Device.Cuda(), as upstream, but CUDA is not available: "
                "pass device=Device.Cpu()"
            )
        device = "cuda"
    truth_map, truth_particles = (
        ("measurement_particles_map", "particles") if truthMetrics else ("", "")
    )
    outputProtoTracks = "gnn-protoTracks"
    extra = [float(c) for c in extraEdgeCuts]
    if extra:  # one graph and classification, track building at every cut
        trackBuilder = MultiCutTrackBuilding(trackBuilder, extra)
    algorithm = TrackFindingAlgorithmGnn(
        graphConstructor=graphConstructor,
        edgeClassifiers=edgeClassifiers,
        trackBuilder=trackBuilder,
        nodeFeatures=nodeFeatures,
        featureScales=featureScales,
        inputSpacePoints=inputSpacePoints,
        inputClusters=inputClusters,
        outputProtoTracks=outputProtoTracks,
        minMeasurementsPerTrack=minMeasurementsPerTrack,
        device=device,
        shrinkNodes=shrinkNodes,
        inputMeasurementParticlesMap=truth_map,
        inputParticles=truth_particles,
        truthSelection=TruthSelection(min_pt=1.0, min_hits=3),
        level=level,
        firstPass=firstPass,
    )
    algorithm.writeMatchingDetails = writeMatchingDetails
    s.addAlgorithm(algorithm)
    labels = [cut_label(c) for c in extra]
    if extra:
        algorithm.cut_candidates = CutProtoTracks(
            trackBuilder,
            outputProtoTracks,
            [f"{k}_prototracks" for k in labels],
            level,
            pipeline=algorithm.pipeline,
        )
        s.addAlgorithm(algorithm.cut_candidates)
    #: summary key / whiteboard prefix -> edge cut of each track set (the chain's first)
    algorithm.edge_cuts = dict(
        zip(["gnn", *labels], getattr(trackBuilder, "cuts", ()), strict=False)
    )
    s.addWhiteboardAlias("protoTracks", outputProtoTracks)
    s.addWhiteboardAlias("gnn_prototracks", outputProtoTracks)
    s.addAlgorithm(
        acts.examples.ProtoTracksToTracks(
            level=level,
            inputProtoTracks=outputProtoTracks,
            inputMeasurements="measurement_subset",
            outputTracks="gnn-tracks",
        )
    )
    s.addWhiteboardAlias("tracks", "gnn-tracks")
    s.addWhiteboardAlias("gnn_prefit_tracks", "gnn-tracks")
    if matchTracks:
        s.addAlgorithm(
            acts.examples.TrackTruthMatcher(
                level=level,
                inputTracks="gnn-tracks",
                inputParticles=inputParticles,
                inputMeasurementParticlesMap="measurement_particles_map",
                outputTrackParticleMatching="gnn_track_particle_matching",
                outputParticleTrackMatching="gnn_particle_track_matching",
                doubleMatching=False,
            )
        )
        s.addWhiteboardAlias("track_particle_matching", "gnn_track_particle_matching")
        s.addWhiteboardAlias("particle_track_matching", "gnn_particle_track_matching")
    if outputDirRoot is not None:
        # upstream: ROOT finder-performance files; the wheel has no ROOT writers, so the
        # same numbers come from ACTS's Python performance writer (reported, not silent)
        writer = acts.examples.PythonPatternRecognitionPerformanceWriter(
            level=level,
            inputTracks="gnn-tracks",
            inputParticles=inputParticles,
            inputTrackParticleMatching="gnn_track_particle_matching",
            inputParticleTrackMatching="gnn_particle_track_matching",
            inputParticleMeasurementsMap="particle_measurements_map",
            label="gnn",
        )
        s.addWriter(writer)
        s.gnnPerformanceWriter = writer
        log.warning(
            "addGnn: outputDirRoot=%s: ACTS's ROOT performance writers are not in the pyacts "
            "wheel, no ROOT file is written; the finding performance is "
            "s.gnnPerformanceWriter.stats() after s.run()",
            outputDirRoot,
        )
    s.gnnAlgorithm = algorithm
    if fit or ckfFromGnn:
        assert detector is not None
        algorithm.parameter_accounting = addCandidateFit(
            s,
            detector,
            outputProtoTracks,
            inputSpacePoints,
            parameterSpacePointDistance,
            fit,
            "gnn",
            level,
            merge=mergeFits,
        )
    if extra and fit:
        assert detector is not None
        algorithm.cut_parameter_accounting = addCutFits(
            s, detector, labels, inputSpacePoints, parameterSpacePointDistance, level, mergeFits
        )
    if fit:
        algorithm.fitted_tracks = {
            label: fitted_track_collections(label, parameterSpacePointDistance, mergeFits)
            for label in ["gnn", *labels]
        }
    if ckfFromGnn:
        assert detector is not None
        _add_ckf(s, detector, "gnn_parameters", "gnn_seeds", "gnn_ckf_tracks", level)
    return s


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
    selector = c.track_selector()
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


#: The CKF step from given start parameters and seeds, for chains seeded elsewhere
#: (:mod:`acts_gnn.sequencer.gnn_seeded`).
addCkfFromSeeds = _add_ckf


def addCkfReference(
    s: acts.examples.Sequencer,
    detector: Detector,
    settings: CkfSettings | str | None = None,
    outputTracks: str = "ckf_tracks",
    selectedParticles: str = "particles_selected",
    logLevel: Any = None,
    prefix: str = "",
) -> str:
    """ACTS's standard chain: seeding (grid triplet seeder on pixel space points) -> track
    parameter estimation -> CKF -> greedy ambiguity resolution; returns the output name.

    ``settings``: a :class:`CkfSettings` or the name of one of :data:`CKF_PRESETS` (None:
    ``fast``). ``selectedParticles`` (from :func:`addParticleSelection`, added before) feeds
    the seeding's own truth bookkeeping. ``prefix`` prefixes every intermediate collection
    (seeds, parameters, raw tracks), so several presets run side by side on the same events
    (give each its own ``outputTracks``)."""
    from acts.examples.reconstruction import (
        SeedFinderConfigArg,
        SeedFinderOptionsArg,
        SeedingAlgorithm,
        addSeeding,
    )

    c = ckf_preset(settings) if isinstance(settings, str) else settings or CkfSettings()
    level = _level(s, logLevel)
    if prefix:  # addSeeding reads f"{prefix}measurement_subset"
        s.addWhiteboardAlias(f"{prefix}measurement_subset", "measurement_subset")
    selection = (
        detector.seeding_selection_file
        if c.seeding_selection is None
        else detector.seeding_selection_file.parent / c.seeding_selection
    )
    if not selection.is_file():
        raise FileNotFoundError(f"CKF seeding geometry selection {selection} does not exist")
    with _without_seed_tracks(s, prefix):
        addSeeding(
            s,
            detector.tracking_geometry,
            detector.field,
            geoSelectionConfigFile=selection,
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
            **c.start_covariance(),
            selectedParticles=selectedParticles,
            logLevel=level,
            prefix=prefix,
        )
    raw = f"{prefix}ckf_raw_tracks"
    _add_ckf(s, detector, f"{prefix}estimatedparameters", f"{prefix}estimatedseeds", raw, level, c)
    return addAmbiguityResolution(s, raw, outputTracks, c, level)


@contextlib.contextmanager
def _without_seed_tracks(s: acts.examples.Sequencer, prefix: str) -> Iterator[None]:
    """While in the block, ``s.addAlgorithm`` leaves out what ACTS's ``addSeeding`` adds for
    its seeding-performance writers only: ``SeedsToTracks`` (``{prefix}seed-tracks``) and the
    ``TrackTruthMatcher`` of those tracks. Nothing here reads them (we add no seeding
    writer); they held ~30 MB per event and CKF preset at pile-up 200 (docs/results.md,
    "Peak memory of compare")."""
    seed_tracks = f"{prefix}seed-tracks"
    add = s.addAlgorithm

    def unused(algorithm: Any) -> bool:
        if isinstance(algorithm, acts.examples.SeedsToTracks):
            return bool(algorithm.config.outputTracks == seed_tracks)
        if isinstance(algorithm, acts.examples.TrackTruthMatcher):
            return bool(algorithm.config.inputTracks == seed_tracks)
        return False

    def filtered(algorithm: Any) -> None:
        if not unused(algorithm):
            add(algorithm)

    own = "addAlgorithm" in getattr(s, "__dict__", {})  # a caller's own wrapper, kept
    s.addAlgorithm = filtered
    try:
        yield
    finally:
        if own:
            s.addAlgorithm = add
        else:
            del s.addAlgorithm  # the class's method again


def addAmbiguityResolution(
    s: Any, inputTracks: str, outputTracks: str, settings: CkfSettings, level: Any
) -> str:
    """ACTS's greedy ambiguity resolution of CKF tracks with ``settings``' shared-hit limits
    (an alias of the input when ``settings.max_shared_hits`` is None); returns the output name."""
    if settings.max_shared_hits is None:
        s.addWhiteboardAlias(outputTracks, inputTracks)
        return outputTracks
    s.addAlgorithm(
        acts.examples.GreedyAmbiguityResolutionAlgorithm(
            level=level,
            inputTracks=inputTracks,
            outputTracks=outputTracks,
            maximumSharedHits=settings.max_shared_hits,
            nMeasurementsMin=settings.min_measurements,
            maximumIterations=settings.ambiguity_iterations,
        )
    )
    return outputTracks


@dataclass(frozen=True)
class ForwardTrackSelection:
    """More measurements for tracks at |eta| >= ``abs_eta`` (ACTS units): there a track
    needs >= ``min_measurements``.

    Why (docs/results.md, "Fake tracks of the GNN chain"): the particle selection, and so the
    efficiency, stops at |eta| < 2.5; beyond it particles cross the pixel and strip disks and
    leave more measurements (median 13-14 at pT > 1 GeV against 12 in the barrel), and the
    GNN chain's fakes there are short pure fragments of such trajectories, holding the
    minimum 7 measurements but less than half of their particle's (ACTS's 50 % rule calls
    them fake). One more measurement beyond the acceptance removes most of them and no track
    of a selected particle."""

    abs_eta: float = 2.5
    min_measurements: int = 8


def addTrackQualitySelection(
    s: acts.examples.Sequencer,
    inputTracks: str | Sequence[str],
    outputTracks: str,
    settings: CkfSettings | None = None,
    logLevel: Any = None,
    forward: ForwardTrackSelection | None = None,
) -> str:
    """The CKF chain's track selection (:meth:`CkfSettings.track_selector`: pT, measurements
    and, where the settings have them, |eta|, loc0, holes, outliers) on other tracks, e.g.
    the fitted GNN tracks, so both chains are scored on the same footing; with ``forward``
    (:class:`ForwardTrackSelection`), tracks at |eta| >= ``forward.abs_eta`` need its
    measurements too (ACTS's ``TrackSelectorAlgorithm`` on each side, joined; the tracks at
    lower |eta| first). ``inputTracks``: one collection, or several read as one, in order
    (e.g. a main and a fallback fit, ``addGnn(mergeFits=False)``): each is selected on its
    own (a selection shares its input's track states) and only the selected tracks are
    copied into ``outputTracks``, in the order a selection of the joined collections would
    give."""
    c = settings or CkfSettings()
    level = _level(s, logLevel)
    inputs = [inputTracks] if isinstance(inputTracks, str) else list(inputTracks)
    if not inputs:
        raise ValueError(f"{outputTracks}: no input track collection to select from")

    def select(name: str, config: Any) -> list[str]:
        """``config`` on every input -> the selected collections (``name`` for one input)."""
        names = [name] if len(inputs) == 1 else [f"{name}_{k}" for k in range(len(inputs))]
        for source, target in zip(inputs, names, strict=True):
            s.addAlgorithm(
                acts.examples.TrackSelectorAlgorithm(
                    level=level, inputTracks=source, outputTracks=target, selectorConfig=config
                )
            )
        return names

    if forward is None or (c.max_abs_eta is not None and c.max_abs_eta <= forward.abs_eta):
        # no forward rule, or nothing beyond the edge is kept
        parts = select(
            outputTracks if len(inputs) == 1 else f"{outputTracks}_part", c.track_selector()
        )
        if len(parts) == 1:
            return outputTracks
    else:
        edge = forward.abs_eta
        central = select(f"{outputTracks}_central", c.track_selector(absEtaMax=edge))
        beyond = select(
            f"{outputTracks}_forward",
            c.track_selector(
                absEtaMin=edge, minMeasurements=max(c.min_measurements, forward.min_measurements)
            ),
        )
        parts = [*central, *beyond]
    s.addAlgorithm(TrackMerge(parts, outputTracks, level, name="TrackSelectionMerge"))
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

"""GNN tracking and ACTS's seeding + CKF on the same events, compared by ACTS's own code.

:func:`run_comparison` builds one ``acts.examples.Sequencer``: ROOT simulation (uproot) ->
digitization -> (a) space points of every volume -> :class:`~acts_gnn.sequencer.algorithm.
TrackFindingAlgorithmGnn` -> track parameters -> Kalman fit -> track selection, and (b) pixel
space points -> seeding -> CKF -> ambiguity resolution; both are matched to the truth with
``TrackTruthMatcher`` and scored with ``PythonPatternRecognitionPerformanceWriter``, and our
independent :class:`~acts_gnn.metrics.tracks.TrackMetrics` (with the TrackML score) runs on
the same tracks. :func:`run_chains` runs it and records what the summary needs
(:mod:`~acts_gnn.sequencer.compare_summary`, which computes the summary: also from the merged
records of an event-parallel run, :mod:`acts_gnn.distributed.compare`);
:func:`~acts_gnn.sequencer.compare_report.write_report` writes ``summary.json``,
``summary.md`` and the plots.

Definitions (ACTS's writer, double matching at 50 %): efficiency = selected particles matched
by at least one track / selected particles; fake ratio = tracks matched to no particle / all
tracks; duplicate ratio = tracks that are a second or later match of a particle / all tracks.
Both chains keep tracks with >= ``CkfSettings.min_measurements`` measurements and
pT > ``CkfSettings.min_pt`` (the CKF chain's own track selection;
``CompareConfig.track_min_pt`` moves that threshold, the CKF seeding's too), so fakes are
counted on the same footing; the GNN tracks beyond the efficiency acceptance (|eta| >= 2.5)
need one measurement more (``CompareConfig.gnn_forward_selection``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import acts
import acts.examples
import numpy as np

from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval
from acts_gnn.chain.defaults import (
    BACKENDS,
    BUILDERS,
    GRAPHS,
    OPERATING_POINTS,
    check_model_kind,
    default_files,
    edge_classifier,
    model_metadata,
    pipeline_features,
)
from acts_gnn.io.atomic import require_writable_dir
from acts_gnn.sequencer.ckf import CkfSettings, ckf_preset
from acts_gnn.sequencer.compare_report import (  # the report of a run, re-exported
    chain_titles,
    headline_table,
    input_notes,
    summary_markdown,
    write_report,
)
from acts_gnn.sequencer.compare_summary import (  # NO_PT_CUT, non_empty_events re-exported
    NO_PT_CUT,
    ChainRun,
    comparison_summary,
    non_empty_events,
    record_run,
)
from acts_gnn.sequencer.compare_times import split_cut_times, stage_times  # re-exported
from acts_gnn.sequencer.memory import small_heap
from acts_gnn.sequencer.reconstruction import ForwardTrackSelection, ParticleSelectionSettings

log = logging.getLogger(__name__)


@dataclass
class CompareConfig:
    """Everything :func:`run_comparison` needs (units: GeV for pT, mm)."""

    input: Path
    output: Path
    events: int | None = None
    skip: int = 0
    graph: str = "module-map"
    backend: str = "torch"
    device: str = "cpu"
    #: arithmetic of the torch edge classifiers, the GNN and the metric-learning chain's filter
    #: (:data:`acts_gnn.nn.fused.PRECISIONS`)
    precision: str = "fp32"
    #: the shipped module map and GNN of the module-map chain when ``module_map`` / ``model``
    #: are None (:data:`acts_gnn.chain.defaults.OPERATING_POINTS`: ``default``, ``lowpt``)
    operating_point: str = "default"
    module_map: Path | None = None
    model: Path | None = None
    embedding: Path | None = None
    filter: Path | None = None
    builder: str = "walkthrough"
    #: clean the track candidates (:mod:`acts_gnn.chain.cleaning`) with :attr:`cleaner`'s
    #: settings; None: as the operating point does (``OperatingPoint.track_cleaning``)
    track_cleaning: bool | None = None
    cleaner: HelixOutlierRemoval = field(default_factory=HelixOutlierRemoval)
    edge_cut: float = 0.5
    low_cut: float = 0.1
    gnn_stage_cut: float = 0.05
    shrink_nodes: bool = True
    truth_metrics: bool = False
    #: CPU threads of the GNN chain: torch's intra-op threads (set for the run, restored
    #: after) and the C++ graph builder's; 1 is one core, as every time in docs/results.md
    threads: int = 1
    digitization_seed: int = 7
    selection: ParticleSelectionSettings = field(default_factory=ParticleSelectionSettings)
    #: CKF operating points (:data:`acts_gnn.sequencer.ckf.CKF_PRESETS`), all on the same
    #: events; summary keys ``ckf`` (the first) and ``ckf_<name>`` (the others)
    ckf_presets: tuple[str, ...] = ("fast",)
    #: further particle selections, each counted by ACTS and by us on the same tracks: the
    #: same |eta| and measurement cuts as ``selection`` with pT > each value [GeV]
    also_min_pt: tuple[float, ...] = (0.5,)
    #: the reconstruction's pT threshold [GeV]: every CKF preset's ``min_pt`` (its seeding's
    #: and its track selection's cut, 0.5 GeV as in ACTS's examples) and so the GNN tracks'
    #: selection too (None: the presets' own; docs/results.md, "Where the pT threshold sits")
    track_min_pt: float | None = None
    #: further edge-score cuts of the GNN chain's track builder, on the same graph and scores
    #: (``edge_cut`` is the first): summary keys ``gnn_cut<cut>`` (e.g. ``gnn_cut0p8``)
    gnn_cuts: tuple[float, ...] = ()
    #: the GNN tracks' extra selection beyond the efficiency acceptance (None: the CKF
    #: chain's track selection only; :class:`~acts_gnn.sequencer.reconstruction.
    #: ForwardTrackSelection`)
    gnn_forward_selection: ForwardTrackSelection | None = field(
        default_factory=ForwardTrackSelection
    )
    #: also ML vertexing and ACTS's AMVF on the first CKF chain's tracks (summary key
    #: ``vertexing``; :mod:`acts_gnn.sequencer.vertexing_compare`)
    vertexing: bool = False
    #: also the GNN-seeded CKF (summary key ``gnn_seeded``; :mod:`acts_gnn.sequencer.
    #: gnn_seeded`) with this triplet model (TorchScript), after the CKF chains
    triplet_model: Path | None = None

    @property
    def cleans_tracks(self) -> bool:
        """Whether the GNN chain cleans its candidates (``track_cleaning``, else the
        operating point's choice)."""
        if self.track_cleaning is not None:
            return bool(self.track_cleaning)
        return OPERATING_POINTS[self.operating_point].track_cleaning

    def selections(self) -> list[tuple[str, str, ParticleSelectionSettings]]:
        """(summary key, whiteboard tag, settings) of every particle selection: ``selection``
        first, then one per ``also_min_pt``; keys such as ``pt>1GeV``."""
        out = []
        for k, min_pt in enumerate((self.selection.min_pt, *self.also_min_pt)):
            sel = self.selection if k == 0 else replace(self.selection, min_pt=float(min_pt))
            tag = "" if k == 0 else "_pt" + f"{min_pt:g}".replace(".", "p")
            out.append((f"pt>{min_pt:g}GeV", tag, sel))
        return out

    @property
    def ckf(self) -> CkfSettings:
        """The first preset's settings: its track selection also applies to the GNN tracks."""
        return self.ckf_settings(self.ckf_presets[0])

    def track_selection(self) -> dict[str, float]:
        """Both chains' track cuts (the summary's ``track_selection``; the GNN tracks beyond
        |eta| 2.5 also need :attr:`gnn_forward_selection`): ``min_pt_GeV``,
        ``min_measurements``."""
        c = self.ckf
        return {
            "min_pt_GeV": c.min_pt / acts.UnitConstants.GeV,
            "min_measurements": c.min_measurements,
        }

    def ckf_settings(self, preset: str) -> CkfSettings:
        """The CKF preset ``preset``, with :attr:`track_min_pt` as its ``min_pt`` if set."""
        settings = ckf_preset(preset)
        if self.track_min_pt is None:
            return settings
        return replace(settings, min_pt=float(self.track_min_pt) * acts.UnitConstants.GeV)

    def gnn_chains(self) -> list[tuple[str, float]]:
        """(summary key, edge cut) of every GNN track set: ``gnn`` at ``edge_cut``, then one
        per ``gnn_cuts``."""
        from acts_gnn.sequencer.gnn_cuts import cut_label

        return [("gnn", self.edge_cut), *((cut_label(c), float(c)) for c in self.gnn_cuts)]

    def ckf_chains(self) -> list[tuple[str, str]]:
        """(summary key, preset name) of every CKF chain, in ``ckf_presets`` order."""
        return [("ckf" if k == 0 else f"ckf_{n}", n) for k, n in enumerate(self.ckf_presets)]

    def validate(self) -> None:
        for name, value, allowed in (
            ("graph", self.graph, GRAPHS),
            ("backend", self.backend, BACKENDS),
            ("builder", self.builder, BUILDERS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.operating_point not in OPERATING_POINTS:
            raise ValueError(
                f"operating_point must be one of {tuple(OPERATING_POINTS)}, got "
                f"{self.operating_point!r}"
            )
        if self.operating_point != "default" and self.graph != "module-map":
            raise ValueError(
                f"operating point {self.operating_point!r} is a module map and its GNN: it "
                f"needs graph='module-map', got {self.graph!r}"
            )
        for name, number, least in (
            ("events", self.events, 1),
            ("skip", self.skip, 0),
            ("threads", self.threads, 1),
        ):
            if number is not None and (not isinstance(number, int) or number < least):
                raise ValueError(
                    f"{name} must be an integer >= {least}"
                    + (" (or None: all events)" if name == "events" else "")
                    + f", got {number!r}"
                )
        if not self.ckf_presets or len(set(self.ckf_presets)) != len(self.ckf_presets):
            raise ValueError(f"ckf_presets must be distinct names, got {self.ckf_presets!r}")
        for name in self.ckf_presets:
            ckf_preset(name)  # ValueError naming the presets
        if self.track_min_pt is not None and not (
            isinstance(self.track_min_pt, (int, float)) and self.track_min_pt >= 0
        ):
            raise ValueError(
                f"track_min_pt must be a pT >= 0 GeV or None, got {self.track_min_pt!r}"
            )
        cuts = (self.selection.min_pt, *self.also_min_pt)
        if any(not (isinstance(v, (int, float)) and v >= 0) for v in cuts) or len(set(cuts)) != len(
            cuts
        ):
            raise ValueError(
                f"also_min_pt must be distinct pT cuts >= 0 GeV other than the selection's "
                f"{self.selection.min_pt}, got {self.also_min_pt!r}"
            )
        edge_cuts = [c for _, c in self.gnn_chains()]
        if len(set(edge_cuts)) != len(edge_cuts) or not all(0 <= c <= 1 for c in edge_cuts):
            raise ValueError(f"GNN edge cuts must be distinct scores in [0, 1], got {edge_cuts}")
        if self.builder == "walkthrough" and min(edge_cuts) < self.low_cut:
            raise ValueError(
                f"GNN edge cuts must be >= the walkthrough's low cut {self.low_cut}, got "
                f"{edge_cuts}"
            )
        if not Path(self.input).is_dir():
            raise FileNotFoundError(f"simulation folder {self.input} does not exist")
        require_writable_dir(self.output)


def gnn_stages(config: CompareConfig) -> dict[str, Any]:
    """The configured GNN stages: graphConstructor, edgeClassifiers, trackBuilder (behind
    a cleaner when :attr:`CompareConfig.cleans_tracks`), nodeFeatures, featureScales (from the
    model's metadata), and firstPass: for an operating point with a first pass
    (:attr:`~acts_gnn.chain.defaults.OperatingPoint.first_pass`), that point's shipped
    stages as a :class:`~acts_gnn.chain.pipeline.GnnPipeline` with this chain's builder,
    cuts, cleaning, device and threads (``module_map`` / ``model`` replace the last pass's
    files only); else None."""
    stages = _pass_stages(config)
    first = OPERATING_POINTS[config.operating_point].first_pass
    stages["firstPass"] = None
    if first is not None and config.graph == "module-map":
        from acts_gnn.chain.pipeline import GnnPipeline

        first_config = replace(
            config,
            operating_point=first,
            module_map=None,
            model=None,
            track_cleaning=config.cleans_tracks,
        )
        stages["firstPass"] = GnnPipeline(
            **_pass_stages(first_config),
            minMeasurementsPerTrack=config.ckf.min_measurements,
            device=config.device,
            shrinkNodes=config.shrink_nodes,
        )
    return stages


def _pass_stages(config: CompareConfig) -> dict[str, Any]:
    """:func:`gnn_stages` of one pass (no firstPass)."""
    from acts_gnn.chain import tracks

    files = default_files()
    point_map, point_model = files.operating_point(config.operating_point, config.backend)
    model = Path(config.model) if config.model else None
    if model is None:
        shipped = (
            point_model if config.graph == "module-map" else files.gnn(config.graph, config.backend)
        )
        model = files.require(shipped, f"{config.graph} GNN ({config.operating_point})")
    check_model_kind(model, model_metadata(model), ("InteractionNetwork",))  # before the map
    names, scales = pipeline_features(model)
    classifiers: list[Any] = []
    if config.graph == "module-map":
        from acts_gnn.graph.module_map.formats import load_module_map

        path = (
            Path(config.module_map)
            if config.module_map
            else files.require(point_map, f"module map ({config.operating_point})")
        )
        module_map = load_module_map(path)
        from acts_gnn.detector.generic import load_generic_detector

        surfaces = load_generic_detector().surfaces().geometry_ids
        unseen = module_map.check_detector(surfaces, path, "generic detector")
        if unseen:
            log.warning("%s: %d map modules are not surfaces of the detector", path, unseen)
        if config.device.startswith("cuda"):
            from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

            constructor: Any = TorchModuleMapGraphBuilder(module_map, config.device)
        else:
            from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder

            constructor = ModuleMapGraphBuilder(module_map, n_threads=config.threads)
    else:
        from acts_gnn.graph.metric_learning import MetricLearning

        embedding = config.embedding or files.require(files.embedding, "embedding model")
        constructor = MetricLearning(str(embedding), device=config.device)
        meta = constructor.metadata
        check_model_kind(embedding, meta, ("EmbeddingNet",))
        wanted = list(meta.get("node_features") or names)
        wanted_scales = [float(v) for v in (meta.get("feature_scales") or scales)]
        if wanted != names or not np.allclose(wanted_scales, scales):
            raise ValueError(
                f"{embedding}: trained on node features {wanted} / {wanted_scales}, the GNN on "
                f"{names} / {scales}; the pipeline feeds both the same features"
            )
        filter_path = config.filter or (files.filter if files.filter.is_file() else None)
        if filter_path is not None:
            classifiers.append(
                edge_classifier(
                    filter_path,
                    device=config.device,
                    node_features=tuple(names),
                    expected=("EdgeFilter",),
                    feature_scales=tuple(scales),
                    precision=config.precision,
                )
            )
    classifiers.append(
        edge_classifier(
            model,
            cut=config.gnn_stage_cut,
            device=config.device,
            node_features=tuple(names),
            expected=("InteractionNetwork",),
            precision=config.precision,
            feature_scales=tuple(scales),
        )
    )
    minimum = config.ckf.min_measurements
    builder: Any
    if config.builder == "walkthrough":
        builder = tracks.WalkthroughTrackBuilding(
            cut_high=config.edge_cut, cut_low=config.low_cut, minMeasurementsPerTrack=minimum
        )
    elif config.builder == "junction-removal":
        builder = tracks.JunctionRemovalTrackBuilding(
            cut=config.edge_cut, minMeasurementsPerTrack=minimum
        )
    else:
        builder = tracks.ConnectedComponentsTrackBuilding(
            cut=config.edge_cut, minMeasurementsPerTrack=minimum
        )
    if config.cleans_tracks:  # a fresh cleaner: its sums are this run's
        builder = CleanedTrackBuilding(builder, replace(config.cleaner))
    return {
        "graphConstructor": constructor,
        "edgeClassifiers": classifiers,
        "trackBuilder": builder,
        "nodeFeatures": names,
        "featureScales": scales,
    }


def run_comparison(config: CompareConfig, progress: bool = True) -> dict[str, Any]:
    """Run both chains (module docstring) and return the summary (also written by
    :func:`write_report`)."""
    run, vertexing = run_chains(config, progress)
    timing = Path(config.output) / "sequencer" / "timing.csv"
    summary = comparison_summary(config, run, timing)
    if vertexing is not None:
        summary["vertexing"] = vertexing.summary(timing)
    return summary


def run_chains(config: CompareConfig, progress: Any = True) -> tuple[ChainRun, Any]:
    """Run both chains' Sequencer over ``config``'s events: the run's record
    (:class:`~acts_gnn.sequencer.compare_summary.ChainRun`) and the vertexing hook (None
    without ``config.vertexing``). ``progress``: show a bar (bool), or an object whose
    ``update(1)`` is called after each event (a Dask task's ticker). Runs with
    :func:`~acts_gnn.sequencer.memory.small_heap`: freed event data goes back to the
    system (docs/results.md, "Peak memory of compare"). torch runs ``config.threads``
    intra-op threads meanwhile."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)  # torch's default, a thread per core, oversubscribes
    try:  # a busy machine (docs/results.md, "The low-pT operating point")
        with small_heap():
            return _run_chains(config, progress)
    finally:
        torch.set_num_threads(threads)


def _run_chains(config: CompareConfig, progress: Any) -> tuple[ChainRun, Any]:
    """:func:`run_chains` itself."""
    from acts_gnn.detector.generic import SOLENOID_FIELD_TESLA, load_generic_detector
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.metrics.tracks import ParticleSelection
    from acts_gnn.progress import progress_bar
    from acts_gnn.sequencer.performance import TrackMetricsAlgorithm
    from acts_gnn.sequencer.reconstruction import (
        addCkfReference,
        addGnn,
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackPerformance,
        addTrackQualitySelection,
    )

    config.validate()
    output = Path(config.output)
    remove_stale_report(output)  # a failed run must not leave the last run's numbers in place
    (output / "sequencer").mkdir(parents=True, exist_ok=True)
    files = SimulationFiles.from_dir(config.input)
    available = files.event_ids[config.skip :]
    n_events = len(available) if config.events is None else min(config.events, len(available))
    if n_events == 0:
        raise ValueError(f"{config.input}: no events to run on (skip={config.skip})")
    detector = load_generic_detector()
    stages = gnn_stages(config)
    level = acts.logging.WARNING
    s = acts.examples.Sequencer(
        events=n_events,
        skip=config.skip,  # the reader counts events present: skip is a count, not an id
        numThreads=1,
        logLevel=level,
        trackFpes=False,
        outputDir=str(output / "sequencer"),
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, config.input, detector, config.digitization_seed, level)
    selections = config.selections()
    for _, tag, selection in selections:
        addParticleSelection(s, selection, f"particles_selected{tag}", logLevel=level)
    spacepoints = addSpacePoints(
        s, detector, detector.spacepoint_selection_file, "gnn_spacepoints", level
    )
    gnn = addGnn(
        s,
        **stages,
        inputSpacePoints=spacepoints,
        device=config.device,
        shrinkNodes=config.shrink_nodes,
        logLevel=level,
        detector=detector,
        minMeasurementsPerTrack=config.ckf.min_measurements,
        matchTracks=False,  # matched below, with the settings of the CKF chain
        fit=True,
        truthMetrics=config.truth_metrics,
        extraEdgeCuts=config.gnn_cuts,
        mergeFits=False,  # selected from each fit, only the selected copied
    ).gnnAlgorithm
    gnn_labels = tuple(label for label, _ in config.gnn_chains())
    collections = {}
    for label in gnn_labels:  # every edge cut: the same selection of its fitted tracks
        collections[label] = addTrackQualitySelection(
            s,
            gnn.fitted_tracks[label],
            f"{label}_selected_tracks",
            config.ckf,
            level,
            forward=config.gnn_forward_selection,
        )
    collections["gnn_prefit"] = "gnn_prefit_tracks"
    for k, (label, preset) in enumerate(config.ckf_chains()):
        collections[label] = addCkfReference(
            s,
            detector,
            config.ckf_settings(preset),
            outputTracks=f"{label}_tracks",
            logLevel=level,
            prefix="" if k == 0 else f"{preset}_",
        )
    ckf_labels = tuple(label for label, _ in config.ckf_chains())
    seeded: tuple[str, ...] = ()
    if config.triplet_model is not None:  # the GNN-seeded CKF, with the first preset's CKF
        from acts_gnn.sequencer.gnn_seeded import addGnnSeededCkf

        seeded = ("gnn_seeded",)
        collections["gnn_seeded"] = addGnnSeededCkf(
            s,
            detector,
            config.triplet_model,
            spacepoints,
            config.ckf,  # the first preset, with the run's pT threshold
            moduleMap=config.module_map,
            gnnModel=config.model if config.graph == "module-map" else None,
            device=config.device,
            logLevel=level,
        )
    writers = {  # selection key -> chain -> ACTS's writer
        key: {
            label: addTrackPerformance(
                s, tracks, label + tag, selectedParticles=f"particles_selected{tag}", logLevel=level
            )
            for label, tracks in collections.items()
        }
        for key, tag, _ in selections
    }
    protos = {"gnn_prefit": "gnn_prototracks"}
    for label in (*gnn_labels, *ckf_labels, *seeded):
        s.addAlgorithm(
            acts.examples.TracksToTrajectories(
                level=level,
                inputTracks=collections[label],
                outputTrajectories=f"{label}_trajectories",
            )
        )
        s.addAlgorithm(
            acts.examples.TrajectoriesToProtoTracks(
                level=level,
                inputTrajectories=f"{label}_trajectories",
                outputProtoTracks=f"{label}_track_hits",
            )
        )
        protos[label] = f"{label}_track_hits"
    sel = config.selection
    ours = TrackMetricsAlgorithm(
        protos,
        "gnn_spacepoints",
        {
            key: ParticleSelection(
                min_pt=x.min_pt,
                min_hits=x.min_measurements,
                max_abs_eta=x.max_abs_eta,
                primaries_only=x.primaries_only,
            )
            for key, _, x in [*selections, (NO_PT_CUT, "", replace(sel, min_pt=0.0))]
        },
        level=level,
        inputTracks={label: collections[label] for label in (*gnn_labels, *ckf_labels, *seeded)},
        resolutionSelection=NO_PT_CUT,
        bzTesla=SOLENOID_FIELD_TESLA,
        reversedProtoTracks=(*gnn_labels, *ckf_labels, *seeded),  # TrajectoriesToProtoTracks
    )
    s.addAlgorithm(ours)
    own_bar = isinstance(progress, bool)
    bar = progress_bar(n_events, "compare", "event", enabled=progress) if own_bar else progress
    vertexing = None
    if config.vertexing:
        from acts_gnn.sequencer.vertexing_compare import add_vertexing_comparison

        tracks = collections["ckf"]
        vertexing = add_vertexing_comparison(s, detector, output / "vertexing", None, tracks)
    s.addAlgorithm(_ProgressAlgorithm(bar, level))
    start = time.perf_counter()
    try:
        s.run()
    finally:
        if own_bar:
            bar.close()
    wall = time.perf_counter() - start
    labels = (gnn_labels, ckf_labels, seeded)
    return record_run(n_events, wall, collections, labels, writers, ours, gnn), vertexing


class _ProgressAlgorithm(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Advances a progress bar once per event."""

    def __init__(self, bar: Any, level: Any) -> None:
        super().__init__("ActsGnnProgress", level)
        self.bar = bar

    def execute(self, context: Any) -> Any:
        self.bar.update(1)
        return acts.examples.ProcessCode.SUCCESS


#: The files of a report that a new run replaces (a failed run removes them at its start).
REPORT_FILES = ("summary.json", "summary.md")


def remove_stale_report(output: str | Path) -> None:
    """Remove the summary files of an earlier run in ``output`` (:data:`REPORT_FILES`), so a
    run that fails leaves no numbers that look like its own."""
    for name in REPORT_FILES:
        (Path(output) / name).unlink(missing_ok=True)


__all__ = [
    "REPORT_FILES",
    "CompareConfig",
    "chain_titles",
    "gnn_stages",
    "headline_table",
    "input_notes",
    "non_empty_events",
    "remove_stale_report",
    "run_chains",
    "run_comparison",
    "split_cut_times",
    "stage_times",
    "summary_markdown",
    "write_report",
]

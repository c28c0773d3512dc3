"""GNN tracking and ACTS's seeding + CKF on the same events, compared by ACTS's own code.

:func:`run_comparison` builds one ``acts.examples.Sequencer``: ROOT simulation (uproot) ->
digitization -> (a) space points of every volume -> :class:`~acts_gnn.sequencer.algorithm.
TrackFindingAlgorithmGnn` -> track parameters -> Kalman fit -> track selection, and (b) pixel
space points -> seeding -> CKF -> ambiguity resolution; both are matched to the truth with
``TrackTruthMatcher`` and scored with ``PythonPatternRecognitionPerformanceWriter``, and our
independent :class:`~acts_gnn.metrics.tracks.TrackMetrics` (with the TrackML score) runs on
the same tracks. :func:`write_report` writes ``summary.json``, ``summary.md`` and the plots.

Definitions (ACTS's writer, double matching at 50 %): efficiency = selected particles matched
by at least one track / selected particles; fake ratio = tracks matched to no particle / all
tracks; duplicate ratio = tracks that are a second or later match of a particle / all tracks.
Both chains keep tracks with >= ``CkfSettings.min_measurements`` measurements and
pT > ``CkfSettings.min_pt`` (the CKF chain's own track selection), so fakes are counted on
the same footing.
"""

from __future__ import annotations

import csv
import logging
import math
import platform
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import acts
import acts.examples
import numpy as np

from acts_gnn.chain.defaults import (
    BACKENDS,
    BUILDERS,
    GRAPHS,
    default_files,
    edge_classifier,
    pipeline_features,
)
from acts_gnn.evaluation.plots import plot_comparison
from acts_gnn.io.atomic import write_json, write_text
from acts_gnn.sequencer.reconstruction import CkfSettings, ParticleSelectionSettings

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
    module_map: Path | None = None
    model: Path | None = None
    embedding: Path | None = None
    filter: Path | None = None
    builder: str = "walkthrough"
    edge_cut: float = 0.5
    low_cut: float = 0.1
    gnn_stage_cut: float = 0.05
    shrink_nodes: bool = True
    truth_metrics: bool = False
    threads: int = 1
    digitization_seed: int = 7
    selection: ParticleSelectionSettings = field(default_factory=ParticleSelectionSettings)
    ckf: CkfSettings = field(default_factory=CkfSettings)

    def validate(self) -> None:
        for name, value, allowed in (
            ("graph", self.graph, GRAPHS),
            ("backend", self.backend, BACKENDS),
            ("builder", self.builder, BUILDERS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not Path(self.input).is_dir():
            raise FileNotFoundError(f"simulation folder {self.input} does not exist")


def gnn_stages(config: CompareConfig) -> dict[str, Any]:
    """The configured GNN stages: graphConstructor, edgeClassifiers, trackBuilder,
    nodeFeatures, featureScales (from the model's metadata)."""
    from acts_gnn.chain import tracks

    files = default_files()
    model = Path(config.model) if config.model else None
    if model is None:
        model = files.require(files.gnn(config.graph, config.backend), f"{config.graph} GNN")
    names, scales = pipeline_features(model)
    classifiers: list[Any] = []
    if config.graph == "module-map":
        from acts_gnn.graph.module_map.formats import load_module_map

        path = (
            Path(config.module_map)
            if config.module_map
            else files.require(files.module_map, "module map")
        )
        module_map = load_module_map(path)
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
                edge_classifier(filter_path, device=config.device, node_features=tuple(names))
            )
    classifiers.append(
        edge_classifier(
            model, cut=config.gnn_stage_cut, device=config.device, node_features=tuple(names)
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
    return {
        "graphConstructor": constructor,
        "edgeClassifiers": classifiers,
        "trackBuilder": builder,
        "nodeFeatures": names,
        "featureScales": scales,
    }


#: Sequencer algorithms -> (chain, stage); SpacePointMaker rows alternate gnn, ckf
_STAGES = {
    "Algorithm:TrackFindingAlgorithmGnn": ("gnn", "GNN track finding"),
    "Algorithm:ProtoTracksToParameters": ("gnn", "track parameters"),
    "Algorithm:TrackFittingAlgorithm": ("gnn", "Kalman fit"),
    "Algorithm:GridTripletSeedingAlgorithm": ("ckf", "seeding"),
    "Algorithm:TrackParamsEstimationAlgorithm": ("ckf", "track parameters"),
    "Algorithm:TrackFindingAlgorithm": ("ckf", "CKF"),
    "Algorithm:GreedyAmbiguityResolutionAlgorithm": ("ckf", "ambiguity resolution"),
}


def stage_times(timing_csv: Path) -> dict[str, dict[str, float]]:
    """chain -> stage -> seconds per event, from the Sequencer's ``timing.csv``."""
    out: dict[str, dict[str, float]] = {"gnn": {}, "ckf": {}}
    space_point_makers = 0
    with timing_csv.open() as f:
        for row in csv.DictReader(f):
            name, seconds = row["identifier"], float(row["time_perevent_s"])
            if name == "Algorithm:SpacePointMaker":
                chain = "gnn" if space_point_makers == 0 else "ckf"
                space_point_makers += 1
                out[chain]["space points"] = out[chain].get("space points", 0.0) + seconds
            elif name in _STAGES:
                chain, stage = _STAGES[name]
                out[chain][stage] = out[chain].get(stage, 0.0) + seconds
    return out


def _hist(efficiency: Any) -> dict[str, list[float]]:
    import boost_histogram as bh

    accepted, total = bh.Histogram(efficiency.accepted), bh.Histogram(efficiency.total)
    return {
        "edges": accepted.axes[0].edges.tolist(),
        "accepted": accepted.values().tolist(),
        "total": total.values().tolist(),
    }


def _writer_histograms(writer: Any) -> dict[str, dict[str, list[float]]]:
    wanted = {
        "efficiency_vs_pt": "eff_vs_LogPt",
        "efficiency_vs_eta": "eff_vs_eta",
        "fake_ratio_vs_eta": "fakeRatio_vs_eta",
        "duplicate_ratio_vs_eta": "duplicationRatio_vs_eta",
    }
    hists = writer.histograms()
    out = {}
    for key, suffix in wanted.items():
        names = [n for n in hists if n.endswith(suffix)]
        if names:
            out[key] = _hist(hists[names[0]])
    return out


def run_comparison(config: CompareConfig, progress: bool = True) -> dict[str, Any]:
    """Run both chains (module docstring) and return the summary (also written by
    :func:`write_report`)."""
    from acts_gnn.detector.generic import load_generic_detector
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.metrics.tracks import ParticleSelection
    from acts_gnn.progress import progress_bar
    from acts_gnn.sequencer.performance import TrackMetricsAlgorithm
    from acts_gnn.sequencer.reconstruction import (
        addCkfReference,
        addGnn,
        addParticleSelection,
        addRootSimulationInput,
        addTrackPerformance,
        addTrackQualitySelection,
    )

    config.validate()
    output = Path(config.output)
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
        skip=available[0],
        numThreads=1,
        logLevel=level,
        trackFpes=False,
        outputDir=str(output / "sequencer"),
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, config.input, detector, config.digitization_seed, level)
    addParticleSelection(s, config.selection, logLevel=level)
    gnn = addGnn(
        s,
        **stages,
        detector=detector,
        minMeasurementsPerTrack=config.ckf.min_measurements,
        device=config.device,
        shrinkNodes=config.shrink_nodes,
        truthMetrics=config.truth_metrics,
        logLevel=level,
    )
    addTrackQualitySelection(s, "gnn_tracks", "gnn_selected_tracks", config.ckf, level)
    addCkfReference(s, detector, config.ckf, logLevel=level)
    collections = {
        "gnn": "gnn_selected_tracks",
        "gnn_prefit": "gnn_prefit_tracks",
        "ckf": "ckf_tracks",
    }
    writers = {
        label: addTrackPerformance(s, tracks, label, logLevel=level)
        for label, tracks in collections.items()
    }
    protos = {"gnn_prefit": "gnn_prototracks"}
    for label in ("gnn", "ckf"):
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
        ParticleSelection(
            min_pt=sel.min_pt,
            min_hits=sel.min_measurements,
            max_abs_eta=sel.max_abs_eta,
            primaries_only=sel.primaries_only,
        ),
        level=level,
    )
    s.addAlgorithm(ours)
    bar = progress_bar(total=n_events, desc="compare", unit="event", enabled=progress)
    s.addAlgorithm(_ProgressAlgorithm(bar, level))
    start = time.perf_counter()
    try:
        s.run()
    finally:
        bar.close()
    wall = time.perf_counter() - start
    times = stage_times(output / "sequencer" / "timing.csv")
    if gnn.truth_seconds:  # truth bookkeeping is not part of the chain
        times["gnn"]["GNN track finding"] -= float(np.mean(gnn.truth_seconds))
    gnn_substages = gnn.times.summary()
    summary: dict[str, Any] = {
        "input": str(Path(config.input).resolve()),
        "events": n_events,
        "measurements_per_event": float(np.mean(ours.n_hits)) if ours.n_hits else 0.0,
        "selection": sel.describe(),
        "config": _describe(config),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "wall_seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    for label, writer in writers.items():
        stats = writer.stats()
        metrics = ours.metrics[label]
        chain = "gnn" if label.startswith("gnn") else "ckf"
        entry: dict[str, Any] = {
            "tracks": collections[label],
            "efficiency": stats["efficiencyParticles"],
            "fake_ratio": stats["fakeRatioTracks"],
            "duplicate_ratio": stats["duplicateRatioTracks"],
            "trackml_score": float(np.mean(metrics.trackml_scores)),
            "selection": sel.describe(),
            "events": n_events,
            "measurements": summary["measurements_per_event"] * n_events,
            "acts_stats": {k: v for k, v in stats.items() if k != "subDetectors"},
            "independent_count": {
                "efficiency": metrics.efficiency,
                "fake_ratio": metrics.fake_ratio,
                "duplicate_ratio": metrics.duplicate_ratio,
                "exatrkx_physics_efficiency": metrics.physics_efficiency,
                "exatrkx_technical_efficiency": metrics.technical_efficiency,
            },
            "histograms": _writer_histograms(writer),
        }
        if label != "gnn_prefit":
            stage_seconds = dict(times[chain])
            entry["time_per_event"] = {**stage_seconds, "total": sum(stage_seconds.values())}
        else:
            entry["time_per_event"] = {}
        if chain == "gnn":
            entry["gnn_substages"] = gnn_substages
            entry["gnn_counts"] = gnn.mean_counts()
            entry["gnn_space_point_reading"] = float(np.mean(gnn.read_seconds))
            entry["gnn_edge_metrics"] = {
                k: {"efficiency": e, "purity": p}
                for k, (e, p) in gnn.edge_metrics.summary().items()
            }
        summary[label] = entry
    return summary


def _describe(config: CompareConfig) -> dict[str, Any]:
    d = asdict(config)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


class _ProgressAlgorithm(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Advances a progress bar once per event."""

    def __init__(self, bar: Any, level: Any) -> None:
        super().__init__("ActsGnnProgress", level)
        self.bar = bar

    def execute(self, context: Any) -> Any:
        self.bar.update(1)
        return acts.examples.ProcessCode.SUCCESS


# -- report ----------------------------------------------------------------------------------

#: How the report names each graph construction.
GRAPH_TITLES = {"module-map": "module map", "metric-learning": "metric learning + filter"}


def chain_titles(summary: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(summary key, title) of the two chains; the GNN's names its graph construction."""
    graph = summary.get("config", {}).get("graph", "module-map")
    gnn = f"GNN ({GRAPH_TITLES.get(graph, graph)} + GNN + KF)"
    return (("gnn", gnn), ("ckf", "ACTS seeding + CKF"))


def write_report(summary: dict[str, Any], output: str | Path) -> list[Path]:
    """``summary.json``, ``summary.md`` and the comparison plots in ``output``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / "summary.json", output / "summary.md"]
    write_json(paths[0], summary)
    write_text(paths[1], summary_markdown(summary))
    paths += plot_comparison(summary, output, chain_titles(summary))
    return paths


def headline_table(summary: dict[str, Any]) -> str:
    """The headline numbers as a Markdown table."""
    rows = [
        "| chain | efficiency | fake ratio | duplicate ratio | TrackML score | time/event [s] |",
        "|---|---|---|---|---|---|",
    ]
    for key, title in (*chain_titles(summary), ("gnn_prefit", "GNN proto-tracks before the fit")):
        c = summary[key]
        t = c["time_per_event"].get("total", math.nan)
        rows.append(
            f"| {title} | {c['efficiency']:.4f} | {c['fake_ratio']:.4f} | "
            f"{c['duplicate_ratio']:.4f} | {c['trackml_score']:.4f} | "
            + ("" if math.isnan(t) else f"{t:.3f}")
            + " |"
        )
    return "\n".join(rows)


def summary_markdown(summary: dict[str, Any]) -> str:
    sel = summary["selection"]
    lines = [
        "# GNN tracking vs ACTS seeding + CKF",
        "",
        f"{summary['events']} events from `{summary['input']}`, "
        f"{summary['measurements_per_event']:.0f} measurements per event; "
        f"machine: {summary['machine']}.",
        f"Particles: pT > {sel['min_pt_GeV']} GeV, |eta| < {sel['max_abs_eta']}, "
        f">= {sel['min_measurements']} measurements. ACTS TrackTruthMatcher (double matching, "
        "50 %) + PythonPatternRecognitionPerformanceWriter.",
        "",
        headline_table(summary),
        "",
        "## Time per event by stage [s]",
        "",
    ]
    for key, title in chain_titles(summary):
        lines.append(
            f"**{title}**: "
            + ", ".join(
                f"{stage} {seconds:.3f}"
                for stage, seconds in summary[key]["time_per_event"].items()
            )
        )
        lines.append("")
    sub = summary["gnn"].get("gnn_substages", {})
    if sub:
        lines.append(
            "GNN track finding, by stage (mean per event): "
            + ", ".join(f"{k} {v['mean']:.3f}" for k, v in sub.items())
        )
        lines.append("")
    lines.append("## Independent count (acts_gnn.metrics)")
    lines.append("")
    for key, title in chain_titles(summary):
        ic = summary[key]["independent_count"]
        lines.append(
            f"- {title}: efficiency {ic['efficiency']:.4f}, fake ratio {ic['fake_ratio']:.4f}, "
            f"duplicate ratio {ic['duplicate_ratio']:.4f}"
        )
    return "\n".join(lines) + "\n"

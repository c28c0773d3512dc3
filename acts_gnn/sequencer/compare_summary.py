"""The summary of a comparison (:func:`acts_gnn.sequencer.compare.run_comparison`) from
what its Sequencer run left behind.

A run is recorded as a :class:`ChainRun`: plain, picklable data (ACTS's writer statistics
and efficiency histograms, our :class:`~acts_gnn.metrics.tracks.TrackMetrics` and
:class:`~acts_gnn.metrics.resolutions.ResolutionCollector` accumulators, the GNN
algorithm's per-event lists and counts). :func:`comparison_summary` turns one into the
summary dictionary, with the times read from the Sequencer's ``timing.csv``. A serial run
records one :class:`ChainRun`; an event-parallel run (:mod:`acts_gnn.distributed.compare`)
records one per chunk and merges them before the same summary is computed, so both give the
same numbers.
"""

from __future__ import annotations

import copy
import logging
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.chain.cleaning import HelixOutlierRemoval, chain_cleaner
from acts_gnn.chain.pipeline import StageTimes
from acts_gnn.errors import InputDataError
from acts_gnn.metrics.resolutions import ResolutionCollector
from acts_gnn.metrics.tracks import TrackMetrics
from acts_gnn.sequencer.compare_times import split_cut_times, stage_times
from acts_gnn.sequencer.memory import peak_rss_mb

log = logging.getLogger(__name__)

#: Our count's extra selection for the efficiency turn-on: the cuts of the first selection but
#: pT (only efficiency vs pT uses it)
NO_PT_CUT = "no pT cut"

#: ACTS writer histograms in the summary: summary key -> suffix of ACTS's histogram name
WRITER_HISTOGRAMS = {
    "efficiency_vs_pt": "eff_vs_LogPt",
    "efficiency_vs_eta": "eff_vs_eta",
    "fake_ratio_vs_eta": "fakeRatio_vs_eta",
    "duplicate_ratio_vs_eta": "duplicationRatio_vs_eta",
}


@dataclass
class CandidateCounts:
    """The counts of a :class:`~acts_gnn.sequencer.parameters.CandidateAccounting` (per
    event: candidates, with start parameters; skips by reason), picklable."""

    candidates: list[int]
    with_parameters: list[int]
    reasons: dict[str, int]
    min_transverse_distance: float
    fallback: CandidateCounts | None = None

    @classmethod
    def of(cls, accounting: Any) -> CandidateCounts:
        """The counts of a ``CandidateAccounting`` after its run."""
        fallback = getattr(accounting, "fallback", None)
        return cls(
            list(accounting.candidates),
            list(accounting.with_parameters),
            dict(accounting.reasons),
            float(accounting.min_transverse_distance),
            None if fallback is None else cls.of(fallback),
        )

    def summary(self) -> dict[str, Any]:
        """``CandidateAccounting.summary`` of these counts."""
        from acts_gnn.sequencer.parameters import CandidateAccounting

        return CandidateAccounting.summary(self)  # type: ignore[arg-type]


def _both_passes_cleaner(pipeline: Any) -> HelixOutlierRemoval | None:
    """A copy of the pipeline's track cleaner with a first pass's sums added (both passes
    clean the same events: the calls stay one per event); None without cleaning."""
    cleaner = copy.copy(chain_cleaner(pipeline.trackBuilder))
    first = getattr(pipeline, "firstPass", None)
    first_cleaner = None if first is None else chain_cleaner(first.trackBuilder)
    if cleaner is not None and first_cleaner is not None:
        events = cleaner.calls
        cleaner.add(first_cleaner)
        cleaner.calls = events
    return cleaner


@dataclass
class GnnRecord:
    """What the summary reads of the GNN algorithm (``TrackFindingAlgorithmGnn`` with the
    attributes ``addGnn`` adds): per-event seconds and counts, the stage times, the edge
    metric sums, the candidate accounting (per extra cut too) and the extra cuts' building
    seconds (per event, one per cut; None without extra cuts)."""

    read_seconds: list[float]
    truth_seconds: list[float]
    counts: list[dict[str, int]]
    times: StageTimes
    edge_metrics: Any  # the algorithm's edge-metric sums: ``sums`` name -> 4 floats
    unknown_module_hits: int
    accounting: CandidateCounts | None
    cut_accounting: dict[str, CandidateCounts]
    cut_seconds: list[list[float]] | None
    n_cuts: int = 1
    #: the track cleaner of the first cut, with its sums, a first pass's added (None: no
    #: cleaning)
    cleaner: HelixOutlierRemoval | None = None

    @classmethod
    def of(cls, gnn: Any) -> GnnRecord:
        """The record of a ``TrackFindingAlgorithmGnn`` after its run."""
        accounting = getattr(gnn, "parameter_accounting", None)
        cuts = getattr(gnn, "cut_candidates", None)
        return cls(
            read_seconds=list(gnn.read_seconds),
            truth_seconds=list(gnn.truth_seconds),
            counts=list(gnn.counts),
            times=gnn.times,
            edge_metrics=gnn.edge_metrics,
            unknown_module_hits=int(getattr(gnn.pipeline, "unknown_module_hits", 0)),
            accounting=None if accounting is None else CandidateCounts.of(accounting),
            cut_accounting={
                k: CandidateCounts.of(v)
                for k, v in getattr(gnn, "cut_parameter_accounting", {}).items()
            },
            cut_seconds=None if cuts is None else [list(s) for s in cuts.seconds],
            n_cuts=1 if cuts is None else len(cuts.builder.cuts),
            cleaner=_both_passes_cleaner(gnn.pipeline),
        )

    def mean_counts(self) -> dict[str, float]:
        """``TrackFindingAlgorithmGnn.mean_counts`` of these counts."""
        from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn

        return TrackFindingAlgorithmGnn.mean_counts(self)  # type: ignore[arg-type]

    def mean_cut_seconds(self) -> list[float]:
        """Mean track-building seconds per event of each cut (``CutProtoTracks``'s)."""
        if not self.cut_seconds:
            return [0.0] * self.n_cuts
        return [float(v) for v in np.mean(np.asarray(self.cut_seconds), axis=0)]


@dataclass
class ChainRun:
    """One Sequencer run of a comparison, as the summary needs it (picklable).

    ``collections``: chain label -> track collection (the summary's chains, in order);
    ``writer_stats`` / ``writer_histograms``: selection key -> label -> ACTS's writer
    statistics (``subDetectors`` left out) / :func:`writer_histograms`;
    ``selection_metrics``: selection key (and :data:`NO_PT_CUT`) -> label -> our count;
    ``n_hits``: measurements per event, in run order."""

    events: int
    wall_seconds: float
    peak_rss_mb: float
    collections: dict[str, str]
    gnn_labels: tuple[str, ...]
    ckf_labels: tuple[str, ...]
    seeded: tuple[str, ...]
    writer_stats: dict[str, dict[str, dict[str, Any]]]
    writer_histograms: dict[str, dict[str, dict[str, dict[str, list[float]]]]]
    n_hits: list[int]
    selection_metrics: dict[str, dict[str, TrackMetrics]]
    resolutions: dict[str, ResolutionCollector]
    resolution_skips: dict[str, int]
    gnn: GnnRecord


def record_run(
    events: int,
    wall_seconds: float,
    collections: dict[str, str],
    labels: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
    writers: dict[str, dict[str, Any]],
    ours: Any,
    gnn: Any,
) -> ChainRun:
    """The :class:`ChainRun` of a finished Sequencer run: ``labels`` = (GNN, CKF, GNN-seeded
    chain labels), ``writers`` selection key -> label -> ACTS's performance writer, ``ours``
    the :class:`~acts_gnn.sequencer.performance.TrackMetricsAlgorithm`, ``gnn`` the GNN
    algorithm."""
    return ChainRun(
        events=events,
        wall_seconds=wall_seconds,
        peak_rss_mb=peak_rss_mb(),
        collections=dict(collections),
        gnn_labels=labels[0],
        ckf_labels=labels[1],
        seeded=labels[2],
        writer_stats={
            key: {
                label: {k: v for k, v in w.stats().items() if k != "subDetectors"}
                for label, w in per_label.items()
            }
            for key, per_label in writers.items()
        },
        writer_histograms={
            key: {label: writer_histograms(w) for label, w in per_label.items()}
            for key, per_label in writers.items()
        },
        n_hits=[int(n) for n in ours.n_hits],
        selection_metrics=ours.selection_metrics,
        resolutions=dict(ours.resolutions),
        resolution_skips=dict(ours.resolution_skips),
        gnn=GnnRecord.of(gnn),
    )


def _hist(efficiency: Any) -> dict[str, list[float]]:
    import boost_histogram as bh

    accepted, total = bh.Histogram(efficiency.accepted), bh.Histogram(efficiency.total)
    return {
        "edges": accepted.axes[0].edges.tolist(),
        "accepted": accepted.values().tolist(),
        "total": total.values().tolist(),
    }


def writer_histograms(writer: Any) -> dict[str, dict[str, list[float]]]:
    """ACTS's writer efficiency histograms (:data:`WRITER_HISTOGRAMS`): ``edges``,
    ``accepted`` and ``total`` counts per bin."""
    hists = writer.histograms()
    out = {}
    for key, suffix in WRITER_HISTOGRAMS.items():
        names = [n for n in hists if n.endswith(suffix)]
        if names:
            out[key] = _hist(hists[names[0]])
    return out


def comparison_summary(config: Any, run: ChainRun, timing_csv: Path) -> dict[str, Any]:
    """The summary of ``run`` (a :class:`~acts_gnn.sequencer.compare.CompareConfig`'s
    comparison); times per event from ``timing_csv`` (the Sequencer's ``timing.csv``)."""
    gnn_labels, ckf_labels, seeded, gnn = run.gnn_labels, run.ckf_labels, run.seeded, run.gnn
    times = stage_times(timing_csv, ckf_labels, gnn_labels[1:])
    if seeded:
        from acts_gnn.sequencer.gnn_seeded import move_seeded_times

        move_seeded_times(times, timing_csv, seeded[0], {"ckf": ckf_labels[-1]})
    if gnn.truth_seconds:  # truth bookkeeping is not part of the chain
        times["gnn"]["GNN track finding"] -= float(np.mean(gnn.truth_seconds))
    if len(gnn_labels) > 1:
        split_cut_times(times, gnn_labels, gnn.mean_cut_seconds())
    gnn_substages = gnn.times.summary()
    non_empty = non_empty_events(run.n_hits, config.input)
    sel = config.selection
    selections = config.selections()
    n_events = run.events
    summary: dict[str, Any] = {
        "input": str(Path(config.input).resolve()),
        "events": n_events,
        "empty_events": n_events - len(non_empty),
        "measurements_per_event": float(np.mean(np.asarray(run.n_hits)[non_empty])),
        "hits_on_unknown_modules": gnn.unknown_module_hits,
        "selection": sel.describe(),
        "track_selection": config.track_selection(),
        "config": describe_config(config),
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "wall_seconds": run.wall_seconds,
        "peak_rss_mb": run.peak_rss_mb,
    }
    primary = selections[0][0]
    metrics = run.selection_metrics
    for label in run.collections:
        chain = "gnn" if label == "gnn_prefit" else label
        per_selection = {
            key: selection_entry(
                run.writer_stats[key][label],
                run.writer_histograms[key][label],
                metrics[key][label],
                x,
            )
            for key, _, x in selections
        }
        entry: dict[str, Any] = {
            "tracks": run.collections[label],
            **{k: v for k, v in per_selection[primary].items() if k != "selection"},
            "trackml_score": float(
                np.mean(np.asarray(metrics[primary][label].trackml_scores)[non_empty])
            ),
            "selection": sel.describe(),
            "events": n_events,
            "measurements": int(np.sum(run.n_hits)),
            "selections": per_selection,
            "distributions": distributions(run, label, primary),
        }
        if label in run.resolutions:  # fitted tracks: resolutions, pT > the first cut
            entry["resolutions"] = run.resolutions[label].summary(min_pt=sel.min_pt)
            entry["resolutions"]["skipped_no_reference_surface"] = run.resolution_skips[label]
        if label != "gnn_prefit":
            stage_seconds = dict(times[chain])
            entry["time_per_event"] = {**stage_seconds, "total": sum(stage_seconds.values())}
        else:
            entry["time_per_event"] = {}
        if label in gnn_labels:
            entry["gnn_edge_cut"] = dict(config.gnn_chains())[label]
        if label in gnn_labels[1:]:
            entry["gnn_candidates"] = gnn.cut_accounting[label].summary()
        if label == "gnn":
            entry["gnn_substages"] = gnn_substages
            entry["gnn_counts"] = gnn.mean_counts()
            if gnn.accounting is not None:
                entry["gnn_candidates"] = gnn.accounting.summary()
            entry["gnn_space_point_reading"] = float(np.mean(gnn.read_seconds))
            if gnn.cleaner is not None:
                entry["gnn_cleaning"] = gnn.cleaner.summary()
            entry["gnn_edge_metrics"] = {
                k: {"efficiency": e, "purity": p}
                for k, (e, p) in gnn.edge_metrics.summary().items()
            }
        if label in ckf_labels:
            entry["ckf_preset"] = dict(config.ckf_chains())[label]
        summary[label] = entry
    return summary


def distributions(ours: Any, label: str, primary: str) -> dict[str, dict[str, list[float]]]:
    """The binned ratios of one chain (:meth:`~acts_gnn.metrics.tracks.TrackMetrics.
    histograms`, our count; ``ours.selection_metrics``: selection key -> label -> count):
    efficiency vs pT of the particles with no pT cut (the turn-on, from 0.1 GeV), vs eta,
    phi and production radius of the ``primary`` selection; fake and duplicate ratio vs the
    majority particle's pT and eta (all tracks)."""
    out = ours.selection_metrics[primary][label].histograms()
    out["efficiency_vs_pt"] = ours.selection_metrics[NO_PT_CUT][label].histograms()[
        "efficiency_vs_pt"
    ]
    return out


def selection_entry(
    stats: dict[str, Any],
    histograms: dict[str, dict[str, list[float]]],
    metrics: TrackMetrics,
    selection: Any,
) -> dict[str, Any]:
    """One chain's numbers for one particle selection: ACTS's writer (``stats``,
    ``histograms``) and our count."""
    return {
        "selection": selection.describe(),
        "efficiency": stats["efficiencyParticles"],
        "fake_ratio": stats["fakeRatioTracks"],
        "duplicate_ratio": stats["duplicateRatioTracks"],
        "acts_stats": dict(stats),
        "independent_count": {
            "efficiency": metrics.efficiency,
            "fake_ratio": metrics.fake_ratio,
            "duplicate_ratio": metrics.duplicate_ratio,
            "exatrkx_physics_efficiency": metrics.physics_efficiency,
            "exatrkx_technical_efficiency": metrics.technical_efficiency,
            "mean_completeness": metrics.mean_completeness,
            "mean_purity": metrics.mean_purity,
            "counts": {k: v for k, v in metrics.acts_stats().items() if k.startswith("n")},
        },
        "histograms": histograms,
    }


def describe_config(config: Any) -> dict[str, Any]:
    """The config's fields, paths as strings (the summary's ``config``)."""
    d = asdict(config)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


def non_empty_events(n_hits: list[int], input: str | Path) -> npt.NDArray[np.int64]:
    """Indices of the events (in run order) with at least one measurement; ``n_hits`` [events]
    from the metrics algorithm. Per-event averages (TrackML score, measurements per event) run
    over these only; an input whose every event is empty is refused (InputDataError)."""
    counts = np.asarray(n_hits, dtype=np.int64)
    if not len(counts) or not np.any(counts > 0):
        raise InputDataError(
            f"all {len(counts)} events have zero measurements: nothing to compare",
            file=input,
            field="hits",
        )
    empty = int(np.count_nonzero(counts == 0))
    if empty:
        log.warning(
            "%s: %d of %d events have zero measurements; per-event averages leave them out",
            input,
            empty,
            len(counts),
        )
    return np.flatnonzero(counts > 0)


__all__ = [
    "NO_PT_CUT",
    "WRITER_HISTOGRAMS",
    "CandidateCounts",
    "ChainRun",
    "GnnRecord",
    "comparison_summary",
    "describe_config",
    "distributions",
    "non_empty_events",
    "record_run",
    "selection_entry",
    "writer_histograms",
]

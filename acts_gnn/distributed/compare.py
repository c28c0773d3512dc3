"""``acts-gnn compare`` on a Dask cluster: event ranges compared apart, records merged.

Each task runs the comparison's Sequencer (:func:`acts_gnn.sequencer.compare.run_chains`,
both chains, ACTS's matcher and writers, our count) on its events (``skip``: the
digitization draws from (seed, event number), so a chunk's events are the serial run's) in
its own folder under the chunk state, and returns its
:class:`~acts_gnn.sequencer.compare_summary.ChainRun` and its ``timing.csv``. The client
merges the records (:func:`merge_runs`) and computes the summary once, with the code of the
serial run (:func:`~acts_gnn.sequencer.compare_summary.comparison_summary`):

* ACTS's writer counts (tracks, matched, fakes, duplicates, particles, ... per chain and
  particle selection) are summed and its ratios recomputed from the sums (its efficiency
  histograms: accepted and total per bin summed); the means of completeness and purity are
  weighted by the quality tracks (equal to the serial run's up to float rounding);
* our accumulators (:class:`~acts_gnn.metrics.tracks.TrackMetrics`,
  :class:`~acts_gnn.metrics.resolutions.ResolutionCollector`, the GNN algorithm's per-event
  lists and candidate accounting) keep their per-event and per-track values, which are
  joined in event order, and their counts, which are summed: every count, ratio, mean,
  quantile (68 % widths) and histogram is computed once from the joined values;
* times: per algorithm of ``timing.csv`` the seconds are summed and divided by the events.

Not split: ``--vertexing`` (its AMVF and ML vertexing summaries are not merged): refused.
"""

from __future__ import annotations

import copy
import csv
import io
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acts_gnn.chain.cleaning import HelixOutlierRemoval
from acts_gnn.chain.pipeline import StageTimes
from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.io.atomic import write_text
from acts_gnn.metrics.resolutions import ResolutionCollector
from acts_gnn.metrics.tracks import TrackMetrics
from acts_gnn.sequencer.compare_summary import (
    CandidateCounts,
    ChainRun,
    GnnRecord,
    comparison_summary,
    describe_config,
)

if TYPE_CHECKING:
    from acts_gnn.sequencer.compare import CompareConfig

#: ACTS writer ratios: name -> (numerator, denominator) counts
WRITER_RATIOS = {
    "efficiencyTracks": ("nTotalMatchedTracks", "nTotalTracks"),
    "fakeRatioTracks": ("nTotalFakeTracks", "nTotalTracks"),
    "duplicateRatioTracks": ("nTotalDuplicateTracks", "nTotalTracks"),
    "efficiencyParticles": ("nTotalMatchedParticles", "nTotalParticles"),
    "fakeRatioParticles": ("nTotalFakeParticles", "nTotalParticles"),
    "duplicateRatioParticles": ("nTotalDuplicateParticles", "nTotalParticles"),
}
#: ACTS writer means: name -> the count they are means over
WRITER_MEANS = {"meanCompleteness": "nTotalQualityTracks", "meanPurity": "nTotalQualityTracks"}


@dataclass
class ChunkRun:
    """One task's result: its run's record and its ``timing.csv`` rows (algorithm, total
    seconds), in the Sequencer's order."""

    run: ChainRun
    timing: list[tuple[str, float]]


def read_timing(path: Path) -> list[tuple[str, float]]:
    """(identifier, total seconds) of each row of a Sequencer's ``timing.csv``."""
    with path.open() as f:
        return [(row["identifier"], float(row["time_total_s"])) for row in csv.DictReader(f)]


def write_timing(path: Path, rows: list[tuple[str, float]], events: int) -> Path:
    """A ``timing.csv`` as the Sequencer writes it (total and per-event seconds)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["identifier", "time_total_s", "time_perevent_s"])
    writer.writerows([name, repr(total), repr(total / max(events, 1))] for name, total in rows)
    return write_text(path, text.getvalue())


def _compare_chunk(
    config: CompareConfig, state: ChunkState, start: int, stop: int, ticker: Ticker
) -> ChunkRun:
    """One task: the comparison of events ``skip + start`` .. ``skip + stop - 1``."""
    from acts_gnn.sequencer.compare import run_chains

    folder = state.chunk_folder(start, stop)
    chunk = replace(config, output=folder, skip=config.skip + start, events=stop - start)
    run, _ = run_chains(chunk, ticker)
    return ChunkRun(run, read_timing(folder / "sequencer" / "timing.csv"))


# -- merges -----------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def merge_writer_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """ACTS's writer statistics of all the parts' events: counts (``n...``) summed, ratios
    (:data:`WRITER_RATIOS`) from the sums, means (:data:`WRITER_MEANS`) weighted by their
    counts. An unknown statistic raises ValueError (it would not be merged correctly)."""
    counts = {key: sum(p[key] for p in parts) for key in parts[0] if key.startswith("n")}
    out: dict[str, Any] = {}
    for key in parts[0]:  # ACTS's order
        if key in counts:
            out[key] = counts[key]
        elif key in WRITER_RATIOS:
            num, den = WRITER_RATIOS[key]
            out[key] = _ratio(counts[num], counts[den])
        elif key in WRITER_MEANS:
            n = WRITER_MEANS[key]
            total = sum(p[key] * p[n] for p in parts if p[n])
            out[key] = _ratio(total, counts[n])
        else:
            raise ValueError(f"ACTS writer statistic {key!r}: no rule to merge it across chunks")
    return out


def merge_histograms(parts: list[dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """Efficiency histograms (``edges``, ``accepted``, ``total``) of all the parts' events."""
    out: dict[str, Any] = {}
    for name, first in parts[0].items():
        if any(p[name]["edges"] != first["edges"] for p in parts):
            raise ValueError(f"histogram {name}: the chunks' bin edges differ")
        out[name] = {
            "edges": list(first["edges"]),
            **{
                k: [sum(v) for v in zip(*(p[name][k] for p in parts), strict=True)]
                for k in ("accepted", "total")
            },
        }
    return out


def _join(parts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for part in parts:
        for key, values in part.items():
            out.setdefault(key, []).extend(values)
    return out


def _add(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = out[key] + value if key in out else value
    return out


def merge_track_metrics(parts: list[TrackMetrics]) -> TrackMetrics:
    """Our count of all the parts' events: per-particle, per-track and per-event values
    joined in order, counts and sums added (the serial run's accumulator)."""
    return replace(
        parts[0],
        events=sum(p.events for p in parts),
        trackml_scores=[s for p in parts for s in p.trackml_scores],
        particles=_join([p.particles for p in parts]),
        tracks=_join([p.tracks for p in parts]),
        counts=_add([p.counts for p in parts]),
        sums=_add([p.sums for p in parts]),
    )


def merge_resolutions(parts: list[ResolutionCollector]) -> ResolutionCollector:
    """The residuals and pulls of all the parts' tracks, in order."""
    return ResolutionCollector(
        residual=[a for p in parts for a in p.residual],
        pull=[a for p in parts for a in p.pull],
        pt=[a for p in parts for a in p.pt],
        eta=[a for p in parts for a in p.eta],
    )


def merge_candidates(parts: list[CandidateCounts]) -> CandidateCounts:
    """The candidate accounting of all the parts' events (per event joined, reasons added)."""
    fallbacks = [p.fallback for p in parts if p.fallback is not None]
    if fallbacks and len(fallbacks) != len(parts):
        raise ValueError("candidate accounting: some chunks have a fallback pass, others not")
    return CandidateCounts(
        candidates=[n for p in parts for n in p.candidates],
        with_parameters=[n for p in parts for n in p.with_parameters],
        reasons=_add([p.reasons for p in parts]),
        min_transverse_distance=parts[0].min_transverse_distance,
        fallback=merge_candidates(fallbacks) if fallbacks else None,
    )


def merge_gnn(parts: list[GnnRecord]) -> GnnRecord:
    """The GNN algorithm's record of all the parts' events."""
    edge_metrics = copy.deepcopy(parts[0].edge_metrics)
    for part in parts[1:]:
        for name, sums in part.edge_metrics.sums.items():
            total = edge_metrics.sums.setdefault(name, [0.0] * len(sums))
            for k, value in enumerate(sums):
                total[k] += value
    accounting = [p.accounting for p in parts if p.accounting is not None]
    cut_seconds = [p.cut_seconds for p in parts if p.cut_seconds is not None]
    return GnnRecord(
        read_seconds=[s for p in parts for s in p.read_seconds],
        truth_seconds=[s for p in parts for s in p.truth_seconds],
        counts=[c for p in parts for c in p.counts],
        times=StageTimes(_join([p.times.samples for p in parts])),
        edge_metrics=edge_metrics,
        unknown_module_hits=sum(p.unknown_module_hits for p in parts),
        accounting=merge_candidates(accounting) if accounting else None,
        cut_accounting={
            label: merge_candidates([p.cut_accounting[label] for p in parts])
            for label in parts[0].cut_accounting
        },
        cut_seconds=[s for c in cut_seconds for s in c] if cut_seconds else None,
        n_cuts=parts[0].n_cuts,
        cleaner=merge_cleaners([p.cleaner for p in parts]),
    )


def merge_cleaners(cleaners: list[HelixOutlierRemoval | None]) -> HelixOutlierRemoval | None:
    """One record of the parts' track cleaners (their sums added; None without cleaning)."""
    present = [c for c in cleaners if c is not None]
    if not present:
        return None
    merged = copy.copy(present[0])
    for c in present[1:]:
        merged.add(c)
    return merged


def merge_runs(parts: list[ChainRun]) -> ChainRun:
    """One :class:`ChainRun` of all the parts' events (parts in event order): what a serial
    run over them records (module docstring). ``wall_seconds``: summed (the client sets
    its own); ``peak_rss_mb``: the largest."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    keys = list(first.selection_metrics)
    return replace(
        first,
        events=sum(p.events for p in parts),
        wall_seconds=sum(p.wall_seconds for p in parts),
        peak_rss_mb=max(p.peak_rss_mb for p in parts),
        writer_stats={
            key: {
                label: merge_writer_stats([p.writer_stats[key][label] for p in parts])
                for label in first.writer_stats[key]
            }
            for key in first.writer_stats
        },
        writer_histograms={
            key: {
                label: merge_histograms([p.writer_histograms[key][label] for p in parts])
                for label in first.writer_histograms[key]
            }
            for key in first.writer_histograms
        },
        n_hits=[n for p in parts for n in p.n_hits],
        selection_metrics={
            key: {
                label: merge_track_metrics([p.selection_metrics[key][label] for p in parts])
                for label in first.selection_metrics[key]
            }
            for key in keys
        },
        resolutions={
            label: merge_resolutions([p.resolutions[label] for p in parts])
            for label in first.resolutions
        },
        resolution_skips=_add([p.resolution_skips for p in parts]),
        gnn=merge_gnn([p.gnn for p in parts]),
    )


def merge_timing(parts: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Per algorithm, the total seconds of all the parts (the same algorithms, in order)."""
    names = [name for name, _ in parts[0]]
    for part in parts[1:]:
        if [name for name, _ in part] != names:
            raise ValueError("timing.csv: the chunks' Sequencers ran different algorithms")
    return [(name, sum(p[k][1] for p in parts)) for k, name in enumerate(names)]


# -- the command ------------------------------------------------------------------------------


def compare_parallel(
    config: CompareConfig, options: ParallelOptions, progress: bool = True
) -> dict[str, Any]:
    """:func:`~acts_gnn.sequencer.compare.run_comparison` on the cluster of ``options``: the
    same summary (module docstring; times aside), plus ``parallel`` (tasks, workers or
    scheduler). ``timing.csv`` of the merged times goes to ``<output>/sequencer/``. An
    interrupted run resumes from its finished chunks."""
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.sequencer.compare import remove_stale_report

    if config.vertexing:
        raise ValueError(
            "--vertexing: its vertex summaries are not merged across chunks; run it without "
            "--workers / --scheduler"
        )
    config.validate()
    output = Path(config.output)
    remove_stale_report(output)  # a failed run must not leave the last run's numbers in place
    files = SimulationFiles.from_dir(config.input)
    available = files.event_ids[config.skip :]
    n_events = len(available) if config.events is None else min(config.events, len(available))
    if n_events == 0:
        raise ValueError(f"{config.input}: no events to run on (skip={config.skip})")
    key = {"config": describe_config(config), "events": list(available[:n_events])}
    state = ChunkState.under(output, "compare", key)
    start = time.perf_counter()
    chunks = run_chunks(
        partial(_compare_chunk, config, state),
        n_events,
        options,
        desc="compare",
        state=state,
        event_ids=list(available[:n_events]),
        progress=progress,
    )
    run = replace(merge_runs([c.run for c in chunks]), wall_seconds=time.perf_counter() - start)
    timing = output / "sequencer" / "timing.csv"
    timing.parent.mkdir(parents=True, exist_ok=True)
    write_timing(timing, merge_timing([c.timing for c in chunks]), n_events)
    summary = comparison_summary(config, run, timing)
    summary["parallel"] = {
        "tasks": len(chunks),
        "workers": options.workers,
        "scheduler": options.scheduler,
    }
    state.remove()
    return summary


__all__ = [
    "WRITER_MEANS",
    "WRITER_RATIOS",
    "ChunkRun",
    "compare_parallel",
    "merge_candidates",
    "merge_gnn",
    "merge_histograms",
    "merge_resolutions",
    "merge_runs",
    "merge_timing",
    "merge_track_metrics",
    "merge_writer_stats",
    "read_timing",
    "write_timing",
]

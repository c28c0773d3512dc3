"""ML vertexing next to ACTS's AMVF on the same fitted tracks, scored the same way.

:func:`run_vertexing_comparison`: ROOT simulation input -> digitization -> ACTS seeding +
CKF + ambiguity resolution (``addCkfReference``, the reference chain of ``compare``) -> on
the same ``ckf_tracks`` both :func:`~acts_gnn.sequencer.vertexing.addMlVertexing` and
:func:`~acts_gnn.sequencer.vertexing.addAmvfReference`. Every event's track set (with truth)
is written to ``OUTPUT/tracks`` (the input of ``acts-gnn train vertex``), AMVF's vertices to
``OUTPUT/amvf``. Scoring (:mod:`acts_gnn.metrics.vertices`) is done twice for the ML finder:
with its own track membership (``ml``) and, like AMVF (whose track membership pyacts does not
expose), with tracks associated to the nearest vertex in z0 significance (``ml_position``,
``amvf``). Times per event are the Sequencer's (``timing.csv``): the ML algorithm (container
read, pairs, scores, clustering, fit) against AMVF + its ``TracksToParameters``.

The two finders go into any Sequencer that has fitted tracks and the truth through
:func:`add_vertexing_comparison` (what ``acts-gnn compare --vertexing`` does), whose
:class:`VertexingHook` scores them after the run; :func:`finder_summary` adds the binned
distributions the plots draw, :func:`vertexing_markdown` the report's table, and
:func:`write_vertexing_report` the plots (:mod:`acts_gnn.evaluation.plots_vertexing`).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn.chain.vertexing import TrackSet, VertexFinder
from acts_gnn.io.atomic import write_json
from acts_gnn.io.track_sets import read_track_set, track_set_files
from acts_gnn.metrics.vertices import (
    VertexEventMetrics,
    common_hard_scatter,
    efficiency_vs,
    event_vertex_metrics,
    rates_vs,
    summarise_vertex_metrics,
)
from acts_gnn.sequencer.vertexing import (
    addAmvfReference,
    addMlVertexing,
    associate_tracks,
    order_by_sum_pt2,
    read_csv_vertices,
)


def _position_metrics(truth: Any, vertex_z: np.ndarray, pt: np.ndarray) -> VertexEventMetrics:
    """Metrics of vertices known by position only (track association by z0 significance)."""
    sigma = np.sqrt(truth.covariance[:, 1, 1])
    track_vertex = associate_tracks(truth.params[:, 1], sigma, vertex_z)
    order = order_by_sum_pt2(track_vertex, pt, len(vertex_z))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    tv = np.where(track_vertex >= 0, rank[np.maximum(track_vertex, 0)], -1)
    return event_vertex_metrics(
        tv,
        np.where(truth.secondary, 0, truth.truth_vertex),
        truth.truth_z,
        reco_z=vertex_z[order],
    )


#: bin edges of the distributions of :func:`finder_summary`
TRACK_EDGES = (2, 3, 5, 10, 20, 50, 100, 300)
Z_EDGES = tuple(float(z) for z in np.linspace(-200.0, 200.0, 17))  # mm
DENSITY_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # vertices / mm


def finder_summary(events: list[VertexEventMetrics]) -> dict[str, Any]:
    """:func:`~acts_gnn.metrics.vertices.summarise_vertex_metrics` of one finder plus its
    ``distributions``: efficiency (and truth-merge fraction) vs tracks, z and pile-up density
    of the truth vertex, merge / split / fake rates vs tracks of the reconstructed vertex."""
    out = summarise_vertex_metrics(events)
    out["distributions"] = {
        "efficiency_vs_n_tracks": efficiency_vs(events, "n_tracks", TRACK_EDGES),
        "efficiency_vs_z": efficiency_vs(events, "z", Z_EDGES),
        "efficiency_vs_density": efficiency_vs(events, "density", DENSITY_EDGES),
        "rates_vs_n_tracks": rates_vs(events, TRACK_EDGES),
    }
    return out


def _describe_finder(finder: VertexFinder) -> dict[str, Any]:
    return {
        "window_mm": finder.window,
        "max_significance": finder.max_significance,
        "cut": finder.cut,
        "clustering": finder.clustering,
        "split_ncut": finder.split_ncut,
        "fit": finder.fit,
        "chi2_cut": finder.chi2_cut,
        "merge_significance": finder.merge_significance,
        "merge_min_tracks": finder.merge_min_tracks,
        "scorer": type(finder.scorer).__name__,
    }


@dataclass
class VertexingHook:
    """ML vertexing and AMVF added to a Sequencer on the same fitted tracks (what
    :func:`add_vertexing_comparison` returns); :meth:`summary` scores them after ``s.run()``."""

    finder: VertexFinder
    ml: Any
    amvf_dir: Path
    input_tracks: str

    def summary(self, timing_csv: str | Path) -> dict[str, Any]:
        """The comparison summary (module docstring) from the algorithm's results and the
        Sequencer's ``timing.csv``."""
        scores: dict[str, list[VertexEventMetrics]] = {"ml": [], "ml_position": [], "amvf": []}
        n_tracks = []
        for event, vertices, truth in self.ml.results:
            if truth is None:
                raise ValueError("vertexing comparison needs the truth (particles, map)")
            pt = np.sin(truth.params[:, 3]) / np.maximum(np.abs(truth.params[:, 4]), 1e-12)
            track_truth = np.where(truth.secondary, 0, truth.truth_vertex)
            n_tracks.append(len(truth.params))
            scores["ml"].append(
                event_vertex_metrics(
                    vertices.track_vertex,
                    track_truth,
                    truth.truth_z,
                    reco_z=vertices.position[:, 2],
                )
            )
            scores["ml_position"].append(_position_metrics(truth, vertices.position[:, 2], pt))
            amvf = read_csv_vertices(self.amvf_dir / f"event{event:09d}-vertices.csv")
            scores["amvf"].append(_position_metrics(truth, amvf[:, 2], pt))
        times = {}
        with open(timing_csv) as f:
            for row in csv.DictReader(f):
                times[row["identifier"]] = float(row["time_perevent_s"])
        finders = {k: finder_summary(v) for k, v in scores.items()}
        return {
            "tracks": self.input_tracks,
            "events": len(self.ml.results),
            "tracks_per_event": float(np.mean(n_tracks)) if n_tracks else 0.0,
            "finder": _describe_finder(self.finder),
            **finders,
            "hs_common": common_hard_scatter(finders["ml"], finders["amvf"]),
            "seconds_per_event": {
                "ml_with_truth": times.get("Algorithm:MlVertexingAlgorithm", float("nan")),
                "ml": float(np.mean(self.ml.seconds)) if self.ml.seconds else float("nan"),
                "amvf": times.get("Algorithm:AdaptiveMultiVertexFinder", float("nan"))
                + times.get("Algorithm:TracksToParameters", 0.0),
            },
        }


def default_vertex_finder() -> VertexFinder:
    """The shipped pair network (ONNX, one thread) in the default :class:`VertexFinder`."""
    from acts_gnn.chain.defaults import default_files
    from acts_gnn.chain.vertexing import OnnxPairScorer

    return VertexFinder(OnnxPairScorer(default_files().vertex_pairs("onnx"), threads=1))


def add_vertexing_comparison(
    s: Any,
    detector: Any,
    output: str | Path,
    finder: VertexFinder | None = None,
    inputTracks: str = "ckf_tracks",
    writeTrackSets: bool = True,
) -> VertexingHook:
    """Add the ML stage (``finder``, default :func:`default_vertex_finder`) and AMVF on
    ``inputTracks`` of ``s`` (which must provide ``particles`` and
    ``measurement_particles_map``); track sets go to ``OUTPUT/tracks`` (if
    ``writeTrackSets``), AMVF's vertices to ``OUTPUT/amvf``."""
    output = Path(output)
    finder = finder if finder is not None else default_vertex_finder()
    ml = addMlVertexing(
        s, finder, inputTracks, outputTrackSets=output / "tracks" if writeTrackSets else None
    )
    amvf_dir = addAmvfReference(s, detector.field, inputTracks, output / "amvf")
    return VertexingHook(finder, ml, amvf_dir, inputTracks)


def run_vertexing_comparison(
    input_dir: str | Path,
    output: str | Path,
    finder: VertexFinder,
    events: int | None = None,
    skip: int = 0,
) -> dict[str, Any]:
    """Run the chain of the module docstring on ``input_dir`` (``acts-gnn simulate``
    output) and return (and write to ``OUTPUT/vertexing.json``) the summary."""
    import acts
    import acts.examples

    from acts_gnn.detector.generic import load_generic_detector
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.sequencer.reconstruction import (
        addCkfReference,
        addParticleSelection,
        addRootSimulationInput,
    )

    output = Path(output)
    (output / "sequencer").mkdir(parents=True, exist_ok=True)
    files = SimulationFiles.from_dir(input_dir)
    n_events = len(files.event_ids[skip:]) if events is None else events
    detector = load_generic_detector()
    level = acts.logging.WARNING
    s = acts.examples.Sequencer(
        events=n_events,
        skip=skip,
        numThreads=1,
        logLevel=level,
        trackFpes=False,
        outputDir=str(output / "sequencer"),
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, input_dir, detector, logLevel=level)
    addParticleSelection(s, logLevel=level)
    addCkfReference(s, detector, logLevel=level)
    hook = add_vertexing_comparison(s, detector, output, finder, "ckf_tracks")
    s.run()
    summary = {"input": str(input_dir), **hook.summary(output / "sequencer" / "timing.csv")}
    write_json(output / "vertexing.json", summary)
    return summary


_ROWS = (("ml", "ML pair network"), ("ml_position", "ML, position association"))


def vertexing_markdown(summary: dict[str, Any]) -> str:
    """The Markdown section of a vertexing summary (:meth:`VertexingHook.summary`): one row
    per finder, the definitions in a line below."""
    sec = summary.get("seconds_per_event", {})
    lines = [
        "## Primary vertices (`--vertexing`)",
        "",
        f"{summary.get('events', 0)} events, {summary.get('tracks_per_event', 0):.0f} "
        f"`{summary.get('tracks', 'ckf_tracks')}` per event; ML finder: "
        + ", ".join(f"{k} {v}" for k, v in summary.get("finder", {}).items()),
        "",
        "| finder | efficiency | merge | split | fake | HS reco. | HS ident. "
        "| HS dz RMS / 68 % [um] | s / event |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, title in (*_ROWS, ("amvf", "ACTS AMVF")):
        r = summary.get(key)
        if not r:
            continue
        t = sec.get(key)
        lines.append(
            f"| {title} | {r['efficiency']:.3f} | {r['merge_rate']:.3f} | {r['split_rate']:.3f} "
            f"| {r['fake_rate']:.3f} | {r['hs_reconstruction_rate']:.2f} "
            f"| {r['hs_identification_rate']:.2f} "
            f"| {1e3 * r['hs_dz_rms']:.1f} / {1e3 * r['hs_dz_68']:.1f} "
            f"| {'' if t is None else f'{t:.3g}'} |"
        )
    common = summary.get("hs_common")
    if common and common.get("events"):
        lines += [
            "",
            f"Hard scatter on the {common['events']} event(s) where both identify it: z residual "
            f"68 % half-width {1e3 * common['a_68']:.1f} um (ML) vs {1e3 * common['b_68']:.1f} um "
            f"(AMVF), RMS {1e3 * common['a_rms']:.1f} vs {1e3 * common['b_rms']:.1f} um.",
        ]
    lines += [
        "",
        "ML rows: the finder's own clusters (position: tracks associated to the nearest vertex "
        "in z0 significance, as for AMVF, whose track membership pyacts does not expose); "
        "definitions in `acts_gnn.metrics.vertices`. Plots: `vertexing/*.png`.",
        "",
    ]
    return "\n".join(lines)


def write_vertexing_report(
    summary: dict[str, Any], output: str | Path, markdown: str | Path | None = None
) -> list[Path]:
    """The vertexing plots (:func:`~acts_gnn.evaluation.plots_vertexing.plot_vertexing`) into
    ``OUTPUT/vertexing``, and the Markdown section appended to ``markdown`` (a report's
    ``summary.md``) if given; returns the files written."""
    from acts_gnn.evaluation.plots_vertexing import plot_vertexing
    from acts_gnn.io.atomic import write_text

    paths = plot_vertexing(summary, Path(output) / "vertexing")
    if markdown is not None:
        markdown = Path(markdown)
        before = markdown.read_text() if markdown.is_file() else ""
        write_text(markdown, before.rstrip("\n") + "\n\n" + vertexing_markdown(summary))
    return paths


def score_track_sets(
    tracks_dir: str | Path,
    finder: VertexFinder,
    amvf_dir: str | Path | None = None,
    skip: int = 0,
    events: int | None = None,
) -> dict[str, Any]:
    """Re-run the ML stage on stored track sets (``OUTPUT/tracks`` of
    :func:`run_vertexing_comparison`; files ``skip`` .. ``skip + events``) and score it, and
    AMVF's stored vertices of the same events (``amvf_dir``), as in the module docstring.
    ``seconds_per_event.ml``: the stage alone (pairs, scores, clustering, fit)."""
    files = track_set_files(tracks_dir)[skip:]
    files = files if events is None else files[:events]
    scores: dict[str, list[VertexEventMetrics]] = {"ml": [], "ml_position": [], "amvf": []}
    seconds: list[float] = []
    for f in files:
        truth = read_track_set(f)
        tracks = TrackSet(truth.params, truth.covariance)
        t0 = time.perf_counter()
        vertices = finder(tracks)
        seconds.append(time.perf_counter() - t0)
        track_truth = np.where(truth.secondary, 0, truth.truth_vertex)
        scores["ml"].append(
            event_vertex_metrics(
                vertices.track_vertex, track_truth, truth.truth_z, reco_z=vertices.position[:, 2]
            )
        )
        scores["ml_position"].append(_position_metrics(truth, vertices.position[:, 2], tracks.pt))
        if amvf_dir is not None:
            amvf = read_csv_vertices(Path(amvf_dir) / f"event{truth.event_id:09d}-vertices.csv")
            scores["amvf"].append(_position_metrics(truth, amvf[:, 2], tracks.pt))
    out: dict[str, Any] = {k: finder_summary(v) for k, v in scores.items() if v}
    if "amvf" in out:
        out["hs_common"] = common_hard_scatter(out["ml"], out["amvf"])
    out["files"] = [f.name for f in files]
    out["seconds_per_event"] = {"ml": float(np.mean(seconds)) if seconds else float("nan")}
    return out

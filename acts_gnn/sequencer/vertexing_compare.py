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
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn.chain.vertexing import TrackSet, VertexFinder
from acts_gnn.io.atomic import write_json
from acts_gnn.io.track_sets import read_track_set, track_set_files
from acts_gnn.metrics.vertices import (
    VertexEventMetrics,
    event_vertex_metrics,
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
    ml = addMlVertexing(s, finder, "ckf_tracks", outputTrackSets=output / "tracks")
    amvf_dir = addAmvfReference(s, detector.field, "ckf_tracks", output / "amvf")
    s.run()
    scores: dict[str, list[VertexEventMetrics]] = {"ml": [], "ml_position": [], "amvf": []}
    n_tracks = []
    for event, vertices, truth in ml.results:
        assert truth is not None
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
        amvf = read_csv_vertices(amvf_dir / f"event{event:09d}-vertices.csv")
        scores["amvf"].append(_position_metrics(truth, amvf[:, 2], pt))
    times = {}
    with open(output / "sequencer" / "timing.csv") as f:
        for row in csv.DictReader(f):
            times[row["identifier"]] = float(row["time_perevent_s"])
    summary = {
        "input": str(input_dir),
        "events": len(ml.results),
        "tracks_per_event": float(np.mean(n_tracks)) if n_tracks else 0.0,
        "finder": {
            "window_mm": finder.window,
            "cut": finder.cut,
            "clustering": finder.clustering,
            "split_ncut": finder.split_ncut,
            "scorer": type(finder.scorer).__name__,
        },
        **{k: summarise_vertex_metrics(v) for k, v in scores.items()},
        "seconds_per_event": {
            "ml_with_truth": times.get("Algorithm:MlVertexingAlgorithm", float("nan")),
            "ml": float(np.mean(ml.seconds)) if ml.seconds else float("nan"),
            "amvf": times.get("Algorithm:AdaptiveMultiVertexFinder", float("nan"))
            + times.get("Algorithm:TracksToParameters", 0.0),
        },
    }
    write_json(output / "vertexing.json", summary)
    return summary


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
    seconds = []
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
    out: dict[str, Any] = {k: summarise_vertex_metrics(v) for k, v in scores.items() if v}
    out["files"] = [f.name for f in files]
    out["seconds_per_event"] = {"ml": float(np.mean(seconds)) if seconds else float("nan")}
    return out

"""``acts-gnn evaluate-gnn`` on a Dask cluster: event ranges scored apart, arrays joined.

Each task builds (module map) or reads (graph files) the graphs of its events and scores them
with :func:`acts_gnn.evaluation.gnn.score_events`; the client joins the chunks'
:class:`~acts_gnn.evaluation.gnn.ScoredEdges` in event order (:func:`join_scored`), so every
array, and so every number of the summary but the timing, equals the serial run's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.evaluation.gnn import ScoredEdges, gnn_classifier, score_events
from acts_gnn.graph.store import GraphSource, StoredGraphs, module_map_graphs
from acts_gnn.graph.truth import TruthSelection


def _score_chunk(
    input_dir: Path,
    event_ids: list[int],
    model: str,
    device: str,
    threads: int,
    graphs: str | None,
    module_map: str | None,
    selection: TruthSelection,
    start: int,
    stop: int,
    ticker: Ticker,
) -> ScoredEdges:
    import torch

    from acts_gnn.io.event_store import PreparedDataset

    torch.set_num_threads(threads)
    classifier, names, scales = gnn_classifier(model, device, threads)
    graph: GraphSource = (
        StoredGraphs(graphs) if graphs else module_map_graphs(module_map, threads)  # type: ignore[arg-type]
    )
    dataset = PreparedDataset(input_dir, event_ids[start:stop])
    return score_events(dataset, graph, classifier, names, scales, selection, ticker)


def join_scored(parts: list[ScoredEdges]) -> ScoredEdges:
    """The :class:`ScoredEdges` of all the parts' events, in the parts' order."""
    joined = ScoredEdges()
    for part in parts:
        joined.extend(part)
    return joined


def score_events_parallel(
    input_dir: str | Path,
    event_ids: list[int],
    model: str | Path,
    selection: TruthSelection,
    options: ParallelOptions,
    *,
    graphs: str | Path | None = None,
    module_map: str | Path | None = None,
    device: str = "cpu",
    threads: int = 1,
    state_root: str | Path | None = None,
    progress: bool = True,
) -> ScoredEdges:
    """:func:`~acts_gnn.evaluation.gnn.score_events` of the events ``event_ids`` of a prepared
    folder on the cluster of ``options``, each task loading the model and the module map (or
    reading the graph files of ``graphs``) itself. ``state_root``: keep finished chunks
    there (resume)."""
    if (graphs is None) == (module_map is None):
        raise ValueError("give the graph files or a module map (one of them)")
    graph_files = None if graphs is None else str(graphs)
    map_file = None if module_map is None else str(module_map)
    knobs = (str(model), device, threads, graph_files, map_file)
    state = None
    if state_root is not None:
        key = {"input": str(input_dir), "events": event_ids, "knobs": knobs, "sel": selection}
        state = ChunkState.under(state_root, "evaluate-gnn", key)
    parts = run_chunks(
        partial(
            _score_chunk,
            Path(input_dir),
            list(event_ids),
            str(model),
            device,
            threads,
            graph_files,
            map_file,
            selection,
        ),
        len(event_ids),
        options,
        desc="evaluate GNN",
        state=state,
        event_ids=event_ids,
        progress=progress,
    )
    if state is not None:
        state.remove()
    return join_scored(parts)


__all__ = ["join_scored", "score_events_parallel"]

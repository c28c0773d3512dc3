"""``acts-gnn graphs`` on a Dask cluster: event ranges built apart, one graph-file folder.

Each task sets up the command's graph source itself
(:func:`acts_gnn.train.graph_files.graph_source`) and writes its events' graph files straight
into the output folder (one atomic file per event, kept when already there, as in a serial
run), with its own ``graphs.json`` in the chunk state; the client joins the chunks' records
with the folder's earlier ones into the one ``graphs.json``, as a serial run writes it (the
per-event seconds aside).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.train.graph_files import GraphFileReport, graph_source, write_graph_files


def _graphs_chunk(
    args: Any,
    ids: list[int],
    selection: TruthSelection,
    state: ChunkState,
    start: int,
    stop: int,
    ticker: Ticker,
) -> GraphFileReport:
    import torch

    from acts_gnn.io.event_store import PreparedDataset

    torch.set_num_threads(args.threads)
    graphs, builder = graph_source(args)
    dataset = PreparedDataset(args.input, ids[start:stop])
    return write_graph_files(
        dataset,
        graphs,
        args.output,
        builder,
        selection,
        args.overwrite,
        ticker,
        report_dir=state.chunk_folder(start, stop),
    )


def write_graph_files_parallel(
    args: Any,
    ids: list[int],
    builder: dict[str, Any],
    selection: TruthSelection,
    options: ParallelOptions,
) -> GraphFileReport:
    """:func:`~acts_gnn.train.graph_files.write_graph_files` of the events ``ids`` of
    ``args.input`` on the cluster of ``options`` (``args``: the ``graphs`` command's options);
    the same graph files and ``graphs.json`` records as the serial run."""
    output = Path(args.output)
    # the folder's check and its earlier records, as the serial run starts (no events)
    report = write_graph_files([], None, output, builder, selection, args.overwrite)  # type: ignore[arg-type]
    key = {"input": str(args.input), "events": ids, "builder": builder, "overwrite": args.overwrite}
    state = ChunkState.under(output, "graphs", key)
    parts = run_chunks(
        partial(_graphs_chunk, args, ids, selection, state),
        len(ids),
        options,
        desc="graphs",
        state=state,
        event_ids=ids,
        progress=not args.quiet,
    )
    for part in parts:
        built = {e["event_id"] for e in part.events}
        report.events = [e for e in report.events if e["event_id"] not in built] + part.events
        report.skipped_existing += part.skipped_existing
        report.rebuilt_stale += part.rebuilt_stale
    report.events.sort(key=lambda e: e["event_id"])
    report.write(output)
    state.remove()
    return report


__all__ = ["write_graph_files_parallel"]

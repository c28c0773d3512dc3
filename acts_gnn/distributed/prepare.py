"""``acts-gnn prepare`` on a Dask cluster: event ranges digitized apart, one prepared folder.

The client opens the input (:class:`~acts_gnn.io.root_reader.SimulationFiles`: files, trees,
branches, types, event ids) and checks the output folder once, as the serial run does; the
per-event checks (finite values, hits and particles that belong together, modules of this
detector: :meth:`~acts_gnn.io.root_reader.SimulationFiles.validate`) run in the tasks, each
task checking all of its chunk before it writes any of its events, so they cost no time
before the first task starts and run in parallel. Each task runs
:func:`acts_gnn.simulation.prepare.prepare` on its range (``chunk``: ACTS's digitization
draws from (seed, event number), so the tables are those of the serial run) and writes its
events' Parquet files straight into the output folder (atomic, one pair per event); the
client merges the chunks' reports into ``dataset.json``, which is written last, so a folder
without it is never read as complete. A bad event fails its task: the run stops with a
:class:`~acts_gnn.distributed.executor.ChunkError` that names the chunk and carries the
check's message (file, event, field), and no ``dataset.json`` is written.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.io.root_reader import SimulationFiles
from acts_gnn.simulation.prepare import (
    PrepareReport,
    check_output_folder,
    prepare,
    remove_events,
    write_prepared_info,
)


def _prepare_chunk(
    input_dir: Path,
    output_dir: Path,
    seed: int,
    events: int | None,
    extra: dict[str, Any],
    start: int,
    stop: int,
    ticker: Ticker,
) -> PrepareReport:
    report = prepare(
        input_dir,
        output_dir,
        seed=seed,
        events=events,
        progress=False,
        chunk=(start, stop),
        on_event=ticker.update,
        **extra,
    )
    return report


def merge_reports(reports: list[PrepareReport]) -> PrepareReport:
    """One report of a run from its chunks' reports (in event order): per-event lists joined,
    per-event dicts united, counts summed, field by field (whatever fields the report has)."""
    merged = PrepareReport()
    for f in fields(PrepareReport):
        if f.name == "replaced":  # the run's, not a chunk's: set by the caller
            continue
        for r in reports:
            value, total = getattr(r, f.name), getattr(merged, f.name)
            if isinstance(total, list):
                total.extend(value)
            elif isinstance(total, dict):
                total.update(value)
            else:
                setattr(merged, f.name, total + value)
    return merged


def prepare_parallel(
    input_dir: str | Path,
    output_dir: str | Path,
    options: ParallelOptions,
    seed: int = 7,
    events: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    **extra: Any,
) -> PrepareReport:
    """:func:`acts_gnn.simulation.prepare.prepare` on the cluster of ``options`` (``extra``:
    its further keywords, passed to every task): the same event tables and ``dataset.json``
    as the serial run. An interrupted run resumes from its finished chunks. The per-event
    input checks run in the tasks, each on its chunk before it writes (module docstring):
    unlike the serial run, bad input is found after the earlier events of this folder were
    removed, but it still fails naming file, event and field, with no ``dataset.json``."""
    from acts_gnn.detector import load_generic_detector

    if events is not None and events < 1:
        raise ValueError(f"--events must be a positive number of events, got {events}")
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    files = SimulationFiles.from_dir(input_dir)
    event_ids = files.event_ids[:events] if events is not None else files.event_ids
    key = {
        "input": str(input_dir.resolve()),
        "seed": seed,
        "events": list(event_ids),
        "extra": {k: repr(v) for k, v in sorted(extra.items())},
    }
    state = ChunkState.under(output_dir, "prepare", key)
    resuming = state.folder.is_dir()
    replaced = [] if resuming else check_output_folder(output_dir, input_dir, overwrite)
    detector = load_generic_detector()
    if not resuming:
        # dataset.json first: from here on the folder is incomplete until the merge below.
        # Each task validates its own chunk before writing (prepare(chunk=...)).
        remove_events(output_dir, replaced)
    results = run_chunks(
        partial(_prepare_chunk, input_dir, output_dir, seed, events, extra),
        len(event_ids),
        options,
        desc="prepare",
        state=state,
        event_ids=event_ids,
        progress=progress,
    )
    report = merge_reports(results)
    report.replaced = [] if resuming else replaced
    write_prepared_info(input_dir, output_dir, detector, seed, report)
    state.remove()
    return report


__all__ = ["merge_reports", "prepare_parallel"]

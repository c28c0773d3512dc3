"""``acts-gnn module-map build`` on a Dask cluster: a map per event range, merged exactly.

A module map is a reduction (per module triplet: occurrences summed, [min, max] ranges
united), so building it is a map-reduce: each task accumulates the triplets of its events
(:func:`acts_gnn.graph.module_map.build.accumulate_triplets`) and returns the builder's rows
(:class:`~acts_gnn.graph.module_map.builder.TripletRows`: no map, so none of its derived
doublet arrays is built, pickled or stored per chunk). The rows are merged on the workers
(:func:`merge_chunk_rows`, the reduce of
:func:`~acts_gnn.distributed.executor.run_chunks`: a linear merge of sorted rows, sums and
min / max, exact in float64 and independent of the order), so the client receives one set
of rows, whatever the number of chunks, and its map's arrays equal the serial build's. The metadata
is the serial build's too (events and symmetric copies summed).
"""

from __future__ import annotations

import functools
from functools import partial
from pathlib import Path
from typing import Any

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.graph.module_map.build import accumulate_triplets
from acts_gnn.graph.module_map.builder import TripletRows, merge_rows, rows_to_map
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.symmetry import DetectorSymmetry
from acts_gnn.graph.truth import TruthSelection

#: (prepared folder, event id) of every event of the build, in the serial run's order.
EventRef = tuple[str, int]

#: What a task returns: its builder's rows and the metadata of its events' map.
ChunkRows = tuple[TripletRows, dict[str, Any]]


@functools.cache
def _generic_symmetry() -> DetectorSymmetry:
    """The generic detector's symmetries, found once per worker process (~0.04 s)."""
    from acts_gnn.detector import load_generic_detector

    return DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())


def _build_chunk(
    refs: list[EventRef],
    selection: TruthSelection,
    mirror_z: bool,
    rotate_phi: bool,
    start: int,
    stop: int,
    ticker: Ticker,
) -> ChunkRows:
    from acts_gnn.io.event_store import PreparedDataset

    symmetry = _generic_symmetry() if mirror_z or rotate_phi else None
    folders: dict[str, list[int]] = {}
    for folder, event_id in refs[start:stop]:
        folders.setdefault(folder, []).append(event_id)
    events = (event for d, ids in folders.items() for event in PreparedDataset(d, ids))
    builder, metadata = accumulate_triplets(
        events, selection, symmetry, mirror_z, rotate_phi, ticker
    )
    return builder.rows(), metadata


def merge_chunk_rows(a: ChunkRows, b: ChunkRows) -> ChunkRows:
    """The rows and metadata of two chunks' events together (exact, in any order: the
    reduce of :func:`~acts_gnn.distributed.executor.run_chunks`, run on the workers)."""
    metadata: dict[str, Any] = dict(a[1])
    for key in ("events", "augmented_samples"):
        metadata[key] = int(a[1][key]) + int(b[1][key])
    return merge_rows(a[0], b[0]), metadata


def chunk_rows_map(chunk: ChunkRows) -> ModuleMap:
    """The map of merged chunk rows, with the serial build's metadata."""
    return rows_to_map(*chunk)


def module_map_state(
    root: str | Path,
    refs: list[EventRef],
    selection: TruthSelection,
    mirror_z: bool,
    rotate_phi: bool,
) -> ChunkState:
    """Where :func:`build_module_map_parallel` keeps the finished chunks of this build."""
    key = {
        "events": refs,
        "selection": selection,
        "mirror_z": mirror_z,
        "rotate_phi": rotate_phi,
        "result": "rows",  # chunks store TripletRows (before: maps): never resume across that
    }
    return ChunkState.under(root, "module-map", key)


def build_module_map_parallel(
    refs: list[EventRef],
    selection: TruthSelection,
    options: ParallelOptions,
    mirror_z: bool = True,
    rotate_phi: bool = True,
    state_root: str | Path | None = None,
    progress: bool = True,
) -> ModuleMap:
    """The module map of the events ``refs`` built on the cluster of ``options``, equal to
    :func:`~acts_gnn.graph.module_map.build.build_module_map` over them (with the generic
    detector's symmetries when ``mirror_z`` or ``rotate_phi``). ``state_root``: keep finished
    chunks there (resume)."""
    if not refs:
        raise ValueError("no events to build a module map from")
    state = None
    if state_root is not None:
        state = module_map_state(state_root, refs, selection, mirror_z, rotate_phi)
    chunks = run_chunks(
        partial(_build_chunk, refs, selection, mirror_z, rotate_phi),
        len(refs),
        options,
        desc="module map",
        state=state,
        event_ids=[event_id for _, event_id in refs],
        progress=progress,
        reduce=merge_chunk_rows,
    )
    module_map = chunk_rows_map(chunks[0])
    if state is not None:
        state.remove()
    return module_map


__all__ = [
    "ChunkRows",
    "EventRef",
    "build_module_map_parallel",
    "chunk_rows_map",
    "merge_chunk_rows",
    "module_map_state",
]

"""``acts-gnn module-map build`` on a Dask cluster: a map per event range, merged exactly.

A module map is a reduction (per module triplet: occurrences summed, [min, max] ranges
united), so building it is a map-reduce: each task builds the map of its events with
:func:`acts_gnn.graph.module_map.build.build_module_map`, and the client unites the maps with
:class:`~acts_gnn.graph.module_map.builder.ModuleMapBuilder` (``add_map``: sums and min / max,
exact in float64 and independent of the order), so the arrays equal the serial build's.
The metadata is the serial build's too (events and symmetric copies summed).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from acts_gnn.distributed.executor import ChunkState, ParallelOptions, Ticker, run_chunks
from acts_gnn.graph.module_map.build import build_module_map
from acts_gnn.graph.module_map.builder import ModuleMapBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.truth import TruthSelection

#: (prepared folder, event id) of every event of the build, in the serial run's order.
EventRef = tuple[str, int]


def _build_chunk(
    refs: list[EventRef],
    selection: TruthSelection,
    mirror_z: bool,
    rotate_phi: bool,
    start: int,
    stop: int,
    ticker: Ticker,
) -> ModuleMap:
    from acts_gnn.io.event_store import PreparedDataset

    symmetry = None
    if mirror_z or rotate_phi:
        from acts_gnn.detector import load_generic_detector
        from acts_gnn.graph.module_map.symmetry import DetectorSymmetry

        symmetry = DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())
    folders: dict[str, list[int]] = {}
    for folder, event_id in refs[start:stop]:
        folders.setdefault(folder, []).append(event_id)
    events = (event for d, ids in folders.items() for event in PreparedDataset(d, ids))
    return build_module_map(events, selection, symmetry, mirror_z, rotate_phi, ticker)


def merge_chunk_maps(maps: list[ModuleMap]) -> ModuleMap:
    """The map of all the chunks' events, with the serial build's metadata."""
    builder = ModuleMapBuilder()
    for module_map in maps:
        builder.add_map(module_map)
    metadata: dict[str, Any] = {k: v for k, v in maps[0].metadata.items() if k != "samples"}
    metadata["events"] = sum(int(m.metadata.get("events", 0)) for m in maps)  # type: ignore[call-overload]
    metadata["augmented_samples"] = sum(
        int(m.metadata.get("augmented_samples", 0))  # type: ignore[call-overload]
        for m in maps
    )
    return builder.build(metadata)


def module_map_state(
    root: str | Path,
    refs: list[EventRef],
    selection: TruthSelection,
    mirror_z: bool,
    rotate_phi: bool,
) -> ChunkState:
    """Where :func:`build_module_map_parallel` keeps the finished chunks of this build."""
    key = {"events": refs, "selection": selection, "mirror_z": mirror_z, "rotate_phi": rotate_phi}
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
    maps = run_chunks(
        partial(_build_chunk, refs, selection, mirror_z, rotate_phi),
        len(refs),
        options,
        desc="module map",
        state=state,
        event_ids=[event_id for _, event_id in refs],
        progress=progress,
    )
    module_map = merge_chunk_maps(maps)
    if state is not None:
        state.remove()
    return module_map


__all__ = ["EventRef", "build_module_map_parallel", "merge_chunk_maps", "module_map_state"]

"""Graph files and graph sources: the graphs that evaluation and training read.

A *graph source* (:class:`GraphSource`) gives the graph of an event: ``(edge_index int64
[2, E] of hit-table rows, raw edge features float32 [E, 6] in
:data:`~acts_gnn.graph.features.EDGE_FEATURES` order, or None)``. The sources here:

* :class:`ModuleMapGraphs` (and :func:`module_map_graphs` from a map file): the C++
  module-map builder;
* :class:`StoredGraphs`: a folder of per-event graph files written by any builder
  (``acts-gnn graphs``, :mod:`acts_gnn.train.graph_files`);
* :class:`CachedGraphs`: another source whose graphs are stored in such a folder on first
  use and read from it afterwards.

Graph files: ``event<id:09d>-graph.npz`` (:func:`graph_path`) with ``edge_index`` int64
[2, E] and optionally ``edge_features`` float32 [E, 6]; written atomically
(:func:`save_graph`), checked on reading (:func:`load_graph`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.graph.features import EDGE_FEATURES
from acts_gnn.io.atomic import atomic_path

log = logging.getLogger(__name__)

#: The end of every graph file's name.
GRAPH_SUFFIX = "-graph.npz"


class GraphSource(Protocol):
    """Gives the graph of an event: (edge_index int64 [2, E], edge_features [E, 6] or None)."""

    def __call__(
        self, event: Event
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]: ...


# ---------------------------------------------------------------------------------------------
# graph files
# ---------------------------------------------------------------------------------------------


def graph_path(directory: str | Path, event_id: int) -> Path:
    """The graph file of event ``event_id`` in ``directory``."""
    return Path(directory) / f"event{event_id:09d}{GRAPH_SUFFIX}"


def save_graph(
    directory: str | Path,
    event_id: int,
    edge_index: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32] | None = None,
) -> Path:
    """Write one event's graph file (atomically); returns its path."""
    path = graph_path(directory, event_id)
    arrays: dict[str, Any] = {"edge_index": np.asarray(edge_index, np.int64)}
    if features is not None:
        arrays["edge_features"] = np.asarray(features, np.float32)
    with atomic_path(path) as partial, open(partial, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_graph(
    directory: str | Path, event_id: int, n_nodes: int | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
    """Read one event's graph file; checks the shapes (and node indices if ``n_nodes``)."""
    path = graph_path(directory, event_id)
    if not path.is_file():
        raise InputDataError("graph file does not exist", file=path, event=event_id)
    with np.load(path, allow_pickle=False) as data:
        if "edge_index" not in data.files:
            raise InputDataError("no edge_index in graph file", file=path, field="edge_index")
        edge_index = data["edge_index"].astype(np.int64)
        feats = data["edge_features"].astype(np.float32) if "edge_features" in data.files else None
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise InputDataError(
            f"edge_index must be [2, E], got {edge_index.shape}", file=path, field="edge_index"
        )
    if (
        n_nodes is not None
        and edge_index.size
        and (edge_index.min() < 0 or edge_index.max() >= n_nodes)
    ):
        raise InputDataError(
            f"edge_index outside the event's {n_nodes} hits", file=path, field="edge_index"
        )
    if feats is not None and feats.shape != (edge_index.shape[1], len(EDGE_FEATURES)):
        raise InputDataError(
            f"edge_features must be [E, {len(EDGE_FEATURES)}]", file=path, field="edge_features"
        )
    return edge_index, feats


# ---------------------------------------------------------------------------------------------
# graph sources
# ---------------------------------------------------------------------------------------------


class ModuleMapGraphs:
    """Graphs built with a module map (C++ core on CPU, ``n_threads`` threads)."""

    def __init__(self, module_map: Any, n_threads: int = 1) -> None:
        from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder

        self.builder = ModuleMapGraphBuilder(module_map, n_threads)
        self.unknown_module_hits = 0

    def __call__(self, event: Event) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        graph = self.builder(event.positions(), event.hits["geometry_id"])
        if graph.hits_unknown_module:
            self.unknown_module_hits += graph.hits_unknown_module
            log.info(
                "event %d: %d hits on modules missing from the module map (no edges)",
                event.event_id,
                graph.hits_unknown_module,
            )
        return graph.edge_index, graph.edge_features


def module_map_graphs(module_map: str | Path, n_threads: int = 1) -> GraphSource:
    """The graph source of the module map in the file ``module_map`` (any format)."""
    from acts_gnn.graph.module_map.formats import load_module_map

    return ModuleMapGraphs(load_module_map(module_map), n_threads)


class StoredGraphs:
    """Graphs read from a folder of ``event*-graph.npz`` files."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def __call__(
        self, event: Event
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        return load_graph(self.directory, event.event_id, event.n_hits)


class CachedGraphs:
    """Reads an event's graph from ``directory`` if stored there, else builds and stores it."""

    def __init__(self, source: GraphSource, directory: str | Path) -> None:
        self.source = source
        self.directory = Path(directory)

    def __call__(
        self, event: Event
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        if graph_path(self.directory, event.event_id).is_file():
            return load_graph(self.directory, event.event_id, event.n_hits)
        edge_index, feats = self.source(event)
        save_graph(self.directory, event.event_id, edge_index, feats)
        return edge_index, feats

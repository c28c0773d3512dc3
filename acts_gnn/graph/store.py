"""Graph files and graph sources: the graphs that evaluation and training read.

A *graph source* (:class:`GraphSource`) gives the graph of an event: ``(edge_index int64
[2, E] of hit-table rows, raw edge features float32 [E, 6] in
:data:`~acts_gnn.graph.features.EDGE_FEATURES` order, or None)``. The sources here:

* :class:`ModuleMapGraphs` (and :func:`module_map_graphs` from a map file): the C++
  module-map builder;
* :class:`StoredGraphs`: a folder of per-event graph files written by any builder
  (``acts-gnn graphs``, :mod:`acts_gnn.train.graph_files`);
* :class:`CachedGraphs`: another source whose graphs are stored in such a folder on first
  use and read from it afterwards. Each cached file carries the cache key of what it was
  built from: the source's :attr:`identity` (for a module map the SHA-256 of its content,
  :meth:`~acts_gnn.graph.module_map.map.ModuleMap.content_hash`) and the event's
  :func:`event_digest` (its hits); a file whose key differs from the current one (another
  map, another data set with the same event ids) is rebuilt, counted and logged, never used.

Graph files: ``event<id:09d>-graph.npz`` (:func:`graph_path`) with ``edge_index`` int64
[2, E] and optionally ``edge_features`` float32 [E, 6]; written atomically
(:func:`save_graph`), checked on reading (:func:`load_graph`).
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
import zlib
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


#: The entry of a cached graph file that holds its cache key (see :class:`CachedGraphs`).
CACHE_KEY = "cache_key"


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def event_digest(event: Event) -> str:
    """SHA-256 (hex) of an event's hits as a graph builder sees them: the number of hits,
    their geometry ids and positions (mm), in hit-table order."""
    digest = hashlib.sha256(f"{event.n_hits}".encode())
    digest.update(np.ascontiguousarray(event.hits["geometry_id"], np.uint64).tobytes())
    digest.update(np.ascontiguousarray(event.positions(), np.float64).tobytes())
    return digest.hexdigest()


def cache_key(identity: str, event: Event) -> str:
    """The key a graph file of ``event`` built by a source of ``identity`` carries:
    ``"<identity> event sha256:<event_digest>"``."""
    return f"{identity}{_EVENT_MARK}{event_digest(event)}"


_EVENT_MARK = " event sha256:"


def save_graph(
    directory: str | Path,
    event_id: int,
    edge_index: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32] | None = None,
    cache_key: str | None = None,
) -> Path:
    """Write one event's graph file (atomically), with ``cache_key`` if given; returns its
    path."""
    path = graph_path(directory, event_id)
    arrays: dict[str, Any] = {"edge_index": np.asarray(edge_index, np.int64)}
    if features is not None:
        arrays["edge_features"] = np.asarray(features, np.float32)
    if cache_key is not None:
        arrays[CACHE_KEY] = np.array(cache_key)
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
    try:
        with np.load(path, allow_pickle=False) as data:
            if "edge_index" not in data.files:
                raise InputDataError("no edge_index in graph file", file=path, field="edge_index")
            edge_index = data["edge_index"].astype(np.int64)
            feats = (
                data["edge_features"].astype(np.float32) if "edge_features" in data.files else None
            )
    except InputDataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise InputDataError(
            f"unreadable graph file (truncated or corrupted?): {type(err).__name__}: {err}",
            file=path,
            event=event_id,
        ) from err
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
        #: what the graphs depend on besides the event (a :class:`CachedGraphs` key)
        self.identity = f"module-map sha256:{module_map.content_hash()}"

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
    """Graphs read from a folder of ``event*-graph.npz`` files. A file that carries a cache
    key (``acts-gnn graphs`` and graph caches write one) must have been built from this
    event's hits: a folder of another data set with the same event ids raises
    InputDataError instead of giving another event's edges."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def __call__(
        self, event: Event
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        stored = stored_cache_key(self.directory, event.event_id)
        if stored is not None and not stored.endswith(f"{_EVENT_MARK}{event_digest(event)}"):
            raise InputDataError(
                "graph file built from other hits than this event's (a graphs folder of "
                "another data set with the same event ids?)",
                file=graph_path(self.directory, event.event_id),
                event=event.event_id,
                field=CACHE_KEY,
            )
        return load_graph(self.directory, event.event_id, event.n_hits)


def stored_cache_key(directory: str | Path, event_id: int) -> str | None:
    """The cache key stored in an event's graph file (None: no file, no key, or unreadable)."""
    path = graph_path(directory, event_id)
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(data[CACHE_KEY]) if CACHE_KEY in data.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        return None


class CachedGraphs:
    """Reads an event's graph from ``directory`` if stored there *for the same inputs*, else
    builds it with ``source`` and stores it.

    The cache key of an event is ``"<identity> event sha256:<event_digest>"``: ``identity``
    (default: ``source.identity``, e.g. the module map's content hash; for a source without
    one, its type) names everything the graph depends on besides the event. A stored file without that key (another map, another
    data set with the same event ids, a file of an older version, a damaged file) is rebuilt
    and overwritten; :attr:`rebuilt` counts them and the first is logged as a warning."""

    def __init__(
        self, source: GraphSource, directory: str | Path, identity: str | None = None
    ) -> None:
        self.source = source
        self.directory = Path(directory)
        identity = identity if identity is not None else getattr(source, "identity", None)
        # a source without an identity (a plain function) is keyed by its events only
        self.identity = str(identity) if identity else f"source {type(source).__qualname__}"
        self.rebuilt: list[int] = []

    def cache_key(self, event: Event) -> str:
        """The key a cached graph of ``event`` must carry."""
        return cache_key(self.identity, event)

    def __call__(
        self, event: Event
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        key = self.cache_key(event)
        if graph_path(self.directory, event.event_id).is_file():
            if stored_cache_key(self.directory, event.event_id) == key:
                return load_graph(self.directory, event.event_id, event.n_hits)
            if not self.rebuilt:
                log.warning(
                    "%s: the cached graph of event %d was built from other inputs (another "
                    "module map or data set); rebuilding every such graph",
                    self.directory,
                    event.event_id,
                )
            self.rebuilt.append(event.event_id)
        edge_index, feats = self.source(event)
        save_graph(self.directory, event.event_id, edge_index, feats, cache_key=key)
        return edge_index, feats

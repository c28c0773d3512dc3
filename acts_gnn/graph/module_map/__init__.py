"""The module map: which module triplets truth tracks cross, and the ranges of their geometry.

Each module has one role:

* :mod:`~acts_gnn.graph.module_map.map`: :class:`ModuleMap`, the container (ids, triplets,
  occurrences, cut ranges; derived doublets), with our own ``.npz`` save / load;
* :mod:`~acts_gnn.graph.module_map.compact`: the compact ``.npz`` encoding (float16 ranges);
* :mod:`~acts_gnn.graph.module_map.rounding`: outward rounding of cut bounds to a narrower
  float type (used by the compact encoding and the ROOT writer);
* :mod:`~acts_gnn.graph.module_map.builder`: :class:`ModuleMapBuilder` and
  :func:`merge_module_maps`, accumulating truth triplets into a map;
* :mod:`~acts_gnn.graph.module_map.build`: the event loops, building a map from prepared
  events and measuring one (edge efficiency, purity, time);
* :mod:`~acts_gnn.graph.module_map.symmetry`: detector symmetries that multiply the
  statistics of a map;
* :mod:`~acts_gnn.graph.module_map.graph_builder`: :class:`ModuleMapGraphBuilder`, the graph
  of one event with the C++ core (CPU);
* :mod:`~acts_gnn.graph.module_map.torch_builder`: the same graph with torch (CUDA or CPU);
* :mod:`~acts_gnn.graph.module_map.formats`: :func:`save_module_map` /
  :func:`load_module_map`, choosing among the file formats;
* :mod:`~acts_gnn.graph.module_map.acorn` and :mod:`~acts_gnn.graph.module_map.mmg_root`: the
  community's formats (acorn text, the ModuleMapGraph ROOT pair), sharing the column names of
  :mod:`~acts_gnn.graph.module_map.external_columns`.

:class:`ModuleMap`, :class:`ModuleMapBuilder`, :func:`merge_module_maps`,
:class:`ModuleMapGraphBuilder`, :func:`load_module_map` and :func:`save_module_map` can also be
imported from this package (each from its module, on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acts_gnn.graph.module_map.builder import ModuleMapBuilder, merge_module_maps
    from acts_gnn.graph.module_map.formats import load_module_map, save_module_map
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
    from acts_gnn.graph.module_map.map import ModuleMap

#: Where each public name of the package lives (name -> module).
_HOMES = {
    "ModuleMap": "acts_gnn.graph.module_map.map",
    "ModuleMapBuilder": "acts_gnn.graph.module_map.builder",
    "merge_module_maps": "acts_gnn.graph.module_map.builder",
    "ModuleMapGraphBuilder": "acts_gnn.graph.module_map.graph_builder",
    "load_module_map": "acts_gnn.graph.module_map.formats",
    "save_module_map": "acts_gnn.graph.module_map.formats",
}

__all__ = [
    "ModuleMap",
    "ModuleMapBuilder",
    "ModuleMapGraphBuilder",
    "load_module_map",
    "merge_module_maps",
    "save_module_map",
]
assert sorted(__all__) == sorted(_HOMES)


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (keeps ``uproot`` out until needed)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])

"""The module map: which module triplets truth tracks cross, and the ranges of their geometry.

:mod:`~acts_gnn.graph.module_map.core` holds the map, its builder and the C++ graph builder;
:mod:`~acts_gnn.graph.module_map.build` builds one from prepared events and measures it;
:mod:`~acts_gnn.graph.module_map.formats` reads and writes the community's file formats;
:mod:`~acts_gnn.graph.module_map.symmetry` multiplies its statistics with detector symmetries;
:mod:`~acts_gnn.graph.module_map.torch_builder` builds graphs with torch (CUDA or CPU).
"""

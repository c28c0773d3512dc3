"""The framework-free GNN track-finding chain: graph -> edge classifiers -> track building.

:mod:`~acts_gnn.chain.pipeline` runs the stages of one event; the edge-classifier stages live in
:mod:`~acts_gnn.chain.classify`, the track builders in :mod:`~acts_gnn.chain.tracks` (numpy /
C++) and :mod:`~acts_gnn.chain.tracks_torch` (torch, CUDA or CPU), and the shipped models and
the stage factories that read their metadata in :mod:`~acts_gnn.chain.defaults`. Nothing here
imports ACTS or :mod:`acts_gnn.train`.
"""

"""Evaluation and reports: GNN edge-level evaluation, the geometry report, and the plots.

* :mod:`~acts_gnn.evaluation.gnn`: ``acts-gnn evaluate-gnn`` (scores held-out events; the
  metrics themselves are in :mod:`acts_gnn.metrics.edges`);
* :mod:`~acts_gnn.evaluation.geometry`: ``acts-gnn geometry``, the report, built from
  :mod:`~acts_gnn.evaluation.geometry_configs` (do the digitization and space-point configs
  cover the detector?) and :mod:`~acts_gnn.evaluation.geometry_maps` (hits per volume,
  module-map connectivity);
* :mod:`~acts_gnn.evaluation.plots`: every figure of the package, in one style set up once.

Data flows one way: :mod:`acts_gnn.metrics` computes numbers, this package draws and reports
them (nothing in :mod:`acts_gnn.metrics` imports it).
"""

"""Evaluation and reports: GNN edge-level evaluation, the geometry report, and the plots.

:mod:`~acts_gnn.evaluation.gnn` (``acts-gnn evaluate-gnn``), :mod:`~acts_gnn.evaluation.geometry`
(``acts-gnn geometry``) and :mod:`~acts_gnn.evaluation.plots` (every figure, one style).
"""

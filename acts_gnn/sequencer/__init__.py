"""The ACTS integration: GNN track finding as ``acts.examples.Sequencer`` algorithms.

:mod:`~acts_gnn.sequencer.algorithm` (``TrackFindingAlgorithmGnn``),
:mod:`~acts_gnn.sequencer.reconstruction` (``addGnn``, ``addCkfReference`` and the other
``addXxx`` helpers), :mod:`~acts_gnn.sequencer.performance` (our track metrics as an algorithm)
and :mod:`~acts_gnn.sequencer.compare` (GNN vs seeding + CKF on the same events). These are
the only modules that need ``acts`` at import time.
"""

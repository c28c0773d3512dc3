"""Event-parallel commands on Dask (``--workers N`` / ``--scheduler ADDRESS``).

* :mod:`acts_gnn.distributed.executor` -- chunks of events as Dask tasks, the cluster, one
  progress bar, failing tasks named by their event range, resume from finished chunks;
* :mod:`~acts_gnn.distributed.simulate`, :mod:`~acts_gnn.distributed.prepare`,
  :mod:`~acts_gnn.distributed.module_map`, :mod:`~acts_gnn.distributed.evaluate`,
  :mod:`~acts_gnn.distributed.compare` -- the
  commands' tasks and the merges that make their outputs equal to a serial run's (the
  ``graphs`` command's are in :mod:`acts_gnn.train.graph_files_parallel`: training is the
  top layer, which this room does not import).

Imports: foundation, ``io``, ``detector``, ``simulation``, ``graph``, ``metrics``, ``chain``,
``evaluation``, ``sequencer`` (never ``train``). See docs/distributed.md.
"""

from acts_gnn.distributed.executor import ChunkError, ParallelOptions, run_chunks

__all__ = ["ChunkError", "ParallelOptions", "run_chunks"]

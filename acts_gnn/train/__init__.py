"""Training: configs, datasets, the training loop (with DDP) and model export.

``acts-gnn train gnn --config FILE.yaml`` runs :func:`train_gnn` (``train embedding``:
:func:`train_embedding`, ``train filter``: :func:`train_filter`); ``acts-gnn export gnn``
(``embedding``, ``filter``) runs :func:`export_checkpoint`. Names are imported on first use,
so that the command line (:mod:`acts_gnn.cli`, whose train and export subcommands call
:mod:`acts_gnn.train.commands`) starts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "config",
    "GnnTrainingConfig": "config",
    "load_config": "config",
    "save_config": "config",
    "GnnDataset": "data",
    "GraphSample": "data",
    "build_datasets": "data",
    "export_checkpoint": "export",
    "export_onnx": "export",
    "export_torchscript": "export",
    "GnnTrainer": "loop",
    "TrainingResult": "loop",
    "train_gnn": "loop",
    "EmbeddingTrainingConfig": "graph_config",
    "FilterTrainingConfig": "graph_config",
    "EmbeddingTrainer": "embedding",
    "train_embedding": "embedding",
    "FilterTrainer": "filter",
    "train_filter": "filter",
    "export_embedding": "export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"acts_gnn.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'acts_gnn.train' has no attribute {name!r}")

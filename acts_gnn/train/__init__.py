"""Training: configs, datasets, the training loop (with DDP) and model export.

``acts-gnn train gnn --config FILE.yaml`` runs :func:`train_gnn`; ``acts-gnn export gnn``
runs :func:`export_checkpoint`.
"""

from acts_gnn.train.config import ConfigError, GnnTrainingConfig, load_config, save_config
from acts_gnn.train.data import GnnDataset, GraphSample, build_datasets
from acts_gnn.train.export import (
    export_checkpoint,
    export_onnx,
    export_torchscript,
    model_from_checkpoint,
)
from acts_gnn.train.loop import GnnTrainer, TrainingResult, train_gnn

__all__ = [
    "ConfigError",
    "GnnDataset",
    "GnnTrainer",
    "GnnTrainingConfig",
    "GraphSample",
    "TrainingResult",
    "build_datasets",
    "export_checkpoint",
    "export_onnx",
    "export_torchscript",
    "load_config",
    "model_from_checkpoint",
    "save_config",
    "train_gnn",
]

"""Starting weights for fine-tuning (``training.init_from``).

A training run normally starts from random weights drawn from ``seed``. With
``training.init_from: FILE`` it starts from the weights of an earlier model instead: a
TorchScript file exported by ``acts-gnn export`` (the shipped ``geometry/generic/models/*.pt``)
or a training checkpoint (``<output>/checkpoints/*.pt``). Only the weights are taken; the
optimizer, the schedule and the epoch count start afresh, so a fine-tuning run is an ordinary
run of its own config (resumable, reproducible) that happens to begin elsewhere.

The file must hold the same kind of model with the same architecture, and the features and
scales it was trained on must equal the config's: anything else would be silently reinterpreted
inputs, so each difference is refused by name. The file's SHA-256 is recorded in the run's
metadata, so an exported model says where it started from.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

from torch import nn

from acts_gnn.nn.files import load_checkpoint, load_torchscript, read_torchscript_metadata
from acts_gnn.train.config import ConfigError

#: Metadata that must agree between the starting model and the config being trained.
MATCHING_METADATA = ("node_features", "feature_scales", "edge_features", "edge_feature_scales")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (it has compiled code); checkpoints are plain pickles in a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except zipfile.BadZipFile:
        return False  # load_checkpoint names the damaged file


def _read_weights(path: Path) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
    """(state dict, model name, model config, metadata) of a checkpoint or TorchScript file."""
    if not _is_torchscript(path):
        checkpoint = load_checkpoint(path)
        return (
            checkpoint["model_state"],
            str(checkpoint.get("model", "")),
            dict(checkpoint.get("model_config", {})),
            dict(checkpoint.get("metadata", {})),
        )
    metadata = read_torchscript_metadata(path)
    state = load_torchscript(path).state_dict()
    return state, str(metadata.get("model", "")), dict(metadata.get("model_config", {})), metadata


def load_initial_weights(
    model: nn.Module, path: str | Path, metadata: dict[str, Any]
) -> dict[str, Any]:
    """Copy the weights of ``path`` into ``model`` (in place) and return the provenance to
    record (``{"init_from": path, "init_from_sha256": ...}``).

    ``metadata`` is what the run will record for its own model (features and scales); a
    mismatch in the model kind, its architecture (``model.config``) or in
    :data:`MATCHING_METADATA` raises :class:`ConfigError` naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training.init_from: {path} does not exist")
    state, name, config, source_metadata = _read_weights(path)
    kind = type(model).__name__
    if name != kind:
        raise ConfigError(
            f"training.init_from: {path} holds a {name or 'unknown'} model, not {kind}"
        )
    own_config = getattr(model, "config", None)
    if config != own_config:
        raise ConfigError(
            f"training.init_from: {path}: model_config {config} differs from the config's "
            f"{own_config}; fine-tuning needs the same architecture"
        )
    for key in MATCHING_METADATA:
        if key in metadata and source_metadata.get(key) != metadata[key]:
            raise ConfigError(
                f"training.init_from: {path}: {key} {source_metadata.get(key)} differs from "
                f"the config's {metadata[key]}"
            )
    model.load_state_dict(state)
    return {"init_from": str(path), "init_from_sha256": _file_sha256(path)}

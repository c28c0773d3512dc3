"""Fine-tuning: ``training.init_from`` starts a run from an earlier model's weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acts_gnn.nn.files import load_torchscript, read_torchscript_metadata
from acts_gnn.train.config import ConfigError
from acts_gnn.train.loop import GnnTrainer, train_gnn
from tests.train.test_loop import tiny_config


def _first_run(tmp_path: Path) -> Path:
    train_gnn(tiny_config(tmp_path / "first", training={"export": True}))
    return tmp_path / "first"


def _same_weights(a: torch.nn.Module, b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, b[k]) for k, v in a.state_dict().items())


def test_starts_from_exported_and_checkpoint_weights(tmp_path: Path) -> None:
    first = _first_run(tmp_path)
    exported = load_torchscript(first / "gnn.pt").state_dict()
    fresh = GnnTrainer(tiny_config(tmp_path / "fresh"))
    assert not _same_weights(fresh.model, exported)  # a fresh run starts elsewhere
    for source in (first / "gnn.pt", first / "checkpoints" / "last.pt"):
        config = tiny_config(
            tmp_path / f"tune-{source.stem}", training={"init_from": str(source), "export": True}
        )
        trainer = GnnTrainer(config)
        assert _same_weights(trainer.model, exported)
        trainer.fit()
        assert not _same_weights(trainer.model, exported)  # and it learns from there
        metadata = read_torchscript_metadata(tmp_path / f"tune-{source.stem}" / "gnn.pt")
        assert metadata["init_from"] == str(source)
        assert len(metadata["init_from_sha256"]) == 64


def test_refuses_another_architecture_or_features(tmp_path: Path) -> None:
    source = str(_first_run(tmp_path) / "gnn.pt")
    wider = tiny_config(tmp_path / "a", model={"hidden": 32}, training={"init_from": source})
    with pytest.raises(ConfigError, match="same architecture"):
        GnnTrainer(wider)
    scales = tiny_config(
        tmp_path / "b",
        data={"edge_feature_scales": [50.0, 0.1, 100.0, 0.001]},
        training={"init_from": source},
    )
    with pytest.raises(ConfigError, match="edge_feature_scales"):
        GnnTrainer(scales)
    missing = tiny_config(tmp_path / "c", training={"init_from": str(tmp_path / "none.pt")})
    with pytest.raises(ConfigError, match="does not exist"):
        GnnTrainer(missing)

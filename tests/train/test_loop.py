"""The training loop: learning, checkpoints and resume, schedules, precision, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from acts_gnn.train.config import ConfigError, GnnTrainingConfig, config_from_dict, save_config
from acts_gnn.train.loop import GnnTrainer, lr_factor, train_gnn

EDGE_FEATURES = ["dr", "dphi", "dz", "phi_slope"]
EDGE_SCALES = [100.0, 0.1, 100.0, 0.001]


def tiny_config(output: Path, **sections: dict[str, Any]) -> GnnTrainingConfig:
    """Toy events, a 16-wide 2-step model, no exports; ``sections`` update the defaults."""
    data: dict[str, Any] = {
        "output": str(output),
        "seed": 5,
        "data": {
            "source": "synthetic",
            "synthetic": {"n_events": 6, "n_particles": 30, "noise_hits": 40},
            "train_events": 5,
            "val_events": 1,
            "edge_features": EDGE_FEATURES,
            "edge_feature_scales": EDGE_SCALES,
        },
        "model": {"hidden": 16, "n_iterations": 2},
        "optimizer": {"lr": 0.01, "scheduler": "step", "step_size": 1, "gamma": 0.8},
        "loss": {"pos_weight": 1.0},
        "training": {
            "epochs": 2,
            "batch_size": 2,
            "export": False,
            "progress": False,
            "phi_reflection": 0.5,
        },
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return config_from_dict(data)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["model_state"]


def test_loss_decreases(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        data={"train_events": 6, "val_events": 0},
        optimizer={"scheduler": "none"},
        training={"epochs": 10, "batch_size": 1, "phi_reflection": 0.0},
    )
    trainer = GnnTrainer(config)
    initial = trainer.evaluate(trainer.train_set)["loss"]
    trainer.fit()
    final = trainer.evaluate(trainer.train_set)
    assert final["loss"] < 0.5 * initial
    assert final["efficiency"] > 0.8
    assert final["purity"] > 0.8


def test_outputs_and_exports(tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "run", training={"export": True})
    result = train_gnn(config)
    out = tmp_path / "run"
    assert (out / "config.yaml").is_file()
    for name in ("last.pt", "best.pt", "epoch-001.pt", "epoch-002.pt"):
        assert (out / "checkpoints" / name).is_file()
    assert not list(out.rglob("*.partial"))
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"train_loss", "val_loss", "val_efficiency", "val_purity", "lr"} <= set(history[0])
    assert history[1]["lr"] == pytest.approx(0.8 * history[0]["lr"])
    assert [p.name for p in result.files] == ["gnn.onnx", "gnn.pt"]


def test_resume_gives_identical_weights(tmp_path: Path) -> None:
    straight = tiny_config(tmp_path / "a")
    train_gnn(straight)

    first = tiny_config(tmp_path / "b", training={"epochs": 1})
    train_gnn(first)
    with pytest.raises(ConfigError, match="--resume"):
        train_gnn(tiny_config(tmp_path / "b"))
    resumed = train_gnn(tiny_config(tmp_path / "b"), resume=True)
    assert len(resumed.history) == 2

    a = weights(tmp_path / "a" / "checkpoints" / "last.pt")
    b = weights(tmp_path / "b" / "checkpoints" / "last.pt")
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    train_gnn(tiny_config(tmp_path, training={"epochs": 1}))
    with pytest.raises(ConfigError, match="same architecture"):
        train_gnn(tiny_config(tmp_path, model={"hidden": 8}), resume=True)


def test_gradient_checkpointing_and_bf16(tmp_path: Path) -> None:
    plain = train_gnn(tiny_config(tmp_path / "plain", training={"epochs": 1}))
    ckpt = train_gnn(
        tiny_config(tmp_path / "ckpt", training={"epochs": 1, "gradient_checkpointing": True})
    )
    for p, q in zip(plain.model.parameters(), ckpt.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)
    bf16 = train_gnn(
        tiny_config(tmp_path / "bf16", training={"epochs": 1, "mixed_precision": "bf16"})
    )
    assert all(torch.isfinite(p).all() for p in bf16.model.parameters())
    assert bf16.history[0]["train_loss"] == pytest.approx(plain.history[0]["train_loss"], rel=0.1)


def test_fp16_needs_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        GnnTrainer(tiny_config(tmp_path, training={"mixed_precision": "fp16"}))


def test_learning_rate_schedules(tmp_path: Path) -> None:
    step = tiny_config(tmp_path, optimizer={"step_size": 2, "gamma": 0.5, "warmup_epochs": 0})
    assert [lr_factor(step, e) for e in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    cosine = tiny_config(
        tmp_path,
        optimizer={"scheduler": "cosine", "lr": 0.01, "min_lr": 0.001, "warmup_epochs": 1},
        training={"epochs": 5},
    )
    factors = [lr_factor(cosine, e) for e in range(5)]
    assert factors[0] == pytest.approx(0.5)  # warm-up
    assert factors[1] == pytest.approx(1.0)
    assert factors == sorted(factors[:1]) + sorted(factors[1:], reverse=True)
    assert lr_factor(cosine, 5) == pytest.approx(0.1)


def test_ddp_two_processes_equal_one(tmp_path: Path) -> None:
    """torchrun with 2 CPU processes (gloo) gives the weights of one process on the same
    global batches: 5 events in batches of 4, so the last step leaves one process idle."""
    single = tiny_config(tmp_path / "single", training={"epochs": 1, "batch_size": 4})
    train_gnn(single)

    ddp = tiny_config(tmp_path / "ddp", training={"epochs": 1, "batch_size": 4})
    config_file = save_config(ddp, tmp_path / "ddp.yaml")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "acts_gnn.train",
        "--config",
        str(config_file),
        "--quiet",
    ]
    # Run outside the checkout: there the source folder would shadow the installed package
    # (whose C++ extension the source folder lacks when the package is not installed editable).
    run = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    state = torch.load(tmp_path / "ddp" / "checkpoints" / "last.pt", weights_only=False)
    assert state["world_size"] == 2
    a = weights(tmp_path / "single" / "checkpoints" / "last.pt")
    b = state["model_state"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)


def test_phi_sectors_multiply_the_steps(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, training={"phi_sectors": 3, "batch_size": 1, "epochs": 1})
    trainer = GnnTrainer(config)
    batches = trainer.epoch_batches(0)
    assert sorted(i for b in batches for i in b) == list(range(15))
    sizes = [trainer._training_sample(i, 0).n_nodes for i in range(3)]
    assert sum(sizes) == trainer.train_set[0].n_nodes
    assert trainer.fit().history[0]["train_loss"] > 0


def test_phi_sectors_are_not_for_the_embedding(tmp_path: Path) -> None:
    from acts_gnn.train.graph_config import EmbeddingTrainingConfig

    with pytest.raises(ConfigError, match="phi_sectors"):
        config_from_dict(
            {"data": {"source": "synthetic"}, "training": {"phi_sectors": 2}},
            "config",
            EmbeddingTrainingConfig,
        )

"""Embedding training: pairs and hinge loss, learning, outputs, resume, export, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from acts_gnn.cli import main
from acts_gnn.graph.metric_learning import MetricLearning
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.nn.files import read_onnx_metadata, read_torchscript_metadata
from acts_gnn.train.config import ConfigError, config_from_dict, load_config
from acts_gnn.train.embedding import (
    EmbeddingTrainer,
    PairBatch,
    hinge_loss,
    train_embedding,
    undirected_keys,
)
from acts_gnn.train.export import VERIFY_NODES, export_embedding
from acts_gnn.train.graph_config import EmbeddingTrainingConfig

TINY = Path(__file__).resolve().parents[2] / "configs" / "embedding-tiny.yaml"


def tiny_config(output: Path, **sections: dict[str, Any]) -> EmbeddingTrainingConfig:
    """configs/embedding-tiny.yaml, quiet, no exports; ``sections`` update it."""
    data = yaml.safe_load(TINY.read_text())
    data["output"] = str(output)
    data["training"].update(progress=False, export=False)
    data["data"]["synthetic"].update(n_events=6, n_particles=30)
    data["data"].update(train_events=5, val_events=1)
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return config_from_dict(data, "tiny", EmbeddingTrainingConfig)


def test_hinge_loss_definition() -> None:
    emb = torch.tensor([[0.0, 0.0], [0.6, 0.0], [0.0, 2.0], [0.3, 0.4]])
    i = torch.tensor
    pairs = PairBatch(
        i([0]), i([1]), torch.ones(1), i([0, 0, 1]), i([2, 3, 3]), torch.tensor([1.0, 1.0, 2.0])
    )
    # positives: d^2 = 0.36; negatives: max(0, 1 - d^2) = 0, 0.75, 1 - 0.25 = 0.75 (weight 2)
    expected = (0 + 0.75 + 2 * 0.75) / 4 + 3.0 * 0.36
    assert float(hinge_loss(emb, pairs, 1.0, 3.0)) == pytest.approx(expected)
    # contrastive negatives max(0, 1 - d)^2: d = 2, 0.5, sqrt(0.09 + 0.16) = 0.5
    linear = (0 + 0.25 + 2 * 0.25) / 4 + 3.0 * 0.36
    assert float(hinge_loss(emb, pairs, 1.0, 3.0, negatives="linear")) == pytest.approx(linear)
    # embeddings of a subset of hits (index) give the same loss
    sub = torch.tensor([0, 1, 2, 3, 7])
    padded = torch.cat([emb, torch.zeros(1, 2)])
    assert float(hinge_loss(padded, pairs, 1.0, 3.0, sub)) == pytest.approx(expected)


def test_pairs(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, loss={"same_particle_weight": 0.5, "non_target_weight": 0.3})
    trainer = EmbeddingTrainer(config)
    sample = trainer.train_set[0]
    pairs = trainer.make_pairs(sample, 1, 0, mine=True)
    n = sample.n_nodes
    truth = undirected_keys(sample.truth, n)
    assert torch.equal(undirected_keys(torch.stack([pairs.pos_a, pairs.pos_b]), n), truth)
    assert pairs.pos_w.unique().tolist() == pytest.approx([0.3, 1.0])
    neg = undirected_keys(torch.stack([pairs.neg_a, pairs.neg_b]), n)
    assert not bool(torch.isin(neg, truth).any())
    assert bool((pairs.neg_a != pairs.neg_b).all())
    same = (sample.particle[pairs.neg_a] == sample.particle[pairs.neg_b]) & (
        sample.particle[pairs.neg_a] >= 0
    )
    assert bool(same.any())
    assert torch.equal(pairs.neg_w, torch.where(same, 0.5, 1.0))
    # more negatives with mining than random pairs alone; deterministic for (seed, epoch, event)
    random_only = trainer.make_pairs(sample, 1, 0, mine=False)
    assert random_only.neg_a.numel() < pairs.neg_a.numel()
    again = trainer.make_pairs(sample, 1, 0, mine=True)
    assert torch.equal(again.neg_b, pairs.neg_b)


def test_training_learns_and_writes_outputs(tmp_path: Path) -> None:
    config = tiny_config(
        tmp_path,
        data={"synthetic": {"n_events": 14, "n_particles": 30, "noise_hits": 20}},
        training={"epochs": 12, "export": True, "phi_reflection": 0.0},
        optimizer={"lr": 0.005},
    )
    config.data.train_events, config.data.val_events = 12, 2
    trainer = EmbeddingTrainer(config)
    before = trainer.evaluate()
    result = trainer.fit()
    after = result.history[-1]
    first_mined = result.history[config.mining.hnm_start_epoch]  # (harder pairs from here)
    assert after["train_loss"] < 0.8 * first_mined["train_loss"]
    assert after["val_loss"] < 0.8 * before["loss"]
    assert after["val_efficiency"] > 0.85
    assert after["val_purity"] > 5 * before["purity"]
    assert after["val_r_target"] in config.graph.radii  # 99% efficiency is reached
    assert after["val_purity_at_r_target"] > 2 * before["purity_at_r_target"]
    out = tmp_path
    assert (out / "config.yaml").is_file()
    assert (out / "checkpoints" / "last.pt").is_file()
    scan = json.loads((out / "radius_scan.json").read_text())
    assert [s["r"] for s in scan] == sorted({*config.graph.radii, config.graph.r})
    assert [p.name for p in result.files] == ["embedding.onnx", "embedding.pt"]
    meta = read_onnx_metadata(out / "embedding.onnx")
    assert meta["node_features"] == ["r", "phi", "z", "eta"]
    assert meta["k"] == config.graph.k
    assert meta["r"] == trainer.chosen_r
    assert read_torchscript_metadata(out / "embedding.pt")["embedding_dim"] == 8
    # the exported model drives the graph stage with the chosen radius
    graph = MetricLearning(out / "embedding.pt").for_event(trainer.val_set.events[0])
    assert graph.n_edges > 0


def test_resume_gives_identical_weights(tmp_path: Path) -> None:
    straight = tiny_config(tmp_path / "a", training={"epochs": 3})
    train_embedding(straight)
    train_embedding(tiny_config(tmp_path / "b", training={"epochs": 2}))
    with pytest.raises(ConfigError, match="--resume"):
        train_embedding(tiny_config(tmp_path / "b", training={"epochs": 3}))
    resumed = train_embedding(tiny_config(tmp_path / "b", training={"epochs": 3}), resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]

    def weights(folder: str) -> dict[str, torch.Tensor]:
        path = tmp_path / folder / "checkpoints" / "last.pt"
        return torch.load(path, weights_only=False)["model_state"]

    a, b = weights("a"), weights("b")
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("normalize", "octaves"), [(False, 0), (True, 0), (False, 5)])
def test_export_parity(tmp_path: Path, normalize: bool, octaves: int) -> None:
    from acts_gnn.extras import onnxruntime
    from acts_gnn.nn.files import load_torchscript

    torch.manual_seed(1)
    model = EmbeddingNet(
        4,
        embedding_dim=8,
        hidden=24,
        n_layers=3,
        normalize=normalize,
        fourier_octaves=octaves,
        periodic_features=[1] if octaves else [],
    ).eval()
    onnx_file, script_file = tmp_path / "e.onnx", tmp_path / "e.pt"
    export_embedding(model, onnx_file, script_file)
    session = onnxruntime().InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    scripted = load_torchscript(script_file)
    assert {0, 1} <= set(VERIFY_NODES)
    for n in (0, 1, 5, 3000):
        x = torch.randn(n, 4) * 2
        with torch.no_grad():
            ref = model(x)
            (out,) = session.run(None, {"x": x.numpy()})
            assert out.shape == (n, 8)
            np.testing.assert_allclose(out, ref.numpy(), atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(scripted(x), ref)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_train_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["train", "embedding", "-c", str(TINY), "-o", str(out), "--epochs", "1", "-q"]
    assert main([*args, "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "epoch 1:" in text
    assert "embedding.onnx" in text
    assert load_config(out / "config.yaml", EmbeddingTrainingConfig).model.hidden == 32
    onnx = tmp_path / "exp" / "emb.onnx"
    code = main(
        [
            "export",
            "embedding",
            "--checkpoint",
            str(out / "checkpoints" / "last.pt"),
            "--onnx",
            str(onnx),
        ]
    )
    assert code == 0
    assert read_onnx_metadata(onnx)["model"] == "EmbeddingNet"
    # another operating point recorded at export; unknown keys and non-JSON refused
    checkpoint = ["export", "embedding", "--checkpoint", str(out / "checkpoints" / "last.pt")]
    script = tmp_path / "exp" / "emb.pt"
    overrides = ["--metadata", "r=0.45", "--metadata", "k=77"]
    assert main([*checkpoint, "--torchscript", str(script), *overrides]) == 0
    meta = read_torchscript_metadata(script)
    assert (meta["r"], meta["k"], meta["embedding_dim"]) == (0.45, 77, 8)
    assert main([*checkpoint, "--onnx", str(onnx), "--metadata", "radius=0.4"]) == 2
    assert "['radius'] are not recorded" in capsys.readouterr().err
    assert main([*checkpoint, "--onnx", str(onnx), "--metadata", "r"]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("mining:\n  knn_val: 3\n")
    assert main(["train", "embedding", "--config", str(bad)]) == 2
    assert "'knn_val'" in capsys.readouterr().err


def test_phi_sectors(tmp_path: Path) -> None:
    import math

    config = tiny_config(
        tmp_path, mining={"phi_slices": 3}, graph={"val_phi_slices": 2}, training={"epochs": 1}
    )
    trainer = EmbeddingTrainer(config)
    sample = trainer.train_set[0]
    width = 2 * math.pi / 3
    parts = [sample.sector(-math.pi + i * width, width) for i in range(3)]
    assert sum(p.n_nodes for p in parts) == sample.n_nodes
    assert sum(p.truth.shape[1] for p in parts) <= sample.truth.shape[1]
    for p in parts:  # re-indexed truth pairs join hits of one particle
        assert bool((p.particle[p.truth[0]] == p.particle[p.truth[1]]).all())
    wrapped = sample.sector(math.pi - 0.5, 1.0)  # across phi = +-pi
    assert bool(((wrapped.phi > math.pi - 0.5) | (wrapped.phi < -math.pi + 0.5)).all())
    result = trainer.fit()
    assert math.isfinite(result.history[0]["train_loss"])
    assert math.isfinite(result.history[0]["val_efficiency"])

"""Edge-filter training on metric-learning graphs: balanced batches, learning, cut, exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier
from acts_gnn.cli import main
from acts_gnn.graph.features import EDGE_FEATURES
from acts_gnn.graph.store import graph_path
from acts_gnn.nn.files import read_onnx_metadata, read_torchscript_metadata
from acts_gnn.nn.filter import EdgeFilter
from acts_gnn.train.config import ConfigError, config_from_dict
from acts_gnn.train.embedding import train_embedding
from acts_gnn.train.export import export_onnx
from acts_gnn.train.filter import FilterTrainer, train_filter
from acts_gnn.train.graph_config import EmbeddingTrainingConfig, FilterTrainingConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def embedding(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny embedding trained on toy events (TorchScript file, with its radius)."""
    data = yaml.safe_load((CONFIGS / "embedding-tiny.yaml").read_text())
    data["output"] = str(tmp_path_factory.mktemp("embedding"))
    data["training"].update(epochs=4, progress=False)
    config = config_from_dict(data, "embedding-tiny", EmbeddingTrainingConfig)
    result = train_embedding(config)
    return result.output / "embedding.pt"


def tiny_config(output: Path, embedding: Path, **sections: dict[str, Any]) -> FilterTrainingConfig:
    data = yaml.safe_load((CONFIGS / "filter-tiny.yaml").read_text())
    data["output"] = str(output)
    data["graph"]["embedding"] = str(embedding)
    data["training"].update(progress=False, export=False)
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return config_from_dict(data, "filter-tiny", FilterTrainingConfig)


def test_balanced_batches(tmp_path: Path, embedding: Path) -> None:
    config = tiny_config(
        tmp_path, embedding, sampling={"hard_negatives": 1.0, "easy_negatives": 2.0}
    )
    trainer = FilterTrainer(config)
    sample = trainer.train_set[0]
    chosen = trainer.balanced_edges(sample, 0, 0)
    true = (sample.y > 0.5) & (sample.weight > 0)
    assert bool(true[chosen].sum() == true.sum())  # every true edge
    n_fake = int((~true[chosen]).sum())
    n_true = int(true.sum())
    assert 2 * n_true <= n_fake <= 3 * n_true  # easy (2x) + hard (1x), possibly overlapping
    assert n_fake < int((sample.y < 0.5).sum())  # far from all fakes
    assert torch.equal(chosen, trainer.balanced_edges(sample, 0, 0))  # deterministic
    # the hard ones are the fakes the current model scores highest
    with torch.no_grad():
        scores = trainer.model(sample.x, sample.edge_index, sample.edge_attr)
    fake_scores = scores[sample.y < 0.5]
    top = torch.topk(fake_scores, n_true).values.min()
    assert int((scores[chosen][~true[chosen]] >= top).sum()) >= n_true
    # the graphs were built by the embedding stage and cached
    assert graph_path(tmp_path / "graphs", sample.event_id).is_file()
    everything = tiny_config(tmp_path / "all", embedding, sampling={"balanced": False})
    all_weighted = int((sample.weight > 0).sum())  # (non-target truth edges have weight 0)
    assert FilterTrainer(everything).balanced_edges(sample, 0, 0).numel() == all_weighted


def test_phi_sectors_give_more_steps_on_wedges(tmp_path: Path, embedding: Path) -> None:
    config = tiny_config(tmp_path, embedding, training={"epochs": 1, "phi_sectors": 4})
    trainer = FilterTrainer(config)
    n_events = len(trainer.train_set)
    assert sorted(i for b in trainer.epoch_batches(0) for i in b) == list(range(4 * n_events))
    wedges = [trainer._training_sample(i, 0) for i in range(4)]
    whole = trainer.train_set[0]
    assert sum(w.n_nodes for w in wedges) == whole.n_nodes
    assert sum(w.n_edges for w in wedges) < whole.n_edges  # border-crossing edges dropped
    assert trainer.fit().history[0]["train_loss"] > 0


def test_training_learns_cut_and_exports(tmp_path: Path, embedding: Path) -> None:
    config = tiny_config(
        tmp_path,
        embedding,
        training={"epochs": 8, "export": True},
        optimizer={"lr": 0.01},
    )
    trainer = FilterTrainer(config)
    before = trainer.evaluate()
    result = trainer.fit()
    after = result.history[-1]
    assert after["val_loss"] < 0.7 * before["loss"]
    assert after["val_cut_target"] > 0.0
    assert after["val_purity_at_cut_target"] > 1.5 * before["purity_at_cut_target"]
    meta = read_onnx_metadata(tmp_path / "filter.onnx")
    assert meta["score_cut"] == pytest.approx(after["val_cut_target"])
    assert meta["edge_features"] == ["dr", "dphi", "dz", "deta"]
    assert read_torchscript_metadata(tmp_path / "filter.pt")["graph"]["embedding"] == str(embedding)
    # the exported filter runs in the edge-classifier stages with the same scores; the stages
    # take raw edge features [E, 6] (EDGE_FEATURES) and select and scale them as the metadata says
    sample = trainer.val_set[0]
    ref = torch.sigmoid(trainer.model.eval()(sample.x, sample.edge_index, sample.edge_attr))
    assert sample.edge_attr is not None
    raw_edge_attr = torch.zeros(sample.n_edges, len(EDGE_FEATURES))
    selected = [EDGE_FEATURES.index(name) for name in meta["edge_features"]]
    raw_edge_attr[:, selected] = sample.edge_attr * torch.tensor(meta["edge_feature_scales"])
    for stage in (
        TorchEdgeClassifier(tmp_path / "filter.pt", cut=meta["score_cut"], useEdgeFeatures=True),
        TorchEdgeClassifier(tmp_path / "checkpoints" / "last.pt", useEdgeFeatures=True, nChunks=3),
        OnnxEdgeClassifier(tmp_path / "filter.onnx", useEdgeFeatures=True),
    ):
        scores = stage.classify(sample.x, sample.edge_index, raw_edge_attr).scores
        torch.testing.assert_close(scores, ref.detach(), atol=1e-5, rtol=1e-4)


def test_resume_gives_identical_weights(tmp_path: Path, embedding: Path) -> None:
    graphs = {"graphs": None}
    train_filter(tiny_config(tmp_path / "a", embedding, training={"epochs": 2}))
    train_filter(tiny_config(tmp_path / "b", embedding, training={"epochs": 1}, data=graphs))
    resumed = train_filter(
        tiny_config(tmp_path / "b", embedding, training={"epochs": 2}), resume=True
    )
    assert len(resumed.history) == 2
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)
    for key in a["model_state"]:
        assert torch.equal(a["model_state"][key], b["model_state"][key]), key
    # stored graphs can replace the embedding
    stored = tiny_config(tmp_path / "c", embedding, data={"graphs": str(tmp_path / "a" / "graphs")})
    assert (
        FilterTrainer(stored).train_set[0].n_edges
        == FilterTrainer(tiny_config(tmp_path / "d", embedding)).train_set[0].n_edges
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_filter_export_parity(tmp_path: Path) -> None:
    from acts_gnn.extras import onnxruntime

    torch.manual_seed(2)
    model = EdgeFilter(4, 3, hidden=16, n_layers=2).eval()
    path = export_onnx(model, tmp_path / "f.onnx")
    session = onnxruntime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n, e in ((0, 0), (1, 1), (50, 400), (2000, 30000)):
        x = torch.randn(n, 4)
        edge_index = torch.randint(0, max(n, 1), (2, e))
        edge_attr = torch.randn(e, 3)
        (out,) = session.run(
            None, {"x": x.numpy(), "edge_index": edge_index.numpy(), "edge_attr": edge_attr.numpy()}
        )
        with torch.no_grad():
            ref = model(x, edge_index, edge_attr).numpy()
        assert out.reshape(-1).shape == (e,)
        np.testing.assert_allclose(out.reshape(-1), ref, atol=1e-5, rtol=1e-4)


def test_config_errors(tmp_path: Path, embedding: Path) -> None:
    with pytest.raises(ConfigError, match=r"graph\.embedding"):
        tiny_config(tmp_path, embedding, graph={"embedding": None})
    with pytest.raises(ConfigError, match="unknown key"):
        tiny_config(tmp_path, embedding, sampling={"hard": 1.0})
    with pytest.raises(ConfigError, match="module_map"):
        tiny_config(tmp_path, embedding, data={"module_map": "x.npz"})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_train_and_export(
    tmp_path: Path, embedding: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config(tmp_path / "cfg", embedding, training={"epochs": 1})
    from acts_gnn.train.config import save_config

    path = save_config(config, tmp_path / "filter.yaml")
    out = tmp_path / "run"
    assert main(["train", "filter", "-c", str(path), "-o", str(out), "-q", "--device", "cpu"]) == 0
    assert "epoch 1:" in capsys.readouterr().out
    script = tmp_path / "exp" / "f.pt"
    code = main(
        [
            "export",
            "filter",
            "--checkpoint",
            str(out / "checkpoints" / "last.pt"),
            "--torchscript",
            str(script),
        ]
    )
    assert code == 0
    assert read_torchscript_metadata(script)["model"] == "EdgeFilter"

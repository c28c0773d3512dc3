"""Edge-classifier stages: cut, undirected, chunking, feature selection, backends agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier
from acts_gnn.nn import InteractionNetwork
from acts_gnn.nn.files import random_graph
from acts_gnn.train.export import export_onnx, export_torchscript

pytest.importorskip("onnxruntime")


def gnn(edge_features: int = 0) -> InteractionNetwork:
    torch.manual_seed(11)
    return InteractionNetwork(3, edge_features, hidden=16, n_iterations=2).eval()


class EdgeMLP(nn.Module):
    """A per-edge model (filter-like): no message passing, no forward_chunked."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x[edge_index[0]], x[edge_index[1]]], dim=1))  # [E, 1]


class Constant(nn.Module):
    """Logits fixed per edge position: edge k gets logits[k] (to test cut and undirected)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        self.seen.append(edge_index)
        return self.logits[: edge_index.shape[1]]


def test_cut_and_outputs() -> None:
    logits = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    clf = TorchEdgeClassifier(Constant(logits), cut=0.5)
    x = torch.zeros(5, 3)
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    scores, kept, kept_scores = clf(x, ei)
    torch.testing.assert_close(scores, torch.sigmoid(logits))
    # strictly above the cut, as upstream: sigmoid(0) = 0.5 is dropped
    assert kept.tolist() == [[2, 3], [3, 4]]
    torch.testing.assert_close(kept_scores, torch.sigmoid(logits[2:]))
    result = clf.classify(x.numpy(), ei.numpy(), edge_attr=np.arange(8.0).reshape(4, 2))
    assert result.mask.tolist() == [False, False, True, True]
    assert result.edge_attr is not None
    assert result.edge_attr.tolist() == [[4.0, 5.0], [6.0, 7.0]]
    clf.cut = 0.0
    assert clf(x, ei)[1].shape == (2, 4)


def test_undirected_runs_on_both_directions() -> None:
    model = Constant(torch.tensor([1.0, -1.0, -5.0, 5.0]))
    clf = TorchEdgeClassifier(model, undirected=True)
    ei = torch.tensor([[0, 1], [1, 2]])
    scores, kept, _ = clf(torch.zeros(3, 3), ei)
    assert model.seen[-1].tolist() == [[0, 1, 1, 2], [1, 2, 0, 1]]
    # the score of each input edge is the one of its first copy (upstream convention)
    torch.testing.assert_close(scores, torch.sigmoid(torch.tensor([1.0, -1.0])))
    assert kept.tolist() == [[0], [1]]


def test_undirected_gnn_sees_the_doubled_graph() -> None:
    model = gnn()
    x, ei, _ = random_graph(30, 60, 3, 0)
    scores = TorchEdgeClassifier(model, undirected=True)(x, ei)[0]
    doubled = torch.cat([ei, ei.flip(0)], dim=1)
    with torch.no_grad():
        expected = torch.sigmoid(model(x, doubled))[:60]
    torch.testing.assert_close(scores, expected)


def test_zero_edges() -> None:
    for clf in (TorchEdgeClassifier(gnn()), TorchEdgeClassifier(gnn(), undirected=True)):
        scores, kept, kept_scores = clf(torch.zeros(4, 3), torch.zeros(2, 0, dtype=torch.int64))
        assert scores.shape == (0,)
        assert kept.shape == (2, 0)
        assert kept_scores.shape == (0,)


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_chunked_inference_is_exact_for_the_gnn(tmp_path: Path) -> None:
    model = gnn(2)
    script = export_torchscript(model, tmp_path / "gnn.pt")
    x, ei, ea = random_graph(80, 333, 3, 2)
    reference = TorchEdgeClassifier(model, useEdgeFeatures=True)(x, ei, ea)[0]
    for source in (model, script):
        for chunks in (2, 5, 400):
            clf = TorchEdgeClassifier(source, nChunks=chunks, useEdgeFeatures=True)
            assert clf.exact_chunks
            torch.testing.assert_close(clf(x, ei, ea)[0], reference, atol=1e-6, rtol=1e-6)


def test_upstream_chunks_for_a_per_edge_model(caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    model = EdgeMLP().eval()
    x, ei, _ = random_graph(50, 101, 3, 0)
    full = TorchEdgeClassifier(model)(x, ei)[0]
    chunked = TorchEdgeClassifier(model, nChunks=4)
    assert "upstream behaviour" in caplog.text
    torch.testing.assert_close(chunked(x, ei)[0], full)


def test_selected_features_and_scales() -> None:
    model = gnn()
    x = torch.randn(20, 5)
    _, ei, _ = random_graph(20, 40, 3, 0)
    clf = TorchEdgeClassifier(model, selectedFeatures=[4, 0, 2], featureScales=[2.0, 4.0, 8.0])
    expected = torch.sigmoid(model(x[:, [4, 0, 2]] / torch.tensor([2.0, 4.0, 8.0]), ei))
    torch.testing.assert_close(clf(x, ei)[0], expected.detach())
    with pytest.raises(ValueError, match="outside"):
        TorchEdgeClassifier(model, selectedFeatures=[7])(x, ei)
    with pytest.raises(ValueError, match="zero"):
        TorchEdgeClassifier(model, featureScales=[1.0, 0.0, 1.0])


def test_edge_feature_knobs() -> None:
    x, ei, ea = random_graph(10, 20, 3, 2)
    with pytest.raises(ValueError, match="no edge_attr"):
        TorchEdgeClassifier(gnn(2), useEdgeFeatures=True)(x, ei)
    # undirected with edge features needs the six standard columns to reverse them exactly
    with pytest.raises(ValueError, match="undirected with edge features needs the 6"):
        TorchEdgeClassifier(gnn(2), useEdgeFeatures=True, undirected=True)(x, ei, ea)
    # without useEdgeFeatures the features are only filtered, not given to the model
    result = TorchEdgeClassifier(gnn(0), cut=0.0).classify(x, ei, ea)
    assert result.edge_attr is not None
    assert torch.equal(result.edge_attr, ea)


@pytest.mark.parametrize("edge_features", [0, 2])
def test_onnx_and_torch_stages_agree(tmp_path: Path, edge_features: int) -> None:
    model = gnn(edge_features)
    path = export_onnx(model, tmp_path / "gnn.onnx")
    use = edge_features > 0
    onnx_clf = OnnxEdgeClassifier(path, cut=0.3, useEdgeFeatures=use)
    assert onnx_clf.providers[-1] == "CPUExecutionProvider"
    torch_clf = TorchEdgeClassifier(model, cut=0.3, useEdgeFeatures=use)
    for n, e in [(5, 0), (5, 1), (40, 37), (300, 5000)]:
        x, ei, ea = random_graph(n, e, 3, edge_features, seed=e)
        a = onnx_clf.classify(x, ei, ea if use else None)
        b = torch_clf.classify(x, ei, ea if use else None)
        torch.testing.assert_close(a.scores, b.scores, atol=1e-5, rtol=1e-5)
        assert a.edge_index.shape[1] == pytest.approx(b.edge_index.shape[1], abs=2)


def test_onnx_stage_checks(tmp_path: Path) -> None:
    gnn_path = export_onnx(gnn(), tmp_path / "gnn.onnx")
    with pytest.raises(ValueError, match="export it with exact chunking"):
        OnnxEdgeClassifier(gnn_path, nChunks=4)
    with pytest.raises(ValueError, match="useEdgeFeatures=True but the model has 2 inputs"):
        OnnxEdgeClassifier(gnn_path, useEdgeFeatures=True)
    # as upstream, useEdgeFeatures follows the model's inputs when left unset
    assert OnnxEdgeClassifier(export_onnx(gnn(2), tmp_path / "gnn2.onnx")).useEdgeFeatures
    assert not OnnxEdgeClassifier(gnn_path).useEdgeFeatures
    with pytest.raises(FileNotFoundError):
        OnnxEdgeClassifier(tmp_path / "missing.onnx")
    # baked-in exact chunking gives the unchunked scores
    chunked_path = export_onnx(gnn(), tmp_path / "chunked.onnx", n_chunks=6)
    x, ei, _ = random_graph(60, 500, 3, 0)
    torch.testing.assert_close(
        OnnxEdgeClassifier(chunked_path)(x, ei)[0],
        OnnxEdgeClassifier(gnn_path)(x, ei)[0],
        atol=1e-6,
        rtol=1e-6,
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_upstream_chunks_for_a_per_edge_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = EdgeMLP().eval()
    path = tmp_path / "mlp.onnx"
    x, ei, _ = random_graph(50, 101, 3, 0)
    torch.onnx.export(
        model,
        (x, ei),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["x", "edge_index"],
        output_names=["output"],
        dynamic_axes={"x": {0: "n"}, "edge_index": {1: "e"}, "output": {0: "e"}},
    )
    full = OnnxEdgeClassifier(path)(x, ei)[0]  # [E, 1] output is flattened
    assert full.shape == (101,)
    torch.testing.assert_close(OnnxEdgeClassifier(path, nChunks=3)(x, ei)[0], full)


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_model_files(tmp_path: Path) -> None:
    """TorchScript files and training checkpoints both load as modelPath."""
    from acts_gnn.train.config import config_from_dict
    from acts_gnn.train.loop import train_gnn

    config = config_from_dict(
        {
            "output": str(tmp_path / "run"),
            "data": {"source": "synthetic", "synthetic": {"n_events": 2}, "val_events": 0},
            "model": {"hidden": 8, "n_iterations": 1},
            "training": {"epochs": 1, "progress": False, "export": True},
        }
    )
    result = train_gnn(config)
    x, ei, _ = random_graph(30, 90, 4, 0)
    ref = TorchEdgeClassifier(result.model.eval())(x, ei)[0]
    for path in (tmp_path / "run" / "gnn.pt", tmp_path / "run" / "checkpoints" / "last.pt"):
        torch.testing.assert_close(TorchEdgeClassifier(path)(x, ei)[0], ref)
    torch.testing.assert_close(
        OnnxEdgeClassifier(tmp_path / "run" / "gnn.onnx")(x, ei)[0], ref, atol=1e-5, rtol=1e-5
    )
    with pytest.raises(FileNotFoundError):
        TorchEdgeClassifier(tmp_path / "nothing.pt")


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_engines(tmp_path: Path) -> None:
    """engine="auto" runs the fused inference on CPU for an Interaction Network (module or
    TorchScript file with our metadata), scores within 1e-5 of the model itself; other models
    and the ``model`` engine run the model; bf16 needs the fused engine."""
    model = gnn(2)
    script = export_torchscript(model, tmp_path / "gnn.pt")
    x, ei, ea = random_graph(80, 333, 3, 2)
    reference = TorchEdgeClassifier(model, useEdgeFeatures=True, engine="model")
    assert reference.fused is None
    expected = reference(x, ei, ea)[0]
    with torch.no_grad():
        torch.testing.assert_close(expected, torch.sigmoid(model(x, ei, ea)))
    for source in (model, script):
        clf = TorchEdgeClassifier(source, useEdgeFeatures=True)
        assert clf.fused is not None
        assert clf.config.engine == "auto"
        torch.testing.assert_close(clf(x, ei, ea)[0], expected, atol=1e-5, rtol=0)
        bf16 = TorchEdgeClassifier(source, useEdgeFeatures=True, precision="bf16")
        assert bf16.fused is not None
        assert bf16.fused.precision == "bf16"
        assert float((bf16(x, ei, ea)[0] - expected).abs().max()) < 0.05
    assert TorchEdgeClassifier(EdgeMLP()).fused is None  # not an Interaction Network
    with pytest.raises(ValueError, match="needs an InteractionNetwork"):
        TorchEdgeClassifier(EdgeMLP(), engine="fused")
    with pytest.raises(ValueError, match="needs the fused engine"):
        TorchEdgeClassifier(EdgeMLP(), precision="bf16")
    with pytest.raises(ValueError, match="engine must be one of"):
        TorchEdgeClassifier(model, engine="fast")
    with pytest.raises(ValueError, match="precision must be one of"):
        TorchEdgeClassifier(model, precision="int8")

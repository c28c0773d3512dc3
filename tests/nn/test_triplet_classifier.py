"""The triplet classifier: shapes, its own name in model files, export parity (TorchScript and
ONNX against torch on random triplet graphs, zero edges and repeated targets included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.graph.triplets import DOUBLET_FEATURES, TRIPLET_FEATURES
from acts_gnn.nn.files import model_from_checkpoint, random_graph, read_onnx_metadata
from acts_gnn.nn.triplet_classifier import TripletClassifier, build_triplet_classifier


def test_defaults_match_the_triplet_features():
    model = TripletClassifier()
    assert model.node_features == len(DOUBLET_FEATURES) == 13
    assert model.edge_features == len(TRIPLET_FEATURES) == 7
    x, ei, ea = random_graph(30, 80, 13, 7, seed=1)
    out = model(x, ei, ea)
    assert out.shape == (80,)
    assert build_triplet_classifier(model.config).config == model.config
    with pytest.raises(ValueError, match="edge_attr"):
        model(x, ei)


def test_export_parity_and_metadata(tmp_path: Path):
    pytest.importorskip("onnxruntime")
    from acts_gnn.nn.files import read_torchscript_metadata
    from acts_gnn.train.triplet import export_triplet

    torch.manual_seed(0)
    model = TripletClassifier(hidden=16, n_iterations=2).eval()
    meta = {"doublet_cut": 0.05, "score_cut": 0.7, "node_features": ["r_inner"]}
    onnx_path, ts_path = export_triplet(model, tmp_path / "t.onnx", tmp_path / "t.pt", meta)
    # the exports verify themselves (ExportError above 1e-4 / 1e-5); check once more here
    import onnxruntime as ort

    from acts_gnn.nn.files import load_torchscript

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    scripted = load_torchscript(ts_path)
    for seed, (n, e) in enumerate(((4, 0), (50, 120), (400, 3000))):
        x, ei, ea = random_graph(n, e, 13, 7, seed=seed)
        with torch.no_grad():
            ref = model(x, ei, ea).numpy()
            ts = scripted(x, ei, ea).numpy()
        (ox,) = session.run(
            None, {"x": x.numpy(), "edge_index": ei.numpy(), "edge_attr": ea.numpy()}
        )
        assert ox.reshape(-1).shape == ref.shape == (e,)
        if e:
            assert np.abs(ts - ref).max() < 1e-5
            assert np.abs(ox.reshape(-1) - ref).max() < 1e-4
    for read in (read_onnx_metadata, read_torchscript_metadata):
        m = read(onnx_path if read is read_onnx_metadata else ts_path)
        assert m["model"] == "TripletClassifier"
        assert m["score_cut"] == 0.7
        assert m["doublet_cut"] == 0.05
        assert m["model_config"]["hidden"] == 16


def test_checkpoint_rebuilds_the_triplet_classifier(tmp_path: Path):
    from acts_gnn.nn.files import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

    model = TripletClassifier(hidden=8, n_iterations=1)
    path = tmp_path / "last.pt"
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model": "TripletClassifier",
            "model_config": model.config,
            "model_state": model.state_dict(),
            "metadata": {"score_cut": 0.5},
        },
        path,
    )
    rebuilt, meta = model_from_checkpoint(path)
    assert type(rebuilt).__name__ == "TripletClassifier"
    x, ei, ea = random_graph(10, 20, 13, 7)
    with torch.no_grad():
        assert torch.equal(rebuilt(x, ei, ea), model.eval()(x, ei, ea))
    assert meta == {"score_cut": 0.5}

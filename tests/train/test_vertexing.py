"""Vertexing training: pair samples, a short training run, export parity, config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.chain.vertexing import OnnxPairScorer, SignificanceScorer, TorchPairScorer
from acts_gnn.errors import InputDataError
from acts_gnn.io.track_sets import TruthTrackSet, read_track_set, write_track_set
from acts_gnn.metrics.edges import roc_auc
from acts_gnn.nn.files import model_from_checkpoint, read_onnx_metadata
from acts_gnn.nn.vertex_pairs import VertexPairNet
from acts_gnn.train.config import ConfigError, config_from_dict
from acts_gnn.train.vertexing import (
    VERIFY_SIZES,
    VertexTrainingConfig,
    export_vertex_pairs,
    pair_samples,
    train_vertex_pairs,
    verify_inputs,
)


def track_set(event_id: int, n_vertices: int = 25, seed: int = 0) -> TruthTrackSet:
    """Vertices z ~ N(0, 30) mm with 2-20 tracks each, z0 resolution 0.03-0.3 mm; 5 % fake
    tracks (truth 0) and 5 % from secondaries."""
    rng = np.random.default_rng(seed)
    vz = rng.normal(0, 30, n_vertices)
    truth = np.repeat(np.arange(1, n_vertices + 1), rng.integers(2, 21, n_vertices))
    n = len(truth)
    sz = rng.uniform(0.03, 0.3, n)
    params = np.zeros((n, 5))
    params[:, 0] = rng.normal(0, 0.02, n)
    params[:, 1] = vz[truth - 1] + rng.normal(0, 1, n) * sz
    params[:, 2] = rng.uniform(-np.pi, np.pi, n)
    params[:, 3] = rng.uniform(0.3, 2.8, n)
    params[:, 4] = rng.uniform(-1, 1, n)
    cov = np.zeros((n, 5, 5))
    cov[:, range(5), range(5)] = np.c_[np.full(n, 0.02), sz, np.full((n, 3), 1e-3)] ** 2
    fake = rng.random(n) < 0.05
    truth_vertex = np.where(fake, 0, truth)
    secondary = (rng.random(n) < 0.05) & ~fake
    return TruthTrackSet(
        event_id, params, cov, truth_vertex, secondary, np.arange(1, n_vertices + 1), vz
    )


def test_pair_targets_are_same_primary_vertex() -> None:
    ts = track_set(0)
    x, pairs, y = pair_samples(ts, 3.0)
    assert x.shape == (len(ts.params), 10)
    a, b = pairs
    truth = np.where(ts.secondary, 0, ts.truth_vertex)
    expected = (truth[a] == truth[b]) & (truth[a] > 0)
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    assert 0 < y.mean() < 1
    assert (np.abs(ts.params[a, 1] - ts.params[b, 1]) < 3.0).all()


def test_track_set_files_round_trip_and_name_bad_fields(tmp_path: Path) -> None:
    ts = track_set(7)
    path = write_track_set(tmp_path, ts)
    assert path.name == "event000000007-tracks.npz"
    back = read_track_set(path)
    np.testing.assert_array_equal(back.covariance, ts.covariance)
    assert back.truth_z == ts.truth_z
    bad = dict(np.load(path))
    bad["truth_vertex"] = bad["truth_vertex"][:-1]
    np.savez(tmp_path / "event000000008-tracks.npz", **bad)
    with pytest.raises(InputDataError, match=r"event 8.*'truth_vertex'"):
        read_track_set(tmp_path / "event000000008-tracks.npz")


def test_exports_agree_with_torch(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = VertexPairNet(hidden=16, embedding=8)
    worst = export_vertex_pairs(
        model, tmp_path / "m.onnx", tmp_path / "m.pt", metadata={"window": 3.0}
    )
    assert set(worst) == {"onnx", "torchscript"}
    assert worst["onnx"] < 1e-4
    assert worst["torchscript"] < 1e-5
    assert read_onnx_metadata(tmp_path / "m.onnx")["window"] == 3.0
    # the scorers of the stage read both files and agree with each other on an event
    x, pairs = verify_inputs(*VERIFY_SIZES[2], seed=9)
    onnx_logits = OnnxPairScorer(tmp_path / "m.onnx")(x.numpy(), pairs.numpy())
    ts_scorer = TorchPairScorer(tmp_path / "m.pt")
    assert ts_scorer.metadata["model"] == "VertexPairNet"
    np.testing.assert_allclose(onnx_logits, ts_scorer(x.numpy(), pairs.numpy()), atol=1e-4)
    with torch.no_grad():
        np.testing.assert_allclose(onnx_logits, model(x, pairs).numpy(), atol=1e-4)
    assert OnnxPairScorer(tmp_path / "m.onnx")(x.numpy(), pairs[:, :0].numpy()).shape == (0,)


def test_a_short_training_learns_the_pairs(tmp_path: Path) -> None:
    files = [write_track_set(tmp_path / "tracks", track_set(i, seed=i)) for i in range(4)]
    config = config_from_dict(
        {
            "tracks": str(tmp_path / "tracks"),
            "output": str(tmp_path / "out"),
            "train_events": 3,
            "val_events": 1,
            "epochs": 6,
            "lr": 0.003,
            "model": {"hidden": 32, "embedding": 16},
            "progress": False,
        },
        "test",
        VertexTrainingConfig,
    )
    out = train_vertex_pairs(config)
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # the synthetic tracks carry no information beyond the z0 significance: the network must
    # learn to be nearly as good as the analytic z0 chi2 on the validation pairs
    x, pairs, y = pair_samples(read_track_set(files[-1]), 3.0, 6.0)
    baseline = roc_auc(SignificanceScorer()(x, pairs), y == 1, y == 0)
    assert history[-1]["val_auc"] > max(baseline - 0.03, history[0]["val_auc"])
    assert history[-1]["val_efficiency"] > 0.8
    model, metadata = model_from_checkpoint(out / "checkpoints" / "last.pt")
    assert metadata["window"] == 3.0
    assert metadata["split_ncut"] == 0.9
    assert (out / "vertex-pairs.onnx").is_file()
    assert (out / "vertex-pairs.pt").is_file()
    # acts-gnn export vertex-pairs routes the checkpoint to the verified pair export, with its
    # recorded metadata, and the files score pairs as the checkpoint's model does
    from acts_gnn.cli import main

    onnx, ts = tmp_path / "cli.onnx", tmp_path / "cli.pt"
    argv = ["export", "vertex-pairs", "--checkpoint", str(out / "checkpoints" / "last.pt")]
    assert main([*argv, "--onnx", str(onnx), "--torchscript", str(ts)]) == 0
    assert read_onnx_metadata(onnx)["split_ncut"] == 0.9
    assert read_onnx_metadata(onnx)["model"] == "VertexPairNet"
    x, pairs, _ = pair_samples(read_track_set(files[-1]), 3.0, 6.0)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), torch.from_numpy(pairs)).numpy()
    np.testing.assert_allclose(OnnxPairScorer(onnx)(x, pairs), ref, atol=1e-4)
    np.testing.assert_allclose(TorchPairScorer(ts)(x, pairs), ref, atol=1e-5)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="tracks"):
        config_from_dict({}, "c", VertexTrainingConfig)
    with pytest.raises(ConfigError, match="finder"):
        config_from_dict({"tracks": "x", "finder": {"scorer": 1}}, "c", VertexTrainingConfig)
    with pytest.raises(ConfigError, match="model"):
        config_from_dict({"tracks": "x", "model": {"width": 3}}, "c", VertexTrainingConfig)
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"tracks": "x", "epoch": 3}, "c", VertexTrainingConfig)

"""Triplet-classifier training on the shared tiny sample: outputs, resume = uninterrupted run,
the exported model's metadata, the seed scan, and config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from acts_gnn.train.config import ConfigError
from acts_gnn.train.triplet import TripletTrainingConfig, load_triplet_config


def _config(prepared: Any, output: Path, epochs: int) -> TripletTrainingConfig:
    return TripletTrainingConfig(
        train=str(prepared.directory),
        val=str(prepared.directory),
        train_events=2,
        val_events=1,
        output=str(output),
        epochs=epochs,
        model={"hidden": 8, "n_iterations": 1},
        progress=False,
    )


@pytest.mark.slow
def test_train_resume_export_and_scan(prepared_sample: Any, tmp_path: Path):
    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.nn.files import load_checkpoint, read_onnx_metadata
    from acts_gnn.train.triplet import evaluate_seeds, train_triplet

    full = train_triplet(_config(prepared_sample, tmp_path / "full", 2))
    assert {p.name for p in full.iterdir()} >= {
        "config.yaml",
        "history.json",
        "checkpoints",
        "triplet.pt",
        "triplet.onnx",
        "doublets",
    }
    history = json.loads((full / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert 0.0 <= history[-1]["val_seed_efficiency"] <= 1.0
    # an interrupted run (1 epoch) resumed to 2 gives the same weights
    part = _config(prepared_sample, tmp_path / "part", 2)
    part.epochs = 1
    train_triplet(part)
    with pytest.raises(ConfigError, match="resume"):
        train_triplet(part)  # last.pt exists: refused without resume
    part.epochs = 2
    with pytest.raises(ConfigError, match="another model or config"):
        train_triplet(part, resume=True)  # epochs differ from the checkpoint's config
    a = load_checkpoint(full / "checkpoints" / "last.pt")
    assert a["epoch"] == 2
    assert a["model"] == "TripletClassifier"
    meta = read_onnx_metadata(full / "triplet.onnx")
    assert meta["model"] == "TripletClassifier"
    assert meta["doublet_cut"] == 0.05
    assert meta["node_features"][0] == "r_inner"
    assert len(meta["triplet_features"]) == 7
    stage = TripletSeeding(full / "triplet.pt")
    assert stage.cut == meta["score_cut"]
    report = evaluate_seeds(full / "triplet.pt", prepared_sample.directory, 1, tmp_path / "c")
    rows = report["triplet_classifier"]
    assert [r["cut"] for r in rows][:2] == [0.0, 0.1]
    effs = [r["efficiency"] for r in rows]
    assert effs == sorted(effs, reverse=True)  # a higher cut never seeds more particles
    assert report["doublet_scores_only"][0]["seeds_per_event"] == rows[0]["seeds_per_event"]


@pytest.mark.slow
def test_resume_continues_the_same_run(prepared_sample: Any, tmp_path: Path):
    from acts_gnn.nn.files import load_checkpoint
    from acts_gnn.train.triplet import train_triplet

    torch.set_num_threads(1)
    config = _config(prepared_sample, tmp_path / "a", 2)
    config.val_events = 0
    train_triplet(config)
    ref = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    # the same run, stopped after epoch 1 (its checkpoint rewritten as epoch 1 of 2)
    other = _config(prepared_sample, tmp_path / "b", 2)
    other.val_events = 0
    first = _config(prepared_sample, tmp_path / "b", 1)
    first.val_events = 0
    train_triplet(first)
    last = tmp_path / "b" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=False)
    state["config"] = other.to_dict()
    torch.save(state, last)
    train_triplet(other, resume=True)
    got = load_checkpoint(last)
    assert got["epoch"] == 2
    assert [r["epoch"] for r in got["history"]] == [1, 2]
    for k, v in ref["model_state"].items():
        torch.testing.assert_close(got["model_state"][k], v, rtol=1e-5, atol=1e-6)


def test_config_errors(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: x\nval_events: 1\nval: ''\n")
    with pytest.raises(ConfigError, match="val"):
        load_triplet_config(bad)
    bad.write_text("train: x\nval_events: 0\ndoublet_cut: 1.5\n")
    with pytest.raises(ConfigError, match="doublet_cut"):
        load_triplet_config(bad)
    bad.write_text("train: x\nval_events: 0\nmodel: {hiddn: 3}\n")
    with pytest.raises(ConfigError, match="model"):
        load_triplet_config(bad)
    bad.write_text("train: x\nunknown_key: 3\n")
    with pytest.raises(ConfigError):
        load_triplet_config(bad)
    assert (
        load_triplet_config(Path(__file__).parents[2] / "configs" / "triplet.yaml").doublet_cut
        == 0.05
    )

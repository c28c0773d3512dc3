"""Training configs: the shipped YAML files, strict keys, types, the resolved config."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from acts_gnn.train.config import (
    ConfigError,
    GnnTrainingConfig,
    config_from_dict,
    load_config,
    save_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    "name",
    [
        "gnn.yaml",
        "gnn-tiny.yaml",
        "gnn-default.yaml",
        "gnn-lowpt.yaml",
        "gnn-lowpt-highpt.yaml",
        "gnn-small.yaml",
    ],
)
def test_shipped_configs_load(name: str) -> None:
    config = load_config(CONFIGS / name)
    assert isinstance(config, GnnTrainingConfig)
    assert config.data.feature_scales[1] == pytest.approx(math.pi)


def test_defaults_match_the_issue() -> None:
    config = load_config(CONFIGS / "gnn.yaml")
    assert config.model.hidden == 128
    assert config.model.n_iterations == 8
    assert config.model.layer_norm
    assert config.optimizer.amsgrad
    assert config.data.target.min_pt == 1.0
    assert config.data.target.min_hits == 3
    assert config.loss.non_target_weight == 0.0
    tiny = load_config(CONFIGS / "gnn-tiny.yaml")
    assert (tiny.model.hidden, tiny.model.n_iterations, tiny.training.epochs) == (16, 2, 2)


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  hiden: 64\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "model" in message
    assert "hiden" in message
    assert "hidden" in message  # the known keys are listed

    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"trainig": {}})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"model": {"hidden": "big"}}, "model.hidden: expected an integer"),
        ({"training": {"gradient_checkpointing": "yes"}}, "expected true or false"),
        ({"optimizer": {"lr": "fast"}}, "optimizer.lr: expected a number"),
        ({"data": {"source": "synthetic", "feature_scales": [1.0]}}, "one scale per node"),
        (
            {
                "data": {
                    "source": "synthetic",
                    "node_features": ["r", "q"],
                    "feature_scales": [1, 1],
                }
            },
            "unknown column",
        ),
        ({"data": {"source": "prepared"}}, "prepared-event folder"),
        ({"data": {"source": "synthetic"}, "optimizer": {"name": "sgd"}}, "adam or adamw"),
        (
            {
                "data": {
                    "source": "synthetic",
                    "node_features": ["loc0"],
                    "feature_scales": [1.0],
                },
                "training": {"phi_reflection": 0.5},
            },
            "phi -> -phi",
        ),
    ],
)
def test_bad_values(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


def test_numbers_as_text() -> None:
    config = config_from_dict(
        {
            "data": {"source": "synthetic", "feature_scales": [1000, "pi", "2*pi", "pi/2"]},
            "optimizer": {"lr": "1e-3"},
        }
    )
    assert config.data.feature_scales == pytest.approx([1000, math.pi, 2 * math.pi, math.pi / 2])
    assert config.optimizer.lr == pytest.approx(1e-3)


def test_resolved_config_round_trip(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "gnn-tiny.yaml")
    config.device = "cpu"
    path = save_config(config, tmp_path / "out" / "config.yaml")
    assert path.read_text().startswith("# resolved")
    again = load_config(path)
    assert again == config
    # every field is written, defaults included
    assert "gradient_checkpointing" in yaml.safe_load(path.read_text())["training"]

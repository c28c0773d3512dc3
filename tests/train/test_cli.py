"""``acts-gnn train gnn`` and ``acts-gnn export gnn``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from acts_gnn.cli import main
from acts_gnn.nn.files import read_onnx_metadata

TINY = Path(__file__).resolve().parents[2] / "configs" / "gnn-tiny.yaml"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_train_then_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(
        ["train", "gnn", "--config", str(TINY), "--output", str(out), "--device", "cpu", "-q"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "epoch 2:" in text
    assert "gnn.onnx" in text
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["output"] == str(out)
    assert resolved["model"]["hidden"] == 16

    # a finished run can be resumed to more epochs
    code = main(["train", "gnn", "-c", str(TINY), "-o", str(out), "--epochs", "3", "--resume"])
    assert code == 0
    assert "epoch 3:" in capsys.readouterr().out

    onnx, script = tmp_path / "exp" / "gnn.onnx", tmp_path / "exp" / "gnn.pt"
    args = ["export", "gnn", "--checkpoint", str(out / "checkpoints" / "last.pt")]
    assert main([*args, "--onnx", str(onnx), "--torchscript", str(script), "--chunks", "3"]) == 0
    assert onnx.is_file()
    assert script.is_file()
    meta = read_onnx_metadata(onnx)
    assert meta["n_chunks"] == 3
    assert meta["node_features"] == ["r", "phi", "z", "eta"]
    assert main(args) == 2
    assert "nothing to do" in capsys.readouterr().err


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("training:\n  epoch: 3\n")
    assert main(["train", "gnn", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err
    assert "'epoch'" in err
    assert main(["train", "gnn", "--config", str(tmp_path / "none.yaml")]) == 2

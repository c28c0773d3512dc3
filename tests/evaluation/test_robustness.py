"""``acts-gnn robustness`` (:mod:`acts_gnn.evaluation.robustness`): the grid, the rows taken
from a comparison summary, the table and plots, and (slow) the whole grid on the tiny sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acts_gnn.evaluation.robustness import (
    RobustnessConfig,
    point_row,
    robustness_markdown,
)


def fake_summary(eff: float, fake: float, edge_eff: float) -> dict[str, Any]:
    """The parts of a :func:`run_comparison` summary the rows read."""
    return {
        "events": 2,
        "measurements_per_event": 1000.0,
        "gnn": {
            "efficiency": eff,
            "fake_ratio": fake,
            "duplicate_ratio": 0.0,
            "time_per_event": {"total": 2.0},
            "gnn_edge_metrics": {
                "graph construction": {"efficiency": 0.99, "purity": 0.4},
                "classifier 0 (TorchEdgeClassifier)": {"efficiency": edge_eff, "purity": 0.97},
            },
        },
        "ckf": {
            "efficiency": eff - 0.01,
            "fake_ratio": 2 * fake,
            "duplicate_ratio": 0.01,
            "time_per_event": {"total": 1.0},
        },
    }


def test_grid_is_one_axis_at_a_time(tmp_path: Path) -> None:
    config = RobustnessConfig(
        tmp_path, tmp_path / "out", noise_rates=(1e-7, 1e-6), misalignments=((50.0, 0.5),)
    )
    points = config.points()
    assert [p["key"] for p in points] == [
        "nominal",
        "noise_1e-07",
        "noise_1e-06",
        "misalign_50um_0.5mrad",
    ]
    assert points[1]["shift_um"] == 0
    assert points[3]["noise_rate"] == 0
    config.validate()
    with pytest.raises(ValueError, match="noise rates"):
        RobustnessConfig(tmp_path, tmp_path / "o", noise_rates=(0.0,)).validate()
    with pytest.raises(ValueError, match="misalignments"):
        RobustnessConfig(tmp_path, tmp_path / "o", misalignments=((0.0, 0.0),)).validate()


def test_rows_table_and_plots(tmp_path: Path) -> None:
    from acts_gnn.evaluation.plots_robustness import plot_robustness_axis

    record = {"per_event": {"0": {"noise_sim_hits": 10}, "1": {"noise_sim_hits": 30}}}
    point = {"key": "noise_1e-06", "kind": "noise", "noise_rate": 1e-6, "shift_um": 0.0,
             "rotation_mrad": 0.0}  # fmt: skip
    row = point_row(point, fake_summary(0.9, 0.01, 0.95), record)
    assert row["noise_hits_per_event"] == 20
    assert row["noise_fraction"] == pytest.approx(0.02)
    assert row["gnn"]["edge_efficiency"] == 0.95
    assert row["gnn"]["graph_edge_efficiency"] == 0.99
    assert row["ckf"]["fake_ratio"] == 0.02
    nominal = point_row(
        {**point, "key": "nominal", "kind": "nominal", "noise_rate": 0.0},
        fake_summary(0.95, 0.005, 0.97),
        {"per_event": {}},
    )
    text = robustness_markdown(
        [nominal, row],
        {"events": 2, "input": "x", "level": "module", "seed": 1, "ckf_preset": "fast"},
    )
    assert "| noise_1e-06 | 1e-06 | 0 | 0 | 2.00 | 0.9900 | 0.9500 | 0.9700 | 0.9000 |" in text
    path = plot_robustness_axis(
        [nominal, row], "noise_fraction", "noise", tmp_path / "noise.png", "t"
    )
    assert path.stat().st_size > 10_000


@pytest.mark.acts
@pytest.mark.slow
def test_robustness_grid_on_the_tiny_sample(tmp_path: Path, sim_sample: Any) -> None:
    from acts_gnn.evaluation.robustness import run_robustness

    config = RobustnessConfig(
        sim_sample.directory,
        tmp_path / "out",
        events=1,
        noise_rates=(4e-7,),
        misalignments=((100.0, 1.0),),
    )
    result = run_robustness(config, progress=False)
    rows = {r["key"]: r for r in result["rows"]}
    assert list(rows) == ["nominal", "noise_4e-07", "misalign_100um_1mrad"]
    assert rows["nominal"]["noise_hits_per_event"] == 0
    noisy = rows["noise_4e-07"]
    # ~950 noise hits on a few thousand measurements: the measurement count grows by them
    assert 800 < noisy["noise_hits_per_event"] < 1100
    grown = noisy["measurements_per_event"] - rows["nominal"]["measurements_per_event"]
    assert grown == pytest.approx(noisy["noise_hits_per_event"], abs=10)
    for row in rows.values():
        for chain in ("gnn", "ckf"):
            assert 0 <= row[chain]["efficiency"] <= 1
        assert row["gnn"]["edge_efficiency"] is not None
    # 100 um / 1 mrad misalignment costs the module map edges (its cuts are tight)
    assert (
        rows["misalign_100um_1mrad"]["gnn"]["graph_edge_efficiency"]
        < rows["nominal"]["gnn"]["graph_edge_efficiency"]
    )
    saved = json.loads((tmp_path / "out" / "robustness.json").read_text())
    assert len(saved["rows"]) == 3
    assert (tmp_path / "out" / "robustness.md").read_text().count("\n| ") == 4
    for name in result["plots"]:
        assert Path(name).stat().st_size > 10_000
    assert not (tmp_path / "out" / "points" / "nominal" / "simulation").exists()


def test_cli_parses_the_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from acts_gnn.cli.parser import build_parser

    argv = ["robustness", "-i", str(tmp_path), "-o", str(tmp_path / "o")]
    args = build_parser().parse_args([*argv, "--noise-rates", "1e-6", "--misalignments", "50:0.5"])
    assert args.noise_rates == [1e-6]
    assert args.misalignments == ["50:0.5"]
    assert args.misalign_level == "module"
    assert args.ckf_preset == "fast"
    bad = build_parser().parse_args([*argv, "--misalignments", "fifty"])
    assert bad.func(bad) == 2
    assert "UM:MRAD" in capsys.readouterr().out

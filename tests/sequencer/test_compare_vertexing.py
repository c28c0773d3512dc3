"""``acts-gnn compare --vertexing``: ML vertexing and AMVF on the compare run's CKF tracks,
in summary.json, summary.md and the report's plots (the shared tiny sample)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from acts_gnn.graph.module_map.build import build_module_map
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.io.event_store import PreparedDataset
from acts_gnn.nn import InteractionNetwork
from acts_gnn.train.export import export_onnx

pytestmark = pytest.mark.acts

METADATA = {
    "node_features": ["r", "phi", "z", "eta"],
    "feature_scales": [1000.0, math.pi, 1000.0, 1.0],
}


def test_the_cli_option_reaches_the_config(tmp_path: Path) -> None:
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser

    argv = ["compare", "-i", str(tmp_path), "-o", str(tmp_path / "r")]
    parser = build_parser()
    assert _compare_config(parser.parse_args([*argv, "--vertexing"]), tmp_path, tmp_path).vertexing
    assert not _compare_config(parser.parse_args(argv), tmp_path, tmp_path).vertexing


def test_compare_reports_both_vertex_finders(
    tmp_path_factory: pytest.TempPathFactory, prepared_sample: Any
) -> None:
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison, write_report

    directory = tmp_path_factory.mktemp("compare_vertexing")
    events = PreparedDataset(prepared_sample.directory)
    module_map = build_module_map(events, TruthSelection(min_pt=0.9, min_hits=3))
    torch.manual_seed(3)
    model = InteractionNetwork(4, 0, hidden=8, n_iterations=1)
    config = CompareConfig(
        input=prepared_sample.simulation.directory,
        output=directory / "report",
        module_map=module_map.save(directory / "map.npz"),
        model=export_onnx(model.eval(), directory / "gnn.onnx", metadata=METADATA),
        also_min_pt=(),
        vertexing=True,
    )
    summary = run_comparison(config, progress=False)
    paths = write_report(summary, config.output)
    report = config.output
    on_disk = json.loads((report / "summary.json").read_text())["vertexing"]
    assert on_disk["events"] == 2
    assert on_disk["tracks"] == summary["ckf"]["tracks"]
    assert on_disk["tracks_per_event"] > 10
    for finder in ("ml", "ml_position", "amvf"):
        assert on_disk[finder]["hs_reconstruction_rate"] == 1.0, finder
        assert 0 < on_disk[finder]["efficiency"] <= 1
        assert set(on_disk[finder]["distributions"]) == {
            "efficiency_vs_n_tracks",
            "efficiency_vs_z",
            "efficiency_vs_density",
            "rates_vs_n_tracks",
        }
    assert on_disk["ml"]["hs_dz_68"] < 0.1  # mm
    assert on_disk["seconds_per_event"]["ml"] > 0
    assert on_disk["seconds_per_event"]["amvf"] > 0
    markdown = (report / "summary.md").read_text()
    assert "## Primary vertices (`--vertexing`)" in markdown
    assert "| ACTS AMVF | " in markdown
    assert "| ML pair network | " in markdown
    written = {p.name for p in paths}
    assert {"vertex_efficiency_vs_tracks.png", "hard_scatter_dz.png", "vertex_time.png"} <= written
    assert (report / "vertexing" / "vertex_rates_vs_tracks.png").is_file()
    assert len(list((report / "vertexing" / "amvf").glob("event*-vertices.csv"))) == 2

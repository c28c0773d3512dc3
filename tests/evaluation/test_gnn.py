"""acts_gnn.evaluation.gnn: scoring synthetic events, tiny models, the CLI (no ACTS)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from acts_gnn.evaluation.gnn import ScoredEdges, evaluate_scored, gnn_classifier, score_events
from acts_gnn.graph.features import EDGE_FEATURES, edge_features
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.train.config import SyntheticConfig
from acts_gnn.train.synthetic import synthetic_event, synthetic_graph

CONFIG = SyntheticConfig(n_events=2, n_particles=30, noise_hits=20, seed=5)
NODE_FEATURES = ["r", "phi", "z", "eta"]
SCALES = [1000.0, math.pi, 1000.0, 1.0]
SELECTION = TruthSelection(min_pt=1.0, min_hits=3)


# --- synthetic events -------------------------------------------------------------------------


def synthetic_graph_function(event: Any) -> tuple[np.ndarray, np.ndarray]:
    edges = synthetic_graph(event, CONFIG)
    return edges, edge_features(event.positions(), edges)


class ScoreByTruth:
    """A stand-in classifier: scores from the truth (oracle) or random."""

    def __init__(self, oracle: bool) -> None:
        self.oracle = oracle
        self.rng = np.random.default_rng(0)
        self.event: Any = None

    def classify(self, x: Any, edge_index: np.ndarray, edge_attr: Any) -> Any:
        scores: np.ndarray
        if self.oracle:
            true = edge_truth_mask(edge_index, truth_graph(self.event), self.event.n_hits)
            scores = np.where(true, 0.99, 0.01)
        else:
            scores = np.asarray(self.rng.random(int(edge_index.shape[1])))
        return type("Result", (), {"scores": torch.from_numpy(scores)})()


def score_synthetic(oracle: bool) -> ScoredEdges:
    classifier = ScoreByTruth(oracle)

    def events() -> Any:
        for i in range(CONFIG.n_events):
            classifier.event = synthetic_event(CONFIG, i)
            yield classifier.event

    return score_events(
        events(), synthetic_graph_function, classifier, NODE_FEATURES, SCALES, SELECTION
    )


def test_oracle_and_random_scores_on_synthetic_events() -> None:
    oracle = evaluate_scored(score_synthetic(True), cut=0.5, selection=SELECTION)
    s = oracle.summary
    assert s["events"] == 2
    assert s["graph"]["target_edges_per_event"] > 0
    assert s["auc"] == 1.0
    assert s["cut"]["efficiency"] == 1.0
    assert s["cut"]["purity"] == 1.0
    assert s["cut"]["total_efficiency"] == pytest.approx(s["graph"]["efficiency"])
    assert s["best_cut"]["metrics"]["efficiency"] == 1.0
    random = evaluate_scored(score_synthetic(False), cut=0.5, selection=SELECTION).summary
    assert random["auc"] == pytest.approx(0.5, abs=0.1)
    assert random["cut"]["purity"] == pytest.approx(random["graph"]["purity"], abs=0.1)


def test_scored_edges_counts_match_graph() -> None:
    scored = score_synthetic(True)
    a = scored.arrays()
    in_graph = np.isfinite(a["truth_score"][a["truth_target"]]).sum()
    assert in_graph == a["edge_target"].sum()  # no duplicated edges in the toy graph
    assert len(a["edge_score"]) == len(a["edge_eta"]) == len(a["edge_true"])
    assert (a["truth_pt"][a["truth_target"]] >= SELECTION.min_pt).all()


def export_tiny_model(path: Path, with_edge_features: bool, onnx: bool = False) -> Path:
    from acts_gnn.nn import InteractionNetwork
    from acts_gnn.train.export import export_onnx, export_torchscript

    torch.manual_seed(0)
    n_edge = len(EDGE_FEATURES) if with_edge_features else 0
    model = InteractionNetwork(4, n_edge, hidden=8, n_iterations=1)
    metadata = {
        "node_features": NODE_FEATURES,
        "feature_scales": SCALES,
        "edge_features": list(EDGE_FEATURES) if with_edge_features else [],
        "edge_feature_scales": [100.0, 0.1, 100.0, 0.1, 0.01, 0.01] if with_edge_features else [],
    }
    if onnx:
        return export_onnx(model, path, metadata=metadata)
    return export_torchscript(model, path, metadata=metadata)


@pytest.mark.parametrize(
    ("name", "with_edge_features"),
    [("gnn.pt", False), ("gnn-edge.pt", True), ("gnn.onnx", False), ("gnn-edge.onnx", True)],
)
def test_tiny_model_scores_events(tmp_path: Path, name: str, with_edge_features: bool) -> None:
    if name.endswith(".onnx"):
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnx")
    path = export_tiny_model(tmp_path / name, with_edge_features, name.endswith(".onnx"))
    classifier, names, scales = gnn_classifier(path)
    assert classifier.useEdgeFeatures == with_edge_features
    events = [synthetic_event(CONFIG, i) for i in range(2)]
    scored = score_events(events, synthetic_graph_function, classifier, names, scales, SELECTION)
    a = scored.arrays()
    assert ((a["edge_score"] >= 0) & (a["edge_score"] <= 1)).all()
    summary = evaluate_scored(scored, selection=SELECTION).summary
    assert 0.0 <= summary["auc"] <= 1.0
    assert len(scored.seconds_gnn) == 2


# --- command line -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared_and_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.io.event_store import write_dataset_info, write_event

    root = tmp_path_factory.mktemp("evaluate_gnn")
    # a map from 20 sparse events applied to 2 dense held-out ones: a graph with fakes
    train = SyntheticConfig(n_particles=100, noise_hits=50, seed=9)
    module_map = build_module_map(
        (synthetic_event(train, i) for i in range(20)),
        TruthSelection(min_hits=3),
        mirror_z=False,
        rotate_phi=False,
    )
    map_path = module_map.save(root / "map.npz")
    held_out = SyntheticConfig(n_particles=1000, noise_hits=1000, seed=10)
    for i in range(2):
        write_event(root / "prepared", synthetic_event(held_out, i))
    write_dataset_info(root / "prepared", {"events": [0, 1], "detector": "synthetic"})
    return root / "prepared", map_path


def test_cli_writes_json_and_plots(tmp_path: Path, prepared_and_map: tuple[Path, Path]) -> None:
    from acts_gnn.cli import main

    prepared, map_path = prepared_and_map
    model = export_tiny_model(tmp_path / "gnn.pt", with_edge_features=True)
    out = tmp_path / "eval"
    argv = ["evaluate-gnn", "--input", str(prepared), "--module-map", str(map_path)]
    argv += ["--model", str(model), "--output", str(out), "--events", "1", "-q"]
    assert main([*argv, "--cut", "0.3"]) == 0
    summary = json.loads((out / "gnn_eval.json").read_text())
    for key in ("events", "graph", "auc", "cut", "best_cut", "scan", "roc", "binned"):
        assert key in summary
    assert summary["events"] == 1
    assert summary["event_ids"] == [0]
    assert summary["graph"]["purity"] < 0.95  # there are fakes
    assert 0.0 <= summary["auc"] <= 1.0
    assert summary["cut"]["cut"] == 0.3
    assert summary["edge_features"] == list(EDGE_FEATURES)
    assert summary["graph"]["edges_per_event"] > 0
    for key in ("efficiency", "total_efficiency", "purity", "kept_edges"):
        assert key in summary["cut"]
        assert len(summary["scan"][key]) == len(summary["scan"]["cut"])
    for key in ("efficiency_vs_pt", "efficiency_vs_eta", "purity_vs_eta"):
        assert set(summary["binned"][key]) == {"graph", "gnn"}
        assert (out / f"{key}.png").is_file()
    assert (out / "roc.png").is_file()
    assert (out / "score_cut.png").is_file()


def test_cli_bad_model_is_reported(
    tmp_path: Path, prepared_and_map: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from acts_gnn.cli import main

    prepared, map_path = prepared_and_map
    argv = ["evaluate-gnn", "--input", str(prepared), "--module-map", str(map_path)]
    argv += ["--model", str(tmp_path / "missing.pt"), "--output", str(tmp_path), "--no-plots"]
    assert main(argv) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_cli_on_graph_files_equals_module_map(
    tmp_path: Path, prepared_and_map: tuple[Path, Path]
) -> None:
    """`--graphs` (files from `acts-gnn graphs`, with or without features) = `--module-map`."""
    from acts_gnn.cli import main
    from acts_gnn.graph.store import graph_path, load_graph, save_graph

    prepared, map_path = prepared_and_map
    model = export_tiny_model(tmp_path / "gnn.pt", with_edge_features=True)
    files = tmp_path / "graphs"
    graphs = ["graphs", "-i", str(prepared), "-o", str(files), "-q", "--graph", "module-map"]
    assert main([*graphs, "--module-map", str(map_path)]) == 0
    bare = tmp_path / "bare"
    for event_id in (0, 1):
        save_graph(bare, event_id, load_graph(files, event_id)[0])
        assert graph_path(bare, event_id).is_file()
    summaries = []
    for source in (
        ["--module-map", str(map_path)],
        ["--graphs", str(files)],
        ["--graphs", str(bare)],
    ):
        out = tmp_path / f"eval{len(summaries)}"
        argv = ["evaluate-gnn", "--input", str(prepared), *source, "--model", str(model)]
        assert main([*argv, "--output", str(out), "-q", "--no-plots"]) == 0
        summaries.append(json.loads((out / "gnn_eval.json").read_text()))
    for s in summaries[1:]:
        for key in ("graph", "auc", "cut"):
            assert s[key] == pytest.approx(summaries[0][key], rel=1e-5)
        assert s["best_cut"]["metrics"] == pytest.approx(summaries[0]["best_cut"]["metrics"])
    assert summaries[1]["graphs"] == str(files)
    assert summaries[1]["module_map"] is None

"""acts_gnn.evaluation.gnn: edge metrics on hand-made arrays, synthetic events, the CLI (no ACTS)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from acts_gnn.evaluation.gnn import (
    ScoredEdges,
    best_cut,
    binned_ratio,
    evaluate_scored,
    gnn_classifier,
    metrics_at_cut,
    roc_auc,
    roc_curve,
    score_events,
    truth_edge_scores,
)
from acts_gnn.graph.module_map.core import EDGE_FEATURES, edge_features
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.train.config import SyntheticConfig
from acts_gnn.train.synthetic import synthetic_event, synthetic_graph

torch.set_num_threads(1)

CONFIG = SyntheticConfig(n_events=2, n_particles=30, noise_hits=20, seed=5)
NODE_FEATURES = ["r", "phi", "z", "eta"]
SCALES = [1000.0, math.pi, 1000.0, 1.0]
SELECTION = TruthSelection(min_pt=1.0, min_hits=3)


def brute_force_auc(scores: np.ndarray, signal: np.ndarray, background: np.ndarray) -> float:
    s, b = scores[signal][:, None], scores[background][None, :]
    return float(np.mean((s > b) + 0.5 * (s == b)))


# --- ROC ---------------------------------------------------------------------------------------


def test_roc_curve_by_hand() -> None:
    scores = np.array([0.9, 0.5, 0.4, 0.1, 0.95])
    signal = np.array([True, False, True, False, False])
    background = np.array([False, True, False, True, False])  # last entry: neither, ignored
    fpr, tpr, thr = roc_curve(scores, signal, background)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.5, 0.4, 0.1])
    assert roc_auc(scores, signal, background) == pytest.approx(0.75)


def test_roc_ties_count_half() -> None:
    assert roc_auc([0.5, 0.5], [True, False], [False, True]) == pytest.approx(0.5)
    # one signal above, one tied with the only background: (1 + 0.5) / 2
    assert roc_auc([0.7, 0.5, 0.5], [True, True, False], [False, False, True]) == 0.75


def test_roc_auc_needs_both_classes() -> None:
    assert math.isnan(roc_auc([0.1, 0.2], [True, True], [False, False]))
    with pytest.raises(ValueError, match="same length"):
        roc_curve([0.1], [True, False], [False, True])


def test_auc_oracle_random_and_brute_force() -> None:
    rng = np.random.default_rng(3)
    signal = rng.random(20000) < 0.3
    background = ~signal
    assert roc_auc(signal.astype(float), signal, background) == 1.0
    assert roc_auc((~signal).astype(float), signal, background) == 0.0
    assert roc_auc(rng.random(20000), signal, background) == pytest.approx(0.5, abs=0.02)
    # with many ties and entries in neither class, equal to the pair-counting definition
    scores = rng.integers(0, 10, 500) / 10
    signal = rng.random(500) < 0.4
    background = ~signal & (rng.random(500) < 0.8)
    assert roc_auc(scores, signal, background) == pytest.approx(
        brute_force_auc(scores, signal, background), abs=1e-12
    )


# --- efficiency, purity, cuts -----------------------------------------------------------------


def test_metrics_at_cut_by_hand() -> None:
    scores = [0.9, 0.8, 0.6, 0.3, 0.2]
    target = [True, False, True, True, False]
    true = [True, True, True, True, False]
    m = metrics_at_cut(0.5, scores, target, true)
    assert (m.kept_edges, m.kept_target, m.kept_true) == (3, 2, 3)
    assert m.efficiency == pytest.approx(2 / 3)
    assert m.purity == 1.0
    assert m.target_purity == pytest.approx(2 / 3)
    assert math.isnan(m.total_efficiency)
    # per truth edge: one target truth edge is missing from the graph (-inf)
    m = metrics_at_cut(0.5, scores, target, true, truth_scores=[0.9, 0.6, 0.3, -np.inf])
    assert m.efficiency == pytest.approx(2 / 3)
    assert m.total_efficiency == pytest.approx(2 / 4)
    # strict: an edge scoring exactly the cut is dropped
    m = metrics_at_cut(0.6, scores, target, true)
    assert m.kept_edges == 2
    # nothing kept: purity undefined, JSON null
    m = metrics_at_cut(0.99, scores, target, true)
    assert m.kept_edges == 0
    assert math.isnan(m.purity)
    assert m.as_dict()["purity"] is None


def test_best_cut_by_hand() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    target = [True, True, False, True, False]
    true = [True, True, False, True, False]
    # purity keeping the top k: 1, 1, 2/3, 3/4, 3/5
    assert best_cut(scores, target, true, 0.75) == pytest.approx(0.5)
    assert metrics_at_cut(0.5, scores, target, true).purity == 0.75
    assert best_cut(scores, target, true, 0.8) == pytest.approx(0.7)
    assert best_cut(scores, target, true, 1.01) is None
    assert best_cut([], [], [], 0.9) is None
    # every edge true: the cut keeps them all (just below the lowest score)
    cut = best_cut(scores, target, [True] * 5, 0.95)
    assert cut is not None
    assert cut < 0.5
    assert metrics_at_cut(cut, scores, target, [True] * 5).kept_edges == 5
    # tied scores are kept or dropped together
    assert best_cut([0.9, 0.5, 0.5], [1, 1, 0], [True, True, False], 0.6) == pytest.approx(0.5)


def test_best_cut_is_the_best_on_a_grid() -> None:
    rng = np.random.default_rng(8)
    true = rng.random(3000) < 0.4
    scores = np.clip(0.3 * true + rng.normal(0.4, 0.2, 3000), 0, 1).astype(np.float32)
    cut = best_cut(scores, true, true, 0.9)
    assert cut is not None
    best = metrics_at_cut(cut, scores, true, true)
    assert best.purity >= 0.9
    for c in np.linspace(0, 1, 501):
        m = metrics_at_cut(c, scores, true, true)
        if m.purity >= 0.9:
            assert m.efficiency <= best.efficiency


def test_binned_ratio_by_hand() -> None:
    out = binned_ratio([0.5, 1.5, 1.6, 2.5], [True, True, False, False], [0, 1, 2, 3, 4])
    assert out["ratio"] == [1.0, 0.5, 0.0, None]
    assert out["total"] == [1.0, 2.0, 1.0, 0.0]
    assert out["error"][1] == pytest.approx(math.sqrt(0.25 / 2))


def test_truth_edge_scores_by_hand() -> None:
    edges = np.array([[0, 1, 2, 2], [1, 2, 3, 1]])  # (2, 1) is (1, 2) reversed
    scores = np.array([0.2, 0.7, 0.4, 0.9])
    truth = np.array([[0, 1, 3], [1, 2, 4]])
    np.testing.assert_array_equal(truth_edge_scores(truth, edges, scores, 5), [0.2, 0.9, -np.inf])
    assert truth_edge_scores(truth, np.zeros((2, 0), np.int64), [], 5).tolist() == [-np.inf] * 3


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
    from acts_gnn.train.data import graph_path, load_graph, save_graph

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

"""acts_gnn.metrics.edges: edge-score metrics (ROC, cuts, binned ratios) on hand-made arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acts_gnn.metrics.edges import (
    best_cut,
    binned_ratio,
    metrics_at_cut,
    roc_auc,
    roc_curve,
    truth_edge_scores,
)


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

"""The GNN chain of one event without ACTS: stages, node bookkeeping, truth metrics, timing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from acts_gnn.chain.classify import EdgeClassification
from acts_gnn.chain.pipeline import GnnPipeline, StageTimes, StageTruth
from acts_gnn.chain.tracks import WalkthroughTrackBuilding
from acts_gnn.errors import InputDataError
from acts_gnn.graph.features import node_feature_matrix
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.metrics.tracks import ParticleSelection, TrackMetrics
from acts_gnn.train.config import SyntheticConfig
from acts_gnn.train.synthetic import synthetic_event, synthetic_graph


class LabelledGraph:
    """A graph constructor returning a fixed graph; edge feature column 0 carries the truth
    label so that :class:`Oracle` can score edges whatever the node renumbering."""

    def __init__(self, edge_index: np.ndarray, label: np.ndarray) -> None:
        self.edge_index = torch.from_numpy(edge_index)
        self.edge_attr = torch.zeros(edge_index.shape[1], 6)
        self.edge_attr[:, 0] = torch.from_numpy(label.astype(np.float32))

    def construct_graph(self, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.edge_index, self.edge_attr


class Oracle:
    """An edge classifier scoring 0.9 for true edges and 0.05 for fakes, keeping score > cut."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def classify(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> Any:
        scores = torch.where(edge_attr[:, 0] > 0.5, 0.9, 0.05)
        mask = scores > self.cut
        return EdgeClassification(scores, mask, edge_index[:, mask], scores[mask], edge_attr[mask])


@pytest.fixture(scope="module")
def event_and_graph() -> tuple[Any, np.ndarray, np.ndarray]:
    config = SyntheticConfig(n_particles=40, noise_hits=60)
    event = synthetic_event(config, 3)
    edges = synthetic_graph(event, config)
    label = edge_truth_mask(edges, truth_graph(event), event.n_hits)
    return event, edges, label


def pipeline(edges: np.ndarray, label: np.ndarray, shrink: bool, cut: float = 0.01) -> GnnPipeline:
    return GnnPipeline(
        LabelledGraph(edges, label),
        [Oracle(cut)],
        WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=3),
        shrinkNodes=shrink,
    )


def test_oracle_chain_finds_every_track(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    assert 0 < label.mean() < 1  # the graph has true and fake edges
    truth = StageTruth(truth_graph(event, TruthSelection(1.0, 3)), truth_graph(event), event.n_hits)
    result = pipeline(edges, label, shrink=True).run_event(event, truth)
    metrics = TrackMetrics(selection=ParticleSelection(min_pt=1.0, min_hits=3, max_abs_eta=4.0))
    metrics.add(event, result.candidates)
    assert metrics.efficiency == 1.0
    assert metrics.fake_ratio == 0.0
    eff, purity = result.edge_metrics["graph construction"]
    assert eff == 1.0
    assert purity == pytest.approx(label.mean())
    # the classifier keeps every true edge (score 0.9) and every fake (0.05 > 0.01) ...
    assert result.edge_metrics["classifier 0 (Oracle)"] == (1.0, pytest.approx(label.mean()))
    # ... and with a cut above 0.05 only the true ones
    strict = pipeline(edges, label, shrink=True, cut=0.5).run_event(event, truth)
    assert strict.edge_metrics["classifier 0 (Oracle)"] == (1.0, 1.0)
    assert strict.counts["classifier 0 (Oracle) edges"] == int(label.sum())


def test_shrinking_nodes_keeps_candidates_and_ids(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    ids = np.arange(event.n_hits) * 7 + 1000  # what the candidates must report
    plain = pipeline(edges, label, shrink=False)(event.positions(), event.hits["geometry_id"], ids)
    shrunk = pipeline(edges, label, shrink=True)(event.positions(), event.hits["geometry_id"], ids)
    assert shrunk.counts["nodes after shrinking"] == len(np.unique(edges))
    assert shrunk.counts["nodes after shrinking"] < event.n_hits
    assert len(plain.candidates) == len(shrunk.candidates) > 0
    for a, b in zip(plain.candidates, shrunk.candidates):
        assert np.array_equal(a, b)
        assert np.all((a - 1000) % 7 == 0)


def test_timing_is_recorded(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    p = pipeline(edges, label, shrink=True)
    for _ in range(3):
        p.run_event(event)
    summary = p.times.summary()
    for stage in ("features", "graph construction", "shrink nodes", "track building", "total"):
        assert summary[stage]["events"] == 3
        assert 0 <= summary[stage]["min"] <= summary[stage]["mean"] <= summary[stage]["max"]
    assert "graph construction" in p.times.table()


def test_stage_times_statistics() -> None:
    t = StageTimes()
    for value in (1.0, 2.0, 3.0):
        t.add({"a": value})
    s = t.summary()["a"]
    assert (s["mean"], s["min"], s["max"]) == (2.0, 1.0, 3.0)
    assert s["std"] == pytest.approx(math.sqrt(2 / 3))


def test_node_features() -> None:
    positions = np.array([[3.0, 4.0, 10.0], [0.0, -2.0, -1.0]])
    x = node_feature_matrix(positions, ["r", "phi", "z", "eta"], [10.0, math.pi, 100.0, 1.0])
    np.testing.assert_allclose(
        x[0], [0.5, math.atan2(4, 3) / math.pi, 0.1, math.asinh(2.0)], rtol=1e-6
    )
    np.testing.assert_allclose(x[1, :3], [0.2, -0.5, -0.01], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown node features"):
        node_feature_matrix(positions, ["rho"], [1.0])
    with pytest.raises(ValueError, match="2 node features but 1"):
        node_feature_matrix(positions, ["r", "z"], [1.0])


def test_bad_input_is_named(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    p = pipeline(edges, label, shrink=False)
    positions = event.positions()
    positions[5, 1] = np.nan
    with pytest.raises(InputDataError, match="non-finite"):
        p(positions, event.hits["geometry_id"])
    with pytest.raises(ValueError, match="geometry ids"):
        p(event.positions(), event.hits["geometry_id"][:-1])
    with pytest.raises(TypeError, match="unknown graph constructor"):
        GnnPipeline(object(), [], WalkthroughTrackBuilding()).run_event(event)

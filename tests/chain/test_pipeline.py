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


class GraphOfIds:
    """A graph constructor holding a graph over an event's hit rows: it returns the edges
    whose two hits are both among the nodes it is given (``data.node_ids``), renumbered, with
    the truth label in edge-feature column 0 (for :class:`Oracle`)."""

    def __init__(self, edge_index: np.ndarray, label: np.ndarray) -> None:
        self.edges, self.label = edge_index, label

    def construct_graph(self, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        row = {int(node): k for k, node in enumerate(data.node_ids)}
        here = np.array([int(a) in row and int(b) in row for a, b in self.edges.T], dtype=bool)
        local = np.array(
            [
                [row[int(a)] for a in self.edges[0, here]],
                [row[int(b)] for b in self.edges[1, here]],
            ],
            dtype=np.int64,
        ).reshape(2, -1)
        attr = torch.zeros(local.shape[1], 6)
        attr[:, 0] = torch.from_numpy(self.label[here].astype(np.float32))
        return torch.from_numpy(local), attr


def two_pass(event: Any, edges: np.ndarray, label: np.ndarray) -> tuple[GnnPipeline, np.ndarray]:
    """A first pass on the true edges of the pT > 1 GeV particles only, then the whole graph
    on the hits left; also the first pass's edges. ``edges`` [2, E] hold node ids
    ``500 + 3 * row``."""
    rows = (edges - 500) // 3
    fast = edge_truth_mask(rows, truth_graph(event, TruthSelection(1.0, 3)), event.n_hits)
    builder = WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=3)
    first = GnnPipeline(GraphOfIds(edges[:, fast], label[fast]), [Oracle(0.01)], builder)
    second = GnnPipeline(
        GraphOfIds(edges, label),
        [Oracle(0.01)],
        WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=3),
        shrinkNodes=True,
        firstPass=first,
    )
    return second, edges[:, fast]


def test_second_pass_runs_on_the_space_points_the_first_left(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    ids = np.arange(event.n_hits) * 3 + 500  # what candidates report (and the graph holds)
    chain, first_edges = two_pass(event, ids[edges], label)
    truth = StageTruth(truth_graph(event, TruthSelection(0.0, 3)), truth_graph(event), event.n_hits)
    result = chain(event.positions(), event.hits["geometry_id"], ids, truth)

    first = chain.first_pass_candidates
    assert 0 < len(first) < len(result.candidates)
    assert result.counts["first pass: candidates"] == len(first)
    assert result.counts["candidates"] == len(result.candidates)
    for a, b in zip(first, result.candidates[: len(first)]):
        assert np.array_equal(a, b)  # the first pass's candidates lead
    claimed = np.concatenate(first)
    later = np.concatenate(result.candidates[len(first) :])
    assert not np.intersect1d(claimed, later).size  # its hits are not seen again
    assert np.all((later - 500) % 3 == 0)
    # the second pass got every hit but the claimed ones
    assert result.counts["nodes"] == event.n_hits - len(claimed)
    assert result.counts["first pass: nodes"] == event.n_hits
    # every particle is found by one pass or the other, each once
    metrics = TrackMetrics(selection=ParticleSelection(min_pt=0.0, min_hits=3, max_abs_eta=4.0))
    metrics.add(event, [(c - 500) // 3 for c in result.candidates])
    assert metrics.efficiency == 1.0
    assert metrics.duplicate_ratio == 0.0

    # truth per pass: the first pass is measured on the whole event's targets, the second
    # on the targets among its own hits, which its graph holds all of
    n_target = truth.target.shape[1]
    assert result.truth_edges["first pass: graph construction"] == n_target
    left = truth.subset(np.setdiff1d(np.arange(event.n_hits), (claimed - 500) // 3))
    assert 0 < result.truth_edges["graph construction"] == left.target.shape[1] < n_target
    assert result.edge_metrics["graph construction"][0] == 1.0
    found = first_edges.shape[1] / n_target
    assert result.edge_metrics["first pass: graph construction"][0] == pytest.approx(found)

    seconds = result.seconds
    assert seconds["total"] >= seconds["first pass: total"] + seconds["graph construction"]
    assert chain.firstPass is not None
    assert chain.firstPass.times.summary()["total"]["events"] == 1


def test_stage_truth_subset() -> None:
    truth = StageTruth(np.array([[0, 1, 3], [1, 2, 4]]), np.array([[0, 1, 3, 2], [1, 2, 4, 4]]), 5)
    part = truth.subset(np.array([1, 2, 4]))
    assert part.n_nodes == 3
    assert part.target.tolist() == [[0], [1]]  # 1 -> 2 alone has both ends kept
    assert part.all_true.tolist() == [[0, 1], [1, 2]]  # 1 -> 2 and 2 -> 4


def test_first_pass_must_be_a_single_pipeline(event_and_graph: Any) -> None:
    event, edges, label = event_and_graph
    chain, _ = two_pass(event, 500 + 3 * edges, label)
    builder = WalkthroughTrackBuilding()
    with pytest.raises(ValueError, match="cannot have a first pass of its own"):
        GnnPipeline(LabelledGraph(edges, label), [Oracle(0.01)], builder, firstPass=chain)
    with pytest.raises(TypeError, match="firstPass must be a GnnPipeline"):
        GnnPipeline(LabelledGraph(edges, label), [], builder, firstPass=object())  # type: ignore[arg-type]

"""GNN datasets: features, labels, weights, graph files, phi reflection, TrackML weights."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.graph.features import edge_features
from acts_gnn.graph.store import CachedGraphs, load_graph, save_graph
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.train.config import ConfigError, config_from_dict
from acts_gnn.train.data import (
    GnnDataset,
    SyntheticGraphs,
    build_datasets,
    feature_signs,
    make_sample,
)
from acts_gnn.train.synthetic import SyntheticEvents, synthetic_event, synthetic_graph
from acts_gnn.train.weights import pt_weight, trackml_hit_weights

EDGE_NAMES = ["dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope"]


def synthetic_config(**data: object):  # type: ignore[no-untyped-def]
    section: dict[str, object] = {"source": "synthetic", "val_events": 1}
    section.update(data)
    return config_from_dict(
        {
            "data": section,
            "loss": {"pos_weight": 3.0, "non_target_weight": 0.5, "fake_weight": 1.0},
        }
    )


def test_sample_features_labels_weights() -> None:
    config = synthetic_config()
    event = synthetic_event(config.data.synthetic, 0)
    edges = synthetic_graph(event, config.data.synthetic)
    s = make_sample(event, edges, None, config.data, config.loss)
    assert s.x.shape == (event.n_hits, 4)
    assert s.x.dtype == torch.float32
    np.testing.assert_allclose(s.x[:, 0].numpy() * 1000, event.hits["r"], rtol=1e-6)
    np.testing.assert_allclose(s.x[:, 1].numpy() * math.pi, event.hits["phi"], rtol=1e-6)
    assert torch.equal(s.edge_index, torch.from_numpy(edges))
    y = edge_truth_mask(edges, truth_graph(event), event.n_hits)
    target = edge_truth_mask(edges, truth_graph(event, TruthSelection(1.0, 3)), event.n_hits)
    assert np.array_equal(s.y.numpy() > 0, y)
    assert np.array_equal(s.target.numpy(), target)
    assert target.sum() > 0
    assert (y & ~target).sum() > 0
    assert (~y).sum() > 0
    w = s.weight.numpy()
    assert np.all(w[target] == 3.0)
    assert np.all(w[y & ~target] == 0.5)
    assert np.all(w[~y] == 1.0)
    assert s.edge_attr is None


def test_edge_features_are_scaled_columns() -> None:
    config = synthetic_config(edge_features=["dphi", "dz"], edge_feature_scales=[0.1, 100.0])
    event = synthetic_event(config.data.synthetic, 1)
    edges = synthetic_graph(event, config.data.synthetic)
    s = make_sample(event, edges, None, config.data, config.loss)
    raw = edge_features(event.positions(), edges)
    assert s.edge_attr is not None
    np.testing.assert_allclose(s.edge_attr[:, 0].numpy(), raw[:, 1] / 0.1, rtol=1e-5)
    np.testing.assert_allclose(s.edge_attr[:, 1].numpy(), raw[:, 2] / 100.0, rtol=1e-5)


def _mirrored(event: Event) -> Event:
    hits = dict(event.hits)
    hits["y"] = -hits["y"]
    hits["phi"] = -hits["phi"]
    particles = dict(event.particles)
    particles["py"] = -particles["py"]
    particles["phi"] = -particles["phi"]
    particles["vy"] = -particles["vy"]
    return Event(event.event_id, hits, particles)


def test_phi_reflection_equals_the_mirrored_event() -> None:
    names = ["x", "y", "r", "phi", "z", "eta"]
    config = synthetic_config(
        node_features=names,
        feature_scales=[1.0] * 6,
        edge_features=EDGE_NAMES,
        edge_feature_scales=[1.0] * 6,
    )
    event = synthetic_event(config.data.synthetic, 2)
    edges = synthetic_graph(event, config.data.synthetic)
    sample = make_sample(event, edges, None, config.data, config.loss)
    mirror = make_sample(_mirrored(event), edges, None, config.data, config.loss)
    node_sign, edge_sign = feature_signs(config.data)
    reflected = sample.reflected(node_sign, edge_sign)
    # phi = +-pi hits may wrap; compare away from the seam
    keep = np.abs(event.hits["phi"]) < 3.1
    torch.testing.assert_close(reflected.x[keep], mirror.x[keep], atol=1e-4, rtol=1e-5)
    assert reflected.edge_attr is not None
    assert mirror.edge_attr is not None
    torch.testing.assert_close(reflected.edge_attr, mirror.edge_attr, atol=1e-4, rtol=1e-4)
    assert torch.equal(reflected.y, sample.y)


def test_graph_files_round_trip_and_errors(tmp_path: Path) -> None:
    edges = np.array([[0, 1, 2], [1, 2, 3]])
    feats = np.arange(18, dtype=np.float32).reshape(3, 6)
    path = save_graph(tmp_path, 42, edges, feats)
    assert path.name == "event000000042-graph.npz"
    e, f = load_graph(tmp_path, 42, n_nodes=4)
    assert np.array_equal(e, edges)
    assert np.array_equal(f, feats)
    with pytest.raises(InputDataError, match="outside"):
        load_graph(tmp_path, 42, n_nodes=3)
    with pytest.raises(InputDataError, match="does not exist") as err:
        load_graph(tmp_path, 7)
    assert err.value.event == 7
    save_graph(tmp_path, 8, np.zeros((3, 2), np.int64))
    with pytest.raises(InputDataError, match=r"\[2, E\]"):
        load_graph(tmp_path, 8)


def test_cached_graphs(tmp_path: Path) -> None:
    config = synthetic_config()
    calls = []

    def source(event: Event):  # type: ignore[no-untyped-def]
        calls.append(event.event_id)
        return SyntheticGraphs(config.data.synthetic)(event)

    events = SyntheticEvents(config.data.synthetic, [0, 1])
    cached = CachedGraphs(source, tmp_path)
    first = [cached(e)[0] for e in events]
    second = [cached(e)[0] for e in events]
    assert calls == [0, 1]
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


def test_build_datasets_split() -> None:
    config = synthetic_config(train_events=5, val_events=2)
    train, val = build_datasets(config)
    assert train.event_ids == [0, 1, 2, 3, 4]
    assert val.event_ids == [5, 6]
    assert train[0] is train[0]  # kept in memory
    with pytest.raises(InputDataError, match="cannot give"):
        build_datasets(synthetic_config(train_events=20, val_events=2))


def test_trackml_hit_weights() -> None:
    assert pt_weight([0.01, 0.3, 0.5, 1.75, 3.0, 10.0]) == pytest.approx(
        [0.0, 0.2, 0.2, 0.6, 1.0, 1.0]
    )
    config = synthetic_config()
    event = synthetic_event(config.data.synthetic, 3)
    w = trackml_hit_weights(event)
    pid = event.hits["particle_id"]
    n_meas = event.particles["n_measurements"]
    assert np.all(w[pid < 0] == 0)
    short = (pid >= 0) & (n_meas[np.maximum(pid, 0)] < 4)
    assert np.all(w[short] == 0)
    assert w[w > 0].mean() == pytest.approx(1.0)
    # within one long particle: the first hit (closest to the vertex) weighs most
    p = int(np.argmax(n_meas))
    rows = np.flatnonzero(pid == p)
    order = np.argsort(event.hits["r"][rows])
    assert w[rows][order][0] == w[rows].max()
    loss = dataclasses.replace(config.loss, hit_weights="trackml")
    edges = synthetic_graph(event, config.data.synthetic)
    s = make_sample(event, edges, None, config.data, loss)
    plain = make_sample(event, edges, None, config.data, config.loss)
    fake = s.y == 0
    assert torch.equal(s.weight[fake], plain.weight[fake])
    assert not torch.equal(s.weight[~fake], plain.weight[~fake])


def test_target_pt_weights_scale_target_edges_by_their_particle_pt() -> None:
    config = synthetic_config()
    event = synthetic_event(config.data.synthetic, 2)
    edges = synthetic_graph(event, config.data.synthetic)
    knots = [[1.0, 1.0], [3.0, 5.0]]
    loss = dataclasses.replace(config.loss, target_pt_weights=knots)
    s = make_sample(event, edges, None, config.data, loss)
    plain = make_sample(event, edges, None, config.data, config.loss)
    target = s.target.numpy()
    pt = event.particles["pt"][event.hits["particle_id"][edges[0]]]
    w, w0 = s.weight.numpy(), plain.weight.numpy()
    assert np.array_equal(w[~target], w0[~target])
    expected = 3.0 * np.clip(1.0 + 2.0 * (pt[target] - 1.0), 1.0, 5.0)
    np.testing.assert_allclose(w[target], expected, rtol=1e-6)
    assert (pt[target] > 3.0).any()
    assert (pt[target] < 2.0).any()
    assert w[target].max() == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("knots", "message"),
    [
        ([[1.0]], "each knot"),
        ([[2.0, 1.0], [1.0, 2.0]], "must increase"),
        ([[1.0, -1.0]], ">= 0"),
        ([[float("nan"), 1.0]], "finite"),
    ],
)
def test_target_pt_weights_are_validated(knots: list[list[float]], message: str) -> None:
    with pytest.raises(ConfigError, match=f"loss.target_pt_weights.*{message}"):
        config_from_dict({"data": {"source": "synthetic"}, "loss": {"target_pt_weights": knots}})


def test_prepared_events_with_a_module_map(prepared_sample, tmp_path: Path) -> None:
    """The real path: prepared events, a module map built from them, cached graphs."""
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.io.event_store import PreparedDataset

    events = PreparedDataset(prepared_sample.directory)
    module_map = build_module_map(events, TruthSelection(min_pt=0.5, min_hits=3))
    map_path = module_map.save(tmp_path / "mm.npz")
    config = config_from_dict(
        {
            "output": str(tmp_path / "out"),
            "data": {
                "input": str(prepared_sample.directory),
                "module_map": str(map_path),
                "train_events": 1,
                "val_events": 1,
                "edge_features": EDGE_NAMES,
                "edge_feature_scales": [100.0, 0.1, 100.0, 1.0, 0.001, 1.0],
            },
        }
    )
    train, val = build_datasets(config)
    s = train[0]
    assert s.n_edges > 0
    assert s.edge_attr is not None
    assert s.edge_attr.shape == (s.n_edges, 6)
    assert int(s.target.sum()) > 0
    assert (tmp_path / "out" / "graphs" / f"event{train.event_ids[0]:09d}-graph.npz").is_file()
    # a second dataset reads the cached graph files and gives the same sample
    again = GnnDataset(train.events, train.graphs, config.data, config.loss)[0]
    assert torch.equal(again.edge_index, s.edge_index)
    assert torch.equal(again.y, s.y)
    assert len(val) == 1


def test_phi_sectors_partition_the_graph() -> None:
    config = synthetic_config()
    event = synthetic_event(config.data.synthetic, 0)
    edges = synthetic_graph(event, config.data.synthetic)
    sample = make_sample(event, edges, None, config.data, config.loss)
    assert sample.phi is not None
    width, start = 2 * math.pi / 4, 0.3
    sectors = [sample.phi_sector(start + k * width, width) for k in range(4)]
    assert sum(s.n_nodes for s in sectors) == sample.n_nodes
    phi = event.hits["phi"]
    sector_of = np.floor(np.mod(phi - start, 2 * math.pi) / width).astype(int)
    inside = sector_of[edges[0]] == sector_of[edges[1]]
    assert sum(s.n_edges for s in sectors) == int(inside.sum())
    for k, s in enumerate(sectors):
        rows = np.flatnonzero(sector_of == k)
        torch.testing.assert_close(s.x, sample.x[rows])
        # the renumbered edges join the same hits as the original ones
        original = edges[:, inside & (sector_of[edges[0]] == k)]
        assert np.array_equal(rows[s.edge_index.numpy()], original)
        assert torch.equal(s.y, sample.y[torch.from_numpy(inside & (sector_of[edges[0]] == k))])

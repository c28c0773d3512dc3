"""The triplet graph on hand-made doublet graphs whose triplets are known one by one."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.graph.triplets import (
    DOUBLET_FEATURES,
    TRIPLET_FEATURES,
    build_triplet_graph,
    innermost_triplets,
    triplet_features,
    triplet_index,
    triplet_truth,
)
from tests.graph.test_truth import make_event


def _pairs(index: np.ndarray, edges: np.ndarray) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    return {(tuple(edges[:, a].tolist()), tuple(edges[:, b].tolist())) for a, b in index.T.tolist()}


def test_triplet_index_known_graph():
    # hits 0..5; doublets: 0->2, 1->2 (two into 2), 2->3, 2->4 (two out of 2), 3->5, 4->4 (loop)
    edges = np.array([[0, 1, 2, 2, 3, 4], [2, 2, 3, 4, 5, 4]])
    index = triplet_index(edges, 6)
    expected = {
        ((0, 2), (2, 3)),
        ((0, 2), (2, 4)),
        ((1, 2), (2, 3)),
        ((1, 2), (2, 4)),
        ((2, 3), (3, 5)),
    }  # 2->4 then the self-loop 4->4 is no triplet; 3->5 ends nowhere
    assert index.shape == (2, 5)
    assert _pairs(index, edges) == expected
    # orientation: the first doublet ends where the second starts
    assert np.all(edges[1, index[0]] == edges[0, index[1]])
    # sorted by the in-doublet
    assert np.all(np.diff(index[0]) >= 0)


def test_triplet_index_matches_brute_force():
    rng = np.random.default_rng(3)
    n = 40
    edges = rng.integers(0, n, size=(2, 300))
    index = triplet_index(edges, n)
    brute = {
        (a, b)
        for a in range(edges.shape[1])
        for b in range(edges.shape[1])
        if edges[1, a] == edges[0, b] and edges[0, a] != edges[1, a] and edges[0, b] != edges[1, b]
    }
    assert set(map(tuple, index.T.tolist())) == brute
    assert index.shape[1] == len(brute)


def test_triplet_index_empty_and_bad_input():
    assert triplet_index(np.zeros((2, 0), np.int64), 5).shape == (2, 0)
    with pytest.raises(ValueError, match="outside"):
        triplet_index(np.array([[0], [7]]), 5)
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        triplet_index(np.zeros((3, 2), np.int64), 5)


def _two_tracks():
    """Two particles of four hits on radii 30..120 mm, plus a crossing fake doublet."""
    radii = np.array([30.0, 60.0, 90.0, 120.0])
    y0 = 0.002 * radii**2
    a = np.stack([radii, y0, 0.5 * np.hypot(radii, y0)], axis=1)  # particle 0: curves, z = r / 2
    b = np.stack([radii * 0, radii, -0.2 * radii], axis=1)  # particle 1: straight along y
    positions = np.concatenate([a, b])  # rows 0-3: particle 0, rows 4-7: particle 1
    pid = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    event = make_event(positions, pid, [{"pt": 2.0}, {"pt": 1.5}])
    edges = np.array([[0, 1, 2, 4, 5, 6, 1], [1, 2, 3, 5, 6, 7, 6]])  # last: 1 -> 6 fake
    scores = np.array([0.9, 0.8, 0.95, 0.7, 0.9, 0.04, 0.6], np.float32)
    return event, edges, scores


def test_triplet_truth_and_cut():
    event, edges, scores = _two_tracks()
    graph = triplet_truth(build_triplet_graph(event.positions(), edges, scores, 0.0), event)
    hits = {tuple(h) for h in graph.hits.tolist()}
    # true: 0-1-2, 1-2-3, 4-5-6, 5-6-7; fake: 0-1-6 (fake doublet), 1-6-7 (fake doublet)
    assert hits == {(0, 1, 2), (1, 2, 3), (4, 5, 6), (5, 6, 7), (0, 1, 6), (1, 6, 7)}
    truth = {tuple(h): bool(t) for h, t in zip(graph.hits.tolist(), graph.y, strict=True)}
    assert truth == {
        (0, 1, 2): True,
        (1, 2, 3): True,
        (4, 5, 6): True,
        (5, 6, 7): True,
        (0, 1, 6): False,
        (1, 6, 7): False,
    }
    assert graph.doublet_y.tolist() == [1, 1, 1, 1, 1, 1, 0]
    # the doublet cut removes 6 -> 7 (score 0.04): 5-6-7 and 1-6-7 go
    cut = build_triplet_graph(event.positions(), edges, scores, 0.05)
    assert cut.doublets.shape == (2, 6)
    assert {tuple(h) for h in cut.hits.tolist()} == {(0, 1, 2), (1, 2, 3), (4, 5, 6), (0, 1, 6)}


def test_feature_shapes_and_values():
    event, edges, scores = _two_tracks()
    graph = build_triplet_graph(event.positions(), edges, scores, 0.0)
    assert graph.x.shape == (7, len(DOUBLET_FEATURES)) == (7, 13)
    assert graph.edge_attr.shape == (6, len(TRIPLET_FEATURES)) == (6, 7)
    assert graph.x.dtype == np.float32
    assert graph.edge_attr.dtype == np.float32
    assert np.all(np.isfinite(graph.x))
    assert np.all(np.isfinite(graph.edge_attr))
    np.testing.assert_allclose(graph.x[:, -1], scores, rtol=1e-6)  # last: the doublet score
    np.testing.assert_allclose(graph.x[0, 0], np.hypot(30.0, 1.8) / 1000.0, rtol=1e-6)  # r / 1000
    names = [n for n, _ in TRIPLET_FEATURES]
    feats = {tuple(h): f for h, f in zip(graph.hits.tolist(), graph.edge_attr, strict=True)}
    # straight particle 1 through the origin: zero curvature, d0 and z0, no angle changes
    straight = feats[(4, 5, 6)]
    for name in ("curvature", "d0", "z0", "dtheta", "dphi"):
        assert abs(straight[names.index(name)]) < 1e-5, name
    # particle 0 (y = 0.002 x^2 at x = 30, 60, 90): circle through the points, z0 = 0
    p = event.positions()[[0, 1, 2]]
    ab, bc, ac = p[1] - p[0], p[2] - p[1], p[2] - p[0]
    kappa = (
        2
        * (ab[0] * bc[1] - ab[1] * bc[0])
        / (np.hypot(*ab[:2]) * np.hypot(*bc[:2]) * np.hypot(*ac[:2]))
    )
    curved = feats[(0, 1, 2)]
    assert curved[names.index("curvature")] == pytest.approx(kappa / 1e-3, rel=1e-5)
    assert curved[names.index("curvature")] > 0  # counter-clockwise bend
    assert abs(curved[names.index("z0")]) < 1e-4
    assert curved[names.index("score_product")] == pytest.approx(0.9 * 0.8, rel=1e-6)
    assert curved[names.index("score_min")] == pytest.approx(0.8, rel=1e-6)


def test_triplet_features_collinear_off_axis():
    # three collinear hits on the line y = 10 mm: curvature 0, d0 = 10 mm (scaled by 10)
    pos = np.array([[30.0, 10.0, 0.0], [60.0, 10.0, 0.0], [90.0, 10.0, 0.0]])
    f = triplet_features(pos, np.array([[0, 1, 2]]), np.array([[1.0, 1.0]], np.float32))
    assert f[0, 0] == 0.0
    assert f[0, 1] == pytest.approx(1.0, rel=1e-6)


def test_innermost_triplets():
    event, edges, scores = _two_tracks()
    graph = build_triplet_graph(event.positions(), edges, scores, 0.0)
    hits = [tuple(h) for h in graph.hits.tolist()]
    selected = np.array([h in {(0, 1, 2), (1, 2, 3), (4, 5, 6), (5, 6, 7)} for h in hits])
    inner = innermost_triplets(graph.index, selected)
    assert {h for h, k in zip(hits, inner, strict=True) if k} == {(0, 1, 2), (4, 5, 6)}


def test_innermost_triplets_depth():
    event, edges, scores = _two_tracks()
    graph = build_triplet_graph(event.positions(), edges, scores, 0.0)
    hits = [tuple(h) for h in graph.hits.tolist()]
    selected = np.array([h in {(0, 1, 2), (1, 2, 3), (4, 5, 6), (5, 6, 7)} for h in hits])

    def picked(depth):
        inner = innermost_triplets(graph.index, selected, depth)
        return {h for h, k in zip(hits, inner, strict=True) if k}

    assert picked(1) == {(0, 1, 2), (4, 5, 6)}
    # one step further out along each chain: its second triplet
    assert picked(2) == {(0, 1, 2), (1, 2, 3), (4, 5, 6), (5, 6, 7)}
    assert picked(5) == picked(2)  # chains of two triplets: nothing further out
    with pytest.raises(ValueError, match="depth"):
        innermost_triplets(graph.index, selected, 0)


def overlap_chain():
    """One straight track from the origin through the pixel barrel (r = 32, 72, 116, 172 mm)
    that crosses the overlap of two modules of the innermost layer: hits 0 and 1 lie on one
    layer, 2 mm apart in radius; the doublets join consecutive hits."""
    radii = np.array([32.0, 34.0, 72.0, 116.0, 172.0])
    positions = np.stack([radii * 0.8, radii * 0.6, 0.3 * radii], axis=1)
    event = make_event(positions, np.zeros(5, np.int64), [{"pt": 2.0}])
    edges = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    return event, edges, np.full(4, 0.9, np.float32)


def test_triplet_seeding_min_delta_r(tmp_path):
    """Without the radial-distance cut the seed is the overlap triplet (two hits of one
    layer, a 2 mm lever arm); with it the seeds start after the overlap."""
    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.nn.triplet_classifier import TripletClassifier
    from acts_gnn.train.export import export_torchscript

    path = export_torchscript(
        TripletClassifier(hidden=8, n_iterations=1),
        tmp_path / "t.pt",
        metadata={"doublet_cut": 0.05},
    )
    event, edges, scores = overlap_chain()

    def seeds(**cuts):
        stage = TripletSeeding(path, cut=0.0, **cuts)
        return [tuple(s.tolist()) for s in stage(edges, scores, 5, None, event.positions())]

    assert seeds() == [(0, 1, 2)]
    assert seeds(minSeedDeltaR=4.0) == [(1, 2, 3)]
    assert sorted(seeds(minSeedDeltaR=4.0, seedsPerChain=2)) == [(1, 2, 3), (2, 3, 4)]
    assert seeds(minSeedDeltaR=50.0) == []  # every triplet has a gap < 50 mm (72 -> 116: 44)
    with pytest.raises(ValueError, match="seedsPerChain"):
        TripletSeeding(path, seedsPerChain=0)


def test_triplet_seeding_stage(tmp_path):
    import torch

    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.nn.triplet_classifier import TripletClassifier
    from acts_gnn.train.export import export_torchscript

    torch.manual_seed(0)
    path = export_torchscript(
        TripletClassifier(hidden=8, n_iterations=1),
        tmp_path / "triplet.pt",
        metadata={"doublet_cut": 0.05, "score_cut": 0.5},
    )
    event, edges, scores = _two_tracks()
    ids = np.arange(100, 108)
    stage = TripletSeeding(path, cut=0.0)  # every triplet passes (sigmoid > 0)
    assert stage.doublet_cut == 0.05
    assert stage.minMeasurementsPerTrack == 3
    seeds = stage(torch.from_numpy(edges), torch.from_numpy(scores), 8, ids, event.positions())
    # doublet 6 -> 7 is below the doublet cut; the innermost of each chain of triplets
    assert {tuple(s.tolist()) for s in seeds} == {(100, 101, 102), (104, 105, 106), (100, 101, 106)}
    all_seeds = TripletSeeding(path, cut=0.0, innermost=False)(
        edges, scores, 8, ids, event.positions()
    )
    assert len(all_seeds) == 4
    assert TripletSeeding(path, cut=1.0)(edges, scores, 8, ids, event.positions()) == []
    assert stage.cut == 0.0
    assert TripletSeeding(path).cut == 0.5
    with pytest.raises(ValueError, match="positions"):
        stage(edges, scores, 8, ids)


def test_triplet_seeding_seed_cuts(tmp_path):
    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.nn.triplet_classifier import TripletClassifier
    from acts_gnn.train.export import export_torchscript

    path = export_torchscript(
        TripletClassifier(hidden=8, n_iterations=1),
        tmp_path / "t.pt",
        metadata={"doublet_cut": 0.05},
    )
    event, edges, scores = _two_tracks()
    pos = event.positions()

    def seeds(**cuts):
        stage = TripletSeeding(path, cut=0.0, innermost=False, **cuts)
        return {tuple(s.tolist()) for s in stage(edges, scores, 8, None, pos)}

    assert seeds() == {(0, 1, 2), (1, 2, 3), (4, 5, 6), (0, 1, 6)}
    assert seeds(maxSeedR=40.0) == {(0, 1, 2), (4, 5, 6), (0, 1, 6)}  # bottom hits at r ~ 30
    # particle 0 bends on a ~250 mm radius (pT ~ 0.15 GeV in 2 T): cut by pT > 0.5 GeV
    assert seeds(minPt=0.5) == {(4, 5, 6)}
    assert seeds(minPt=0.1) >= {(0, 1, 2), (1, 2, 3), (4, 5, 6)}
    assert (4, 5, 6) in seeds(maxImpact=0.1)  # the straight track through the origin

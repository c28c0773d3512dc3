"""The vertexing stage on hand-made track sets with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.chain.vertex_fit import (
    fit_vertices,
    merge_compatible,
    multi_vertex_fit,
    track_jacobians,
)
from acts_gnn.chain.vertexing import (
    SignificanceScorer,
    TrackSet,
    VertexFinder,
    candidate_pairs,
    connected_clusters,
    split_clusters,
)
from acts_gnn.errors import InputDataError


def make_tracks(
    vertex_z: list[float],
    n_per_vertex: list[int],
    sigma_z0: float = 0.05,
    seed: int = 0,
    pt: list[float] | None = None,
) -> tuple[TrackSet, np.ndarray]:
    """Tracks from vertices at ``vertex_z`` [mm] with z0 smeared by ``sigma_z0``; truth [N]."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(vertex_z)), n_per_vertex)
    n = len(truth)
    params = np.zeros((n, 5))
    params[:, 1] = np.asarray(vertex_z)[truth] + rng.normal(0, sigma_z0, n)
    params[:, 2] = rng.uniform(-np.pi, np.pi, n)
    params[:, 3] = rng.uniform(0.5, 2.6, n)
    track_pt = np.asarray(pt)[truth] if pt is not None else np.ones(n)
    params[:, 4] = np.sin(params[:, 3]) / track_pt * rng.choice([-1, 1], n)
    sigmas = np.tile([0.02, sigma_z0, 1e-3, 1e-3, 1e-3], (n, 1))
    return TrackSet.from_sigmas(params, sigmas), truth


def same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = {(int(a), int(b)) for a, b in zip(labels, truth, strict=True)}
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


def test_candidate_pairs_are_all_pairs_within_the_window() -> None:
    z = np.random.default_rng(3).normal(0, 20, 400)
    pairs = candidate_pairs(z, 1.5)
    i, j = np.triu_indices(len(z), 1)
    near = np.abs(z[i] - z[j]) < 1.5
    assert pairs.shape[1] == near.sum()
    assert set(map(tuple, pairs.T.tolist())) == set(zip(i[near].tolist(), j[near].tolist()))
    assert (pairs[0] < pairs[1]).all()
    assert candidate_pairs(np.zeros(0), 1.0).shape == (2, 0)
    with pytest.raises(ValueError, match="positive"):
        candidate_pairs(z, 0.0)


def test_separated_vertices_are_found_exactly_with_their_z() -> None:
    tracks, truth = make_tracks([-40.0, 0.0, 25.0], [10, 6, 3], pt=[1.0, 5.0, 1.0])
    vertices = VertexFinder(clustering="components")(tracks)
    assert len(vertices) == 3
    assert same_partition(vertices.track_vertex, truth)
    # vertex 0 has the highest sum pT^2: the 6 tracks of pT 5 GeV at z = 0
    assert vertices.n_tracks.tolist() == [6, 10, 3]
    np.testing.assert_allclose(vertices.sum_pt2[0], 6 * 25.0, rtol=1e-9)
    for v in range(3):
        t = vertices.tracks_of(v)
        assert (vertices.track_weight[t] > 0.9).all()  # no outliers: full weights
        truth_z = [-40.0, 0.0, 25.0][truth[t[0]]]
        sigma = np.sqrt(np.diagonal(vertices.covariance[v]))
        assert abs(vertices.position[v, 2] - truth_z) < 4 * sigma[2]
        assert sigma[2] < 0.05  # better than one track
        assert (np.abs(vertices.position[v, :2]) < 4 * sigma[:2]).all()
        assert (sigma[:2] <= 0.0125 + 1e-12).all()  # at most the beam-spot constraint


def test_the_fit_recovers_a_displaced_vertex_from_d0_and_z0() -> None:
    rng = np.random.default_rng(4)
    vertex = np.array([0.02, -0.015, 5.0])
    n = 60
    params = np.zeros((n, 5))
    params[:, 2] = rng.uniform(-np.pi, np.pi, n)
    params[:, 3] = rng.uniform(0.3, 2.8, n)
    params[:, 4] = 0.5
    tracks = TrackSet.from_sigmas(params, np.tile([0.005, 0.01, 1e-3, 1e-3, 1e-3], (n, 1)))
    jac = track_jacobians(tracks)
    tracks.params[:, :2] = jac @ vertex + rng.normal(0, 1, (n, 2)) * [0.005, 0.01]
    fitted = fit_vertices(tracks, np.zeros(n, np.int64), beam_sigma=(1.0, 1.0))
    pull = (fitted.position[0] - vertex) / np.sqrt(np.diagonal(fitted.covariance[0]))
    assert (np.abs(pull) < 4).all(), pull
    assert np.sqrt(fitted.covariance[0, 0, 0]) < 0.003  # x from d0, not from the beam spot
    # z0 scatters mostly through the cot(theta) (x, y) terms (> 2x its 10 um resolution),
    # which a z-only mean of z0 would ignore
    assert np.std(tracks.z0 - vertex[2]) > 2 * 0.01


def test_a_bridge_merges_components_and_split_separates_them() -> None:
    # two cliques of 6 tracks, z = 0 and z = 1 mm, joined by one spurious high-score pair
    z0 = np.r_[np.zeros(6), np.ones(6)]
    a, b = np.triu_indices(12, 1)
    same = (a < 6) == (b < 6)
    scores = np.where(same, 0.95, 0.05)
    scores[(a == 5) & (b == 6)] = 0.9  # the bridge
    pairs = np.stack([a, b])
    components = connected_clusters(12, pairs, scores, cut=0.5)
    assert len(set(components.tolist())) == 1
    split = split_clusters(z0, pairs, scores, cut=0.5, split_ncut=0.4)
    assert same_partition(split, (np.arange(12) >= 6).astype(int))


def test_a_clique_is_not_split_and_a_chain_of_three_is_split_in_three() -> None:
    a, b = np.triu_indices(8, 1)
    pairs = np.stack([a, b])
    z0 = np.linspace(0, 0.1, 8)
    assert len(set(split_clusters(z0, pairs, np.full(len(a), 0.9), 0.5, 0.4).tolist())) == 1
    # three blocks in z, each bridged to the next by one pair
    truth = np.repeat([0, 1, 2], 5)
    a, b = np.triu_indices(15, 1)
    scores = np.where(truth[a] == truth[b], 0.9, 0.02)
    scores[(a == 4) & (b == 5)] = scores[(a == 9) & (b == 10)] = 0.8
    z0 = truth * 0.6 + np.linspace(0, 0.05, 15)
    labels = split_clusters(z0, np.stack([a, b]), scores, 0.5, 0.4)
    assert same_partition(labels, truth)


def test_close_vertices_split_finds_what_components_merges() -> None:
    # 10 vertices 0.5 mm apart, 8 tracks each, z0 resolution 0.1 mm: with the significance
    # scorer a few tail pairs chain the neighbours together
    z = np.arange(10) * 0.5
    tracks, truth = make_tracks(z.tolist(), [8] * 10, sigma_z0=0.1, seed=5)
    scorer = SignificanceScorer(offset=2.0)
    merged = VertexFinder(scorer=scorer, clustering="components")(tracks)
    split = VertexFinder(scorer=scorer, clustering="split")(tracks)
    assert len(merged) <= 2
    assert len(split) == 10
    assert same_partition(split.track_vertex, truth)
    np.testing.assert_allclose(np.sort(split.position[:, 2]), z, atol=0.1)


def test_the_adaptive_fit_down_weights_an_outlier() -> None:
    tracks, _ = make_tracks([0.0], [10], sigma_z0=0.05, seed=1)
    tracks.params[0, 1] = 1.0  # 20 sigma away
    labels = np.zeros(10, np.int64)
    vertices = fit_vertices(tracks, labels)
    assert vertices.track_weight[0] < 1e-6
    assert (vertices.track_weight[1:] > 0.9).all()
    assert abs(vertices.position[0, 2] - tracks.z0[1:].mean()) < 0.05 / 3


def test_the_fit_returns_a_known_vertex_within_its_stated_resolution() -> None:
    # 200 vertices of 50 tracks each (z0 resolution 50 um): the fitted z is within the fit's
    # own uncertainty (pull width ~ 1) and that uncertainty is sigma_z0 / sqrt(50)
    pulls, sigmas = [], []
    for seed in range(200):
        tracks, _ = make_tracks([1.0], [50], sigma_z0=0.05, seed=seed)
        v = fit_vertices(tracks, np.zeros(50, np.int64))
        sigmas.append(np.sqrt(v.covariance[0, 2, 2]))
        pulls.append((v.position[0, 2] - 1.0) / sigmas[-1])
    assert np.median(sigmas) == pytest.approx(0.05 / np.sqrt(50), rel=0.05)
    assert 0.85 < np.std(pulls) < 1.15
    assert abs(np.mean(pulls)) < 0.25


def test_the_multi_vertex_fit_takes_back_the_tracks_the_clustering_left_out() -> None:
    # vertex A (z = 0, 40 tracks) and B (z = 1 mm, 20 tracks); the clustering left 15 of A's
    # tracks out and put 3 of A's into B's cluster
    pulls, sigmas = [], []
    for seed in range(50):
        tracks, truth = make_tracks([0.0, 1.0], [40, 20], sigma_z0=0.05, seed=seed)
        labels = truth.copy()
        labels[:15] = -1
        labels[15:18] = 1
        single = fit_vertices(tracks, labels)
        assert sorted(single.n_tracks.tolist()) == [22, 23]
        multi = multi_vertex_fit(tracks, single)
        a = int(np.argmin(np.abs(multi.position[:, 2])))
        sigmas.append(np.sqrt(multi.covariance[a, 2, 2]))
        pulls.append(multi.position[a, 2] / sigmas[-1])
        assert multi.track_vertex.tolist() == single.track_vertex.tolist()  # membership kept
    # all 40 tracks of A count: sigma_z0 / sqrt(40), not / sqrt(22)
    assert np.median(sigmas) == pytest.approx(0.05 / np.sqrt(40), rel=0.05)
    assert np.std(pulls) < 1.2
    # a track half-way between two vertices is shared, the others are not
    tracks, truth = make_tracks([0.0, 0.3], [30, 30], sigma_z0=0.05, seed=3)
    tracks.params[0, 1] = 0.15
    tracks.params[0, 0] = 0.0
    seeds = fit_vertices(tracks, truth)
    multi = multi_vertex_fit(tracks, seeds, reassign=True)
    assert 0.2 < multi.track_weight[0] < 0.6
    # reassign: the other tracks go to the vertex nearest in z0 (where that is clear)
    nearest = np.argmin(np.abs(tracks.z0[:, None] - multi.position[None, :, 2]), axis=1)
    assert (multi.track_vertex[1:] == nearest[1:]).mean() > 0.95


def test_fragments_of_a_large_vertex_are_merged_back() -> None:
    # vertex A (z = 0, 60 tracks) split by the clustering into 45 + 15 tracks; vertex B 0.5 mm
    # away (25 tracks) and a small vertex C 0.3 mm from B (5 tracks): z resolution 50 um
    tracks, truth = make_tracks([0.0, 0.5, 0.8], [60, 25, 5], sigma_z0=0.05, seed=2)
    labels = truth.copy() + 1
    labels[45:60] = 0  # the fragment of A
    vertices = fit_vertices(tracks, labels)
    assert len(vertices) == 4
    merged = merge_compatible(vertices, 3.0, min_tracks_large=20)
    refit = fit_vertices(tracks, merged)
    assert len(refit) == 3
    assert same_partition(refit.track_vertex, truth)
    a = int(np.argmin(np.abs(refit.position[:, 2])))
    assert abs(refit.position[a, 2]) < 3 * np.sqrt(refit.covariance[a, 2, 2])
    assert refit.n_tracks[a] == 60
    # B and C (both fitted to < 15 um, 0.3 mm apart) are not compatible; nor is anything
    # with a large vertex when min_tracks_large is above every vertex
    assert len(fit_vertices(tracks, merge_compatible(vertices, 3.0, 100))) == 4
    # the stage does it by default: one vertex per truth vertex
    finder_vertices = VertexFinder(scorer=SignificanceScorer())(tracks)
    assert sorted(finder_vertices.n_tracks.tolist()) == [5, 25, 60]


def test_small_clusters_are_not_vertices() -> None:
    tracks, truth = make_tracks([0.0, 30.0], [5, 1])
    vertices = VertexFinder()(tracks)
    assert len(vertices) == 1
    assert (vertices.track_vertex[truth == 1] == -1).all()
    assert vertices.track_weight[truth == 1].tolist() == [0.0]
    empty = VertexFinder()(TrackSet(np.zeros((0, 5)), np.zeros((0, 5, 5))))
    assert len(empty) == 0
    assert empty.track_vertex.shape == (0,)


def test_bad_tracks_name_the_field() -> None:
    params = np.zeros((2, 5))
    params[1, 1] = np.nan
    with pytest.raises(InputDataError, match=r"track 1 has non-finite.*'params'"):
        TrackSet.from_sigmas(params, np.ones((2, 5)))
    with pytest.raises(InputDataError, match=r"track 0 .*'covariance'"):
        TrackSet.from_sigmas(np.zeros((2, 5)), np.r_[[np.zeros(5)], [np.ones(5)]])
    with pytest.raises(ValueError, match="clustering"):
        VertexFinder(clustering="magic")


def test_the_shipped_pair_network_files_agree_and_separate_the_pairs() -> None:
    from acts_gnn.chain.defaults import default_files
    from acts_gnn.chain.vertexing import OnnxPairScorer, TorchPairScorer

    files = default_files()
    onnx_scorer = OnnxPairScorer(files.vertex_pairs("onnx"))
    torch_scorer = TorchPairScorer(files.vertex_pairs("torch"))
    assert onnx_scorer.metadata["model"] == "VertexPairNet"
    assert onnx_scorer.metadata["window"] == 3.0
    assert onnx_scorer.metadata["max_significance"] == 6.0
    # 12 vertices 0.4 mm apart, z0 resolution 0.1 mm: pairs of one vertex score higher
    tracks, truth = make_tracks((np.arange(12) * 0.4).tolist(), [6] * 12, sigma_z0=0.1, seed=2)
    x = tracks.features()
    pairs = candidate_pairs(tracks.z0, 3.0)
    logits = onnx_scorer(x, pairs)
    np.testing.assert_allclose(logits, torch_scorer(x, pairs), atol=1e-4)
    same = truth[pairs[0]] == truth[pairs[1]]
    assert np.median(logits[same]) > np.median(logits[~same]) + 1.0

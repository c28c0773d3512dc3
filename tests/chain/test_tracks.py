"""Track building: C++ core and torch against slow references, and the stages on known graphs.

References are written from the definitions (one edge at a time, dictionaries and loops) and
share no code with acts_gnn.chain.tracks or cpp/track_building.cpp.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acts_gnn import _core
from acts_gnn.chain.tracks import (
    ConnectedComponentsTrackBuilding,
    JunctionRemovalTrackBuilding,
    WalkthroughTrackBuilding,
    candidates_from_labels,
    chain_labels_torch,
    connected_components,
    junction_removal_torch,
    scored_truth_graph,
    track_labels,
    walkthrough_torch,
)
from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.graph.truth import truth_graph
from acts_gnn.metrics import TrackMetrics

# -- references ----------------------------------------------------------------------------


def ref_best(edges: np.ndarray, scores: np.ndarray, end: int) -> dict[int, int]:
    """Node -> its best edge at ``end`` (0: out-edges by source, 1: in-edges by target)."""
    best: dict[int, int] = {}
    for e in range(edges.shape[1]):
        node = int(edges[end, e])
        if node not in best or scores[e] > scores[best[node]]:
            best[node] = e
    return best


def ref_junction_removal(edges: np.ndarray, scores: np.ndarray) -> np.ndarray:
    out, into = ref_best(edges, scores, 0), ref_best(edges, scores, 1)
    return np.array(
        [out[int(edges[0, e])] == e and into[int(edges[1, e])] == e for e in range(edges.shape[1])],
        dtype=bool,
    )


def ref_chains(n: int, nxt: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    prv = {v: u for u, v in nxt.items()}
    label = np.full(n, -1)
    position = np.full(n, -1)
    k = 0
    for u in range(n):
        if u in nxt and u not in prv:
            v, p = u, 0
            while True:
                label[v], position[v] = k, p
                p += 1
                if v not in nxt:
                    break
                v = nxt[v]
            k += 1
    for u in range(n):
        if label[u] < 0 and u in nxt:
            v, p = u, 0
            while label[v] < 0:
                label[v], position[v] = k, p
                p += 1
                v = nxt[v]
            k += 1
    return label, position


def ref_walkthrough(n: int, edges: np.ndarray, scores: np.ndarray, hi: float, lo: float):
    valid = [e for e in range(edges.shape[1]) if edges[0, e] != edges[1, e]]
    high = [e for e in valid if scores[e] > hi]
    keep = ref_junction_removal(edges[:, high], scores[high])
    chain = {high[i] for i in range(len(high)) if keep[i]}
    nxt = {int(edges[0, e]): int(edges[1, e]) for e in chain}
    prv = {v: u for u, v in nxt.items()}
    cand = [
        e
        for e in valid
        if e not in chain and scores[e] > lo and edges[0, e] not in nxt and edges[1, e] not in prv
    ]
    n_out: dict[int, int] = {}
    n_in: dict[int, int] = {}
    for e in cand:
        n_out[int(edges[0, e])] = n_out.get(int(edges[0, e]), 0) + 1
        n_in[int(edges[1, e])] = n_in.get(int(edges[1, e]), 0) + 1
    for e in cand:
        if n_out[int(edges[0, e])] == 1 and n_in[int(edges[1, e])] == 1:
            nxt[int(edges[0, e])] = int(edges[1, e])
    return ref_chains(n, nxt)


def ref_components(n: int, edges: np.ndarray) -> np.ndarray:
    """Union-find; labels by lowest node, -1 for nodes on no edge."""
    parent = list(range(n))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in edges.T:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    on_edge = set(edges.ravel().tolist())
    roots: dict[int, int] = {}
    label = np.full(n, -1)
    for u in range(n):
        if u in on_edge:
            label[u] = roots.setdefault(find(u), len(roots))
    return label


def random_graph(seed: int, n: int = 60, e: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Random directed multigraph with self loops, duplicates, cycles and tied scores."""
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, n, size=(2, e))
    scores = rng.integers(1, 10, size=e) / 10.0
    return edges.astype(np.int64), scores


# -- C++ core and torch vs references ------------------------------------------------------


def test_junction_removal_by_hand() -> None:
    #   0 -> 1 (0.9), 0 -> 2 (0.8), 1 -> 2 (0.7), 2 -> 3 (0.95), 3 -> 1 (0.6), 4 -> 5 tie
    edges = np.array([[0, 0, 1, 2, 3, 4, 4], [1, 2, 2, 3, 1, 5, 5]])
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.6, 0.5, 0.5])
    expected = [True, False, False, True, False, True, False]
    assert _core.junction_removal(6, edges, scores).tolist() == expected
    t = junction_removal_torch(6, torch.from_numpy(edges), torch.from_numpy(scores))
    assert t.tolist() == expected


@pytest.mark.parametrize("seed", range(6))
def test_junction_removal_cpp_torch_reference(seed: int) -> None:
    edges, scores = random_graph(seed)
    expected = ref_junction_removal(edges, scores)
    np.testing.assert_array_equal(_core.junction_removal(60, edges, scores), expected)
    for dtype in (torch.float32, torch.float64):
        t = junction_removal_torch(60, torch.from_numpy(edges), torch.tensor(scores, dtype=dtype))
        np.testing.assert_array_equal(t.numpy(), expected)
    kept = edges[:, expected]
    for end in (0, 1):
        assert np.bincount(kept[end], minlength=60).max() <= 1


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("hi", "lo"), [(0.5, 0.2), (0.7, 0.7), (0.3, 0.0)])
def test_walkthrough_cpp_torch_reference(seed: int, hi: float, lo: float) -> None:
    edges, scores = random_graph(seed)
    label, position = ref_walkthrough(60, edges, scores, hi, lo)
    c_label, c_pos, c_used, n_chains = _core.walkthrough(60, edges, scores, hi, lo)
    np.testing.assert_array_equal(c_label, label)
    np.testing.assert_array_equal(c_pos, position)
    assert n_chains == label.max() + 1
    t_label, t_pos, t_used = walkthrough_torch(
        60, torch.from_numpy(edges), torch.from_numpy(scores), hi, lo
    )
    np.testing.assert_array_equal(t_label.numpy(), label)
    np.testing.assert_array_equal(t_pos.numpy(), position)
    np.testing.assert_array_equal(t_used.numpy(), c_used)


@pytest.mark.parametrize("seed", range(3))
def test_chain_candidates_equal_sorted_labels(seed: int) -> None:
    edges, scores = random_graph(seed)
    label, position, _, _ = _core.walkthrough(60, edges, scores, 0.5, 0.2)
    ids = np.arange(60) * 7
    for minimum in (1, 2, 3):
        fast = WalkthroughTrackBuilding(0.5, 0.2, minimum)(edges, scores, 60, spacePointIds=ids)
        slow = candidates_from_labels(label, position, minimum, ids)
        assert [c.tolist() for c in fast] == [c.tolist() for c in slow]
        assert all(len(c) >= max(minimum, 2) for c in fast)


def test_walkthrough_extends_only_unambiguous_ends() -> None:
    # chain 0->1->2 (high); 2->3 low and unique: added. chain 4->5 (high); 5->6 and 5->7
    # low: ambiguous, neither added. 8->9 low, but 9 already has the high in-edge 10->9.
    edges = np.array([[0, 1, 2, 4, 5, 5, 10, 8], [1, 2, 3, 5, 6, 7, 9, 9]])
    scores = np.array([0.9, 0.9, 0.3, 0.9, 0.3, 0.25, 0.9, 0.4])
    label, position, used, n = _core.walkthrough(11, edges, scores, 0.5, 0.2)
    assert used.tolist() == [True, True, True, True, False, False, True, False]
    assert label.tolist() == [0, 0, 0, 0, 1, 1, -1, -1, -1, 2, 2]
    assert position.tolist() == [0, 1, 2, 3, 0, 1, -1, -1, -1, 1, 0]
    assert n == 3
    # with cut_low == cut_high no low-score edge is added (and here none is recovered)
    label, _, used, _ = _core.walkthrough(11, edges, scores, 0.5, 0.5)
    assert used.tolist() == [True, True, False, True, False, False, True, False]


def test_chain_labels_loops_and_junctions() -> None:
    # open chain 3->1->4, loop 5->2->6->5 (starts at 2), self loop 0->0 (ignored)
    edges = np.array([[3, 1, 5, 2, 6, 0], [1, 4, 2, 6, 5, 0]])
    label, position, used, n = _core.chain_labels(7, edges)
    assert label.tolist() == [-1, 0, 1, 0, 0, 1, 1]
    assert position.tolist() == [-1, 1, 0, 0, 2, 2, 1]
    assert used.tolist() == [True, True, True, True, True, False]
    assert n == 2
    t_label, t_pos = chain_labels_torch(7, torch.from_numpy(edges))
    assert t_label.tolist() == label.tolist()
    assert t_pos.tolist() == position.tolist()
    junction = np.array([[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="two out-edges"):
        _core.chain_labels(3, junction)
    with pytest.raises(ValueError, match="junction-free"):
        chain_labels_torch(3, torch.from_numpy(junction))


def test_core_rejects_bad_input() -> None:
    edges = np.array([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="NaN"):
        _core.junction_removal(3, edges, np.array([0.5, np.nan]))
    with pytest.raises(IndexError):
        _core.junction_removal(2, edges, np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="one entry per edge"):
        _core.walkthrough(3, edges, np.array([0.5]), 0.5, 0.1)
    with pytest.raises(ValueError, match="cut_low <= cut_high"):
        _core.walkthrough(3, edges, np.array([0.5, 0.5]), 0.1, 0.5)
    with pytest.raises(ValueError, match="shape"):
        _core.chain_labels(3, np.array([0, 1, 2]))
    empty = np.zeros((2, 0), dtype=np.int64)
    assert _core.junction_removal(3, empty, np.zeros(0)).shape == (0,)
    assert _core.walkthrough(3, empty, np.zeros(0), 0.5, 0.1)[0].tolist() == [-1, -1, -1]


def test_core_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    graphs = [random_graph(seed, n=2000, e=6000) for seed in range(8)]
    expected = [_core.walkthrough(2000, e, s, 0.5, 0.2)[0] for e, s in graphs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda g: _core.walkthrough(2000, g[0], g[1], 0.5, 0.2)[0], graphs))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(4))
def test_connected_components_equal_union_find(seed: int) -> None:
    edges, _ = random_graph(seed, n=200, e=120)
    np.testing.assert_array_equal(connected_components(200, edges), ref_components(200, edges))


# -- stages on a hand-made event -----------------------------------------------------------


def make_event(positions: np.ndarray, particle_ids: np.ndarray) -> Event:
    """Event from hit positions [N, 3] and hit particle rows (particles: 1 GeV primaries)."""
    positions = np.asarray(positions, dtype=np.float64)
    pid = np.asarray(particle_ids, dtype=np.int64)
    n = len(pid)
    x, y, z = positions.T
    r = np.hypot(x, y)
    hits = {c: np.zeros(n, dtype=t) for c, t in HIT_COLUMNS.items()}
    hits.update(x=x, y=y, z=z, r=r, phi=np.arctan2(y, x), particle_id=pid)
    hits["measurement_id"] = np.arange(n)
    m = int(pid.max()) + 1
    particles = {c: np.zeros(m, dtype=t) for c, t in PARTICLE_COLUMNS.items()}
    particles["particle_id"] = np.arange(m)
    particles["pt"] = np.ones(m)
    particles["is_primary"] = np.ones(m, dtype=bool)
    particles["n_measurements"] = np.bincount(pid[pid >= 0], minlength=m)
    return Event(0, hits, particles)


RADII = np.array([30.0, 70.0, 120.0, 180.0, 260.0])


def three_tracks() -> tuple[Event, np.ndarray, list[list[int]]]:
    """Three 5-hit particles on radial lines plus one noise hit, hit rows shuffled.

    Returns the event, a permutation (row of hit k of particle p is perm[5 p + k]) and the
    expected candidates (rows, inner to outer).
    """
    rng = np.random.default_rng(3)
    points, pids = [], []
    for p, phi in enumerate([0.2, 0.25, 2.0]):
        points.append(np.stack([RADII * np.cos(phi), RADII * np.sin(phi), 0.3 * RADII], 1))
        pids += [p] * 5
    points.append(np.array([[100.0, 10.0, 5.0]]))
    pids.append(-1)
    ordered = np.concatenate(points)
    perm = rng.permutation(16)  # hit k of the ordered list goes to row perm[k]
    positions = np.empty_like(ordered)
    positions[perm] = ordered
    pid = np.empty(16, dtype=np.int64)
    pid[perm] = pids
    expected = [[int(perm[5 * p + k]) for k in range(5)] for p in range(3)]
    return make_event(positions, pid), perm, expected


def graph_of(
    perm: np.ndarray, pairs: list[tuple[int, int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Edges between ordered-hit numbers, mapped to shuffled rows."""
    edges = np.array([[perm[a] for a, _, _ in pairs], [perm[b] for _, b, _ in pairs]])
    return edges.astype(np.int64), np.array([s for _, _, s in pairs])


def true_pairs(score: float = 0.9) -> list[tuple[int, int, float]]:
    return [(5 * p + k, 5 * p + k + 1, score) for p in range(3) for k in range(4)]


def as_lists(candidates: list[np.ndarray]) -> list[list[int]]:
    return sorted(c.tolist() for c in candidates)


@pytest.mark.parametrize("backend", ["cpp", "torch"])
def test_junction_removal_stage_removes_fake_junctions(backend: str) -> None:
    event, perm, expected = three_tracks()
    # fakes: 2 -> 8 (A into B: junction at both ends), 15 (noise) -> 13, 11 -> 15
    pairs = [*true_pairs(), (2, 8, 0.6), (15, 13, 0.7), (11, 15, 0.55)]
    edges, scores = graph_of(perm, pairs)
    builder = JunctionRemovalTrackBuilding(cut=0.5, backend=backend)
    assert as_lists(builder(edges, scores, event.n_hits)) == sorted(expected)
    # CC at the same cut merges A and B (and C with the noise hit)
    cc = ConnectedComponentsTrackBuilding(cut=0.5)(edges, scores, positions=event.positions())
    assert sorted(len(c) for c in cc) == [6, 10]
    # a higher cut removes the fakes
    cc = ConnectedComponentsTrackBuilding(cut=0.8)(edges, scores, event.n_hits)
    assert as_lists(cc) == sorted(expected)


@pytest.mark.parametrize("backend", ["cpp", "torch"])
def test_walkthrough_stage_recovers_low_edges(backend: str) -> None:
    event, perm, expected = three_tracks()
    pairs = true_pairs()
    pairs[3] = (3, 4, 0.3)  # A's last edge is weak but unambiguous: recovered
    pairs[7] = (8, 9, 0.3)  # B's last edge is weak and competes with 8 -> noise: lost
    pairs.append((8, 15, 0.25))
    edges, scores = graph_of(perm, pairs)
    walk = WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.2, backend=backend)
    got = as_lists(walk(edges, scores, event.n_hits))
    assert got == sorted([expected[0], expected[1][:4], expected[2]])
    jr = JunctionRemovalTrackBuilding(cut=0.5, backend=backend)(edges, scores, event.n_hits)
    assert as_lists(jr) == sorted([expected[0][:4], expected[1][:4], expected[2]])


def test_candidates_are_in_graph_order_for_loopers() -> None:
    # a looper: r rises then falls; the candidate follows the edges, not r
    r = np.array([30.0, 70.0, 120.0, 90.0, 50.0])
    phi = np.array([0.0, 0.3, 0.8, 1.6, 2.2])
    positions = np.stack([r * np.cos(phi), r * np.sin(phi), np.zeros(5)], 1)[[4, 2, 0, 3, 1]]
    # rows: hit 0 -> row 2, hit 1 -> row 4, hit 2 -> row 1, hit 3 -> row 3, hit 4 -> row 0
    order = [2, 4, 1, 3, 0]
    edges = np.array([order[:-1], order[1:]])
    scores = np.full(4, 0.9)
    event = make_event(positions, np.zeros(5, dtype=np.int64))
    for builder in (
        ConnectedComponentsTrackBuilding(),
        JunctionRemovalTrackBuilding(),
        WalkthroughTrackBuilding(),
    ):
        (candidate,) = builder(edges, scores, positions=event.positions())
        assert candidate.tolist() == order
    # a non-path component is sorted by distance from the origin
    branching = np.concatenate([edges, [[4], [3]]], axis=1)
    (candidate,) = ConnectedComponentsTrackBuilding()(
        branching, np.full(5, 0.9), positions=event.positions()
    )
    assert candidate.tolist() == list(np.argsort(np.linalg.norm(positions, axis=1)))


def test_minimum_hits_mapping_and_labels() -> None:
    _, perm, expected = three_tracks()
    pairs = [p for p in true_pairs() if p[0] not in (6, 8)]  # B: 2 + 2 + 1 hits
    edges, scores = graph_of(perm, pairs)
    ids = np.arange(16) + 1000
    for builder_type in (JunctionRemovalTrackBuilding, ConnectedComponentsTrackBuilding):
        assert len(builder_type()(edges, scores, 16)) == 2
        assert len(builder_type(minMeasurementsPerTrack=2)(edges, scores, 16)) == 4
        assert len(builder_type(minMeasurementsPerTrack=6)(edges, scores, 16)) == 0
        mapped = builder_type()(edges, scores, spacePointIds=ids)
        assert as_lists(mapped) == sorted(
            [[i + 1000 for i in c] for c in (expected[0], expected[2])]
        )
    labels = JunctionRemovalTrackBuilding().labels(edges, scores, 16)
    assert (labels >= 0).sum() == 10
    assert set(np.flatnonzero(labels == labels[expected[0][0]])) == set(expected[0])
    with pytest.raises(ValueError, match="more than one"):
        track_labels([np.array([0, 1]), np.array([1, 2])], 3)
    empty = np.zeros((2, 0), dtype=np.int64)
    assert JunctionRemovalTrackBuilding()(empty, np.zeros(0), 16) == []
    with pytest.raises(ValueError, match="scores"):
        JunctionRemovalTrackBuilding()(edges, None, 16)
    with pytest.raises(ValueError, match="cut_low <= cut_high"):
        WalkthroughTrackBuilding(cut_high=0.2, cut_low=0.5)


def test_stages_accept_torch_tensors() -> None:
    event, perm, expected = three_tracks()
    edges, scores = graph_of(perm, true_pairs())
    for builder in (
        ConnectedComponentsTrackBuilding(),
        JunctionRemovalTrackBuilding(),
        WalkthroughTrackBuilding(),
    ):
        got = builder(torch.from_numpy(edges), torch.from_numpy(scores).float(), event.n_hits)
        assert as_lists(got) == sorted(expected)


# -- scored truth graphs with injected fakes -----------------------------------------------


def pure_and_ordered(event: Event, candidate: np.ndarray) -> bool:
    """One particle, hits at increasing distance from its vertex."""
    pid = event.hits["particle_id"][candidate]
    if pid[0] < 0 or (pid != pid[0]).any():
        return False
    p = event.particles
    vertex = np.array([p["vx"][pid[0]], p["vy"][pid[0]], p["vz"][pid[0]]], dtype=np.float64)
    distance = np.linalg.norm(event.positions()[candidate] - vertex, axis=1)
    return bool((np.diff(distance) > 0).all())


def check_builders_on(event: Event) -> None:
    edges, scores, is_true = scored_truth_graph(event, fakes_per_edge=0.5, seed=2)
    assert (~is_true).sum() > 0.3 * is_true.sum()
    n = event.n_hits
    truth_candidates = ConnectedComponentsTrackBuilding(cut=None)(truth_graph(event), None, n)
    # fakes below the cut: CC gives exactly the truth components, sorted along the trajectory
    low_fakes = np.where(is_true, scores, scores * 0.5 / 0.7)
    cc = ConnectedComponentsTrackBuilding(cut=0.55)(edges, low_fakes, n)
    assert as_lists(cc) == as_lists(truth_candidates)
    assert all(pure_and_ordered(event, c) for c in cc)
    # fakes above the cut make junctions: CC merges tracks, junction removal splits them
    merged = TrackMetrics()
    merged.add(event, ConnectedComponentsTrackBuilding(cut=0.5)(edges, scores, n))
    for builder in (JunctionRemovalTrackBuilding(0.5), WalkthroughTrackBuilding(0.5, 0.3)):
        cpp = builder(edges, scores, n)
        builder.backend = "torch"
        assert as_lists(builder(edges, scores, n)) == as_lists(cpp)
        assert np.mean([pure_and_ordered(event, c) for c in cpp]) > 0.85
        assert all(len(np.unique(c)) == len(c) >= 3 for c in cpp)
        split = TrackMetrics()
        split.add(event, cpp)
        assert split.physics_efficiency > 0.9
        assert split.physics_efficiency >= merged.physics_efficiency
        assert split.trackml_score >= merged.trackml_score


def small_event() -> Event:
    """20 helix-ish particles with 6-10 hits each, from a few vertices, plus noise."""
    rng = np.random.default_rng(11)
    points, pids, vz = [], [], []
    for p in range(20):
        n = int(rng.integers(6, 11))
        radii = np.sort(rng.uniform(25, 900, n))
        phi0, curl, slope = rng.uniform(-np.pi, np.pi), rng.normal(0, 2e-4), rng.normal(0, 1)
        z0 = rng.normal(0, 20)
        vz.append(z0)
        phi = phi0 + curl * radii
        points.append(np.stack([radii * np.cos(phi), radii * np.sin(phi), z0 + slope * radii], 1))
        pids += [p] * n
    points.append(rng.uniform(-500, 500, (10, 3)))
    pids += [-1] * 10
    event = make_event(np.concatenate(points), np.array(pids))
    event.particles["vz"][:] = vz
    return event


def test_builders_on_scored_small_event() -> None:
    check_builders_on(small_event())


@pytest.mark.acts
def test_builders_on_scored_acts_sample(prepared_sample) -> None:
    from acts_gnn.io.event_store import PreparedDataset

    for event in PreparedDataset(prepared_sample.directory):
        check_builders_on(event)


# -- GPU -----------------------------------------------------------------------------------

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("seed", range(3))
def test_cuda_junction_removal_and_walkthrough_equal_cpp(seed: int) -> None:
    edges, scores = random_graph(seed, n=500, e=2000)
    ei, s = torch.from_numpy(edges).cuda(), torch.from_numpy(scores).cuda()
    keep = junction_removal_torch(500, ei, s).cpu().numpy()
    np.testing.assert_array_equal(keep, _core.junction_removal(500, edges, scores))
    label, position, _ = walkthrough_torch(500, ei, s, 0.5, 0.2)
    c_label, c_pos, _, _ = _core.walkthrough(500, edges, scores, 0.5, 0.2)
    np.testing.assert_array_equal(label.cpu().numpy(), c_label)
    np.testing.assert_array_equal(position.cpu().numpy(), c_pos)


@pytest.mark.gpu
@needs_cuda
def test_cugraph_components_equal_scipy() -> None:
    pytest.importorskip("cugraph")
    event = small_event()
    edges, scores, _ = scored_truth_graph(event, seed=4)
    cpu = ConnectedComponentsTrackBuilding(0.5)(edges, scores, positions=event.positions())
    cuda = ConnectedComponentsTrackBuilding(0.5, device="cuda")(
        edges, scores, positions=event.positions()
    )
    assert [c.tolist() for c in cuda] == [c.tolist() for c in cpu]

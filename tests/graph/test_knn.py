"""Radius + max-k neighbour search: backends agree exactly, conventions, scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from acts_gnn import _core
from acts_gnn.extras import available
from acts_gnn.graph import knn
from acts_gnn.graph.knn import (
    GridStats,
    build_edges,
    exact_dist2,
    pairs_to_edges,
    radius_neighbours,
)

BACKENDS = ["grid", "brute", "kdtree"] + (["faiss"] if available("faiss") else [])


def clustered(n_clusters: int, per: int, dim: int = 8, seed: int = 0) -> torch.Tensor:
    """Tracks-like clusters, a dense blob, exact duplicates and lattice points (exact ties)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, dim, generator=g) * 2
    points = centres.repeat_interleave(per, 0) + 0.05 * torch.randn(
        n_clusters * per, dim, generator=g
    )
    blob = 0.02 * torch.randn(120, dim, generator=g)
    duplicates = points[:20].clone()
    lattice = torch.zeros(27, dim)
    lattice[:, :3] = torch.cartesian_prod(*[torch.tensor([0.0, 0.25, 0.5])] * 3) + 5.0
    return torch.cat([points, blob, duplicates, lattice]).float()


def same(a, b) -> bool:  # type: ignore[no-untyped-def]
    return (
        torch.equal(a.query, b.query)
        and torch.equal(a.neighbour, b.neighbour)
        and torch.equal(a.dist2, b.dist2)
    )


@pytest.mark.parametrize("k", [None, 1, 4, 30])
def test_backends_agree_exactly(k: int | None) -> None:
    points = clustered(50, 10)
    ref = radius_neighbours(points, 0.25, k, backend="brute")
    assert len(ref) > 0
    for backend in BACKENDS:
        assert same(radius_neighbours(points, 0.25, k, backend=backend), ref), backend
    edges = {b: build_edges(points, 0.25, k, backend=b) for b in BACKENDS}
    for backend in BACKENDS:
        assert torch.equal(edges[backend], edges["grid"]), backend


@pytest.mark.parametrize("k", [None, 1, 30])
def test_torch_grid_equals_core_grid(k: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid with torch (what CUDA tensors run), its dense-block path (crowded cells) and
    tiny chunks give the C++ core's pairs."""
    points = clustered(50, 10)
    core = radius_neighbours(points, 0.25, k)
    monkeypatch.setattr(knn, "CORE_GRID_ON_CPU", False)
    gathered = GridStats()
    assert same(radius_neighbours(points, 0.25, k, stats=gathered), core)
    assert gathered.dense_candidates == 0
    dense = GridStats()
    assert same(radius_neighbours(points, 0.25, k, dense=0, stats=dense), core)
    assert dense.dense_candidates > 0
    chunked = GridStats()
    assert same(radius_neighbours(points, 0.25, k, max_pairs=500, stats=chunked), core)
    assert chunked.chunks > 1


def test_core_grid_threads_and_unordered() -> None:
    """The C++ grid's result does not depend on its threads; unordered, the same pairs."""
    points = clustered(120, 10, seed=5)
    one = radius_neighbours(points, 0.3, 6, threads=1)
    assert len(one) > 1000
    assert same(radius_neighbours(points, 0.3, 6, threads=2), one)
    loose = radius_neighbours(points, 0.3, 6, threads=2, ordered=False)
    key_loose = len(points) * loose.query + loose.neighbour
    key_one = len(points) * one.query + one.neighbour
    assert torch.equal(torch.sort(key_loose).values, torch.sort(key_one).values)


@pytest.mark.parametrize("n_nodes", [1, 7, 3000, 1 << 31])
def test_unique_edges_equals_torch_unique(n_nodes: int) -> None:
    """The core's radix sort gives torch.unique's (min, max) edges, for node counts whose keys
    take one to six 11-bit digits."""
    gen = torch.Generator().manual_seed(n_nodes % 1000)
    a = torch.randint(0, n_nodes, (5000,), generator=gen)
    b = torch.randint(0, n_nodes, (5000,), generator=gen)
    a[:100], b[:100] = b[100:200], a[100:200]  # reversed duplicates
    lo, hi = _core.unique_edges(a.numpy(), b.numpy(), n_nodes)
    keys = torch.unique(torch.minimum(a, b) * n_nodes + torch.maximum(a, b))
    assert torch.equal(torch.from_numpy(lo), keys // n_nodes)
    assert torch.equal(torch.from_numpy(hi), keys % n_nodes)
    empty = _core.unique_edges(np.zeros(0, np.int64), np.zeros(0, np.int64), n_nodes)
    assert [len(e) for e in empty] == [0, 0]
    with pytest.raises(IndexError, match="b holds"):
        _core.unique_edges(np.array([0]), np.array([n_nodes]), n_nodes)
    with pytest.raises(ValueError, match="n_nodes"):
        _core.unique_edges(np.array([0]), np.array([0]), -1)


def test_core_grid_rejects_bad_cell_lists() -> None:
    """The core names the array that points outside the points or cells."""
    pts = np.zeros((4, 2))
    ok = dict(
        points=pts,
        order=np.arange(4),
        cell_start=np.array([0]),
        cell_count=np.array([4]),
        neighbour_cells=np.array([[0, -1]]),
        queries=np.arange(4),
        query_cell=np.zeros(4, np.int64),
        r2=1.0,
        k=2,
    )
    q, n, d2 = _core.radius_neighbours_in_cells(**ok)  # type: ignore[arg-type]
    assert q.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert n.tolist() == [1, 2, 0, 2, 0, 1, 0, 1]
    assert d2.tolist() == [0.0] * 8
    for field, bad, match in [
        ("order", np.array([0, 1, 2, 4]), "order"),
        ("neighbour_cells", np.array([[1, -1]]), "neighbour_cells"),
        ("queries", np.array([0, 1, 2, 9]), "queries"),
        ("query_cell", np.array([0, 0, 0, 1]), "query_cell"),
        ("cell_count", np.array([5]), "cell 0"),
        ("points", np.zeros(4), "2-D"),
        ("r2", -1.0, "r2"),
    ]:
        with pytest.raises((ValueError, IndexError), match=match):
            _core.radius_neighbours_in_cells(**{**ok, field: bad})  # type: ignore[arg-type]


def test_queries_subset_and_float64() -> None:
    points = clustered(80, 10, seed=3).double()
    queries = torch.tensor([5, 0, 77, 400, 401, 2])
    ref = radius_neighbours(points, 0.3, 5, queries, backend="brute")
    for backend in BACKENDS:
        got = radius_neighbours(points, 0.3, 5, queries, backend=backend)
        assert same(got, ref), backend
    assert set(ref.query.tolist()) <= set(queries.tolist())


def test_neighbour_semantics() -> None:
    points = clustered(60, 10, seed=1)
    k = 3
    found = radius_neighbours(points, 0.3, k)
    assert bool((found.query != found.neighbour).all())  # no self pairs
    assert bool((found.dist2 <= 0.09).all())
    assert torch.equal(found.dist2, exact_dist2(points, found.query, found.neighbour))
    assert int(torch.bincount(found.query).max()) <= k
    # they are the k nearest: compare with a full sort of one crowded query's distances
    q = int(torch.bincount(found.query).argmax())
    d2 = exact_dist2(points, torch.full((len(points),), q), torch.arange(len(points)))
    d2[q] = float("inf")
    order = sorted(range(len(points)), key=lambda j: (float(d2[j]), j))[:k]
    assert found.neighbour[found.query == q].tolist() == order
    # sorted by (query, distance, neighbour)
    keys = list(zip(found.query.tolist(), found.dist2.tolist(), found.neighbour.tolist()))
    assert keys == sorted(keys)
    # within(): the search at a smaller radius with the same k
    small = radius_neighbours(points, 0.15, k)
    assert same(found.within(0.15), small)


def test_edges_unique_no_self_loops_and_directions() -> None:
    points = clustered(40, 10, seed=2)
    edges = build_edges(points, 0.3, 8)
    assert edges.dtype == torch.int64
    assert bool((edges[0] < edges[1]).all())  # (min, max): no self-loops, one per pair
    keys = edges[0] * len(points) + edges[1]
    assert torch.equal(keys, torch.unique(keys))  # sorted and unique
    both = build_edges(points, 0.3, 8, undirected=True)
    assert both.shape[1] == 2 * edges.shape[1]
    assert {tuple(e) for e in both.T.tolist()} == {
        *map(tuple, edges.T.tolist()),
        *map(tuple, edges.flip(0).T.tolist()),
    }
    # an edge is kept when either end has the other among its k nearest
    found = radius_neighbours(points, 0.3, 8)
    assert torch.equal(pairs_to_edges(found.query, found.neighbour, len(points)), edges)


@pytest.mark.parametrize("backend", BACKENDS)
def test_degenerate_inputs(backend: str) -> None:
    for n in (0, 1):
        assert build_edges(torch.zeros(n, 8), 1.0, 5, backend=backend).shape == (2, 0)
    same_point = torch.ones(6, 3)
    assert build_edges(same_point, 0.0, None, backend=backend).shape == (2, 15)
    capped = radius_neighbours(same_point, 0.1, 2, backend=backend)
    assert capped.neighbour.tolist() == [1, 2, 0, 2, 0, 1, 0, 1, 0, 1, 0, 1]  # ties: low index
    with pytest.raises(ValueError, match="NaN"):
        build_edges(torch.full((3, 2), float("nan")), 1.0, backend=backend)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="backend"):
        build_edges(torch.zeros(3, 2), 1.0, backend="annoy")
    with pytest.raises(ValueError, match="k must"):
        build_edges(torch.zeros(3, 2), 1.0, 0)
    with pytest.raises(ValueError, match="radius"):
        build_edges(torch.zeros(3, 2), -1.0)


def test_grid_work_is_not_quadratic() -> None:
    """At a fixed density, the candidate pairs per point do not grow with N (cell list)."""
    per_point = []
    for n in (4000, 32000):
        g = torch.Generator().manual_seed(n)
        side = (n / 4000) ** (1 / 3)  # 3-dim volume grows with n: constant density
        points = torch.rand(n, 3, generator=g) * 10 * side
        stats = GridStats()
        radius_neighbours(points, 0.3, 20, stats=stats, ordered=False)
        per_point.append(stats.candidates / n)
        assert stats.dense_candidates == 0
    assert per_point[1] < 1.3 * per_point[0]
    assert per_point[1] < 32000 / 50  # far from all pairs


@pytest.mark.gpu
def test_cuda_grid_equals_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    points = clustered(200, 12, seed=4)
    for k in (None, 5):
        cpu = radius_neighbours(points, 0.25, k)
        gpu = radius_neighbours(points.cuda(), 0.25, k)
        assert same(cpu, type(cpu)(gpu.query.cpu(), gpu.neighbour.cpu(), gpu.dist2.cpu()))
        gpu_dense = radius_neighbours(points.cuda(), 0.25, k, dense=0)
        assert torch.equal(gpu_dense.neighbour.cpu(), cpu.neighbour)

r"""Radius + max-k neighbour search in an embedding space, with interchangeable backends.

The question every backend answers: for each query point :math:`i` (default: every point),
its neighbours :math:`j \ne i` with :math:`\lVert p_i - p_j \rVert \le r`, the ``k`` nearest
of them when there are more (``k=None``: all). Graph building (:func:`build_edges`) then turns
these directed pairs into edges: self-loops never occur, each unordered pair is kept once,
``(min, max)`` by node index and sorted (the upstream ACTS ``postprocessEdgeTensor``
convention), optionally with both directions (``undirected=True``). An edge is kept when
either end has the other among its k nearest (as upstream, whose FRNN search is per query).

Backends (all give the **same** pairs for the same input, tested):

``grid`` (the default; C++ core on the CPU, torch on CUDA)
    A cell list: the points are projected onto their ``grid_dims`` (default 3) principal axes,
    binned into cells of side r, and each query is compared only with the points in the
    3^grid_dims cells around its own. Work grows with N times the number of points per
    neighbourhood, not with N^2. On the CPU the C++ core computes every such distance exactly
    (below) and keeps the k nearest per query, multi-threaded and without the GIL, holding no
    candidate pairs. With torch (CUDA tensors) the candidate pairs are processed in chunks of
    at most ``max_pairs``; queries in crowded neighbourhoods (more than ``dense`` candidates,
    e.g. an untrained embedding early in training) are compared with their cells' points as
    dense blocks (matrix products).
``faiss``
    Exhaustive search (O(N^2) work, BLAS-fast): with k, faiss's k-nearest search (a
    ``GpuIndexFlatL2`` for CUDA tensors when faiss has GPU support, else the block matrix
    product on the GPU); without k, ``IndexFlatL2.range_search`` on the CPU.
``kdtree``
    ``scipy.spatial.cKDTree`` on the CPU (what upstream ACTS uses on the CPU, here with k).
``brute``
    Chunked exhaustive torch search; O(N^2), a reference for tests.

How the backends agree: every pair's squared distance is computed the same way for all
backends, in float64 with one elementwise operation per dimension, summed in dimension order
(bitwise identical on CPU and CUDA, and in the C++ core, which is built without fused
multiply-adds), compared with :math:`r^2`, and the k nearest of each query are chosen by
(distance, neighbour index), so ties are broken deterministically. The grid backend on the CPU
computes that distance for every pair it compares; the others only propose *candidate* pairs
with a slightly enlarged radius, so that float32 rounding never loses a true neighbour, and the
candidates are then measured as above.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

BACKENDS = ("auto", "grid", "faiss", "kdtree", "brute")
#: Relative enlargement of the candidate radius (covers float32 rounding in faiss / scipy).
_SLACK = 1e-4
#: Extra nearest neighbours asked of faiss beyond k (their distances prove completeness).
_KNN_MARGIN = 16
#: The grid backend on CPU tensors runs in the C++ core; False: with torch, as on CUDA (for
#: tests and comparisons of the two; both give the same pairs).
CORE_GRID_ON_CPU = True


@dataclass
class Neighbours:
    """Directed neighbour pairs, sorted by (query, distance, neighbour).

    query, neighbour: int64 [P] point indices; dist2: float64 [P] squared distances
    (embedding-space units squared).
    """

    query: Tensor
    neighbour: Tensor
    dist2: Tensor

    def __len__(self) -> int:
        return int(self.query.shape[0])

    def within(self, r: float) -> Neighbours:
        """The pairs with distance <= ``r`` (for r below the search radius this is exactly the
        search at ``r`` with the same k: a query's k nearest within r are its nearest)."""
        keep = self.dist2 <= float(r) ** 2
        return Neighbours(self.query[keep], self.neighbour[keep], self.dist2[keep])


def exact_dist2(points: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Squared distances [P] (float64) between points[a] and points[b], computed identically on
    every device: float64, one subtraction, multiplication and addition per dimension."""
    d2 = torch.zeros(a.shape[0], dtype=torch.float64, device=points.device)
    for dim in range(points.shape[1]):
        column = points[:, dim].double()
        diff = column[a] - column[b]
        d2 = d2 + diff * diff
    return d2


def _lexsort(query: Tensor, cand: Tensor, d2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sort pairs by (query, d2, cand): stable sorts by the least significant key first."""
    order = torch.argsort(cand, stable=True)
    order = order[torch.argsort(d2[order], stable=True)]
    order = order[torch.argsort(query[order], stable=True)]
    return query[order], cand[order], d2[order]


def _select(
    points: Tensor, query: Tensor, cand: Tensor, r2: float, k: int | None, ordered: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Exact filter of candidate pairs (query, cand): no self pairs, d2 <= r2, the k nearest
    per query by (d2, cand). Every candidate of a query must be in this call. ``ordered``:
    sort the result by (query, d2, cand)."""
    # cheap float32 pre-filter with a margin far above its rounding, then the exact distances
    approx = (points[query] - points[cand]).square().sum(1)  # float32 / float64 as given
    keep = (approx <= r2 * (1 + _SLACK) + 1e-6 * r2 + 1e-30) & (query != cand)
    query, cand = query[keep], cand[keep]
    d2 = exact_dist2(points, query, cand)
    keep = d2 <= r2
    query, cand, d2 = query[keep], cand[keep], d2[keep]
    if k is not None and query.numel():
        counts = torch.bincount(query)
        crowded = counts[query] > k
        if bool(crowded.any()):  # rank only the pairs of queries with more than k neighbours
            q, c, d = _lexsort(query[crowded], cand[crowded], d2[crowded])
            _, n_per = torch.unique_consecutive(q, return_counts=True)
            starts = torch.cumsum(n_per, 0) - n_per
            rank = torch.arange(q.shape[0], device=q.device) - torch.repeat_interleave(
                starts, n_per
            )
            first = rank < k
            sparse = ~crowded
            query = torch.cat([query[sparse], q[first]])
            cand = torch.cat([cand[sparse], c[first]])
            d2 = torch.cat([d2[sparse], d[first]])
    if ordered:
        query, cand, d2 = _lexsort(query, cand, d2)
    return query, cand, d2


# ---------------------------------------------------------------------------------------------
# candidate generators: yield (query, candidate) chunks; every query's candidates in one chunk
# ---------------------------------------------------------------------------------------------


def _principal_axes(points: Tensor, n_axes: int) -> Tensor:
    """[D, n_axes] orthonormal directions of largest spread (float64), or the identity."""
    dim = points.shape[1]
    if dim <= n_axes or points.shape[0] < 2:
        return torch.eye(dim, dtype=torch.float64, device=points.device)[:, : min(dim, n_axes)]
    centred = points.double() - points.double().mean(0)
    cov = (centred.T @ centred).cpu()
    _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues
    return vectors[:, -n_axes:].flip(1).to(points.device)


@dataclass
class GridStats:
    """Work done by the grid search: candidate pairs in the queries' neighbour cells, of them
    those compared as dense blocks (crowded cells), cells occupied, chunks processed."""

    candidates: int = 0
    dense_candidates: int = 0
    cells: int = 0
    chunks: int = 0


@dataclass
class _CellList:
    """The grid backend's cell list: the points of cell c are ``order[start[c]:start[c] +
    count[c]]``; a query of cell c is compared with the points of ``neighbour_cell[c]`` (int64
    [C, 3^g], -1 where that cell is empty), whose ranges are ``nb_start``, ``nb_count`` [C,
    3^g] (0 where empty); ``query_cell`` [Q]: each query's cell; ``per_query`` [Q]: its
    candidates."""

    order: Tensor
    start: Tensor
    count: Tensor
    neighbour_cell: Tensor
    nb_start: Tensor
    nb_count: Tensor
    query_cell: Tensor
    per_query: Tensor


def _cell_list(
    points: Tensor, queries: Tensor, r: float, grid_dims: int, stats: GridStats
) -> _CellList:
    """Bins the points into cells of side >= r along their ``grid_dims`` principal axes;
    counts the cells and the queries' candidates into ``stats``."""
    dev = points.device
    axes = _principal_axes(points, grid_dims)
    proj = points.double() @ axes  # [N, g]
    g = proj.shape[1]
    lo = proj.min(0).values
    span = float((proj.max(0).values - lo).abs().max()) if proj.numel() else 0.0
    cell = r * (1 + 1e-6) + 1e-9 * max(span, 1.0)  # >= r after rounding of the projection
    cells = torch.floor((proj - lo) / cell).to(torch.int64) + 1  # >= 1: room for offset -1
    extent = cells.max(0).values + 2
    if float(torch.prod(extent.double())) > 2.0**62:
        raise ValueError(
            f"radius {r} is too small for a {g}-dimensional grid over this spread; "
            "use fewer grid_dims or another backend"
        )
    strides = torch.ones(g, dtype=torch.int64, device=dev)
    for d in range(g - 2, -1, -1):
        strides[d] = strides[d + 1] * extent[d + 1]
    key = (cells * strides).sum(1)
    order = torch.argsort(key, stable=True)
    cell_keys, counts = torch.unique_consecutive(key[order], return_counts=True)
    starts = torch.cumsum(counts, 0) - counts

    offsets = torch.tensor(list(itertools.product((-1, 0, 1), repeat=g)), device=dev)
    linear = (offsets * strides).sum(1)  # [O]
    wanted = cell_keys[:, None] + linear[None, :]  # [C, O]
    found = torch.searchsorted(cell_keys, wanted).clamp(max=cell_keys.shape[0] - 1)
    hit = cell_keys[found] == wanted
    query_cell = torch.searchsorted(cell_keys, key[queries])
    nb_count = torch.where(hit, counts[found], 0)
    per_query = nb_count[query_cell].sum(1)
    stats.cells += int(cell_keys.shape[0])
    stats.candidates += int(per_query.sum())
    return _CellList(
        order=order,
        start=starts,
        count=counts,
        neighbour_cell=torch.where(hit, found, -1),
        nb_start=torch.where(hit, starts[found], 0),
        nb_count=nb_count,
        query_cell=query_cell,
        per_query=per_query,
    )


def _grid_search_cpu(
    points: Tensor,
    queries: Tensor,
    r: float,
    k: int | None,
    grid_dims: int,
    threads: int,
    ordered: bool,
    stats: GridStats,
) -> tuple[Tensor, Tensor, Tensor]:
    """The grid backend on the CPU: the C++ core compares each query with its neighbour cells'
    points at the exact float64 distance (no candidate pairs held) and keeps the k nearest.
    Returns (query, neighbour, d2), each query's pairs together, sorted by (d2, neighbour) if
    ``ordered``."""
    from acts_gnn import _core

    grid = _cell_list(points, queries, r, grid_dims, stats)
    stats.chunks += 1
    query_cell, by_cell = torch.sort(grid.query_cell, stable=True)  # a cell's queries together
    query, neighbour, d2 = _core.radius_neighbours_in_cells(
        points.double().contiguous().numpy(),
        grid.order.numpy(),
        grid.start.numpy(),
        grid.count.numpy(),
        grid.neighbour_cell.contiguous().numpy(),
        queries[by_cell].numpy(),
        query_cell.numpy(),
        float(r) * float(r),
        -1 if k is None else int(k),
        ordered,
        threads,
    )
    return torch.from_numpy(query), torch.from_numpy(neighbour), torch.from_numpy(d2)


def _grid_candidates(
    points: Tensor,
    queries: Tensor,
    r: float,
    k: int | None,
    grid_dims: int,
    max_pairs: int,
    dense_threshold: int,
    stats: GridStats,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Candidate pairs of the grid backend with torch (on CUDA): gathered per chunk of
    queries, or compared as dense blocks for crowded neighbourhoods."""
    dev = points.device
    grid = _cell_list(points, queries, r, grid_dims, stats)
    order, nb_start, nb_count = grid.order, grid.nb_start, grid.nb_count
    query_cell, per_query = grid.query_cell, grid.per_query
    # crowded neighbourhoods: dense blocks (BLAS distances) instead of gathered pairs
    dense = per_query > dense_threshold
    if bool(dense.any()):
        yield from _dense_cells(
            points,
            queries[dense],
            query_cell[dense],
            nb_start,
            nb_count,
            order,
            r,
            k,
            max_pairs,
            stats,
        )
        queries, query_cell, per_query = queries[~dense], query_cell[~dense], per_query[~dense]
    n_offsets = nb_count.shape[1]
    # chunks of consecutive queries with at most max_pairs candidates (at least one query)
    ends = torch.cumsum(per_query, 0)
    first = 0
    n_queries = int(queries.shape[0])
    while first < n_queries:
        base = int(ends[first - 1]) if first else 0
        last = int(torch.searchsorted(ends, base + max_pairs, right=True))
        last = max(last, first + 1)
        stats.chunks += 1
        q = queries[first:last]
        qc = query_cell[first:last]
        cnt = nb_count[qc].reshape(-1)
        beg = nb_start[qc].reshape(-1)
        slot = torch.repeat_interleave(torch.arange(cnt.shape[0], device=dev), cnt)
        within = torch.arange(slot.shape[0], device=dev) - (torch.cumsum(cnt, 0) - cnt)[slot]
        candidate = order[beg[slot] + within]
        yield q[torch.div(slot, n_offsets, rounding_mode="floor")], candidate
        first = last


def _dense_cells(
    points: Tensor,
    queries: Tensor,
    query_cell: Tensor,
    nb_start: Tensor,
    nb_count: Tensor,
    order: Tensor,
    r: float,
    k: int | None,
    max_pairs: int,
    stats: GridStats,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Candidates of queries in crowded cells: each cell's queries against every point of its
    3^g neighbour cells as one dense block (:func:`_block_candidates`)."""
    dev = points.device
    knn = _faiss_knn() if k is not None and dev.type == "cpu" else None
    cells, by_cell = torch.sort(query_cell, stable=True)
    queries = queries[by_cell]
    unique, counts = torch.unique_consecutive(cells, return_counts=True)
    first = 0
    for cell, count in zip(unique.tolist(), counts.tolist()):
        qs = queries[first : first + count]
        first += count
        cnt, beg = nb_count[cell], nb_start[cell]
        slot = torch.repeat_interleave(torch.arange(cnt.shape[0], device=dev), cnt)
        within = torch.arange(slot.shape[0], device=dev) - (torch.cumsum(cnt, 0) - cnt)[slot]
        idx = order[beg[slot] + within]  # [M] points of the neighbour cells
        yield from _block_candidates(points, qs, idx, r, k, max_pairs, stats, knn)


KnnFunction = Any  # (queries [m, D] float32 numpy, points [M, D], n) -> (d2 [m, n], index [m, n])


def _block_candidates(
    points: Tensor,
    qs: Tensor,
    idx: Tensor,
    r: float,
    k: int | None,
    max_pairs: int,
    stats: GridStats,
    knn: KnnFunction | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Candidates of queries ``qs`` among the points ``idx`` (which contain the queries) from
    float32 distances of the whole block: cut at the radius and, with k, at the (k+1)-th
    smallest distance (the query itself is in the block), both widened by a bound on the
    float32 error so that no exact neighbour is lost. With ``knn`` (faiss), only the k + 1 +
    margin nearest are computed; rows where they cannot be proven to hold every exact
    neighbour fall back to the full block (a matrix product, chunked)."""
    dev = points.device
    n_block = int(idx.shape[0])
    centre = points[idx].double().mean(0)
    block = (points[idx].double() - centre).float().contiguous()
    block_n2 = block.square().sum(1)
    a_all = (points[qs].double() - centre).float().contiguous()
    # |float32 error| of |a - b|^2 = |a|^2 + |b|^2 - 2 a.b <~ 1e-6 (|a|^2 + |b|^2): bound it
    err = 1e-5 * (float(a_all.square().sum(1).max()) + float(block_n2.max()) + r * r)
    radius_limit = r * r * (1 + _SLACK) + 2 * err
    stats.dense_candidates += int(qs.shape[0]) * n_block
    todo = torch.arange(qs.shape[0], device=dev)
    if knn is not None and k is not None and k + 1 < n_block:
        n_near = min(n_block, k + 1 + _KNN_MARGIN)
        d2_np, i_np = knn(a_all.cpu().numpy(), block.cpu().numpy(), n_near)
        d2 = torch.from_numpy(d2_np).to(dev)
        near = torch.from_numpy(i_np.astype(np.int64)).to(dev)
        limit = torch.clamp(d2[:, k] * (1 + _SLACK) + 2 * err, max=radius_limit)
        complete = (d2[:, -1] > limit) | (n_near == n_block)
        ok = (d2 <= limit[:, None]) & (near >= 0) & complete[:, None]
        qi, cj = torch.nonzero(ok, as_tuple=True)
        stats.chunks += 1
        yield qs[qi], idx[near[qi, cj]]
        todo = torch.nonzero(~complete).squeeze(1)
    rows = max(1, (max_pairs * 8) // max(n_block, 1))
    for lo in range(0, int(todo.shape[0]), rows):
        t = todo[lo : lo + rows]
        a = a_all[t]
        d2 = torch.addmm(a.square().sum(1)[:, None] + block_n2[None, :], a, block.T, alpha=-2.0)
        limit = torch.full((t.shape[0],), radius_limit, device=dev)
        if k is not None and k + 1 < n_block:
            kth = torch.topk(d2, k + 1, dim=1, largest=False).values[:, -1]
            limit = torch.minimum(limit, kth * (1 + _SLACK) + 2 * err)
        qi, cj = torch.nonzero(d2 <= limit[:, None], as_tuple=True)
        stats.chunks += 1
        yield qs[t[qi]], idx[cj]


def _faiss_knn(gpu: bool = False) -> KnnFunction | None:
    """faiss's exhaustive k-nearest search (a GPU index when asked and available)."""
    try:
        from acts_gnn.extras import faiss

        fa = faiss()
    except ImportError:
        return None
    if not gpu:
        return fa.knn
    if not hasattr(fa, "StandardGpuResources"):
        return None
    resources = fa.StandardGpuResources()

    def gpu_knn(queries: Any, block: Any, n: int) -> Any:
        index = fa.GpuIndexFlatL2(resources, block.shape[1])
        index.add(block)
        return index.search(queries, n)

    return gpu_knn


def _brute_candidates(
    points: Tensor, queries: Tensor, r: float, max_pairs: int
) -> Iterator[tuple[Tensor, Tensor]]:
    n = points.shape[0]
    step = max(1, max_pairs // max(n, 1))
    limit = (r * (1 + _SLACK)) ** 2 + 1e-12
    for first in range(0, queries.shape[0], step):
        q = queries[first : first + step]
        d2 = torch.cdist(
            points[q].float(), points.float(), compute_mode="donot_use_mm_for_euclid_dist"
        ).square()
        qi, cj = torch.nonzero(d2 <= limit, as_tuple=True)
        yield q[qi], cj


def _faiss_candidates(
    points: Tensor, queries: Tensor, r: float, k: int | None, max_pairs: int, stats: GridStats
) -> Iterator[tuple[Tensor, Tensor]]:
    from acts_gnn.extras import faiss

    fa = faiss()
    n, dim = points.shape
    if k is not None or points.is_cuda:
        # k nearest of every query by an exhaustive faiss search (GPU index for CUDA tensors
        # when this faiss has one), proven complete or completed by the dense block
        knn = _faiss_knn(gpu=points.is_cuda) if k is not None else None
        everything = torch.arange(n, device=points.device)
        yield from _block_candidates(points, queries, everything, r, k, max_pairs, stats, knn)
        return
    pts = points.detach().float()
    norm2 = float(pts.square().sum(1).max()) if n else 0.0
    # float32 |x|^2 + |y|^2 - 2 x.y: absolute error ~ 1e-7 * (|x|^2 + |y|^2)
    limit = (r * (1 + _SLACK)) ** 2 + 1e-5 * (2 * norm2 + r * r)
    index = fa.IndexFlatL2(dim)
    array = np.ascontiguousarray(pts.cpu().numpy())
    index.add(array)
    step = max(1, min(queries.shape[0], 1 << 14))
    for first in range(0, queries.shape[0], step):
        q = queries[first : first + step].cpu()
        lims, _, idx = index.range_search(np.ascontiguousarray(array[q.numpy()]), limit)
        counts = torch.from_numpy(np.diff(lims).astype(np.int64))
        yield (
            torch.repeat_interleave(q, counts).to(points.device),
            torch.from_numpy(idx.astype(np.int64)).to(points.device),
        )


def _kdtree_candidates(
    points: Tensor, queries: Tensor, r: float
) -> Iterator[tuple[Tensor, Tensor]]:
    from scipy.spatial import cKDTree

    array = points.detach().cpu().double().numpy()
    tree = cKDTree(array)
    radius = r * (1 + _SLACK) + 1e-12
    n = array.shape[0]
    if queries.shape[0] == n and bool((queries.cpu() == torch.arange(n)).all()):
        pairs = tree.query_pairs(radius, output_type="ndarray").astype(np.int64)
        a, b = pairs[:, 0], pairs[:, 1]
        q, c = np.concatenate([a, b]), np.concatenate([b, a])
    else:
        qn = queries.cpu().numpy()
        lists = tree.query_ball_point(array[qn], radius)
        lengths = np.fromiter((len(x) for x in lists), np.int64, len(lists))
        q = np.repeat(qn, lengths)
        c = np.concatenate([np.asarray(x, np.int64) for x in lists]) if len(lists) else q
    yield (
        torch.from_numpy(np.ascontiguousarray(q)).to(points.device),
        torch.from_numpy(np.ascontiguousarray(c, dtype=np.int64)).to(points.device),
    )


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend ``auto`` stands for (``grid``), after checking the name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown neighbour-search backend {backend!r}; choose one of {BACKENDS}")
    return "grid" if backend == "auto" else backend


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def radius_neighbours(
    points: Tensor,
    r: float,
    k: int | None = None,
    queries: Tensor | None = None,
    *,
    backend: str = "auto",
    grid_dims: int = 3,
    max_pairs: int = 1 << 21,
    dense: int = 512,
    ordered: bool = True,
    stats: GridStats | None = None,
    threads: int | None = None,
) -> Neighbours:
    """Neighbours within ``r`` of every query (k nearest at most), self excluded.

    ``points``: float [N, D] (any device; the result is on the same device); ``queries``: int64
    [Q] indices into points (default: all); ``k``: max neighbours per query (None: no cap).
    Returns :class:`Neighbours`, sorted by (query, distance, neighbour index) if ``ordered``
    (else in an unspecified order; the same set). ``max_pairs`` bounds the candidate pairs
    held at once (every backend but the C++ grid, which holds none); queries of the torch grid
    (CUDA) with more than ``dense`` candidates are compared as dense blocks; ``stats`` collects
    the grid backend's work; ``threads``: the C++ grid's threads (default
    ``torch.get_num_threads()``; the result does not depend on it).
    """
    if points.dim() != 2:
        raise ValueError(f"points must be [N, D], got {tuple(points.shape)}")
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"radius must be finite and >= 0, got {r}")
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 (or None), got {k}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError("points contain NaN or infinite values")
    dev = points.device
    n = points.shape[0]
    name = resolve_backend(backend, dev)
    if points.dtype not in (torch.float32, torch.float64):
        points = points.float()  # (exact for float16 / bfloat16)
    if queries is None:
        queries = torch.arange(n, device=dev)
    queries = queries.to(device=dev, dtype=torch.int64)
    empty = torch.zeros(0, dtype=torch.int64, device=dev)
    if n < 2 or queries.numel() == 0 or points.shape[1] == 0:
        return Neighbours(empty, empty.clone(), torch.zeros(0, dtype=torch.float64, device=dev))
    stats = stats if stats is not None else GridStats()
    if name == "grid" and dev.type == "cpu" and CORE_GRID_ON_CPU:
        n_threads = torch.get_num_threads() if threads is None else int(threads)
        query, neighbour, d2 = _grid_search_cpu(
            points, queries, r, k, grid_dims, n_threads, ordered, stats
        )
        if ordered:  # each query's pairs are already in (d2, neighbour) order
            order = torch.argsort(query, stable=True)
            query, neighbour, d2 = query[order], neighbour[order], d2[order]
        return Neighbours(query, neighbour, d2)
    chunks: Iterator[tuple[Tensor, Tensor]]
    if name == "grid":
        chunks = _grid_candidates(points, queries, r, k, grid_dims, max_pairs, dense, stats)
    elif name == "faiss":
        chunks = _faiss_candidates(points, queries, r, k, max_pairs, stats)
    elif name == "kdtree":
        chunks = _kdtree_candidates(points, queries, r)
    else:
        chunks = _brute_candidates(points, queries, r, max_pairs)
    r2 = float(r) * float(r)
    parts = [_select(points, q, c, r2, k, ordered) for q, c in chunks]
    if not parts:
        return Neighbours(empty, empty.clone(), torch.zeros(0, dtype=torch.float64, device=dev))
    query = torch.cat([p[0] for p in parts])
    neighbour = torch.cat([p[1] for p in parts])
    d2 = torch.cat([p[2] for p in parts])
    if ordered and len(parts) > 1:  # chunks hold disjoint query sets: order them by query
        order = torch.argsort(query, stable=True)
        query, neighbour, d2 = query[order], neighbour[order], d2[order]
    return Neighbours(query, neighbour, d2)


def pairs_to_edges(
    query: Tensor, neighbour: Tensor, n_nodes: int, undirected: bool = False
) -> Tensor:
    """Directed pairs -> unique edges [2, E] int64: (min, max) per pair, sorted; with
    ``undirected`` both directions of every edge (sorted by source, then target)."""
    n = max(n_nodes, 1)
    if query.device.type == "cpu":  # the C++ core's radix sort
        from acts_gnn import _core

        lo, hi = _core.unique_edges(query.numpy(), neighbour.numpy(), n_nodes)
        src, dst = torch.from_numpy(lo), torch.from_numpy(hi)
    else:
        low, high = torch.minimum(query, neighbour), torch.maximum(query, neighbour)
        keys = torch.unique(low * n + high)  # sorted
        src, dst = torch.div(keys, n, rounding_mode="floor"), keys % n
    if not undirected:
        return torch.stack([src, dst])
    both = torch.cat([src * n + dst, dst * n + src])
    both = torch.sort(both).values
    return torch.stack([torch.div(both, n, rounding_mode="floor"), both % n])


def build_edges(
    points: Tensor,
    r: float,
    k: int | None = None,
    *,
    backend: str = "auto",
    undirected: bool = False,
    grid_dims: int = 3,
    max_pairs: int = 1 << 21,
) -> Tensor:
    """Radius graph of ``points`` [N, D]: edges [2, E] int64 (see the module docstring)."""
    found = radius_neighbours(
        points, r, k, backend=backend, grid_dims=grid_dims, max_pairs=max_pairs, ordered=False
    )
    return pairs_to_edges(found.query, found.neighbour, points.shape[0], undirected)

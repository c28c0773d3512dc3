"""The module map: building, storing, applying (C++ and torch), symmetries and edge metrics.

The C++ graph is checked edge by edge against a slow, obvious pure-Python reference written
here from the definitions in ``cpp/geometry_kernels.cpp`` and ``cpp/module_map.cpp`` (the
map's quantities carry the ModuleMapGraph / acorn signs), on hand-made events (fake module
ids, several hits per module, a hit on an unknown module, tracks crossing phi = +-pi, a track
at x == 0) and on the shared tiny ACTS sample.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.core import (
    ModuleMap,
    ModuleMapBuilder,
    ModuleMapGraphBuilder,
    triplet_samples,
)
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.metrics.edges import EdgeMetrics, edge_truth_mask

# ---------------------------------------------------------------------------------------------
# The reference: loops and ``math``, straight from the definitions
# ---------------------------------------------------------------------------------------------


def _hypot(x: float, y: float) -> float:
    """C's ``hypot`` (what std::hypot calls). Python's ``math.hypot`` has its own algorithm
    and differs in the last bit for some inputs, which matters here: a triplet seen once has
    cuts with min == max, so the reference must compute r exactly as the C++ does."""
    return float(np.hypot(x, y))


def _coordinates(x: float, y: float, z: float) -> tuple[float, ...]:
    """x, y, z, r, phi, eta of one hit; eta = asinh(z / r), +-1e3 on the beam line."""
    r = _hypot(x, y)
    eta = math.asinh(z / r) if r > 0 else (1e3 if z >= 0 else -1e3)
    return x, y, z, r, math.atan2(y, x), eta


def _wrap_phi(dphi: float) -> float:
    """Into [-pi, pi), as wrapPhi does."""
    dphi = math.fmod(dphi + math.pi, 2 * math.pi)
    if dphi < 0:
        dphi += 2 * math.pi
    return dphi - math.pi


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def _doublet(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """z0, dphi, phi_slope, deta, dz/dr, dy/dx of the doublet a -> b, as
    ``_core.doublet_features`` defines them (deta = eta(b) - eta(a))."""
    ax, ay, az, ar, aphi, aeta = a
    bx, by, bz, br, bphi, beta = b
    dr = br - ar
    dphi = _wrap_phi(bphi - aphi)
    dzdr = _ratio(bz - az, dr)
    z0 = az - ar * dzdr
    return z0, dphi, _ratio(dphi, dr), beta - aeta, dzdr, _ratio(by - ay, bx - ax)


def _inside(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def _map_quantities(q: tuple[float, ...]) -> tuple[float, ...]:
    """The module-map cut quantities of a doublet: z0, dphi, phi_slope and deta with the
    ModuleMapGraph / acorn sign, deta = eta(inner) - eta(outer)."""
    return q[0], q[1], q[2], -q[3]


def _diff_dydx(q12: tuple[float, ...], q23: tuple[float, ...]) -> float:
    """diff_dydx as ModuleMapGraph / acorn define it, sign included: -dy/dx(12) - dy/dx(23)."""
    return -q12[5] - q23[5]


def _passes(q: tuple[float, ...], cuts: np.ndarray) -> bool:
    """The four module-map cut quantities of the doublet ``q`` against ``cuts`` [4, 2]."""
    m = _map_quantities(q)
    return all(_inside(m[k], float(cuts[k, 0]), float(cuts[k, 1])) for k in range(4))


def reference_doublet_cuts(mm: ModuleMap) -> dict[tuple[int, int], np.ndarray]:
    """Union of the leg ranges of every triplet, per (module id, module id) doublet."""
    union: dict[tuple[int, int], np.ndarray] = {}
    for t, (i1, i2, i3) in enumerate(mm.triplets):
        m1, m2, m3 = (int(mm.modules[i]) for i in (i1, i2, i3))
        for key, cuts in (((m1, m2), mm.cuts12[t]), ((m2, m3), mm.cuts23[t])):
            if key not in union:
                union[key] = cuts.copy()
            else:
                union[key][:, 0] = np.minimum(union[key][:, 0], cuts[:, 0])
                union[key][:, 1] = np.maximum(union[key][:, 1], cuts[:, 1])
    return union


def reference_graph(
    mm: ModuleMap, positions: np.ndarray, geometry_ids: np.ndarray
) -> set[tuple[int, int]]:
    """Edges (src, dst) of the module-map graph, the slow and obvious way."""
    coords = [_coordinates(float(x), float(y), float(z)) for x, y, z in positions]
    hits_on: dict[int, list[int]] = defaultdict(list)
    for row, module in enumerate(geometry_ids):
        hits_on[int(module)].append(row)
    union = reference_doublet_cuts(mm)
    edges: set[tuple[int, int]] = set()
    for t, (i1, i2, i3) in enumerate(mm.triplets):
        m1, m2, m3 = (int(mm.modules[i]) for i in (i1, i2, i3))
        for h1 in hits_on.get(m1, []):
            for h2 in hits_on.get(m2, []):
                if h1 == h2:
                    continue
                q12 = _doublet(coords[h1], coords[h2])
                if not (_passes(q12, union[m1, m2]) and _passes(q12, mm.cuts12[t])):
                    continue
                for h3 in hits_on.get(m3, []):
                    if h3 == h2:
                        continue
                    q23 = _doublet(coords[h2], coords[h3])
                    if not (_passes(q23, union[m2, m3]) and _passes(q23, mm.cuts23[t])):
                        continue
                    if _inside(q12[4] - q23[4], *mm.diff_dzdr[t]) and _inside(
                        _diff_dydx(q12, q23), *mm.diff_dydx[t]
                    ):
                        edges.add((h1, h2))
                        edges.add((h2, h3))
    return edges


def edge_set(edge_index: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in np.asarray(edge_index).T}


def check_against_reference(mm: ModuleMap, positions: np.ndarray, geometry_ids: np.ndarray):
    """C++ graph == reference graph, without duplicate edges; returns the C++ graph."""
    graph = ModuleMapGraphBuilder(mm)(positions, geometry_ids)
    assert graph.edge_index.dtype == np.int64
    assert graph.edge_index.shape[0] == 2
    found = edge_set(graph.edge_index)
    assert len(found) == graph.edge_index.shape[1], "duplicate edges in the C++ graph"
    expected = reference_graph(mm, positions, geometry_ids)
    assert found == expected, (
        f"C++ only: {sorted(found - expected)[:10]}, reference only: {sorted(expected - found)[:10]}"
    )
    assert graph.doublet_edges >= len(found)
    assert graph.edge_features.shape == (len(found), 6)
    return graph


def test_reference_doublet_cuts_match_the_map() -> None:
    mm = synthetic_map()
    union = reference_doublet_cuts(mm)
    assert len(union) == mm.n_doublets
    for d, (i1, i2) in enumerate(mm.doublets):
        np.testing.assert_array_equal(
            mm.doublet_cuts[d], union[int(mm.modules[i1]), int(mm.modules[i2])]
        )


def test_reference_quantities_match_the_core() -> None:
    """The reference's doublet and triplet quantities agree bit for bit with the C++ kernels."""
    from acts_gnn import _core

    rng = np.random.default_rng(3)
    pos = rng.normal(0.0, 300.0, size=(200, 3))
    pos[:10, 0] = 0.0  # x == 0: dy/dx with dx == 0
    pos[10:20, :2] = pos[20:30, :2]  # same r: dr == 0
    pos[30, :2] = 0.0  # on the beam line
    src = rng.integers(0, 200, 500)
    dst = rng.integers(0, 200, 500)
    src[:10], dst[:10] = np.arange(10), np.arange(10)[::-1]
    src[10:20], dst[10:20] = np.arange(10, 20), np.arange(20, 30)
    src[20], dst[20] = 30, 31
    x, y, z = (np.ascontiguousarray(pos[:, k]) for k in range(3))
    core = _core.doublet_features(x, y, z, src, dst)
    cols = {name: k for k, name in enumerate(_core.DOUBLET_COLUMNS)}
    coords = [_coordinates(*map(float, p)) for p in pos]
    for i, (s, d) in enumerate(zip(src, dst)):
        z0, dphi, phi_slope, deta, _, _ = _doublet(coords[s], coords[d])
        assert core[i, cols["z0"]] == z0
        assert core[i, cols["dphi"]] == dphi
        assert core[i, cols["phi_slope"]] == phi_slope
        assert core[i, cols["deta"]] == deta
    third = rng.integers(0, 200, 500)
    trip = _core.triplet_features(x, y, z, src, dst, third)
    for i, (a, b, c) in enumerate(zip(src, dst, third)):
        qa, qb = _doublet(coords[a], coords[b]), _doublet(coords[b], coords[c])
        assert trip[i, 0] == qa[4] - qb[4]
        assert trip[i, 1] == _diff_dydx(qa, qb)
    # the map's samples: leg quantities with the module-map deta sign, then the differences
    rows = np.stack([src, dst, third], axis=1)
    samples = triplet_samples(pos, rows)
    for i, (a, b, c) in enumerate(rows):
        qa, qb = _doublet(coords[a], coords[b]), _doublet(coords[b], coords[c])
        expected = (*_map_quantities(qa), *_map_quantities(qb), qa[4] - qb[4], _diff_dydx(qa, qb))
        assert tuple(samples[i]) == expected


# ---------------------------------------------------------------------------------------------
# Synthetic detector: 4 barrel layers of 6 phi sectors; sector 0 straddles phi = +-pi
# ---------------------------------------------------------------------------------------------

LAYER_RADII = (30.0, 60.0, 100.0, 150.0)
N_SECTORS = 6
UNKNOWN_MODULE = 987_654_321


def synthetic_module(layer: int, x: float, y: float) -> int:
    """Fake geometry id (large, to exercise uint64) of the sector holding (x, y)."""
    phi = math.atan2(y, x)
    width = 2 * math.pi / N_SECTORS
    sector = int(((phi + math.pi + width / 2) % (2 * math.pi)) // width) % N_SECTORS
    return ((layer + 1) << 40) | sector


def synthetic_track(rng, phi0=None, curvature=None, cot=None, z0=None, x_zero=False):
    """Hit positions [4, 3] (one per layer) of a curved track from near the origin."""
    phi0 = rng.uniform(-math.pi, math.pi) if phi0 is None else phi0
    curvature = rng.uniform(-2e-3, 2e-3) if curvature is None else curvature
    cot = rng.uniform(-1.0, 1.0) if cot is None else cot
    z0 = rng.uniform(-5.0, 5.0) if z0 is None else z0
    points = []
    for radius in LAYER_RADII:
        r = radius + rng.normal(0.0, 0.5)
        phi = phi0 + curvature * r
        x, y = r * math.cos(phi), r * math.sin(phi)
        if x_zero:
            x, y = 0.0, r
        points.append((x, y, z0 + cot * r))
    return np.array(points)


def special_tracks(rng) -> list[np.ndarray]:
    """Tracks crossing phi = +-pi both ways, and one at x == 0 exactly (dy/dx -> 0)."""
    return [
        synthetic_track(rng, phi0=math.pi - 0.05, curvature=1e-3),
        synthetic_track(rng, phi0=-math.pi + 0.05, curvature=-1e-3),
        synthetic_track(rng, phi0=math.pi - 0.01, curvature=2e-4),
        synthetic_track(rng, curvature=0.0, x_zero=True, z0=0.0, cot=0.3),
    ]


def synthetic_training_triplets(n_tracks: int = 300, seed: int = 11):
    """(module ids [T, 3] uint64, triplet samples [T, 10]) of layer triplets (0,1,2), (1,2,3)."""
    rng = np.random.default_rng(seed)
    tracks = [synthetic_track(rng) for _ in range(n_tracks)] + special_tracks(rng)
    positions = np.concatenate(tracks)
    modules = np.array(
        [synthetic_module(k % 4, x, y) for k, (x, y, _) in enumerate(positions)], dtype=np.uint64
    )
    rows = np.array(
        [[4 * t + k, 4 * t + k + 1, 4 * t + k + 2] for t in range(len(tracks)) for k in (0, 1)]
    )
    return modules[rows], triplet_samples(positions, rows), positions, modules


def synthetic_map(flush_rows: int = 2_000_000) -> ModuleMap:
    ids, samples, _, _ = synthetic_training_triplets()
    builder = ModuleMapBuilder(flush_rows=flush_rows)
    builder.add(ids, samples)
    return builder.build()


def synthetic_event(seed: int, n_tracks: int = 25, n_noise: int = 15):
    """Hit positions [N, 3] and module ids [N]: tracks, noise, near-duplicate hits on the same
    module, one hit on a module missing from the map; rows shuffled."""
    rng = np.random.default_rng(seed)
    tracks = [synthetic_track(rng) for _ in range(n_tracks)] + special_tracks(rng)
    positions = np.concatenate(tracks)
    layers = np.tile(np.arange(4), len(tracks))
    noise_layers = rng.integers(0, 4, n_noise)
    noise_phi = rng.uniform(-math.pi, math.pi, n_noise)
    noise_r = np.array(LAYER_RADII)[noise_layers]
    noise = np.stack(
        [noise_r * np.cos(noise_phi), noise_r * np.sin(noise_phi), rng.uniform(-100, 100, n_noise)],
        axis=1,
    )
    twins = positions[:8] + rng.normal(0.0, 0.05, size=(8, 3))  # same modules, nearly same place
    positions = np.concatenate([positions, noise, twins])
    layers = np.concatenate([layers, noise_layers, layers[:8]])
    modules = np.array(
        [synthetic_module(int(k), x, y) for k, (x, y, _) in zip(layers, positions)],
        dtype=np.uint64,
    )
    positions = np.concatenate([positions, [[40.0, 5.0, 1.0]]])
    modules = np.concatenate([modules, np.array([UNKNOWN_MODULE], dtype=np.uint64)])
    order = rng.permutation(len(modules))
    return positions[order], modules[order]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cpp_graph_equals_reference_synthetic(seed: int) -> None:
    mm = synthetic_map()
    positions, modules = synthetic_event(seed)
    # the event really has what it should: wrap-around, shared modules, an unknown module
    assert np.any(np.abs(np.arctan2(positions[:, 1], positions[:, 0])) > math.pi - 0.02)
    assert Counter(modules.tolist()).most_common(1)[0][1] > 3
    graph = check_against_reference(mm, positions, modules)
    assert graph.edge_index.shape[1] > 50
    assert graph.hits_unknown_module == 1
    # edges that cross phi = +-pi are found
    phi = np.arctan2(positions[:, 1], positions[:, 0])
    src, dst = graph.edge_index
    assert np.any((np.sign(phi[src]) != np.sign(phi[dst])) & (np.abs(phi[src]) > 3.0))


def test_cpp_graph_equals_reference_on_training_hits() -> None:
    """On the training tracks themselves every cut is hit exactly at its boundary."""
    mm = synthetic_map()
    _, _, positions, modules = synthetic_training_triplets()
    graph = check_against_reference(mm, positions, modules)
    # every training track's three edges are found
    truth = {(4 * t + k, 4 * t + k + 1) for t in range(len(positions) // 4) for k in range(3)}
    assert truth <= edge_set(graph.edge_index)


def test_cpp_graph_equals_reference_with_narrow_and_wide_cuts() -> None:
    """Cuts shrunk and widened around the learned ones: the boundaries move, the C++ follows."""
    mm = synthetic_map()
    positions, modules = synthetic_event(4)
    for scale in (0.3, 3.0):
        scaled = scaled_map(mm, scale)
        check_against_reference(scaled, positions, modules)


def scaled_map(mm: ModuleMap, scale: float) -> ModuleMap:
    """The map with every [min, max] range scaled by ``scale`` about its centre."""

    def scale_ranges(ranges: np.ndarray) -> np.ndarray:
        centre = ranges.mean(axis=-1, keepdims=True)
        return centre + scale * (ranges - centre)

    return ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        scale_ranges(mm.cuts12),
        scale_ranges(mm.cuts23),
        scale_ranges(mm.diff_dzdr),
        scale_ranges(mm.diff_dydx),
    )


def widened_map(mm: ModuleMap) -> ModuleMap:
    """The map with every range widened by a fixed margin (z0, dphi, phi_slope, deta; the
    differences of dz/dr and dy/dx): wide enough to connect other events' hits."""
    margin = np.array([400.0, 0.4, 4e-3, 1.0])[:, None] * np.array([-1.0, 1.0])
    diff = np.array([-1.0, 1.0])
    return ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        mm.cuts12 + margin,
        mm.cuts23 + margin,
        mm.diff_dzdr + diff,
        mm.diff_dydx + 10 * diff,
    )


# ---------------------------------------------------------------------------------------------
# The tiny ACTS sample
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_events(prepared_sample):
    from acts_gnn.io.event_store import PreparedDataset

    events = list(PreparedDataset(prepared_sample.directory))
    assert len(events) >= 2
    return events


@pytest.fixture(scope="module")
def tiny_map(tiny_events) -> ModuleMap:
    """Map built from event 0 of the tiny sample (all particles with >= 3 measurements)."""
    from acts_gnn.graph.module_map.build import build_module_map

    return build_module_map(tiny_events[:1], TruthSelection(min_hits=3))


@pytest.fixture(scope="module")
def symmetry(detector):
    from acts_gnn.graph.module_map.symmetry import DetectorSymmetry

    return DetectorSymmetry.from_surfaces(detector.surfaces())


@pytest.fixture(scope="module")
def tiny_map_symmetric(tiny_events, symmetry) -> ModuleMap:
    from acts_gnn.graph.module_map.build import build_module_map

    return build_module_map(tiny_events[:1], TruthSelection(min_hits=3), symmetry)


@pytest.mark.acts
@pytest.mark.parametrize("event", [0, 1])
def test_cpp_graph_equals_reference_tiny_sample(tiny_events, tiny_map, event: int) -> None:
    e = tiny_events[event]
    graph = check_against_reference(tiny_map, e.positions(), e.hits["geometry_id"])
    if event == 0:
        assert graph.edge_index.shape[1] > 0
    # a wider map gives a non-trivial graph on the other event too
    wide = widened_map(tiny_map)
    graph = check_against_reference(wide, e.positions(), e.hits["geometry_id"])
    assert graph.edge_index.shape[1] > 0


@pytest.mark.acts
def test_cpp_graph_equals_reference_symmetric_map(tiny_events, tiny_map_symmetric) -> None:
    e = tiny_events[1]
    check_against_reference(tiny_map_symmetric, e.positions(), e.hits["geometry_id"])


# ---------------------------------------------------------------------------------------------
# Building: a map finds every truth edge of the events it was built from
# ---------------------------------------------------------------------------------------------


@pytest.mark.acts
@pytest.mark.parametrize("with_symmetry", [False, True])
def test_map_finds_all_its_truth_edges(tiny_events, symmetry, with_symmetry: bool) -> None:
    from acts_gnn.graph.module_map.build import build_module_map, evaluate_module_map

    selection = TruthSelection(min_hits=3)
    mm = build_module_map(tiny_events, selection, symmetry if with_symmetry else None)
    result = evaluate_module_map(tiny_events, mm, selection, n_threads=1)
    assert result.metrics.truth_total > 100
    assert result.metrics.efficiency == 1.0
    assert result.hits_unknown_module >= 0
    assert 0.0 < result.metrics.purity <= 1.0
    for e in tiny_events:
        one = ModuleMapGraphBuilder(mm, n_threads=1)(e.positions(), e.hits["geometry_id"])
        three = ModuleMapGraphBuilder(mm, n_threads=3)(e.positions(), e.hits["geometry_id"])
        np.testing.assert_array_equal(one.edge_index, three.edge_index)
        np.testing.assert_array_equal(one.edge_features, three.edge_features)
        assert one.doublet_edges == three.doublet_edges
    if with_symmetry:  # enough doublets and triplets for the C++ to really use 3 threads
        assert mm.n_doublets > 3 * 1024
        assert mm.n_triplets > 2 * 4096


def test_synthetic_map_finds_all_training_edges_any_threads() -> None:
    mm = synthetic_map()
    _, _, positions, modules = synthetic_training_triplets()
    graphs = [ModuleMapGraphBuilder(mm, n)(positions, modules) for n in (1, 3, 0)]
    for g in graphs[1:]:
        np.testing.assert_array_equal(graphs[0].edge_index, g.edge_index)
    truth = np.array(
        [[4 * t + k, 4 * t + k + 1] for t in range(len(positions) // 4) for k in range(3)]
    ).T
    metrics = EdgeMetrics()
    metrics.add(graphs[0].edge_index, truth, truth, len(positions))
    assert metrics.efficiency == 1.0


# ---------------------------------------------------------------------------------------------
# ModuleMapBuilder: flushing, counts, pruning, the npz format
# ---------------------------------------------------------------------------------------------


def _repeated_triplets(seed: int = 5):
    """Triplets drawn from a small pool, so most occur several times; with their counts."""
    ids, samples, _, _ = synthetic_training_triplets()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(ids), 400)
    ids, samples = ids[picks], samples[picks]
    # the same module triple with different samples, and different triples
    counts = Counter(tuple(int(m) for m in row) for row in ids)
    return ids, samples, counts


def test_builder_flush_gives_identical_map() -> None:
    ids, samples, _ = _repeated_triplets()
    maps = []
    for flush_rows in (2_000_000, 7, 1):
        builder = ModuleMapBuilder(flush_rows=flush_rows)
        for start in range(0, len(ids), 5):
            builder.add(ids[start : start + 5], samples[start : start + 5])
        maps.append(builder.build())
    one_batch = ModuleMapBuilder()
    one_batch.add(ids, samples)
    maps.append(one_batch.build())
    for other in maps[1:]:
        assert maps[0].equals(other)
    assert maps[0].metadata["samples"] == len(ids)


def _triplet_table(mm: ModuleMap) -> dict[tuple[int, int, int], tuple]:
    table = {}
    for t, row in enumerate(mm.triplets):
        key = tuple(int(mm.modules[i]) for i in row)
        table[key] = (
            int(mm.occurrence[t]),
            mm.cuts12[t].tobytes(),
            mm.cuts23[t].tobytes(),
            mm.diff_dzdr[t].tobytes(),
            mm.diff_dydx[t].tobytes(),
        )
    return table


def test_builder_counts_and_ranges() -> None:
    ids, samples, counts = _repeated_triplets()
    builder = ModuleMapBuilder(flush_rows=7)
    builder.add(ids, samples)
    mm = builder.build()
    assert mm.n_triplets == len(counts)
    assert int(mm.occurrence.sum()) == len(ids)
    table = _triplet_table(mm)
    assert {k: v[0] for k, v in table.items()} == dict(counts)
    # ranges are the min and max of the samples of each triplet
    for t, row in enumerate(mm.triplets):
        key = np.array([mm.modules[i] for i in row], dtype=np.uint64)
        mine = samples[np.all(ids == key, axis=1)]
        np.testing.assert_array_equal(mm.cuts12[t, :, 0], mine[:, 0:4].min(axis=0))
        np.testing.assert_array_equal(mm.cuts12[t, :, 1], mine[:, 0:4].max(axis=0))
        np.testing.assert_array_equal(mm.cuts23[t, :, 0], mine[:, 4:8].min(axis=0))
        np.testing.assert_array_equal(mm.cuts23[t, :, 1], mine[:, 4:8].max(axis=0))
        np.testing.assert_array_equal(mm.diff_dzdr[t], [mine[:, 8].min(), mine[:, 8].max()])
        np.testing.assert_array_equal(mm.diff_dydx[t], [mine[:, 9].min(), mine[:, 9].max()])
    # modules sorted and unique; triplets sorted
    assert np.all(np.diff(mm.modules.astype(np.float64)) > 0)
    keys = [tuple(r) for r in mm.triplets.tolist()]
    assert keys == sorted(keys)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_pruned_removes_exactly_rare_triplets(k: int) -> None:
    ids, samples, counts = _repeated_triplets()
    builder = ModuleMapBuilder()
    builder.add(ids, samples)
    mm = builder.build()
    pruned = mm.pruned(k)
    full, kept = _triplet_table(mm), _triplet_table(pruned)
    assert kept == {key: v for key, v in full.items() if v[0] >= k}
    assert pruned.n_triplets == sum(1 for c in counts.values() if c >= k)
    # no module left without a triplet
    assert set(np.unique(pruned.triplets)) == set(range(pruned.n_modules))
    assert pruned.metadata["min_occurrence"] == k
    # pruning the map leaves the graph of the surviving triplets: compare with the reference
    positions, modules = synthetic_event(7)
    check_against_reference(pruned, positions, modules)


def test_builder_rejects_bad_samples() -> None:
    ids, samples, _ = _repeated_triplets()
    builder = ModuleMapBuilder()
    bad = samples[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(InputDataError):
        builder.add(ids[:3], bad)
    with pytest.raises(ValueError, match="length"):
        builder.add(ids[:3], samples[:2])


def test_npz_round_trip(tmp_path: Path) -> None:
    mm = synthetic_map()
    mm.metadata.update(events=3, note="synthetic")
    written = mm.save(tmp_path / "map")
    assert written == tmp_path / "map.npz"
    assert not list(tmp_path.glob(".*partial"))
    for path in (written, tmp_path / "map"):
        loaded = ModuleMap.load(path)
        assert loaded.equals(mm)
        assert loaded.metadata == mm.metadata
        np.testing.assert_array_equal(loaded.doublets, mm.doublets)
        np.testing.assert_array_equal(loaded.doublet_cuts, mm.doublet_cuts)


def compact_copy(mm: ModuleMap, path: Path) -> ModuleMap:
    """``mm`` written with the compact encoding (float16 ranges rounded outwards) and read back."""
    back = ModuleMap.load(mm.save(path, compact=True))
    np.testing.assert_array_equal(back.modules, mm.modules)
    np.testing.assert_array_equal(back.triplets, mm.triplets)
    np.testing.assert_array_equal(back.occurrence, mm.occurrence)
    for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx", "doublet_cuts"):
        got, orig = getattr(back, name), getattr(mm, name)
        assert np.all(got[..., 0] <= orig[..., 0]), name
        assert np.all(got[..., 1] >= orig[..., 1]), name
    return back


def test_compact_map_graph_contains_every_original_edge(tmp_path: Path) -> None:
    """Outward rounding only adds edges: on hand-made events, on the training hits (every cut
    hit exactly at its boundary) and with narrowed cuts; the C++ still follows the reference."""
    mm = synthetic_map()
    for scale in (1.0, 0.3):
        original = scaled_map(mm, scale) if scale != 1.0 else mm
        compact = compact_copy(original, tmp_path / f"compact-{scale}.npz")
        assert not compact.equals(original)  # rounding really happened
        events = [synthetic_event(seed) for seed in (1, 2, 3)]
        events.append(synthetic_training_triplets()[2:])
        total = 0
        for positions, modules in events:
            before = edge_set(ModuleMapGraphBuilder(original)(positions, modules).edge_index)
            after = check_against_reference(compact, positions, modules)
            assert before <= edge_set(after.edge_index)
            total += len(before)
        assert total > 20


@pytest.mark.acts
def test_compact_map_graph_contains_every_original_edge_tiny_sample(
    tiny_events, tiny_map_symmetric, tmp_path: Path
) -> None:
    compact = compact_copy(tiny_map_symmetric, tmp_path / "compact.npz")
    for e in tiny_events:
        before = ModuleMapGraphBuilder(tiny_map_symmetric)(e.positions(), e.hits["geometry_id"])
        after = ModuleMapGraphBuilder(compact)(e.positions(), e.hits["geometry_id"])
        assert before.edge_index.shape[1] > 0
        assert edge_set(before.edge_index) <= edge_set(after.edge_index)
        assert after.doublet_edges >= before.doublet_edges


def test_empty_map_round_trip_and_graph(tmp_path: Path) -> None:
    mm = ModuleMapBuilder().build()
    assert mm.n_triplets == 0
    assert mm.n_doublets == 0
    loaded = ModuleMap.load(mm.save(tmp_path / "empty.npz"))
    assert loaded.equals(mm)
    positions, modules = synthetic_event(1)
    graph = ModuleMapGraphBuilder(loaded)(positions, modules)
    assert graph.edge_index.shape == (2, 0)
    assert graph.hits_unknown_module == len(modules)


def test_graph_with_no_passing_edge() -> None:
    """Every doublet cut impossible: the graph is empty (shape [2, 0]), not an error."""
    mm = synthetic_map()
    impossible = ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        np.broadcast_to([1.0, -1.0], mm.cuts12.shape),
        mm.cuts23,
        mm.diff_dzdr,
        mm.diff_dydx,
    )
    positions, modules = synthetic_event(1)
    graph = ModuleMapGraphBuilder(impossible)(positions, modules)
    assert graph.edge_index.shape == (2, 0)
    assert graph.edge_features.shape == (0, 6)


def test_load_missing_or_wrong_file(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="does not exist"):
        ModuleMap.load(tmp_path / "nothing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, modules=np.arange(3, dtype=np.uint64))
    with pytest.raises(InputDataError, match="missing"):
        ModuleMap.load(other)
    text = tmp_path / "text.npz"
    text.write_text("1 2 3 4\n")
    with pytest.raises(InputDataError):
        ModuleMap.load(text)
    good = synthetic_map().save(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputDataError):
        ModuleMap.load(truncated)
    array = tmp_path / "array.npz"
    with open(array, "wb") as f:
        np.save(f, np.arange(5))
    with pytest.raises(InputDataError):
        ModuleMap.load(array)


def test_map_rejects_inconsistent_arrays() -> None:
    mm = synthetic_map()
    with pytest.raises(ValueError, match="sorted"):
        ModuleMap(
            mm.modules[::-1],
            mm.triplets,
            mm.occurrence,
            mm.cuts12,
            mm.cuts23,
            mm.diff_dzdr,
            mm.diff_dydx,
        )
    with pytest.raises(ValueError, match="outside"):
        ModuleMap(
            mm.modules[:2],
            mm.triplets,
            mm.occurrence,
            mm.cuts12,
            mm.cuts23,
            mm.diff_dzdr,
            mm.diff_dydx,
        )


# ---------------------------------------------------------------------------------------------
# Unknown modules and bad input
# ---------------------------------------------------------------------------------------------


def test_unknown_modules_get_no_edges() -> None:
    mm = synthetic_map()
    positions, modules = synthetic_event(2)
    modules = modules.copy()
    rng = np.random.default_rng(0)
    unknown_rows = rng.choice(len(modules), 20, replace=False)
    modules[unknown_rows] = np.uint64(UNKNOWN_MODULE) + np.arange(20, dtype=np.uint64)
    assert np.all(mm.module_index(modules[unknown_rows]) == -1)
    graph = ModuleMapGraphBuilder(mm)(positions, modules)
    expected_unknown = np.count_nonzero(mm.module_index(modules) < 0)
    assert graph.hits_unknown_module == expected_unknown >= 20
    assert not np.isin(graph.edge_index, unknown_rows).any()
    check_against_reference(mm, positions, modules)


def test_all_hits_unknown() -> None:
    mm = synthetic_map()
    positions, _ = synthetic_event(2)
    modules = np.full(len(positions), UNKNOWN_MODULE, dtype=np.uint64)
    graph = ModuleMapGraphBuilder(mm)(positions, modules)
    assert graph.edge_index.shape == (2, 0)
    assert graph.hits_unknown_module == len(positions)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_positions_raise(bad: float) -> None:
    mm = synthetic_map()
    positions, modules = synthetic_event(2)
    positions = positions.copy()
    positions[3, 2] = bad
    with pytest.raises(InputDataError, match="positions"):
        ModuleMapGraphBuilder(mm)(positions, modules)


def test_bad_position_shape_raises() -> None:
    mm = synthetic_map()
    with pytest.raises(ValueError, match="shape"):
        ModuleMapGraphBuilder(mm)(np.zeros((4, 2)), np.zeros(4, dtype=np.uint64))


def test_empty_event() -> None:
    mm = synthetic_map()
    graph = ModuleMapGraphBuilder(mm)(np.zeros((0, 3)), np.zeros(0, dtype=np.uint64))
    assert graph.edge_index.shape == (2, 0)
    assert graph.hits_unknown_module == 0


# ---------------------------------------------------------------------------------------------
# Torch path: the same edges in the same order
# ---------------------------------------------------------------------------------------------


def _compare_torch(mm: ModuleMap, positions, modules, device: str, max_pairs: int = 1 << 24):
    from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

    cpp = ModuleMapGraphBuilder(mm)(positions, modules)
    edge_index, doublet_edges = TorchModuleMapGraphBuilder(mm, device, max_pairs=max_pairs)(
        positions, modules
    )
    assert edge_index.device.type == device
    np.testing.assert_array_equal(edge_index.cpu().numpy(), cpp.edge_index)
    assert doublet_edges == cpp.doublet_edges
    return cpp


def _torch_cases(device: str) -> None:
    mm = synthetic_map()
    for seed in (1, 2):
        positions, modules = synthetic_event(seed)
        graph = _compare_torch(mm, positions, modules, device)
        assert graph.edge_index.shape[1] > 0
        _compare_torch(mm, positions, modules, device, max_pairs=50)
    _, _, positions, modules = synthetic_training_triplets()
    _compare_torch(mm, positions, modules, device, max_pairs=1000)
    _compare_torch(scaled_map(mm, 0.3), positions, modules, device)
    _compare_torch(mm, np.zeros((0, 3)), np.zeros(0, dtype=np.uint64), device)
    _compare_torch(ModuleMapBuilder().build(), positions, modules, device)


def test_torch_cpu_equals_cpp_synthetic() -> None:
    pytest.importorskip("torch")
    _torch_cases("cpu")


@pytest.mark.acts
def test_torch_cpu_equals_cpp_tiny_sample(tiny_events, tiny_map, tiny_map_symmetric) -> None:
    pytest.importorskip("torch")
    for e in tiny_events:
        args = (e.positions(), e.hits["geometry_id"], "cpu")
        _compare_torch(tiny_map, *args)
        _compare_torch(widened_map(tiny_map), *args, max_pairs=1000)
        _compare_torch(tiny_map_symmetric, *args)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_available(), reason="needs torch with a CUDA device")
def test_torch_cuda_equals_cpp(prepared_sample) -> None:
    _torch_cases("cuda")
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.io.event_store import PreparedDataset

    events = list(PreparedDataset(prepared_sample.directory))
    mm = build_module_map(events[:1], TruthSelection(min_hits=3))
    for e in events:
        args = (e.positions(), e.hits["geometry_id"], "cuda")
        _compare_torch(mm, *args)
        _compare_torch(widened_map(mm), *args, max_pairs=1000)


# ---------------------------------------------------------------------------------------------
# Detector symmetries
# ---------------------------------------------------------------------------------------------


@pytest.mark.acts
def test_mirror_partners(symmetry) -> None:
    mirror = symmetry.mirror
    has = np.flatnonzero(mirror >= 0)
    assert len(has) > 0.5 * len(mirror)
    np.testing.assert_array_equal(mirror[mirror[has]], has)
    np.testing.assert_allclose(
        symmetry.centers[mirror[has]], symmetry.centers[has] * [1.0, 1.0, -1.0], atol=1e-6
    )
    assert np.all(symmetry.ring_size >= 1)


@pytest.mark.acts
def test_augmented_hits_lie_on_their_modules(tiny_events, symmetry, detector) -> None:
    """Copies made by the symmetries put every hit exactly on the plane of its new module."""
    from acts_gnn.graph.module_map.core import truth_triplets
    from acts_gnn.graph.truth import truth_graph

    surfaces = detector.surfaces()
    e = tiny_events[0]
    rows = truth_triplets(truth_graph(e, TruthSelection(min_hits=3)))
    ids = e.hits["geometry_id"]
    # exact (float64) positions on the modules, from the local measurement coordinates
    on_plane = surfaces.local_to_global(
        ids, e.hits["loc0"].astype(np.float64), e.hits["loc1"].astype(np.float64)
    )
    positions, modules = on_plane[rows], ids[rows]
    assert np.abs(surfaces.global_to_local(ids, on_plane)[:, 2]).max() < 1e-6
    for mirror_z, rotate_phi in ((True, False), (False, True), (True, True)):
        new_pos, new_mod = symmetry.augment(positions, modules, mirror_z, rotate_phi)
        assert len(new_mod) > (len(modules) if rotate_phi else len(modules) // 4)
        local = surfaces.global_to_local(new_mod.reshape(-1), new_pos.reshape(-1, 3))
        assert np.abs(local[:, 2]).max() < 1e-6
        # the copies are new module triplets or the same ones (never unknown modules)
        assert np.all(np.isin(new_mod, symmetry.geometry_ids))
    # mirroring only: every copy is an input triplet with z negated
    mirrored, _ = symmetry.augment(positions, modules, True, False)
    inputs = {tuple(p.ravel()) for p in positions}
    assert all(tuple((p * [1.0, 1.0, -1.0]).ravel()) in inputs for p in mirrored)


@pytest.mark.acts
def test_symmetric_map_contains_plain_map(tiny_map, tiny_map_symmetric) -> None:
    plain, augmented = tiny_map, tiny_map_symmetric
    assert augmented.n_triplets > plain.n_triplets
    index = {
        tuple(int(augmented.modules[i]) for i in row): t for t, row in enumerate(augmented.triplets)
    }
    for t, row in enumerate(plain.triplets):
        key = tuple(int(plain.modules[i]) for i in row)
        assert key in index
        u = index[key]
        assert augmented.occurrence[u] >= plain.occurrence[t]
        for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx"):
            mine, theirs = getattr(plain, name)[t], getattr(augmented, name)[u]
            assert np.all(theirs[..., 0] <= mine[..., 0])
            assert np.all(theirs[..., 1] >= mine[..., 1])


# ---------------------------------------------------------------------------------------------
# Edge metrics
# ---------------------------------------------------------------------------------------------


def test_edge_truth_mask_ignores_direction() -> None:
    edges = np.array([[0, 2, 5, 3], [1, 1, 4, 9]])
    truth = np.array([[1, 1, 4], [0, 2, 5]])
    np.testing.assert_array_equal(edge_truth_mask(edges, truth, 10), [True, True, True, False])


def test_edge_metrics_known_values() -> None:
    all_truth = np.array([[0, 1, 2, 4], [1, 2, 3, 5]])
    selected = all_truth[:, :3]  # the particle 4 -> 5 is not selected
    graph = np.array(
        [
            [1, 1, 5, 0, 3],  # (1,0) reversed truth, (1,2) truth, (5,4) reversed truth,
            [0, 2, 4, 3, 4],  # (0,3) and (3,4) fakes
        ]
    )
    m = EdgeMetrics()
    m.add(graph, selected, all_truth, 6, truth_pt=[0.5, 1.5, 2.5], truth_eta=[0.0, 1.0, -1.0])
    assert m.truth_found == 2
    assert m.truth_total == 3
    assert m.efficiency == pytest.approx(2 / 3)
    assert m.true_edges == 3
    assert m.purity == pytest.approx(3 / 5)
    # a second event: all found, one fake
    m.add(
        np.array([[0, 2, 1], [1, 1, 3]]),
        np.array([[0, 1], [1, 2]]),
        np.array([[0, 1], [1, 2]]),
        4,
        truth_pt=[0.5, 2.5],
        truth_eta=[0.5, 0.5],
    )
    assert m.efficiency == pytest.approx(4 / 5)
    assert m.purity == pytest.approx(5 / 8)
    s = m.summary()
    assert s["edge efficiency"] == pytest.approx(4 / 5)
    assert s["edges per event"] == pytest.approx(4.0)
    assert s["truth edges per event"] == pytest.approx(2.5)
    assert s["nodes per event"] == pytest.approx(5.0)
    assert s["edges per node"] == pytest.approx(8 / 10)
    # binned: pT values 0.5 (found, found), 1.5 (found), 2.5 (missed, found)
    bins, eff, err = m.binned("pt", [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(bins, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(eff[:3], [1.0, 1.0, 0.5])
    np.testing.assert_allclose(err[:3], [0.0, 0.0, math.sqrt(0.5 * 0.5 / 2)])
    assert math.isnan(eff[3])
    _, eff_eta, _ = m.binned("eta", [-2.0, 0.25, 2.0])
    # eta: -1 (missed), 0 (found) | 1 (found), 0.5 (found), 0.5 (found)
    np.testing.assert_allclose(eff_eta, [0.5, 1.0])


def test_edge_metrics_empty() -> None:
    m = EdgeMetrics()
    assert math.isnan(m.efficiency)
    assert math.isnan(m.purity)
    m.add(np.zeros((2, 0), np.int64), np.zeros((2, 0), np.int64), np.zeros((2, 0), np.int64), 0)
    assert math.isnan(m.efficiency)
    assert m.events == 1


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@pytest.mark.acts
def test_cli_build_and_evaluate(prepared_sample, tmp_path: Path, capsys) -> None:
    try:
        import acts_gnn.graph.module_map.formats  # noqa: F401
    except ImportError as err:
        pytest.skip(f"acts_gnn.graph.module_map.formats is not importable yet ({err})")
    from acts_gnn.cli import main

    out = tmp_path / "map.npz"
    rc = main(
        [
            "module-map",
            "build",
            "--input",
            str(prepared_sample.directory),
            "--output",
            str(out),
            "--format",
            "npz",
            "--min-pt",
            "0",
            "--no-rotate-phi",
            "--quiet",
        ]
    )
    built = capsys.readouterr().out
    assert rc == 0, built
    assert out.is_file()
    assert "ModuleMap(" in built
    mm = ModuleMap.load(out)
    assert mm.n_triplets > 0
    assert mm.metadata["symmetries"] == ["mirror_z"]

    rc = main(
        [
            "module-map",
            "evaluate",
            "--input",
            str(prepared_sample.directory),
            "--module-map",
            str(out),
            "--min-pt",
            "0",
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    lines = [line for line in printed.splitlines() if line.startswith("edge efficiency: ")]
    assert len(lines) == 1, printed
    efficiency = float(lines[0].split(":", 1)[1])
    assert 0.0 <= efficiency <= 1.0
    # built from these very events: every truth edge of particles with >= 3 hits is found
    assert efficiency == 1.0

    rc = main(
        [
            "module-map",
            "evaluate",
            "--input",
            str(prepared_sample.directory),
            "--module-map",
            str(tmp_path / "missing.npz"),
            "--quiet",
        ]
    )
    assert rc == 2
    assert "missing.npz" in capsys.readouterr().err


def test_merging_maps_of_event_subsets_equals_one_map_of_all_events():
    """Maps built from disjoint batches and merged are the map built from all batches."""
    from acts_gnn.graph.module_map.core import merge_module_maps

    rng = np.random.default_rng(5)
    ids = np.array([0x0800000200000100 + k for k in range(12)], dtype=np.uint64)
    batches = [(rng.choice(ids, size=(40, 3)), rng.normal(size=(40, 10))) for _ in range(3)]
    whole = ModuleMapBuilder()
    parts = []
    for keys, values in batches:
        whole.add(keys, values)
        part = ModuleMapBuilder()
        part.add(keys, values)
        parts.append(part.build({"events": 1}))
    merged = merge_module_maps(parts)
    assert merged.equals(whole.build())
    assert merged.metadata["events"] == 3
    assert merged.occurrence.sum() == 120

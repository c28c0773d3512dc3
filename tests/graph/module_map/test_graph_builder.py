"""The C++ module-map graph builder (``graph_builder.py``) against the pure-Python reference.

On hand-made events (fake module ids, several hits per module, a hit on an unknown module,
tracks crossing phi = +-pi, a track at x == 0) and on the shared tiny ACTS sample; also the
reference itself against the C++ kernels, and bad input.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from acts_gnn import _core
from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.builder import triplet_samples
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap, module_index
from acts_gnn.graph.module_map.rounding import round_outward
from acts_gnn.metrics.edges import EdgeMetrics
from tests.graph.module_map.random_maps import random_module_map
from tests.graph.module_map.reference import (
    check_against_reference,
    diff_dydx,
    doublet_quantities,
    edge_set,
    hit_coordinates,
    map_quantities,
    reference_doublet_cuts,
)
from tests.graph.module_map.synthetic import (
    UNKNOWN_MODULE,
    scaled_map,
    synthetic_event,
    synthetic_map,
    synthetic_training_triplets,
    widened_map,
)

# ---------------------------------------------------------------------------------------------
# The reference agrees with the map and with the C++ kernels
# ---------------------------------------------------------------------------------------------


def test_reference_doublet_cuts_match_the_map() -> None:
    mm = synthetic_map()
    union = reference_doublet_cuts(mm)
    assert len(union) == mm.n_doublets
    for d, (i1, i2) in enumerate(mm.doublets):
        np.testing.assert_array_equal(
            mm.doublet_cuts[d], union[int(mm.modules[i1]), int(mm.modules[i2])]
        )


def test_derived_doublets_match_the_reference_on_random_maps() -> None:
    """The C++ derivation (``_core.map_doublets``): every distinct leg once, sorted; each
    triplet pointing at its two legs; cuts the union of the legs' ranges, on maps with many
    shared legs and with triplets in any order."""
    for seed in (1, 2, 3):
        mm = random_module_map(seed)
        union = reference_doublet_cuts(mm)
        legs = [tuple(d) for d in mm.doublets.tolist()]
        assert legs == sorted(set(legs))
        assert len(legs) == len(union) == mm.n_doublets
        for t, (i1, i2, i3) in enumerate(mm.triplets.tolist()):
            assert legs[mm.triplet_doublets[t, 0]] == (i1, i2)
            assert legs[mm.triplet_doublets[t, 1]] == (i2, i3)
        for d, (i1, i2) in enumerate(legs):
            np.testing.assert_array_equal(
                mm.doublet_cuts[d], union[int(mm.modules[i1]), int(mm.modules[i2])]
            )
        shuffled = np.random.default_rng(seed).permutation(mm.n_triplets)
        doublets, triplet_doublets, cuts = _core.map_doublets(
            mm.triplets[shuffled],
            mm.cuts12[shuffled].reshape(-1, 8),
            mm.cuts23[shuffled].reshape(-1, 8),
        )
        np.testing.assert_array_equal(doublets, mm.doublets)
        np.testing.assert_array_equal(triplet_doublets, mm.triplet_doublets[shuffled])
        np.testing.assert_array_equal(cuts, mm.doublet_cuts)


def test_derived_doublets_of_no_triplets_and_bad_indices() -> None:
    empty = _core.map_doublets(np.zeros((0, 3), np.int32), np.zeros((0, 8)), np.zeros((0, 8)))
    assert [a.shape for a in empty] == [(0, 2), (0, 2), (0, 4, 2)]
    with pytest.raises(IndexError, match="triplets holds -1"):
        _core.map_doublets(np.array([[0, -1, 2]], np.int32), np.zeros((1, 8)), np.zeros((1, 8)))
    with pytest.raises(ValueError, match="cuts23"):
        _core.map_doublets(np.array([[0, 1, 2]], np.int32), np.zeros((1, 8)), np.zeros((2, 8)))


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
    coords = [hit_coordinates(*map(float, p)) for p in pos]
    for i, (s, d) in enumerate(zip(src, dst)):
        z0, dphi, phi_slope, deta, _, _ = doublet_quantities(coords[s], coords[d])
        assert core[i, cols["z0"]] == z0
        assert core[i, cols["dphi"]] == dphi
        assert core[i, cols["phi_slope"]] == phi_slope
        assert core[i, cols["deta"]] == deta
    third = rng.integers(0, 200, 500)
    trip = _core.triplet_features(x, y, z, src, dst, third)
    for i, (a, b, c) in enumerate(zip(src, dst, third)):
        qa, qb = doublet_quantities(coords[a], coords[b]), doublet_quantities(coords[b], coords[c])
        assert trip[i, 0] == qa[4] - qb[4]
        assert trip[i, 1] == diff_dydx(qa, qb)
    # the map's samples: leg quantities with the module-map deta sign, then the differences
    rows = np.stack([src, dst, third], axis=1)
    samples = triplet_samples(pos, rows)
    for i, (a, b, c) in enumerate(rows):
        qa, qb = doublet_quantities(coords[a], coords[b]), doublet_quantities(coords[b], coords[c])
        expected = (*map_quantities(qa), *map_quantities(qb), qa[4] - qb[4], diff_dydx(qa, qb))
        assert tuple(samples[i]) == expected


# ---------------------------------------------------------------------------------------------
# The C++ graph equals the reference
# ---------------------------------------------------------------------------------------------


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


def _float32_outward(mm: ModuleMap) -> ModuleMap:
    """``mm`` with every min rounded down and every max up to a float32 value (as a compact
    map holds them), kept in float64 arrays."""

    def rounded(ranges: np.ndarray) -> np.ndarray:
        out = ranges.copy()
        out[..., 0] = round_outward(ranges[..., 0], np.float32, up=False)
        out[..., 1] = round_outward(ranges[..., 1], np.float32, up=True)
        return out

    return ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        rounded(mm.cuts12),
        rounded(mm.cuts23),
        rounded(mm.diff_dzdr),
        rounded(mm.diff_dydx),
    )


def test_float32_ranges_give_the_reference_graph() -> None:
    """Ranges that are float32 values go to the core as float32 (half the memory) and give
    the float64 reference's graph, also where the training tracks sit on the boundaries."""
    exact = synthetic_map()
    assert ModuleMapGraphBuilder(exact).range_dtype == np.float64  # not float32 values
    mm = _float32_outward(exact)
    assert ModuleMapGraphBuilder(mm).range_dtype == np.float32
    _, _, training, training_modules = synthetic_training_triplets()
    for positions, modules in (synthetic_event(5), (training, training_modules)):
        graph = check_against_reference(mm, positions, modules)
        assert graph.edge_index.shape[1] > 20
    # and the core itself refuses mixed or converted range types instead of copying them
    builder = ModuleMapGraphBuilder(mm)
    positions, modules = synthetic_event(5)
    x, y, z = (np.ascontiguousarray(positions[:, k]) for k in range(3))
    hit_module = module_index(builder.modules, modules)
    arrays = dict(builder._arrays, cuts12=builder._arrays["cuts12"].astype(np.float64))
    with pytest.raises(TypeError, match="must all be C-contiguous float64 or all"):
        _core.module_map_graph(x, y, z, hit_module, **arrays)


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


def test_map_indices_are_checked_once() -> None:
    """The builder range-checks its map's indices on its first event only, on its own
    read-only copies; the core checks them whenever asked and gives the same graph without."""
    mm = synthetic_map()
    builder = ModuleMapGraphBuilder(mm)
    for name in ("doublet_modules", "triplet_doublets"):
        assert not builder._arrays[name].flags.writeable
        assert not np.shares_memory(builder._arrays[name], mm.doublets)
        assert not np.shares_memory(builder._arrays[name], mm.triplet_doublets)
    positions, modules = synthetic_event(5)
    assert not builder._map_checked
    first = builder(positions, modules)
    assert builder._map_checked
    again = builder(positions, modules)
    np.testing.assert_array_equal(first.edge_index, again.edge_index)
    x, y, z = (np.ascontiguousarray(positions[:, k]) for k in range(3))
    hit_module = module_index(builder.modules, modules)
    bad = dict(builder._arrays, triplet_doublets=builder._arrays["triplet_doublets"] + 10**6)
    with pytest.raises(IndexError, match="triplet_doublets holds"):
        _core.module_map_graph(x, y, z, hit_module, **bad)
    edges, _ = _core.module_map_graph(x, y, z, hit_module, check_map=False, **builder._arrays)
    np.testing.assert_array_equal(edges, first.edge_index)

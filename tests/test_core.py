"""The C++ kernels of ``acts_gnn._core`` against slow, obvious Python references.

The references are written from the definitions in cpp/geometry_kernels.hpp, one edge at a
time with the ``math`` module, so they share no code (and no vectorisation trick) with the
kernels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from acts_gnn import _core

# -- references ----------------------------------------------------------------------------


def wrap(dphi: float) -> float:
    """Wrap into [-pi, pi)."""
    while dphi >= math.pi:
        dphi -= 2 * math.pi
    while dphi < -math.pi:
        dphi += 2 * math.pi
    return dphi


def ratio(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def reference_doublets(x, y, z, src, dst) -> np.ndarray:
    rows = []
    for s, d in zip(src, dst):
        r1 = math.hypot(x[s], y[s])
        r2 = math.hypot(x[d], y[d])
        dr = r2 - r1
        dz = z[d] - z[s]
        dphi = wrap(math.atan2(y[d], x[d]) - math.atan2(y[s], x[s]))
        deta = math.asinh(z[d] / r2) - math.asinh(z[s] / r1)
        phi_slope = dphi / dr if dr != 0 else 0.0
        rphi_slope = (r1 + r2) / 2 * phi_slope
        z0 = z[s] - r1 * dz / dr if dr != 0 else z[s]
        rows.append((dr, dphi, dz, deta, phi_slope, rphi_slope, z0))
    return np.array(rows, dtype=np.float64).reshape(-1, 7)


def reference_triplets(x, y, z, a, b, c) -> np.ndarray:
    rows = []
    for i, j, k in zip(a, b, c):
        r_i, r_j, r_k = (math.hypot(x[n], y[n]) for n in (i, j, k))
        diff_dzdr = ratio(z[j] - z[i], r_j - r_i) - ratio(z[k] - z[j], r_k - r_j)
        # the ModuleMapGraph / acorn definition, sign included
        diff_dydx = -ratio(y[j] - y[i], x[j] - x[i]) - ratio(y[k] - y[j], x[k] - x[j])
        rows.append((diff_dzdr, diff_dydx))
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def random_hits(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hits in a tracker-like volume: r in [30, 1000] mm, |z| < 3000 mm, any phi."""
    r = rng.uniform(30.0, 1000.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    z = rng.uniform(-3000.0, 3000.0, n)
    return r * np.cos(phi), r * np.sin(phi), z


# -- doublets ------------------------------------------------------------------------------


def test_column_names():
    assert _core.DOUBLET_COLUMNS == ("dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope", "z0")
    assert _core.TRIPLET_COLUMNS == ("diff_dzdr", "diff_dydx")


def test_doublets_match_reference_on_random_hits():
    rng = np.random.default_rng(1)
    x, y, z = random_hits(rng, 500)
    src = rng.integers(0, 500, 3000)
    dst = rng.integers(0, 500, 3000)
    got = _core.doublet_features(x, y, z, src, dst)
    assert got.shape == (3000, 7)
    assert got.dtype == np.float64
    want = reference_doublets(x, y, z, src, dst)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # dphi is always inside [-pi, pi)
    assert np.all(got[:, 1] >= -np.pi)
    assert np.all(got[:, 1] < np.pi)
    # fewer doublets than hits take each hit's coordinates per doublet, more precompute them
    # per hit: bit for bit the same rows, with threads too
    for first in range(0, 3000, 400):
        part = _core.doublet_features(x, y, z, src[first : first + 400], dst[first : first + 400])
        np.testing.assert_array_equal(part, got[first : first + 400])
    np.testing.assert_array_equal(_core.doublet_features(x, y, z, src, dst, n_threads=2), got)
    # the GNN edge features: the first six columns rounded to float32, bit for bit
    edge = _core.edge_features(x, y, z, src, dst)
    assert edge.dtype == np.float32
    np.testing.assert_array_equal(edge, got[:, :6].astype(np.float32))
    np.testing.assert_array_equal(_core.edge_features(x, y, z, src[:10], dst[:10]), edge[:10])
    with pytest.raises(IndexError, match="dst"):
        _core.edge_features(x, y, z, src[:2], np.array([0, 500]))


def test_doublet_values_by_hand():
    # src at (r=100, phi=0, z=10), dst at (r=200, phi=0.1, z=30)
    x = np.array([100.0, 200.0 * math.cos(0.1)])
    y = np.array([0.0, 200.0 * math.sin(0.1)])
    z = np.array([10.0, 30.0])
    got = _core.doublet_features(x, y, z, [0], [1])[0]
    dr, dphi, dz, deta, phi_slope, rphi_slope, z0 = got
    assert dr == pytest.approx(100.0, abs=1e-9)
    assert dphi == pytest.approx(0.1, abs=1e-12)
    assert dz == pytest.approx(20.0)
    assert deta == pytest.approx(math.asinh(30 / 200) - math.asinh(10 / 100), abs=1e-12)
    assert phi_slope == pytest.approx(0.1 / 100.0)
    assert rphi_slope == pytest.approx(150.0 * 0.1 / 100.0)
    # straight line through (100, 10) and (200, 30) crosses r = 0 at z = -10
    assert z0 == pytest.approx(-10.0, abs=1e-9)


@pytest.mark.parametrize("reverse", [False, True])
def test_dphi_wraps_across_pi(reverse):
    # phi = +179 deg and -179 deg: the short way round is 2 deg, not 358 deg.
    a, b = math.radians(179.0), math.radians(-179.0)
    x = np.array([500 * math.cos(a), 600 * math.cos(b)])
    y = np.array([500 * math.sin(a), 600 * math.sin(b)])
    z = np.array([0.0, 0.0])
    src, dst = ([1], [0]) if reverse else ([0], [1])
    got = _core.doublet_features(x, y, z, src, dst)[0]
    expected = math.radians(-2.0) if reverse else math.radians(2.0)
    assert got[1] == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(got, reference_doublets(x, y, z, src, dst)[0], rtol=1e-12)


def test_dphi_of_exactly_pi_is_minus_pi():
    # [-pi, pi): a difference of exactly +pi is wrapped to -pi
    x = np.array([1.0, -1.0])
    y = np.array([0.0, 0.0])
    z = np.array([0.0, 0.0])
    got = _core.doublet_features(x, y, z, [0], [1])[0]
    assert got[1] == -math.pi
    assert _core.wrap_phi(math.pi) == -math.pi
    assert _core.wrap_phi(-math.pi) == -math.pi
    assert _core.wrap_phi(1.5 * math.pi) == pytest.approx(-0.5 * math.pi)
    assert _core.wrap_phi(-1.5 * math.pi) == pytest.approx(0.5 * math.pi)
    assert _core.wrap_phi(0.25) == pytest.approx(0.25)


def test_dr_zero_gives_zero_slopes_and_z0_of_source():
    # Hits at exactly the same radius: (x, y) and its mirror images.
    x = np.array([300.0, -300.0, 300.0, 120.0])
    y = np.array([40.0, -40.0, -40.0, 5.0])
    z = np.array([-7.0, 55.0, 12.0, 3.0])
    src = np.array([0, 0, 1, 3])
    dst = np.array([1, 2, 2, 3])  # the last one is a self-loop
    got = _core.doublet_features(x, y, z, src, dst)
    assert np.all(got[:, 0] == 0.0)  # dr
    assert np.all(got[:, 4] == 0.0)  # phi_slope
    assert np.all(got[:, 5] == 0.0)  # rphi_slope
    np.testing.assert_array_equal(got[:, 6], z[src])  # z0 = z_src
    np.testing.assert_allclose(got[:, 2], z[dst] - z[src])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, reference_doublets(x, y, z, src, dst), rtol=1e-12, atol=0)


def test_hit_on_beam_line_gives_finite_values():
    x = np.array([0.0, 100.0])
    y = np.array([0.0, 0.0])
    z = np.array([5.0, 50.0])
    got = _core.doublet_features(x, y, z, [0, 1], [1, 0])
    assert np.all(np.isfinite(got))
    # z0 of a doublet starting on the beam line is its z
    assert got[0, 6] == 5.0


def test_empty_edge_list():
    x, y, z = np.ones(3), np.ones(3), np.ones(3)
    empty = np.zeros(0, dtype=np.int64)
    assert _core.doublet_features(x, y, z, empty, empty).shape == (0, 7)
    assert _core.triplet_features(x, y, z, empty, empty, empty).shape == (0, 2)


def test_inputs_are_converted():
    # float32 coordinates, int32 indices and lists are cast (forcecast), results unchanged
    rng = np.random.default_rng(2)
    x, y, z = random_hits(rng, 50)
    x32, y32, z32 = (v.astype(np.float32) for v in (x, y, z))
    src = rng.integers(0, 50, 100)
    dst = rng.integers(0, 50, 100)
    got = _core.doublet_features(x32, y32, z32, src.astype(np.int32), list(dst))
    want = reference_doublets(*(v.astype(np.float64) for v in (x32, y32, z32)), src, dst)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # non-contiguous input
    xs, ys, zs = random_hits(rng, 100)
    got = _core.doublet_features(xs[::2], ys[::2], zs[::2], src, dst)
    want = reference_doublets(xs[::2], ys[::2], zs[::2], src, dst)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# -- triplets ------------------------------------------------------------------------------


def test_triplets_match_reference_on_random_hits():
    rng = np.random.default_rng(3)
    x, y, z = random_hits(rng, 400)
    a, b, c = (rng.integers(0, 400, 2000) for _ in range(3))
    got = _core.triplet_features(x, y, z, a, b, c)
    assert got.shape == (2000, 2)
    np.testing.assert_allclose(got, reference_triplets(x, y, z, a, b, c), rtol=1e-10, atol=1e-9)


def test_triplet_values_by_hand():
    # a straight line in 3D through the origin: dz/dr difference vanishes; diff_dydx follows
    # the ModuleMapGraph/acorn definition -dy/dx(12) - dy/dx(23), i.e. -2 * slope here
    t = np.array([100.0, 200.0, 350.0])
    x, y, z = 0.6 * t, 0.8 * t, 2.0 * t
    got = _core.triplet_features(x, y, z, [0], [1], [2])[0]
    assert got[0] == pytest.approx(0.0, abs=1e-12)
    assert got[1] == pytest.approx(-2 * 0.8 / 0.6)
    # a kink: dz/dr 1 then 3, dy/dx 0 then 1
    x = np.array([100.0, 200.0, 300.0])
    y = np.array([0.0, 0.0, 100.0])
    z = np.array([0.0, 100.0, 0.0])
    r = np.hypot(x, y)
    got = _core.triplet_features(x, y, z, [0], [1], [2])[0]
    assert got[0] == pytest.approx(100 / 100 - (-100) / (r[2] - r[1]))
    assert got[1] == pytest.approx(-0.0 - 1.0)


def test_triplet_zero_denominators_count_as_zero():
    # b and a share x and r (dx_ab = 0, dr_ab = 0); c differs
    x = np.array([100.0, 100.0, 200.0])
    y = np.array([50.0, -50.0, 10.0])
    z = np.array([0.0, 20.0, 70.0])
    got = _core.triplet_features(x, y, z, [0], [1], [2])[0]
    r = np.hypot(x, y)
    assert np.all(np.isfinite(got))
    assert got[0] == pytest.approx(0.0 - (70.0 - 20.0) / (r[2] - r[1]))
    assert got[1] == pytest.approx(0.0 - (10.0 - (-50.0)) / (200.0 - 100.0))
    # all three hits identical: every ratio is 0
    same = _core.triplet_features(x, y, z, [1], [1], [1])[0]
    np.testing.assert_array_equal(same, [0.0, 0.0])
    np.testing.assert_allclose(
        got, reference_triplets(x, y, z, [0], [1], [2])[0], rtol=1e-12, atol=0
    )


# -- threads -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_threads", [2, 4, 0, 64])
def test_multithreaded_equals_single_threaded(n_threads):
    rng = np.random.default_rng(4)
    n_hits, n_edges = 20_000, 200_003  # > 100k edges, not a multiple of the chunk size
    x, y, z = random_hits(rng, n_hits)
    src = rng.integers(0, n_hits, n_edges)
    dst = rng.integers(0, n_hits, n_edges)
    single = _core.doublet_features(x, y, z, src, dst, n_threads=1)
    multi = _core.doublet_features(x, y, z, src, dst, n_threads=n_threads)
    np.testing.assert_array_equal(multi, single)
    # every row was written (a skipped chunk would leave uninitialised memory)
    some = rng.integers(0, n_edges, 300)
    some = np.concatenate([some, [0, n_edges - 1]])
    np.testing.assert_allclose(
        multi[some], reference_doublets(x, y, z, src[some], dst[some]), rtol=1e-12, atol=1e-12
    )

    c = rng.integers(0, n_hits, n_edges)
    single_t = _core.triplet_features(x, y, z, src, dst, c, n_threads=1)
    multi_t = _core.triplet_features(x, y, z, src, dst, c, n_threads=n_threads)
    np.testing.assert_array_equal(multi_t, single_t)
    np.testing.assert_allclose(
        multi_t[some],
        reference_triplets(x, y, z, src[some], dst[some], c[some]),
        rtol=1e-9,
        atol=1e-9,
    )


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, 100, -1])
def test_out_of_range_index_raises_index_error(bad):
    x, y, z = np.zeros(3), np.ones(3), np.arange(3.0)
    with pytest.raises(IndexError, match="src"):
        _core.doublet_features(x, y, z, [0, bad], [1, 2])
    with pytest.raises(IndexError, match="dst"):
        _core.doublet_features(x, y, z, [0, 1], [1, bad])
    with pytest.raises(IndexError, match="c"):
        _core.triplet_features(x, y, z, [0], [1], [bad])
    with pytest.raises(IndexError):
        _core.triplet_features(x, y, z, [bad], [1], [2])


def test_mismatched_lengths_raise_value_error():
    x, y, z = np.zeros(3), np.ones(3), np.arange(3.0)
    with pytest.raises(ValueError, match="length"):
        _core.doublet_features(x, y, z, [0, 1], [1])
    with pytest.raises(ValueError, match="length"):
        _core.doublet_features(x, y[:2], z, [0], [1])
    with pytest.raises(ValueError, match="length"):
        _core.triplet_features(x, y, z, [0, 1], [1, 2], [2])
    with pytest.raises(ValueError, match="length"):
        _core.triplet_features(x, y, z[:1], [0], [0], [0])


def test_wrong_dimensions_raise_value_error():
    x = np.zeros((3, 1))
    with pytest.raises(ValueError, match="1-D"):
        _core.doublet_features(x, x, x, [0], [0])
    with pytest.raises(ValueError, match="1-D"):
        _core.doublet_features(np.zeros(3), np.zeros(3), np.zeros(3), [[0]], [[0]])

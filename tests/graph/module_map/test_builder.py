"""ModuleMapBuilder (``builder.py``): order independence, counts and ranges, bad samples, merging maps."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.builder import ModuleMapBuilder, TripletRows, merge_rows, rows_to_map
from tests.graph.module_map.synthetic import repeated_triplets, triplet_table


def test_builder_is_independent_of_row_order_and_batches() -> None:
    ids, samples, _ = repeated_triplets()
    one_batch = ModuleMapBuilder()
    one_batch.add(ids, samples)
    reference = one_batch.build()
    rng = np.random.default_rng(3)
    for batch in (1, 5, 7):
        order = rng.permutation(len(ids))
        builder = ModuleMapBuilder()
        for start in range(0, len(ids), batch):
            rows = order[start : start + batch]
            builder.add(ids[rows], samples[rows])
        assert reference.equals(builder.build())
    assert reference.metadata["samples"] == len(ids)


def test_builder_keeps_signed_zeros_whatever_the_order() -> None:
    """Of two equal zeros the min is -0.0 and the max +0.0, in either order, so merged
    chunk maps are bit for bit the map built at once."""
    ids = np.array([[1, 2, 3], [1, 2, 3]], dtype=np.uint64)
    zeros = np.zeros((2, 10))
    zeros[0] = -0.0
    for rows in ([0, 1], [1, 0]):
        builder = ModuleMapBuilder()
        builder.add(ids[rows], zeros[rows])
        mm = builder.build()
        assert np.signbit(mm.cuts12[0, :, 0]).all()
        assert not np.signbit(mm.cuts12[0, :, 1]).any()
        assert np.signbit(mm.diff_dydx[0, 0])
        assert not np.signbit(mm.diff_dydx[0, 1])


def test_builder_many_triplets_against_numpy() -> None:
    """Enough distinct triplets to grow the hash table several times: counts and ranges
    equal a numpy group-by."""
    rng = np.random.default_rng(11)
    modules = rng.choice(2**60, size=200, replace=False).astype(np.uint64)
    ids = modules[rng.integers(0, 200, size=(300_000, 3))]
    samples = rng.normal(size=(300_000, 10))
    builder = ModuleMapBuilder()
    for start in range(0, len(ids), 70_000):
        builder.add(ids[start : start + 70_000], samples[start : start + 70_000])
    mm = builder.build()
    keys, inverse, counts = np.unique(ids, axis=0, return_inverse=True, return_counts=True)
    lo = np.full((len(keys), 10), np.inf)
    np.minimum.at(lo, inverse.ravel(), samples)
    hi = np.full((len(keys), 10), -np.inf)
    np.maximum.at(hi, inverse.ravel(), samples)
    assert mm.n_triplets == len(keys) > 1 << 17
    np.testing.assert_array_equal(mm.modules[mm.triplets], keys)
    np.testing.assert_array_equal(mm.occurrence, counts)
    np.testing.assert_array_equal(mm.cuts12[:, :, 0], lo[:, 0:4])
    np.testing.assert_array_equal(mm.cuts23[:, :, 1], hi[:, 4:8])
    np.testing.assert_array_equal(mm.diff_dzdr, np.stack([lo[:, 8], hi[:, 8]], axis=1))


def _random_rows(seed: int, n: int, modules: np.ndarray) -> TripletRows:
    rng = np.random.default_rng(seed)
    builder = ModuleMapBuilder()
    samples = rng.normal(size=(n, 10))
    samples[rng.random(size=samples.shape) < 0.05] = 0.0
    samples[rng.random(size=samples.shape) < 0.05] = -0.0
    builder.add(modules[rng.integers(0, len(modules), size=(n, 3))], samples)
    return builder.rows()


def test_rows_are_sorted_and_merge_like_one_builder() -> None:
    """``rows()`` come sorted by module ids; ``merge_rows`` of two builders' rows (shared and
    own module triplets, signed zeros) is bit for bit the rows of one builder fed both, in
    either order, and its map is that builder's map."""
    modules = np.random.default_rng(0).choice(2**62, size=40, replace=False).astype(np.uint64)
    modules[0] = np.uint64(2**64 - 1)  # above 2^63: the order is unsigned
    a, b = _random_rows(1, 20_000, modules), _random_rows(2, 5_000, modules[:25])
    assert [tuple(r) for r in a.module_ids.tolist()] == sorted(
        tuple(r) for r in a.module_ids.tolist()
    )
    both = ModuleMapBuilder()
    both.add_rows(a)
    both.add_rows(b)
    expected = both.rows()
    for merged in (merge_rows(a, b), merge_rows(b, a)):
        for got, want in zip(merged, expected, strict=True):
            assert got.dtype == want.dtype
            assert got.tobytes() == want.tobytes()
    assert rows_to_map(merge_rows(a, b)).equals(both.build())
    empty = ModuleMapBuilder().rows()
    assert all(x.tobytes() == y.tobytes() for x, y in zip(merge_rows(a, empty), a, strict=True))


def test_merge_rows_refuses_unsorted_or_repeated_rows() -> None:
    modules = np.arange(1, 30, dtype=np.uint64)
    a = _random_rows(3, 2_000, modules)
    backwards = TripletRows(*(x[::-1] for x in a))
    with pytest.raises(ValueError, match="first rows: rows are not sorted"):
        merge_rows(backwards, a)
    twice = TripletRows(*(np.concatenate([x[:1], x]) for x in a))
    with pytest.raises(ValueError, match=r"second rows: .*appears twice"):
        merge_rows(a, twice)


def test_rows_to_map_sorts_rows_in_any_order() -> None:
    modules = np.arange(1, 30, dtype=np.uint64)
    rows = _random_rows(4, 3_000, modules)
    order = np.random.default_rng(5).permutation(len(rows.counts))
    assert rows_to_map(TripletRows(*(x[order] for x in rows))).equals(rows_to_map(rows))


def test_builder_counts_and_ranges() -> None:
    ids, samples, counts = repeated_triplets()
    builder = ModuleMapBuilder()
    builder.add(ids, samples)
    mm = builder.build()
    assert mm.n_triplets == len(counts)
    assert int(mm.occurrence.sum()) == len(ids)
    table = triplet_table(mm)
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


def test_builder_rejects_bad_samples() -> None:
    ids, samples, _ = repeated_triplets()
    builder = ModuleMapBuilder()
    bad = samples[:3].copy()
    bad[1, 2] = np.nan
    with pytest.raises(InputDataError):
        builder.add(ids[:3], bad)
    with pytest.raises(ValueError, match="length"):
        builder.add(ids[:3], samples[:2])


def test_merging_maps_of_event_subsets_equals_one_map_of_all_events():
    """Maps built from disjoint batches and merged are the map built from all batches."""
    from acts_gnn.graph.module_map.builder import merge_module_maps

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

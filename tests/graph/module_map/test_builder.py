"""ModuleMapBuilder (``builder.py``): flushing, counts and ranges, bad samples, merging maps."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.builder import ModuleMapBuilder
from tests.graph.module_map.synthetic import repeated_triplets, triplet_table


def test_builder_flush_gives_identical_map() -> None:
    ids, samples, _ = repeated_triplets()
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


def test_builder_counts_and_ranges() -> None:
    ids, samples, counts = repeated_triplets()
    builder = ModuleMapBuilder(flush_rows=7)
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

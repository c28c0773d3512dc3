"""Hits and module-map connectivity of the geometry validation (acts_gnn.evaluation.geometry_maps).

On the toy detector, hit table and module map of :mod:`geometry_toys`.
"""

from __future__ import annotations

import numpy as np

from acts_gnn.evaluation.geometry_maps import module_coverage, module_map_connectivity
from tests.evaluation.geometry_toys import MODULES, gid, tiny_hits, tiny_map


# -- module map -----------------------------------------------------------------------------
def test_connectivity_of_a_tiny_map():
    conn = module_map_connectivity(tiny_map(), layers=[(3, 2)])
    assert conn.layers == [(1, 2), (1, 4), (2, 2), (3, 2)]
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 1] = 2  # (1:2 s, 1:4 s) for s = 1, 2
    expected[1, 2] = 4  # (1:4 s, 2:2 s2)
    np.testing.assert_array_equal(conn.doublets, expected)
    assert conn.triplets[0, 1] == 4
    assert conn.triplets[1, 2] == 4
    assert conn.layer_triplets == {((1, 2), (1, 4), (2, 2)): 4}
    assert conn.pair_lines()[1].split() == ["1:2", "1:4", "2", "4"]
    assert conn.triplet_lines()[1].split() == ["1:2", "1:4", "2:2", "4"]


def test_module_coverage_counts_missing_modules_and_their_hits():
    hits = tiny_hits()
    extra = np.array([gid(2, 2, 3)] * 5, dtype=np.uint64)  # 5 hits on an unmapped module
    cov = module_coverage(MODULES, tiny_map(), np.concatenate([hits["geometry_id"], extra]))
    assert [(v.volume, v.n_modules, v.n_in_map, v.n_missing) for v in cov.volumes] == [
        (1, 6, 4, 2),
        (2, 3, 2, 1),
    ]
    assert [(v.hits, v.hits_on_missing) for v in cov.volumes] == [(8, 0), (9, 5)]
    assert len(cov.missing_ids) == 3
    assert len(cov.foreign_ids) == 0
    # a map of another geometry: its modules are not detector modules
    cov = module_coverage(MODULES[:6], tiny_map())
    assert len(cov.foreign_ids) == 3
    assert "PROBLEM" in cov.lines()[-1]

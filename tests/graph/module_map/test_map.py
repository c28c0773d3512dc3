"""The ModuleMap container (``map.py``): pruning, the exact npz format, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.builder import ModuleMapBuilder
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from tests.graph.module_map.reference import check_against_reference
from tests.graph.module_map.synthetic import (
    repeated_triplets,
    synthetic_event,
    synthetic_map,
    triplet_table,
)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_pruned_removes_exactly_rare_triplets(k: int) -> None:
    ids, samples, counts = repeated_triplets()
    builder = ModuleMapBuilder()
    builder.add(ids, samples)
    mm = builder.build()
    pruned = mm.pruned(k)
    full, kept = triplet_table(mm), triplet_table(pruned)
    assert kept == {key: v for key, v in full.items() if v[0] >= k}
    assert pruned.n_triplets == sum(1 for c in counts.values() if c >= k)
    # no module left without a triplet
    assert set(np.unique(pruned.triplets)) == set(range(pruned.n_modules))
    assert pruned.metadata["min_occurrence"] == k
    # pruning the map leaves the graph of the surviving triplets: compare with the reference
    positions, modules = synthetic_event(7)
    check_against_reference(pruned, positions, modules)


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

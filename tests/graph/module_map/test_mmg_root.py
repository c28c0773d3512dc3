"""The ModuleMapGraph ROOT pair (``mmg_root.py``): round trips (float32, rounded outwards), the
file layout, extra doublets, bad input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.mmg_root import (
    MMG_DOUBLET_BRANCHES,
    MMG_DOUBLET_TREE,
    MMG_TRIPLET_BRANCHES,
    MMG_TRIPLET_TREE,
    mmg_paths,
    read_mmg_root,
    write_mmg_root,
)
from tests.graph.module_map.random_maps import assert_no_partial_files, random_module_map

# ---------------------------------------------------------------------------------------------
# Round trips and layout
# ---------------------------------------------------------------------------------------------


def test_mmg_round_trip_exact_for_float32_values(tmp_path: Path) -> None:
    mm = random_module_map(float32_values=True)
    paths = write_mmg_root(mm, tmp_path / "MMtriplet")
    assert paths.doublets.name == "MMtriplet.doublets.root"
    assert paths.triplets.name == "MMtriplet.triplets.root"
    back = read_mmg_root(tmp_path / "MMtriplet")
    assert back.equals(mm)
    assert np.array_equal(back.doublet_cuts, mm.doublet_cuts)
    assert back.metadata["mmg_doublets"] == mm.n_doublets
    assert back.metadata["mmg_doublets_missing"] == 0
    assert back.metadata["mmg_doublet_cuts_differ"] == 0
    assert back.metadata["mmg_doublets_unused"] == 0
    assert_no_partial_files(tmp_path)


def test_mmg_round_trip_is_conservative_for_float64_values(
    module_map: ModuleMap, tmp_path: Path
) -> None:
    """float32 storage widens each range by less than one float32 step, never narrows it."""
    back = read_mmg_root(write_mmg_root(module_map, tmp_path / "mm").triplets)
    assert not back.equals(module_map)  # random float64 values are not float32 numbers
    assert np.array_equal(back.modules, module_map.modules)
    assert np.array_equal(back.triplets, module_map.triplets)
    assert np.array_equal(back.occurrence, module_map.occurrence)
    for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx", "doublet_cuts"):
        got, orig = getattr(back, name), getattr(module_map, name)
        assert np.all(got[..., 0] <= orig[..., 0]), name
        assert np.all(got[..., 1] >= orig[..., 1]), name
        assert np.array_equal(got, got.astype(np.float32)), name
        for k, toward in ((0, -np.inf), (1, np.inf)):
            # the stored bound is the closest float32 on the safe side
            step = np.nextafter(got[..., k].astype(np.float32), np.float32(-toward))
            still_safe = step <= orig[..., k] if k == 0 else step >= orig[..., k]
            assert not np.any(still_safe), name
    # a second round trip changes nothing
    again = read_mmg_root(write_mmg_root(back, tmp_path / "again").triplets)
    assert again.equals(back)


def test_mmg_out_of_float32_range_values_stay_conservative(tmp_path: Path) -> None:
    mm = random_module_map(seed=5)
    mm.cuts23[0, 0] = [-1e300, 1e300]
    mm.cuts23[1, 0] = [1e300, 2e300]
    mm = ModuleMap(
        mm.modules, mm.triplets, mm.occurrence, mm.cuts12, mm.cuts23, mm.diff_dzdr, mm.diff_dydx
    )
    back = read_mmg_root(write_mmg_root(mm, tmp_path / "big").triplets)
    assert back.cuts23[0, 0].tolist() == [-np.inf, np.inf]
    f32max = float(np.finfo(np.float32).max)
    assert back.cuts23[1, 0].tolist() == [f32max, np.inf]


def test_mmg_file_layout(module_map: ModuleMap, tmp_path: Path) -> None:
    paths = write_mmg_root(module_map, tmp_path / "mm")
    with uproot.open(paths.triplets) as f:
        tree = f[MMG_TRIPLET_TREE]
        assert list(tree.keys()) == list(MMG_TRIPLET_BRANCHES)
        assert tree.num_entries == module_map.n_triplets
        dtypes = {b: np.dtype(tree[b].interpretation.to_dtype) for b in MMG_TRIPLET_BRANCHES}
        data = tree.arrays(library="np")
    assert {dtypes[b] for b in ("Module1", "Module2", "Module3")} == {np.dtype(np.uint64)}
    assert dtypes["Occurence"] == np.dtype(np.uint32)
    assert {dtypes[b] for b in MMG_TRIPLET_BRANCHES[4:]} == {np.dtype(np.float32)}
    ids = module_map.modules[module_map.triplets]
    assert np.array_equal(data["Module1"], ids[:, 0])
    assert np.array_equal(data["Module3"], ids[:, 2])
    assert np.array_equal(data["Occurence"], module_map.occurrence)
    assert np.all(data["z0min_12"] <= module_map.cuts12[:, 0, 0])
    assert np.all(data["dphimax_23"] >= module_map.cuts23[:, 1, 1])
    assert np.all(data["diff_dydx_min"] <= module_map.diff_dydx[:, 0])
    assert np.all(data["detamin_12"] <= module_map.cuts12[:, 3, 0])
    assert np.all(data["detamax_12"] >= module_map.cuts12[:, 3, 1])

    with uproot.open(paths.doublets) as f:
        tree = f[MMG_DOUBLET_TREE]
        assert list(tree.keys()) == list(MMG_DOUBLET_BRANCHES)
        assert tree.num_entries == module_map.n_doublets
        data = tree.arrays(library="np")
    dids = module_map.modules[module_map.doublets]
    assert np.array_equal(data["Module1"], dids[:, 0])
    assert np.array_equal(data["Module2"], dids[:, 1])
    assert np.all(data["phiSlopemin_12"] <= module_map.doublet_cuts[:, 2, 0])
    assert np.all(data["phiSlopemax_12"] >= module_map.doublet_cuts[:, 2, 1])


def test_mmg_extra_doublets_are_ignored(tmp_path: Path) -> None:
    """MMG's cycle removal deletes triplets but keeps their doublets: still readable."""
    mm = random_module_map(float32_values=True)
    write_mmg_root(mm, tmp_path / "full")
    smaller = ModuleMap(
        mm.modules,
        mm.triplets[:100],
        mm.occurrence[:100],
        mm.cuts12[:100],
        mm.cuts23[:100],
        mm.diff_dzdr[:100],
        mm.diff_dydx[:100],
    )
    paths = write_mmg_root(smaller, tmp_path / "small")
    paths.doublets.unlink()
    (tmp_path / "full.doublets.root").rename(paths.doublets)
    # as MMG writes it: no acts-gnn pair token in the title (ours would say "another map")
    rewrite_tree(paths.doublets, MMG_DOUBLET_TREE, read_columns(paths.doublets, MMG_DOUBLET_TREE))
    back = read_mmg_root(paths.triplets)
    expected = smaller.pruned(0)  # drops the modules no kept triplet uses
    assert back.equals(expected)
    assert back.metadata["mmg_doublets_unused"] == mm.n_doublets - smaller.n_doublets
    assert back.metadata["mmg_doublets_missing"] == 0


def test_mmg_occurrence_must_fit_uint32(tmp_path: Path) -> None:
    mm = random_module_map()
    mm.occurrence[3] = 2**32
    with pytest.raises(ValueError, match="occurrence"):
        write_mmg_root(mm, tmp_path / "mm")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def test_mmg_missing_doublet_file(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    paths.doublets.unlink()
    with pytest.raises(InputDataError, match="does not exist") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.file == str(paths.doublets)


def test_not_a_root_file(tmp_path: Path) -> None:
    paths = mmg_paths(tmp_path / "mm")
    paths.triplets.write_text("hello")
    paths.doublets.write_text("hello")
    with pytest.raises(InputDataError, match="not a readable ROOT file"):
        read_mmg_root(tmp_path / "mm")


def rewrite_tree(path: Path, tree: str, columns: dict[str, np.ndarray]) -> None:
    path.unlink()
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: v.dtype for k, v in columns.items()})
        f[tree].extend(columns)


def read_columns(path: Path, tree: str) -> dict[str, np.ndarray]:
    with uproot.open(path) as f:
        return f[tree].arrays(library="np")


def test_mmg_unknown_tree(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    columns = read_columns(paths.triplets, MMG_TRIPLET_TREE)
    rewrite_tree(paths.triplets, "ModuleMap", columns)
    with pytest.raises(InputDataError, match="no tree 'TreeModuleTriplet'") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.field == MMG_TRIPLET_TREE
    assert err.value.file == str(paths.triplets)


@pytest.mark.parametrize("branch", ["Module2", "Occurence", "detamax_23", "diff_dzdr_min"])
def test_mmg_missing_branch(branch: str, tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    columns = read_columns(paths.triplets, MMG_TRIPLET_TREE)
    del columns[branch]
    rewrite_tree(paths.triplets, MMG_TRIPLET_TREE, columns)
    with pytest.raises(InputDataError, match="missing branch") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.field == branch


def test_mmg_wrong_branch_type(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    columns = read_columns(paths.doublets, MMG_DOUBLET_TREE)
    columns["Module1"] = columns["Module1"].astype(np.float64)
    rewrite_tree(paths.doublets, MMG_DOUBLET_TREE, columns)
    with pytest.raises(InputDataError, match="expected an integer") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.field == "Module1"
    assert err.value.file == str(paths.doublets)


@pytest.mark.parametrize(("tree", "branch"), [("triplets", "dphimin_12"), ("doublets", "z0max_12")])
def test_mmg_nan(tree: str, branch: str, tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    path = paths.triplets if tree == "triplets" else paths.doublets
    name = MMG_TRIPLET_TREE if tree == "triplets" else MMG_DOUBLET_TREE
    columns = read_columns(path, name)
    columns[branch][9] = np.nan
    rewrite_tree(path, name, columns)
    with pytest.raises(InputDataError, match="NaN value at entry 9") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.field == branch
    assert err.value.file == str(path)


def test_mmg_reads_double_and_signed_branches(tmp_path: Path) -> None:
    """A map written with T = double and signed 64-bit ids (another MMG build) reads the same."""
    mm = random_module_map(float32_values=True, id_above_2_63=False)
    paths = write_mmg_root(mm, tmp_path / "mm")
    for path, tree in ((paths.triplets, MMG_TRIPLET_TREE), (paths.doublets, MMG_DOUBLET_TREE)):
        columns = read_columns(path, tree)
        columns = {
            k: v.astype(np.float64 if v.dtype.kind == "f" else np.int64) for k, v in columns.items()
        }
        rewrite_tree(path, tree, columns)
    assert read_mmg_root(tmp_path / "mm").equals(mm)


def test_mmg_negative_module_id(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(id_above_2_63=False), tmp_path / "mm")
    columns = read_columns(paths.triplets, MMG_TRIPLET_TREE)
    columns = {k: v.astype(np.int64) if k.startswith("Module") else v for k, v in columns.items()}
    columns["Module3"][4] = -1
    rewrite_tree(paths.triplets, MMG_TRIPLET_TREE, columns)
    with pytest.raises(InputDataError, match="negative value at entry 4") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.field == "Module3"

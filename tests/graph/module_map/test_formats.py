"""The format dispatchers (``formats.py``): by suffix and prefix, unknown formats, overwriting,
missing files, and every writer on empty and NaN maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.acorn import read_acorn, write_acorn
from acts_gnn.graph.module_map.formats import detect_format, load_module_map, save_module_map
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.mmg_root import mmg_paths, read_mmg_root, write_mmg_root
from tests.graph.module_map.random_maps import assert_no_partial_files, random_module_map


def test_empty_map_round_trips(tmp_path: Path) -> None:
    empty = random_module_map().pruned(10**9)
    assert empty.n_triplets == 0
    assert read_acorn(write_acorn(empty, tmp_path / "e.txt")).equals(empty)
    assert read_mmg_root(write_mmg_root(empty, tmp_path / "e").triplets).equals(empty)


@pytest.mark.parametrize(
    ("name", "fmt", "written"),
    [
        ("map.npz", "npz", ["map.npz"]),
        ("map.txt", "acorn", ["map.txt"]),
        ("map.csv", "acorn", ["map.csv"]),
        ("map.triplets.root", "root", ["map.doublets.root", "map.triplets.root"]),
        ("map.root", "root", ["map.doublets.root", "map.triplets.root"]),
    ],
)
def test_dispatch_by_suffix(name: str, fmt: str, written: list[str], tmp_path: Path) -> None:
    mm = random_module_map(float32_values=True)
    paths = save_module_map(mm, tmp_path / name)
    assert sorted(p.name for p in paths) == written
    assert detect_format(tmp_path / name) == fmt
    assert load_module_map(tmp_path / name).equals(mm)
    assert load_module_map(tmp_path / name, format=fmt).equals(mm)
    assert_no_partial_files(tmp_path)


def test_dispatch_prefixes(tmp_path: Path) -> None:
    mm = random_module_map(float32_values=True)
    paths = save_module_map(mm, tmp_path / "mmg", "root")
    assert paths == tuple(mmg_paths(tmp_path / "mmg"))
    assert detect_format(tmp_path / "mmg") == "root"
    assert load_module_map(tmp_path / "mmg").equals(mm)
    assert load_module_map(str(tmp_path / "mmg.doublets.root")).equals(mm)

    (npz,) = save_module_map(mm, tmp_path / "ours", "npz")
    assert npz.name == "ours.npz"
    assert detect_format(tmp_path / "ours") == "npz"
    assert load_module_map(tmp_path / "ours").equals(mm)

    (txt,) = save_module_map(mm, tmp_path / "plain", "acorn")
    assert txt.name == "plain"
    assert load_module_map(txt, format="acorn").equals(mm)
    with pytest.raises(InputDataError, match="cannot tell"):
        load_module_map(txt)


def test_dispatch_rejects_unknown_formats(module_map: ModuleMap, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown module-map format"):
        save_module_map(module_map, tmp_path / "m.txt", "csv")
    with pytest.raises(ValueError, match="cannot tell"):
        save_module_map(module_map, tmp_path / "m.dat")
    with pytest.raises(ValueError, match="unknown module-map format"):
        load_module_map(tmp_path / "m.txt", "parquet")


def test_overwrite_replaces_the_old_file(tmp_path: Path) -> None:
    first, second = random_module_map(seed=1), random_module_map(seed=2)
    save_module_map(first, tmp_path / "m.txt")
    save_module_map(second, tmp_path / "m.txt")
    assert load_module_map(tmp_path / "m.txt").equals(second)


@pytest.mark.parametrize("fmt", [None, "npz", "acorn", "root"])
def test_missing_files(fmt: str | None, tmp_path: Path) -> None:
    with pytest.raises(InputDataError) as err:
        load_module_map(tmp_path / "nothing.txt" if fmt == "acorn" else tmp_path / "nothing", fmt)
    assert "nothing" in str(err.value)


def test_writers_refuse_nan_maps(tmp_path: Path) -> None:
    mm = random_module_map()
    mm.cuts12[0, 1, 0] = np.nan
    for fmt in ("acorn", "root"):
        with pytest.raises(ValueError, match="NaN in cuts12"):
            save_module_map(mm, tmp_path / "m", fmt)
    assert not list(tmp_path.iterdir())

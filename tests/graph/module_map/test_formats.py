"""Module-map files: acorn text and ModuleMapGraph ROOT round trips, dispatchers, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.core import COMPACT_ENCODING, ModuleMap, round_outward
from acts_gnn.graph.module_map.formats import (
    ACORN_COLUMNS,
    MMG_DOUBLET_BRANCHES,
    MMG_DOUBLET_TREE,
    MMG_TRIPLET_BRANCHES,
    MMG_TRIPLET_TREE,
    detect_format,
    load_module_map,
    mmg_paths,
    read_acorn,
    read_mmg_root,
    save_module_map,
    write_acorn,
    write_mmg_root,
)

N_MODULES = 50
N_TRIPLETS = 200


def random_module_map(
    seed: int = 7, float32_values: bool = False, id_above_2_63: bool = True
) -> ModuleMap:
    """50 modules with geometry-id-like uint64 ids, 200 sorted unique triplets, min <= max."""
    rng = np.random.default_rng(seed)
    base = np.uint64(0x0800000200000100)
    ids = base + rng.choice(1 << 20, size=N_MODULES - 1, replace=False).astype(np.uint64) * 0x100
    extra = 0xF0000000000000FF if id_above_2_63 else 0x0100000000000001  # ids are unsigned
    ids = np.append(ids, np.uint64(extra))
    modules = np.unique(ids)
    assert len(modules) == N_MODULES
    keys = set()
    while len(keys) < N_TRIPLETS:
        keys.add(tuple(int(k) for k in rng.choice(N_MODULES, size=3, replace=False)))
    triplets = np.array(sorted(keys), dtype=np.int32)

    def ranges(*shape: int) -> np.ndarray:
        scale = rng.choice([1e-4, 1e-2, 1.0, 1e3], size=shape)
        a = rng.normal(size=shape) * scale
        b = a + rng.exponential(size=shape) * scale
        lo_hi = np.stack([a, b], axis=-1)
        return lo_hi.astype(np.float32).astype(np.float64) if float32_values else lo_hi

    return ModuleMap(
        modules,
        triplets,
        rng.integers(1, 5000, size=N_TRIPLETS),
        ranges(N_TRIPLETS, 4),
        ranges(N_TRIPLETS, 4),
        ranges(N_TRIPLETS),
        ranges(N_TRIPLETS),
        {"seed": seed},
    )


@pytest.fixture
def module_map() -> ModuleMap:
    return random_module_map()


def assert_no_partial_files(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".partial")]


# ---------------------------------------------------------------------------------------------
# acorn text
# ---------------------------------------------------------------------------------------------


def test_acorn_round_trip_is_exact(module_map: ModuleMap, tmp_path: Path) -> None:
    path = write_acorn(module_map, tmp_path / "map.txt")
    back = read_acorn(path)
    assert back.equals(module_map)
    assert back.n_doublets == module_map.n_doublets
    assert np.array_equal(back.doublet_cuts, module_map.doublet_cuts)
    assert back.metadata["source_format"] == "acorn"
    assert_no_partial_files(tmp_path)


def test_acorn_round_trip_exact_for_awkward_float64(tmp_path: Path) -> None:
    """Values that need all 17 digits, subnormals, extremes, -0.0 and infinities survive."""
    mm = random_module_map(seed=3)
    rng = np.random.default_rng(11)
    awkward = np.array(
        [0.1, 1 / 3, 2**-1074, 2.2250738585072014e-308, 1.7976931348623157e308, np.pi, 0.0]
    )
    awkward = np.concatenate([awkward, np.nextafter(awkward[[0, 1, 2, 3, 5]], np.inf)])
    # random bit patterns: every finite positive float64 is equally likely to show up
    bits = rng.integers(0, 0x7FF0000000000000, size=(N_TRIPLETS, 4), dtype=np.int64)
    mm.cuts23[:, :, 0] = -bits.view(np.float64)
    mm.cuts23[:, :, 1] = bits[::-1].view(np.float64)
    mm.cuts12[:, :, 0] = -rng.choice(awkward, size=(N_TRIPLETS, 4))
    mm.cuts12[:, :, 1] = rng.choice(awkward, size=(N_TRIPLETS, 4))
    mm.cuts12[0, 0] = [-0.0, -0.0]
    mm.diff_dzdr[:5] = [-np.inf, np.inf]
    mm = ModuleMap(
        mm.modules, mm.triplets, mm.occurrence, mm.cuts12, mm.cuts23, mm.diff_dzdr, mm.diff_dydx
    )
    back = read_acorn(write_acorn(mm, tmp_path / "map.txt"))
    assert back.equals(mm)
    for name in ("cuts12", "cuts23", "diff_dzdr"):  # bit for bit, -0.0 included
        assert getattr(back, name).tobytes() == getattr(mm, name).tobytes()


def test_acorn_column_layout(module_map: ModuleMap, tmp_path: Path) -> None:
    """Columns in acorn's order: ids, occurrence, then max before min for each quantity."""
    path = write_acorn(module_map, tmp_path / "map.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == N_TRIPLETS
    row = dict(zip(ACORN_COLUMNS, lines[0].split(), strict=True))
    mm, t = module_map, 0
    assert [int(row[f"mid_{k}"]) for k in (1, 2, 3)] == mm.modules[mm.triplets[t]].tolist()
    assert int(row["occurence"]) == mm.occurrence[t]
    for leg, cuts in (("12", mm.cuts12[t]), ("23", mm.cuts23[t])):
        for k, q in enumerate(("z0", "dphi", "phiSlope", "deta")):
            assert float(row[f"{q}min_{leg}"]) == cuts[k, 0]
            assert float(row[f"{q}max_{leg}"]) == cuts[k, 1]
    assert float(row["diff_dzdr_max"]) == mm.diff_dzdr[t, 1]
    assert float(row["diff_dzdr_min"]) == mm.diff_dzdr[t, 0]
    assert float(row["diff_dydx_max"]) == mm.diff_dydx[t, 1]
    assert float(row["diff_dydx_min"]) == mm.diff_dydx[t, 0]


def test_acorn_reads_a_hand_written_map(tmp_path: Path) -> None:
    """A file in the layout ModuleMapGraph's save_txt writes (max then min, C++ float text)."""
    line = (
        "1152921642045800704 1152921642045801216 1152921642045801472 7 "
        "120.5 -80.25 0.01 -0.02 1e-05 -2e-05 0.3 -0.1 "
        "99 -99 0.02 -0.03 3e-05 -4e-05 0.25 -0.15 "
        "0.5 -0.5 2.5 -1.5"
    )
    path = tmp_path / "MMtriplet.triplets.txt"
    path.write_text(line + "\n" + line.replace(" 1152921642045801472 ", " 1152921642045801728 "))
    mm = read_acorn(path)
    assert mm.n_triplets == 2
    assert mm.modules.tolist() == [
        1152921642045800704,
        1152921642045801216,
        1152921642045801472,
        1152921642045801728,
    ]
    assert mm.occurrence.tolist() == [7, 7]
    assert mm.cuts12[0, 0].tolist() == [-80.25, 120.5]  # z0 (min, max)
    assert mm.cuts23[0, 2].tolist() == [-4e-05, 3e-05]  # phi_slope
    assert mm.cuts12[0, 3].tolist() == [-0.1, 0.3]  # same deta convention as acorn
    assert mm.diff_dzdr[0].tolist() == [-0.5, 0.5]
    assert mm.diff_dydx[0].tolist() == [-1.5, 2.5]
    assert mm.n_doublets == 3


def test_empty_map_round_trips(tmp_path: Path) -> None:
    empty = random_module_map().pruned(10**9)
    assert empty.n_triplets == 0
    assert read_acorn(write_acorn(empty, tmp_path / "e.txt")).equals(empty)
    assert read_mmg_root(write_mmg_root(empty, tmp_path / "e").triplets).equals(empty)


# ---------------------------------------------------------------------------------------------
# ModuleMapGraph ROOT
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
# Dispatchers
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Compact npz (float16 ranges rounded outwards)
# ---------------------------------------------------------------------------------------------

RANGE_ARRAYS = ("cuts12", "cuts23", "diff_dzdr", "diff_dydx", "doublet_cuts")


def compact_round_trip(mm: ModuleMap, path: Path) -> ModuleMap:
    (written,) = save_module_map(mm, path, format="compact")
    assert written.suffix == ".npz"
    with np.load(written) as data:
        assert str(data["encoding"]) == COMPACT_ENCODING
        assert data["ranges"].dtype == np.float16
    return load_module_map(written)


def assert_same_structure(back: ModuleMap, mm: ModuleMap) -> None:
    """Ids, triplets, occurrences and the derived doublets are exact."""
    for name in ("modules", "triplets", "occurrence", "doublets", "triplet_doublets"):
        assert getattr(back, name).dtype == getattr(mm, name).dtype, name
        assert np.array_equal(getattr(back, name), getattr(mm, name)), name


def assert_contains(back: ModuleMap, mm: ModuleMap) -> None:
    """Every loaded [min, max] contains the original one (triplet legs, doublets, diffs)."""
    for name in RANGE_ARRAYS:
        got, orig = getattr(back, name), getattr(mm, name)
        assert got.dtype == np.float64, name
        assert np.all(got[..., 0] <= orig[..., 0]), name
        assert np.all(got[..., 1] >= orig[..., 1]), name


def test_compact_round_trip_contains_the_original(module_map: ModuleMap, tmp_path: Path) -> None:
    back = compact_round_trip(module_map, tmp_path / "map.npz")
    assert_same_structure(back, module_map)
    assert_contains(back, module_map)
    assert not back.equals(module_map)  # random float64 values are not float16 numbers
    # ... and only just: each bound moves by less than one float16 step (2**-10 relative)
    for name in RANGE_ARRAYS:
        got, orig = getattr(back, name), getattr(module_map, name)
        assert np.all(np.abs(got - orig) <= 2.0**-10 * np.abs(orig)), name
    # the file says what was done, and keeps the map's own metadata
    assert back.metadata["seed"] == module_map.metadata["seed"]
    assert back.metadata["range_rounding"] == "outward"
    assert "float16" in str(back.metadata["range_precision"])
    # four times fewer bytes per range, at least
    exact = module_map.save(tmp_path / "exact.npz")
    assert (tmp_path / "map.npz").stat().st_size < exact.stat().st_size / 2
    assert_no_partial_files(tmp_path)


def test_compact_is_exact_for_float16_values(tmp_path: Path) -> None:
    mm = random_module_map(seed=4)
    for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx"):
        getattr(mm, name)[...] = getattr(mm, name).astype(np.float16)
    mm = ModuleMap(
        mm.modules, mm.triplets, mm.occurrence, mm.cuts12, mm.cuts23, mm.diff_dzdr, mm.diff_dydx
    )
    back = compact_round_trip(mm, tmp_path / "f16.npz")
    assert back.equals(mm)


def awkward_map(seed: int = 3) -> ModuleMap:
    """Ranges over all of float64: random bit patterns, subnormals, extremes, values far
    outside float16 (and float32) range, -0.0, infinities, zero-width ranges."""
    mm = random_module_map(seed=seed)
    rng = np.random.default_rng(seed)
    awkward = np.array(
        [0.1, 1 / 3, 2**-1074, 2.2250738585072014e-308, 1.7976931348623157e308, np.pi, 0.0]
    )
    awkward = np.concatenate([awkward, [65504.0, 65505.0, 2.0**-14, 2.0**-15, 2.0**-25, 1e-30]])
    bits = rng.integers(0, 0x7FF0000000000000, size=(N_TRIPLETS, 4), dtype=np.int64)
    mm.cuts23[:, :, 0] = -bits.view(np.float64)
    mm.cuts23[:, :, 1] = bits[::-1].view(np.float64)
    mm.cuts12[:, :, 0] = -rng.choice(awkward, size=(N_TRIPLETS, 4))
    mm.cuts12[:, :, 1] = rng.choice(awkward, size=(N_TRIPLETS, 4))
    mm.cuts12[0, 0] = [-0.0, -0.0]
    mm.cuts12[1, 1] = [0.25, 0.25]
    mm.diff_dzdr[:5] = [-np.inf, np.inf]
    mm.diff_dzdr[5:10] = [1e300, 2e300]
    mm.diff_dydx[:20] = np.sort(rng.normal(size=(20, 2)) * 1e6, axis=1)
    return ModuleMap(
        mm.modules, mm.triplets, mm.occurrence, mm.cuts12, mm.cuts23, mm.diff_dzdr, mm.diff_dydx
    )


def test_compact_contains_awkward_float64(tmp_path: Path) -> None:
    mm = awkward_map()
    back = compact_round_trip(mm, tmp_path / "awkward.npz")
    assert_same_structure(back, mm)
    assert_contains(back, mm)
    assert back.metadata["range_float32_values"] > 0
    assert back.diff_dzdr[:5].tolist() == [[-np.inf, np.inf]] * 5
    f32max = float(np.finfo(np.float32).max)
    assert back.diff_dzdr[5:10].tolist() == [[f32max, np.inf]] * 5  # beyond float32: outer side
    # values within float32's normal range never move by more than a float16 step
    for name in RANGE_ARRAYS:
        got, orig = getattr(back, name), getattr(mm, name)
        normal = np.isfinite(orig) & (np.abs(orig) >= np.finfo(np.float32).tiny)
        normal &= np.abs(orig) <= f32max
        assert np.all(np.abs(got[normal] - orig[normal]) <= 2.0**-10 * np.abs(orig[normal])), name
    # a second round trip changes nothing
    again = compact_round_trip(back, tmp_path / "again.npz")
    assert again.equals(back)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_round_outward(dtype: type) -> None:
    rng = np.random.default_rng(2)
    info = np.finfo(dtype)
    values = np.concatenate(
        [
            rng.normal(size=2000) * 10.0 ** rng.integers(-50, 50, size=2000),
            [0.0, -0.0, np.inf, -np.inf, float(info.max), float(info.tiny), 1e-300, 1e300],
            np.array([0.1, 1.5, 1 / 3], dtype=dtype).astype(np.float64),
        ]
    )
    down, up = round_outward(values, dtype, up=False), round_outward(values, dtype, up=True)
    assert down.dtype == dtype
    assert up.dtype == dtype
    assert np.all(down <= values)
    assert np.all(up >= values)
    # the nearest such numbers: one step further in is on the wrong side
    finite = np.isfinite(values)
    with np.errstate(over="ignore"):
        assert not np.any(np.nextafter(down, dtype(np.inf))[finite] <= values[finite])
        assert not np.any(np.nextafter(up, dtype(-np.inf))[finite] >= values[finite])
    exact = down.astype(np.float64) == values
    assert np.array_equal(down[exact], up[exact])
    assert round_outward(np.array([1e300]), dtype, up=False)[0] == info.max
    assert round_outward(np.array([1e-300]), dtype, up=True)[0] == info.smallest_subnormal


def test_compact_empty_map(tmp_path: Path) -> None:
    empty = random_module_map().pruned(10**9)
    back = compact_round_trip(empty, tmp_path / "empty.npz")
    assert back.n_triplets == 0
    assert back.equals(empty)


def test_compact_refuses_nan_and_negative_occurrence(tmp_path: Path) -> None:
    mm = random_module_map()
    mm.diff_dydx[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN in diff_dydx"):
        save_module_map(mm, tmp_path / "m.npz", "compact")
    mm = random_module_map()
    mm.occurrence[0] = -1
    with pytest.raises(ValueError, match="negative occurrence"):
        mm.save(tmp_path / "m.npz", compact=True)
    assert not list(tmp_path.iterdir())


def test_compact_bad_files(tmp_path: Path) -> None:
    (path,) = save_module_map(random_module_map(), tmp_path / "m.npz", "compact")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}

    def rewrite(**changes: np.ndarray) -> Path:
        bad = tmp_path / "bad.npz"
        np.savez(bad, **{**arrays, **changes})
        return bad

    with pytest.raises(InputDataError, match="unknown module-map encoding"):
        load_module_map(rewrite(encoding=np.array("float8")))
    with pytest.raises(InputDataError, match="float32_index outside"):
        load_module_map(rewrite(float32_index=np.array([10**9]), float32_values=np.ones(1)))
    with pytest.raises(InputDataError, match="inconsistent shapes"):
        load_module_map(rewrite(ranges=arrays["ranges"][:, :-1]))
    with pytest.raises(InputDataError, match="version"):
        load_module_map(rewrite(format_version=np.int64(99)))
    trimmed = {k: v for k, v in arrays.items() if k != "ranges"}
    np.savez(tmp_path / "missing.npz", **trimmed)
    with pytest.raises(InputDataError, match="missing"):
        load_module_map(tmp_path / "missing.npz")


def test_cli_convert_to_compact(tmp_path: Path, capsys) -> None:
    from acts_gnn.cli import build_parser, main

    mm = awkward_map(seed=8)
    source = mm.save(tmp_path / "exact.npz")
    out = tmp_path / "small.npz"
    rc = main(["module-map", "convert", "-i", str(source), "-o", str(out), "--format", "compact"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "rounded outwards" in printed
    back = load_module_map(out)
    assert_same_structure(back, mm)
    assert_contains(back, mm)
    # conversion can prune too; other formats read back
    rc = main(
        [
            "module-map",
            "convert",
            "-i",
            str(out),
            "-o",
            str(tmp_path / "p.txt"),
            "--min-occurrence",
            "2500",
        ]
    )
    assert rc == 0
    pruned = load_module_map(tmp_path / "p.txt")
    assert 0 < pruned.n_triplets < mm.n_triplets
    assert pruned.equals(back.pruned(2500))
    # build and merge take the format too
    for action in ("build -i x -o y.npz", "merge --inputs a.npz -o y.npz"):
        args = build_parser().parse_args(["module-map", *action.split(), "--format", "compact"])
        assert args.format == "compact"
    rc = main(["module-map", "convert", "-i", str(tmp_path / "none.npz"), "-o", str(out)])
    assert rc == 2


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def good_line(mm: ModuleMap, tmp_path: Path) -> list[str]:
    return write_acorn(mm, tmp_path / "good.txt").read_text().splitlines()


@pytest.mark.parametrize("fmt", [None, "npz", "acorn", "root"])
def test_missing_files(fmt: str | None, tmp_path: Path) -> None:
    with pytest.raises(InputDataError) as err:
        load_module_map(tmp_path / "nothing.txt" if fmt == "acorn" else tmp_path / "nothing", fmt)
    assert "nothing" in str(err.value)


def test_mmg_missing_doublet_file(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    paths.doublets.unlink()
    with pytest.raises(InputDataError, match="does not exist") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.file == str(paths.doublets)


def test_acorn_wrong_column_count(module_map: ModuleMap, tmp_path: Path) -> None:
    lines = good_line(module_map, tmp_path)
    lines[4] = " ".join(lines[4].split()[:-1])
    with pytest.raises(InputDataError, match="line 5 has 23 columns") as err:
        read_acorn(write_lines(tmp_path / "bad.txt", lines))
    assert err.value.file == str(tmp_path / "bad.txt")
    assert err.value.field == "columns"


@pytest.mark.parametrize(
    ("column", "token", "message"),
    [
        ("mid_2", "-5", "unsigned 64-bit integer"),
        ("mid_1", "18446744073709551616", "unsigned 64-bit integer"),
        ("occurence", "3.5", "integer"),
        ("dphimin_23", "abc", "number"),
        ("detamax_12", "nan", "NaN"),
        ("diff_dydx_min", "NaN", "NaN"),
    ],
)
def test_acorn_bad_values(
    column: str, token: str, message: str, module_map: ModuleMap, tmp_path: Path
) -> None:
    lines = good_line(module_map, tmp_path)
    tokens = lines[2].split()
    tokens[ACORN_COLUMNS.index(column)] = token
    lines[2] = " ".join(tokens)
    with pytest.raises(InputDataError, match=message) as err:
        read_acorn(write_lines(tmp_path / "bad.txt", lines))
    assert err.value.field == column
    assert err.value.file == str(tmp_path / "bad.txt")
    assert "line 3" in str(err.value)


def test_acorn_min_above_max_is_reported(module_map: ModuleMap, tmp_path: Path) -> None:
    """A file written min-before-max is caught instead of giving empty cut ranges."""
    lines = good_line(module_map, tmp_path)
    tokens = lines[0].split()
    k = ACORN_COLUMNS.index("z0max_12")
    tokens[k], tokens[k + 1] = tokens[k + 1], tokens[k]
    lines[0] = " ".join(tokens)
    with pytest.raises(InputDataError, match="min > max at line 1") as err:
        read_acorn(write_lines(tmp_path / "bad.txt", lines))
    assert err.value.field == "z0min_12"


def test_acorn_duplicate_triplet(module_map: ModuleMap, tmp_path: Path) -> None:
    lines = good_line(module_map, tmp_path)
    with pytest.raises(InputDataError, match="duplicate module triplet") as err:
        read_acorn(write_lines(tmp_path / "bad.txt", [*lines, lines[7]]))
    assert f"line {len(lines) + 1}" in str(err.value)


def test_acorn_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InputDataError, match="not a text module map"):
        read_acorn(path)


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


def test_writers_refuse_nan_maps(tmp_path: Path) -> None:
    mm = random_module_map()
    mm.cuts12[0, 1, 0] = np.nan
    for fmt in ("acorn", "root"):
        with pytest.raises(ValueError, match="NaN in cuts12"):
            save_module_map(mm, tmp_path / "m", fmt)
    assert not list(tmp_path.iterdir())

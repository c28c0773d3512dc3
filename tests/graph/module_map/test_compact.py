"""The compact npz encoding (``compact.py``): float16 ranges rounded outwards, graphs with it,
bad files, and ``module-map convert --format compact``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.compact import COMPACT_ENCODING
from acts_gnn.graph.module_map.formats import load_module_map, save_module_map
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from tests.graph.module_map.random_maps import (
    N_TRIPLETS,
    assert_no_partial_files,
    random_module_map,
)
from tests.graph.module_map.reference import check_against_reference, edge_set
from tests.graph.module_map.synthetic import (
    scaled_map,
    synthetic_event,
    synthetic_map,
    synthetic_training_triplets,
)

# ---------------------------------------------------------------------------------------------
# Graphs: outward rounding only adds edges
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Round trips through save_module_map / load_module_map
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

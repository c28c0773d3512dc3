"""Range margins (``margins.py``): the widening rule, its coverage, and what a widened map refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.graph.module_map.builder import ModuleMapBuilder, merge_module_maps
from acts_gnn.graph.module_map.formats import load_module_map
from acts_gnn.graph.module_map.margins import widen_ranges

IDS = np.array([[1, 2, 3]], dtype=np.uint64)


def _map_of(samples_per_triplet: list[np.ndarray]):
    """A map with one module triplet per entry of ``samples_per_triplet`` ([n_k, 10] each)."""
    builder = ModuleMapBuilder()
    for k, samples in enumerate(samples_per_triplet):
        ids = np.repeat(IDS + np.uint64(10 * k), len(samples), axis=0)
        builder.add(ids, samples)
    return builder.build()


def test_each_side_moves_by_margin_times_width_over_n_minus_1() -> None:
    three = np.stack([np.full(10, v) for v in (0.0, 1.0, 2.0)])  # width 2, n = 3
    once = np.full((1, 10), 5.0)
    mm = _map_of([three, once])
    wide = widen_ranges(mm, 1.5)
    # n = 3: each side by 1.5 * 2 / 2 = 1.5
    np.testing.assert_array_equal(wide.cuts12[0, :, 0], -1.5)
    np.testing.assert_array_equal(wide.cuts12[0, :, 1], 3.5)
    np.testing.assert_array_equal(wide.cuts23[0, :, 1], 3.5)
    np.testing.assert_array_equal(wide.diff_dzdr[0], [-1.5, 3.5])
    np.testing.assert_array_equal(wide.diff_dydx[0], [-1.5, 3.5])
    # seen once: no width, unchanged
    np.testing.assert_array_equal(wide.cuts12[1], mm.cuts12[1])
    assert wide.metadata["range_margin"] == 1.5
    np.testing.assert_array_equal(wide.occurrence, mm.occurrence)
    np.testing.assert_array_equal(wide.triplets, mm.triplets)
    assert widen_ranges(mm, 0.0).equals(mm)  # margin 0: the same ranges


def test_margin_one_restores_the_coverage_of_few_samples() -> None:
    """n uniform samples cover (n - 1) / (n + 1) of their interval on average; margin 1
    corrects the span, so fresh samples fall outside far less often."""
    rng = np.random.default_rng(4)
    n, triplets = 4, 400
    mm = _map_of([rng.uniform(0.0, 1.0, size=(n, 10)) for _ in range(triplets)])
    fresh = rng.uniform(0.0, 1.0, size=(triplets, 200))

    def outside(m) -> float:
        lo, hi = m.diff_dzdr[:, :1], m.diff_dzdr[:, 1:]
        return float(np.mean((fresh < lo) | (fresh > hi)))

    assert outside(mm) == pytest.approx(2 / (n + 1), abs=0.03)  # 0.4
    assert outside(widen_ranges(mm, 1.0)) < 0.22  # measured 0.18
    assert outside(widen_ranges(mm, 2.0)) < outside(widen_ranges(mm, 1.0))


def test_a_widened_map_is_neither_merged_nor_widened_again(tmp_path: Path) -> None:
    mm = _map_of([np.stack([np.zeros(10), np.ones(10)])])
    wide = widen_ranges(mm, 2.0)
    with pytest.raises(ValueError, match="cannot merge a widened map"):
        merge_module_maps([mm, wide])
    with pytest.raises(ValueError, match="already widened"):
        widen_ranges(wide, 1.0)
    with pytest.raises(ValueError, match="finite number >= 0"):
        widen_ranges(mm, -1.0)
    # the mark survives a file
    back = load_module_map(wide.save(tmp_path / "wide.npz"))
    with pytest.raises(ValueError, match="cannot merge a widened map"):
        merge_module_maps([back])


def test_cli_convert_with_a_range_margin(tmp_path: Path, capsys) -> None:
    from acts_gnn.cli import main

    rng = np.random.default_rng(2)
    mm = _map_of([rng.normal(size=(5, 10)) for _ in range(3)])
    raw = mm.save(tmp_path / "raw.npz")
    out = tmp_path / "wide.npz"
    rc = main(["module-map", "convert", "-i", str(raw), "-o", str(out), "--range-margin", "4"])
    assert rc == 0, capsys.readouterr().out
    assert load_module_map(out).equals(widen_ranges(mm, 4.0))
    capsys.readouterr()
    rc = main(
        ["module-map", "merge", "--inputs", str(out), str(raw), "-o", str(tmp_path / "m.npz")]
    )
    assert rc == 2
    assert "cannot merge a widened map" in capsys.readouterr().err

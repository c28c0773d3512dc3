"""The acorn text format (``acorn.py``): exact round trips, the column layout, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.acorn import ACORN_COLUMNS, read_acorn, write_acorn
from acts_gnn.graph.module_map.map import ModuleMap
from tests.graph.module_map.random_maps import (
    N_TRIPLETS,
    assert_no_partial_files,
    random_module_map,
)

# ---------------------------------------------------------------------------------------------
# Round trips and layout
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


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def good_line(mm: ModuleMap, tmp_path: Path) -> list[str]:
    return write_acorn(mm, tmp_path / "good.txt").read_text().splitlines()


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

"""Bad module-map files: every format goes through one content check (NaN, min > max,
negative occurrence, duplicate triplet), truncated or corrupted files and a ROOT pair mixed
from two maps are refused with an :class:`InputDataError` naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import uproot

from acts_gnn.cli import main
from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.compact import compact_arrays
from acts_gnn.graph.module_map.formats import load_module_map, save_module_map
from acts_gnn.graph.module_map.map import RANGE_COLUMNS, ModuleMap
from acts_gnn.graph.module_map.mmg_root import MMG_DOUBLET_TREE, read_mmg_root, write_mmg_root

from .random_maps import random_module_map


def _exact_npz(path: Path, mm: ModuleMap) -> Path:
    """Write ``mm`` as an exact ``.npz`` without the writer's checks (a file from elsewhere)."""
    np.savez(
        path,
        format_version=np.int64(1),
        modules=mm.modules,
        triplets=mm.triplets,
        occurrence=mm.occurrence,
        cuts12=mm.cuts12,
        cuts23=mm.cuts23,
        diff_dzdr=mm.diff_dzdr,
        diff_dydx=mm.diff_dydx,
        metadata=np.array(repr({})),
    )
    return path


def _compact_npz(path: Path, mm: ModuleMap) -> Path:
    arrays = compact_arrays(
        mm.modules, mm.triplets, mm.occurrence, mm.range_columns(), RANGE_COLUMNS, {}
    )
    np.savez(path, **arrays)
    return path


def _bad_map(kind: str) -> tuple[ModuleMap, str, str]:
    """A map with one bad value; the field and the message the loader must name."""
    mm = random_module_map()
    if kind == "nan":
        mm.cuts23[17, 1, 0] = np.nan  # dphi_23_min of triplet 17
        return mm, "dphi_23_min", "NaN value at triplet 17"
    if kind == "min>max":
        mm.diff_dzdr[5] = mm.diff_dzdr[5, ::-1] + np.array([1.0, -1.0])
        return mm, "diff_dzdr_min", "min > max at triplet 5"
    if kind == "occurrence":
        mm.occurrence[3] = -4
        return mm, "occurrence", "negative occurrence at triplet 3"
    assert kind == "duplicate"
    triplets = mm.triplets.copy()
    triplets[9] = triplets[8]
    mm = ModuleMap(
        mm.modules, triplets, mm.occurrence, mm.cuts12, mm.cuts23, mm.diff_dzdr, mm.diff_dydx
    )
    return mm, "module ids", "duplicate module triplet"


KINDS = ("nan", "min>max", "occurrence", "duplicate")


@pytest.mark.parametrize("kind", KINDS)
def test_exact_npz_is_checked(kind: str, tmp_path: Path) -> None:
    mm, field, message = _bad_map(kind)
    path = _exact_npz(tmp_path / "bad.npz", mm)
    with pytest.raises(InputDataError, match=message) as err:
        load_module_map(path)
    assert err.value.file == str(path)
    assert err.value.field == field


@pytest.mark.parametrize("kind", ["nan", "min>max", "duplicate"])  # counts: unsigned
def test_compact_npz_is_checked(kind: str, tmp_path: Path) -> None:
    mm, field, message = _bad_map(kind)
    path = _compact_npz(tmp_path / "bad.npz", mm)
    with pytest.raises(InputDataError, match=message) as err:
        load_module_map(path)
    assert err.value.file == str(path)
    assert err.value.field == field


def test_acorn_shares_the_check(tmp_path: Path) -> None:
    """The acorn reader gives the same diagnosis, in its own column names and line numbers
    (the ROOT reader's: tests/graph/module_map/test_mmg_root.py)."""
    mm = random_module_map(float32_values=True)
    mm.cuts12[40, 3] = mm.cuts12[40, 3, ::-1] + np.array([0.5, -0.5])  # deta_12: min > max
    from acts_gnn.graph.module_map.acorn import ACORN_COLUMNS

    text = tmp_path / "bad.txt"
    ids = mm.modules[mm.triplets]
    names = ACORN_COLUMNS[4:]
    ext = {  # the acorn writer refuses the map, so write the lines here
        f"{q}{b}_{leg}": cuts[:, k, i]
        for leg, cuts in (("12", mm.cuts12), ("23", mm.cuts23))
        for k, q in enumerate(("z0", "dphi", "phiSlope", "deta"))
        for i, b in enumerate(("min", "max"))
    }
    for name, rng in (("diff_dzdr", mm.diff_dzdr), ("diff_dydx", mm.diff_dydx)):
        ext[f"{name}_min"], ext[f"{name}_max"] = rng[:, 0], rng[:, 1]
    lines = [
        " ".join(
            [*map(str, ids[t]), str(mm.occurrence[t]), *(repr(float(ext[n][t])) for n in names)]
        )
        for t in range(mm.n_triplets)
    ]
    text.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputDataError, match="min > max at line 41") as err:
        load_module_map(text)
    assert err.value.field == "detamin_12"
    assert err.value.file == str(text)


def test_exact_npz_loads_a_good_map(tmp_path: Path) -> None:
    """The check passes a good map (and keeps +-inf bounds, an open range)."""
    mm = random_module_map()
    mm.cuts12[0, 0] = [-np.inf, np.inf]
    assert load_module_map(_exact_npz(tmp_path / "good.npz", mm)).equals(mm)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_damaged_npz(damage: str, tmp_path: Path) -> None:
    (path,) = save_module_map(random_module_map(), tmp_path / "map.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:  # corrupt the compressed stream of the first member, keep the zip directory
        for k in range(200, 260):
            data[k] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match="module map") as err:
        load_module_map(path)
    assert err.value.file == str(path)


def test_root_pair_mixed_by_a_killed_write(tmp_path: Path) -> None:
    """Overwriting a pair, killed between its two files: new doublets, old triplets."""
    old, new = random_module_map(seed=1), random_module_map(seed=2)
    write_mmg_root(old, tmp_path / "mm")
    kept = (tmp_path / "mm.triplets.root").read_bytes()
    write_mmg_root(new, tmp_path / "mm")
    (tmp_path / "mm.triplets.root").write_bytes(kept)  # the triplet write never happened
    with pytest.raises(InputDataError, match="written for different maps") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.file == str(tmp_path / "mm.doublets.root")


def test_root_pair_from_another_writer_missing_a_doublet(tmp_path: Path) -> None:
    """A pair without our token (another writer) whose doublet file lacks a used doublet."""
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    with uproot.open(paths.doublets) as f:
        columns = f[MMG_DOUBLET_TREE].arrays(library="np")
    columns = {k: v[1:] for k, v in columns.items()}
    paths.doublets.unlink()
    with uproot.recreate(paths.doublets) as f:
        f.mktree(MMG_DOUBLET_TREE, {k: v.dtype for k, v in columns.items()})
        f[MMG_DOUBLET_TREE].extend(columns)
    with pytest.raises(InputDataError, match=r"1 of the \d+ doublets its triplets use are missing"):
        read_mmg_root(tmp_path / "mm")


def test_truncated_root_file(tmp_path: Path) -> None:
    paths = write_mmg_root(random_module_map(), tmp_path / "mm")
    data = paths.triplets.read_bytes()
    paths.triplets.write_bytes(data[: len(data) // 2])  # into the baskets
    with pytest.raises(InputDataError, match="cannot read tree 'TreeModuleTriplet'") as err:
        read_mmg_root(tmp_path / "mm")
    assert err.value.file == str(paths.triplets)


def test_cli_refuses_a_nan_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What was efficiency 0.0000 with exit code 0 is now exit code 2 and a message."""
    mm, _, _ = _bad_map("nan")
    path = _exact_npz(tmp_path / "bad.npz", mm)
    assert main(["module-map", "convert", "-i", str(path), "-o", str(tmp_path / "out.txt")]) == 2
    err = capsys.readouterr().err
    assert "NaN value at triplet 17" in err
    assert str(path) in err
    assert "dphi_23_min" in err
    assert not (tmp_path / "out.txt").exists()


def test_cli_output_under_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The output folder is checked before the map is read or built."""
    (path,) = save_module_map(random_module_map(), tmp_path / "map.npz")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    rc = main(["module-map", "convert", "-i", str(path), "-o", str(blocker / "out.txt")])
    assert rc == 2
    assert f"{blocker} is a file, not a folder" in capsys.readouterr().err

"""Module-map files in the two formats the GNN-tracking community uses, plus dispatchers.

:func:`save_module_map` / :func:`load_module_map` pick the format (``"npz"``: our own,
:meth:`ModuleMap.save`; ``"compact"``: the same ``.npz`` with float16 ranges rounded outwards,
only by argument; ``"acorn"``: text; ``"root"``: the ModuleMapGraph ROOT pair) from the
argument or from the name: ``.npz``; ``.txt`` / ``.csv``; ``.root`` (``x.root``,
``x.triplets.root`` and ``x.doublets.root`` all mean the pair with prefix ``x``), or a prefix
whose ``<prefix>.triplets.root`` (or ``<prefix>.npz``) exists. Every write goes to a temporary name first and is then renamed
(``os.replace``), so a crash never leaves a half-written map under the real name. Bad input
(missing file, tree or branch, wrong column count, unparsable value, NaN, min > max, duplicate
triplet) raises :class:`~acts_gnn.errors.InputDataError` naming the file and the field.

Readers return the triplets in lexicographic order of module ids (the order both tools write),
with :attr:`ModuleMap.modules` = the modules used by some triplet.

acorn text format
-----------------
Layout taken from the acorn (GNN4ITk "CommonFramework") module-map graph builder,
repository ``GNN4ITkTeam/CommonFramework``, file
``acorn/stages/graph_construction/models/py_module_map.py`` (``load_module_map``, which reads a
``.txt``/``.csv`` map with pandas, whitespace-separated, no header, and names its columns). It is
the same file that ModuleMapGraph's ``module_map_triplet<T>::save_txt`` writes as
``<prefix>.triplets.txt``. One line per module triplet, 24 columns, **max before min**:

====  =========================================================================================
 1-3  ``mid_1 mid_2 mid_3``: the three module ids (decimal unsigned 64-bit integers)
 4    ``occurence`` (sic): how many truth triplets were seen
 5-12 ``z0max_12 z0min_12 dphimax_12 dphimin_12 phiSlopemax_12 phiSlopemin_12 detamax_12
      detamin_12`` (the (m1, m2) doublet)
13-20 the same eight for the (m2, m3) doublet, suffix ``_23``
21-24 ``diff_dzdr_max diff_dzdr_min diff_dydx_max diff_dydx_min``
====  =========================================================================================

We write floats with ``repr`` (shortest string that reads back to the same float64), so the text
round trip is exact. acorn reads only this triplet file (ModuleMapGraph also writes a
``.doublets.txt`` next to it; we do not).

ModuleMapGraph ROOT pair
------------------------
Layout taken from the ModuleMapGraph sources (L2IT Toulouse, C. Collard / C. Rougier; found in
the code search index, which does not name their repository): ``module_map_triplet.cpp``
(``save_TTree`` / ``read_TTree``), ``module_triplet.cpp``, ``module_doublet.cpp`` and
``geometric_cuts.cpp`` (``branch`` / ``set_branch_address``). Upstream ACTS reads these files
with ``module_map_triplet<float>::read_TTree`` in ``acts-project/acts``,
``Plugins/Gnn/src/ModuleMapCuda.cu`` (and ``ModuleMapCpu``); acorn reads the triplet tree with
uproot in ``acorn/stages/graph_construction/models/utils.py`` (``load_module_map_uproot``).
One entry per triplet/doublet; every branch a scalar:

* ``<prefix>.triplets.root``, tree ``TreeModuleTriplet``: ``Module1``, ``Module2``,
  ``Module3`` (uint64, leaf type ``/g`` in MMG), ``Occurence`` (uint32), then for leg ``12`` and
  then ``23``: ``z0min_<leg> dphimin_<leg> phiSlopemin_<leg> detamin_<leg>`` followed by the four
  ``...max_<leg>``; then ``diff_dzdr_max diff_dzdr_min diff_dydx_max diff_dydx_min``.
* ``<prefix>.doublets.root``, tree ``TreeModuleDoublet``: ``Module1``, ``Module2`` (uint64), then
  ``z0min_12 dphimin_12 phiSlopemin_12 detamin_12 z0max_12 dphimax_12 phiSlopemax_12
  detamax_12`` (no occurrence). These are the doublet cuts, the union over the triplet legs.

The cut branches have MMG's template type ``T``. The readers that matter (ACTS, Athena) use
``T = float``, and ROOT refuses ``SetBranchAddress`` with a mismatched type, so we write
**float32**. A float64 range cannot survive float32 bit for bit, so the writer rounds *outward*
(min down, max up to the nearest float32), so the file never rejects an edge that the float64
map accepts. A map whose values are already float32 numbers goes through unchanged. We read
any integer or floating branch type. Not verified: that ROOT's ``SetBranchAddress`` with a
``uint64_t*`` accepts uproot's ``ULong64_t`` leaves (MMG declares the id leaves as ``/g``,
``ULong_t``; both are 64-bit unsigned on Linux). No ROOT was available here to check this.

On reading, the doublet file must be present and well formed (as in MMG), but
:class:`ModuleMap` derives its doublet cuts from the triplets. In a file MMG wrote, the two
agree. Doublets no triplet uses (MMG's cycle removal deletes triplets only) are ignored.
Counts of unused, missing and differing doublets go into ``metadata``, with a warning in the
log when some are missing or differ.

Conventions
-----------
Our module maps use the ModuleMapGraph/acorn quantities, signs included (deta = eta(inner) -
eta(outer); diff_dydx = -dy/dx(12) - dy/dx(23)), so ranges are copied without conversion.
Where dr = 0 (never in practice) ModuleMapGraph stores +-FLT_MAX for z0 and the slopes, where
we compute 0 and z(inner); see :mod:`acts_gnn.graph.module_map.core`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.core import DOUBLET_CUT_QUANTITIES, ModuleMap

log = logging.getLogger(__name__)

#: The formats :func:`save_module_map` / :func:`load_module_map` know. ``"compact"`` is our
#: ``.npz`` with float16 ranges rounded outwards (:meth:`ModuleMap.save` with ``compact=True``);
#: reading any ``.npz`` (``"npz"`` or ``"compact"``) tells the two encodings apart by content.
FORMATS = ("npz", "compact", "acorn", "root")

#: External (MMG / acorn) names of the doublet quantities, in our cut-array order.
EXTERNAL_QUANTITIES = ("z0", "dphi", "phiSlope", "deta")
assert len(EXTERNAL_QUANTITIES) == len(DOUBLET_CUT_QUANTITIES)

#: The columns of an acorn text map, in file order.
ACORN_COLUMNS: tuple[str, ...] = (
    "mid_1",
    "mid_2",
    "mid_3",
    "occurence",
    *(f"{q}{m}_{leg}" for leg in ("12", "23") for q in EXTERNAL_QUANTITIES for m in ("max", "min")),
    "diff_dzdr_max",
    "diff_dzdr_min",
    "diff_dydx_max",
    "diff_dydx_min",
)

MMG_TRIPLET_TREE = "TreeModuleTriplet"
MMG_DOUBLET_TREE = "TreeModuleDoublet"
MMG_TRIPLET_SUFFIX = ".triplets.root"
MMG_DOUBLET_SUFFIX = ".doublets.root"


def _leg_branches(leg: str) -> tuple[str, ...]:
    return tuple(f"{q}{m}_{leg}" for m in ("min", "max") for q in EXTERNAL_QUANTITIES)


#: Branches of ``TreeModuleTriplet``, in MMG's order.
MMG_TRIPLET_BRANCHES: tuple[str, ...] = (
    "Module1",
    "Module2",
    "Module3",
    "Occurence",
    *_leg_branches("12"),
    *_leg_branches("23"),
    "diff_dzdr_max",
    "diff_dzdr_min",
    "diff_dydx_max",
    "diff_dydx_min",
)
#: Branches of ``TreeModuleDoublet``, in MMG's order.
MMG_DOUBLET_BRANCHES: tuple[str, ...] = ("Module1", "Module2", *_leg_branches("12"))

#: Name patterns ("{}" = "min" / "max") of the ranges of a triplet and of a doublet.
_TRIPLET_RANGES: tuple[str, ...] = (
    *(f"{q}{{}}_{leg}" for leg in ("12", "23") for q in EXTERNAL_QUANTITIES),
    "diff_dzdr_{}",
    "diff_dydx_{}",
)
_DOUBLET_RANGES: tuple[str, ...] = tuple(f"{q}{{}}_12" for q in EXTERNAL_QUANTITIES)

_UINT32_MAX = np.iinfo(np.uint32).max
_TEXT_CHUNK = 100_000  # lines per parse / format batch
_ROOT_CHUNK = 1 << 20  # entries per basket


class MmgPaths(NamedTuple):
    """The two files of a ModuleMapGraph map."""

    doublets: Path
    triplets: Path


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _external_columns(mm: ModuleMap) -> dict[str, npt.NDArray[np.float64]]:
    """Cut ranges of ``mm`` as external (acorn / MMG) columns by name, float64 [T]."""
    cols: dict[str, npt.NDArray[np.float64]] = {}
    for leg, cuts in (("12", mm.cuts12), ("23", mm.cuts23)):
        for k, q in enumerate(EXTERNAL_QUANTITIES):
            cols[f"{q}min_{leg}"] = cuts[:, k, 0]
            cols[f"{q}max_{leg}"] = cuts[:, k, 1]
    for name, rng in (("diff_dzdr", mm.diff_dzdr), ("diff_dydx", mm.diff_dydx)):
        cols[f"{name}_min"] = rng[:, 0]
        cols[f"{name}_max"] = rng[:, 1]
    return cols


def _check_writable(mm: ModuleMap, max_occurrence: int | None = None) -> None:
    """Raise ValueError for a map no reader would accept back."""
    for name, arr in (
        ("cuts12", mm.cuts12),
        ("cuts23", mm.cuts23),
        ("diff_dzdr", mm.diff_dzdr),
        ("diff_dydx", mm.diff_dydx),
    ):
        if np.isnan(arr).any():
            raise ValueError(f"module map has NaN in {name}; refusing to write it")
        if np.any(arr[..., 0] > arr[..., 1]):
            raise ValueError(f"module map has min > max in {name}; refusing to write it")
    if len(mm.occurrence) and mm.occurrence.min() < 0:
        raise ValueError("module map has a negative occurrence; refusing to write it")
    if max_occurrence is not None and len(mm.occurrence) and mm.occurrence.max() > max_occurrence:
        raise ValueError(
            f"occurrence {int(mm.occurrence.max())} does not fit the format (max {max_occurrence})"
        )


def _assemble(
    ids: npt.NDArray[np.uint64],
    occurrence: npt.NDArray[np.int64],
    cols: dict[str, npt.NDArray[np.float64]],
    path: Path,
    where: Callable[[int], str],
    metadata: dict[str, object],
) -> ModuleMap:
    """Validate external columns (NaN, min > max, duplicates) and build a ModuleMap."""
    for name, values in cols.items():
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            raise InputDataError(f"NaN value at {where(int(bad[0]))}", file=path, field=name)
    for pattern in _TRIPLET_RANGES:
        lo, hi = cols[pattern.format("min")], cols[pattern.format("max")]
        bad = np.flatnonzero(lo > hi)
        if len(bad):
            raise InputDataError(
                f"min > max at {where(int(bad[0]))} ({lo[bad[0]]!r} > {hi[bad[0]]!r}); "
                "are the columns in the right order?",
                file=path,
                field=pattern.format("min"),
            )

    order = np.lexsort((ids[:, 2], ids[:, 1], ids[:, 0]))
    ids_sorted = ids[order]
    dup = np.flatnonzero(np.all(ids_sorted[1:] == ids_sorted[:-1], axis=1))
    if len(dup):
        first = int(order[dup[0] + 1])
        raise InputDataError(
            f"duplicate module triplet {ids[first].tolist()} at {where(first)}",
            file=path,
            field="module ids",
        )
    modules = np.unique(ids)
    triplets = np.searchsorted(modules, ids_sorted).astype(np.int32)

    def leg(suffix: str) -> npt.NDArray[np.float64]:
        lo = np.stack([cols[f"{q}min_{suffix}"] for q in EXTERNAL_QUANTITIES], axis=1)
        hi = np.stack([cols[f"{q}max_{suffix}"] for q in EXTERNAL_QUANTITIES], axis=1)
        return np.stack([lo, hi], axis=2)[order]

    def rng(name: str) -> npt.NDArray[np.float64]:
        return np.stack([cols[f"{name}_min"], cols[f"{name}_max"]], axis=1)[order]

    return ModuleMap(
        modules,
        triplets,
        occurrence[order],
        leg("12"),
        leg("23"),
        rng("diff_dzdr"),
        rng("diff_dydx"),
        metadata,
    )


# ---------------------------------------------------------------------------------------------
# acorn text
# ---------------------------------------------------------------------------------------------


def write_acorn(module_map: ModuleMap, path: str | Path) -> Path:
    """Write ``module_map`` as an acorn text map (one line per triplet); returns the path."""
    path = Path(path)
    mm = module_map
    _check_writable(mm)
    cols = _external_columns(mm)
    values = np.stack([cols[name] for name in ACORN_COLUMNS[4:]], axis=1)  # [T, 20]
    ids = mm.modules[mm.triplets] if mm.n_triplets else np.zeros((0, 3), dtype=np.uint64)
    with _atomic(path) as partial, open(partial, "w", encoding="ascii", newline="\n") as f:
        for start in range(0, mm.n_triplets, _TEXT_CHUNK):
            stop = start + _TEXT_CHUNK
            lines = [
                f"{m[0]} {m[1]} {m[2]} {occ} " + " ".join(map(repr, row)) + "\n"
                for m, occ, row in zip(
                    ids[start:stop].tolist(),
                    mm.occurrence[start:stop].tolist(),
                    values[start:stop].tolist(),
                )
            ]
            f.writelines(lines)
    return path


def _parse_acorn_column(
    tokens: list[str], column: int, line_numbers: list[int], path: Path
) -> np.ndarray:
    """Column ``column`` of a chunk of rows (``tokens``: the rows' tokens, concatenated)."""
    width = len(ACORN_COLUMNS)
    values = tokens[column::width]
    integer = column < 4
    limit = np.iinfo(np.uint64 if column < 3 else np.int64).max
    try:
        if integer:
            # str.isdigit rejects signs, points and exponents; int() then cannot fail.
            if not all(map(str.isdigit, values)):
                raise ValueError
            parsed = list(map(int, values))
            if parsed and max(parsed) > limit:
                raise OverflowError
            return np.array(parsed, dtype=np.uint64 if column < 3 else np.int64)
        return np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    except (ValueError, OverflowError):
        pass
    kind = "a number" if not integer else "a non-negative integer"
    if column < 3:
        kind = "an unsigned 64-bit integer"
    for row, token in enumerate(values):
        ok = token.isdigit() and int(token) <= limit if integer else _is_float(token)
        if not ok:
            raise InputDataError(
                f"cannot read {token!r} as {kind} on line {line_numbers[row]}",
                file=path,
                field=ACORN_COLUMNS[column],
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_acorn(path: str | Path) -> ModuleMap:
    """Read an acorn text map (see the module docstring for the columns)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError("module-map file does not exist", file=path)
    width = len(ACORN_COLUMNS)
    parts: list[list[np.ndarray]] = [[] for _ in range(width)]
    line_of_row: list[int] = []
    tokens: list[str] = []
    numbers: list[int] = []

    def flush() -> None:
        for column in range(width):
            parts[column].append(_parse_acorn_column(tokens, column, numbers, path))
        line_of_row.extend(numbers)
        tokens.clear()
        numbers.clear()

    try:
        with open(path, encoding="ascii", newline=None) as f:
            for number, line in enumerate(f, start=1):
                row = line.split()
                if not row or row[0].startswith("#"):
                    continue
                if len(row) != width:
                    raise InputDataError(
                        f"line {number} has {len(row)} columns, an acorn module map has "
                        f"{width} ({' '.join(ACORN_COLUMNS)})",
                        file=path,
                        field="columns",
                    )
                tokens.extend(row)
                numbers.append(number)
                if len(numbers) >= _TEXT_CHUNK:
                    flush()
            flush()
    except UnicodeDecodeError as err:
        raise InputDataError(f"not a text module map: {err}", file=path) from err

    columns = [np.concatenate(p) for p in parts]
    cols = dict(zip(ACORN_COLUMNS[4:], columns[4:]))
    return _assemble(
        np.stack(columns[:3], axis=1).astype(np.uint64),
        columns[3].astype(np.int64),
        cols,
        path,
        lambda row: f"line {line_of_row[row]}",
        {"source_format": "acorn", "source": str(path)},
    )


# ---------------------------------------------------------------------------------------------
# ModuleMapGraph ROOT pair
# ---------------------------------------------------------------------------------------------


def mmg_prefix(path_or_prefix: str | Path) -> str:
    """The MMG prefix of a prefix, of either file of the pair, or of ``<prefix>.root``."""
    text = os.fspath(path_or_prefix)
    for suffix in (MMG_TRIPLET_SUFFIX, MMG_DOUBLET_SUFFIX, ".root"):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def mmg_paths(path_or_prefix: str | Path) -> MmgPaths:
    """The two file names of the MMG pair with this prefix (or either file's name)."""
    prefix = mmg_prefix(path_or_prefix)
    return MmgPaths(Path(prefix + MMG_DOUBLET_SUFFIX), Path(prefix + MMG_TRIPLET_SUFFIX))


def _round_outward(
    lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """float32 ranges containing the float64 ranges [lo, hi] (min down, max up)."""
    with np.errstate(over="ignore"):
        lo32 = lo.astype(np.float32)
        hi32 = hi.astype(np.float32)
    lo32 = np.where(lo32 > lo, np.nextafter(lo32, np.float32(-np.inf)), lo32)
    hi32 = np.where(hi32 < hi, np.nextafter(hi32, np.float32(np.inf)), hi32)
    return lo32.astype(np.float32), hi32.astype(np.float32)


def _float32_columns(
    cols: dict[str, npt.NDArray[np.float64]], patterns: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float32]]:
    """float32 versions, rounded outward, of the (min, max) column pairs named by ``patterns``."""
    out: dict[str, npt.NDArray[np.float32]] = {}
    for pattern in patterns:
        lo, hi = _round_outward(cols[pattern.format("min")], cols[pattern.format("max")])
        out[pattern.format("min")] = lo
        out[pattern.format("max")] = hi
    return out


def _write_tree(
    partial: Path, name: str, title: str, columns: dict[str, np.ndarray], order: tuple[str, ...]
) -> None:
    with uproot.recreate(partial) as f:
        f.mktree(name, {b: columns[b].dtype for b in order}, title=title)
        n = len(columns[order[0]])
        for start in range(0, n, _ROOT_CHUNK):
            f[name].extend({b: columns[b][start : start + _ROOT_CHUNK] for b in order})


def write_mmg_root(module_map: ModuleMap, prefix: str | Path) -> MmgPaths:
    """Write ``<prefix>.doublets.root`` and ``<prefix>.triplets.root`` (ModuleMapGraph layout).

    Cut ranges are stored as float32, rounded outward (see the module docstring). Returns the
    two paths (doublets, triplets)."""
    mm = module_map
    _check_writable(mm, max_occurrence=int(_UINT32_MAX))
    paths = mmg_paths(prefix)

    ids = mm.modules[mm.triplets] if mm.n_triplets else np.zeros((0, 3), dtype=np.uint64)
    triplet_cols: dict[str, np.ndarray] = {
        "Module1": ids[:, 0].copy(),
        "Module2": ids[:, 1].copy(),
        "Module3": ids[:, 2].copy(),
        "Occurence": mm.occurrence.astype(np.uint32),
    }
    triplet_cols.update(_float32_columns(_external_columns(mm), _TRIPLET_RANGES))

    doublet_ids = mm.modules[mm.doublets] if mm.n_doublets else np.zeros((0, 2), dtype=np.uint64)
    ext = mm.doublet_cuts
    dcols = {}
    for k, q in enumerate(EXTERNAL_QUANTITIES):
        dcols[f"{q}min_12"] = ext[:, k, 0]
        dcols[f"{q}max_12"] = ext[:, k, 1]
    doublet_cols: dict[str, np.ndarray] = {
        "Module1": doublet_ids[:, 0].copy(),
        "Module2": doublet_ids[:, 1].copy(),
    }
    doublet_cols.update(_float32_columns(dcols, _DOUBLET_RANGES))

    # The triplet file last: its presence is what load_module_map looks for.
    with _atomic(paths.doublets) as partial:
        _write_tree(
            partial,
            MMG_DOUBLET_TREE,
            "module doublets and their cut ranges (acts-gnn)",
            doublet_cols,
            MMG_DOUBLET_BRANCHES,
        )
    with _atomic(paths.triplets) as partial:
        _write_tree(
            partial,
            MMG_TRIPLET_TREE,
            "module triplets and their cut ranges (acts-gnn)",
            triplet_cols,
            MMG_TRIPLET_BRANCHES,
        )
    return paths


def _read_tree(path: Path, tree_name: str, branches: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputDataError("module-map file does not exist", file=path)
    try:
        handle = uproot.open(path)
    except Exception as err:  # uproot raises several types for non-ROOT input
        raise InputDataError(f"not a readable ROOT file: {err}", file=path) from err
    with handle:
        if tree_name not in handle:
            raise InputDataError(
                f"no tree {tree_name!r}; the file holds {sorted(k.split(';')[0] for k in handle)}",
                file=path,
                field=tree_name,
            )
        tree = handle[tree_name]
        present = set(tree.keys())
        for name in branches:
            if name not in present:
                raise InputDataError(f"missing branch of tree {tree_name!r}", file=path, field=name)
            try:
                dtype = np.dtype(tree[name].interpretation.to_dtype)
            except (AttributeError, TypeError) as err:
                raise InputDataError(
                    f"branch is not a scalar number ({tree[name].typename})", file=path, field=name
                ) from err
            integer = name.startswith("Module") or name == "Occurence"
            if dtype.kind not in ("iu" if integer else "f"):
                raise InputDataError(
                    f"branch has type {dtype}; expected {'an integer' if integer else 'a float'}",
                    file=path,
                    field=name,
                )
        arrays = tree.arrays(list(branches), library="np")
    out: dict[str, np.ndarray] = {}
    for name in branches:
        values = np.asarray(arrays[name])
        if values.dtype.kind == "i" and len(values) and values.min() < 0:
            row = int(np.flatnonzero(values < 0)[0])
            raise InputDataError(f"negative value at entry {row}", file=path, field=name)
        if name.startswith("Module"):
            out[name] = values.astype(np.uint64)
        elif name == "Occurence":
            out[name] = values.astype(np.int64)
        else:
            out[name] = values.astype(np.float64)
    return out


def read_mmg_root(prefix: str | Path) -> ModuleMap:
    """Read a ModuleMapGraph ROOT pair (``prefix`` or either file's name)."""
    paths = mmg_paths(prefix)
    trip = _read_tree(paths.triplets, MMG_TRIPLET_TREE, MMG_TRIPLET_BRANCHES)
    doub = _read_tree(paths.doublets, MMG_DOUBLET_TREE, MMG_DOUBLET_BRANCHES)

    ids = np.stack([trip["Module1"], trip["Module2"], trip["Module3"]], axis=1)
    cols = {
        k: v for k, v in trip.items() if k not in ("Module1", "Module2", "Module3", "Occurence")
    }
    mm = _assemble(
        ids,
        trip["Occurence"],
        cols,
        paths.triplets,
        lambda row: f"entry {row}",
        {"source_format": "root", "source": str(paths.triplets)},
    )

    # The doublet file: check it against the doublets the triplets imply.
    for name in MMG_DOUBLET_BRANCHES[2:]:
        bad = np.flatnonzero(np.isnan(doub[name]))
        if len(bad):
            raise InputDataError(
                f"NaN value at entry {int(bad[0])}", file=paths.doublets, field=name
            )
    m = np.int64(mm.n_modules)
    i1 = mm.module_index(doub["Module1"])
    i2 = mm.module_index(doub["Module2"])
    known = (i1 >= 0) & (i2 >= 0)
    file_keys = i1[known] * m + i2[known]
    derived_keys = mm.doublets[:, 0].astype(np.int64) * m + mm.doublets[:, 1]
    pos = np.searchsorted(derived_keys, file_keys)
    pos = np.minimum(pos, max(len(derived_keys) - 1, 0))
    used = derived_keys[pos] == file_keys if len(derived_keys) else np.zeros(len(file_keys), bool)
    lo = np.stack([doub[f"{q}min_12"] for q in EXTERNAL_QUANTITIES], axis=1)
    hi = np.stack([doub[f"{q}max_12"] for q in EXTERNAL_QUANTITIES], axis=1)
    file_cuts = np.stack([lo, hi], axis=2)[known][used]
    differ = int(np.count_nonzero(np.any(file_cuts != mm.doublet_cuts[pos[used]], axis=(1, 2))))
    missing = mm.n_doublets - len(np.unique(file_keys[used]))
    unused = len(doub["Module1"]) - int(np.count_nonzero(used))
    mm.metadata.update(
        mmg_doublets=len(doub["Module1"]),
        mmg_doublets_unused=unused,
        mmg_doublets_missing=missing,
        mmg_doublet_cuts_differ=differ,
    )
    if missing or differ:
        log.warning(
            "%s: %d doublets that triplets use are missing and %d have cuts other than the "
            "union of their triplet legs; acts-gnn uses the triplet-derived doublet cuts",
            paths.doublets,
            missing,
            differ,
        )
    return mm


# ---------------------------------------------------------------------------------------------
# Dispatchers
# ---------------------------------------------------------------------------------------------


def _format_from_name(text: str) -> str | None:
    lower = text.lower()
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith((".txt", ".csv")):
        return "acorn"
    if lower.endswith(".root"):
        return "root"
    return None


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown module-map format {fmt!r}; known: {', '.join(FORMATS)}")
    return fmt


def save_module_map(
    module_map: ModuleMap, path_or_prefix: str | Path, format: str | None = None
) -> tuple[Path, ...]:
    """Write ``module_map`` in ``format`` (``"npz"``, ``"compact"``, ``"acorn"`` or ``"root"``;
    None: from the suffix ``.npz`` / ``.txt`` or ``.csv`` / ``.root``). ``"compact"`` writes a
    ``.npz`` with float16 ranges rounded outwards (see :mod:`acts_gnn.graph.module_map.core`).
    ``"root"`` takes a prefix (or either file's name). Returns the paths written."""
    text = os.fspath(path_or_prefix)
    fmt = format if format is not None else _format_from_name(text)
    if fmt is None:
        raise ValueError(
            f"cannot tell the module-map format from {text!r}; pass format= one of {FORMATS}"
        )
    _check_format(fmt)
    if fmt in ("npz", "compact"):
        return (module_map.save(text, compact=fmt == "compact"),)
    if fmt == "acorn":
        return (write_acorn(module_map, text),)
    return tuple(write_mmg_root(module_map, text))


def detect_format(path_or_prefix: str | Path) -> str:
    """The format of an existing module map: by suffix, else by the files that exist."""
    text = os.fspath(path_or_prefix)
    fmt = _format_from_name(text)
    if fmt is not None:
        return fmt
    if Path(text + MMG_TRIPLET_SUFFIX).is_file():
        return "root"
    if Path(text + ".npz").is_file():
        return "npz"
    if Path(text).exists():
        raise InputDataError(
            f"cannot tell the module-map format from the name; pass format= one of {FORMATS}",
            file=text,
        )
    raise InputDataError(
        f"no module map here (looked for {text}, {text}{MMG_TRIPLET_SUFFIX}, {text}.npz)",
        file=text,
    )


def load_module_map(path_or_prefix: str | Path, format: str | None = None) -> ModuleMap:
    """Read a module map in ``format`` (None: see :func:`detect_format`)."""
    fmt = _check_format(format) if format is not None else detect_format(path_or_prefix)
    readers: dict[str, Any] = {
        "npz": ModuleMap.load,
        "compact": ModuleMap.load,
        "acorn": read_acorn,
        "root": read_mmg_root,
    }
    return readers[fmt](path_or_prefix)


__all__ = [
    "ACORN_COLUMNS",
    "FORMATS",
    "MMG_DOUBLET_BRANCHES",
    "MMG_DOUBLET_TREE",
    "MMG_TRIPLET_BRANCHES",
    "MMG_TRIPLET_TREE",
    "MmgPaths",
    "detect_format",
    "load_module_map",
    "mmg_paths",
    "mmg_prefix",
    "read_acorn",
    "read_mmg_root",
    "save_module_map",
    "write_acorn",
    "write_mmg_root",
]

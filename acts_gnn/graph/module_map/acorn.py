"""The acorn text module-map format: one whitespace-separated line of 24 columns per triplet.

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

Units and signs as in :mod:`acts_gnn.graph.module_map.map` (mm, rad; see
:mod:`acts_gnn.graph.module_map.external_columns` for the shared conventions). We write floats
with ``repr`` (shortest string that reads back to the same float64), so the text round trip is
exact; the file is written atomically. acorn reads only this triplet file (ModuleMapGraph also
writes a ``.doublets.txt`` next to it; we do not). Bad input (wrong column count, unparsable
value, NaN, min > max, duplicate triplet) raises :class:`~acts_gnn.errors.InputDataError`
naming the file, the line and the column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.external_columns import (
    EXTERNAL_QUANTITIES,
    check_writable,
    external_columns,
    map_from_external_columns,
)
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.io.atomic import atomic_path

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

_TEXT_CHUNK = 100_000  # lines per parse / format batch


def write_acorn(module_map: ModuleMap, path: str | Path) -> Path:
    """Write ``module_map`` as an acorn text map (one line per triplet); returns the path."""
    path = Path(path)
    mm = module_map
    check_writable(mm)
    cols = external_columns(mm)
    values = np.stack([cols[name] for name in ACORN_COLUMNS[4:]], axis=1)  # [T, 20]
    ids = mm.modules[mm.triplets] if mm.n_triplets else np.zeros((0, 3), dtype=np.uint64)
    with atomic_path(path) as partial, open(partial, "w", encoding="ascii", newline="\n") as f:
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
    return map_from_external_columns(
        np.stack(columns[:3], axis=1).astype(np.uint64),
        columns[3].astype(np.int64),
        cols,
        path,
        lambda row: f"line {line_of_row[row]}",
        {"source_format": "acorn", "source": str(path)},
    )

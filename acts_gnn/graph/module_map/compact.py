"""The compact ``.npz`` encoding of a module map: float16 ranges, rounded outwards.

Written by ``ModuleMap.save(path, compact=True)`` and read back by ``ModuleMap.load`` (which
tells it from the exact encoding by its ``encoding`` entry and always returns float64 arrays);
see :mod:`acts_gnn.graph.module_map.map`. This module works on plain arrays, not on the map.

File layout: module ids once (``modules``, uint64 [M]), triplets as int32 indices into them
(``triplet_modules`` [3, T]; doublets are derived on loading, as for the exact encoding), the
occurrence in the smallest unsigned integer type that holds it, and the 20 range columns
(``range_columns``, names; ``ranges`` float16 [20, T]), each column scaled by its own power of
two (``range_scale_exponents`` int8 [20]; exact) so that most of its values lie in float16's
normal range.

Every bound is rounded *outwards* (:func:`~acts_gnn.graph.module_map.rounding.round_outward`):
a min to the nearest float16 at or below it, a max to the nearest at or above it, so every
loaded interval contains the original one and a graph built with the loaded map contains every
edge the original map gives (edge efficiency can only stay or rise; purity can only fall, by
little: float16 keeps 11 significant bits, a relative step of at most 2**-10 per bound).
Finite non-zero values outside the scaled column's normal float16 range (overflow or
subnormal) are stored as float32 (``float32_index`` int64 [K] flat indices into ``ranges``,
``float32_values`` float32 [K]), also rounded outwards (+-inf beyond float32's range, on the
outer side only). The file's metadata records ``range_rounding="outward"`` and
``range_precision``; the loaded map keeps them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.rounding import round_outward

#: The ``encoding`` entry of a compact file (an exact file has none).
COMPACT_ENCODING = "compact-float16-outward"
#: ``format_version`` of a compact file.
COMPACT_VERSION = 1

_F16_MAX = float(np.finfo(np.float16).max)  # 65504
_F16_TINY = float(np.finfo(np.float16).tiny)  # 2**-14, the smallest normal float16
#: Largest power-of-two column scale; keeps scaled float16 values exact in float64.
_MAX_SCALE_EXPONENT = 60

#: The arrays a compact file must hold (besides ``encoding`` and ``format_version``).
_COMPACT_ARRAYS = {
    "modules",
    "triplet_modules",
    "occurrence",
    "ranges",
    "range_scale_exponents",
    "float32_index",
    "float32_values",
}


def _scale_exponent(values: npt.NDArray[np.float64]) -> int:
    """The power of two 2**s (|s| <= _MAX_SCALE_EXPONENT; smallest |s| among the best) that
    puts the most finite non-zero ``values`` into float16's normal range when multiplied in."""
    a = np.abs(values[np.isfinite(values) & (values != 0)])
    if not len(a):
        return 0
    exps, counts = np.unique(np.frexp(a)[1], return_counts=True)  # a in [2**(e-1), 2**e)
    best, best_count = 0, -1
    for s in sorted(range(-_MAX_SCALE_EXPONENT, _MAX_SCALE_EXPONENT + 1), key=abs):
        # 2**(e+s-1) >= 2**-14 and 2**(e+s) <= 2**15 (<= 65504 is checked exactly later)
        good = int(counts[(exps + s >= -13) & (exps + s <= 15)].sum())
        if good > best_count:
            best, best_count = s, good
    return best


def encode_ranges_float16(
    columns: npt.NDArray[np.float64], up: list[bool]
) -> tuple[
    npt.NDArray[np.float16],
    npt.NDArray[np.int8],
    npt.NDArray[np.int64],
    npt.NDArray[np.float32],
]:
    """Compact encoding of float64 ``columns`` [C, T] (no NaN): column c is rounded up where
    ``up[c]`` (a max), else down (a min). Returns float16 [C, T] (column c scaled by
    2**exponents[c]), exponents [C], and the flat indices and float32 values (rounded the same
    way) of the finite non-zero entries outside the scaled normal float16 range (their float16
    entry is 0)."""
    columns = np.asarray(columns, dtype=np.float64)
    c, t = columns.shape
    ranges = np.zeros((c, t), dtype=np.float16)
    exponents = np.zeros(c, dtype=np.int8)
    exception_index: list[npt.NDArray[np.int64]] = []
    exception_values: list[npt.NDArray[np.float32]] = []
    for k in range(c):
        v = columns[k]
        s = _scale_exponent(v)
        exponents[k] = s
        a = np.abs(v)
        low, high = np.ldexp(_F16_TINY, -s), np.ldexp(_F16_MAX, -s)  # exact
        outside = np.isfinite(v) & (v != 0) & ((a < low) | (a > high))
        inside = ~outside
        ranges[k, inside] = round_outward(np.ldexp(v[inside], s), np.float16, up[k])
        rows = np.flatnonzero(outside)
        exception_index.append(k * t + rows)
        exception_values.append(round_outward(v[rows], np.float32, up[k]))
    return (
        ranges,
        exponents,
        np.concatenate(exception_index).astype(np.int64),
        np.concatenate(exception_values).astype(np.float32),
    )


def decode_ranges_float16(
    ranges: npt.NDArray[np.float16],
    exponents: npt.ArrayLike,
    exception_index: npt.ArrayLike,
    exception_values: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Inverse of :func:`encode_ranges_float16`: float64 [C, T] (exact, no further rounding)."""
    c, t = ranges.shape
    exps = np.asarray(exponents)
    index = np.asarray(exception_index)
    values = np.asarray(exception_values)
    if exps.shape != (c,) or exps.dtype.kind not in "iu" or np.any(np.abs(exps) > 64):
        raise ValueError(f"bad range_scale_exponents {exps.shape} {exps.dtype}")
    if index.ndim != 1 or index.shape != values.shape or index.dtype.kind not in "iu":
        raise ValueError("float32_index and float32_values do not match")
    if len(index) and (index.min() < 0 or index.max() >= c * t):
        raise ValueError("float32_index outside the ranges")
    out = np.ldexp(ranges.astype(np.float64), -exps.astype(np.int64)[:, None])
    out.reshape(-1)[index] = values.astype(np.float64)
    return out


def compact_arrays(
    modules: npt.NDArray[np.uint64],
    triplets: npt.NDArray[np.integer],
    occurrence: npt.NDArray[np.int64],
    columns: npt.NDArray[np.float64],
    column_names: tuple[str, ...],
    metadata: dict[str, object],
) -> dict[str, Any]:
    """The arrays of a compact file (for ``np.savez``): module ids [M], triplets [T, 3] (module
    indices), occurrences [T] (>= 0), float64 ranges ``columns`` [C, T] (no NaN) named by
    ``column_names`` (a name ending in ``_max`` is rounded up, any other down) and the map's
    ``metadata`` (the rounding is added to it)."""
    ranges, exponents, exception_index, exception_values = encode_ranges_float16(
        columns, [name.endswith("_max") for name in column_names]
    )
    top = int(occurrence.max()) if len(occurrence) else 0
    occurrence_type = next(
        t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if top <= np.iinfo(t).max
    )
    metadata = dict(
        metadata,
        range_rounding="outward",
        range_precision=(
            "float16 (11 significant bits), each column scaled by a power of two; "
            "float32 where outside float16's normal range"
        ),
        range_float32_values=len(exception_values),
    )
    return dict(
        encoding=np.array(COMPACT_ENCODING),
        format_version=np.int64(COMPACT_VERSION),
        modules=modules,
        triplet_modules=np.ascontiguousarray(triplets.T, dtype=np.int32),
        occurrence=occurrence.astype(occurrence_type),
        range_columns=np.array(column_names),
        ranges=ranges,
        range_scale_exponents=exponents,
        float32_index=exception_index,
        float32_values=exception_values,
        metadata=np.array(repr(metadata)),
    )


def read_compact(
    data: Any, path: Path, n_columns: int
) -> tuple[
    npt.NDArray[np.uint64],
    npt.NDArray[np.int32],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
]:
    """Check and decode the arrays of a compact file (``data``: the open ``np.load`` archive
    of ``path``, ``n_columns`` range columns expected). Returns module ids [M], triplets
    [T, 3], occurrences int64 [T] and the float64 ranges [n_columns, T]; bad content raises
    :class:`~acts_gnn.errors.InputDataError` naming ``path``."""
    names = set(data.files)
    if not _COMPACT_ARRAYS.issubset(names):
        raise InputDataError(
            f"not a compact acts-gnn module map: missing {sorted(_COMPACT_ARRAYS - names)}",
            file=path,
        )
    version = int(data["format_version"]) if "format_version" in names else -1
    if version != COMPACT_VERSION:
        raise InputDataError(
            f"compact module-map version {version}; this acts-gnn reads {COMPACT_VERSION}",
            file=path,
        )
    triplets = data["triplet_modules"]
    ranges = data["ranges"]
    t = triplets.shape[-1] if triplets.ndim == 2 else -1
    if triplets.shape != (3, t) or ranges.shape != (n_columns, t) or ranges.dtype != np.float16:
        raise InputDataError(
            f"compact module map with inconsistent shapes: triplet_modules "
            f"{triplets.shape}, ranges {ranges.shape} {ranges.dtype}",
            file=path,
        )
    try:
        columns = decode_ranges_float16(
            ranges,
            data["range_scale_exponents"],
            data["float32_index"],
            data["float32_values"],
        )
    except ValueError as err:
        raise InputDataError(f"bad compact module map: {err}", file=path) from err
    occurrence = data["occurrence"]
    if occurrence.dtype.kind not in "iu" or np.any(occurrence > np.iinfo(np.int64).max):
        raise InputDataError("occurrence is not a 64-bit integer count", file=path)
    return data["modules"], triplets.T, occurrence.astype(np.int64), columns

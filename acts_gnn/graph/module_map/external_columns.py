"""The column vocabulary the external module-map formats share (acorn text, ModuleMapGraph ROOT).

Both formats store one row per module triplet: three module ids, an occurrence count and the
min and max of every cut quantity, under ModuleMapGraph's names (``z0``, ``dphi``,
``phiSlope``, ``deta`` with suffix ``_12`` / ``_23``, then ``diff_dzdr`` and ``diff_dydx``).
:func:`external_columns` names the ranges of a map that way; :func:`map_from_external_columns`
checks such columns (NaN, min > max, duplicate triplets) and builds the map;
:func:`check_writable` refuses a map that no reader would accept back.

Conventions: our module maps use the ModuleMapGraph/acorn quantities, signs included (deta =
eta(inner) - eta(outer); diff_dydx = -dy/dx(12) - dy/dx(23)), so ranges are copied without
conversion. Where dr = 0 (never in practice) ModuleMapGraph stores +-FLT_MAX for z0 and the
slopes, where we compute 0 and z(inner); see :mod:`acts_gnn.graph.module_map.map`. Readers
return the triplets in lexicographic order of module ids (the order both tools write), with
:attr:`ModuleMap.modules` = the modules used by some triplet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from acts_gnn.graph.module_map.map import DOUBLET_CUT_QUANTITIES, ModuleMap, check_map_arrays

#: External (MMG / acorn) names of the doublet quantities, in our cut-array order.
EXTERNAL_QUANTITIES = ("z0", "dphi", "phiSlope", "deta")
assert len(EXTERNAL_QUANTITIES) == len(DOUBLET_CUT_QUANTITIES)

#: Name patterns ("{}" = "min" / "max") of the ranges of a triplet.
TRIPLET_RANGES: tuple[str, ...] = (
    *(f"{q}{{}}_{leg}" for leg in ("12", "23") for q in EXTERNAL_QUANTITIES),
    "diff_dzdr_{}",
    "diff_dydx_{}",
)
#: External names of the 20 range columns, in :data:`~acts_gnn.graph.module_map.map.
#: RANGE_COLUMNS` order (each min right before its max).
EXTERNAL_RANGE_COLUMNS: tuple[str, ...] = tuple(
    pattern.format(bound) for pattern in TRIPLET_RANGES for bound in ("min", "max")
)
#: Name patterns ("{}" = "min" / "max") of the ranges of a doublet.
DOUBLET_RANGES: tuple[str, ...] = tuple(f"{q}{{}}_12" for q in EXTERNAL_QUANTITIES)


def external_columns(mm: ModuleMap) -> dict[str, npt.NDArray[np.float64]]:
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


def check_writable(mm: ModuleMap, max_occurrence: int | None = None) -> None:
    """Raise ValueError for a map no reader would accept back (NaN, min > max, a negative
    occurrence, or one above ``max_occurrence``, the largest count the format stores)."""
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


def map_from_external_columns(
    ids: npt.NDArray[np.uint64],
    occurrence: npt.NDArray[np.int64],
    cols: dict[str, npt.NDArray[np.float64]],
    path: Path,
    where: Callable[[int], str],
    metadata: dict[str, object],
) -> ModuleMap:
    """Check external columns (:func:`~acts_gnn.graph.module_map.map.check_map_arrays`: NaN,
    min > max, negative occurrence, duplicate triplets) and build the map.

    ``ids`` uint64 [T, 3] module ids per row, ``occurrence`` [T], ``cols`` float64 [T] per
    external range name (every ``TRIPLET_RANGES`` pattern, min and max); ``path`` and
    ``where(row)`` (e.g. ``"line 7"``) name the place of bad input in the
    :class:`~acts_gnn.errors.InputDataError`. The map's triplets are sorted by module ids."""
    check_map_arrays(
        np.stack([cols[name] for name in EXTERNAL_RANGE_COLUMNS]),
        occurrence,
        ids,
        path,
        where,
        EXTERNAL_RANGE_COLUMNS,
    )
    order = np.lexsort((ids[:, 2], ids[:, 1], ids[:, 0]))
    ids_sorted = ids[order]
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

"""Accumulating truth triplets into a :class:`~acts_gnn.graph.module_map.map.ModuleMap`.

:func:`truth_triplets` turns a truth graph into hit triplets, :func:`triplet_samples` computes
their ten cut quantities (see :mod:`acts_gnn.graph.module_map.map`), and
:class:`ModuleMapBuilder` collects them over events into per-module-triplet occurrence counts
and [min, max] ranges (a hash table in the C++ core); :func:`merge_module_maps` unites maps built from different events. The
event loop itself (truth selection, detector symmetries) is
:func:`acts_gnn.graph.module_map.build.build_module_map`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.map import DOUBLET_CUT_QUANTITIES, ModuleMap
from acts_gnn.graph.module_map.margins import RANGE_MARGIN_KEY

#: Columns of the doublet-feature array of ``_core.doublet_features`` used for the cuts.
_CUT_COLUMNS = [_core.DOUBLET_COLUMNS.index(q) for q in DOUBLET_CUT_QUANTITIES]
#: Sign turning each ``doublet_features`` column into the module-map quantity (deta flips).
_CUT_SIGNS = np.array([-1.0 if q == "deta" else 1.0 for q in DOUBLET_CUT_QUANTITIES])


def triplet_samples(
    positions: npt.NDArray[np.float64], hits: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Cut quantities of hit triplets: [T, 10] = 12-leg (z0, dphi, phi_slope, deta),
    23-leg (same), diff_dzdr, diff_dydx. ``positions`` [N, 3] mm; ``hits`` [T, 3] rows."""
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    a, b, c = hits[:, 0], hits[:, 1], hits[:, 2]
    f12 = _core.doublet_features(x, y, z, a, b)[:, _CUT_COLUMNS] * _CUT_SIGNS
    f23 = _core.doublet_features(x, y, z, b, c)[:, _CUT_COLUMNS] * _CUT_SIGNS
    ft = _core.triplet_features(x, y, z, a, b, c)
    return np.concatenate([f12, f23, ft], axis=1)


class TripletRows(NamedTuple):
    """Accumulated module triplets: module ids uint64 [U, 3], [min, max] of the 10 cut
    quantities (lo, hi float64 [U, 10]) and occurrence counts int64 [U]. As
    :meth:`ModuleMapBuilder.rows` and :func:`merge_rows` return them: sorted by module ids,
    each module triplet once."""

    module_ids: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.float64]
    hi: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]


class ModuleMapBuilder:
    """Accumulates truth triplets over events and turns them into a :class:`ModuleMap`.

    ``add(module_ids [T, 3] uint64, samples [T, 10])`` takes triplets (see
    :func:`triplet_samples`). The rows go straight into a hash table of the C++ core
    (``_core.TripletAccumulator``: one entry per module triplet, its count and [min, max]
    of each quantity), so memory grows with the distinct module triplets, not with the
    samples, and no step re-sorts what was added before. Adding is exact and independent
    of the order of the rows, so maps of different events merged with :meth:`add_map`
    equal one built from all of them.
    """

    def __init__(self) -> None:
        self._accumulator = _core.TripletAccumulator()

    @property
    def samples_added(self) -> int:
        """Sum of the occurrence counts added so far."""
        return int(self._accumulator.samples)

    def add(self, module_ids: npt.NDArray[np.uint64], samples: npt.NDArray[np.float64]) -> None:
        """Add triplet samples: module ids [T, 3] and quantities [T, 10]."""
        samples = np.asarray(samples, np.float64)
        if len(module_ids) != len(samples):
            raise ValueError("module_ids and samples differ in length")
        _check_finite(samples)
        self._accumulator.add_samples(np.asarray(module_ids, np.uint64), samples)

    def add_ranges(
        self,
        module_ids: npt.NDArray[np.uint64],
        lo: npt.NDArray[np.float64],
        hi: npt.NDArray[np.float64],
        counts: npt.NDArray[np.int64],
    ) -> None:
        """Add already-reduced rows: [min, max] of the 10 quantities and occurrence counts."""
        if not (len(module_ids) == len(lo) == len(hi) == len(counts)):
            raise ValueError("module_ids, lo, hi and counts differ in length")
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        _check_finite(lo)
        _check_finite(hi)
        self._accumulator.add_ranges(
            np.asarray(module_ids, np.uint64), lo, hi, np.asarray(counts, np.int64)
        )

    def add_map(self, module_map: ModuleMap) -> None:
        """Merge a whole map (e.g. one built from other events) into this builder; a map
        widened by :func:`~acts_gnn.graph.module_map.margins.widen_ranges` is refused."""
        mm = module_map
        if RANGE_MARGIN_KEY in mm.metadata:
            raise ValueError(
                f"cannot merge a widened map (range_margin {mm.metadata[RANGE_MARGIN_KEY]}): "
                "its ranges are not sample ranges; merge the raw maps, then widen"
            )
        self.add_ranges(
            mm.modules[mm.triplets],
            np.concatenate(
                [mm.cuts12[:, :, 0], mm.cuts23[:, :, 0], mm.diff_dzdr[:, :1], mm.diff_dydx[:, :1]],
                axis=1,
            ),
            np.concatenate(
                [mm.cuts12[:, :, 1], mm.cuts23[:, :, 1], mm.diff_dzdr[:, 1:], mm.diff_dydx[:, 1:]],
                axis=1,
            ),
            mm.occurrence,
        )

    def rows(self) -> TripletRows:
        """Every module triplet added so far, one row each, sorted by module ids: what
        :func:`merge_rows`, :meth:`add_rows` of another builder and :func:`rows_to_map` take
        (lighter to send than a map: no derived doublets)."""
        return TripletRows(*self._accumulator.result())

    def add_rows(self, rows: TripletRows) -> None:
        """Add the :meth:`rows` of another builder (exact, like :meth:`add_map`)."""
        self.add_ranges(rows.module_ids, rows.lo, rows.hi, rows.counts)

    def build(self, metadata: dict[str, object] | None = None) -> ModuleMap:
        """The map of every row added so far (``metadata`` plus ``samples``: rows added);
        triplets ordered by their module ids, modules sorted."""
        return rows_to_map(self.rows(), metadata)


def merge_rows(a: TripletRows, b: TripletRows) -> TripletRows:
    """The rows of two builders together, exactly as one builder fed both would hold them
    (sorted; ranges united, counts summed): one linear pass over the two sorted row sets,
    much cheaper than adding them to a new builder. ValueError for unsorted rows."""
    return TripletRows(*_core.merge_triplet_rows(*a, *b))


def _sorted_by_ids(ids: npt.NDArray[np.uint64]) -> bool:
    """Whether module-id rows [U, 3] are in strictly increasing lexicographic order."""
    if len(ids) < 2:
        return True
    prev, cur = ids[:-1], ids[1:]
    less = cur[:, 2] > prev[:, 2]
    for k in (1, 0):
        less = (cur[:, k] > prev[:, k]) | ((cur[:, k] == prev[:, k]) & less)
    return bool(less.all())


def rows_to_map(rows: TripletRows, metadata: dict[str, object] | None = None) -> ModuleMap:
    """The map of accumulated rows (one per distinct module triplet, in any order; sorted
    rows, as builders return them, skip the sort), with ``metadata`` plus ``samples`` (the
    sum of the counts); triplets ordered by their module ids, modules sorted."""
    module_ids, lo, hi, counts = rows
    if not _sorted_by_ids(module_ids):
        order = np.lexsort((module_ids[:, 2], module_ids[:, 1], module_ids[:, 0]))
        module_ids, lo, hi, counts = module_ids[order], lo[order], hi[order], counts[order]
    modules = np.unique(module_ids)
    if len(modules) > np.iinfo(np.int32).max:
        raise ValueError(f"more than {np.iinfo(np.int32).max} modules in one map")
    return ModuleMap(
        modules,
        np.searchsorted(modules, module_ids).astype(np.int32),
        counts,
        np.stack([lo[:, 0:4], hi[:, 0:4]], axis=2),
        np.stack([lo[:, 4:8], hi[:, 4:8]], axis=2),
        np.stack([lo[:, 8], hi[:, 8]], axis=1),
        np.stack([lo[:, 9], hi[:, 9]], axis=1),
        dict(metadata or {}, samples=int(counts.sum())),
    )


def _check_finite(values: npt.NDArray[np.float64]) -> None:
    if not np.all(np.isfinite(values)):
        raise InputDataError("non-finite triplet quantities", field="triplet samples")


def merge_module_maps(
    maps: list[ModuleMap], metadata: dict[str, object] | None = None
) -> ModuleMap:
    """One map holding every triplet of ``maps``: ranges united, occurrences summed."""
    builder = ModuleMapBuilder()
    for module_map in maps:
        builder.add_map(module_map)
    events = sum(int(m.metadata.get("events", 0)) for m in maps)  # type: ignore[call-overload]
    return builder.build(dict(metadata or {}, events=events, merged_from=len(maps)))


def truth_triplets(edges: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Hit triplets [T, 3] from a truth graph whose edges are grouped per particle in order
    (as :func:`acts_gnn.graph.truth.truth_graph` returns them): consecutive edges that share
    a hit form a triplet."""
    if edges.shape[1] < 2:
        return np.zeros((0, 3), dtype=np.int64)
    chained = edges[1, :-1] == edges[0, 1:]
    return np.stack([edges[0, :-1][chained], edges[1, :-1][chained], edges[1, 1:][chained]], axis=1)

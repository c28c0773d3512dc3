"""Accumulating truth triplets into a :class:`~acts_gnn.graph.module_map.map.ModuleMap`.

:func:`truth_triplets` turns a truth graph into hit triplets, :func:`triplet_samples` computes
their ten cut quantities (see :mod:`acts_gnn.graph.module_map.map`), and
:class:`ModuleMapBuilder` collects them over events into per-module-triplet occurrence counts
and [min, max] ranges; :func:`merge_module_maps` unites maps built from different events. The
event loop itself (truth selection, detector symmetries) is
:func:`acts_gnn.graph.module_map.build.build_module_map`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.map import DOUBLET_CUT_QUANTITIES, ModuleMap

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


#: Bits per module index in a packed triplet key (three indices in one int64).
_INDEX_BITS = 21


def _pack(indices: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """[n, 3] module indices (< 2**21) -> [n] int64 keys ordered like the index triplets."""
    i = indices.astype(np.int64)
    return (i[:, 0] << (2 * _INDEX_BITS)) | (i[:, 1] << _INDEX_BITS) | i[:, 2]


def _unpack(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Inverse of :func:`_pack`: [n] keys -> [n, 3] module indices."""
    mask = (1 << _INDEX_BITS) - 1
    return np.stack([keys >> (2 * _INDEX_BITS), (keys >> _INDEX_BITS) & mask, keys & mask], axis=1)


def _reduce(
    keys: npt.NDArray[np.int64],
    lo: npt.NDArray[np.float64],
    hi: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray, npt.NDArray]:
    """Group rows with equal packed keys [n]: min of lo, max of hi, sum of counts."""
    if not len(keys):
        return keys, lo, hi, counts
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return (
        keys[starts],
        np.minimum.reduceat(lo[order], starts, axis=0),
        np.maximum.reduceat(hi[order], starts, axis=0),
        np.add.reduceat(counts[order], starts),
    )


class ModuleMapBuilder:
    """Accumulates truth triplets over events and turns them into a :class:`ModuleMap`.

    ``add(module_ids [T, 3] uint64, samples [T, 10])`` takes triplets (see
    :func:`triplet_samples`); batches are merged every ``flush_rows`` rows to bound memory.
    Internally triplets are keyed by the indices of their modules among all modules seen so
    far, packed into one int64, so merging is one integer sort.
    """

    def __init__(self, flush_rows: int = 2_000_000) -> None:
        self.flush_rows = flush_rows
        self._modules = np.zeros(0, dtype=np.uint64)
        self._keys = np.zeros(0, dtype=np.int64)
        self._lo = np.zeros((0, 10))
        self._hi = np.zeros((0, 10))
        self._counts = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[npt.NDArray, npt.NDArray, npt.NDArray, npt.NDArray]] = []
        self._pending_rows = 0
        self.samples_added = 0

    def add(self, module_ids: npt.NDArray[np.uint64], samples: npt.NDArray[np.float64]) -> None:
        """Add triplet samples: module ids [T, 3] and quantities [T, 10]."""
        samples = np.asarray(samples, np.float64)
        self.add_ranges(module_ids, samples, samples, np.ones(len(samples), dtype=np.int64))

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
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise InputDataError("non-finite triplet quantities", field="triplet samples")
        self._pending.append(
            (
                np.asarray(module_ids, np.uint64),
                np.asarray(lo, np.float64),
                np.asarray(hi, np.float64),
                np.asarray(counts, np.int64),
            )
        )
        self._pending_rows += len(module_ids)
        self.samples_added += int(np.sum(counts))
        if self._pending_rows >= self.flush_rows:
            self._flush()

    def add_map(self, module_map: ModuleMap) -> None:
        """Merge a whole map (e.g. one built from other events) into this builder."""
        mm = module_map
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

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = np.concatenate([p[0] for p in self._pending]).reshape(-1, 3)
        modules = np.union1d(self._modules, batch.ravel())
        if len(modules) >= 1 << _INDEX_BITS:
            raise ValueError(f"more than {1 << _INDEX_BITS} modules in one map")
        if len(modules) != len(self._modules):  # re-index the state (order is preserved)
            remap = np.searchsorted(modules, self._modules).astype(np.int64)
            self._keys = _pack(remap[_unpack(self._keys)]) if len(self._keys) else self._keys
            self._modules = modules
        keys = np.concatenate([self._keys, _pack(np.searchsorted(modules, batch))])
        lo = np.concatenate([self._lo] + [p[1] for p in self._pending])
        hi = np.concatenate([self._hi] + [p[2] for p in self._pending])
        counts = np.concatenate([self._counts] + [p[3] for p in self._pending])
        self._keys, self._lo, self._hi, self._counts = _reduce(keys, lo, hi, counts)
        self._pending = []
        self._pending_rows = 0

    def build(self, metadata: dict[str, object] | None = None) -> ModuleMap:
        """The map of every row added so far (``metadata`` plus ``samples``: rows added)."""
        self._flush()
        triplets = _unpack(self._keys)
        used = np.unique(triplets)  # every module seen is used, but keep the map minimal
        lo, hi = self._lo, self._hi
        return ModuleMap(
            self._modules[used],
            np.searchsorted(used, triplets).astype(np.int32),
            self._counts,
            np.stack([lo[:, 0:4], hi[:, 0:4]], axis=2),
            np.stack([lo[:, 4:8], hi[:, 4:8]], axis=2),
            np.stack([lo[:, 8], hi[:, 8]], axis=1),
            np.stack([lo[:, 9], hi[:, 9]], axis=1),
            dict(metadata or {}, samples=int(self.samples_added)),
        )


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

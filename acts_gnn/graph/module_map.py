"""The module map: which module triplets truth tracks cross, and the ranges of their geometry.

Built from simulated events (:class:`ModuleMapBuilder`), stored in our compact ``.npz`` format
(:meth:`ModuleMap.save` / :meth:`ModuleMap.load`; the acorn text and ModuleMapGraph ROOT formats
are in :mod:`acts_gnn.graph.module_map_formats`), and applied to new events by
:class:`ModuleMapGraphBuilder` with the C++ core.

A *triplet* (m1, m2, m3) is three modules crossed one after the other by a truth particle. For
each we keep the occurrence count and the [min, max] of

* z0, dphi, phi_slope, deta of its (m1, m2) and (m2, m3) doublets, and
* diff_dzdr = dz/dr(12) - dz/dr(23) and diff_dydx = -dy/dx(12) - dy/dx(23).

The quantities are those of ModuleMapGraph and acorn, signs included (deta = eta(inner) -
eta(outer), and their diff_dydx), so maps move between the three without conversion; z0,
dphi, phi_slope as in ``acts_gnn._core.doublet_features``. Where dr = 0 (never seen in
practice) our slopes are 0 and z0 = z(inner), where ModuleMapGraph stores +-FLT_MAX.

The doublet (m1, m2) cuts are the union of the ranges of every triplet it is a leg of: an edge
must first pass its doublet's cuts and then be a leg of at least one triplet whose cuts both
legs pass, sharing the middle hit.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.errors import InputDataError

#: The doublet quantities with cuts, in the column order of every cut array.
DOUBLET_CUT_QUANTITIES = ("z0", "dphi", "phi_slope", "deta")
#: Columns of the doublet-feature array of ``_core.doublet_features`` used for the cuts.
_CUT_COLUMNS = [_core.DOUBLET_COLUMNS.index(q) for q in DOUBLET_CUT_QUANTITIES]
#: Sign turning each ``doublet_features`` column into the module-map quantity (deta flips).
_CUT_SIGNS = np.array([-1.0 if q == "deta" else 1.0 for q in DOUBLET_CUT_QUANTITIES])
#: Standard GNN edge features (the first six columns of ``_core.doublet_features``).
EDGE_FEATURES = ("dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope")

FORMAT_VERSION = 1


@dataclass
class ModuleMap:
    """A module map as flat arrays (see the module docstring).

    modules: uint64 [M] sorted geometry ids; triplets: int32 [T, 3] module indices, sorted;
    occurrence: int64 [T]; cuts12, cuts23: float64 [T, 4, 2] (min, max of z0, dphi, phi_slope,
    deta); diff_dzdr, diff_dydx: float64 [T, 2]. Doublets are derived on construction.
    """

    modules: npt.NDArray[np.uint64]
    triplets: npt.NDArray[np.integer]
    occurrence: npt.NDArray[np.int64]
    cuts12: npt.NDArray[np.float64]
    cuts23: npt.NDArray[np.float64]
    diff_dzdr: npt.NDArray[np.float64]
    diff_dydx: npt.NDArray[np.float64]
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.modules = np.ascontiguousarray(self.modules, dtype=np.uint64)
        self.triplets = np.ascontiguousarray(self.triplets, dtype=np.int32).reshape(-1, 3)
        t = len(self.triplets)
        self.occurrence = np.ascontiguousarray(self.occurrence, dtype=np.int64).reshape(t)
        self.cuts12 = np.ascontiguousarray(self.cuts12, dtype=np.float64).reshape(t, 4, 2)
        self.cuts23 = np.ascontiguousarray(self.cuts23, dtype=np.float64).reshape(t, 4, 2)
        self.diff_dzdr = np.ascontiguousarray(self.diff_dzdr, dtype=np.float64).reshape(t, 2)
        self.diff_dydx = np.ascontiguousarray(self.diff_dydx, dtype=np.float64).reshape(t, 2)
        if len(self.modules) > 1 and np.any(self.modules[1:] <= self.modules[:-1]):
            raise ValueError("module ids must be sorted and unique")
        if t and (self.triplets.min() < 0 or self.triplets.max() >= len(self.modules)):
            raise ValueError("triplet module index outside the module list")
        self._derive_doublets()

    def _derive_doublets(self) -> None:
        m = np.int64(len(self.modules))
        legs12 = self.triplets[:, 0].astype(np.int64) * m + self.triplets[:, 1]
        legs23 = self.triplets[:, 1].astype(np.int64) * m + self.triplets[:, 2]
        keys, inverse = np.unique(np.concatenate([legs12, legs23]), return_inverse=True)
        t = len(self.triplets)
        self.doublets = np.stack([keys // m, keys % m], axis=1).astype(np.int32)
        self.triplet_doublets = np.stack([inverse[:t], inverse[t:]], axis=1).astype(np.int32)
        cuts = np.concatenate([self.cuts12, self.cuts23])  # [2T, 4, 2]
        d = len(keys)
        lo = np.full((d, 4), np.inf)
        hi = np.full((d, 4), -np.inf)
        np.minimum.at(lo, inverse, cuts[:, :, 0])
        np.maximum.at(hi, inverse, cuts[:, :, 1])
        self.doublet_cuts = np.stack([lo, hi], axis=2)

    # -- sizes ------------------------------------------------------------------------------
    @property
    def n_modules(self) -> int:
        return len(self.modules)

    @property
    def n_doublets(self) -> int:
        return len(self.doublets)

    @property
    def n_triplets(self) -> int:
        return len(self.triplets)

    def __repr__(self) -> str:
        return (
            f"ModuleMap({self.n_modules} modules, {self.n_doublets} doublets, "
            f"{self.n_triplets} triplets)"
        )

    def module_index(self, geometry_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index of each geometry id in :attr:`modules`, -1 where the module is not in the map."""
        ids = np.asarray(geometry_ids, dtype=np.uint64)
        if not len(self.modules):
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.modules, ids), len(self.modules) - 1)
        return np.where(self.modules[pos] == ids, pos, -1).astype(np.int64)

    def pruned(self, min_occurrence: int) -> ModuleMap:
        """A copy without the triplets seen fewer than ``min_occurrence`` times."""
        keep = self.occurrence >= min_occurrence
        used = np.unique(self.triplets[keep])
        remap = np.full(self.n_modules, -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return ModuleMap(
            self.modules[used],
            remap[self.triplets[keep]],
            self.occurrence[keep],
            self.cuts12[keep],
            self.cuts23[keep],
            self.diff_dzdr[keep],
            self.diff_dydx[keep],
            dict(self.metadata, min_occurrence=min_occurrence),
        )

    def equals(self, other: ModuleMap) -> bool:
        """Same modules, triplets, counts and cut values (bit for bit)."""
        return all(
            np.array_equal(getattr(self, a), getattr(other, a))
            for a in (
                "modules",
                "triplets",
                "occurrence",
                "cuts12",
                "cuts23",
                "diff_dzdr",
                "diff_dydx",
            )
        )

    # -- our own format ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the compact ``.npz`` format (atomically); returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        with open(partial, "wb") as f:
            np.savez_compressed(
                f,
                format_version=np.int64(FORMAT_VERSION),
                modules=self.modules,
                triplets=self.triplets,
                occurrence=self.occurrence,
                cuts12=self.cuts12,
                cuts23=self.cuts23,
                diff_dzdr=self.diff_dzdr,
                diff_dydx=self.diff_dydx,
                metadata=np.array(repr(self.metadata)),
            )
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModuleMap:
        """Read a map written by :meth:`save`."""
        path = Path(path)
        if not path.is_file() and path.with_name(path.name + ".npz").is_file():
            path = path.with_name(path.name + ".npz")
        if not path.is_file():
            raise InputDataError("module-map file does not exist", file=path)
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise InputDataError(f"not an .npz module map ({err})", file=path) from err
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise InputDataError("not an .npz module map (a single .npy array)", file=path)
        with archive as data:
            names = set(data.files)
            needed = {
                "modules",
                "triplets",
                "occurrence",
                "cuts12",
                "cuts23",
                "diff_dzdr",
                "diff_dydx",
            }
            if not needed <= names:
                raise InputDataError(
                    f"not an acts-gnn module map: missing {sorted(needed - names)}", file=path
                )
            import ast

            metadata = ast.literal_eval(str(data["metadata"])) if "metadata" in names else {}
            return cls(
                data["modules"],
                data["triplets"],
                data["occurrence"],
                data["cuts12"],
                data["cuts23"],
                data["diff_dzdr"],
                data["diff_dydx"],
                metadata,
            )


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------


@dataclass
class ModuleMapGraph:
    """Output of :class:`ModuleMapGraphBuilder`: edges, edge features and bookkeeping."""

    edge_index: npt.NDArray[np.int64]  # [2, E] hit rows, inner -> outer
    edge_features: npt.NDArray[np.float32]  # [E, 6] EDGE_FEATURES
    doublet_edges: int  # edges that passed the doublet cuts (before the triplet cuts)
    hits_unknown_module: int  # hits whose module is not in the map (they get no edge)


class ModuleMapGraphBuilder:
    """Graph construction with a module map on CPU (C++ core, ``n_threads`` threads)."""

    def __init__(self, module_map: ModuleMap, n_threads: int = 1) -> None:
        self.module_map = module_map
        self.n_threads = n_threads
        mm = module_map
        self._arrays: dict[str, Any] = dict(
            n_modules=mm.n_modules,
            doublet_modules=mm.doublets,
            doublet_cuts=mm.doublet_cuts.reshape(-1, 8),
            triplet_doublets=mm.triplet_doublets,
            cuts12=mm.cuts12.reshape(-1, 8),
            cuts23=mm.cuts23.reshape(-1, 8),
            diff_dzdr=mm.diff_dzdr,
            diff_dydx=mm.diff_dydx,
        )

    def __call__(self, positions: npt.ArrayLike, geometry_ids: npt.ArrayLike) -> ModuleMapGraph:
        """Edges of one event from hit ``positions`` [N, 3] (mm) and module ``geometry_ids`` [N]."""
        pos = np.asarray(positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions must have shape [N, 3], got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            raise InputDataError("non-finite hit positions", field="positions")
        hit_module = self.module_map.module_index(geometry_ids)
        x, y, z = (np.ascontiguousarray(pos[:, k]) for k in range(3))
        edge_index, doublet_edges = _core.module_map_graph(
            x, y, z, hit_module, n_threads=self.n_threads, **self._arrays
        )
        return ModuleMapGraph(
            edge_index=edge_index,
            edge_features=edge_features(pos, edge_index),
            doublet_edges=int(doublet_edges),
            hits_unknown_module=int(np.count_nonzero(hit_module < 0)),
        )


def edge_features(
    positions: npt.NDArray[np.float64], edge_index: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """The standard edge features [E, 6] (EDGE_FEATURES: mm, rad, 1/mm) of ``edge_index``."""
    x, y, z = (np.ascontiguousarray(positions[:, k], dtype=np.float64) for k in range(3))
    return _core.doublet_features(x, y, z, edge_index[0], edge_index[1])[:, :6].astype(np.float32)

"""The module map: which module triplets truth tracks cross, and the ranges of their geometry.

Built from simulated events (:class:`ModuleMapBuilder`), stored in our ``.npz`` format
(:meth:`ModuleMap.save` / :meth:`ModuleMap.load`, bit-exact float64, or with ``compact=True``
the small float16 encoding described below; the acorn text and ModuleMapGraph ROOT formats are
in :mod:`acts_gnn.graph.module_map.formats`), and applied to new events by
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

Compact encoding (``save(path, compact=True)``; :meth:`ModuleMap.load` reads both encodings and
always returns float64 arrays): module ids once (uint64), triplets as int32 indices into them
(doublets are derived on loading, as for the exact encoding), occurrence in the smallest
unsigned integer type that holds it, and the 20 range columns of :data:`COMPACT_RANGE_COLUMNS`
as float16, each column scaled by its own power of two (exact) so that most of its values lie
in float16's normal range. Every bound is rounded *outwards*: a min to the nearest float16 at or
below it, a max to the nearest at or above it, so every loaded interval contains the original
one and a graph built with the loaded map contains every edge the original map gives (edge
efficiency can only stay or rise; purity can only fall, by little: float16 keeps 11
significant bits, a relative step of at most 2**-10 per bound). Finite non-zero values outside
the scaled column's normal float16 range (overflow or subnormal) are stored as float32, also
rounded outwards (+-inf beyond float32's range, on the outer side only). The file's metadata
records ``range_rounding="outward"`` and ``range_precision``; the loaded map keeps them.
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

#: The ``encoding`` entry of a compact file (an exact file has none).
COMPACT_ENCODING = "compact-float16-outward"
COMPACT_VERSION = 1
#: The range columns of the compact encoding, in file order (rows of its ``ranges`` array).
COMPACT_RANGE_COLUMNS: tuple[str, ...] = (
    *(
        f"{q}_{leg}_{bound}"
        for leg in ("12", "23")
        for q in DOUBLET_CUT_QUANTITIES
        for bound in ("min", "max")
    ),
    "diff_dzdr_min",
    "diff_dzdr_max",
    "diff_dydx_min",
    "diff_dydx_max",
)
_F16_MAX = float(np.finfo(np.float16).max)  # 65504
_F16_TINY = float(np.finfo(np.float16).tiny)  # 2**-14, the smallest normal float16
#: Largest power-of-two column scale; keeps scaled float16 values exact in float64.
_MAX_SCALE_EXPONENT = 60


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
    def save(self, path: str | Path, compact: bool = False) -> Path:
        """Write the ``.npz`` format (atomically); returns the path written.

        ``compact=False``: every array as it is (float64 ranges, bit-exact round trip).
        ``compact=True``: the compact encoding of the module docstring (float16 ranges rounded
        outwards; ids, triplets and occurrences exact)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        if compact:
            arrays = self._compact_arrays()
        else:
            arrays = dict(
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
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        try:
            with open(partial, "wb") as f:
                np.savez_compressed(f, **arrays)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def range_columns(self) -> npt.NDArray[np.float64]:
        """The ranges as [20, T] float64, rows in :data:`COMPACT_RANGE_COLUMNS` order."""
        t = self.n_triplets
        return np.concatenate(
            [
                self.cuts12.reshape(t, 8).T,
                self.cuts23.reshape(t, 8).T,
                self.diff_dzdr.T,
                self.diff_dydx.T,
            ]
        )

    def _compact_arrays(self) -> dict[str, Any]:
        for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx"):
            if np.isnan(getattr(self, name)).any():
                raise ValueError(f"module map has NaN in {name}; refusing to write it")
        columns = self.range_columns()
        if len(self.occurrence) and self.occurrence.min() < 0:
            raise ValueError("module map has a negative occurrence; refusing to write it")
        ranges, exponents, exception_index, exception_values = encode_ranges_float16(
            columns, [name.endswith("_max") for name in COMPACT_RANGE_COLUMNS]
        )
        top = int(self.occurrence.max()) if len(self.occurrence) else 0
        occurrence_type = next(
            t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if top <= np.iinfo(t).max
        )
        metadata = dict(
            self.metadata,
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
            modules=self.modules,
            triplet_modules=np.ascontiguousarray(self.triplets.T, dtype=np.int32),
            occurrence=self.occurrence.astype(occurrence_type),
            range_columns=np.array(COMPACT_RANGE_COLUMNS),
            ranges=ranges,
            range_scale_exponents=exponents,
            float32_index=exception_index,
            float32_values=exception_values,
            metadata=np.array(repr(metadata)),
        )

    @classmethod
    def _from_compact(cls, data: Any, path: Path, metadata: dict[str, object]) -> ModuleMap:
        names = set(data.files)
        needed = {
            "modules",
            "triplet_modules",
            "occurrence",
            "ranges",
            "range_scale_exponents",
            "float32_index",
            "float32_values",
        }
        if not needed <= names:
            raise InputDataError(
                f"not a compact acts-gnn module map: missing {sorted(needed - names)}", file=path
            )
        version = int(data["format_version"]) if "format_version" in names else -1
        if version != COMPACT_VERSION:
            raise InputDataError(
                f"compact module-map version {version}; this acts-gnn reads {COMPACT_VERSION}",
                file=path,
            )
        triplets = data["triplet_modules"]
        ranges = data["ranges"]
        n = len(COMPACT_RANGE_COLUMNS)
        t = triplets.shape[-1] if triplets.ndim == 2 else -1
        if triplets.shape != (3, t) or ranges.shape != (n, t) or ranges.dtype != np.float16:
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
        cuts12 = columns[0:8].T.reshape(t, 4, 2)
        cuts23 = columns[8:16].T.reshape(t, 4, 2)
        return cls(
            data["modules"],
            triplets.T,
            occurrence.astype(np.int64),
            cuts12,
            cuts23,
            columns[16:18].T,
            columns[18:20].T,
            metadata,
        )

    @classmethod
    def load(cls, path: str | Path) -> ModuleMap:
        """Read a map written by :meth:`save` (exact or compact encoding)."""
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
            import ast

            metadata = ast.literal_eval(str(data["metadata"])) if "metadata" in names else {}
            if "encoding" in names:
                encoding = str(data["encoding"])
                if encoding != COMPACT_ENCODING:
                    raise InputDataError(f"unknown module-map encoding {encoding!r}", file=path)
                return cls._from_compact(data, path, metadata)
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
# Outward rounding (the compact encoding)
# ---------------------------------------------------------------------------------------------


def round_outward(values: npt.NDArray[np.float64], dtype: Any, up: bool) -> npt.NDArray[Any]:
    """``values`` as floating ``dtype``, rounded up (``up``) or down: the nearest number of
    ``dtype`` at or above (below) each value, +-inf past the type's range on that side."""
    target = np.array(np.inf if up else -np.inf, dtype=dtype)
    with np.errstate(over="ignore", under="ignore"):
        out = values.astype(dtype)
        for _ in range(3):  # a correctly rounded cast needs at most one step
            wrong = out < values if up else out > values
            if not wrong.any():
                return out
            out = np.where(wrong, np.nextafter(out, target), out).astype(dtype)
    raise AssertionError("outward rounding did not converge")  # pragma: no cover


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

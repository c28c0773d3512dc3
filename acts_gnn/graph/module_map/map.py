"""The module map container: which module triplets truth tracks cross, and their cut ranges.

A *triplet* (m1, m2, m3) is three modules crossed one after the other by a truth particle. For
each, :class:`ModuleMap` keeps the occurrence count and the [min, max] of

* z0 (mm), dphi (rad), phi_slope (rad/mm), deta of its (m1, m2) and (m2, m3) doublets, and
* diff_dzdr = dz/dr(12) - dz/dr(23) and diff_dydx = -dy/dx(12) - dy/dx(23) (both unitless).

The quantities are those of ModuleMapGraph and acorn, signs included (deta = eta(inner) -
eta(outer), and their diff_dydx), so maps move between the three without conversion; z0,
dphi, phi_slope as in ``acts_gnn._core.doublet_features``. Where dr = 0 (never seen in
practice) our slopes are 0 and z0 = z(inner), where ModuleMapGraph stores +-FLT_MAX.

The doublet (m1, m2) cuts are the union of the ranges of every triplet it is a leg of: an edge
must first pass its doublet's cuts and then be a leg of at least one triplet whose cuts both
legs pass, sharing the middle hit. :class:`ModuleMap` derives the doublets on construction.

Our own file format is ``.npz`` (:meth:`ModuleMap.save` / :meth:`ModuleMap.load`, written
atomically): bit-exact float64 arrays, or with ``compact=True`` the small float16 encoding of
:mod:`acts_gnn.graph.module_map.compact` (ranges rounded outwards). :meth:`ModuleMap.load`
reads both and always returns float64 arrays. The community's formats (acorn text,
ModuleMapGraph ROOT) are in :mod:`acts_gnn.graph.module_map.formats`. Maps are built by
:class:`~acts_gnn.graph.module_map.builder.ModuleMapBuilder` and applied by
:class:`~acts_gnn.graph.module_map.graph_builder.ModuleMapGraphBuilder`.
"""

from __future__ import annotations

import ast
import hashlib
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.compact import (
    COMPACT_ENCODING,
    compact_arrays,
    read_compact,
)
from acts_gnn.io.atomic import atomic_path

#: The doublet quantities with cuts, in the column order of every cut array.
DOUBLET_CUT_QUANTITIES = ("z0", "dphi", "phi_slope", "deta")

#: The 20 range columns of a map, in the row order of :meth:`ModuleMap.range_columns` (and of
#: the ``ranges`` array of a compact file): both legs' bounds, then the two differences.
RANGE_COLUMNS: tuple[str, ...] = (
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

#: ``format_version`` of an exact ``.npz`` file (the compact encoding has its own).
FORMAT_VERSION = 1

#: The arrays that define a map (everything else is derived), in constructor order.
_DEFINING_ARRAYS = (
    "modules",
    "triplets",
    "occurrence",
    "cuts12",
    "cuts23",
    "diff_dzdr",
    "diff_dydx",
)


def check_map_arrays(
    columns: npt.NDArray[np.float64] | Sequence[npt.NDArray[np.float64]],
    occurrence: npt.NDArray[np.integer],
    ids: npt.NDArray[np.integer],
    path: str | Path | None,
    where: Callable[[int], str] = lambda row: f"triplet {row}",
    names: tuple[str, ...] = RANGE_COLUMNS,
) -> None:
    """The one content check of a module map read from any file format (our ``.npz`` in both
    encodings, acorn text, the ModuleMapGraph ROOT pair).

    ``columns`` float64 [20, T] (or 20 arrays [T]): the ranges in :data:`RANGE_COLUMNS`
    order (each min right before its max); ``occurrence`` [T]; ``ids`` [T, 3]: the modules of each triplet (ids or
    indices); ``path`` names the file and ``where(row)`` the place of a row in it (e.g. ``"line
    7"``), ``names`` the field of each column in that format. Raises
    :class:`~acts_gnn.errors.InputDataError` for a NaN bound, min > max (a range no hit can
    pass: its triplet would silently give no edges), a negative occurrence or a duplicate
    triplet; +-inf bounds (an open range) are allowed."""
    for k, values in enumerate(columns):
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            raise InputDataError(f"NaN value at {where(int(bad[0]))}", file=path, field=names[k])
    for k in range(0, len(columns), 2):
        lo, hi = columns[k], columns[k + 1]
        bad = np.flatnonzero(lo > hi)
        if len(bad):
            row = int(bad[0])
            raise InputDataError(
                f"min > max at {where(row)} ({float(lo[row])!r} > {float(hi[row])!r}; "
                f"{len(bad)} such row(s)); are the columns in the right order?",
                file=path,
                field=names[k],
            )
    bad = np.flatnonzero(np.asarray(occurrence) < 0)
    if len(bad):
        raise InputDataError(
            f"negative occurrence at {where(int(bad[0]))}", file=path, field="occurrence"
        )
    ids = np.asarray(ids).reshape(-1, 3)
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


def module_index(
    modules: npt.NDArray[np.uint64], geometry_ids: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """Index of each geometry id in ``modules`` (uint64 [M], sorted, unique: a map's
    :attr:`ModuleMap.modules`), -1 where the module is not among them."""
    ids = np.asarray(geometry_ids, dtype=np.uint64)
    if not len(modules):
        return np.full(ids.shape, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(modules, ids), len(modules) - 1)
    return np.where(modules[pos] == ids, pos, -1).astype(np.int64)


@dataclass
class ModuleMap:
    """A module map as flat arrays (see the module docstring).

    modules: uint64 [M] sorted geometry ids; triplets: int32 [T, 3] module indices, sorted;
    occurrence: int64 [T]; cuts12, cuts23: float64 [T, 4, 2] (min, max of z0, dphi, phi_slope,
    deta); diff_dzdr, diff_dydx: float64 [T, 2]. Derived on construction: doublets int32
    [D, 2] (module indices), triplet_doublets int32 [T, 2] (rows of doublets for the two legs),
    doublet_cuts float64 [D, 4, 2] (union of the leg ranges).
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
        # in the C++ core: 0.21 s against 0.38 s for numpy's unique + minimum.at on the
        # shipped map's 10^6 triplets (the same arrays)
        self.doublets, self.triplet_doublets, self.doublet_cuts = _core.map_doublets(
            self.triplets, self.cuts12.reshape(-1, 8), self.cuts23.reshape(-1, 8)
        )

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
        return module_index(self.modules, geometry_ids)

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
        return all(np.array_equal(getattr(self, a), getattr(other, a)) for a in _DEFINING_ARRAYS)

    def content_hash(self) -> str:
        """SHA-256 (hex) of the defining arrays (ids, triplets, counts, cut values): equal for
        maps that give the same graphs, whatever file or format they came from."""
        digest = hashlib.sha256()
        for name in _DEFINING_ARRAYS:
            array = np.ascontiguousarray(getattr(self, name))
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    def check_detector(
        self, geometry_ids: npt.ArrayLike, path: str | Path | None, detector: str = "detector"
    ) -> int:
        """Refuse a map built for another detector: InputDataError (naming ``path``) when more
        than half of its modules are not among ``geometry_ids`` (the sensitive surfaces of
        ``detector``). Returns how many are not (a few can be legitimate: a map merged from
        a geometry version with extra modules); the caller reports them."""
        known = np.isin(self.modules, np.asarray(geometry_ids, dtype=np.uint64))
        missing = int(np.count_nonzero(~known))
        if self.n_modules and 2 * missing > self.n_modules:
            first = int(self.modules[np.flatnonzero(~known)[0]])
            raise InputDataError(
                f"module map for another detector: {missing} of its {self.n_modules} modules "
                f"are not sensitive surfaces of the {detector} (e.g. geometry id {first})",
                file=path,
                field="modules",
            )
        return missing

    def check(
        self,
        path: str | Path | None,
        where: Callable[[int], str] = lambda row: f"triplet {row}",
        names: tuple[str, ...] = RANGE_COLUMNS,
    ) -> ModuleMap:
        """:func:`check_map_arrays` on this map (``path``: the file it came from); returns it.
        Checks views of the range columns (no [20, T] copy, ~170 MB at 10^6 triplets)."""
        check_map_arrays(
            self.range_column_views(), self.occurrence, self.triplets, path, where, names
        )
        return self

    # -- the 20 range columns -----------------------------------------------------------------
    def range_column_views(self) -> list[npt.NDArray[np.float64]]:
        """The 20 rows of :meth:`range_columns` as views of the map's arrays (each [T],
        strided; nothing copied)."""
        t = self.n_triplets
        return [
            *self.cuts12.reshape(t, 8).T,
            *self.cuts23.reshape(t, 8).T,
            *self.diff_dzdr.T,
            *self.diff_dydx.T,
        ]

    def range_columns(self) -> npt.NDArray[np.float64]:
        """The ranges as [20, T] float64, rows in :data:`RANGE_COLUMNS` order."""
        return np.stack(self.range_column_views())

    @classmethod
    def from_range_columns(
        cls,
        modules: npt.NDArray[np.uint64],
        triplets: npt.NDArray[np.integer],
        occurrence: npt.NDArray[np.int64],
        columns: npt.NDArray[np.float64],
        metadata: dict[str, object],
    ) -> ModuleMap:
        """Inverse of :meth:`range_columns`: a map from its ids, triplets [T, 3], occurrences
        [T] and ranges ``columns`` [20, T] (rows in :data:`RANGE_COLUMNS` order)."""
        t = columns.shape[1]
        return cls(
            modules,
            triplets,
            occurrence,
            columns[0:8].T.reshape(t, 4, 2),
            columns[8:16].T.reshape(t, 4, 2),
            columns[16:18].T,
            columns[18:20].T,
            metadata,
        )

    # -- our own format ---------------------------------------------------------------------
    def save(self, path: str | Path, compact: bool = False) -> Path:
        """Write the ``.npz`` format (atomically); returns the path written.

        ``compact=False``: every array as it is (float64 ranges, bit-exact round trip).
        ``compact=True``: the encoding of :mod:`acts_gnn.graph.module_map.compact` (float16
        ranges rounded outwards; ids, triplets and occurrences exact)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        if compact:
            arrays = self._compact_arrays()
        else:
            arrays = dict(
                format_version=np.int64(FORMAT_VERSION),
                **{name: getattr(self, name) for name in _DEFINING_ARRAYS},
                metadata=np.array(repr(self.metadata)),
            )
        with atomic_path(path) as partial, open(partial, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    def _compact_arrays(self) -> dict[str, Any]:
        """The arrays of a compact file; ValueError for a map no reader would accept back."""
        for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx"):
            if np.isnan(getattr(self, name)).any():
                raise ValueError(f"module map has NaN in {name}; refusing to write it")
        if len(self.occurrence) and self.occurrence.min() < 0:
            raise ValueError("module map has a negative occurrence; refusing to write it")
        return compact_arrays(
            self.modules,
            self.triplets,
            self.occurrence,
            self.range_columns(),
            RANGE_COLUMNS,
            self.metadata,
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
        try:
            with archive as data:
                module_map = cls._from_archive(data, path)
        except InputDataError:
            raise
        except (OSError, ValueError, EOFError, SyntaxError, zipfile.BadZipFile, zlib.error) as err:
            # a truncated or corrupted member (zlib, CRC, short read) or arrays of the wrong
            # shape or order: the archive opened, its content cannot be read as a map
            raise InputDataError(
                f"corrupted or inconsistent module map ({type(err).__name__}: {err})", file=path
            ) from err
        return module_map.check(path)

    @classmethod
    def _from_archive(cls, data: Any, path: Path) -> ModuleMap:
        """The map in an open ``np.load`` archive of ``path`` (not yet checked)."""
        names = set(data.files)
        metadata = ast.literal_eval(str(data["metadata"])) if "metadata" in names else {}
        if not isinstance(metadata, dict):
            raise InputDataError("module-map metadata is not a dict", file=path, field="metadata")
        if "encoding" in names:
            encoding = str(data["encoding"])
            if encoding != COMPACT_ENCODING:
                raise InputDataError(f"unknown module-map encoding {encoding!r}", file=path)
            modules, triplets, occurrence, columns = read_compact(data, path, len(RANGE_COLUMNS))
            return cls.from_range_columns(modules, triplets, occurrence, columns, metadata)
        needed = set(_DEFINING_ARRAYS)
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

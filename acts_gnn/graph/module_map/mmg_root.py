"""The ModuleMapGraph ROOT module-map format: a pair of files, one tree of doublets and one of
triplets.

Layout taken from the ModuleMapGraph sources (L2IT Toulouse, C. Collard / C. Rougier; found in
the code search index, which does not name their repository): ``module_map_triplet.cpp``
(``save_TTree`` / ``read_TTree``), ``module_triplet.cpp``, ``module_doublet.cpp`` and
``geometric_cuts.cpp`` (``branch`` / ``set_branch_address``). Upstream ACTS reads these files
with ``module_map_triplet<float>::read_TTree`` in ``acts-project/acts``,
``Plugins/Gnn/src/ModuleMapCuda.cu`` (and ``ModuleMapCpu``); acorn reads the triplet tree with
uproot in ``acorn/stages/graph_construction/models/utils.py`` (``load_module_map_uproot``).
One entry per triplet/doublet; every branch a scalar:

* ``<prefix>.triplets.root``, tree ``TreeModuleTriplet``: ``Module1``, ``Module2``,
  ``Module3`` (uint64, leaf type ``/g``), ``Occurence`` (uint32, ``/i``), then for leg ``12`` and
  then ``23``: ``z0min_<leg> dphimin_<leg> phiSlopemin_<leg> detamin_<leg>`` followed by the four
  ``...max_<leg>``; then ``diff_dzdr_max diff_dzdr_min diff_dydx_max diff_dydx_min``.
* ``<prefix>.doublets.root``, tree ``TreeModuleDoublet``: ``Module1``, ``Module2`` (uint64), then
  ``z0min_12 dphimin_12 phiSlopemin_12 detamin_12 z0max_12 dphimax_12 phiSlopemax_12
  detamax_12`` (no occurrence). These are the doublet cuts, the union over the triplet legs.

Units and signs as in :mod:`acts_gnn.graph.module_map.map` (see
:mod:`acts_gnn.graph.module_map.external_columns` for the shared conventions). The cut branches
have MMG's template type ``T``. The readers that matter (ACTS, Athena) use ``T = float``, and
ROOT refuses ``SetBranchAddress`` with a mismatched type, so we write **float32**. A float64
range cannot survive float32 bit for bit, so the writer rounds *outward*
(:func:`~acts_gnn.graph.module_map.rounding.round_outward`: min down, max up to the nearest
float32), so the file never rejects an edge that the float64 map accepts. A map whose values
are already float32 numbers goes through unchanged. We read any integer or floating branch
type. The id branches are written as MMG declares them, ``/g`` (``ULong_t``, ``TLeafG``), not
as uproot writes ``uint64`` (``/l``, ``ULong64_t``): ROOT refuses MMG's ``uint64_t`` branch
address for a ``/l`` leaf and the reader silently sees one module
(:mod:`~acts_gnn.graph.module_map.root_ulong`; tested through ROOT's TTree API).

Each file of the pair is written atomically, the doublet file first: the triplet file, whose
presence marks the pair, appears last. On reading, the doublet file must be present and well
formed (as in MMG), but :class:`~acts_gnn.graph.module_map.map.ModuleMap` derives its doublet
cuts from the triplets. In a file MMG wrote, the two agree. Doublets no triplet uses (MMG's
cycle removal deletes triplets only) are ignored; doublet cuts wider than the union of their
triplet legs (also what cycle removal leaves) are counted into ``metadata`` and logged. A
doublet file that cannot belong to the triplet file (a doublet its triplets use missing, or
cuts narrower than their union; for pairs written here also a different pair token in the tree
titles: a write killed between the two files) is refused. Bad input (missing file, tree or
branch, wrong branch type, NaN, negative id, unreadable baskets) raises
:class:`~acts_gnn.errors.InputDataError` naming the file and the branch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import uproot

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.external_columns import (
    DOUBLET_RANGES,
    EXTERNAL_QUANTITIES,
    TRIPLET_RANGES,
    check_writable,
    external_columns,
    map_from_external_columns,
)
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.root_ulong import write_ulong_tree
from acts_gnn.graph.module_map.rounding import round_outward
from acts_gnn.io.atomic import atomic_path

log = logging.getLogger(__name__)

MMG_TRIPLET_TREE = "TreeModuleTriplet"
MMG_DOUBLET_TREE = "TreeModuleDoublet"
MMG_TRIPLET_SUFFIX = ".triplets.root"
MMG_DOUBLET_SUFFIX = ".doublets.root"


def _leg_branches(leg: str) -> tuple[str, ...]:
    """The eight cut branches of one leg, all mins then all maxes."""
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

_UINT32_MAX = np.iinfo(np.uint32).max


class MmgPaths(NamedTuple):
    """The two files of a ModuleMapGraph map."""

    doublets: Path
    triplets: Path


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


def _float32_columns(
    cols: dict[str, npt.NDArray[np.float64]], patterns: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float32]]:
    """float32 versions, rounded outward, of the (min, max) column pairs named by ``patterns``."""
    out: dict[str, npt.NDArray[np.float32]] = {}
    for pattern in patterns:
        for bound, up in (("min", False), ("max", True)):
            name = pattern.format(bound)
            out[name] = round_outward(cols[name], np.float32, up=up)
    return out


def write_mmg_root(module_map: ModuleMap, prefix: str | Path) -> MmgPaths:
    """Write ``<prefix>.doublets.root`` and ``<prefix>.triplets.root`` (ModuleMapGraph layout).

    Cut ranges are stored as float32, rounded outward (see the module docstring). Returns the
    two paths (doublets, triplets)."""
    mm = module_map
    check_writable(mm, max_occurrence=int(_UINT32_MAX))
    paths = mmg_paths(prefix)

    ids = mm.modules[mm.triplets] if mm.n_triplets else np.zeros((0, 3), dtype=np.uint64)
    triplet_cols: dict[str, np.ndarray] = {
        "Module1": ids[:, 0].copy(),
        "Module2": ids[:, 1].copy(),
        "Module3": ids[:, 2].copy(),
        "Occurence": mm.occurrence.astype(np.uint32),
    }
    triplet_cols.update(_float32_columns(external_columns(mm), TRIPLET_RANGES))

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
    doublet_cols.update(_float32_columns(dcols, DOUBLET_RANGES))

    # The triplet file last: its presence is what load_module_map looks for. Both titles carry
    # the same pair token, so a pair mixed by a write killed between the files is refused.
    token = _pair_token(mm)
    with atomic_path(paths.doublets) as partial:
        write_ulong_tree(
            partial,
            MMG_DOUBLET_TREE,
            f"module doublets and their cut ranges (acts-gnn{_PAIR_MARK}{token})",
            doublet_cols,
            MMG_DOUBLET_BRANCHES,
        )
    with atomic_path(paths.triplets) as partial:
        write_ulong_tree(
            partial,
            MMG_TRIPLET_TREE,
            f"module triplets and their cut ranges (acts-gnn{_PAIR_MARK}{token})",
            triplet_cols,
            MMG_TRIPLET_BRANCHES,
        )
    return paths


_PAIR_MARK = ", pair "


def _pair_token(mm: ModuleMap) -> str:
    """The token both files of a pair written here carry in their tree titles."""
    return mm.content_hash()[:16]


def _title_token(title: str) -> str | None:
    """The pair token in a tree title written here (None for files of other writers)."""
    if _PAIR_MARK not in title or not title.endswith(")"):
        return None
    return title.rsplit(_PAIR_MARK, 1)[1][:-1]


def _read_open_tree(
    handle: Any, path: Path, tree_name: str, branches: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], str]:
    """The raw ``branches`` of tree ``tree_name`` in the open ROOT file ``handle`` and the
    tree's title; a missing tree or branch or a wrong type raises InputDataError."""
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
    title = str(getattr(tree, "title", "") or "")
    return tree.arrays(list(branches), library="np"), title


def _read_tree(
    path: Path, tree_name: str, branches: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], str]:
    """The ``branches`` of tree ``tree_name`` as arrays [n] (ids uint64, ``Occurence`` int64,
    cuts float64) and the tree's title; a missing file, tree or branch or a wrong type raises
    InputDataError."""
    if not path.is_file():
        raise InputDataError("module-map file does not exist", file=path)
    try:
        handle = uproot.open(path)
    except Exception as err:  # uproot raises several types for non-ROOT input
        raise InputDataError(f"not a readable ROOT file: {err}", file=path) from err
    try:
        with handle:
            arrays, title = _read_open_tree(handle, path, tree_name, branches)
    except InputDataError:
        raise
    except Exception as err:  # truncated or corrupted file: short reads, zlib, bad keys
        raise InputDataError(
            f"cannot read tree {tree_name!r} ({type(err).__name__}: {err}); truncated?",
            file=path,
            field=tree_name,
        ) from err
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
    return out, title


def read_mmg_root(prefix: str | Path) -> ModuleMap:
    """Read a ModuleMapGraph ROOT pair (``prefix`` or either file's name)."""
    paths = mmg_paths(prefix)
    trip, trip_title = _read_tree(paths.triplets, MMG_TRIPLET_TREE, MMG_TRIPLET_BRANCHES)
    doub, doub_title = _read_tree(paths.doublets, MMG_DOUBLET_TREE, MMG_DOUBLET_BRANCHES)
    tokens = (_title_token(trip_title), _title_token(doub_title))
    if None not in tokens and tokens[0] != tokens[1]:
        raise InputDataError(
            f"the two files of the pair were written for different maps (pair {tokens[1]} "
            f"here, {tokens[0]} in {paths.triplets.name}); a write killed between the two "
            "files? Write the map again",
            file=paths.doublets,
            field=MMG_DOUBLET_TREE,
        )

    ids = np.stack([trip["Module1"], trip["Module2"], trip["Module3"]], axis=1)
    cols = {
        k: v for k, v in trip.items() if k not in ("Module1", "Module2", "Module3", "Occurence")
    }
    mm = map_from_external_columns(
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
    derived = mm.doublet_cuts[pos[used]]
    differ = int(np.count_nonzero(np.any(file_cuts != derived, axis=(1, 2))))
    # narrower in the file than the union of the triplet legs: impossible for one map
    narrower = np.flatnonzero(
        np.any(
            (file_cuts[..., 0] > derived[..., 0]) | (file_cuts[..., 1] < derived[..., 1]), axis=1
        )
    )
    missing = mm.n_doublets - len(np.unique(file_keys[used]))
    unused = len(doub["Module1"]) - int(np.count_nonzero(used))
    if missing or len(narrower):
        raise InputDataError(
            f"the doublet file does not belong to the triplet file {paths.triplets.name}: "
            f"{missing} of the {mm.n_doublets} doublets its triplets use are missing and "
            f"{len(narrower)} have cuts narrower than the union of their triplet legs (a pair "
            "mixed from two maps, e.g. by a write killed between the two files?)",
            file=paths.doublets,
            field=MMG_DOUBLET_TREE,
        )
    mm.metadata.update(
        mmg_doublets=len(doub["Module1"]),
        mmg_doublets_unused=unused,
        mmg_doublets_missing=missing,
        mmg_doublet_cuts_differ=differ,
    )
    if differ:
        # Wider doublet ranges are what ModuleMapGraph's cycle removal leaves (it deletes
        # triplets, not the doublet ranges they widened): a real file of one map, so a log line.
        log.info(
            "%s: %d doublets have cuts wider than the union of their triplet legs (triplets "
            "removed after the doublets were filled); acts-gnn uses the triplet-derived cuts",
            paths.doublets,
            differ,
        )
    return mm

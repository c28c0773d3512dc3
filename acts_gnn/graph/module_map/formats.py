"""Module-map files in every format we know, chosen by argument or by name.

:func:`save_module_map` / :func:`load_module_map` pick the format (:data:`FORMATS`):

* ``"npz"``: our own, :meth:`~acts_gnn.graph.module_map.map.ModuleMap.save` (bit-exact);
* ``"compact"``: the same ``.npz`` with float16 ranges rounded outwards
  (:mod:`acts_gnn.graph.module_map.compact`), only by argument;
* ``"acorn"``: text, :mod:`acts_gnn.graph.module_map.acorn`;
* ``"root"``: the ModuleMapGraph ROOT pair, :mod:`acts_gnn.graph.module_map.mmg_root`.

By name (:func:`detect_format`): ``.npz``; ``.txt`` / ``.csv``; ``.root`` (``x.root``,
``x.triplets.root`` and ``x.doublets.root`` all mean the pair with prefix ``x``), or a prefix
whose ``<prefix>.triplets.root`` (or ``<prefix>.npz``) exists. Every writer goes through
:func:`acts_gnn.io.atomic.atomic_path`, so a crash never leaves a half-written map under the
real name. Bad input (missing file, tree or branch, wrong column count, unparsable value, NaN,
min > max, duplicate triplet) raises :class:`~acts_gnn.errors.InputDataError` naming the file
and the field.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from acts_gnn.errors import InputDataError
from acts_gnn.graph.module_map.acorn import read_acorn, write_acorn
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.mmg_root import MMG_TRIPLET_SUFFIX, read_mmg_root, write_mmg_root

#: The formats :func:`save_module_map` / :func:`load_module_map` know. ``"compact"`` is our
#: ``.npz`` with float16 ranges rounded outwards (:meth:`ModuleMap.save` with ``compact=True``);
#: reading any ``.npz`` (``"npz"`` or ``"compact"``) tells the two encodings apart by content.
FORMATS = ("npz", "compact", "acorn", "root")


def _format_from_name(text: str) -> str | None:
    """The format a file name's suffix names, None for another suffix."""
    lower = text.lower()
    if lower.endswith(".npz"):
        return "npz"
    if lower.endswith((".txt", ".csv")):
        return "acorn"
    if lower.endswith(".root"):
        return "root"
    return None


def _check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`, else ValueError."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown module-map format {fmt!r}; known: {', '.join(FORMATS)}")
    return fmt


def save_module_map(
    module_map: ModuleMap, path_or_prefix: str | Path, format: str | None = None
) -> tuple[Path, ...]:
    """Write ``module_map`` in ``format`` (``"npz"``, ``"compact"``, ``"acorn"`` or ``"root"``;
    None: from the suffix ``.npz`` / ``.txt`` or ``.csv`` / ``.root``). ``"compact"`` writes a
    ``.npz`` with float16 ranges rounded outwards (see :mod:`acts_gnn.graph.module_map.compact`).
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
    readers: dict[str, Callable[[str | Path], ModuleMap]] = {
        "npz": ModuleMap.load,
        "compact": ModuleMap.load,
        "acorn": read_acorn,
        "root": read_mmg_root,
    }
    return readers[fmt](path_or_prefix)

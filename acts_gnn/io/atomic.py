"""Atomic file writes: write under a temporary name next to the target, then rename.

A crash, a kill or an exception while writing never leaves a half-written file under the real
name, and a reader never sees one: ``os.replace`` is atomic on POSIX within one file system.
Every writer of the package goes through :func:`atomic_path` (for libraries that take a path:
parquet, ``torch.save``, ONNX, uproot) or :func:`write_text` / :func:`write_json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def partial_path(path: Path) -> Path:
    """The temporary name used while ``path`` is being written: a hidden sibling whose name
    carries the process id, so two processes writing the same target do not collide."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (parents created); on a normal exit it is
    renamed to ``path``, on an exception it is removed and ``path`` is left as it was."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as partial:
        partial.write_text(text)
    return Path(path)


def write_json(path: str | Path, obj: Any, *, indent: int = 2, sort_keys: bool = False) -> Path:
    """Write ``obj`` as JSON (a trailing newline) to ``path`` atomically; returns the path."""
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys) + "\n")


def require_writable_dir(path: str | Path) -> Path:
    """Check, before any work is done, that files can be written into the folder ``path``:
    created if missing (with its parents), then a probe file created and removed in it.
    Raises ValueError naming the folder when a file lies at ``path`` or above it, or the
    folder is not writable (so a long run does not fail at its last step); returns the path."""
    folder = Path(path)
    for parent in (folder, *folder.parents):
        if parent.exists() and not parent.is_dir():
            raise ValueError(
                f"output folder {folder}: {parent} is a file, not a folder"
                + ("" if parent == folder else " (it lies above the output)")
            )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"output folder {folder} is not writable: {err.strerror or err}") from err
    return folder

"""The heap settings of a long Sequencer run: freed memory goes back to the system.

A comparison at pile-up 200 allocates and frees hundreds of MB per event (the GNN chain's
graph and edge features, ACTS's track containers). glibc serves large blocks with ``mmap``
and returns them on ``free``, but after the first such block is freed it raises its
threshold (up to 32 MB), so later blocks of up to 32 MB land on the heap, where freed
memory stays mapped and one event's garbage adds to the next event's peak.
:func:`small_heap` fixes the threshold small (:data:`MMAP_THRESHOLD_BYTES`) for the
Sequencer run of ``acts-gnn compare``: on two Pythia8 ttbar + MU = 200 events it lowered
the peak RSS by about 120 MB and changes no result (docs/results.md, "Peak memory of
compare"; ``benchmarks/bench_memory.py``). A fresh mapping per large block doubled the
time of torch's inference, so the GNN algorithm runs in :func:`reusable_heap`: large
blocks reused from the heap, all of it trimmed back at the end. The thresholds are
process-wide: use these from one thread (``compare`` runs its Sequencer with one).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import resource
import sys
from collections.abc import Iterator

#: glibc's ``mallopt`` parameter numbers (``malloc.h``)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: allocations of at least this many bytes get their own ``mmap`` (glibc's initial default;
#: setting it turns off the dynamic increase)
MMAP_THRESHOLD_BYTES = 128 * 1024
#: free memory at the top of the heap beyond this is returned to the system
TRIM_THRESHOLD_BYTES = 128 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None on another C library or system."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


#: the thresholds inside :func:`reusable_heap` (torch's tensors of an event, up to tens of
#: MB each, are reused from the heap there instead of mapped afresh: a fresh ``mmap`` per
#: tensor doubled the GNN's time)
REUSE_MMAP_THRESHOLD_BYTES = 64 * 1024 * 1024
REUSE_TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024

_state = {"small": False}


def _set(libc: ctypes.CDLL, mmap_threshold: int, trim_threshold: int) -> bool:
    ok = libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
    return bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 and ok)


#: the thresholds :func:`small_heap` leaves behind: the ceiling glibc's own dynamic
#: thresholds reach after large blocks are freed (glibc cannot be put back to dynamic)
SETTLED_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
SETTLED_TRIM_THRESHOLD_BYTES = 2 * SETTLED_MMAP_THRESHOLD_BYTES


@contextlib.contextmanager
def small_heap() -> Iterator[bool]:
    """Within the block, glibc's mmap and trim thresholds are fixed small
    (:data:`MMAP_THRESHOLD_BYTES`, :data:`TRIM_THRESHOLD_BYTES`; except inside
    :func:`reusable_heap`); afterwards they are left at :data:`SETTLED_MMAP_THRESHOLD_BYTES`
    and :data:`SETTLED_TRIM_THRESHOLD_BYTES` (where glibc's own heuristics end up), so
    later work in the process is not slowed by fresh mappings. Yields True if the
    thresholds were set (False without glibc: nothing changes)."""
    libc = _libc()
    if libc is None or _state["small"]:  # no glibc, or already inside one: nothing to do
        yield _state["small"]
        return
    _state["small"] = _set(libc, MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
    try:
        yield _state["small"]
    finally:
        _state["small"] = False
        _set(libc, SETTLED_MMAP_THRESHOLD_BYTES, SETTLED_TRIM_THRESHOLD_BYTES)
        libc.malloc_trim(0)


@contextlib.contextmanager
def reusable_heap() -> Iterator[None]:
    """For a block that allocates and frees many large arrays (an event's GNN inference):
    large blocks come from the heap and are reused (:data:`REUSE_MMAP_THRESHOLD_BYTES`), and
    at the end everything the block freed goes back to the system (``malloc_trim``) and the
    :func:`small_heap` thresholds return. Does nothing unless :func:`small_heap`
    set them (inside :func:`small_heap`)."""
    libc = _libc() if _state["small"] else None
    if libc is None:
        yield
        return
    _set(libc, REUSE_MMAP_THRESHOLD_BYTES, REUSE_TRIM_THRESHOLD_BYTES)
    try:
        yield
    finally:
        _set(libc, MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)
        libc.malloc_trim(0)


def peak_rss_mb() -> float:
    """The process's peak resident set size so far [MiB] (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


__all__ = [
    "MMAP_THRESHOLD_BYTES",
    "REUSE_MMAP_THRESHOLD_BYTES",
    "REUSE_TRIM_THRESHOLD_BYTES",
    "SETTLED_MMAP_THRESHOLD_BYTES",
    "SETTLED_TRIM_THRESHOLD_BYTES",
    "TRIM_THRESHOLD_BYTES",
    "peak_rss_mb",
    "reusable_heap",
    "small_heap",
]

"""ACTS's own output (C++ logging on the process's stdout) sent to a log file.

ACTS's loggers print from C++ straight to file descriptor 1 (INFO lines of every algorithm,
Fatras's per-particle ERROR lines), which Python's ``sys.stdout`` cannot catch.
:func:`acts_output_to` points descriptor 1 at a log file for the duration of a block (C and
Python buffers flushed on both sides), so that the terminal keeps what is for people: the
progress bars (stderr) and what is printed after the block. :class:`LogCounts` counts the
lines of the log by ACTS level, for the one line the terminal shows about it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: ACTS's level column (``HH:MM:SS    Name    LEVEL    message``).
_LEVEL = re.compile(r"^\S+\s+\S+\s+(VERBOSE|DEBUG|INFO|WARNING|ERROR|FATAL)\s")


def _flush_all() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    # C stdio (std::cout is synced with it); without a libc symbol table nothing is lost
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


@contextmanager
def acts_output_to(path: str | Path) -> Iterator[Path]:
    """Within the block, everything written to file descriptor 1 (ACTS's C++ logging, and
    Python's ``print`` where ``sys.stdout`` is the process's stdout) is appended to ``path`` (parents created); descriptor 2 (progress
    bars, Python warnings) stays on the terminal. Yields the log path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _flush_all()
    saved = os.dup(1)
    try:
        with path.open("ab") as log:
            os.dup2(log.fileno(), 1)
            try:
                yield path
            finally:
                _flush_all()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


@dataclass
class LogCounts:
    """Lines of an ACTS log by level (``levels``), and the total (``lines``)."""

    lines: int
    levels: dict[str, int]

    @classmethod
    def of(cls, path: str | Path) -> LogCounts:
        """Count the lines of the log file ``path`` (a missing file counts nothing)."""
        levels: dict[str, int] = {}
        lines = 0
        p = Path(path)
        if p.is_file():
            with p.open(errors="replace") as f:
                for line in f:
                    lines += 1
                    m = _LEVEL.match(line)
                    if m:
                        levels[m.group(1)] = levels.get(m.group(1), 0) + 1
        return cls(lines, levels)

    def describe(self, path: str | Path) -> str:
        """One line for the terminal: where the log is and what it holds."""
        order = ("FATAL", "ERROR", "WARNING", "INFO", "DEBUG", "VERBOSE")
        parts = [f"{self.levels[k]} {k}" for k in order if self.levels.get(k)]
        return f"ACTS's output: {path} ({self.lines} lines" + (
            ": " + ", ".join(parts) + ")" if parts else ")"
        )


__all__ = ["LogCounts", "acts_output_to"]

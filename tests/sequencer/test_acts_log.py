"""ACTS's C++ output to a log file, progress and results on the terminal."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import pytest

from acts_gnn.sequencer.acts_log import LogCounts, acts_output_to


def test_descriptor_one_goes_to_the_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "report" / "acts.log"
    with acts_output_to(log) as path:
        assert path == log
        os.write(1, b"12:00:00    Fatras   ERROR     particle 4 left the world\n")
        ctypes.CDLL(None).printf(b"12:00:00    Sequencer   INFO      Processed 3 events\n")
        os.write(1, b"12:00:01    Fatras   ERROR     particle 9 left the world\n")
        sys.stderr.write("progress 3/3\n")
    print("| table |")
    out, err = capfd.readouterr()
    assert out == "| table |\n"  # only what follows the block reaches the terminal
    assert "progress 3/3" in err
    counts = LogCounts.of(log)
    assert counts.lines == 3
    assert counts.levels == {"ERROR": 2, "INFO": 1}
    assert counts.describe(log) == f"ACTS's output: {log} (3 lines: 2 ERROR, 1 INFO)"
    with acts_output_to(log):  # a second block appends
        os.write(1, b"12:00:02    Sequencer   WARNING   something\n")
    assert LogCounts.of(log).levels == {"ERROR": 2, "INFO": 1, "WARNING": 1}
    assert LogCounts.of(tmp_path / "none.log").lines == 0


def test_descriptor_restored_after_an_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RuntimeError), acts_output_to(tmp_path / "a.log"):
        raise RuntimeError("the chain failed")
    os.write(1, b"after\n")
    assert capfd.readouterr().out == "after\n"

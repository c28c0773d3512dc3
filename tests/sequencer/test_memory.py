"""The heap settings of compare (acts_gnn.sequencer.memory) and the CKF chain without the
seed tracks only ACTS's seeding writers read (acts_gnn.sequencer.reconstruction)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from acts_gnn.sequencer import memory

#: 200 arrays of 1 MB freed while a small one allocated after them stays: RSS [MB] kept
#: (printed), in a fresh process; argv[1] == "small": inside small_heap
_FRAGMENT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from acts_gnn.sequencer.memory import small_heap

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    def garbage():
        warm = np.ones(2 * 1024 * 1024)  # 16 MB freed: glibc raises its mmap threshold
        del warm
        blocks = [np.ones(128 * 1024) for _ in range(200)]  # 1 MB each
        pin = np.ones(16)  # allocated after them, still alive
        before = rss_mb()
        del blocks
        return before - rss_mb(), pin

    if sys.argv[1] == "small":
        with small_heap():
            released, _ = garbage()
    else:
        released, _ = garbage()
    print(f"{released:.1f}")
    """
)


@pytest.mark.skipif(memory._libc() is None, reason="glibc's mallopt only")
def test_small_heap_returns_freed_blocks_to_the_system(tmp_path: Path) -> None:
    """The mechanism behind compare's lower peak: after glibc raised its threshold, 200 MB of
    1 MB blocks freed stay mapped; inside small_heap they go back to the system."""

    def released(mode: str) -> float:
        # run from tmp_path: ``-c`` puts the working directory first on sys.path, and the
        # source tree's acts_gnn (without the built _core) must not shadow the installed one
        done = subprocess.run(
            [sys.executable, "-c", _FRAGMENT, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        return float(done.stdout.strip())

    assert released("small") > 180
    assert released("default") < 50


@pytest.mark.skipif(memory._libc() is None, reason="glibc's mallopt only")
def test_small_heap_nests_and_reusable_heap_needs_it() -> None:
    assert memory._state["small"] is False
    with memory.reusable_heap():  # outside small_heap: nothing set
        assert memory._state["small"] is False
    with memory.small_heap() as outer:
        assert outer is True
        with memory.small_heap() as inner:  # already inside: no change, still small after
            assert inner is True
        assert memory._state["small"] is True
        with memory.reusable_heap():
            pass
        assert memory._state["small"] is True
    assert memory._state["small"] is False
    assert memory.peak_rss_mb() > 10


@pytest.mark.acts
def test_ckf_chain_leaves_out_the_seed_tracks() -> None:
    """addCkfReference adds ACTS's seeding without SeedsToTracks and its truth matcher (no
    writer reads them), keeps every other algorithm, and gives a caller's own wrapper of
    ``addAlgorithm`` back."""
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.sequencer.reconstruction import addCkfReference

    detector = load_generic_detector()
    s = acts.examples.Sequencer(events=1, numThreads=1, logLevel=acts.logging.ERROR)
    added: list[Any] = []

    def record(algorithm: Any) -> None:  # not added: no digitization before it here
        added.append(algorithm)

    s.addAlgorithm = record
    addCkfReference(s, detector, "fast", prefix="p_")
    kinds = [type(a).__name__ for a in added]
    assert "SeedsToTracks" not in kinds
    assert kinds.count("TrackTruthMatcher") == 0  # the only one was the seeds'
    for kind in (
        "SpacePointMaker",
        "GridTripletSeedingAlgorithm",
        "TrackParamsEstimationAlgorithm",
        "SeedsToProtoTracks",
        "TrackFindingAlgorithm",
        "GreedyAmbiguityResolutionAlgorithm",
    ):
        assert kind in kinds
    assert s.addAlgorithm is record

"""The Dask executor: chunks, options, a failing task named by its event range, resume.

One local cluster of 2 processes serves the whole test process (``get_client`` keeps it), so
the cluster start (a few seconds) is paid once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from acts_gnn.cli.options import add_parallel_options
from acts_gnn.distributed.executor import (
    ChunkError,
    ChunkState,
    ParallelOptions,
    default_chunk_events,
    describe_range,
    event_chunks,
    run_chunks,
)

TWO = ParallelOptions(workers=2, chunk_events=2)


def test_event_chunks_cover_the_events_once() -> None:
    assert event_chunks(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert event_chunks(4, 4) == [(0, 4)]
    assert default_chunk_events(40, 2) == 5  # 4 tasks per worker
    assert default_chunk_events(3, 2) == 1
    assert describe_range(4, 8) == "events 4-7"
    assert describe_range(1, 3, [10, 11, 12]) == "events 11-12"
    assert describe_range(0, 1, [7]) == "event 7"


def test_options_from_the_command_line() -> None:
    p = argparse.ArgumentParser()
    add_parallel_options(p)
    assert not ParallelOptions.from_args(p.parse_args([])).enabled  # today's in-process run
    opts = ParallelOptions.from_args(p.parse_args(["--workers", "3", "--chunk-events", "5"]))
    assert opts.enabled
    assert opts.workers == 3
    assert opts.chunk_events == 5
    assert ParallelOptions.from_args(p.parse_args(["--scheduler", "tcp://h:8786"])).enabled
    with pytest.raises(SystemExit):  # one or the other
        p.parse_args(["--workers", "2", "--scheduler", "tcp://h:8786"])
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        ParallelOptions(workers=0)


def test_results_come_back_in_event_order() -> None:
    def task(start: int, stop: int, ticker: object) -> list[int]:
        ticker.update(stop - start)  # type: ignore[attr-defined]
        return [k * k for k in range(start, stop)]

    parts = run_chunks(task, 7, TWO, desc="squares", progress=False)
    assert [v for part in parts for v in part] == [k * k for k in range(7)]


def test_a_reduce_merges_the_results_on_the_workers() -> None:
    """With ``reduce`` the chunks' results are merged on the cluster (chains of chunks, one
    per worker, then the chains two at a time) and one comes back, merged in no process but
    the workers; a failing merge names the chunk it folded."""
    import os

    # defined here, not at module level: cloudpickle sends them by value, so the workers
    # need not import this test module
    def _positions(start: int, stop: int, ticker: object) -> frozenset[int]:
        return frozenset(range(start, stop))

    def _union(a: frozenset[int], b: frozenset[int]) -> frozenset[int]:
        import os

        return a | b | {-os.getpid()}  # marks where the merge ran

    def _bad_union(a: frozenset[int], b: frozenset[int]) -> frozenset[int]:
        raise RuntimeError("no merge")

    (merged,) = run_chunks(_positions, 7, TWO, desc="union", progress=False, reduce=_union)
    assert {k for k in merged if k >= 0} == set(range(7))
    merged_in = {-k for k in merged if k < 0}
    assert merged_in
    assert os.getpid() not in merged_in
    with pytest.raises(
        ChunkError, match=r"union events? [\d-]+: merging results: RuntimeError: no merge"
    ):
        run_chunks(_positions, 7, TWO, desc="union", progress=False, reduce=_bad_union)


def test_a_reduced_run_resumes_from_the_chunks_own_results(tmp_path: Path) -> None:
    """A chunk folded into its chain stores its own result, not the chain's, so a resumed
    reduce counts every event once."""
    import pickle

    state = ChunkState.under(tmp_path, "test-reduce", {"seed": 2})
    flag = tmp_path / "fixed"

    def _positions(start: int, stop: int, ticker: object) -> tuple[int, ...]:
        if start == 6 and not flag.exists():
            raise RuntimeError("worker lost")
        return tuple(range(start, stop))

    def _concat(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
        return a + b  # associative; the order is checked by sorting

    with pytest.raises(ChunkError, match="events 6-7"):
        run_chunks(_positions, 10, TWO, desc="test", state=state, progress=False, reduce=_concat)
    for path in state.folder.glob("chunk-*.pkl"):
        start, stop = (int(v) for v in path.stem.split("-")[1:])
        with path.open("rb") as f:
            assert pickle.load(f) == tuple(range(start, stop))
    flag.touch()
    (total,) = run_chunks(
        _positions, 10, TWO, desc="test", state=state, progress=False, reduce=_concat
    )
    assert sorted(total) == list(range(10))
    state.remove()


def test_a_failing_task_names_its_event_range_and_error() -> None:
    def task(start: int, stop: int, ticker: object) -> int:
        if start <= 5 < stop:
            raise KeyError("no such hit column 'x'")
        return stop - start

    with pytest.raises(ChunkError, match=r"prepare events 4-5: KeyError: .no such hit column"):
        run_chunks(task, 8, TWO, desc="prepare", progress=False)
    # with event ids: the message names the ids, not the positions
    with pytest.raises(ChunkError, match=r"x events 104-105: KeyError"):
        run_chunks(task, 8, TWO, desc="x", event_ids=list(range(100, 108)), progress=False)


def test_an_interrupted_run_resumes_from_its_finished_chunks(tmp_path: Path) -> None:
    state = ChunkState.under(tmp_path, "test", {"seed": 1})
    calls = tmp_path / "calls"
    calls.mkdir()

    def task(start: int, stop: int, ticker: object) -> list[int]:
        (calls / f"{start}-{stop}").touch()  # the same file system as the workers
        if start == 4 and not (calls / "fixed").exists():
            raise RuntimeError("worker lost")
        return list(range(start, stop))

    with pytest.raises(ChunkError, match="events 4-5"):
        run_chunks(task, 6, TWO, desc="test", state=state, progress=False)
    done = sorted(p.name for p in state.folder.glob("chunk-*.pkl"))
    assert "chunk-000000004-000000006.pkl" not in done
    assert len(done) >= 1
    for p in calls.iterdir():
        p.unlink()
    (calls / "fixed").touch()
    parts = run_chunks(task, 6, TWO, desc="test", state=state, progress=False)
    assert [v for part in parts for v in part] == list(range(6))
    ran = {p.name for p in calls.iterdir()} - {"fixed"}
    assert "4-6" in ran
    assert len(ran) == 3 - len(done)  # the finished chunks were not run again
    state.remove()
    assert not state.folder.exists()
    assert not (tmp_path / ".acts-gnn-chunks").exists()


def test_local_workers_keep_glibcs_own_heap_thresholds() -> None:
    """Dask exports MALLOC_TRIM_THRESHOLD_ to its workers by default, which makes glibc map
    every large array afresh (our stages 1.3-1.5x slower); local clusters unset it."""
    from acts_gnn.distributed.executor import get_client

    def _malloc_trim_variable() -> str | None:
        import os

        return os.environ.get("MALLOC_TRIM_THRESHOLD_")

    client = get_client(TWO, echo=lambda s: None)
    assert set(client.run(_malloc_trim_variable).values()) == {None}


def test_a_task_the_workers_cannot_import_fails_at_once(tmp_path: Path) -> None:
    """A task from a module only the client sees: a clear ChunkError before any task is
    submitted, not a run waiting forever on a task that never deserialises."""
    import importlib
    import sys

    from acts_gnn.distributed.executor import get_client

    get_client(TWO, echo=lambda s: None)  # the workers start before the module exists
    (tmp_path / "client_only_tasks.py").write_text(
        "def task(start, stop, ticker):\n    return stop - start\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("client_only_tasks")
        with pytest.raises(ChunkError, match=r"the workers cannot load the task.*client_only"):
            run_chunks(module.task, 4, TWO, desc="x", progress=False)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("client_only_tasks", None)

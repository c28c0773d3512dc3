"""Event-parallel runs on Dask: chunks of events as tasks, one progress bar, resume.

An event-parallel command splits its events into chunks (consecutive event ranges,
:func:`event_chunks`) and runs each chunk as one task (a separate ACTS Sequencer or stage run)
on a ``dask.distributed`` cluster: a local one of N processes with one thread each
(``--workers N``), or an existing one (``--scheduler ADDRESS``). Results do not depend on the
chunking: every event draws its random numbers from (seed, event number) alone, so a chunk
makes exactly the events a serial run makes.

* Progress: one bar over the events of the whole cluster; tasks report each finished event
  (:class:`Ticker`, through Dask's worker events), and a finished chunk tops its events up.
* Errors: a failing task raises :class:`ChunkError` naming its event range and the error;
  retries are Dask's (``ParallelOptions.retries``).
* Resume: with a :class:`ChunkState`, each finished chunk's result is pickled (atomically,
  :mod:`acts_gnn.io.atomic`) under the output, in a folder named by the run's fingerprint; a
  rerun of the same command loads those chunks instead of running them again, and the
  command removes the folder once its outputs are written.

Workers must see the same file system as the client (inputs, outputs and the chunk state).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import math
import pickle
import shutil
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")

#: A task: ``task(start, stop, ticker)`` processes the events at positions start .. stop - 1
#: of the command's event list and returns what the command merges (picklable).
Task = Callable[[int, int, "Ticker"], R]

#: Name of the folder (under the output) that holds the finished chunks of unfinished runs.
STATE_FOLDER = ".acts-gnn-chunks"

#: Tasks per worker when the chunk size is not given (load balance vs per-task overhead).
TASKS_PER_WORKER = 4

#: The Dask setting that exports ``MALLOC_TRIM_THRESHOLD_=65536`` to every worker process
#: (Dask's default). Setting that variable turns off glibc's dynamic mmap threshold, so each
#: large array of an event is mapped afresh and page-faulted in: our stages ran 1.3-1.5x
#: slower in such workers than in the client (module-map build, 8 Pythia8 MU = 200 events:
#: 1.94 s CPU against 1.40 s). Local clusters are started with it unset; for ``dask
#: worker`` set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` in the
#: Dask config (docs/distributed.md).
WORKER_MALLOC_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


@dataclass(frozen=True)
class ParallelOptions:
    """Where the chunks run: ``workers`` local processes (one thread each) or the cluster at
    ``scheduler`` (``tcp://host:8786``); neither: in-process, as a serial run.
    ``chunk_events``: events per task (None: about :data:`TASKS_PER_WORKER` tasks per
    worker); ``retries``: Dask's retries of a failed task; ``quiet`` (``-q``): Dask's INFO
    log lines (scheduler, nanny, worker registration) and the cluster line not shown."""

    workers: int | None = None
    scheduler: str | None = None
    chunk_events: int | None = None
    retries: int = 0
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give --workers (a local cluster) or --scheduler, not both")
        if self.chunk_events is not None and self.chunk_events < 1:
            raise ValueError(f"--chunk-events must be >= 1, got {self.chunk_events}")
        if self.retries < 0:
            raise ValueError(f"--retries must be >= 0, got {self.retries}")

    @property
    def enabled(self) -> bool:
        """True when the work goes to a Dask cluster."""
        return self.workers is not None or self.scheduler is not None

    @classmethod
    def from_args(cls, args: Any) -> ParallelOptions:
        """The options of :func:`acts_gnn.cli.options.add_parallel_options` in ``args``."""
        return cls(
            workers=getattr(args, "workers", None),
            scheduler=getattr(args, "scheduler", None),
            chunk_events=getattr(args, "chunk_events", None),
            retries=getattr(args, "retries", 0) or 0,
            quiet=bool(getattr(args, "quiet", False)),
        )


class ChunkError(RuntimeError):
    """A task failed: the message names the command, the chunk's events and the error."""


def event_chunks(n_events: int, chunk_events: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) ranges of at most ``chunk_events`` covering 0 .. n - 1."""
    if chunk_events < 1:
        raise ValueError(f"chunk size must be >= 1, got {chunk_events}")
    return [(s, min(s + chunk_events, n_events)) for s in range(0, n_events, chunk_events)]


def default_chunk_events(n_events: int, workers: int) -> int:
    """About :data:`TASKS_PER_WORKER` chunks per worker, at least one event each."""
    return max(1, math.ceil(n_events / (TASKS_PER_WORKER * max(workers, 1))))


def describe_range(start: int, stop: int, event_ids: Sequence[int] | None = None) -> str:
    """``events 4-7`` (event ids when ``event_ids`` maps positions to ids)."""
    first, last = (event_ids[start], event_ids[stop - 1]) if event_ids else (start, stop - 1)
    return f"event {first}" if first == last else f"events {first}-{last}"


# -- the cluster ------------------------------------------------------------------------------

_CLIENTS: dict[tuple[str | None, int | None], Any] = {}


def _close_clients() -> None:
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)  # routine closing messages
    for client in list(_CLIENTS.values()):
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    _CLIENTS.clear()


def get_client(options: ParallelOptions, echo: Callable[[str], None] = print) -> Any:
    """The ``distributed.Client`` of ``options``: connected to ``options.scheduler``, or a
    local cluster of ``options.workers`` processes (one thread each; started once per process
    and kept for later runs; its dashboard address printed through ``echo``, unless
    ``options.quiet``, which also sets the ``distributed`` loggers to WARNING)."""
    from distributed import Client, LocalCluster

    key = (options.scheduler, options.workers)
    client = _CLIENTS.get(key)
    if client is not None and client.status == "running":
        return client
    if options.quiet:
        quiet_dask_logs()
        echo = _silent
    if options.scheduler is not None:
        client = Client(options.scheduler)
        echo(
            f"Dask: scheduler {options.scheduler}, {len(client.scheduler_info()['workers'])} workers"
        )
    else:
        import dask

        with dask.config.set({WORKER_MALLOC_KEY: None}):  # glibc's own heap thresholds
            cluster = LocalCluster(
                n_workers=options.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: several runs on one machine do not clash
            )
        client = Client(cluster)
        echo(
            f"Dask: local cluster of {options.workers} processes (1 thread each); dashboard "
            f"{cluster.dashboard_link}"
            + ("" if _has_bokeh() else " (its pages need bokeh: pip install 'bokeh>=3.1')")
        )
    if not _CLIENTS:
        atexit.register(_close_clients)
    _CLIENTS[key] = client
    return client


def _silent(message: str) -> None:
    """An ``echo`` that prints nothing."""


def quiet_dask_logs() -> None:
    """Set the loggers of ``distributed`` (and those of its modules given their own level)
    to WARNING: no INFO lines from the scheduler, nannies or worker registration."""
    import logging

    names = [
        "distributed",
        *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
    ]
    for name in names:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _has_bokeh() -> bool:
    from importlib.util import find_spec

    return find_spec("bokeh") is not None


def close_clients() -> None:
    """Close the clients (and local clusters) :func:`get_client` started."""
    _close_clients()


# -- resume -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkState:
    """Where finished chunks of a run are kept: ``folder`` = ``<root>/<fingerprint>``."""

    folder: Path

    @classmethod
    def under(cls, root: str | Path, command: str, key: dict[str, Any]) -> ChunkState:
        """The state of ``command`` run with ``key`` (its inputs and knobs, JSON-able) under
        ``root/.acts-gnn-chunks``: equal keys (and chunk ranges) resume each other."""
        text = json.dumps({"command": command, **key}, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return cls(Path(root) / STATE_FOLDER / f"{command}-{digest}")

    def result_path(self, start: int, stop: int) -> Path:
        """The pickled result of chunk [start, stop)."""
        return self.folder / f"chunk-{start:09d}-{stop:09d}.pkl"

    def chunk_folder(self, start: int, stop: int) -> Path:
        """A folder for what chunk [start, stop) writes before the merge (e.g. ROOT files)."""
        return self.folder / f"chunk-{start:09d}-{stop:09d}"

    def load(self, start: int, stop: int) -> tuple[bool, Any]:
        """(True, result) when chunk [start, stop) finished in an earlier run, else (False,
        None). The files are this package's own, written by :func:`run_chunks`."""
        path = self.result_path(start, stop)
        if not path.is_file():
            return False, None
        with path.open("rb") as f:
            return True, pickle.load(f)

    def remove(self) -> None:
        """Remove the run's folder (and the state root if it is left empty)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.folder.parent.rmdir()


# -- the tasks --------------------------------------------------------------------------------


class Ticker:
    """Counts a task's finished events for the client's progress bar: ``update(n)`` (the
    interface of the stages' ``progress`` arguments)."""

    def __init__(self, topic: str | None, chunk: int) -> None:
        self.topic = topic
        self.chunk = chunk
        self.count = 0

    def update(self, n: int = 1) -> None:
        self.count += n
        if self.topic is None:
            return
        try:
            from distributed import get_worker

            get_worker().log_event(self.topic, {"chunk": self.chunk, "n": n})
        except ValueError:  # not in a worker (a task run in-process): nothing to report
            pass


def _load_on_worker(payload: bytes) -> None:
    """Unpickle ``payload`` (the task and its reduce) on a worker: raises what a task's
    deserialisation would, e.g. ModuleNotFoundError for a function the worker cannot import."""
    pickle.loads(payload)


def check_loadable(client: Any, desc: str, *functions: Any) -> None:
    """Raise :class:`ChunkError` unless every worker can unpickle ``functions``. Dask itself
    only logs a task that fails to deserialise on a worker and the run would wait for it
    forever; this costs one round trip before the tasks start."""
    import cloudpickle

    payload = cloudpickle.dumps(functions)
    try:
        client.run(_load_on_worker, payload)
    except Exception as err:
        raise ChunkError(
            f"{desc}: the workers cannot load the task ({type(err).__name__}: {err}); a task "
            "function must be importable on every worker (a module the workers see) or "
            "defined where cloudpickle sends it by value"
        ) from None


def _run_chunk(
    task: Task[Any],
    start: int,
    stop: int,
    index: int,
    topic: str | None,
    label: str,
    result_path: Path | None,
    reduce: Callable[[Any, Any], Any] | None = None,
    previous: Any = None,
) -> Any:
    """Run one chunk in a worker; store its result for resume; name the range on failure.
    With ``reduce`` and a ``previous`` result (Dask passes it in): return the two merged
    (the chunk's own result is what is stored)."""
    from acts_gnn.io.atomic import atomic_path

    try:
        result = task(start, stop, Ticker(topic, index))
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        raise ChunkError(
            f"{label}: {type(err).__name__}: {err} (at {where.filename}:{where.lineno} in "
            f"{where.name})"
        ) from None
    if result_path is not None:
        with atomic_path(result_path) as partial, partial.open("wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    if reduce is None or previous is None:
        return result
    try:
        return reduce(previous, result)
    except Exception as err:
        raise ChunkError(f"{label}: merging results: {type(err).__name__}: {err}") from None


def run_chunks(
    task: Task[R],
    n_events: int,
    options: ParallelOptions,
    *,
    desc: str,
    state: ChunkState | None = None,
    event_ids: Sequence[int] | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    reduce: Callable[[R, R], R] | None = None,
) -> list[R]:
    """Run ``task`` over the chunks of ``n_events`` events on the cluster of ``options``;
    returns the chunks' results in event order.

    ``desc``: the command (bar and messages); ``state``: resume from and record finished
    chunks; ``event_ids``: the ids of the event positions, for messages. A failed task raises
    :class:`ChunkError` (``"<desc> events 4-7: ValueError: ..."``); the other tasks are
    cancelled, the finished chunks stay recorded.

    ``reduce``: an associative and commutative merge of two results (a map-reduce). Then
    each task slot of the cluster runs a chain of chunks: a finished chunk's next chunk is
    submitted with its result, runs where that result is (Dask places a task by its data)
    and returns the two merged; when no chunk is left, the chains' results are merged two
    at a time, and the client receives one: the returned list holds that single result
    (merged with any resumed chunks'). A worker holds one running result, whatever the
    number of chunks, and no merge task waits for a slot that a chunk needs (tree merges
    did: with them one worker idled for a whole chunk).
    """
    from distributed import as_completed

    from acts_gnn.progress import progress_bar

    if n_events < 1:
        return []
    client = get_client(options, echo)
    check_loadable(client, desc, task, reduce)
    info = client.scheduler_info()["workers"]
    workers = options.workers or max(len(info), 1)
    slots = max(sum(int(w.get("nthreads", 1)) for w in info.values()), 1)
    size = options.chunk_events or default_chunk_events(n_events, workers)
    chunks = event_chunks(n_events, size)
    results: list[Any] = [None] * len(chunks)
    todo = []
    for i, (start, stop) in enumerate(chunks):
        done, result = state.load(start, stop) if state is not None else (False, None)
        if done:
            results[i] = result
        else:
            todo.append(i)
    pending = set(todo)
    resumed = sum(b - a for i, (a, b) in enumerate(chunks) if i not in pending)
    if resumed:
        echo(
            f"{desc}: {len(chunks) - len(todo)} of {len(chunks)} chunks ({resumed} events) "
            "finished in an earlier run: resumed"
        )
    if state is not None:
        state.folder.mkdir(parents=True, exist_ok=True)
    topic = f"acts-gnn-progress-{uuid.uuid4().hex}"
    seen = [0] * len(chunks)
    with progress_bar(n_events, desc, "event", enabled=progress) as bar:
        bar.update(resumed)

        def on_event(event: Any) -> None:
            msg = event[1] if isinstance(event, tuple) else event
            i, n = int(msg["chunk"]), int(msg["n"])
            room = (chunks[i][1] - chunks[i][0]) - seen[i]
            n = max(0, min(n, room))
            seen[i] += n
            bar.update(n)

        client.subscribe_topic(topic, on_event)
        stream = as_completed()
        futures: dict[Any, int] = {}  # unfinished chunk tasks -> chunk
        merges: set[Any] = set()  # unfinished reduce(a, b) tasks
        ready: list[Any] = []  # finished results waiting for a partner
        queue = list(reversed(todo))  # chunks not submitted yet, next last

        def submit(i: int, previous: Any = None) -> None:
            future = client.submit(
                _run_chunk,
                task,
                chunks[i][0],
                chunks[i][1],
                i,
                topic,
                f"{desc} {describe_range(*chunks[i], event_ids)}",
                None if state is None else state.result_path(*chunks[i]),
                reduce,
                previous,
                key=f"{desc}-{chunks[i][0]}-{chunks[i][1]}-{topic[-8:]}",
                retries=options.retries,
                pure=False,
            )
            futures[future] = i
            stream.add(future)

        def pair_up() -> None:  # reduce two finished results on the cluster
            while len(ready) >= 2:
                merged = client.submit(reduce, ready.pop(), ready.pop(), pure=False)
                merges.add(merged)
                stream.add(merged)

        # without reduce every chunk goes at once; with it, one chain per task slot
        for _ in range(len(queue) if reduce is None else min(slots, len(queue))):
            submit(queue.pop())
        try:
            for future in stream:
                if future in merges:
                    merges.discard(future)
                    if future.status == "error":
                        err = future.exception()
                        raise ChunkError(f"{desc}: merging results: {type(err).__name__}: {err}")
                    ready.append(future)
                    pair_up()
                    continue
                i = futures.pop(future)
                if future.status == "error":
                    err = future.exception()
                    if isinstance(err, ChunkError):
                        raise ChunkError(str(err)) from None
                    raise ChunkError(
                        f"{desc} {describe_range(*chunks[i], event_ids)}: "
                        f"{type(err).__name__}: {err}"
                    ) from None
                if reduce is None:
                    results[i] = future.result()
                elif queue:
                    submit(queue.pop(), previous=future)  # the chain goes on with this result
                else:
                    ready.append(future)
                    pair_up()
                n = chunks[i][1] - chunks[i][0] - seen[i]
                seen[i] += n
                bar.update(n)
        finally:
            for future in [*futures, *merges]:
                future.cancel()
            client.unsubscribe_topic(topic)
    if reduce is None:
        return results
    parts = [ready[0].result()] if ready else []
    parts += [results[i] for i in range(len(chunks)) if i not in pending]  # resumed chunks
    total: R = parts[0]
    for part in parts[1:]:
        total = reduce(total, part)
    return [total]


__all__ = [
    "STATE_FOLDER",
    "TASKS_PER_WORKER",
    "WORKER_MALLOC_KEY",
    "ChunkError",
    "ChunkState",
    "ParallelOptions",
    "Task",
    "Ticker",
    "check_loadable",
    "close_clients",
    "default_chunk_events",
    "describe_range",
    "event_chunks",
    "get_client",
    "quiet_dask_logs",
    "run_chunks",
]

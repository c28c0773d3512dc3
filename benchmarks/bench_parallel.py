#!/usr/bin/env python3
"""Speed-up of the event-parallel commands on Dask vs the number of workers.

For ``simulate``, ``prepare`` and ``module-map build`` on the same MU = 200 events: the wall
time of the serial in-process run and of runs on local Dask clusters of 1 and 2 worker
processes (one thread each, one event per task), the median of ``--repeats``; the speed-up at
N workers is t(1 worker) / t(N workers). Each cluster is started and its workers warmed up
(ACTS and the stages' modules imported, the detector built: a one-off cost per worker,
printed) before the timing.
Also printed: the per-task overhead, as the Dask round trip of an empty task and as
(t(1 worker) - t(serial)) / tasks for each stage, and the load average of the machine
before and after (on a shared machine the speed-up is a lower bound).

With ``--map-input DIR``, one more row: ``module-map build`` from the first ``--map-events``
events of that prepared folder with the command's default chunking (a module map is built
from hundreds of events, so its one-off costs, the final merge and the map's arrays, weigh
less there than in a one-event-per-task run of a few events).

Usage: ``python benchmarks/bench_parallel.py [--events 4] [--pileup 200] [--repeats 1]
[--generator parametric|pythia8] [--map-input DIR --map-events 64]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _machine import machine_line

from acts_gnn.distributed.executor import (
    ParallelOptions,
    close_clients,
    get_client,
    run_chunks,
)

#: The stages timed, in the order they run (each reads what the one before wrote).
STAGES = ("simulate", "prepare", "module-map build")


def _warm() -> None:
    """A worker's one-off start: ACTS and the stages' modules imported, the detector built."""
    import pyarrow.parquet  # noqa: F401

    import acts_gnn.distributed.module_map
    import acts_gnn.distributed.prepare
    import acts_gnn.distributed.simulate  # noqa: F401
    from acts_gnn.detector import load_generic_detector

    load_generic_detector()


def _noop(start: int, stop: int, ticker: object) -> int:
    return stop - start


def _same_parquet(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("*.parquet"))
    return bool(names) and all((a / x).read_bytes() == (b / x).read_bytes() for x in names)


def _same_map(a: object, b: object) -> bool:
    import numpy as np

    fields = ("modules", "triplets", "occurrence", "cuts12", "cuts23", "diff_dzdr", "diff_dydx")
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields) and (
        a.metadata == b.metadata  # type: ignore[attr-defined]
    )


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _timed(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from acts_gnn.distributed.module_map import build_module_map_parallel
    from acts_gnn.distributed.prepare import prepare_parallel
    from acts_gnn.distributed.simulate import check_simulation_equal, simulate_parallel
    from acts_gnn.graph import TruthSelection
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.simulation import GeneratorConfig, Pythia8Config, simulate
    from acts_gnn.simulation.prepare import prepare

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=4, help="events (one per task)")
    parser.add_argument("--pileup", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=1, help="median of this many runs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--generator",
        choices=("parametric", "pythia8"),
        default="parametric",
        help="the events: parametric, or Pythia8 ttbar + MU minimum-bias",
    )
    parser.add_argument(
        "--map-input",
        type=Path,
        help="also time module-map build on this prepared folder (default chunking)",
    )
    parser.add_argument("--map-events", type=int, default=64, help="events of --map-input")
    args = parser.parse_args()
    n, mu = args.events, args.pileup
    config: GeneratorConfig | Pythia8Config = (
        Pythia8Config(pileup=mu)
        if args.generator == "pythia8"
        else GeneratorConfig(pileup=mu, hard_scatter=True)
    )
    selection = TruthSelection(min_pt=0.9)
    print(machine_line())
    print(f"load average (1/5/15 min) before: {_load()}")
    print(
        f"{n} {args.generator} events at MU = {mu:g}, one event per task, median of {args.repeats}; "
        "workers: local Dask processes, one thread each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sim, prep = root / "sim", root / "prep"

        def serial_simulate() -> None:
            simulate(sim, n, config, seed=1, progress=False)

        def serial_prepare() -> None:
            prepare(sim, prep, progress=False, overwrite=True)

        maps: dict[tuple[str, object], object] = {}  # (stage, "serial" or workers) -> map

        def serial_map(stage: str, events: list[tuple[str, int]]) -> None:
            """The serial build, with the symmetries (the command's default)."""
            from acts_gnn.detector import load_generic_detector
            from acts_gnn.graph.module_map.symmetry import DetectorSymmetry

            symmetry = DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())
            folders: dict[str, list[int]] = {}
            for folder, event_id in events:
                folders.setdefault(folder, []).append(event_id)
            data = (e for f, ids in folders.items() for e in PreparedDataset(f, ids))
            maps[(stage, "serial")] = build_module_map(data, selection, symmetry, True, True)

        options = {w: ParallelOptions(workers=w, chunk_events=1) for w in args.workers}
        stages = list(STAGES)
        tasks = dict.fromkeys(STAGES, n)
        big_refs: list[tuple[str, int]] = []
        if args.map_input is not None:
            from acts_gnn.distributed.executor import default_chunk_events, event_chunks

            ids = PreparedDataset(args.map_input).event_ids[: args.map_events]
            big_refs += [(str(args.map_input), e) for e in ids]
            big = f"module-map build, {len(ids)} events"
            stages.append(big)
            tasks[big] = len(event_chunks(len(ids), default_chunk_events(len(ids), 2)))
        noop: dict[int, float] = {}
        for w, o in options.items():  # every cluster up and warm before any timing
            start = time.perf_counter()
            get_client(o, echo=lambda s: None).run(_warm)
            print(f"{w} worker(s): cluster start + warm-up {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            run_chunks(_noop, 40, o, desc="noop", progress=False)
            noop[w] = (time.perf_counter() - start) / 40
        refs: list[tuple[str, int]] = []

        def runs(stage: str) -> dict[object, Callable[[], object]]:
            """The serial run and each worker count's run of ``stage``."""
            if stage == "simulate":
                out: dict[object, Callable[[], object]] = {"serial": serial_simulate}
                for w, o in options.items():
                    d = root / f"w{w}" / "sim"
                    out[w] = partial(simulate_parallel, d, n, config, o, seed=1, progress=False)
                return out
            if stage == "prepare":
                out = {"serial": serial_prepare}
                for w, o in options.items():
                    d = root / f"w{w}" / "prep"
                    out[w] = partial(prepare_parallel, sim, d, o, progress=False, overwrite=True)
                return out
            whole = stage != "module-map build"  # the --map-input row: default chunking
            events = big_refs if whole else refs
            out = {"serial": partial(serial_map, stage, events)}
            for w, o in options.items():
                o = ParallelOptions(workers=w) if whole else o

                def par_map(o: ParallelOptions = o, w: int = w) -> None:
                    maps[(stage, w)] = build_module_map_parallel(
                        events, selection, o, True, True, progress=False
                    )

                out[w] = par_map
            return out

        # interleaved: serial, 1 worker, 2 workers back to back, so that the load of a shared
        # machine drifts over all of them alike
        times: dict[object, dict[str, float]] = {k: {} for k in ["serial", *options]}
        for stage in stages:
            samples: dict[object, list[float]] = {k: [] for k in times}
            for _ in range(args.repeats):
                for key, fn in runs(stage).items():
                    start = time.perf_counter()
                    fn()
                    samples[key].append(time.perf_counter() - start)
                if stage == "prepare" and not refs:
                    refs += [(str(prep), e) for e in PreparedDataset(prep).event_ids]
            for key, values in samples.items():
                times[key][stage] = statistics.median(values)
        close_clients()
        same = {
            w: {
                "simulate": not check_simulation_equal(sim, root / f"w{w}" / "sim"),
                "prepare": _same_parquet(prep, root / f"w{w}" / "prep"),
                **{
                    stage: _same_map(maps[(stage, "serial")], maps[(stage, w)])
                    for stage in stages[STAGES.index("module-map build") :]
                },
            }
            for w in options
        }
    print(f"load average after: {_load()}")
    cols = "".join(f"{f'{w} worker(s) [s]':>17}" for w in args.workers)
    ups = "".join(f"{f'x{w}':>7}" for w in args.workers[1:])
    width = max(len(s) for s in stages) + 2
    header = f"{'stage':<{width}}{'serial [s]':>11}{cols}{ups}{'tasks':>6}{'overhead/task [s]':>19}  equal"
    print(header)
    print("-" * len(header))
    base = args.workers[0]
    for stage in stages:
        t = times["serial"][stage]
        row = f"{stage:<{width}}{t:>11.1f}"
        row += "".join(f"{times[w][stage]:>17.1f}" for w in args.workers)
        row += "".join(f"{times[base][stage] / times[w][stage]:>7.2f}" for w in args.workers[1:])
        row += f"{tasks[stage]:>6}{(times[base][stage] - t) / tasks[stage]:>19.2f}"
        row += "  " + ("yes" if all(same[w][stage] for w in args.workers) else "NO")
        print(row)
    print(
        "x N: t(1 worker) / t(N workers); overhead/task: (t(1 worker) - t(serial)) / tasks "
        "(ACTS Sequencer and stage set-up per task, file merge); equal: every worker count's "
        "output equals the serial one (simulated branches; Parquet bytes; map arrays); "
        "empty Dask task: "
        + ", ".join(f"{1e3 * noop[w]:.1f} ms ({w} workers)" for w in args.workers)
    )


if __name__ == "__main__":
    main()

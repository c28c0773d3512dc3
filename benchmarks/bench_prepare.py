#!/usr/bin/env python3
"""``prepare`` time per event on already simulated events, one process, where the time goes.

For ``--repeats`` runs of :func:`acts_gnn.simulation.prepare.prepare` on the first ``--events``
events of ``--input`` (the detector built once, before the timing): the wall time per event
including the up-front input checks and the Sequencer set-up, the CPU time per event
(user + sys of this process: above the wall time only if it used more than one core), and the
median of the per-event times of the report (reading, ACTS digitization, tables, writing).
With ``--stages`` the functions of each stage are timed (wrapped; a few us of overhead per
call, ~10 calls per event). The load average before and after is printed: on a shared
machine compare runs made back to back. To compare with another version of the package, run
the same command with ``PYTHONPATH`` pointing at it, interleaved with this one.

Usage: ``python benchmarks/bench_prepare.py [--input data/p8-gnn-train] [--events 8]
[--repeats 2] [--stages]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _machine import machine_line

import acts_gnn.io.root_reader as root_reader
import acts_gnn.simulation.prepare as prepare_module
from acts_gnn.detector import load_generic_detector

REPO = Path(__file__).resolve().parents[1]

#: (module or class, function name, label): what ``--stages`` times, where it exists.
STAGES: list[tuple[Any, str, str]] = [
    (root_reader.SimulationFiles, "validate", "input checks (validate)"),
    (root_reader.SimulationFiles, "hits", "hits read (uproot, sort)"),
    (root_reader, "columns_to_sim_hits", "SimHitContainer build"),
    (root_reader, "root_particles_to_sim_particles", "SimParticleContainer build"),
    (prepare_module, "measurements_to_event", "measurements -> event tables"),
    (prepare_module, "measurement_values", "  of which: measurement values"),
    (prepare_module, "write_event", "Parquet writing"),
]


def _wrap(owner: Any, name: str, label: str, totals: dict[str, float]) -> None:
    function = getattr(owner, name, None)
    if function is None:
        return

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    setattr(owner, name, timed)  # prepare calls these through its module's globals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, default=REPO / "data" / "p8-gnn-train")
    parser.add_argument("--events", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--stages", action="store_true", help="time each stage")
    args = parser.parse_args()
    print(machine_line())
    print("load average (1/5/15 min) before: {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg()))
    print(f"code: {Path(prepare_module.__file__).resolve().parents[1]}")
    detector = load_generic_detector()
    detector.surfaces()
    totals: dict[str, float] = defaultdict(float)
    if args.stages:
        for owner, name, label in STAGES:
            _wrap(owner, name, label, totals)
    header = f"{'run':>4} {'wall/event [s]':>15} {'CPU/event [s]':>14} {'median event [s]':>17}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            out = Path(tmp) / "prepared"
            shutil.rmtree(out, ignore_errors=True)
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            report = prepare_module.prepare(
                args.input, out, detector=detector, events=args.events, progress=False
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            n = len(report.written) + len(report.skipped)
            median = statistics.median(report.seconds_per_event)
            rows.append((wall / n, cpu / n, median))
            print(f"run {repeat + 1}: {n} events, {wall:.2f} s", flush=True)
    print(f"{args.events} events of {args.input}, median of {args.repeats} runs")
    print(header)
    print("-" * len(header))
    for k, (wall, cpu, median) in enumerate(rows):
        print(f"{k + 1:>4} {wall:>15.3f} {cpu:>14.3f} {median:>17.3f}")
    walls, cpus, medians = zip(*rows, strict=True)
    print(
        f"{'med':>4} {statistics.median(walls):>15.3f} {statistics.median(cpus):>14.3f} "
        f"{statistics.median(medians):>17.3f}"
    )
    if args.stages:
        n_total = args.events * args.repeats
        print("by stage [s per event]:")
        for _, _, label in STAGES:
            if label in totals:
                print(f"  {label:34s} {totals[label] / n_total:.3f}")
    print("load average after: {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

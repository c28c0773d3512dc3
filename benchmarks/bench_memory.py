#!/usr/bin/env python3
"""Where the memory of ``acts-gnn compare`` goes: resident memory after every stage.

Runs the comparison of ``acts-gnn compare`` (:func:`acts_gnn.sequencer.compare.
run_comparison`, this process, one thread) on a simulation folder and prints the resident
set size (RSS, MiB) after the set-up steps (imports, detector, module map + GNN model) and,
per event, after every Sequencer algorithm (a marker algorithm is added behind each; the
reader and ACTS's digitization share the first row), with the step's own peak (sampled
every 3 ms) and the change; then the run's peak RSS as ``summary.json`` reports it
(``peak_rss_mb``, ``ru_maxrss``). ``bench_chains.py`` prints that peak per pile-up; this
script says which stage holds it. Usage::

    python benchmarks/bench_memory.py --input data/p8-mu200-test [--events 2] \\
        [--ckf-preset fast [upstream tuned]] [--output DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from _machine import machine_line

_PROCESS = psutil.Process()


def rss_mb() -> float:
    """The resident set size of this process now [MiB]."""
    return float(_PROCESS.memory_info().rss) / 2**20


class PeakSampler:
    """The largest RSS seen since the last :meth:`take` (a daemon thread samples every
    ``period`` seconds)."""

    def __init__(self, period: float = 0.003) -> None:
        self.peak = rss_mb()
        self.period = period
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.period)

    def take(self) -> float:
        peak, self.peak = max(self.peak, rss_mb()), rss_mb()
        return peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, required=True, help="simulation folder (ROOT)")
    parser.add_argument("--events", type=int, default=2)
    parser.add_argument("--ckf-preset", nargs="+", default=["fast"])
    parser.add_argument("--output", type=Path, default=None, help="report folder (default: temp)")
    args = parser.parse_args(argv)

    sampler = PeakSampler()
    setup: list[tuple[str, float, float]] = [("python start", rss_mb(), sampler.take())]
    import acts
    import acts.examples
    import torch  # noqa: F401  (the GNN's runtime, imported by the chain anyway)

    from acts_gnn.detector.generic import load_generic_detector
    from acts_gnn.sequencer import compare

    setup.append(("imports (numpy, torch, acts, acts_gnn)", rss_mb(), sampler.take()))
    load_generic_detector()
    setup.append(("generic detector", rss_mb(), sampler.take()))

    rows: dict[int, list[tuple[str, float, float]]] = {}
    stages = compare.gnn_stages

    def timed_stages(config: Any) -> dict[str, Any]:
        out = stages(config)
        setup.append(("module map + GNN model (gnn_stages)", rss_mb(), sampler.take()))
        return out

    class Marker(acts.examples.IAlgorithm):  # type: ignore[misc]
        """Records the RSS behind the algorithm it follows."""

        def __init__(self, label: str) -> None:
            super().__init__(f"MemoryMarker{label[:3]}", acts.logging.WARNING)
            self.label = label

        def execute(self, context: Any) -> Any:
            rows.setdefault(context.eventNumber, []).append((self.label, rss_mb(), sampler.take()))
            return acts.examples.ProcessCode.SUCCESS

    sequencer = acts.examples.Sequencer
    add = sequencer.addAlgorithm
    count = [0]

    def add_with_marker(s: Any, algorithm: Any) -> None:
        add(s, algorithm)
        if isinstance(algorithm, Marker):
            return
        count[0] += 1
        add(s, Marker(f"{count[0]:02d} {algorithm.name()}"))

    compare.gnn_stages = timed_stages
    sequencer.addAlgorithm = add_with_marker
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = compare.CompareConfig(
                input=args.input,
                output=args.output or Path(tmp),
                events=args.events,
                ckf_presets=tuple(args.ckf_preset),
            )
            summary = compare.run_comparison(config, progress=False)
    finally:
        sequencer.addAlgorithm = add
        compare.gnn_stages = stages

    print(machine_line())
    print(f"input {args.input}, {summary['events']} events, CKF presets {args.ckf_preset}")
    print(f"{'step':58s} {'RSS':>8s} {'peak':>8s} {'change':>8s}")
    previous = 0.0
    for label, rss, peak in setup:
        print(f"{label:58s} {rss:8.1f} {peak:8.1f} {rss - previous:+8.1f}")
        previous = rss
    for event, per_event in rows.items():
        print(f"event {event} (RSS after each algorithm; the first row: reader + digitization)")
        for label, rss, peak in per_event:
            print(f"  {label:56s} {rss:8.1f} {peak:8.1f} {rss - previous:+8.1f}")
            previous = rss
    print(f"peak RSS (summary.json peak_rss_mb): {summary['peak_rss_mb']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

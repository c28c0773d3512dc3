#!/usr/bin/env python3
"""Generation and simulation time per event vs pile-up, Pythia8 and parametric (one thread).

For each generator and MU (ttbar / ttbar-like hard scatter + Poisson(MU) pile-up): the median
over ``--repeats`` events of the generator alone (particles handed to Fatras), and the median
per event of ``simulate`` (generator + Fatras + ROOT writing; its first event, which carries
the geometry set-up, dropped), with the event size: generated particles, simulated particles
(with Fatras's secondaries), sim hits and ROOT bytes per event. Pythia8's initialisation (a
few seconds, cached across runs) is not counted.

Usage: ``python benchmarks/bench_generation.py [--repeats 5] [--events 3] [--mu 10 50 200]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _machine import machine_line

from acts_gnn.detector import load_generic_detector
from acts_gnn.simulation import EventGenerator, GeneratorConfig, simulate
from acts_gnn.simulation.fatras import event_rng
from acts_gnn.simulation.pythia8 import Pythia8Config, Pythia8Generator


def _config(generator: str, mu: float) -> GeneratorConfig | Pythia8Config:
    if generator == "pythia8":
        return Pythia8Config(pileup=mu)
    return GeneratorConfig(pileup=mu, hard_scatter=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="generator-only events per point")
    parser.add_argument("--events", type=int, default=3, help="simulated events per point")
    parser.add_argument("--mu", type=float, nargs="+", default=[10, 50, 200])
    parser.add_argument("--generators", nargs="+", default=["pythia8", "parametric"])
    args = parser.parse_args()
    print(machine_line())
    print(
        f"medians over {args.repeats} generated / {args.events} simulated events (first "
        "simulated event dropped when > 2), one thread"
    )
    header = (
        f"{'generator':>10} {'MU':>4} {'generate [s]':>12} {'simulate [s]':>12} "
        f"{'generated':>9} {'simulated':>9} {'hits':>7} {'ROOT MB':>7}"
    )
    print(header)
    print("-" * len(header))
    detector = load_generic_detector()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.generators:
            for mu in args.mu:
                config = _config(name, mu)
                generator = (
                    Pythia8Generator(config)
                    if isinstance(config, Pythia8Config)
                    else EventGenerator(config)
                )
                generator.generate(event_rng(1, 10_000))  # initialisation, not timed
                times, sizes = [], []
                for k in range(args.repeats):
                    start = time.perf_counter()
                    table = generator.generate(event_rng(1, k))
                    times.append(time.perf_counter() - start)
                    sizes.append(len(table["pdg"]))
                out = Path(tmp) / f"{name}{mu:g}"
                sim = simulate(out, args.events, config, seed=1, detector=detector, progress=False)
                per_event = sim.seconds_per_event[1:] if args.events > 2 else sim.seconds_per_event
                size = sum(f.stat().st_size for f in out.glob("*.root")) / args.events / 1e6
                print(
                    f"{name:>10} {mu:>4g} {statistics.median(times):>12.3f} "
                    f"{statistics.median(per_event):>12.2f} {statistics.median(sizes):>9.0f} "
                    f"{statistics.mean(sim.particles_per_event):>9.0f} "
                    f"{statistics.mean(sim.hits_per_event):>7.0f} {size:>7.2f}"
                )


if __name__ == "__main__":
    main()

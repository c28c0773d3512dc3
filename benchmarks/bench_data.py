#!/usr/bin/env python3
"""Simulation and preparation cost per event vs pile-up (single thread).

Prints, for each MU: particles and measurements per event, and the median time per event of
``simulate`` (generator + Fatras + ROOT writing) and ``prepare`` (ROOT reading + ACTS
digitization + event tables). Usage: ``python benchmarks/bench_data.py [--events 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _machine import machine_line

from acts_gnn.simulation import GeneratorConfig, simulate
from acts_gnn.simulation.prepare import prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3, help="events per pile-up value")
    parser.add_argument("--pileup", type=float, nargs="+", default=[10, 50, 200])
    args = parser.parse_args()
    print(machine_line())
    print(f"events per MU: {args.events}; times are medians over events, one thread")
    header = f"{'MU':>5} {'particles':>10} {'measurements':>13} {'simulate [s]':>13} {'prepare [s]':>12} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for mu in args.pileup:
            sim_dir = Path(tmp) / f"sim{mu:g}"
            sim = simulate(
                sim_dir,
                args.events,
                GeneratorConfig(pileup=mu, hard_scatter=True),
                seed=1,
                progress=False,
            )
            report = prepare(sim_dir, Path(tmp) / f"prep{mu:g}", progress=False)
            # The first event carries one-off set-up costs (geometry, surface cache): drop it
            # when there are enough events.
            sim_times = sim.seconds_per_event[1:] if args.events > 2 else sim.seconds_per_event
            prep_times = (
                report.seconds_per_event[1:] if args.events > 2 else report.seconds_per_event
            )
            t_sim = statistics.median(sim_times)
            t_prep = statistics.median(prep_times)
            from acts_gnn.io.event_store import PreparedDataset

            n_meas = statistics.mean(e.n_hits for e in PreparedDataset(Path(tmp) / f"prep{mu:g}"))
            n_part = statistics.mean(sim.particles_per_event)
            print(
                f"{mu:>5g} {n_part:>10.0f} {n_meas:>13.0f} {t_sim:>13.2f} {t_prep:>12.2f} {t_prep / t_sim:>6.2f}"
            )


if __name__ == "__main__":
    main()

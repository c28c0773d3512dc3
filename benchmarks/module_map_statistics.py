#!/usr/bin/env python3
"""How module-map edge efficiency grows with the number of training events, with and without
the detector symmetries (z mirror, phi rotation by the module pitch).

Usage::

    python benchmarks/module_map_statistics.py --train data/map-train-prepared \\
        --test data/mu200-test-prepared --events 1 2 5 10 20 40 60

Prints one row per (training events, symmetries): map size, edge efficiency and purity on the
held-out events (truth pT > 1 GeV, >= 3 measurements).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from _machine import machine_line

from acts_gnn.detector import load_generic_detector
from acts_gnn.graph import TruthSelection
from acts_gnn.graph.module_map.build import build_module_map, evaluate_module_map
from acts_gnn.graph.module_map.symmetry import DetectorSymmetry
from acts_gnn.io.event_store import PreparedDataset


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, required=True, help="prepared training events")
    parser.add_argument("--test", type=Path, required=True, help="prepared held-out events")
    parser.add_argument("--events", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--build-min-pt", type=float, default=0.9)
    args = parser.parse_args()
    train_ids = PreparedDataset(args.train).event_ids
    test = PreparedDataset(args.test)
    symmetry = DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())
    build_selection = TruthSelection(min_pt=args.build_min_pt, min_hits=3)
    eval_selection = TruthSelection(min_pt=1.0, min_hits=3)
    print(machine_line())
    print(f"held-out events: {len(test)} from {args.test}; training events from {args.train}")
    print(
        f"map built from particles with pT > {args.build_min_pt} GeV; efficiency for pT > 1 GeV, >= 3 hits"
    )
    header = f"{'events':>6} {'symmetries':>11} {'triplets':>9} {'doublets':>9} {'efficiency':>10} {'purity':>7} {'edges/evt':>9} {'build [s]':>9}"
    print(header)
    print("-" * len(header))
    for n in args.events:
        if n > len(train_ids):
            break
        for use_symmetry in (False, True):
            start = time.perf_counter()
            module_map = build_module_map(
                PreparedDataset(args.train, train_ids[:n]),
                build_selection,
                symmetry if use_symmetry else None,
            )
            build_time = time.perf_counter() - start
            result = evaluate_module_map(test, module_map, eval_selection)
            m = result.metrics
            print(
                f"{n:>6} {'z+phi' if use_symmetry else 'none':>11} {module_map.n_triplets:>9} {module_map.n_doublets:>9} "
                f"{m.efficiency:>10.4f} {m.purity:>7.4f} {m.edges / m.events:>9.0f} {build_time:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

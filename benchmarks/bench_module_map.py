#!/usr/bin/env python3
"""Module-map graph construction vs pile-up: graph size, edge efficiency and purity, time.

For each MU, simulates and prepares a few events (pile-up MU + a hard scatter) in a temporary
folder, applies the module map given by ``--module-map`` and prints one row per MU:

* hits/event, edges/event, share of hits on modules missing from the map;
* edge efficiency (truth edges of particles with pT > 1 GeV and >= 3 measurements that are in
  the graph) and purity (graph edges joining consecutive hits of any particle), docs/design.md "Metrics";
* median time per event of (a) feature preparation: hit positions + module lookup in the map,
  (b) graph building in the C++ core with one thread (doublet + triplet cuts), and a + b;
  with ``--threads N`` (N > 1) also (b) with N threads.

Then a power law time = c * hits^k fitted by least squares on log-log per-event points.
Usage: ``python benchmarks/bench_module_map.py [--pileup 10 50 100 200] [--events 3]
[--module-map data/module-map.npz] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
from _machine import machine_line

from acts_gnn import _core
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import EdgeMetrics

REPO = Path(__file__).resolve().parent.parent
SELECTION = TruthSelection(min_pt=1.0, min_hits=3)


def core_arrays(mm: ModuleMap) -> dict[str, object]:
    """The map's arrays as ``_core.module_map_graph`` takes them (as ModuleMapGraphBuilder)."""
    return dict(
        n_modules=mm.n_modules,
        doublet_modules=mm.doublets,
        doublet_cuts=mm.doublet_cuts.reshape(-1, 8),
        triplet_doublets=mm.triplet_doublets,
        cuts12=mm.cuts12.reshape(-1, 8),
        cuts23=mm.cuts23.reshape(-1, 8),
        diff_dzdr=mm.diff_dzdr,
        diff_dydx=mm.diff_dydx,
    )


def best_of(repeat: int, function):  # type: ignore[no-untyped-def]
    """(result, smallest wall time in s) of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def load_map(path: Path) -> ModuleMap:
    from acts_gnn.errors import InputDataError
    from acts_gnn.graph.module_map.formats import load_module_map

    try:
        return load_module_map(path)
    except (InputDataError, FileNotFoundError) as err:
        sys.exit(
            f"bench_module_map: cannot load the module map {path}: {err}\n"
            "Build one first, e.g.: acts-gnn module-map build --input <prepared folder> "
            f"--output {path}  (or pass --module-map)"
        )


def fit_exponent(hits: list[int], seconds: list[float]) -> float:
    """k of seconds = c * hits^k, least squares in log-log."""
    if len(set(hits)) < 2:
        return float("nan")
    k, _ = np.polyfit(np.log(hits), np.log(seconds), 1)
    return float(k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3, help="events per pile-up value")
    parser.add_argument("--pileup", type=float, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument(
        "--module-map",
        type=Path,
        default=REPO / "data" / "module-map.npz",
        help="module-map file or prefix, any format (default data/module-map.npz)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="also time graph building with N threads"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timing: best of N per event")
    parser.add_argument("--seed", type=int, default=101, help="simulation seed")
    args = parser.parse_args()

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.simulation import GeneratorConfig, simulate
    from acts_gnn.simulation.prepare import prepare

    print(machine_line())
    mm = load_map(args.module_map)
    arrays = core_arrays(mm)
    # as ModuleMapGraphBuilder: the map's indices range-checked once, not per event
    empty = np.zeros(0)
    _core.module_map_graph(empty, empty, empty, np.zeros(0, np.int64), **arrays)
    print(f"module map: {args.module_map} ({mm!r})")
    print(
        f"events per MU: {args.events}; times: medians over events of the best of "
        f"{args.repeat} runs; efficiency: pT > {SELECTION.min_pt:g} GeV, "
        f">= {SELECTION.min_hits} measurements; purity: any particle"
    )
    extra = args.threads > 1
    header = (
        f"{'MU':>5} {'hits/ev':>8} {'edges/ev':>9} {'unknown':>8} {'eff':>7} {'purity':>7} "
        f"{'prep [ms]':>10} {'graph 1t [ms]':>14} {'total [ms]':>11}"
    )
    if extra:
        header += f" {f'graph {args.threads}t [ms]':>15}"
    print(header)
    print("-" * len(header))

    detector = load_generic_detector()
    all_hits: list[int] = []
    graph_times: list[float] = []
    total_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for mu in args.pileup:
            sim_dir = Path(tmp) / f"sim{mu:g}"
            prep_dir = Path(tmp) / f"prep{mu:g}"
            simulate(
                sim_dir,
                args.events,
                GeneratorConfig(pileup=mu, hard_scatter=True),
                seed=args.seed,
                detector=detector,
                progress=False,
            )
            prepare(sim_dir, prep_dir, detector=detector, progress=False)
            metrics = EdgeMetrics()
            t_prep, t_graph, t_total, t_threads = [], [], [], []
            unknown = 0
            for event in PreparedDataset(prep_dir):

                def features(event=event):  # type: ignore[no-untyped-def]
                    pos = event.positions()
                    return pos, mm.module_index(event.hits["geometry_id"])

                (pos, hit_module), tp = best_of(args.repeat, features)
                x, y, z = (np.ascontiguousarray(pos[:, k]) for k in range(3))

                def graph(n_threads: int, x=x, y=y, z=z, hit_module=hit_module):  # type: ignore[no-untyped-def]
                    return _core.module_map_graph(
                        x, y, z, hit_module, n_threads=n_threads, check_map=False, **arrays
                    )

                (edges, _), tg = best_of(args.repeat, lambda: graph(1))
                if extra:
                    (edges_n, _), tn = best_of(args.repeat, lambda: graph(args.threads))
                    assert np.array_equal(edges, edges_n)
                    t_threads.append(tn)
                selected = truth_graph(event, SELECTION)
                pid = event.hits["particle_id"][selected[0]]
                metrics.add(
                    edges,
                    selected,
                    truth_graph(event),
                    event.n_hits,
                    truth_pt=event.particles["pt"][pid],
                    truth_eta=event.particles["eta"][pid],
                )
                unknown += int(np.count_nonzero(hit_module < 0))
                t_prep.append(tp)
                t_graph.append(tg)
                t_total.append(tp + tg)
                all_hits.append(event.n_hits)
                graph_times.append(tg)
                total_times.append(tp + tg)
            s = metrics.summary()
            row = (
                f"{mu:>5g} {s['nodes per event']:>8.0f} {s['edges per event']:>9.0f} "
                f"{unknown / max(metrics.nodes, 1):>8.2%} {metrics.efficiency:>7.4f} "
                f"{metrics.purity:>7.4f} {1e3 * statistics.median(t_prep):>10.2f} "
                f"{1e3 * statistics.median(t_graph):>14.2f} "
                f"{1e3 * statistics.median(t_total):>11.2f}"
            )
            if extra:
                row += f" {1e3 * statistics.median(t_threads):>15.2f}"
            print(row, flush=True)
    print(
        f"time ~ hits^k, least squares in log-log over {len(all_hits)} events: "
        f"graph 1 thread k = {fit_exponent(all_hits, graph_times):.2f}, "
        f"total k = {fit_exponent(all_hits, total_times):.2f}"
    )


if __name__ == "__main__":
    main()

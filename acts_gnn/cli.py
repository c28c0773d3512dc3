"""The ``acts-gnn`` command: ``acts-gnn <subcommand> --help`` for each one."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from acts_gnn.errors import InputDataError

log = logging.getLogger("acts_gnn")


def _add_generator_options(parser: argparse.ArgumentParser, pileup: float) -> None:
    g = parser.add_argument_group("event generation (units: GeV)")
    g.add_argument("--pileup", "--mu", type=float, default=pileup, help="mean number of pile-up collisions (default %(default)s)")
    g.add_argument("--hard-scatter", action=argparse.BooleanOptionalAction, default=True, help="add a ttbar-like hard scatter (default on)")
    g.add_argument("--eta-max", type=float, default=4.0, help="generate particles with |eta| below this (default %(default)s)")
    g.add_argument("--pt-min", type=float, default=0.1, help="minimum particle pT [GeV] (default %(default)s)")
    g.add_argument("--pt-max", type=float, default=100.0, help="maximum pile-up particle pT [GeV] (default %(default)s)")


def _generator_config(args: argparse.Namespace) -> object:
    from acts_gnn.simulation import GeneratorConfig

    return GeneratorConfig(
        pileup=args.pileup,
        hard_scatter=args.hard_scatter,
        eta_max=args.eta_max,
        pt_min=args.pt_min,
        pt_max=args.pt_max,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.report import plot_generated_distributions
    from acts_gnn.simulation import simulate

    start = time.perf_counter()
    result = simulate(
        args.output, args.events, _generator_config(args), seed=args.seed, progress=not args.quiet
    )
    elapsed = time.perf_counter() - start
    print(f"wrote {result.particles_file} and {result.hits_file}")
    print(f"events: {result.events}  seed: {args.seed}  pile-up: {args.pileup}")
    print(f"particles per event: {sum(result.particles_per_event) / result.events:.0f}")
    print(f"hits per event: {sum(result.hits_per_event) / result.events:.0f}")
    print(f"time per event: {elapsed / result.events:.2f} s")
    if args.plot:
        path = plot_generated_distributions(
            SimulationFiles(result.particles_file, result.hits_file), Path(args.output) / "generated.png"
        )
        print(f"plot: {path}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from acts_gnn.prepare import prepare

    start = time.perf_counter()
    report = prepare(args.input, args.output, seed=args.seed, events=args.events, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    print(report.summary())
    n = max(len(report.written) + len(report.skipped), 1)
    print(f"time per event: {elapsed / n:.2f} s")
    print(f"prepared events in {args.output}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from acts_gnn.graph import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset

    selection = TruthSelection(min_pt=args.min_pt, min_hits=args.min_hits)
    print(f"{'event':>7} {'particles':>10} {'measurements':>13} {'truth edges':>12}")
    for event in PreparedDataset(args.input):
        edges = truth_graph(event, selection)
        print(f"{event.event_id:>7} {event.n_particles:>10} {event.n_hits:>13} {edges.shape[1]:>12}")
    print(f"(truth edges: particles with pT > {args.min_pt} GeV and >= {args.min_hits} measurements)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from acts_gnn.graph import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.prepare import prepare
    from acts_gnn.report import plot_generated_distributions
    from acts_gnn.simulation import GeneratorConfig, simulate

    out = Path(args.output)
    print(f"[1/3] simulating {args.events} events at pile-up {args.pileup} (+ hard scatter) with ACTS Fatras")
    t0 = time.perf_counter()
    sim = simulate(out / "sim", args.events, GeneratorConfig(pileup=args.pileup, hard_scatter=True), seed=args.seed, progress=True)
    t1 = time.perf_counter()
    print("[2/3] digitizing with ACTS and writing event tables")
    report = prepare(out / "sim", out / "prepared", progress=True)
    t2 = time.perf_counter()
    print("[3/3] plotting generated distributions")
    plot = plot_generated_distributions(SimulationFiles(sim.particles_file, sim.hits_file), out / "generated.png")
    selection = TruthSelection(min_pt=1.0, min_hits=3)
    rows = []
    for event in PreparedDataset(out / "prepared"):
        rows.append((event.event_id, event.n_particles, event.n_hits, truth_graph(event, selection).shape[1]))
    print()
    print(f"{'event':>7} {'particles':>10} {'measurements':>13} {'truth edges (pT>1 GeV)':>24}")
    for row in rows:
        print(f"{row[0]:>7} {row[1]:>10} {row[2]:>13} {row[3]:>24}")
    print()
    print(f"simulation: {(t1 - t0) / args.events:.2f} s/event, preparation: {(t2 - t1) / args.events:.2f} s/event")
    print(f"ROOT files:     {sim.particles_file}, {sim.hits_file}")
    print(f"event tables:   {out / 'prepared'}")
    print(f"plot:           {plot}")
    if report.skipped:
        print(report.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acts-gnn",
        description="GNN track finding for ACTS: simulate, prepare, build graphs, train, compare with the CKF.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="generate pile-up events, run ACTS Fatras, write particles.root and hits.root")
    p.add_argument("--events", "-n", type=int, required=True, help="number of events")
    p.add_argument("--seed", type=int, default=42, help="random seed (recorded in the output; default %(default)s)")
    p.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    p.add_argument("--plot", action="store_true", help="also plot the generated pT, eta and multiplicity")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_generator_options(p, pileup=50.0)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("prepare", help="digitize ROOT simulation with ACTS and write per-event training tables (Parquet)")
    p.add_argument("--input", "-i", type=Path, required=True, help="folder with particles.root and hits.root (ACTS schemas)")
    p.add_argument("--output", "-o", type=Path, required=True, help="output folder for the event tables")
    p.add_argument("--events", type=int, default=None, help="only the first N events")
    p.add_argument("--seed", type=int, default=7, help="digitization smearing seed (default %(default)s)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("inspect", help="print per-event counts of a prepared folder")
    p.add_argument("--input", "-i", type=Path, required=True, help="prepared folder")
    p.add_argument("--min-pt", type=float, default=1.0, help="truth-graph particle pT cut [GeV]")
    p.add_argument("--min-hits", type=int, default=3, help="truth-graph minimum measurements per particle")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("demo", help="the main job: simulate a small sample, prepare it, print and plot what was made")
    p.add_argument("--events", type=int, default=3, help="number of events (default %(default)s)")
    p.add_argument("--pileup", type=float, default=50.0, help="mean pile-up (default %(default)s)")
    p.add_argument("--seed", type=int, default=2026, help="random seed (default %(default)s)")
    p.add_argument("--output", "-o", type=Path, default=Path("output/demo"), help="output folder (default %(default)s)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except InputDataError as err:
        print(f"acts-gnn {args.command}: bad input: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"acts-gnn {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``acts-gnn`` command: ``acts-gnn <subcommand> --help`` for each one."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acts_gnn.errors import InputDataError

if TYPE_CHECKING:
    from acts_gnn.graph import TruthSelection
    from acts_gnn.simulation import GeneratorConfig

log = logging.getLogger("acts_gnn")


def _add_generator_options(parser: argparse.ArgumentParser, pileup: float) -> None:
    g = parser.add_argument_group("event generation (units: GeV)")
    g.add_argument(
        "--pileup",
        "--mu",
        type=float,
        default=pileup,
        help="mean number of pile-up collisions (default %(default)s)",
    )
    g.add_argument(
        "--hard-scatter",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add a ttbar-like hard scatter (default on)",
    )
    g.add_argument(
        "--eta-max",
        type=float,
        default=4.0,
        help="generate particles with |eta| below this (default %(default)s)",
    )
    g.add_argument(
        "--pt-min", type=float, default=0.1, help="minimum particle pT [GeV] (default %(default)s)"
    )
    g.add_argument(
        "--pt-max",
        type=float,
        default=100.0,
        help="maximum pile-up particle pT [GeV] (default %(default)s)",
    )
    g.add_argument(
        "--pt-spectrum",
        choices=["tsallis", "flat-curvature"],
        default="tsallis",
        help="pile-up pT spectrum: minimum bias (tsallis) or uniform in 1/pT, for module-map "
        "training (default %(default)s)",
    )


def _generator_config(args: argparse.Namespace) -> GeneratorConfig:
    from acts_gnn.simulation import GeneratorConfig

    return GeneratorConfig(
        pileup=args.pileup,
        hard_scatter=args.hard_scatter,
        eta_max=args.eta_max,
        pt_min=args.pt_min,
        pt_max=args.pt_max,
        pt_spectrum=args.pt_spectrum,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.plots import plot_generated_distributions
    from acts_gnn.io.root_reader import SimulationFiles
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
            SimulationFiles(result.particles_file, result.hits_file),
            Path(args.output) / "generated.png",
        )
        print(f"plot: {path}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from acts_gnn.simulation.prepare import prepare

    start = time.perf_counter()
    report = prepare(
        args.input, args.output, seed=args.seed, events=args.events, progress=not args.quiet
    )
    elapsed = time.perf_counter() - start
    print(report.summary())
    n = max(len(report.written) + len(report.skipped), 1)
    print(f"time per event: {elapsed / n:.2f} s")
    print(f"prepared events in {args.output}")
    return 0


def cmd_merge_events(args: argparse.Namespace) -> int:
    from acts_gnn.io.event_store import merge_prepared

    ids = merge_prepared(args.output, args.inputs)
    print(f"{len(ids)} events from {len(args.inputs)} folders linked into {args.output}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from acts_gnn.graph import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset

    selection = TruthSelection(min_pt=args.min_pt, min_hits=args.min_hits)
    print(f"{'event':>7} {'particles':>10} {'measurements':>13} {'truth edges':>12}")
    for event in PreparedDataset(args.input):
        edges = truth_graph(event, selection)
        print(
            f"{event.event_id:>7} {event.n_particles:>10} {event.n_hits:>13} {edges.shape[1]:>12}"
        )
    print(
        f"(truth edges: particles with pT > {args.min_pt} GeV and >= {args.min_hits} measurements)"
    )
    return 0


def cmd_geometry(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.geometry import geometry_command

    return geometry_command(args)


def cmd_evaluate_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.gnn import evaluate_gnn_command

    return evaluate_gnn_command(args)


def cmd_graphs(args: argparse.Namespace) -> int:
    from acts_gnn.train.graph_files import graphs_command

    return graphs_command(args)


def _compare_config(args: argparse.Namespace, input_dir: Path, output: Path) -> Any:
    from acts_gnn.sequencer.compare import CompareConfig

    return CompareConfig(
        input=input_dir,
        output=output,
        events=args.events if getattr(args, "command", "") == "compare" else None,
        graph=args.graph,
        backend=args.backend,
        device=args.device,
        module_map=args.module_map,
        model=args.model,
        embedding=args.embedding,
        filter=args.filter,
        builder=args.builder,
        edge_cut=args.edge_cut,
        truth_metrics=args.truth_metrics,
    )


def _run_compare(config: Any) -> int:
    from acts_gnn.sequencer.compare import headline_table, run_comparison, write_report

    summary = run_comparison(config)
    paths = write_report(summary, config.output)
    sel = summary["selection"]
    print()
    print(
        f"{summary['events']} events, {summary['measurements_per_event']:.0f} measurements per "
        f"event; particles with pT > {sel['min_pt_GeV']} GeV, |eta| < {sel['max_abs_eta']}, "
        f">= {sel['min_measurements']} measurements (ACTS TrackTruthMatcher + performance writer)"
    )
    print(headline_table(summary))
    for stage, m in summary["gnn"]["gnn_edge_metrics"].items():
        print(
            f"GNN chain after {stage}: edge efficiency {m['efficiency']:.4f} (pT > 1 GeV), "
            f"purity {m['purity']:.4f}"
        )
    print()
    print(f"report: {paths[1]}  (summary.json beside it)")
    print("plots:  " + ", ".join(p.name for p in paths[2:]))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    return _run_compare(_compare_config(args, args.input, args.output))


def cmd_demo(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.plots import plot_generated_distributions
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.simulation import GeneratorConfig, simulate

    out = Path(args.output)
    print(
        f"[1/2] simulating {args.events} held-out events at pile-up {args.pileup} "
        f"(+ ttbar-like hard scatter) with ACTS Fatras, seed {args.seed}"
    )
    t0 = time.perf_counter()
    sim = simulate(
        out / "sim",
        args.events,
        GeneratorConfig(pileup=args.pileup, hard_scatter=True),
        seed=args.seed,
        progress=True,
    )
    plot_generated_distributions(
        SimulationFiles(sim.particles_file, sim.hits_file), out / "report" / "generated.png"
    )
    print(f"      {(time.perf_counter() - t0) / args.events:.1f} s per event")
    print(
        "[2/2] reconstructing with both chains in one ACTS Sequencer: "
        f"GNN ({args.graph}, {args.backend}, {args.device}) and ACTS seeding + CKF"
    )
    return _run_compare(_compare_config(args, out / "sim", out / "report"))


def _selection(args: argparse.Namespace) -> TruthSelection:
    from acts_gnn.graph import TruthSelection

    return TruthSelection(
        min_pt=args.min_pt, min_hits=args.min_hits, primaries_only=args.primaries_only
    )


def cmd_module_map_build(args: argparse.Namespace) -> int:
    from acts_gnn.detector import load_generic_detector
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.graph.module_map.formats import save_module_map
    from acts_gnn.graph.module_map.symmetry import DetectorSymmetry
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    datasets = [PreparedDataset(folder) for folder in args.input]
    if args.events:
        datasets = [PreparedDataset(d.directory, d.event_ids[: args.events]) for d in datasets]
    n_events = sum(len(d) for d in datasets)
    symmetry = None
    if args.mirror_z or args.rotate_phi:
        symmetry = DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())
    start = time.perf_counter()
    events = (event for dataset in datasets for event in dataset)
    with progress_bar(n_events, "module map", "event", enabled=not args.quiet) as bar:
        module_map = build_module_map(
            events, _selection(args), symmetry, args.mirror_z, args.rotate_phi, bar
        )
    if args.min_occurrence > 1:
        module_map = module_map.pruned(args.min_occurrence)
    paths = save_module_map(module_map, args.output, args.format)
    print(f"{module_map!r} from {n_events} events in {time.perf_counter() - start:.1f} s")
    print(
        f"truth triplets: {module_map.metadata.get('samples')}, of which from symmetries: {module_map.metadata.get('augmented_samples')}"
    )
    for path in paths if isinstance(paths, (list, tuple)) else [paths]:
        print(f"wrote {path}")
    return 0


def cmd_module_map_merge(args: argparse.Namespace) -> int:
    from acts_gnn.graph.module_map.core import merge_module_maps
    from acts_gnn.graph.module_map.formats import load_module_map, save_module_map

    module_map = merge_module_maps([load_module_map(path) for path in args.inputs])
    for path in save_module_map(module_map, args.output, args.format):
        print(f"wrote {path}")
    print(
        f"{module_map!r} from {len(args.inputs)} maps ({module_map.metadata.get('events')} events)"
    )
    return 0


def cmd_module_map_convert(args: argparse.Namespace) -> int:
    from acts_gnn.graph.module_map.formats import load_module_map, save_module_map

    module_map = load_module_map(args.input)
    if args.min_occurrence > 1:
        module_map = module_map.pruned(args.min_occurrence)
    paths = save_module_map(module_map, args.output, args.format)
    print(f"{module_map!r} from {args.input}")
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if args.format == "compact":
        print("ranges: float16, rounded outwards (every min down, every max up)")
    return 0


def cmd_module_map_evaluate(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.plots import plot_edge_efficiency
    from acts_gnn.graph.module_map.build import evaluate_module_map
    from acts_gnn.graph.module_map.formats import load_module_map
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    module_map = load_module_map(args.module_map)
    dataset = PreparedDataset(args.input)
    if args.events:
        dataset = PreparedDataset(args.input, dataset.event_ids[: args.events])
    with progress_bar(len(dataset), "evaluate", "event", enabled=not args.quiet) as bar:
        result = evaluate_module_map(dataset, module_map, _selection(args), args.threads, bar)
    print(f"module map: {module_map!r}")
    print(
        f"selection: pT > {args.min_pt} GeV, >= {args.min_hits} measurements{', primaries' if args.primaries_only else ''}"
    )
    for line in result.lines():
        print(line)
    if args.plot:
        path = plot_edge_efficiency(
            result.metrics, args.plot, f"module map {Path(str(args.module_map)).name}"
        )
        print(f"plot: {path}")
    return 0


#: ``--format`` of the module-map commands that write a map.
_MAP_FORMATS = ["npz", "compact", "acorn", "root"]
_MAP_FORMAT_HELP = (
    "file format (default: from the output name; .npz means npz). npz: exact float64 ranges; "
    "compact: a .npz about 7 times smaller, the ranges as float16 (11 significant bits; units "
    "as in the map: z0 mm, dphi rad, phi slope rad/mm, deta, diff_dzdr and diff_dydx "
    "unitless) rounded OUTWARDS, every min down and every max up (float32 for values outside "
    "float16's range), so no cut gets tighter: edges can only be added (efficiency equal or "
    "higher, purity a little lower); ids, triplets and occurrences exact; "
    "acorn: text (exact); root: the ModuleMapGraph pair, float32 rounded outwards"
)


def _add_selection_options(p: argparse.ArgumentParser, min_pt: float) -> None:
    g = p.add_argument_group("truth selection")
    g.add_argument(
        "--min-pt", type=float, default=min_pt, help="particle pT cut [GeV] (default %(default)s)"
    )
    g.add_argument(
        "--min-hits",
        type=int,
        default=3,
        help="minimum measurements per particle (default %(default)s)",
    )
    g.add_argument(
        "--primaries-only", action="store_true", help="only generator particles (no secondaries)"
    )


def _add_train_commands(sub: argparse._SubParsersAction) -> None:
    """``train gnn|embedding|filter`` and ``export gnn|embedding|filter`` (options and actions
    in acts_gnn.train.commands)."""
    from acts_gnn.train import commands

    train = sub.add_parser("train", help="train models from a YAML config")
    models = train.add_subparsers(dest="action", required=True, metavar="MODEL")
    p = models.add_parser("gnn", help="train the GNN edge classifier (works under torchrun)")
    commands.add_train_gnn_arguments(p)
    p.set_defaults(func=commands.cmd_train_gnn)
    p = models.add_parser("embedding", help="train the metric-learning embedding")
    commands.add_train_gnn_arguments(p)
    p.set_defaults(func=commands.cmd_train_embedding)
    p = models.add_parser("filter", help="train the edge filter on embedding graphs")
    commands.add_train_gnn_arguments(p)
    p.set_defaults(func=commands.cmd_train_filter)
    export = sub.add_parser("export", help="export trained models to ONNX and TorchScript")
    models = export.add_subparsers(dest="action", required=True, metavar="MODEL")
    p = models.add_parser("gnn", help="export a GNN checkpoint with the upstream ACTS I/O")
    commands.add_export_gnn_arguments(p)
    p.set_defaults(func=commands.cmd_export_gnn)
    for name in ("embedding", "filter"):
        p = models.add_parser(name, help=f"export a {name} checkpoint with the upstream ACTS I/O")
        commands.add_export_model_arguments(p)
        p.set_defaults(func=commands.cmd_export_model)


def _add_chain_options(p: argparse.ArgumentParser) -> None:
    """Options of the GNN chain shared by ``compare`` and ``demo`` (defaults: shipped files)."""
    from acts_gnn.chain.defaults import BACKENDS, BUILDERS, GRAPHS

    g = p.add_argument_group("GNN chain (files default to the shipped ones)")
    g.add_argument("--graph", choices=GRAPHS, default="module-map", help="graph construction")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="edge-classifier runtime: torch (TorchScript; about 2x faster than onnx on CPU here)",
    )
    g.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default %(default)s)")
    g.add_argument("--module-map", type=Path, default=None, help="module-map file")
    g.add_argument(
        "--model",
        type=Path,
        default=None,
        help="GNN model (.onnx or TorchScript; default: the shipped GNN trained on --graph's graphs)",
    )
    g.add_argument("--embedding", type=Path, default=None, help="metric-learning embedding")
    g.add_argument("--filter", type=Path, default=None, help="edge-filter model")
    g.add_argument("--builder", choices=BUILDERS, default="walkthrough", help="track building")
    g.add_argument("--edge-cut", type=float, default=0.5, help="GNN score cut of the track builder")
    g.add_argument(
        "--truth-metrics",
        action="store_true",
        help="also print edge efficiency and purity after every GNN stage",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acts-gnn",
        description="GNN track finding for ACTS: simulate, prepare, build graphs, train, compare with the CKF.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "simulate",
        help="generate pile-up events, run ACTS Fatras, write particles.root and hits.root",
    )
    p.add_argument("--events", "-n", type=int, required=True, help="number of events")
    p.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed (recorded in the output; default %(default)s)",
    )
    p.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    p.add_argument(
        "--plot", action="store_true", help="also plot the generated pT, eta and multiplicity"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_generator_options(p, pileup=50.0)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "prepare",
        help="digitize ROOT simulation with ACTS and write per-event training tables (Parquet)",
    )
    p.add_argument(
        "--input",
        "-i",
        type=Path,
        required=True,
        help="folder with particles.root and hits.root (ACTS schemas)",
    )
    p.add_argument(
        "--output", "-o", type=Path, required=True, help="output folder for the event tables"
    )
    p.add_argument("--events", type=int, default=None, help="only the first N events")
    p.add_argument(
        "--seed", type=int, default=7, help="digitization smearing seed (default %(default)s)"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("inspect", help="print per-event counts of a prepared folder")
    p.add_argument("--input", "-i", type=Path, required=True, help="prepared folder")
    p.add_argument("--min-pt", type=float, default=1.0, help="truth-graph particle pT cut [GeV]")
    p.add_argument(
        "--min-hits", type=int, default=3, help="truth-graph minimum measurements per particle"
    )
    p.set_defaults(func=cmd_inspect)

    mm = sub.add_parser(
        "module-map", help="build, merge, convert and evaluate module maps"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    p = mm.add_parser("build", help="learn a module map from prepared events")
    p.add_argument(
        "--input",
        "-i",
        type=Path,
        nargs="+",
        required=True,
        help="prepared folder(s) (acts-gnn prepare)",
    )
    p.add_argument(
        "--output",
        "-o",
        type=str,
        required=True,
        help="output path or prefix (.npz, .txt, or a ROOT prefix)",
    )
    p.add_argument("--format", choices=_MAP_FORMATS, default=None, help=_MAP_FORMAT_HELP)
    p.add_argument(
        "--events", type=int, default=None, help="only the first N events of each folder"
    )
    p.add_argument(
        "--min-occurrence",
        type=int,
        default=1,
        help="drop triplets seen fewer times (default %(default)s)",
    )
    p.add_argument(
        "--mirror-z",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add z-mirrored copies of triplets (default on)",
    )
    p.add_argument(
        "--rotate-phi",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add copies rotated by the module pitch (default on)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_selection_options(p, min_pt=0.9)
    p.set_defaults(func=cmd_module_map_build)
    p = mm.add_parser("merge", help="merge maps built from different events into one")
    p.add_argument("--inputs", nargs="+", required=True, help="module-map files or prefixes")
    p.add_argument("--output", "-o", type=str, required=True, help="output path or prefix")
    p.add_argument("--format", choices=_MAP_FORMATS, default=None, help=_MAP_FORMAT_HELP)
    p.set_defaults(func=cmd_module_map_merge)
    p = mm.add_parser(
        "convert",
        help="rewrite a module map in another format (e.g. --format compact, to ship it)",
        description="Read a module map in any format and write it in another one. With "
        "--format compact the [min, max] ranges are stored as float16 rounded outwards (min "
        "down, max up), so every cut of the written map contains the original cut.",
    )
    p.add_argument(
        "--input", "-i", type=str, required=True, help="module-map file or prefix (any format)"
    )
    p.add_argument("--output", "-o", type=str, required=True, help="output path or prefix")
    p.add_argument("--format", choices=_MAP_FORMATS, default=None, help=_MAP_FORMAT_HELP)
    p.add_argument(
        "--min-occurrence",
        type=int,
        default=1,
        help="also drop triplets seen fewer times (default %(default)s: keep all)",
    )
    p.set_defaults(func=cmd_module_map_convert)
    p = mm.add_parser(
        "evaluate", help="edge efficiency and purity of a module map on prepared events"
    )
    p.add_argument("--input", "-i", type=Path, required=True, help="prepared folder")
    p.add_argument("--module-map", "-m", type=str, required=True, help="module-map file or prefix")
    p.add_argument("--events", type=int, default=None, help="only the first N events")
    p.add_argument("--threads", type=int, default=1, help="C++ threads (default %(default)s)")
    p.add_argument(
        "--plot", type=Path, default=None, help="write efficiency vs pT and eta to this PNG"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _add_selection_options(p, min_pt=1.0)
    p.set_defaults(func=cmd_module_map_evaluate)

    p = sub.add_parser(
        "merge-events",
        help="link several prepared folders into one, renumbering events (for training)",
    )
    p.add_argument("--inputs", nargs="+", type=Path, required=True, help="prepared folders")
    p.add_argument("--output", "-o", type=Path, required=True, help="new prepared folder")
    p.set_defaults(func=cmd_merge_events)

    p = sub.add_parser(
        "compare",
        help="GNN tracking vs ACTS seeding + CKF on the same events: summary, table, plots",
    )
    p.add_argument("--input", "-i", type=Path, required=True, help="simulation folder (ROOT)")
    p.add_argument("--output", "-o", type=Path, required=True, help="report folder")
    p.add_argument("--events", type=int, default=None, help="only the first N events")
    _add_chain_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "demo",
        help="the main job: simulate held-out events, run GNN and CKF tracking, compare",
    )
    p.add_argument("--events", type=int, default=3, help="number of events (default %(default)s)")
    p.add_argument("--pileup", type=float, default=50.0, help="mean pile-up (default %(default)s)")
    p.add_argument("--seed", type=int, default=2026, help="random seed (default %(default)s)")
    p.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("output/demo"),
        help="output folder (default %(default)s)",
    )
    _add_chain_options(p)
    p.set_defaults(func=cmd_demo)

    from acts_gnn.evaluation.geometry import add_geometry_arguments

    p = sub.add_parser(
        "geometry",
        help="validate a detector: hit maps, module-map connectivity, config coverage (exit 1 "
        "if the digitization or space-point selection misses a volume)",
    )
    add_geometry_arguments(p)
    p.set_defaults(func=cmd_geometry)

    from acts_gnn.evaluation.gnn import add_arguments as add_evaluate_gnn_arguments
    from acts_gnn.train.graph_files import add_arguments as add_graphs_arguments

    p = sub.add_parser(
        "evaluate-gnn",
        help="edge efficiency, purity, ROC of a GNN on the module-map graphs (or stored graph "
        "files) of prepared events",
    )
    add_evaluate_gnn_arguments(p)
    p.set_defaults(func=cmd_evaluate_gnn)
    p = sub.add_parser(
        "graphs",
        help="write each prepared event's graph (module map, or metric learning + filter) "
        "as the graph files GNN training reads (data.graphs)",
    )
    add_graphs_arguments(p)
    p.set_defaults(func=cmd_graphs)
    _add_train_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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

"""What each ``acts-gnn`` subcommand runs once its arguments are parsed.

Every ``cmd_<command>(args)`` takes the :class:`argparse.Namespace` of its subparser
(:mod:`acts_gnn.cli.parser`), prints what it did and returns the exit code (0: done). The
work is done by the domain modules, imported on first use so that ``acts-gnn --help`` stays
fast: the ones here print and plot around them; ``geometry``, ``evaluate-gnn``, ``graphs``,
``train ...`` and ``export ...`` hand the namespace to their module's command function.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acts_gnn.graph import TruthSelection
    from acts_gnn.sequencer.compare import CompareConfig
    from acts_gnn.simulation import GeneratorConfig


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


def _compare_config(args: argparse.Namespace, input_dir: Path, output: Path) -> CompareConfig:
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


def _run_compare(config: CompareConfig) -> int:
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
    from acts_gnn.graph.module_map.builder import merge_module_maps
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


# -- training and export (acts_gnn.train.commands) --------------------------------------------


def cmd_train_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import train_gnn_command

    return train_gnn_command(args)


def cmd_train_embedding(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import train_model_command

    return train_model_command(args, "embedding")


def cmd_train_filter(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import train_model_command

    return train_model_command(args, "filter")


def cmd_export_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import export_command

    return export_command(args, n_chunks=args.chunks)


def cmd_export_model(args: argparse.Namespace) -> int:
    """``export embedding|filter`` (the model type is read from the checkpoint)."""
    from acts_gnn.train.commands import export_command

    return export_command(args, n_chunks=1)

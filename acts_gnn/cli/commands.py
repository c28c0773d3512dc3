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
    from acts_gnn.distributed.executor import ParallelOptions
    from acts_gnn.graph import TruthSelection
    from acts_gnn.graph.module_map.map import ModuleMap
    from acts_gnn.sequencer.compare import CompareConfig
    from acts_gnn.simulation import GeneratorConfig
    from acts_gnn.simulation.fatras import EventSource


def _generator_config(args: argparse.Namespace) -> EventSource:
    """The event source ``simulate`` was asked for: HepMC3 files, Pythia8 or parametric."""
    from acts_gnn.simulation import GeneratorConfig
    from acts_gnn.simulation.hepmc import HepMC3Input
    from acts_gnn.simulation.pythia8 import (
        BeamSpot,
        ParticleSelection,
        Pythia8Config,
        hard_process_settings,
    )

    beam_spot = BeamSpot(*args.beam_spot) if args.beam_spot else BeamSpot()
    selection = ParticleSelection(
        pt_min=0.15 if args.pt_min is None else args.pt_min, eta_max=args.eta_max
    )
    if args.hepmc:
        return HepMC3Input(
            files=tuple(args.hepmc),
            pileup=args.pileup,
            pileup_file=args.pileup_hepmc,
            pileup_from_pythia8=args.pileup_hepmc is None and args.pileup > 0,
            smear_vertices=args.hepmc_vertices == "smear",
            beam_spot=beam_spot,
            selection=selection,
            cms_energy=args.cms_energy,
        )
    if args.pileup_hepmc is not None:
        raise ValueError("--pileup-hepmc mixes pile-up into --hepmc events; give --hepmc too")
    if args.generator == "pythia8":
        hard = hard_process_settings(args.hard_process) if args.hard_scatter else ()
        return Pythia8Config(
            pileup=args.pileup,
            hard_process=hard,
            cms_energy=args.cms_energy,
            settings=tuple(args.pythia_setting),
            beam_spot=beam_spot,
            selection=selection,
        )
    sigma_xy, sigma_z = GeneratorConfig.sigma_xy, GeneratorConfig.sigma_z
    if args.beam_spot:
        if args.beam_spot[0] != args.beam_spot[1]:
            raise ValueError("--beam-spot: the parametric generator needs SX = SY")
        sigma_xy, sigma_z = args.beam_spot[0], args.beam_spot[2]
    return GeneratorConfig(
        sigma_xy=sigma_xy,
        sigma_z=sigma_z,
        pileup=args.pileup,
        hard_scatter=args.hard_scatter,
        eta_max=args.eta_max,
        pt_min=0.1 if args.pt_min is None else args.pt_min,
        pt_max=args.pt_max,
        pt_spectrum=args.pt_spectrum,
    )


def _pythia8_missing(config: object) -> bool:
    """True (and the way out printed) when ``config`` needs Pythia8 and it is not installed."""
    import sys

    from acts_gnn.extras import available
    from acts_gnn.simulation.hepmc import HepMC3Input
    from acts_gnn.simulation.pythia8 import Pythia8Config

    needs = isinstance(config, Pythia8Config) or (
        isinstance(config, HepMC3Input) and config.pileup_from_pythia8
    )
    if not needs or available("pythia8mc"):
        return False
    print(
        "Pythia8 (the pythia8mc package) is not installed: "
        'pip install "pythia8mc>=8.315,<8.318" (Linux x86_64 wheels), or use '
        "--generator parametric (HepMC3 input: --pileup 0 or --pileup-hepmc FILE)",
        file=sys.stderr,
    )
    return True


def _describe(config: object) -> str:
    from acts_gnn.simulation.hepmc import HepMC3Input
    from acts_gnn.simulation.pythia8 import Pythia8Config

    if isinstance(config, Pythia8Config):
        hard = " + ".join(config.hard_process) or "no hard process"
        return f"Pythia8 {config.cms_energy / 1000:g} TeV: {hard}, Poisson(MU = {config.pileup:g}) SoftQCD:all"
    if isinstance(config, HepMC3Input):
        pileup = (
            f"Poisson(MU = {config.pileup:g}) events of {config.pileup_file}"
            if config.pileup_file
            else f"Poisson(MU = {config.pileup:g}) Pythia8 SoftQCD:all"
            if config.pileup_from_pythia8
            else "no pile-up"
        )
        return f"HepMC3 {', '.join(map(str, config.files))} + {pileup}"
    return f"parametric, pile-up {getattr(config, 'pileup', 0):g}"


def _parallel(args: argparse.Namespace) -> ParallelOptions | None:
    """The Dask options of ``args`` (:func:`acts_gnn.cli.options.add_parallel_options`);
    None when the command runs in this process."""
    from acts_gnn.distributed.executor import ParallelOptions

    options = ParallelOptions.from_args(args)
    return options if options.enabled else None


def cmd_simulate(args: argparse.Namespace) -> int:
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.simulation import simulate

    config = _generator_config(args)
    if _pythia8_missing(config):
        return 2
    start = time.perf_counter()
    parallel = _parallel(args)
    if parallel is not None and args.write_hepmc is not None:
        raise ValueError("--write-hepmc writes one file in event order: not with --workers")
    if parallel is not None:
        from acts_gnn.distributed.simulate import simulate_parallel

        result = simulate_parallel(
            args.output, args.events, config, parallel, args.seed, not args.quiet
        )
    else:
        result = simulate(
            args.output,
            args.events,
            config,
            seed=args.seed,
            progress=not args.quiet,
            write_hepmc=args.write_hepmc,
        )
    elapsed = time.perf_counter() - start
    print(f"wrote {result.particles_file} and {result.hits_file}")
    if args.write_hepmc is not None:
        print(f"wrote {Path(args.write_hepmc) / 'events.hepmc3'}")
    print(f"events: {result.events}  seed: {args.seed}  generator: {_describe(config)}")
    print(f"particles per event: {sum(result.particles_per_event) / result.events:.0f}")
    print(f"hits per event: {sum(result.hits_per_event) / result.events:.0f}")
    print(f"time per event: {elapsed / result.events:.2f} s")
    if args.plot:
        path = _plot_simulated(
            config,
            SimulationFiles(result.particles_file, result.hits_file),
            Path(args.output) / "generated.png",
            args.seed,
        )
        print(f"plot: {path}")
    return 0


def _plot_reference(config: object, seed: int, events: int = 5) -> tuple[str, list] | None:
    """(label, particle tables) of ``events`` events of the other generator at the same MU,
    for the side-by-side plot (generator level, no Fatras); None without Pythia8."""
    import numpy as np

    from acts_gnn.extras import available
    from acts_gnn.simulation import EventGenerator, GeneratorConfig
    from acts_gnn.simulation.fatras import event_rng
    from acts_gnn.simulation.pythia8 import Pythia8Config, Pythia8Generator

    pileup = float(getattr(config, "pileup", 50.0)) or 50.0
    generator: EventGenerator | Pythia8Generator
    if isinstance(config, GeneratorConfig):
        if not available("pythia8mc"):
            return None
        generator, label = Pythia8Generator(Pythia8Config(pileup=pileup)), "Pythia8 ttbar"
    else:
        generator = EventGenerator(GeneratorConfig(pileup=pileup, hard_scatter=True))
        label = "parametric"
    tables = [generator.generate(event_rng(seed, 10_000 + k)) for k in range(events)]
    for table in tables:
        table.setdefault("vertex_secondary", np.zeros(len(table["pdg"]), dtype=np.uint32))
    return f"{label}, MU = {pileup:g}", tables


def _plot_simulated(config: object, files: object, output: Path, seed: int) -> Path:
    """The generated-distributions plot of a simulated sample beside the other generator."""
    from acts_gnn.evaluation.plots import plot_generated_distributions

    reference = _plot_reference(config, seed)
    return plot_generated_distributions(
        files,
        output,
        reference[1] if reference else None,
        labels=(_describe(config).split(":")[0], reference[0] if reference else ""),
    )


def cmd_prepare(args: argparse.Namespace) -> int:
    from acts_gnn.simulation.prepare import prepare

    start = time.perf_counter()
    from acts_gnn.simulation.noise import conditioned_prepare_input

    args.input = conditioned_prepare_input(args)  # --noise / --misalign-*
    parallel = _parallel(args)
    if parallel is not None:
        from acts_gnn.distributed.prepare import prepare_parallel

        report = prepare_parallel(
            args.input,
            args.output,
            parallel,
            seed=args.seed,
            events=args.events,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    else:
        report = prepare(
            args.input,
            args.output,
            seed=args.seed,
            events=args.events,
            progress=not args.quiet,
            overwrite=args.overwrite,
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
    from acts_gnn.io.event_store import PreparedDataset, read_dataset_info

    selection = TruthSelection(min_pt=args.min_pt, min_hits=args.min_hits)
    dataset = PreparedDataset(args.input)  # the events dataset.json lists, or a clear error
    info = read_dataset_info(args.input)
    print(f"{'event':>7} {'particles':>10} {'measurements':>13} {'truth edges':>12}")
    for event in dataset:
        edges = truth_graph(event, selection)
        print(
            f"{event.event_id:>7} {event.n_particles:>10} {event.n_hits:>13} {edges.shape[1]:>12}"
        )
    print(
        f"(truth edges: particles with pT > {args.min_pt} GeV and >= {args.min_hits} measurements)"
    )
    lost = {
        "events skipped": len(info.get("skipped", {})),
        "measurements without a particle": info.get("measurements_without_particle", 0),
        "sim hits dropped by digitization": info.get("simhits_without_measurement", 0),
    }
    if any(lost.values()):
        print("from dataset.json: " + ", ".join(f"{k}: {v}" for k, v in lost.items()))
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
        precision=getattr(args, "precision", "fp32"),
        operating_point=args.operating_point,
        module_map=args.module_map,
        model=args.model,
        embedding=args.embedding,
        filter=args.filter,
        builder=args.builder,
        track_cleaning=getattr(args, "track_cleaning", None),
        edge_cut=args.gnn_cuts[0] if getattr(args, "gnn_cuts", None) else args.edge_cut,
        gnn_cuts=tuple(args.gnn_cuts[1:]) if getattr(args, "gnn_cuts", None) else (),
        truth_metrics=args.truth_metrics,
        ckf_presets=tuple(getattr(args, "ckf_preset", None) or ("fast",)),
        also_min_pt=tuple(getattr(args, "also_min_pt", (0.5,))),
        track_min_pt=getattr(args, "track_min_pt", None),
        vertexing=bool(getattr(args, "vertexing", False)),
        triplet_model=Path(args.gnn_seeded) if getattr(args, "gnn_seeded", None) else None,
    )


def _run_compare(
    config: CompareConfig,
    acts_log: Path | None = None,
    parallel: ParallelOptions | None = None,
    progress: bool = True,
) -> int:
    """Run the comparison, write the report, print the table; with ``acts_log``, ACTS's own
    output of the run goes to that file (appended) and one line counts it; with
    ``parallel``, the events run in chunks on Dask (:mod:`acts_gnn.distributed.compare`)."""
    import contextlib

    from acts_gnn.sequencer.acts_log import LogCounts, acts_output_to
    from acts_gnn.sequencer.compare import (
        headline_table,
        input_notes,
        run_comparison,
        write_report,
    )

    with acts_output_to(acts_log) if acts_log else contextlib.nullcontext():
        if parallel is not None:
            from acts_gnn.distributed.compare import compare_parallel

            summary = compare_parallel(config, parallel, progress)
        else:
            summary = run_comparison(config, progress)
    paths = write_report(summary, config.output)
    sel = summary["selection"]
    print()
    print(
        f"{summary['events']} events, {summary['measurements_per_event']:.0f} measurements per "
        f"event; particles with pT > "
        + " / ".join(
            f"{v['selection']['min_pt_GeV']:g}" for v in summary["gnn"]["selections"].values()
        )
        + f" GeV, |eta| < {sel['max_abs_eta']}, "
        f">= {sel['min_measurements']} measurements (ACTS TrackTruthMatcher + performance writer)"
    )
    print(headline_table(summary))
    if acts_log:
        print(LogCounts.of(acts_log).describe(acts_log))
    for note in input_notes(summary):
        print(f"note: {note}")
    for stage, m in summary["gnn"]["gnn_edge_metrics"].items():
        print(
            f"GNN chain after {stage}: edge efficiency {m['efficiency']:.4f} (pT > 1 GeV), "
            f"purity {m['purity']:.4f}"
        )
    if "vertexing" in summary:
        from acts_gnn.sequencer.vertexing_compare import vertexing_markdown

        print()
        print(vertexing_markdown(summary["vertexing"]))
    print()
    print(f"report: {paths[1]}  (summary.json beside it)")
    print("plots:  " + ", ".join(p.name for p in paths[2:]))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    config = _compare_config(args, args.input, args.output)
    return _run_compare(config, parallel=_parallel(args), progress=not args.quiet)


def cmd_robustness(args: argparse.Namespace) -> int:
    from acts_gnn.evaluation.robustness import robustness_command

    return robustness_command(args, lambda: _compare_config(args, args.input, args.output))


def cmd_demo(args: argparse.Namespace) -> int:
    from acts_gnn.io.atomic import require_writable_dir
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.sequencer.acts_log import LogCounts, acts_output_to
    from acts_gnn.simulation import GeneratorConfig, simulate
    from acts_gnn.simulation.pythia8 import Pythia8Config

    out = require_writable_dir(args.output)  # before the simulation, not after it
    config: GeneratorConfig | Pythia8Config = (
        Pythia8Config(pileup=args.pileup)
        if args.generator == "pythia8"
        else GeneratorConfig(pileup=args.pileup, hard_scatter=True)
    )
    if _pythia8_missing(config):
        return 2
    print(
        f"[1/2] simulating {args.events} held-out events ({_describe(config)}) with ACTS "
        f"Fatras, seed {args.seed}"
    )
    t0 = time.perf_counter()
    acts_log = out / "report" / "acts.log"  # ACTS's INFO lines, Fatras's per-particle errors
    acts_log.unlink(missing_ok=True)
    with acts_output_to(acts_log):
        sim = simulate(out / "sim", args.events, config, seed=args.seed, progress=True)
    print(f"      {LogCounts.of(acts_log).describe(acts_log)}")
    _plot_simulated(
        config,
        SimulationFiles(sim.particles_file, sim.hits_file),
        out / "report" / "generated.png",
        args.seed,
    )
    print(f"      {(time.perf_counter() - t0) / args.events:.1f} s per event")
    print(
        "[2/2] reconstructing with both chains in one ACTS Sequencer: "
        f"GNN ({args.graph}, {args.backend}, {args.device}) and ACTS seeding + CKF"
    )
    return _run_compare(_compare_config(args, out / "sim", out / "report"), acts_log=acts_log)


def _selection(args: argparse.Namespace) -> TruthSelection:
    from acts_gnn.graph import TruthSelection

    return TruthSelection(
        min_pt=args.min_pt, min_hits=args.min_hits, primaries_only=args.primaries_only
    )


def _require_output_parent(path: str | Path) -> None:
    """Check before the work that the folder of the output file (or prefix) ``path`` is
    writable (:func:`acts_gnn.io.atomic.require_writable_dir`)."""
    from acts_gnn.io.atomic import require_writable_dir

    require_writable_dir(Path(path).parent)


def _finish_map(module_map: ModuleMap, args: argparse.Namespace) -> ModuleMap:
    """``--min-occurrence`` (drop rare triplets), then ``--range-margin`` (widen the ranges)."""
    if args.min_occurrence > 1:
        module_map = module_map.pruned(args.min_occurrence)
    if args.range_margin is not None:
        from acts_gnn.graph.module_map.margins import widen_ranges

        module_map = widen_ranges(module_map, args.range_margin)
    return module_map


def cmd_module_map_build(args: argparse.Namespace) -> int:
    from acts_gnn.detector import load_generic_detector
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.graph.module_map.formats import save_module_map
    from acts_gnn.graph.module_map.symmetry import DetectorSymmetry
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    _require_output_parent(args.output)
    datasets = [PreparedDataset(folder) for folder in args.input]
    if args.events:
        datasets = [PreparedDataset(d.directory, d.event_ids[: args.events]) for d in datasets]
    n_events = sum(len(d) for d in datasets)
    symmetry = None
    if args.mirror_z or args.rotate_phi:
        symmetry = DetectorSymmetry.from_surfaces(load_generic_detector().surfaces())
    start = time.perf_counter()
    parallel = _parallel(args)
    if parallel is not None:
        from acts_gnn.distributed.module_map import build_module_map_parallel

        refs = [(str(d.directory), e) for d in datasets for e in d.event_ids]
        module_map = build_module_map_parallel(
            refs,
            _selection(args),
            parallel,
            args.mirror_z,
            args.rotate_phi,
            Path(args.output).parent,
            not args.quiet,
        )
    else:
        events = (event for dataset in datasets for event in dataset)
        with progress_bar(n_events, "module map", "event", enabled=not args.quiet) as bar:
            module_map = build_module_map(
                events, _selection(args), symmetry, args.mirror_z, args.rotate_phi, bar
            )
    module_map = _finish_map(module_map, args)
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

    _require_output_parent(args.output)
    module_map = merge_module_maps([load_module_map(path) for path in args.inputs])
    for path in save_module_map(module_map, args.output, args.format):
        print(f"wrote {path}")
    print(
        f"{module_map!r} from {len(args.inputs)} maps ({module_map.metadata.get('events')} events)"
    )
    return 0


def cmd_module_map_convert(args: argparse.Namespace) -> int:
    from acts_gnn.graph.module_map.formats import load_module_map, save_module_map

    _require_output_parent(args.output)
    module_map = _finish_map(load_module_map(args.input), args)
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


def cmd_train_vertex(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import train_vertex_command

    return train_vertex_command(args)


def cmd_train_triplet(args: argparse.Namespace) -> int:
    from acts_gnn.train.triplet import train_triplet_command

    return train_triplet_command(args)


def cmd_export_gnn(args: argparse.Namespace) -> int:
    from acts_gnn.train.commands import export_command

    return export_command(args, n_chunks=args.chunks)


def cmd_export_model(args: argparse.Namespace) -> int:
    """``export embedding|filter|vertex-pairs`` (the model type is read from the checkpoint)."""
    from acts_gnn.train.commands import export_command

    return export_command(args, n_chunks=1)

"""The arguments of every ``acts-gnn`` subcommand, built from :mod:`acts_gnn.cli.options`.

One ``<command>_arguments(parser)`` function per subcommand (``module_map_<action>_arguments``
for the nested ones; ``train ...`` and ``export ...`` take the option blocks
:func:`~acts_gnn.cli.options.add_train_options` and
:func:`~acts_gnn.cli.options.add_export_options`), and :func:`build_parser`, which gives each
its subparser and its action in :mod:`acts_gnn.cli.commands`.
:func:`build_train_parser` is the parser of ``python -m acts_gnn.train`` (``train gnn``'s
options, for torchrun).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

from acts_gnn.cli import commands
from acts_gnn.cli.options import (
    add_chain_options,
    add_conditions_options,
    add_device_option,
    add_embedding_option,
    add_events_option,
    add_export_options,
    add_filter_option,
    add_generator_options,
    add_graph_option,
    add_input_option,
    add_inputs_option,
    add_map_format_option,
    add_min_occurrence_option,
    add_model_option,
    add_module_map_option,
    add_output_option,
    add_parallel_options,
    add_plots_option,
    add_quiet_option,
    add_range_margin_option,
    add_seed_option,
    add_selection_options,
    add_switch_option,
    add_threads_option,
    add_train_options,
    add_verbose_option,
)

# -- simulation and data ----------------------------------------------------------------------


def simulate_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn simulate``."""
    add_events_option(p, "number of events", required=True, short=True)
    add_seed_option(p, 42, "random seed (recorded in the output; default %(default)s)")
    add_output_option(p, "output folder")
    p.add_argument(
        "--plot",
        action="store_true",
        help="also plot the generated distributions (charged dN/deta, pT, multiplicity per "
        "interaction, species, production radius), beside the other generator's",
    )
    add_quiet_option(p)
    add_generator_options(p, pileup=50.0)
    add_parallel_options(p)


def prepare_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn prepare``."""
    add_input_option(p, "folder with particles.root and hits.root (ACTS schemas)")
    add_output_option(p, "output folder for the event tables")
    add_events_option(p, "only the first N events present (N >= 1)")
    add_seed_option(p, 7, "digitization smearing seed (default %(default)s)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the events of another run (or of an interrupted prepare) in the output "
        "folder; without it such a folder is refused (an earlier prepare of the same input is "
        "always replaced)",
    )
    add_quiet_option(p)
    add_parallel_options(p)
    add_conditions_options(p)


def inspect_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn inspect``."""
    add_input_option(p, "prepared folder")
    add_selection_options(
        p,
        min_pt=1.0,
        group=None,
        pt_help="truth-graph particle pT cut [GeV]",
        hits_help="truth-graph minimum measurements per particle",
        primaries=False,
    )


def merge_events_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn merge-events``."""
    add_inputs_option(p, "prepared folders")
    add_output_option(p, "new prepared folder")


# -- module maps ------------------------------------------------------------------------------


def module_map_build_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn module-map build``."""
    add_input_option(p, "prepared folder(s) (acts-gnn prepare)", nargs="+")
    add_output_option(p, "output path or prefix (.npz, .txt, or a ROOT prefix)", type=str)
    add_map_format_option(p)
    add_events_option(p, "only the first N events of each folder")
    add_min_occurrence_option(p, "drop triplets seen fewer times (default %(default)s)")
    add_range_margin_option(p)
    add_switch_option(p, "--mirror-z", "add z-mirrored copies of triplets (default on)")
    add_switch_option(p, "--rotate-phi", "add copies rotated by the module pitch (default on)")
    add_quiet_option(p)
    add_selection_options(p, min_pt=0.9)
    add_parallel_options(p)


def module_map_merge_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn module-map merge``."""
    add_inputs_option(p, "module-map files or prefixes", type=None)
    add_output_option(p, "output path or prefix", type=str)
    add_map_format_option(p)


def module_map_convert_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn module-map convert``."""
    add_input_option(p, "module-map file or prefix (any format)", type=str)
    add_output_option(p, "output path or prefix", type=str)
    add_map_format_option(p)
    add_min_occurrence_option(
        p, "also drop triplets seen fewer times (default %(default)s: keep all)"
    )
    add_range_margin_option(p)


def module_map_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn module-map evaluate``."""
    add_input_option(p, "prepared folder")
    add_module_map_option(p, "module-map file or prefix", required=True)
    add_events_option(p)
    add_threads_option(p, "C++ threads (default %(default)s)")
    p.add_argument(
        "--plot", type=Path, default=None, help="write efficiency vs pT and eta to this PNG"
    )
    add_quiet_option(p)
    add_selection_options(p, min_pt=1.0)


# -- the chains -------------------------------------------------------------------------------


def _add_ckf_preset_option(p: argparse.ArgumentParser) -> None:
    # names checked by CompareConfig.validate (the presets live with ACTS, not imported here)
    p.add_argument(
        "--ckf-preset",
        nargs="+",
        default=["fast"],
        metavar="NAME",
        help="CKF operating points, all run on the same events: fast (default), upstream "
        "(ACTS's generic-detector example settings), tuned (best efficiency of a scan at "
        "pile-up 200); see docs/acts-integration.md",
    )


def _add_compare_selection_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--also-min-pt",
        nargs="*",
        type=float,
        default=[0.5],
        metavar="GEV",
        help="further particle selections reported next to pT > 1 GeV (same |eta| < 2.5 and "
        ">= 7 measurements), each counted by ACTS and by us (default: %(default)s; none: "
        "give the option alone)",
    )
    p.add_argument(
        "--track-min-pt",
        type=float,
        default=None,
        metavar="GEV",
        help="pT threshold of the reconstruction: both chains' track selection and the CKF "
        "seeding (default: the CKF presets', 0.5 GeV); e.g. 0.45 keeps the pT resolution's "
        "edge out of the pT > 0.5 GeV efficiency (docs/results.md)",
    )


def compare_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn compare``."""
    add_input_option(p, "simulation folder (ROOT)")
    add_output_option(p, "report folder")
    add_events_option(p)
    add_chain_options(p)
    _add_ckf_preset_option(p)
    _add_compare_selection_option(p)
    p.add_argument(
        "--vertexing",
        action="store_true",
        help="also find primary vertices on the CKF tracks with the shipped pair network and "
        "with ACTS's AMVF, and report both (docs/vertexing.md)",
    )
    add_quiet_option(p)
    add_parallel_options(p)


def robustness_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn robustness``."""
    from acts_gnn.detector.misalignment import MISALIGNMENT_LEVELS
    from acts_gnn.evaluation.robustness import DEFAULT_MISALIGNMENTS, DEFAULT_NOISE_RATES

    add_input_option(p, "simulation folder (ROOT)")
    add_output_option(p, "report folder")
    add_events_option(p)
    add_chain_options(p)
    p.add_argument(
        "--noise-rates",
        type=float,
        nargs="*",
        default=list(DEFAULT_NOISE_RATES),
        metavar="RATE",
        help="noise occupancies per channel-equivalent cell and event (default %(default)s)",
    )
    p.add_argument(
        "--misalignments",
        nargs="*",
        default=[f"{s:g}:{r:g}" for s, r in DEFAULT_MISALIGNMENTS],
        metavar="UM:MRAD",
        help="misalignment points, shift sigma [um]:rotation sigma [mrad] (default %(default)s)",
    )
    p.add_argument(
        "--misalign-level",
        choices=MISALIGNMENT_LEVELS,
        default="module",
        help="per module or layer",
    )
    p.add_argument(
        "--ckf-preset", default="fast", help="CKF preset of the reference chain (default fast)"
    )
    add_seed_option(p, 1, "seed of the noise hits and the misalignment (default %(default)s)")
    p.add_argument(
        "--keep-simulation",
        action="store_true",
        help="keep each point's conditioned simulation folder (points/<key>/simulation)",
    )
    add_quiet_option(p)


def demo_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn demo``."""
    add_events_option(p, "number of events (default %(default)s)", default=3)
    p.add_argument("--pileup", type=float, default=50.0, help="mean pile-up (default %(default)s)")
    p.add_argument(
        "--generator",
        choices=["pythia8", "parametric"],
        default="pythia8",
        help="pythia8: ttbar + Poisson(MU) SoftQCD:all pile-up, 14 TeV; parametric: our "
        "numpy pile-up + ttbar-like hard scatter (default %(default)s)",
    )
    add_seed_option(p, 2026, "random seed (default %(default)s)")
    add_output_option(
        p, "output folder (default %(default)s)", required=False, default=Path("output/demo")
    )
    add_chain_options(p)
    _add_ckf_preset_option(p)
    _add_compare_selection_option(p)


# -- evaluation -------------------------------------------------------------------------------


def geometry_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn geometry`` (:func:`acts_gnn.evaluation.geometry.geometry_command`)."""
    add_input_option(p, "prepared folder (acts-gnn prepare)", required=False)
    add_output_option(p, "output folder (report.txt, PNGs)")
    add_events_option(p)
    add_module_map_option(p, "module-map file or prefix (any format)")
    p.add_argument(
        "--digi-config",
        type=Path,
        default=None,
        help="ACTS digitization config JSON (default: the detector's own)",
    )
    p.add_argument(
        "--spacepoint-selection",
        type=Path,
        default=None,
        help="ACTS space-point geometry selection JSON (default: the detector's own)",
    )
    add_plots_option(p, "write the PNG hit maps and connectivity plots (default on)")


def evaluate_gnn_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn evaluate-gnn`` (:func:`acts_gnn.evaluation.gnn.evaluate_gnn_command`)."""
    add_input_option(p, "prepared folder")
    graphs = p.add_mutually_exclusive_group(required=True)
    add_module_map_option(graphs, "build each event's graph with this module map ...")
    graphs.add_argument(
        "--graphs",
        type=Path,
        help="... or read it from this folder of graph files (any builder: `acts-gnn graphs`)",
    )
    add_model_option(p, "GNN model (.onnx: ONNX Runtime, else TorchScript)", required=True)
    add_output_option(p, "output folder")
    add_events_option(p)
    p.add_argument(
        "--cut", type=float, default=0.5, help="edge score cut, kept: score > cut (default 0.5)"
    )
    p.add_argument(
        "--min-purity",
        type=float,
        default=0.95,
        help="also find the cut with the best efficiency at this purity (default 0.95)",
    )
    add_selection_options(
        p,
        min_pt=1.0,
        group=None,
        pt_help="target particles' pT cut [GeV] (default %(default)s)",
        hits_help="target particles' minimum measurements (default %(default)s)",
        primaries=False,
    )
    add_device_option(p)
    add_threads_option(p)
    add_plots_option(p, "write the PNGs (default on)")
    add_quiet_option(p)
    add_parallel_options(p)


# -- training ---------------------------------------------------------------------------------


def graphs_arguments(p: argparse.ArgumentParser) -> None:
    """``acts-gnn graphs`` (:func:`acts_gnn.train.graph_files.graphs_command`)."""
    add_input_option(p, "prepared folder")
    add_output_option(p, "graph-file folder")
    add_graph_option(p, "metric-learning", "graph builder (default %(default)s)")
    add_module_map_option(p, "module map (default: the shipped one)", short=False, type=Path)
    add_embedding_option(p, "embedding model (default: the shipped one)")
    p.add_argument("--r", type=float, help="embedding radius (default: the model's)")
    p.add_argument("--k", type=int, help="max neighbours per hit (default: the model's)")
    add_filter_option(p, "edge filter applied after the embedding (default: the shipped one)")
    p.add_argument("--no-filter", action="store_true", help="write the embedding graphs unfiltered")
    p.add_argument(
        "--filter-cut", type=float, help="filter score cut (default: the model's recorded cut)"
    )
    add_events_option(p, "only N events (after --skip)")
    p.add_argument("--skip", type=int, default=0, help="skip the first N events")
    add_selection_options(
        p,
        min_pt=1.0,
        group=None,
        pt_help="target pT for the reported efficiency [GeV]",
        hits_help=None,
        primaries=False,
    )
    add_device_option(p)
    add_threads_option(p)
    add_switch_option(
        p,
        "--overwrite",
        "rebuild graph files that exist (default: keep them, so a rerun resumes)",
        default=False,
    )
    add_quiet_option(p)
    add_parallel_options(p)


# -- the parsers ------------------------------------------------------------------------------

Arguments = Callable[[argparse.ArgumentParser], None]
Command = Callable[[argparse.Namespace], int]


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    arguments: Arguments,
    command: Command,
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add subcommand ``name``: its subparser with ``arguments``, running ``command``."""
    p = sub.add_parser(name, help=help, description=description)
    arguments(p)
    p.set_defaults(func=command)
    return p


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``acts-gnn``: each subcommand's namespace has ``func``, its action."""
    parser = argparse.ArgumentParser(
        prog="acts-gnn",
        description="GNN track finding for ACTS: simulate, prepare, build graphs, train, compare with the CKF.",
    )
    add_verbose_option(parser, "debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_command(
        sub,
        "simulate",
        simulate_arguments,
        commands.cmd_simulate,
        "generate pile-up events, run ACTS Fatras, write particles.root and hits.root",
    )
    add_command(
        sub,
        "prepare",
        prepare_arguments,
        commands.cmd_prepare,
        "digitize ROOT simulation with ACTS and write per-event training tables (Parquet)",
    )
    add_command(
        sub,
        "inspect",
        inspect_arguments,
        commands.cmd_inspect,
        "print per-event counts of a prepared folder",
    )

    mm = sub.add_parser(
        "module-map", help="build, merge, convert and evaluate module maps"
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    add_command(
        mm,
        "build",
        module_map_build_arguments,
        commands.cmd_module_map_build,
        "learn a module map from prepared events",
    )
    add_command(
        mm,
        "merge",
        module_map_merge_arguments,
        commands.cmd_module_map_merge,
        "merge maps built from different events into one",
    )
    add_command(
        mm,
        "convert",
        module_map_convert_arguments,
        commands.cmd_module_map_convert,
        "rewrite a module map in another format (e.g. --format compact, to ship it)",
        description="Read a module map in any format and write it in another one. With "
        "--format compact the [min, max] ranges are stored as float16 rounded outwards (min "
        "down, max up), so every cut of the written map contains the original cut.",
    )
    add_command(
        mm,
        "evaluate",
        module_map_evaluate_arguments,
        commands.cmd_module_map_evaluate,
        "edge efficiency and purity of a module map on prepared events",
    )

    add_command(
        sub,
        "merge-events",
        merge_events_arguments,
        commands.cmd_merge_events,
        "link several prepared folders into one, renumbering events (for training)",
    )
    add_command(
        sub,
        "compare",
        compare_arguments,
        commands.cmd_compare,
        "GNN tracking vs ACTS seeding + CKF on the same events: summary, table, plots",
    )
    add_command(
        sub,
        "robustness",
        robustness_arguments,
        commands.cmd_robustness,
        "both chains over a grid of noise rates and misalignments on the same events: "
        "table and plots (docs/robustness.md)",
    )
    add_command(
        sub,
        "demo",
        demo_arguments,
        commands.cmd_demo,
        "the main job: simulate held-out events, run GNN and CKF tracking, compare",
    )
    add_command(
        sub,
        "geometry",
        geometry_arguments,
        commands.cmd_geometry,
        "validate a detector: hit maps, module-map connectivity, config coverage (exit 1 "
        "if the digitization or space-point selection misses a volume)",
    )
    add_command(
        sub,
        "evaluate-gnn",
        evaluate_gnn_arguments,
        commands.cmd_evaluate_gnn,
        "edge efficiency, purity, ROC of a GNN on the module-map graphs (or stored graph "
        "files) of prepared events",
    )
    add_command(
        sub,
        "graphs",
        graphs_arguments,
        commands.cmd_graphs,
        "write each prepared event's graph (module map, or metric learning + filter) "
        "as the graph files GNN training reads (data.graphs)",
    )

    train = sub.add_parser("train", help="train models from a YAML config")
    models = train.add_subparsers(dest="action", required=True, metavar="MODEL")
    add_command(
        models,
        "gnn",
        add_train_options,
        commands.cmd_train_gnn,
        "train the GNN edge classifier (works under torchrun)",
    )
    add_command(
        models,
        "embedding",
        add_train_options,
        commands.cmd_train_embedding,
        "train the metric-learning embedding",
    )
    add_command(
        models,
        "filter",
        add_train_options,
        commands.cmd_train_filter,
        "train the edge filter on embedding graphs",
    )
    add_command(
        models,
        "vertex",
        add_train_options,
        commands.cmd_train_vertex,
        "train the vertexing track-pair network on track-set files",
    )
    add_command(
        models,
        "triplet",
        add_train_options,
        commands.cmd_train_triplet,
        "train the triplet classifier (GNN seeds; docs/triplet-seeds.md)",
    )

    export = sub.add_parser("export", help="export trained models to ONNX and TorchScript")
    models = export.add_subparsers(dest="action", required=True, metavar="MODEL")
    add_command(
        models,
        "gnn",
        partial(add_export_options, chunks=True),
        commands.cmd_export_gnn,
        "export a GNN checkpoint with the upstream ACTS I/O",
    )
    for name in ("embedding", "filter"):
        add_command(
            models,
            name,
            partial(add_export_options, chunks=False),
            commands.cmd_export_model,
            f"export a {name} checkpoint with the upstream ACTS I/O",
        )
    add_command(
        models,
        "vertex-pairs",
        partial(add_export_options, chunks=False),
        commands.cmd_export_model,
        "export a vertexing track-pair checkpoint (acts-gnn train vertex): inputs x [N, 10], "
        "edge_index [2, P], output logits [P]",
    )
    add_command(
        models,
        "triplet",
        partial(add_export_options, chunks=False),
        commands.cmd_export_model,
        "export a triplet-classifier checkpoint (acts-gnn train triplet): inputs x [D, 13], "
        "edge_index [2, T], edge_attr [T, 7], output logits [T]",
    )
    return parser


def build_train_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m acts_gnn.train``: ``train gnn``'s options, and ``-v``."""
    parser = argparse.ArgumentParser(
        prog="python -m acts_gnn.train", description="train the GNN edge classifier"
    )
    add_train_options(parser)
    add_verbose_option(parser, "info logging")
    return parser


__all__ = [
    "Arguments",
    "Command",
    "add_command",
    "build_parser",
    "build_train_parser",
    "compare_arguments",
    "demo_arguments",
    "evaluate_gnn_arguments",
    "geometry_arguments",
    "graphs_arguments",
    "inspect_arguments",
    "merge_events_arguments",
    "module_map_build_arguments",
    "module_map_convert_arguments",
    "module_map_evaluate_arguments",
    "module_map_merge_arguments",
    "prepare_arguments",
    "simulate_arguments",
]

"""The option helpers every ``acts-gnn`` subcommand builds its arguments from.

One helper per option (or per block of options that travel together), so that an option
means the same, is spelled the same and defaults the same way in every subcommand that takes
it. A subcommand passes only what differs: the help text (what *its* ``--input`` is), whether
the option is required, and its default. Units are in the help texts ([GeV]).

The helpers import nothing heavy: building the whole parser imports neither torch nor ACTS.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: What takes ``add_argument``: a parser, or what its ``add_argument_group`` and
#: ``add_mutually_exclusive_group`` return.
ArgumentContainer = argparse._ActionsContainer

#: ``type=`` of a path option: :class:`~pathlib.Path` for folders and files read as such,
#: ``str`` where the value may be a prefix (module maps), None to keep argparse's default.
PathType = Callable[[str], Any] | None


def _type(type: PathType) -> dict[str, Any]:
    """The ``type=`` keyword of ``add_argument`` (none for None: the string as given)."""
    return {} if type is None else {"type": type}


# -- files and folders ------------------------------------------------------------------------


def add_input_option(
    p: ArgumentContainer,
    help: str,
    *,
    required: bool = True,
    type: PathType = Path,
    nargs: str | None = None,
) -> None:
    """``--input`` / ``-i``: what the command reads (a folder, a file or a prefix)."""
    p.add_argument(
        "--input", "-i", **_type(type), nargs=nargs, required=required, default=None, help=help
    )


def add_inputs_option(p: ArgumentContainer, help: str, *, type: PathType = Path) -> None:
    """``--inputs``: the things to merge (one or more; required)."""
    p.add_argument("--inputs", nargs="+", **_type(type), required=True, help=help)


def add_output_option(
    p: ArgumentContainer,
    help: str,
    *,
    required: bool = True,
    default: Any = None,
    type: PathType = Path,
) -> None:
    """``--output`` / ``-o``: where the command writes (a folder, a file or a prefix)."""
    p.add_argument("--output", "-o", **_type(type), required=required, default=default, help=help)


def add_module_map_option(
    p: ArgumentContainer,
    help: str,
    *,
    required: bool = False,
    short: bool = True,
    type: PathType = str,
) -> None:
    """``--module-map`` (``-m`` when ``short``): a module-map file, or a prefix (any format)."""
    names = ("--module-map", "-m") if short else ("--module-map",)
    if required:
        p.add_argument(*names, **_type(type), required=True, help=help)
    else:
        p.add_argument(*names, **_type(type), default=None, help=help)


def add_model_option(p: ArgumentContainer, help: str, *, required: bool = False) -> None:
    """``--model``: the GNN edge classifier (.onnx: ONNX Runtime, else TorchScript)."""
    p.add_argument("--model", type=Path, required=required, default=None, help=help)


def add_embedding_option(p: ArgumentContainer, help: str) -> None:
    """``--embedding``: the metric-learning embedding model."""
    p.add_argument("--embedding", type=Path, default=None, help=help)


def add_filter_option(p: ArgumentContainer, help: str) -> None:
    """``--filter``: the edge-filter model applied to the embedding's graphs."""
    p.add_argument("--filter", type=Path, default=None, help=help)


def add_graph_option(p: ArgumentContainer, default: str, help: str) -> None:
    """``--graph``: the graph construction (``module-map`` or ``metric-learning``)."""
    from acts_gnn.chain.defaults import GRAPHS

    p.add_argument("--graph", choices=GRAPHS, default=default, help=help)


#: ``--format`` of the module-map commands that write a map.
MAP_FORMATS = ("npz", "compact", "acorn", "root")
MAP_FORMAT_HELP = (
    "file format (default: from the output name; .npz means npz). npz: exact float64 ranges; "
    "compact: a .npz about 7 times smaller, the ranges as float16 (11 significant bits; units "
    "as in the map: z0 mm, dphi rad, phi slope rad/mm, deta, diff_dzdr and diff_dydx "
    "unitless) rounded OUTWARDS, every min down and every max up (float32 for values outside "
    "float16's range), so no cut gets tighter: edges can only be added (efficiency equal or "
    "higher, purity a little lower); ids, triplets and occurrences exact; "
    "acorn: text (exact); root: the ModuleMapGraph pair, float32 rounded outwards"
)


def add_map_format_option(p: ArgumentContainer) -> None:
    """``--format``: the file format of a module map that a command writes."""
    p.add_argument("--format", choices=list(MAP_FORMATS), default=None, help=MAP_FORMAT_HELP)


def add_min_occurrence_option(p: ArgumentContainer, help: str) -> None:
    """``--min-occurrence``: drop module-map triplets seen fewer times (1 keeps all)."""
    p.add_argument("--min-occurrence", type=int, default=1, help=help)


def add_range_margin_option(p: ArgumentContainer) -> None:
    """``--range-margin``: widen the written map's ranges (:mod:`~acts_gnn.graph.module_map.margins`)."""
    p.add_argument(
        "--range-margin",
        type=float,
        default=None,
        metavar="C",
        help="widen each triplet's ranges on each side by C * width / (occurrence - 1) "
        "(graph building only: a widened map cannot be merged; default: none)",
    )


# -- how much, how, how loud ------------------------------------------------------------------


def add_events_option(
    p: ArgumentContainer,
    help: str = "only the first N events",
    *,
    required: bool = False,
    default: int | None = None,
    short: bool = False,
) -> None:
    """``--events`` (``-n`` when ``short``): how many events; None (the default): all."""
    names = ("--events", "-n") if short else ("--events",)
    if required:
        p.add_argument(*names, type=int, required=True, help=help)
    else:
        p.add_argument(*names, type=int, default=default, help=help)


def add_seed_option(p: ArgumentContainer, default: int, help: str) -> None:
    """``--seed``: the random seed of what the command generates or smears."""
    p.add_argument("--seed", type=int, default=default, help=help)


def add_device_option(
    p: ArgumentContainer,
    *,
    default: str | None = "cpu",
    help: str = "cpu or cuda[:N] (default %(default)s)",
) -> None:
    """``--device``: where torch runs (``cpu``, ``cuda`` or ``cuda:N``)."""
    p.add_argument("--device", default=default, help=help)


def add_threads_option(
    p: ArgumentContainer, help: str = "CPU threads (default %(default)s)"
) -> None:
    """``--threads``: CPU threads (torch and the C++ graph builders); 1 by default."""
    p.add_argument("--threads", type=int, default=1, help=help)


def add_plots_option(p: ArgumentContainer, help: str) -> None:
    """``--plots`` / ``--no-plots``: write the command's PNGs (on by default)."""
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True, help=help)


def add_switch_option(p: ArgumentContainer, name: str, help: str, *, default: bool = True) -> None:
    """``--NAME`` / ``--no-NAME``: an on/off option (``default``: on)."""
    p.add_argument(name, action=argparse.BooleanOptionalAction, default=default, help=help)


def add_quiet_option(p: ArgumentContainer, help: str = "no progress bar") -> None:
    """``--quiet`` / ``-q``: no progress bars."""
    p.add_argument("--quiet", "-q", action="store_true", help=help)


# -- blocks of options ------------------------------------------------------------------------


def add_selection_options(
    p: argparse.ArgumentParser,
    min_pt: float,
    *,
    group: str | None = "truth selection",
    pt_help: str = "particle pT cut [GeV] (default %(default)s)",
    hits_help: str | None = "minimum measurements per particle (default %(default)s)",
    primaries: bool = True,
) -> None:
    """The truth selection of the target particles (:class:`acts_gnn.graph.TruthSelection`):
    ``--min-pt`` [GeV], ``--min-hits`` (3; not when ``hits_help`` is None) and
    ``--primaries-only`` (when ``primaries``), in an argument group titled ``group`` (None: with
    the command's other options)."""
    g: ArgumentContainer = p.add_argument_group(group) if group else p
    g.add_argument("--min-pt", type=float, default=min_pt, help=pt_help)
    if hits_help is not None:
        g.add_argument("--min-hits", type=int, default=3, help=hits_help)
    if primaries:
        g.add_argument(
            "--primaries-only",
            action="store_true",
            help="only generator particles (no secondaries)",
        )


def add_generator_options(p: argparse.ArgumentParser, pileup: float) -> None:
    """The event generator: Pythia8 (:class:`acts_gnn.simulation.pythia8.Pythia8Config`),
    the parametric one (:class:`acts_gnn.simulation.GeneratorConfig`) or HepMC3 files
    (:class:`acts_gnn.simulation.hepmc.HepMC3Input`); energies in GeV, lengths in mm."""
    g = p.add_argument_group("event generation (units: GeV, mm, ns)")
    g.add_argument(
        "--generator",
        choices=["pythia8", "parametric"],
        default="pythia8",
        help="pythia8: Poisson(MU) SoftQCD:all pile-up + the --hard-process, as ACTS's "
        "full_chain_odd.py; parametric: our numpy pile-up + ttbar-like model (default "
        "%(default)s)",
    )
    g.add_argument(
        "--pileup",
        "--mu",
        type=float,
        default=pileup,
        help="mean number of pile-up collisions (default %(default)s)",
    )
    add_switch_option(
        g,
        "--hard-scatter",
        "add the hard scatter (pythia8: the --hard-process; parametric: its ttbar-like one; "
        "default on)",
    )
    g.add_argument(
        "--hard-process",
        nargs="+",
        default=["ttbar"],
        metavar="SETTING",
        help="pythia8 hard process: ttbar (Top:gg2ttbar + Top:qqbar2ttbar), none, or Pythia "
        "settings strings, e.g. 'HardQCD:all = on' 'PhaseSpace:pTHatMin = 50' (default ttbar)",
    )
    g.add_argument(
        "--pythia-setting",
        action="append",
        default=[],
        metavar="SETTING",
        help="extra Pythia setting for every Pythia instance (repeatable), e.g. 'Tune:pp = 14'",
    )
    g.add_argument(
        "--cms-energy",
        type=float,
        default=14000.0,
        help="pythia8 centre-of-mass energy [GeV] (default %(default)s)",
    )
    g.add_argument(
        "--beam-spot",
        type=float,
        nargs=4,
        default=None,
        metavar=("SX", "SY", "SZ", "ST"),
        help="Gaussian beam spot widths [mm mm mm ns] (default for pythia8 and HepMC3 events "
        "0.0125 0.0125 55.5 5, ACTS's full_chain_odd.py; parametric: sigma_xy 0.0125, sigma_z "
        "50, no time spread; there SX = SY is required and ST is ignored)",
    )
    g.add_argument(
        "--eta-max",
        type=float,
        default=4.0,
        help="keep particles with |eta| below this (default %(default)s)",
    )
    g.add_argument(
        "--pt-min",
        type=float,
        default=None,
        help="minimum particle pT [GeV] (default 0.15 for pythia8 and HepMC3, ACTS's "
        "generator-level cut; 0.1 for parametric)",
    )
    g.add_argument(
        "--pt-max",
        type=float,
        default=100.0,
        help="parametric: maximum pile-up particle pT [GeV] (default %(default)s)",
    )
    g.add_argument(
        "--pt-spectrum",
        choices=["tsallis", "flat-curvature"],
        default="tsallis",
        help="parametric pile-up pT spectrum: minimum bias (tsallis) or uniform in 1/pT, for "
        "module-map training (default %(default)s)",
    )
    h = p.add_argument_group("HepMC3 input and output")
    h.add_argument(
        "--hepmc",
        nargs="+",
        type=Path,
        default=None,
        metavar="FILE",
        help="simulate the events of these ASCII HepMC3 files (any generator; .gz/.xz/.bz2 "
        "too) instead of generating; pile-up: Poisson(MU) Pythia8 collisions, or events of "
        "--pileup-hepmc; --pileup 0 for none",
    )
    h.add_argument(
        "--pileup-hepmc",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --hepmc: mix Poisson(MU) events of this HepMC3 file into each event",
    )
    h.add_argument(
        "--hepmc-vertices",
        choices=["smear", "keep"],
        default="smear",
        help="with --hepmc: shift each read event to a beam-spot vertex (smear: events made "
        "at the origin) or keep the file's vertices (keep: --write-hepmc output) (default "
        "%(default)s)",
    )
    h.add_argument(
        "--write-hepmc",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write the generated events to DIR/events.hepmc3 (before the generator-level "
        "selection)",
    )


def add_chain_options(p: argparse.ArgumentParser) -> None:
    """The GNN chain of ``compare`` and ``demo`` (:class:`acts_gnn.sequencer.compare.
    CompareConfig`); every file defaults to the shipped one."""
    from acts_gnn.chain.defaults import BACKENDS, BUILDERS, OPERATING_POINTS, default_files

    g = p.add_argument_group("GNN chain (files default to the shipped ones)")
    add_graph_option(g, "module-map", "graph construction")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="edge-classifier runtime: torch (TorchScript; about 2x faster than onnx on CPU here)",
    )
    add_device_option(g)
    g.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="arithmetic of the GNN and the metric-learning filter on CPU (torch backend, "
        "fused engines): fp32, or bf16 (bfloat16 products: AVX-512 BF16 / AMX; see "
        "docs/gnn.md, 'CPU inference'); default %(default)s",
    )
    g.add_argument(
        "--operating-point",
        choices=tuple(OPERATING_POINTS),
        default="default",
        help="the shipped module map and GNN of the module-map chain: default (pT > 1 GeV), "
        "lowpt (pT > 0.5 GeV in two passes: default's first, then the low-pT map and GNN on "
        "the space points it left), lowpt-one-pass (the low-pT map and GNN alone; "
        "docs/results.md, 'The low-pT operating point'); --module-map and --model replace the "
        "last pass's files (default %(default)s)",
    )
    add_module_map_option(
        g, "module-map file (default: the operating point's)", short=False, type=Path
    )
    add_model_option(
        g,
        "GNN model (.onnx or TorchScript; default: the shipped GNN of the operating point, or "
        "trained on --graph's graphs)",
    )
    add_embedding_option(g, "metric-learning embedding")
    add_filter_option(g, "edge-filter model")
    g.add_argument("--builder", choices=BUILDERS, default="walkthrough", help="track building")
    g.add_argument(
        "--track-cleaning",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="remove the hits off each candidate's helix before the fit (docs/gnn.md, 'Track "
        "cleaning'); default: as the operating point (on for both lowpt points, off for "
        "default)",
    )
    g.add_argument("--edge-cut", type=float, default=0.5, help="GNN score cut of the track builder")
    g.add_argument(
        "--gnn-cuts",
        type=float,
        nargs="+",
        metavar="CUT",
        default=None,
        help="several GNN score cuts in one run, on the same graph and scores (one track "
        "building + fit per cut, one row each; the first replaces --edge-cut)",
    )
    g.add_argument(
        "--truth-metrics",
        action="store_true",
        help="also print edge efficiency and purity after every GNN stage",
    )
    g.add_argument(
        "--gnn-seeded",
        nargs="?",
        const=str(default_files().gnn_torchscript.with_name("triplet.pt")),
        default=None,
        metavar="TRIPLET_MODEL",
        help="also the GNN-seeded CKF: triplet-classifier seeds -> ACTS track parameters -> "
        "CKF (first --ckf-preset) -> ambiguity resolution (docs/triplet-seeds.md); the "
        "triplet model is TorchScript (default: the shipped triplet.pt)",
    )


def add_train_options(p: argparse.ArgumentParser) -> None:
    """``train gnn|embedding|filter`` (and ``python -m acts_gnn.train``): a YAML config and the
    overrides of it."""
    p.add_argument("--config", "-c", type=Path, required=True, help="training config (YAML)")
    p.add_argument(
        "--resume", action="store_true", help="continue from <output>/checkpoints/last.pt"
    )
    add_device_option(p, default=None, help="cpu, cuda, cuda:N or auto (overrides the config)")
    add_output_option(p, "output folder (overrides the config)", required=False, type=None)
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (overrides)")
    add_quiet_option(p, "no progress bars")


def add_export_options(p: argparse.ArgumentParser, *, chunks: bool) -> None:
    """``export gnn|embedding|filter``: a checkpoint in, ONNX and / or TorchScript out, and the
    metadata overrides; ``--chunks`` (edge chunks of the ONNX GNN) when ``chunks``."""
    p.add_argument(
        "--checkpoint", type=Path, required=True, help="training checkpoint (e.g. last.pt)"
    )
    p.add_argument("--onnx", type=Path, default=None, help="write this ONNX file")
    p.add_argument("--torchscript", type=Path, default=None, help="write this TorchScript file")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17; default 17)")
    p.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="replace a recorded metadata value, e.g. r=0.55 and k=300 for an embedding's "
        "operating point or score_cut=0.2 for a filter (repeatable; KEY must exist in the "
        "checkpoint)",
    )
    if chunks:
        p.add_argument(
            "--chunks",
            type=int,
            default=1,
            help="ONNX: evaluate the edge MLPs in this many edge chunks (exact; less memory)",
        )


def add_parallel_options(p: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--scheduler ADDRESS`` (exclusive), ``--chunk-events``, ``--retries``:
    run the command's events in chunks on a Dask cluster (:mod:`acts_gnn.distributed`);
    neither: in this process, as before. Results equal the serial run's."""
    g = p.add_argument_group("parallel (Dask; docs/distributed.md)")
    where = g.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="run on a local Dask cluster of N processes, one thread each (default: no "
        "cluster, this process)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on the existing Dask cluster of this scheduler, e.g. tcp://host:8786 "
        "(workers must see the same files)",
    )
    g.add_argument(
        "--chunk-events",
        type=int,
        default=None,
        metavar="N",
        help="events per task (default: about 4 tasks per worker); keep it fixed to resume",
    )
    g.add_argument(
        "--retries", type=int, default=0, help="Dask retries of a failed task (default 0)"
    )


def add_conditions_options(p: argparse.ArgumentParser) -> None:
    """Noise hits and misalignment applied to the simulated hits before digitization
    (:mod:`acts_gnn.simulation.noise`, :mod:`acts_gnn.detector.misalignment`)."""
    from acts_gnn.detector.misalignment import MISALIGNMENT_LEVELS

    g = p.add_argument_group("detector conditions (docs/robustness.md)")
    g.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="RATE",
        help="noise hits at this occupancy per channel-equivalent cell and event (1e-6: about "
        "2.4 %% of a MU = 200 event's measurements); default %(default)s",
    )
    g.add_argument(
        "--misalign-shift",
        type=float,
        default=0.0,
        metavar="UM",
        help="Gaussian sigma of each module (or layer) shift [um]; default %(default)s",
    )
    g.add_argument(
        "--misalign-rotation",
        type=float,
        default=0.0,
        metavar="MRAD",
        help="Gaussian sigma of each module (or layer) rotation angle [mrad]; default %(default)s",
    )
    g.add_argument(
        "--misalign-level",
        choices=MISALIGNMENT_LEVELS,
        default="module",
        help="draw one displacement per module or per layer (default %(default)s)",
    )
    g.add_argument(
        "--conditions-seed",
        type=int,
        default=1,
        help="seed of the noise hits (with the event id) and of the misalignment (default "
        "%(default)s)",
    )


def add_verbose_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--verbose`` / ``-v``: more logging."""
    p.add_argument("-v", "--verbose", action="store_true", help=help)


__all__ = [
    "MAP_FORMATS",
    "MAP_FORMAT_HELP",
    "ArgumentContainer",
    "PathType",
    "add_chain_options",
    "add_conditions_options",
    "add_device_option",
    "add_embedding_option",
    "add_events_option",
    "add_export_options",
    "add_filter_option",
    "add_generator_options",
    "add_graph_option",
    "add_input_option",
    "add_inputs_option",
    "add_map_format_option",
    "add_min_occurrence_option",
    "add_model_option",
    "add_module_map_option",
    "add_output_option",
    "add_parallel_options",
    "add_plots_option",
    "add_quiet_option",
    "add_seed_option",
    "add_selection_options",
    "add_switch_option",
    "add_threads_option",
    "add_train_options",
    "add_verbose_option",
]

"""``acts-gnn robustness``: both chains over a grid of noise rates and misalignment sizes.

Each grid point conditions the same simulated events (:func:`acts_gnn.simulation.noise.
write_conditioned_simulation`: noise hits at an occupancy per channel-equivalent cell, or
Gaussian module misalignment) and runs :func:`acts_gnn.sequencer.compare.run_comparison` on
the conditioned copy: the shipped GNN chain and ACTS's seeding + CKF (the first of
``ckf_presets``, ``fast`` by default) read the same measurements, reconstruct with the nominal
geometry, and are scored by ACTS's matcher and writer (efficiency, fake and duplicate ratio
as in design.md, Metrics); the GNN chain's edge efficiency and purity come from its truth
bookkeeping (``truth_metrics``: after graph construction and after the GNN's cut). The grid is
one axis at a time: the nominal point, each noise rate without misalignment, each
(shift, rotation) without noise. Output (``output/``): ``robustness.json`` (the settings and
one row per point), ``robustness.md`` (the table), ``robustness_noise.png`` and
``robustness_misalignment.png`` (:mod:`acts_gnn.evaluation.plots_robustness`), and per point
``points/<key>/`` with the conditioned simulation and the comparison's ``summary.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acts_gnn.io.atomic import require_writable_dir, write_json, write_text

#: Default grid: noise occupancies per channel-equivalent cell (1e-6 adds ~2.4 % of a
#: MU = 200 event's measurements), and (shift sigma [um], rotation sigma [mrad]) pairs.
DEFAULT_NOISE_RATES = (1e-7, 4e-7, 1e-6, 4e-6)
DEFAULT_MISALIGNMENTS = ((20.0, 0.2), (50.0, 0.5), (100.0, 1.0))


@dataclass
class RobustnessConfig:
    """The grid, the events and the comparison settings (``compare``: further
    :class:`~acts_gnn.sequencer.compare.CompareConfig` fields, e.g. ``graph``, ``device``)."""

    input: Path
    output: Path
    events: int | None = None
    noise_rates: tuple[float, ...] = DEFAULT_NOISE_RATES
    misalignments: tuple[tuple[float, float], ...] = DEFAULT_MISALIGNMENTS
    level: str = "module"
    seed: int = 1
    ckf_preset: str = "fast"
    keep_simulation: bool = False
    compare: dict[str, Any] = field(default_factory=dict)

    def points(self) -> list[dict[str, Any]]:
        """The grid points in run order: key, kind, noise rate, shift [um], rotation [mrad]."""
        out = [{"key": "nominal", "kind": "nominal", "noise_rate": 0.0, "shift_um": 0.0,
                "rotation_mrad": 0.0}]  # fmt: skip
        for rate in self.noise_rates:
            out.append({"key": f"noise_{rate:g}", "kind": "noise", "noise_rate": float(rate),
                        "shift_um": 0.0, "rotation_mrad": 0.0})  # fmt: skip
        for shift, rot in self.misalignments:
            out.append({"key": f"misalign_{shift:g}um_{rot:g}mrad", "kind": "misalignment",
                        "noise_rate": 0.0, "shift_um": float(shift),
                        "rotation_mrad": float(rot)})  # fmt: skip
        return out

    def validate(self) -> None:
        from acts_gnn.detector.misalignment import MISALIGNMENT_LEVELS

        if self.level not in MISALIGNMENT_LEVELS:
            raise ValueError(f"level must be one of {MISALIGNMENT_LEVELS}, got {self.level!r}")
        if any(not (0 < r <= 1) for r in self.noise_rates):
            raise ValueError(f"noise rates must be occupancies in (0, 1], got {self.noise_rates}")
        if any(len(m) != 2 or min(m) < 0 or max(m) == 0 for m in self.misalignments):
            raise ValueError(
                "misalignments must be (shift um, rotation mrad) pairs >= 0, not both 0, got "
                f"{self.misalignments}"
            )
        if self.events is not None and self.events < 1:
            raise ValueError(f"events must be >= 1 (or None: all), got {self.events}")
        if not Path(self.input).is_dir():
            raise FileNotFoundError(f"simulation folder {self.input} does not exist")
        require_writable_dir(self.output)


def point_row(point: dict[str, Any], summary: dict[str, Any], record: dict[str, Any]) -> dict:
    """One table row from a point's comparison ``summary`` and conditioning ``record``."""
    per_event = record.get("per_event", {})
    n_events = max(len(per_event), 1)
    noise = sum(v["noise_sim_hits"] for v in per_event.values()) / n_events
    measurements = float(summary["measurements_per_event"])
    gnn, ckf = summary["gnn"], summary["ckf"]
    edges = gnn.get("gnn_edge_metrics", {})
    graph = edges.get("graph construction", {})
    classifier: dict[str, float] = next(
        (v for k, v in edges.items() if k.startswith("classifier")), {}
    )
    return {
        **point,
        "events": summary["events"],
        "measurements_per_event": measurements,
        "noise_hits_per_event": noise,
        "noise_fraction": noise / measurements if measurements else 0.0,
        "gnn": {
            "graph_edge_efficiency": graph.get("efficiency"),
            "graph_edge_purity": graph.get("purity"),
            "edge_efficiency": classifier.get("efficiency"),
            "edge_purity": classifier.get("purity"),
            "efficiency": gnn["efficiency"],
            "fake_ratio": gnn["fake_ratio"],
            "duplicate_ratio": gnn["duplicate_ratio"],
            "seconds_per_event": gnn["time_per_event"].get("total"),
        },
        "ckf": {
            "efficiency": ckf["efficiency"],
            "fake_ratio": ckf["fake_ratio"],
            "duplicate_ratio": ckf["duplicate_ratio"],
            "seconds_per_event": ckf["time_per_event"].get("total"),
        },
    }


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def robustness_markdown(rows: Sequence[dict[str, Any]], settings: dict[str, Any]) -> str:
    """The table of ``rows`` (one per grid point) with the settings it was made with."""
    lines = [
        f"Robustness grid: {settings['events']} event(s) of {settings['input']}, "
        f"misalignment level {settings['level']}, seed {settings['seed']}, CKF preset "
        f"{settings['ckf_preset']}. Noise rate: occupancy per channel-equivalent cell and event; "
        "noise % = noise hits / measurements. Efficiencies and fake ratios: ACTS's matcher and "
        "writer; edge efficiency: after graph construction / after the GNN cut.",
        "",
        "| point | noise rate | shift [um] | rot. [mrad] | noise % | edge eff. graph | "
        "edge eff. GNN | edge purity GNN | GNN eff. | GNN fake | CKF eff. | CKF fake |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g, c = r["gnn"], r["ckf"]
        lines.append(
            f"| {r['key']} | {r['noise_rate']:g} | {r['shift_um']:g} | {r['rotation_mrad']:g} | "
            f"{100 * r['noise_fraction']:.2f} | {_fmt(g['graph_edge_efficiency'])} | "
            f"{_fmt(g['edge_efficiency'])} | {_fmt(g['edge_purity'])} | {_fmt(g['efficiency'])} | "
            f"{_fmt(g['fake_ratio'])} | {_fmt(c['efficiency'])} | {_fmt(c['fake_ratio'])} |"
        )
    return "\n".join(lines) + "\n"


def run_robustness(config: RobustnessConfig, progress: bool = True) -> dict[str, Any]:
    """Run every grid point (module docstring); returns and writes the result."""
    from acts_gnn.detector.misalignment import MisalignmentSettings
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison
    from acts_gnn.simulation.noise import (
        DetectorConditions,
        NoiseSettings,
        write_conditioned_simulation,
    )

    config.validate()
    output = Path(config.output)
    settings: dict[str, Any] = {
        "input": str(Path(config.input).resolve()),
        "events": config.events,
        "level": config.level,
        "seed": config.seed,
        "ckf_preset": config.ckf_preset,
        "compare": {k: str(v) for k, v in config.compare.items()},
    }
    rows = []
    for point in config.points():
        start = time.perf_counter()
        folder = output / "points" / point["key"]
        conditions = DetectorConditions(
            NoiseSettings(point["noise_rate"], config.seed),
            MisalignmentSettings(
                point["shift_um"], point["rotation_mrad"], config.level, config.seed
            ),
        )
        record = write_conditioned_simulation(
            config.input, folder / "simulation", conditions, events=config.events
        )
        compare = CompareConfig(
            input=folder / "simulation",
            output=folder / "compare",
            events=config.events,
            truth_metrics=True,
            ckf_presets=(config.ckf_preset,),
            also_min_pt=(),
            **config.compare,
        )
        summary = run_comparison(compare, progress=progress)
        write_json(folder / "compare" / "summary.json", summary)
        if not config.keep_simulation:
            shutil.rmtree(folder / "simulation")
        row = point_row(point, summary, record)
        row["wall_seconds"] = time.perf_counter() - start
        if "misalignment_drawn" in record:
            row["misalignment_drawn"] = record["misalignment_drawn"]
        rows.append(row)
        write_json(output / "robustness.json", {"settings": settings, "rows": rows})  # so far
    result: dict[str, Any] = {"settings": {**settings, "events": rows[0]["events"]}, "rows": rows}
    write_json(output / "robustness.json", result)
    result["plots"] = [str(p) for p in write_report(result, output)]
    return result


def write_report(result: dict[str, Any], output: str | Path) -> list[Path]:
    """``robustness.md`` and the two plots of a result (``settings`` and ``rows``, as
    ``robustness.json`` holds it) in ``output``; returns the plot paths."""
    from acts_gnn.evaluation.plots_robustness import plot_robustness_axis

    output = Path(output)
    rows, level = result["rows"], result["settings"]["level"]
    write_text(output / "robustness.md", robustness_markdown(rows, result["settings"]))
    nominal = [r for r in rows if r["kind"] == "nominal"]
    noise = nominal + [r for r in rows if r["kind"] == "noise"]
    misaligned = nominal + [r for r in rows if r["kind"] == "misalignment"]
    tied = all(abs(r["rotation_mrad"] * 100 - r["shift_um"]) < 1e-9 for r in misaligned)
    return [
        plot_robustness_axis(
            noise, "noise_fraction", "noise hits / measurements", output / "robustness_noise.png",
            "noise hits (occupancy per channel-equivalent cell)",
        ),
        plot_robustness_axis(
            misaligned, "shift_um", "shift sigma [um]", output / "robustness_misalignment.png",
            f"misalignment, {level} level"
            + (" (rotation sigma [mrad] = shift sigma / 100 um)" if tied else ""),
        ),
    ]  # fmt: skip


def robustness_command(args: argparse.Namespace, compare_template: Callable[[], Any]) -> int:
    """``acts-gnn robustness``: the grid from ``args`` (:func:`acts_gnn.cli.parser.
    robustness_arguments`), the chain settings from ``compare_template()`` (a
    :class:`~acts_gnn.sequencer.compare.CompareConfig` of the chain options); prints the table.
    Returns the exit code (2: a misalignment point that is not UM:MRAD)."""
    misalignments = []
    for text in args.misalignments:
        shift, _, rot = text.partition(":")
        try:
            misalignments.append((float(shift), float(rot or 0.0)))
        except ValueError:
            print(f"--misalignments: {text!r} is not UM:MRAD")
            return 2
    template = compare_template()
    fields = ("graph", "backend", "device", "precision", "module_map", "model", "embedding",
              "filter", "builder", "edge_cut")  # fmt: skip
    config = RobustnessConfig(
        input=Path(args.input),
        output=Path(args.output),
        events=args.events,
        noise_rates=tuple(args.noise_rates),
        misalignments=tuple(misalignments),
        level=args.misalign_level,
        seed=args.seed,
        ckf_preset=args.ckf_preset,
        keep_simulation=args.keep_simulation,
        compare={name: getattr(template, name) for name in fields if hasattr(template, name)},
    )
    result = run_robustness(config, progress=not args.quiet)
    print((Path(args.output) / "robustness.md").read_text())
    print("plots: " + ", ".join(result["plots"]))
    return 0


__all__ = [
    "DEFAULT_MISALIGNMENTS",
    "DEFAULT_NOISE_RATES",
    "RobustnessConfig",
    "point_row",
    "robustness_command",
    "robustness_markdown",
    "run_robustness",
    "write_report",
]

"""The report of :func:`acts_gnn.sequencer.compare.run_comparison`: ``summary.json``,
``summary.md``, the headline table (terminal and Markdown) and the plots.

Every number comes from the summary dictionary; nothing here runs ACTS. Each chain's entry
holds its primary selection's numbers at the top level and every selection's (pT > 1 GeV and
pT > 0.5 GeV by default) under ``selections``; the table shows the efficiency of each.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from acts_gnn.evaluation.plots_compare import plot_comparison
from acts_gnn.io.atomic import write_json, write_text


def input_notes(summary: dict[str, Any]) -> list[str]:
    """Sentences about the input the headline numbers depend on: events with zero
    measurements (left out of per-event averages) and hits on modules the map lacks."""
    notes = []
    empty = int(summary.get("empty_events", 0))
    if empty:
        notes.append(
            f"{empty} of {summary['events']} events have zero measurements: the per-event "
            "averages (TrackML score, measurements per event) leave them out; efficiencies, "
            "ratios (sums) and times per event (ACTS's timing) count all events."
        )
    unknown = int(summary.get("hits_on_unknown_modules", 0))
    if unknown:
        total = max(int(summary.get("gnn", {}).get("measurements", 0)), 1)
        notes.append(
            f"{unknown} space points ({unknown / total:.2%}) lie on modules the module map "
            "has never seen: they get no edges, so the GNN chain cannot find them."
        )
    return notes


# -- report ----------------------------------------------------------------------------------

#: How the report names each graph construction.
GRAPH_TITLES = {"module-map": "module map", "metric-learning": "metric learning + filter"}


def chain_titles(summary: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(summary key, title) of the chains: the GNN's names its graph construction (and its
    track cleaning, if any), its operating point other than ``default`` (and, when the run
    had several, its edge cut: one chain per cut), each CKF chain its preset."""
    config = summary.get("config", {})
    graph = config.get("graph", "module-map")
    point = config.get("operating_point", "default")
    cleaned = " + cleaning" if summary.get("gnn", {}).get("gnn_cleaning") else ""
    gnn = f"GNN ({GRAPH_TITLES.get(graph, graph)} + GNN{cleaned} + KF)"
    if point != "default":
        from acts_gnn.chain.defaults import OPERATING_POINTS

        known = OPERATING_POINTS.get(point)
        first = None if known is None or graph != "module-map" else known.first_pass
        gnn += f", {point}" + (f" ({first} first)" if first else "")
    cuts = ["gnn", *(k for k in summary if k.startswith("gnn_cut"))]
    titles = [
        (k, gnn if len(cuts) == 1 else f"{gnn}, edge cut {summary[k].get('gnn_edge_cut', 0):g}")
        for k in cuts
    ]
    ckf = [k for k in summary if k == "ckf" or k.startswith("ckf_")]
    titles += [(k, f"ACTS seeding + CKF ({summary[k].get('ckf_preset', 'fast')})") for k in ckf]
    if "gnn_seeded" in summary:  # compare --gnn-seeded
        titles.append(("gnn_seeded", "GNN triplet seeds + CKF"))
    return tuple(titles)


def write_report(summary: dict[str, Any], output: str | Path) -> list[Path]:
    """``summary.json``, ``summary.md`` and the comparison plots in ``output``."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / "summary.json", output / "summary.md"]
    write_json(paths[0], summary)
    write_text(paths[1], summary_markdown(summary))
    paths += plot_comparison(summary, output, chain_titles(summary))
    if "vertexing" in summary:  # compare --vertexing: its table in summary.md, its plots
        from acts_gnn.sequencer.vertexing_compare import write_vertexing_report

        paths += write_vertexing_report(summary["vertexing"], output, paths[1])
    return paths


def headline_table(summary: dict[str, Any]) -> str:
    """The headline numbers as a Markdown table."""
    keys = selection_keys(summary)
    rows = [
        "| chain | "
        + " | ".join(f"efficiency {selection_title(summary, k)}".strip() for k in keys)
        + " | fake ratio | duplicate ratio | TrackML score | time/event [s] |",
        "|---|" + "---|" * (len(keys) + 4),
    ]
    for key, title in (*chain_titles(summary), ("gnn_prefit", "GNN proto-tracks before the fit")):
        c = summary[key]
        t = c["time_per_event"].get("total", math.nan)
        efficiencies = [c.get("selections", {}).get(k, c)["efficiency"] for k in keys]
        rows.append(
            f"| {title} | "
            + " | ".join(f"{e:.4f}" for e in efficiencies)
            + f" | {c['fake_ratio']:.4f} | {c['duplicate_ratio']:.4f} | "
            f"{c['trackml_score']:.4f} | " + ("" if math.isnan(t) else f"{t:.3f}") + " |"
        )
    return "\n".join(rows)


def selection_keys(summary: dict[str, Any]) -> list[str]:
    """The particle selections of the run (summary keys, the primary first); ``[""]`` for a
    summary without ``selections`` (its top-level numbers only)."""
    return list(summary.get("gnn", {}).get("selections", {})) or [""]


def selection_title(summary: dict[str, Any], key: str) -> str:
    """``(pT > 1 GeV)`` for a selection key; empty for the top-level numbers."""
    if not key:
        return ""
    sel = summary["gnn"]["selections"][key]["selection"]
    return f"(pT > {sel['min_pt_GeV']:g} GeV)"


def track_selection_lines(summary: dict[str, Any]) -> list[str]:
    """The report's sentence on both chains' track selection (none for a summary from before
    ``track_selection`` was recorded)."""
    cut = summary.get("track_selection")
    if cut is None:
        return []
    moved = summary.get("config", {}).get("track_min_pt") is not None
    return [
        f"Tracks of both chains: reconstructed pT > {cut['min_pt_GeV']:g} GeV"
        + (" (set for the run, the CKF seeding's cut too)" if moved else "")
        + f", >= {cut['min_measurements']} measurements."
    ]


def summary_markdown(summary: dict[str, Any]) -> str:
    sel = summary["selection"]
    lines = [
        "# GNN tracking vs ACTS seeding + CKF",
        "",
        f"{summary['events']} events from `{summary['input']}`, "
        f"{summary['measurements_per_event']:.0f} measurements per event; "
        f"machine: {summary['machine']}.",
        "Particles: "
        + " and ".join(
            f"pT > {s['min_pt_GeV']:g} GeV"
            for s in [
                summary["gnn"].get("selections", {}).get(k, {}).get("selection", sel)
                for k in selection_keys(summary)
            ]
        )
        + (" (side by side)" if len(selection_keys(summary)) > 1 else "")
        + f", |eta| < {sel['max_abs_eta']}, "
        f">= {sel['min_measurements']} measurements; ACTS TrackTruthMatcher (double matching, "
        "50 %) + PythonPatternRecognitionPerformanceWriter, one per selection.",
        *track_selection_lines(summary),
        "",
        headline_table(summary),
        "",
        *(f"Note: {note}\n" for note in input_notes(summary)),
        "## Time per event by stage [s]",
        "",
    ]
    for key, title in chain_titles(summary):
        lines.append(
            f"**{title}**: "
            + ", ".join(
                f"{stage} {seconds:.3f}"
                for stage, seconds in summary[key]["time_per_event"].items()
            )
        )
        lines.append("")
    sub = summary["gnn"].get("gnn_substages", {})
    if sub:
        lines.append(
            "GNN track finding, by stage (mean per event): "
            + ", ".join(f"{k} {v['mean']:.3f}" for k, v in sub.items())
        )
        lines.append("")
    cleaning = summary["gnn"].get("gnn_cleaning")
    if cleaning:
        lines.append(
            f"GNN track cleaning (tolerances {cleaning['tolTransverse']:g} mm transverse, "
            f"{cleaning['tolLongitudinal']:g} mm longitudinal, at most "
            f"{cleaning['maxRemoved']} hits, >= {cleaning['minKept']} kept): per event "
            f"{cleaning['hits_removed_per_event']:.1f} hits removed from "
            f"{cleaning['cleaned_per_event']:.1f} of {cleaning['candidates_per_event']:.1f} "
            f"candidates in {cleaning['seconds_per_event']:.3f} s."
        )
        lines.append("")
    candidates = summary["gnn"].get("gnn_candidates")
    if candidates:
        reasons = "; ".join(f"{k}: {v}" for k, v in candidates["skipped_by_reason"].items())
        lost_by = candidates.get("lost_by_reason", candidates["skipped_by_reason"])
        lost = "; ".join(f"{k}: {v}" for k, v in lost_by.items())
        lines.append(
            f"GNN candidates: {candidates['candidates']}, with start parameters (to the "
            f"Kalman fit) {candidates['with_parameters']}, skipped by ProtoTracksToParameters "
            f"{candidates['skipped']} (at most {candidates['skipped_per_event_max']} in one "
            "event)" + (f": {reasons}" if reasons else "") + "; fitted after the fallback "
            f"estimate: {candidates.get('recovered_by_fallback', 0)}; lost: "
            f"{candidates.get('lost', candidates['skipped'])}" + (f" ({lost})." if lost else ".")
        )
        lines.append("")
    lines += resolution_lines(summary)
    lines.append("## Independent count (acts_gnn.metrics)")
    lines.append("")
    lines.append(
        "Counted as ACTS counts: every track, fakes and duplicates of every particle (selected "
        "or not), matched when >= 50 % of the track's hits and >= 50 % of the particle's hits "
        "are the majority particle's; efficiency over the selected particles."
    )
    lines.append("")
    for key, title in chain_titles(summary):
        for sel_key in selection_keys(summary):
            entry = summary[key].get("selections", {}).get(sel_key, summary[key])
            ic = entry["independent_count"]
            lines.append(
                f"- {title} {selection_title(summary, sel_key)}: efficiency "
                f"{ic['efficiency']:.4f} (ACTS {entry['efficiency']:.4f}), fake ratio "
                f"{ic['fake_ratio']:.4f} (ACTS {entry['fake_ratio']:.4f}), duplicate ratio "
                f"{ic['duplicate_ratio']:.4f} (ACTS {entry['duplicate_ratio']:.4f})"
            )
    return "\n".join(lines) + "\n"


def resolution_lines(summary: dict[str, Any]) -> list[str]:
    """The Markdown section on the fitted parameters: per chain, the 68 % width of the
    residual (and the RMS) and of the pull of d0, z0, phi, theta and q/p; empty without
    resolutions."""
    chains = [(k, t) for k, t in chain_titles(summary) if summary[k].get("resolutions")]
    if not chains:
        return []
    names = ("d0", "z0", "phi", "theta", "qop")
    first = summary[chains[0][0]]["resolutions"]
    lines = [
        "## Track parameter resolutions",
        "",
        f"Fitted tracks matched to a particle (ACTS's rule), truth pT > "
        f"{first['min_pt_GeV']:g} GeV, against the particle's perigee (helix from its "
        "production vertex in the 2 T field, beam line through the track's reference point). "
        "Width: half the 68 % quantile range (RMS in brackets); pull = residual / the fit's "
        "sigma.",
        "",
        "| chain | tracks | "
        + " | ".join(f"{n} [{first[n]['unit']}] | {n} pull" for n in names)
        + " |",
        "|---|---|" + "---|---|" * len(names),
    ]
    for key, title in chains:
        r = summary[key]["resolutions"]
        cells = [
            f"{r[n]['width68']:.3g} ({r[n]['rms']:.3g}) | {r[n]['pull_width68']:.2f}" for n in names
        ]
        lines.append(f"| {title} | {r['tracks']} | " + " | ".join(cells) + " |")
    return [*lines, ""]

"""The plots of the GNN-vs-CKF comparison (:mod:`acts_gnn.sequencer.compare`): every chain of
a summary overlaid in each figure (the GNN chain at each score cut, the CKF at each preset).

From ACTS's writer: efficiency vs pT and eta, fake and duplicate ratio vs eta (fitted track
parameters). From our count (``distributions``): efficiency vs pT from 0.1 GeV with no pT cut
(the turn-on), vs eta, phi and production radius; fake and duplicate ratio vs the majority
particle's pT and eta. From the fitted tracks matched to a particle: the 68 % width of the
residual and of the pull of d0, z0, phi, theta and q/p vs |eta| and pT. Then time per stage
and efficiency vs CPU time per event. The style is
that of :mod:`acts_gnn.evaluation.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn.evaluation.plots import new_figure, pyplot, save_figure


def accepted_ratio(h: dict[str, list[float]]) -> tuple[Any, Any, Any]:
    """(bin centres, accepted / total, binomial error) of a ``{"edges", "accepted", "total"}``
    histogram; NaN where a bin is empty."""
    edges = np.asarray(h["edges"])
    acc, tot = np.asarray(h["accepted"]), np.asarray(h["total"])
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(tot > 0, acc / tot, np.nan)
        error = np.where(tot > 0, np.sqrt(np.clip(value * (1 - value), 0, None) / tot), np.nan)
    return 0.5 * (edges[1:] + edges[:-1]), value, error


#: legend titles longer than this (characters) are set smaller, to stay inside the axes
LONG_TITLE = 60

#: (summary histogram key, file name, y label, x label, log x, lowest x shown)
_ACTS_SPECS = (
    ("efficiency_vs_pt", "efficiency_vs_pt", "efficiency", r"$p_T$ [GeV]", True, None),
    ("efficiency_vs_eta", "efficiency_vs_eta", "efficiency", r"$\eta$", False, None),
    ("fake_ratio_vs_eta", "fake_ratio_vs_eta", "fake ratio", r"$\eta$", False, None),
    ("duplicate_ratio_vs_eta", "duplicate_ratio_vs_eta", "duplicate ratio", r"$\eta$", False, None),
)
_OUR_SPECS = (
    (
        "efficiency_vs_pt",
        "turn_on_efficiency_vs_pt",
        "efficiency (no pT cut)",
        r"$p_T$ [GeV]",
        True,
        0.1,
    ),
    ("efficiency_vs_eta", "count_efficiency_vs_eta", "efficiency", r"$\eta$", False, None),
    ("efficiency_vs_phi", "count_efficiency_vs_phi", "efficiency", r"$\phi$ [rad]", False, None),
    (
        "efficiency_vs_vr",
        "count_efficiency_vs_vr",
        "efficiency",
        "production radius [mm]",
        True,
        0.1,
    ),
    (
        "fake_ratio_vs_eta",
        "count_fake_ratio_vs_eta",
        "fake ratio",
        r"$\eta$ (particle)",
        False,
        None,
    ),
    (
        "fake_ratio_vs_pt",
        "count_fake_ratio_vs_pt",
        "fake ratio",
        r"$p_T$ (particle) [GeV]",
        True,
        0.1,
    ),
    (
        "duplicate_ratio_vs_eta",
        "count_duplicate_ratio_vs_eta",
        "duplicate ratio",
        r"$\eta$ (particle)",
        False,
        None,
    ),
    (
        "duplicate_ratio_vs_pt",
        "count_duplicate_ratio_vs_pt",
        "duplicate ratio",
        r"$p_T$ (particle) [GeV]",
        True,
        0.1,
    ),
)


def _ratio_plots(
    summary: dict[str, Any],
    output: Path,
    chains: Sequence[tuple[str, str]],
    source: str,
    specs: Sequence[tuple[str, str, str, str, bool, float | None]],
    note: str,
) -> list[Path]:
    paths = []
    for key, name, ylabel, xlabel, logx, lowest in specs:
        fig, ax = new_figure(figsize=(7, 5))
        drawn = 0
        for chain, title in chains:
            h = summary[chain].get(source, {}).get(key)
            if h is None:
                continue
            x, y, e = accepted_ratio(h)
            keep = (
                np.ones(len(x), bool) if lowest is None else np.asarray(h["edges"][:-1]) >= lowest
            )
            ax.errorbar(x[keep], y[keep], yerr=e[keep], fmt="o", ms=4, label=title)
            drawn += 1
        if not drawn:
            pyplot().close(fig)
            continue
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if logx:
            ax.set_xscale("log")
        longest = max(len(title) for _, title in chains)
        ax.legend(loc="best", fontsize="small" if longest <= LONG_TITLE else "x-small")
        ax.set_title(f"{summary['events']} events; {note}", fontsize="small")
        paths.append(save_figure(fig, output / f"{name}.png", dpi=110, tight_bbox=True))
    return paths


#: How the resolution plots name the parameters (LaTeX, unit).
_PARAMETER_LABELS = {
    "d0": (r"$d_0$", "mm"),
    "z0": (r"$z_0$", "mm"),
    "phi": (r"$\phi$", "rad"),
    "theta": (r"$\theta$", "rad"),
    "qop": (r"$q/p$", "e/GeV"),
}


def _resolution_plots(
    summary: dict[str, Any], output: Path, chains: Sequence[tuple[str, str]]
) -> list[Path]:
    """Per parameter and variable (|eta|, pT): the 68 % width of the residual (top) and of
    the pull (bottom) of each chain's matched fitted tracks."""
    paths: list[Path] = []
    with_res = [(c, t) for c, t in chains if summary[c].get("resolutions", {}).get("tracks")]
    if not with_res:
        return paths
    for name, (symbol, unit) in _PARAMETER_LABELS.items():
        for variable, xlabel, logx in (
            ("vs_abs_eta", r"$|\eta|$", False),
            ("vs_pt", r"$p_T$ [GeV]", True),
        ):
            fig, (top, bottom) = new_figure(2, 1, figsize=(7, 7), sharex=True)
            for chain, title in with_res:
                res = summary[chain]["resolutions"]
                binned = res[name][variable]
                edges = np.asarray(binned["edges"])
                x = np.sqrt(edges[1:] * edges[:-1]) if logx else 0.5 * (edges[1:] + edges[:-1])
                top.plot(x, binned["width68"], "o-", ms=4, label=title)
                bottom.plot(x, binned["pull_width68"], "o-", ms=4, label=title)
            bottom.axhline(1.0, color="grey", lw=0.8, ls="--")
            top.set_ylabel(f"{symbol} resolution (68 %) [{unit}]")
            bottom.set_ylabel(f"{symbol} pull width (68 %)")
            bottom.set_xlabel(xlabel)
            if logx:
                bottom.set_xscale("log")
            top.legend(loc="best", fontsize="x-small")
            cut = with_res[0][0]
            note = (
                f"pT > {summary[cut]['resolutions']['min_pt_GeV']:g} GeV"
                if variable == "vs_abs_eta"
                else "no pT cut"
            )
            top.set_title(
                f"{summary['events']} events; matched fitted tracks, {note}", fontsize="small"
            )
            short = "eta" if variable == "vs_abs_eta" else "pt"
            paths.append(save_figure(fig, output / f"resolution_{name}_vs_{short}.png", dpi=100))
    return paths


def plot_comparison(
    summary: dict[str, Any], output: str | Path, chains: Sequence[tuple[str, str]]
) -> list[Path]:
    """The comparison's plots (module docstring) of a
    :func:`acts_gnn.sequencer.compare.run_comparison` summary; ``chains``: (summary key,
    legend title) of each chain (:func:`acts_gnn.sequencer.compare_report.chain_titles`).
    PNGs in the folder ``output``; returns their paths."""
    output = Path(output)
    sel = summary.get("selection", {})
    paths = _ratio_plots(
        summary,
        output,
        chains,
        "histograms",
        _ACTS_SPECS,
        f"ACTS writer, pT > {sel.get('min_pt_GeV', 1.0):g} GeV",
    )
    paths += _ratio_plots(
        summary,
        output,
        chains,
        "distributions",
        _OUR_SPECS,
        "our count; efficiency: the selection's |eta| and hit cuts",
    )
    paths += _resolution_plots(summary, output, chains)
    labels: list[str] = []
    fig, ax = new_figure(figsize=(7, 5))
    for chain, title in chains:
        stages = {s: v for s, v in summary[chain]["time_per_event"].items() if s != "total"}
        y = np.arange(len(labels), len(labels) + len(stages))
        ax.barh(y, list(stages.values()), label=title)
        labels += list(stages)
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("time per event [s]")
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(f"{summary['events']} events, one thread", fontsize="small")
    paths.append(save_figure(fig, output / "time_per_stage.png", dpi=110, tight_bbox=True))
    # efficiency against CPU time per event: one point per chain (CKF: per preset)
    fig, ax = new_figure(figsize=(7, 5))
    for chain, title in chains:
        total = summary[chain]["time_per_event"].get("total")
        if total is None:
            continue
        c = summary[chain]
        ax.plot(total, c["efficiency"], "o", ms=7, label=title)
        ax.annotate(
            f"fake {c['fake_ratio']:.4f}",
            (total, c["efficiency"]),
            textcoords="offset points",
            xytext=(6, -10),
            fontsize="x-small",
        )
    ax.set_xscale("log")
    ax.set_xlabel("CPU time per event [s], one thread")
    ax.set_ylabel("efficiency")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.set_title(f"{summary['events']} events", fontsize="small")
    paths.append(save_figure(fig, output / "efficiency_vs_time.png", dpi=110, tight_bbox=True))
    return paths


__all__ = ["accepted_ratio", "plot_comparison"]

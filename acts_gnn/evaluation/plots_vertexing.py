"""The plots of the vertexing comparison (:mod:`acts_gnn.sequencer.vertexing_compare`): every
vertex finder of a summary overlaid in each figure (the ML pair network, the ML vertices
scored by position association, ACTS's AMVF, and any other finder the summary holds).

They draw the summary's numbers only (``summary[finder]["distributions"]``, written by
:func:`~acts_gnn.sequencer.vertexing_compare.finder_summary`): vertex efficiency vs the number
of tracks of the truth vertex, vs its z and vs the local pile-up density; the merge, split and
fake rates of the reconstructed vertices vs their number of tracks; the hard-scatter z
residual (one entry per event where the hard scatter is identified); the time per event. The
style is that of :mod:`acts_gnn.evaluation.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.evaluation.plots import new_figure, save_figure

#: legend label of each finder key of a vertexing summary (others: the key itself)
FINDER_LABELS = {
    "ml": "ML pair network",
    "ml_position": "ML, position association",
    "amvf": "ACTS AMVF",
    "baseline": "z0-significance baseline",
}
#: (distribution key, file name, x label, log x)
_EFFICIENCY_SPECS = (
    ("efficiency_vs_n_tracks", "vertex_efficiency_vs_tracks", "tracks of the truth vertex", True),
    ("efficiency_vs_z", "vertex_efficiency_vs_z", "truth vertex z [mm]", False),
    (
        "efficiency_vs_density",
        "vertex_efficiency_vs_density",
        "local pile-up density [vertices / mm]",
        False,
    ),
)


def finders(summary: Mapping[str, Any]) -> list[str]:
    """The keys of ``summary`` that hold a finder's results (those with ``distributions``),
    the known ones first in :data:`FINDER_LABELS` order."""
    keys = [k for k, v in summary.items() if isinstance(v, Mapping) and "distributions" in v]
    known = [k for k in FINDER_LABELS if k in keys]
    return known + [k for k in keys if k not in FINDER_LABELS]


def _centres(edges: list[float]) -> npt.NDArray[np.float64]:
    e = np.asarray(edges, np.float64)
    return 0.5 * (e[1:] + e[:-1])


def _binomial(
    rate: list[float], n: list[float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(rate, binomial error) with NaN in empty bins."""
    r = np.asarray(rate, np.float64)
    nn = np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(nn > 0, r, np.nan)
        err = np.where(nn > 0, np.sqrt(np.clip(r * (1 - r), 0, None) / nn), np.nan)
    return r, err


def plot_vertex_efficiency(summary: Mapping[str, Any], output: str | Path) -> list[Path]:
    """``vertex_efficiency_vs_{tracks,z,density}.png`` in ``output``: the efficiency (and, dashed,
    the fraction merged into another truth vertex's match) of reconstructable truth vertices
    per bin, one line per finder."""
    output = Path(output)
    paths = []
    for key, name, xlabel, log_x in _EFFICIENCY_SPECS:
        fig, ax = new_figure(figsize=(7, 5))
        drawn = False
        for i, finder in enumerate(finders(summary)):
            h = summary[finder]["distributions"].get(key)
            if not h:
                continue
            x = _centres(h["edges"])
            eff, err = _binomial(h["efficiency"], h["n"])
            merged, _ = _binomial(h["merged"], h["n"])
            colour = f"C{i}"
            label = FINDER_LABELS.get(finder, finder)
            ax.errorbar(x, eff, yerr=err, marker="o", ms=4, color=colour, label=label)
            ax.plot(x, merged, ls="--", color=colour, label=f"{label}: merged")
            drawn = True
        if not drawn:
            pyplot_close(fig)
            continue
        if log_x:
            ax.set_xscale("log")
        ax.set_ylim(0, 1.15)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("vertex efficiency")
        ax.legend(fontsize=9, loc="lower right")
        paths.append(save_figure(fig, output / f"{name}.png"))
    return paths


def plot_vertex_rates(summary: Mapping[str, Any], output: str | Path) -> Path | None:
    """``vertex_rates_vs_tracks.png``: merge, split and fake rates of the reconstructed
    vertices vs their number of tracks, one panel per rate, one line per finder."""
    names = [f for f in finders(summary) if summary[f]["distributions"].get("rates_vs_n_tracks")]
    if not names:
        return None
    fig, axes = new_figure(1, 3, figsize=(15, 4.8))
    for i, finder in enumerate(names):
        h = summary[finder]["distributions"]["rates_vs_n_tracks"]
        x = _centres(h["edges"])
        for ax, rate in zip(axes, ("merge_rate", "split_rate", "fake_rate"), strict=True):
            r, err = _binomial(h[rate], h["n"])
            ax.errorbar(
                x,
                r,
                yerr=err,
                marker="o",
                ms=4,
                color=f"C{i}",
                label=FINDER_LABELS.get(finder, finder),
            )
    for ax, rate in zip(axes, ("merge rate", "split rate", "fake rate"), strict=True):
        ax.set_xscale("log")
        ax.set_ylim(0, None)
        ax.set_xlabel("tracks of the reconstructed vertex")
        ax.set_ylabel(rate)
    axes[0].legend(fontsize=9)
    return save_figure(fig, Path(output) / "vertex_rates_vs_tracks.png")


def plot_hard_scatter_residual(summary: Mapping[str, Any], output: str | Path) -> Path | None:
    """``hard_scatter_dz.png``: histogram of z(vertex 0) - z(truth hard scatter) [um] of every
    event where the hard scatter is identified, one step line per finder, with its 68 %
    half-width in the legend."""
    names = [f for f in finders(summary) if summary[f].get("hs_dz")]
    if not names:
        return None
    values = {f: 1e3 * np.asarray(summary[f]["hs_dz"], np.float64) for f in names}
    span = max(float(np.max(np.abs(v))) for v in values.values())
    span = max(5.0, float(np.ceil(span / 5.0) * 5.0))
    bins = np.linspace(-span, span, 21)
    fig, ax = new_figure(figsize=(7, 5))
    for i, f in enumerate(names):
        v = values[f]
        q68 = float(np.quantile(np.abs(v), 0.68))
        ax.hist(
            np.clip(v, -span, span),
            bins=bins,
            histtype="step",
            lw=2,
            ls=("-", "--", ":", "-.")[i % 4],
            color=f"C{i}",
            label=f"{FINDER_LABELS.get(f, f)}: 68 % {q68:.1f} um ({len(v)} ev.)",
        )
    ax.set_xlabel(r"hard scatter $z_\mathrm{reco} - z_\mathrm{truth}$ [$\mu$m]")
    ax.set_ylabel("events")
    ax.legend(fontsize=9)
    return save_figure(fig, Path(output) / "hard_scatter_dz.png")


def plot_vertex_time(summary: Mapping[str, Any], output: str | Path) -> Path | None:
    """``vertex_time.png``: seconds per event of each finder (``summary["seconds_per_event"]``,
    finder keys as in the summary; NaN entries left out), as bars with the value printed."""
    seconds = {
        k: float(v)
        for k, v in summary.get("seconds_per_event", {}).items()
        if v is not None and np.isfinite(v) and k in FINDER_LABELS
    }
    if not seconds:
        return None
    fig, ax = new_figure(figsize=(7, 4.5))
    names = list(seconds)
    ax.bar(
        range(len(names)), [seconds[k] for k in names], color=[f"C{i}" for i in range(len(names))]
    )
    for i, k in enumerate(names):
        ax.text(i, seconds[k], f"{seconds[k]:.3g} s", ha="center", va="bottom", fontsize=10)
    ax.set_xticks(range(len(names)), [FINDER_LABELS.get(k, k) for k in names], fontsize=10)
    ax.set_ylabel("seconds per event (one core)")
    ax.set_ylim(0, 1.2 * max(seconds.values()))
    return save_figure(fig, Path(output) / "vertex_time.png")


def pyplot_close(fig: Any) -> None:
    """Close a figure that is not saved."""
    from acts_gnn.evaluation.plots import pyplot

    pyplot().close(fig)


def plot_vertexing(summary: Mapping[str, Any], output: str | Path) -> list[Path]:
    """Every plot of the module docstring from one vertexing summary into ``output``;
    returns the files written (a plot without data is left out)."""
    paths = plot_vertex_efficiency(summary, output)
    for p in (
        plot_vertex_rates(summary, output),
        plot_hard_scatter_residual(summary, output),
        plot_vertex_time(summary, output),
    ):
        if p is not None:
            paths.append(p)
    return paths

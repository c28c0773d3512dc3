"""Plots of ``acts-gnn robustness`` (:mod:`acts_gnn.evaluation.robustness`): the GNN chain's
edge efficiency and both chains' track efficiency and fake ratio against the noise rate and
against the misalignment size, in the package style (:mod:`acts_gnn.evaluation.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from acts_gnn.evaluation.plots import new_figure, save_figure

#: (row key, label) of the curves on each panel; chain keys as in the robustness rows
PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "edge efficiency",
        (
            ("gnn.graph_edge_efficiency", "graph construction"),
            ("gnn.edge_efficiency", "after the GNN"),
        ),
    ),
    ("track efficiency", (("gnn.efficiency", "GNN chain"), ("ckf.efficiency", "seeding + CKF"))),
    ("fake ratio", (("gnn.fake_ratio", "GNN chain"), ("ckf.fake_ratio", "seeding + CKF"))),
)


def _value(row: Mapping[str, Any], key: str) -> float:
    chain, name = key.split(".")
    value = row.get(chain, {}).get(name)
    return float("nan") if value is None else float(value)


def plot_robustness_axis(
    rows: Sequence[Mapping[str, Any]], x_key: str, x_label: str, output: str | Path, title: str
) -> Path:
    """Three panels (edge efficiency, track efficiency, fake ratio) of ``rows`` (one per grid
    point, in order; each with ``x_key`` and the ``gnn`` / ``ckf`` numbers) against
    ``row[x_key]``; written to ``output``."""
    fig, axes = new_figure(1, 3, figsize=(15, 4.6))
    x = [float(r[x_key]) for r in rows]
    for ax, (ylabel, curves) in zip(axes, PANELS):
        for key, label in curves:
            ax.plot(x, [_value(r, key) for r in rows], marker="o", label=label)
        ax.set_xlabel(x_label)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=10)
    axes[0].set_title(title, fontsize=11, loc="left")
    return save_figure(fig, output)


__all__ = ["PANELS", "plot_robustness_axis"]

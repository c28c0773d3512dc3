"""Plots (matplotlib + mplhep) and text summaries of what the project makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from acts_gnn.io.root_reader import SimulationFiles


def generated_distributions(files: SimulationFiles) -> dict[str, npt.NDArray]:
    """Primary-particle pT [GeV], eta, charged multiplicity per vertex and per event."""
    pts, etas, per_vertex, per_event = [], [], [], []
    for event_id in files.event_ids:
        p = files.particles(event_id)
        primary = (p["generation"] == 0) & (p["vertex_secondary"] == 0) & (p["q"] != 0)
        px, py, pz = (np.asarray(p[c], np.float64)[primary] for c in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        pts.append(pt)
        etas.append(np.arcsinh(pz / np.where(pt > 0, pt, 1e-12)))
        per_vertex.append(np.bincount(p["vertex_primary"][primary])[1:])
        per_event.append(int(primary.sum()))
    return {
        "pt": np.concatenate(pts) if pts else np.zeros(0),
        "eta": np.concatenate(etas) if etas else np.zeros(0),
        "multiplicity_per_vertex": np.concatenate(per_vertex) if per_vertex else np.zeros(0),
        "particles_per_event": np.array(per_event),
    }


def plot_generated_distributions(files: SimulationFiles, output: str | Path) -> Path:
    """Write a 3-panel figure (pT, eta, multiplicity per vertex) of the generated primaries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    d = generated_distributions(files)
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    axes[0].hist(d["pt"], bins=np.geomspace(0.1, 100, 61), histtype="step", lw=2)
    axes[0].set(xscale="log", yscale="log", xlabel=r"$p_\mathrm{T}$ [GeV]", ylabel="particles")
    frac = float(np.mean(d["pt"] < 1.0)) if len(d["pt"]) else float("nan")
    axes[0].text(0.55, 0.85, f"below 1 GeV: {frac:.1%}", transform=axes[0].transAxes)
    axes[1].hist(d["eta"], bins=np.linspace(-4.5, 4.5, 46), histtype="step", lw=2)
    axes[1].set(xlabel=r"$\eta$", ylabel="particles")
    n_events = max(len(d["particles_per_event"]), 1)
    axes[1].text(
        0.05, 0.9, f"{len(d['eta']) / n_events:.0f} per event", transform=axes[1].transAxes
    )
    axes[2].hist(d["multiplicity_per_vertex"], bins=40, histtype="step", lw=2)
    axes[2].set(xlabel="charged particles per vertex", ylabel="vertices")
    fig.suptitle(f"generated primaries, {n_events} events ({files.particles_file.parent})")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(output, dpi=90)
    plt.close(fig)
    return output


def plot_edge_efficiency(metrics: object, output: str | Path, title: str) -> Path:
    """Edge efficiency vs truth-particle pT and eta (two panels) from an EdgeMetrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, (variable, bins, label) in zip(
        axes,
        (
            ("pt", np.geomspace(1.0, 100.0, 15), r"particle $p_\mathrm{T}$ [GeV]"),
            ("eta", np.linspace(-4.0, 4.0, 33), r"particle $\eta$"),
        ),
    ):
        edges, eff, err = metrics.binned(variable, bins)  # type: ignore[attr-defined]
        centers = 0.5 * (edges[1:] + edges[:-1])
        ax.errorbar(centers, eff, yerr=err, xerr=0.5 * np.diff(edges), fmt="o", ms=4)
        ax.set(
            xlabel=label,
            ylabel="edge efficiency",
            ylim=(min(0.9, np.nanmin(eff) - 0.01) if np.isfinite(eff).any() else 0.9, 1.005),
        )
        if variable == "pt":
            ax.set_xscale("log")
        ax.axhline(0.99, ls="--", color="grey", lw=1)
    fig.suptitle(title)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(output, dpi=90)
    plt.close(fig)
    return output

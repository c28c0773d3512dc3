"""Every figure the package makes (matplotlib + mplhep), in one style.

The style is set up once, here: the non-interactive Agg backend and mplhep's ATLAS style
(:func:`pyplot`); figures are made with :func:`new_figure` and written with
:func:`save_figure` (parents created, written atomically, figure closed). The plot functions
take the numbers their modules compute and only draw them: generated particles
(``acts-gnn simulate``), graph-construction edge efficiency
(:class:`~acts_gnn.metrics.edges.EdgeMetrics`), the GNN evaluation
(:mod:`acts_gnn.evaluation.gnn`), the geometry report (:mod:`acts_gnn.evaluation.geometry`),
track metrics (:class:`~acts_gnn.metrics.tracks.TrackMetrics`) and the GNN / CKF comparison
(:mod:`acts_gnn.sequencer.compare`). matplotlib is imported on the first plot only.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from acts_gnn.evaluation.geometry_maps import Connectivity, barrel_volumes, layer_label
from acts_gnn.io.atomic import atomic_path
from acts_gnn.metrics.edges import EdgeMetrics, FloatArray, format_fraction
from acts_gnn.metrics.tracks import TrackMetrics, ratio_with_errors

if TYPE_CHECKING:
    pass

#: resolution of the PNGs [dots per inch] unless a plot asks for another
DPI = 90


# -- style, figures, saving -------------------------------------------------------------------


@functools.cache
def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend and the mplhep ATLAS style (set up once)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def new_figure(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """(figure, axes) in the package's style: ``plt.subplots(*args, **kwargs)``."""
    return pyplot().subplots(*args, **kwargs)


def save_figure(fig: Any, path: str | Path, *, dpi: int = DPI, tight_bbox: bool = False) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix, parents created, atomically) and
    close it. The layout is tightened with ``fig.tight_layout()``, or with ``tight_bbox`` by
    cropping the saved image to its content instead (``bbox_inches="tight"``)."""
    path = Path(path)
    if not tight_bbox:
        fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(
            partial,
            format=path.suffix.lstrip(".") or "png",
            dpi=dpi,
            bbox_inches="tight" if tight_bbox else None,
        )
    pyplot().close(fig)
    return path


class ScoredEdgeEvaluation(Protocol):
    """What :func:`plot_evaluation` reads of an :class:`acts_gnn.evaluation.gnn.GnnEvaluation`:
    the JSON summary, the per-edge arrays and the ROC curve (fpr, tpr, threshold)."""

    summary: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    roc: tuple[FloatArray, FloatArray, FloatArray]


# -- simulation and graph construction ---------------------------------------------------------


#: Species panel of :func:`plot_generated_distributions`: label -> |PDG id|s.
SPECIES: dict[str, tuple[int, ...]] = {
    r"$\pi^\pm$": (211,),
    r"$K^\pm$": (321,),
    r"$p$": (2212,),
    r"$e^\pm$": (11,),
    r"$\mu^\pm$": (13,),
    r"$\Sigma,\Xi,\Omega$": (3112, 3222, 3312, 3334),
    r"$\gamma$": (22,),
    "neutral hadrons": (130, 310, 2112, 3122, 3212, 3322),
}

#: A generated sample: simulated files, or generator particle tables (columns ``pdg``, ``q``,
#: ``px``, ``py``, ``pz`` [GeV], ``vx``, ``vy`` [mm], ``vertex_primary``, ``vertex_secondary``).
GeneratedSample = Any  # SimulationFiles | Sequence[Mapping[str, npt.NDArray]]


def _sample_tables(sample: GeneratedSample) -> list[Mapping[str, npt.NDArray]]:
    if isinstance(sample, (list, tuple)):
        return list(sample)
    files = sample
    tables: list[Mapping[str, npt.NDArray]] = []
    for event_id in files.event_ids:
        p = dict(files.particles(event_id))
        p["pdg"] = p["particle_type"]
        tables.append(p)
    return tables


def generated_distributions(sample: GeneratedSample) -> dict[str, npt.NDArray]:
    """What the generator handed to Fatras (``generation == 0``), per event: charged pT [GeV]
    and eta of the particles from the primary vertices; charged multiplicity per interaction;
    |PDG id| of every generated particle; production radius [mm] of the particles from
    displaced decay vertices and (simulated files only) of Fatras's secondaries."""
    keys = ("pt", "eta", "multiplicity_per_vertex", "species", "r_decay", "r_fatras")
    out: dict[str, list[npt.NDArray]] = {k: [] for k in keys}
    per_event, interactions = [], []
    for p in _sample_tables(sample):
        generation = np.asarray(p.get("generation", np.zeros(len(p["pdg"]))))
        generated = generation == 0
        secondary = np.asarray(p["vertex_secondary"]) > 0
        charged = generated & ~secondary & (np.asarray(p["q"]) != 0)
        px, py, pz = (np.asarray(p[c], np.float64)[charged] for c in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        out["pt"].append(pt)
        out["eta"].append(np.arcsinh(pz / np.where(pt > 0, pt, 1e-12)))
        counts = np.bincount(np.asarray(p["vertex_primary"], np.int64)[charged])[1:]
        out["multiplicity_per_vertex"].append(counts)
        out["species"].append(np.abs(np.asarray(p["pdg"], np.int64)[generated]))
        r = np.hypot(np.asarray(p["vx"], np.float64), np.asarray(p["vy"], np.float64))
        out["r_decay"].append(r[generated & secondary])
        out["r_fatras"].append(r[~generated])
        per_event.append(int(charged.sum()))
        interactions.append(len(np.unique(np.asarray(p["vertex_primary"])[generated])))
    result = {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    result["particles_per_event"] = np.array(per_event)
    result["interactions_per_event"] = np.array(interactions)
    return result


def plot_generated_distributions(
    files: GeneratedSample,
    output: str | Path,
    reference: GeneratedSample | None = None,
    labels: tuple[str, str] = ("this sample", "other generator"),
) -> Path:
    """Six panels comparing ``files`` with ``reference`` (the other generator, if given):
    charged dN/deta per interaction, charged pT spectrum per interaction, charged
    multiplicity per interaction, species fractions, production radius of the particles from
    displaced decays (and of Fatras's secondaries), and the numbers per event."""
    samples = [(labels[0], generated_distributions(files))]
    if reference is not None:
        samples.append((labels[1], generated_distributions(reference)))
    fig, axes = new_figure(2, 3, figsize=(19, 10.5))
    ax = axes.ravel()
    eta_bins = np.linspace(-4.5, 4.5, 37)
    pt_bins = np.geomspace(0.1, 100, 51)
    r_bins = np.linspace(0, 200, 51)
    lines = []
    for k, (label, d) in enumerate(samples):
        colour = f"C{k}"
        n_int = max(int(d["interactions_per_event"].sum()), 1)
        h, _ = np.histogram(d["eta"], eta_bins)
        ax[0].stairs(h / n_int / np.diff(eta_bins), eta_bins, label=label, lw=2, color=colour)
        h, _ = np.histogram(d["pt"], pt_bins)
        ax[1].stairs(h / n_int / np.diff(pt_bins), pt_bins, label=label, lw=2, color=colour)
        mult = d["multiplicity_per_vertex"]
        top = max(int(np.percentile(mult, 99.5)) if len(mult) else 1, 10)
        ax[2].hist(
            mult,
            bins=np.linspace(0, top, 41),
            histtype="step",
            lw=2,
            density=True,
            label=label,
            color=colour,
        )
        fractions = [
            np.isin(d["species"], ids).mean() if len(d["species"]) else 0.0
            for ids in SPECIES.values()
        ]
        x = np.arange(len(SPECIES)) + (k - 0.5 * (len(samples) - 1)) * 0.38
        ax[3].bar(x, fractions, width=0.38, label=label, color=colour)
        ax[4].hist(
            d["r_decay"],
            bins=r_bins,
            histtype="step",
            lw=2,
            color=colour,
            label=f"{label}: decay vertices ({len(d['r_decay'])})",
        )
        if len(d["r_fatras"]):
            ax[4].hist(
                d["r_fatras"],
                bins=r_bins,
                histtype="step",
                lw=1.5,
                ls="--",
                color=colour,
                label=f"{label}: Fatras secondaries",
            )
        n_events = max(len(d["particles_per_event"]), 1)
        central = np.abs(d["eta"]) < 0.5
        lines += [
            f"{label}:",
            f"  {n_events} events, {n_int / n_events:.1f} interactions per event",
            f"  charged per event: {d['particles_per_event'].mean():.0f}",
            f"  dN/deta (|eta|<0.5) per interaction: {central.sum() / n_int:.2f}",
            f"  mean pT (charged): {d['pt'].mean() if len(d['pt']) else float('nan'):.3f} GeV",
            f"  pT < 1 GeV: {np.mean(d['pt'] < 1.0) if len(d['pt']) else float('nan'):.1%}",
            f"  from decay vertices: {len(d['r_decay']) / n_events:.0f} per event",
        ]
    ax[0].set(xlabel=r"$\eta$", ylabel=r"charged $dN/d\eta$ per interaction")
    ax[1].set(
        xscale="log",
        yscale="log",
        xlabel=r"$p_\mathrm{T}$ [GeV]",
        ylabel=r"charged $dN/dp_\mathrm{T}$ per interaction [1/GeV]",
    )
    ax[2].set(xlabel="charged particles per interaction", ylabel="interactions (normalised)")
    ax[3].set_xticks(np.arange(len(SPECIES)), list(SPECIES), rotation=30)
    ax[3].set(ylabel="fraction of generated particles", yscale="log", ylim=(1e-4, 1))
    ax[4].set(xlabel="production radius [mm]", ylabel="particles", yscale="log")
    ax[5].axis("off")
    ax[5].text(
        0.0,
        1.0,
        "\n".join(lines),
        va="top",
        fontsize=12,
        transform=ax[5].transAxes,
    )
    for a in ax[:5]:
        a.legend(fontsize=11)
    fig.suptitle("generated particles (generator level, after the generator-level selection)")
    return save_figure(fig, output)


def plot_edge_efficiency(metrics: EdgeMetrics, output: str | Path, title: str) -> Path:
    """Edge efficiency vs truth-particle pT and eta (two panels) from an EdgeMetrics."""
    fig, axes = new_figure(1, 2, figsize=(13, 5.5))
    for ax, (variable, bins, label) in zip(
        axes,
        (
            ("pt", np.geomspace(1.0, 100.0, 15), r"particle $p_\mathrm{T}$ [GeV]"),
            ("eta", np.linspace(-4.0, 4.0, 33), r"particle $\eta$"),
        ),
    ):
        edges, eff, err = metrics.binned(variable, bins)
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
    return save_figure(fig, output)


# -- GNN evaluation (acts-gnn evaluate-gnn) ----------------------------------------------------


def _binned_plot(
    ax: Any, data: dict[str, Any], label: str, fmt: str = "o", color: str | None = None
) -> None:
    b = np.asarray(data["bins"])
    y = np.array([np.nan if v is None else v for v in data["ratio"]], float)
    e = np.array([np.nan if v is None else v for v in data["error"]], float)
    centers = np.sqrt(b[1:] * b[:-1]) if b[0] > 0 else 0.5 * (b[1:] + b[:-1])
    xerr = np.abs(np.stack([centers - b[:-1], b[1:] - centers]))
    ax.errorbar(centers, y, yerr=e, xerr=xerr, fmt=fmt, ms=4, label=label, color=color)


def plot_evaluation(evaluation: ScoredEdgeEvaluation, output: str | Path, title: str) -> list[Path]:
    """Write the PNGs of ``evaluation`` to the folder ``output``: roc.png, score_cut.png,
    scores.png, efficiency_vs_pt.png, efficiency_vs_eta.png, purity_vs_eta.png."""
    out = Path(output)
    s = evaluation.summary
    cut = s["cut"]["cut"]
    best = s["best_cut"]["cut"]
    paths = []

    fpr, tpr, _ = evaluation.roc
    step = max(1, len(fpr) // 5000)
    m = s["cut"]
    n_fake = max(int((~evaluation.arrays["edge_true"]).sum()), 1)
    cut_x = (m["kept_edges"] - m["kept_true"]) / n_fake
    fig, axes = new_figure(1, 2, figsize=(13, 5.5))
    for ax, log in zip(axes, (False, True)):
        keep = fpr > 0 if log else np.ones(len(fpr), bool)
        ax.plot(
            fpr[keep][::step], tpr[keep][::step], lw=2, label=f"AUC = {format_fraction(s['auc'])}"
        )
        if m["efficiency"] is not None and (cut_x > 0 or not log):
            ax.plot([cut_x], [m["efficiency"]], "o", label=f"cut {cut:g}")
        ax.set(
            xlabel="fake edges kept (false-positive rate)",
            ylabel="target-edge efficiency",
            ylim=(0, 1.05),
        )
        if log:
            ax.set_xscale("log")
            ax.set_xlim(min(max(0.5 / n_fake, 1e-6), 0.1), 1.0)
        else:
            ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
            ax.set_xlim(0, 1)
        ax.legend(loc="lower right")
    fig.suptitle(f"{title}: ROC, target vs fake edges")
    paths.append(save_figure(fig, out / "roc.png"))

    fig, ax = new_figure(figsize=(8, 6))
    scan = s["scan"]
    cuts = np.asarray(scan["cut"], float)

    def col(key: str) -> FloatArray:
        return np.array([np.nan if v is None else v for v in scan[key]], float)

    ax.plot(cuts, col("efficiency"), lw=2, label="efficiency (in graph)")
    ax.plot(cuts, col("total_efficiency"), lw=2, ls="--", label="efficiency (total)")
    ax.plot(cuts, col("purity"), lw=2, label="purity")
    ax.plot(cuts, col("target_purity"), lw=2, ls=":", label="target purity")
    ax.axvline(cut, color="grey", lw=1, ls="--", label=f"cut {cut:g}")
    if best is not None:
        ax.axvline(
            best, color="red", lw=1, ls=":", label=f"purity >= {s['best_cut']['min_purity']}"
        )
    ax.set(xlabel="score cut", ylabel="fraction", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=11, frameon=True)
    ax.set_title(title, fontsize=12)
    paths.append(save_figure(fig, out / "score_cut.png"))

    fig, ax = new_figure(figsize=(8, 6))
    a = evaluation.arrays
    bins = np.linspace(0, 1, 51)
    for mask, label in (
        (a["edge_target"], "target edges"),
        (a["edge_true"] & ~a["edge_target"], "other true edges"),
        (~a["edge_true"], "fake edges"),
    ):
        ax.hist(a["edge_score"][mask], bins=bins, histtype="step", lw=2, label=label)
    ax.set(xlabel="edge score", ylabel="edges", yscale="log")
    ax.legend(loc="upper center")
    ax.set_title(title, fontsize=12)
    paths.append(save_figure(fig, out / "scores.png"))

    binned = s["binned"]
    for key, xlabel, ylabel, name in (
        ("efficiency_vs_pt", r"particle $p_\mathrm{T}$ [GeV]", "edge efficiency", "pt"),
        ("efficiency_vs_eta", r"particle $\eta$", "target-edge efficiency", "eta"),
        ("purity_vs_eta", r"edge $\eta$ (mean of its hits)", "edge purity", "eta"),
    ):
        fig, ax = new_figure(figsize=(8, 6))
        _binned_plot(ax, binned[key]["graph"], "graph construction", "s", "grey")
        _binned_plot(ax, binned[key]["gnn"], f"GNN, score > {cut:g}", "o")
        ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.05))
        if name == "pt":
            ax.set_xscale("log")
            ax.axvline(s["selection"]["min_pt"], color="grey", lw=1, ls=":")
        ax.legend(loc="lower right")
        ax.set_title(title, fontsize=12)
        paths.append(save_figure(fig, out / f"{key}.png"))
    return paths


# -- geometry report (acts-gnn geometry) -------------------------------------------------------


def _volume_colours(volumes: Sequence[int]) -> dict[int, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {v: cmap(k % 10) for k, v in enumerate(sorted(volumes))}


def plot_hit_maps(
    hits: Mapping[str, npt.NDArray[Any]],
    output_dir: str | Path,
    volume_names: Mapping[int, str] | None = None,
    max_points: int = 300_000,
    seed: int = 0,
) -> list[Path]:
    """Write the hit maps of a hit table (positions in mm) into ``output_dir``.

    ``hitmap.png``: scatter plots, one colour per volume, of r-z, x-y of the barrel volumes
    (:func:`barrel_volumes`) and x-y of the others (endcaps), at most ``max_points`` hits (a
    random subset). ``hitmap_density.png``: 2D histograms of all hits in r-z and x-y (log
    colour scale).
    """
    from matplotlib.colors import LogNorm

    output_dir = Path(output_dir)
    names = volume_names or {}
    x, y, z, r = (np.asarray(hits[c], np.float64) for c in ("x", "y", "z", "r"))
    volume = np.asarray(hits["volume_id"])
    pick = np.arange(len(x))
    if len(pick) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    volumes = [int(v) for v in np.unique(volume)]
    barrels = set(barrel_volumes(hits))
    colours = _volume_colours(volumes)
    r_max = float(r.max()) if len(r) else 1.0

    fig, axes = new_figure(1, 3, figsize=(26, 8), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    for v in volumes:
        sel = pick[volume[pick] == v]
        label = f"{v} {names.get(v, '')}".strip()
        axes[0].scatter(z[sel], r[sel], s=0.3, color=colours[v], label=label, rasterized=True)
        ax = axes[1] if v in barrels else axes[2]
        ax.scatter(x[sel], y[sel], s=0.3, color=colours[v], rasterized=True)
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="r-z", ylim=(0, 1.35 * r_max))
    axes[0].legend(markerscale=20, fontsize=10, loc="upper left", ncol=3, title="volume")
    for ax, title in ((axes[1], "x-y, barrel volumes"), (axes[2], "x-y, endcap volumes")):
        ax.set(xlabel="x [mm]", ylabel="y [mm]", title=title, aspect="equal")
        ax.set(xlim=(-1.05 * r_max, 1.05 * r_max), ylim=(-1.05 * r_max, 1.05 * r_max))
    fig.suptitle(f"{len(x)} hits ({len(pick)} drawn)")
    paths = [save_figure(fig, output_dir / "hitmap.png")]

    fig, axes = new_figure(1, 2, figsize=(20, 8), gridspec_kw={"width_ratios": [1.6, 1]})
    if len(x):
        _, _, _, image = axes[0].hist2d(z, r, bins=(300, 150), norm=LogNorm(), cmap="viridis")
        fig.colorbar(image, ax=axes[0], label="hits")
        _, _, _, image = axes[1].hist2d(x, y, bins=(250, 250), norm=LogNorm(), cmap="viridis")
        fig.colorbar(image, ax=axes[1], label="hits")
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="hit density, r-z")
    axes[1].set(xlabel="x [mm]", ylabel="y [mm]", title="hit density, x-y", aspect="equal")
    paths.append(save_figure(fig, output_dir / "hitmap_density.png"))
    return paths


def plot_layer_connectivity(connectivity: Connectivity, output: str | Path) -> Path:
    """Layer-to-layer matrix of module-map doublet counts (log colour), rows = first layer."""
    from matplotlib.colors import LogNorm

    n = len(connectivity.layers)
    fig, ax = new_figure(figsize=(max(8.0, 0.28 * n + 3), max(7.0, 0.28 * n + 2)))
    counts = np.where(connectivity.doublets > 0, connectivity.doublets, np.nan)
    if np.isfinite(counts).any():
        image = ax.imshow(counts, norm=LogNorm(), cmap="viridis", origin="upper")
        fig.colorbar(image, ax=ax, label="doublets")
    labels = [layer_label(k) for k in connectivity.layers]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.tick_params(which="minor", length=0)
    for k in range(1, n):  # volume boundaries
        if connectivity.layers[k][0] != connectivity.layers[k - 1][0]:
            ax.axhline(k - 0.5, color="grey", lw=0.6)
            ax.axvline(k - 0.5, color="grey", lw=0.6)
    ax.set(
        xlabel="second layer (volume:layer)",
        ylabel="first layer (volume:layer)",
        xlim=(-0.5, n - 0.5),
        ylim=(n - 0.5, -0.5),
    )
    ax.set_title("module-map doublets between layers")
    return save_figure(fig, output)


def plot_module_coverage(
    module_ids: npt.ArrayLike,
    module_centres: npt.ArrayLike,
    missing_ids: npt.ArrayLike,
    output: str | Path,
) -> Path:
    """r-z and x-y of the detector's module centres [mm]: grey in the map, red missing."""
    ids = np.asarray(module_ids, dtype=np.uint64)
    centres = np.asarray(module_centres, dtype=np.float64).reshape(-1, 3)
    missing = np.isin(ids, np.asarray(missing_ids, dtype=np.uint64))
    r = np.hypot(centres[:, 0], centres[:, 1])
    fig, axes = new_figure(1, 2, figsize=(20, 8), gridspec_kw={"width_ratios": [1.6, 1]})
    for sel, colour, size, label in (
        (~missing, "lightgrey", 2.0, f"in the map ({int((~missing).sum())})"),
        (missing, "red", 6.0, f"in no triplet ({int(missing.sum())})"),
    ):
        axes[0].scatter(centres[sel, 2], r[sel], s=size, color=colour, label=label)
        axes[1].scatter(centres[sel, 0], centres[sel, 1], s=size, color=colour)
    axes[0].set(xlabel="z [mm]", ylabel="r [mm]", title="module centres, r-z")
    axes[1].set(xlabel="x [mm]", ylabel="y [mm]", title="module centres, x-y", aspect="equal")
    axes[0].legend(markerscale=3, loc="upper left")
    return save_figure(fig, output)


# -- track metrics and the GNN / CKF comparison ------------------------------------------------


def plot_track_metrics(
    metrics: TrackMetrics,
    output: str | Path,
    efficiency: str = "acts",
    fake: str = "acts",
    title: str | None = None,
) -> Path:
    """PNG with efficiency (top row) and fake rate (bottom row) vs pT, eta, phi, n_hits."""
    variables = ("pt", "eta", "phi", "n_hits")
    fig, axes = new_figure(2, 4, figsize=(24, 10))
    rows = [
        (metrics.efficiency_hist, efficiency, f"efficiency ({efficiency})"),
        (metrics.fake_hist, fake, f"fake rate ({fake})"),
    ]
    for row, (make, definition, ylabel) in enumerate(rows):
        for col, var in enumerate(variables):
            ax = axes[row, col]
            h = make(var, definition)
            edges, value, lo, hi = ratio_with_errors(h)
            centers = 0.5 * (edges[1:] + edges[:-1])
            ax.errorbar(centers, value, yerr=[lo, hi], xerr=0.5 * np.diff(edges), fmt="o", ms=4)
            ax.set(xlabel=h.axes[0].label, ylabel=ylabel, ylim=(0, 1.05))
            if var == "pt":
                ax.set_xscale("log")
                ax.set_xlim(0.1, 100)
    fig.suptitle(title or f"{metrics.events} events")
    return save_figure(fig, output, dpi=80)


__all__ = [
    "DPI",
    "ScoredEdgeEvaluation",
    "generated_distributions",
    "new_figure",
    "plot_edge_efficiency",
    "plot_evaluation",
    "plot_generated_distributions",
    "plot_hit_maps",
    "plot_layer_connectivity",
    "plot_module_coverage",
    "plot_track_metrics",
    "pyplot",
    "save_figure",
]

"""Edge-level evaluation of a trained GNN edge classifier (``acts-gnn evaluate-gnn``).

For held-out prepared events, each event's graph (built with a module map, or read from graph
files of any builder, :mod:`acts_gnn.train.graph_files`) is scored by the model
(TorchScript or ONNX, set up from the model's own metadata by
:func:`acts_gnn.chain.defaults.edge_classifier`), and the scores are compared with the truth graph,
with the definitions of the GNN4ITk / Exa.TrkX papers:

* *target edges*: truth edges (consecutive hits of one particle,
  :func:`acts_gnn.graph.truth.truth_graph`) of particles with pT > ``min_pt`` (1 GeV) and
  >= ``min_hits`` (3) measurements; *true edges*: truth edges of any particle; *fake edges*:
  graph edges that are not true edges. Edges are compared without direction.
* an edge is kept when its score > cut (strictly, as the classifier stages);
* efficiency = kept target edges / target edges in the graph (the GNN alone), and
  total efficiency = kept target edges / all target truth edges (graph construction losses
  included); graph-construction efficiency = target edges in the graph / target truth edges;
* purity = kept true edges / kept edges (true edges of any particle count as right);
  target purity = kept target edges / kept edges;
* ROC: target graph edges (signal) against fake graph edges (background), the true edges of
  particles outside the target selection left out; AUC by the trapezoid rule (equal to the
  probability that a random target edge scores above a random fake edge, ties counting 1/2).

The binned curves are per truth edge (efficiency vs the particle's pT, for every particle with
>= ``min_hits`` measurements so that the turn-on below ``min_pt`` shows, and vs the particle's
eta for target edges) and per kept edge (purity vs the edge's eta, the mean pseudorapidity of
its two hit positions).

The metric functions take plain numpy arrays (scores, boolean labels) and are independent of
the events, so they can be used on any scored graph.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import _undirected_keys, edge_truth_mask
from acts_gnn.train.graph_files import GraphFunction, module_map_graphs

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: score cuts of the efficiency / purity scan (``score > cut``)
SCAN_CUTS: tuple[float, ...] = (*(round(0.01 * k, 2) for k in range(100)), 0.995, 0.999)
#: bins of the binned curves
PT_BINS: tuple[float, ...] = tuple(float(v) for v in np.geomspace(0.1, 100.0, 25))
ETA_BINS: tuple[float, ...] = tuple(float(v) for v in np.linspace(-4.0, 4.0, 33))


# ---------------------------------------------------------------------------------------------
# metrics on plain arrays
# ---------------------------------------------------------------------------------------------


def roc_curve(
    scores: npt.ArrayLike, signal: npt.ArrayLike, background: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ROC curve of ``scores`` [E] for the ``signal`` [E] vs ``background`` [E] masks (entries
    in neither are ignored): (false-positive rate, true-positive rate, threshold), one point
    per distinct score from the highest down (the point keeps every entry with score >=
    threshold), starting at (0, 0) with threshold +inf."""
    s = np.asarray(scores, np.float64)
    sig = np.asarray(signal, bool)
    bkg = np.asarray(background, bool)
    if not (s.shape == sig.shape == bkg.shape) or s.ndim != 1:
        raise ValueError("scores, signal and background must be 1D arrays of the same length")
    use = sig | bkg
    s, sig, bkg = s[use], sig[use], bkg[use]
    order = np.argsort(-s, kind="stable")
    s, sig, bkg = s[order], sig[order], bkg[order]
    # last index of each group of equal scores
    last = np.flatnonzero(np.append(np.diff(s) != 0, True)) if len(s) else np.zeros(0, int)
    tp = np.cumsum(sig)[last].astype(np.float64)
    fp = np.cumsum(bkg)[last].astype(np.float64)
    n_sig, n_bkg = float(sig.sum()), float(bkg.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = tp / n_sig if n_sig else np.full(len(tp), np.nan)
        fpr = fp / n_bkg if n_bkg else np.full(len(fp), np.nan)
    return (
        np.concatenate([[0.0], fpr]),
        np.concatenate([[0.0], tpr]),
        np.concatenate([[np.inf], s[last]]),
    )


def roc_auc(scores: npt.ArrayLike, signal: npt.ArrayLike, background: npt.ArrayLike) -> float:
    """Area under :func:`roc_curve` (trapezoid rule): the probability that a random signal
    entry scores above a random background one, ties counting 1/2. NaN without signal or
    background."""
    sig = np.asarray(signal, bool)
    bkg = np.asarray(background, bool)
    if not sig.any() or not bkg.any():
        return math.nan
    fpr, tpr, _ = roc_curve(scores, sig, bkg)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


@dataclass(frozen=True)
class CutMetrics:
    """Edge metrics at one score cut (edges kept: score > cut); see the module docstring."""

    cut: float
    efficiency: float  # kept target edges / target edges in the graph
    total_efficiency: float  # kept target edges / target truth edges
    purity: float  # kept true edges / kept edges
    target_purity: float  # kept target edges / kept edges
    kept_edges: int
    kept_target: int
    kept_true: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: _finite(v) for k, v in self.__dict__.items()}


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _finite(value: float | int) -> float | int | None:
    """``value`` for JSON: NaN and infinities become None (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_at_cut(
    cut: float,
    edge_scores: npt.ArrayLike,
    edge_target: npt.ArrayLike,
    edge_true: npt.ArrayLike,
    truth_scores: npt.ArrayLike | None = None,
) -> CutMetrics:
    """:class:`CutMetrics` of graph edges with ``edge_scores`` [E] and masks ``edge_target``,
    ``edge_true`` [E], at ``cut``. ``truth_scores`` [T]: the score of every target *truth*
    edge (-inf where the graph lacks it, see :func:`truth_edge_scores`); efficiencies are
    counted on it when given (else on the graph edges, total efficiency then NaN)."""
    s = np.asarray(edge_scores, np.float64)
    target = np.asarray(edge_target, bool)
    true = np.asarray(edge_true, bool)
    kept = s > cut
    n_kept = int(kept.sum())
    kept_target = int((kept & target).sum())
    kept_true = int((kept & true).sum())
    if truth_scores is None:
        efficiency = _ratio(kept_target, int(target.sum()))
        total = math.nan
    else:
        t = np.asarray(truth_scores, np.float64)
        found = int((t > cut).sum())
        efficiency = _ratio(found, int(np.isfinite(t).sum()))
        total = _ratio(found, len(t))
    return CutMetrics(
        cut=float(cut),
        efficiency=efficiency,
        total_efficiency=total,
        purity=_ratio(kept_true, n_kept),
        target_purity=_ratio(kept_target, n_kept),
        kept_edges=n_kept,
        kept_target=kept_target,
        kept_true=kept_true,
    )


def scan_cuts(
    cuts: Sequence[float],
    edge_scores: npt.ArrayLike,
    edge_target: npt.ArrayLike,
    edge_true: npt.ArrayLike,
    truth_scores: npt.ArrayLike | None = None,
) -> list[CutMetrics]:
    """:func:`metrics_at_cut` at each of ``cuts``."""
    return [metrics_at_cut(c, edge_scores, edge_target, edge_true, truth_scores) for c in cuts]


def best_cut(
    edge_scores: npt.ArrayLike,
    edge_target: npt.ArrayLike,
    edge_true: npt.ArrayLike,
    min_purity: float = 0.95,
) -> float | None:
    """The score cut with the highest efficiency among those giving purity >= ``min_purity``
    (None if none does). Exact: every distinct score is tried. Efficiency only falls as the
    cut rises, so this is the lowest such cut; it is returned as the next lower distinct
    score (``score > cut`` then keeps exactly the edges scoring at or above the threshold)
    or, to keep every edge, just below the lowest score."""
    s = np.asarray(edge_scores, np.float64)
    true = np.asarray(edge_true, bool)
    if not len(s):
        return None
    order = np.argsort(-s, kind="stable")
    s, true = s[order], true[order]
    last = np.flatnonzero(np.append(np.diff(s) != 0, True))
    kept = last + 1
    purity = np.cumsum(true)[last] / kept
    ok = np.flatnonzero(purity >= min_purity)
    if not len(ok):
        return None
    k = int(ok[-1])  # the most edges kept at the required purity
    if k + 1 < len(last):
        return float(s[last[k + 1]])
    lowest = float(s[-1])
    return float(np.nextafter(np.float32(lowest), np.float32(-np.inf)))


def binned_ratio(
    values: npt.ArrayLike, passed: npt.ArrayLike, bins: npt.ArrayLike
) -> dict[str, list[float | None]]:
    """Fraction of ``passed`` per bin of ``values``, with the binomial error: JSON-ready dict
    {bins, ratio, error, total} (None where a bin is empty)."""
    v = np.asarray(values, np.float64)
    p = np.asarray(passed, bool)
    b = np.asarray(bins, np.float64)
    total, _ = np.histogram(v, b)
    n_pass, _ = np.histogram(v[p], b)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = n_pass / total
        error = np.sqrt(ratio * (1 - ratio) / total)
    return {
        "bins": [float(x) for x in b],
        "ratio": [_finite(float(x)) for x in ratio],
        "error": [_finite(float(x)) for x in error],
        "total": [float(x) for x in total],
    }


def truth_edge_scores(
    truth_edges: npt.NDArray[np.int64],
    edge_index: npt.NDArray[np.int64],
    scores: npt.ArrayLike,
    n_nodes: int,
) -> FloatArray:
    """For every truth edge [2, T], the highest score of the graph edges joining the same two
    hits (either direction); -inf where the graph has no such edge (never kept)."""
    s = np.asarray(scores, np.float64)
    out = np.full(truth_edges.shape[1], -np.inf)
    if not edge_index.shape[1] or not truth_edges.shape[1]:
        return out
    keys = _undirected_keys(edge_index, n_nodes)
    order = np.lexsort((-s, keys))  # by key, highest score first within a key
    keys, s = keys[order], s[order]
    first = np.append(True, keys[1:] != keys[:-1])
    keys, s = keys[first], s[first]
    truth_keys = _undirected_keys(truth_edges, n_nodes)
    pos = np.minimum(np.searchsorted(keys, truth_keys), len(keys) - 1)
    hit = keys[pos] == truth_keys
    out[hit] = s[pos[hit]]
    return out


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------


@dataclass
class ScoredEdges:
    """Per-edge and per-truth-edge arrays of the evaluated events, concatenated.

    Graph edges: score, target / true flags, eta (mean of the two hits). Truth edges of
    particles with >= min_hits measurements (any pT): score (-inf if not in the graph),
    particle pT and eta, and whether the particle is a target (pT >= min_pt).
    """

    edge_score: list[FloatArray] = field(default_factory=list)
    edge_target: list[BoolArray] = field(default_factory=list)
    edge_true: list[BoolArray] = field(default_factory=list)
    edge_eta: list[FloatArray] = field(default_factory=list)
    truth_score: list[FloatArray] = field(default_factory=list)
    truth_pt: list[FloatArray] = field(default_factory=list)
    truth_eta: list[FloatArray] = field(default_factory=list)
    truth_target: list[BoolArray] = field(default_factory=list)
    nodes: int = 0
    events: int = 0
    seconds_graph: list[float] = field(default_factory=list)
    seconds_gnn: list[float] = field(default_factory=list)

    def add_event(
        self,
        event: Event,
        edge_index: npt.NDArray[np.int64],
        scores: npt.ArrayLike,
        selection: TruthSelection,
    ) -> None:
        """Add one scored graph; truth: ``selection`` (target) and every particle (true)."""
        n = event.n_hits
        s = np.asarray(scores, np.float64).reshape(-1)
        if s.shape[0] != edge_index.shape[1]:
            raise ValueError(f"{s.shape[0]} scores for {edge_index.shape[1]} edges")
        wide = TruthSelection(
            min_pt=0.0,
            min_hits=selection.min_hits,
            primaries_only=selection.primaries_only,
            max_abs_eta=selection.max_abs_eta,
        )
        truth = truth_graph(event, wide)
        pid = event.hits["particle_id"][truth[0]]
        pt = event.particles["pt"][pid].astype(np.float64)
        is_target = pt >= selection.min_pt
        target = truth[:, is_target]
        hit_eta = event.hits["eta"].astype(np.float64)
        self.edge_score.append(s)
        self.edge_target.append(edge_truth_mask(edge_index, target, n))
        self.edge_true.append(edge_truth_mask(edge_index, truth_graph(event), n))
        self.edge_eta.append(0.5 * (hit_eta[edge_index[0]] + hit_eta[edge_index[1]]))
        self.truth_score.append(truth_edge_scores(truth, edge_index, s, n))
        self.truth_pt.append(pt)
        self.truth_eta.append(event.particles["eta"][pid].astype(np.float64))
        self.truth_target.append(is_target)
        self.nodes += n
        self.events += 1

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The concatenated arrays (keys as the fields)."""
        names = (
            "edge_score",
            "edge_target",
            "edge_true",
            "edge_eta",
            "truth_score",
            "truth_pt",
            "truth_eta",
            "truth_target",
        )
        empty = {"edge_target": bool, "edge_true": bool, "truth_target": bool}
        return {
            n: np.concatenate(getattr(self, n))
            if getattr(self, n)
            else np.zeros(0, empty.get(n, np.float64))
            for n in names
        }


@dataclass
class GnnEvaluation:
    """The result of :func:`evaluate_scored`: a JSON-ready ``summary`` and the arrays."""

    summary: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    roc: tuple[FloatArray, FloatArray, FloatArray]
    scan: list[CutMetrics]

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary, indent=1) + "\n")
        return path

    def table(self) -> str:
        """A short text table of the summary."""
        s = self.summary
        g = s["graph"]
        lines = [
            f"{s['events']} events: {g['nodes_per_event']:.0f} nodes, "
            f"{g['edges_per_event']:.0f} edges, {g['target_edges_per_event']:.0f} target "
            f"edges / event; graph construction: efficiency {_fmt(g['efficiency'])}, "
            f"purity {_fmt(g['purity'])}",
            f"ROC AUC (target vs fake edges): {_fmt(s['auc'])}",
            f"{'score cut':<32}{'eff (graph)':>12}{'eff (total)':>12}{'purity':>9}"
            f"{'tgt purity':>11}{'kept/ev':>10}",
        ]
        rows = [(f"{s['cut']['cut']:g} (given)", s["cut"])]
        best = s["best_cut"]
        label = f"purity >= {best['min_purity']:g}"
        if best["cut"] is not None:
            rows.append((f"{best['cut']:.4g} (best, {label})", best["metrics"]))
        for name, m in rows:
            lines.append(
                f"{name:<32}{_fmt(m['efficiency']):>12}{_fmt(m['total_efficiency']):>12}"
                f"{_fmt(m['purity']):>9}{_fmt(m['target_purity']):>11}"
                f"{m['kept_edges'] / max(s['events'], 1):>10.0f}"
            )
        if best["cut"] is None:
            lines.append(f"no score cut reaches {label}")
        t = s["seconds_per_event"]
        if t["gnn"] is not None:
            lines.append(
                f"time per event: graph {1e3 * t['graph']:.0f} ms, GNN {1e3 * t['gnn']:.0f} ms "
                "(first calls included; benchmarks/bench_gnn.py times it properly)"
            )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "nan" if value is None else f"{value:.4f}"


def evaluate_scored(
    scored: ScoredEdges,
    cut: float = 0.5,
    min_purity: float = 0.95,
    selection: TruthSelection | None = None,
    extra: dict[str, Any] | None = None,
) -> GnnEvaluation:
    """Every metric of the module docstring from accumulated :class:`ScoredEdges`."""
    selection = selection or TruthSelection(min_pt=1.0, min_hits=3)
    a = scored.arrays()
    score, target, true = a["edge_score"], a["edge_target"], a["edge_true"]
    fake = ~true
    tscore = a["truth_score"][a["truth_target"]]
    n_events = max(scored.events, 1)
    roc = roc_curve(score, target, fake)
    at_cut = metrics_at_cut(cut, score, target, true, tscore)
    best = best_cut(score, target, true, min_purity)
    best_metrics = None if best is None else metrics_at_cut(best, score, target, true, tscore)
    scan = scan_cuts(SCAN_CUTS, score, target, true, tscore)
    in_graph = np.isfinite(a["truth_score"])
    kept_truth = a["truth_score"] > cut
    kept_edges = score > cut
    summary: dict[str, Any] = {
        "events": scored.events,
        "selection": {
            "target": f"truth edges of particles with pT >= {selection.min_pt:g} GeV and >= "
            f"{selection.min_hits} measurements",
            "true": "truth edges of any particle",
            "fake": "graph edges that are not true edges",
            "min_pt": selection.min_pt,
            "min_hits": selection.min_hits,
            "primaries_only": selection.primaries_only,
        },
        "definitions": {
            "efficiency": "kept target edges / target edges in the graph",
            "total_efficiency": "kept target edges / target truth edges (graph losses included)",
            "purity": "kept true edges / kept edges",
            "target_purity": "kept target edges / kept edges",
            "kept": "score > cut",
            "auc": "ROC of target edges (signal) vs fake edges (background)",
        },
        "graph": {
            "nodes_per_event": scored.nodes / n_events,
            "edges_per_event": len(score) / n_events,
            "target_edges_per_event": int(target.sum()) / n_events,
            "true_edges_per_event": int(true.sum()) / n_events,
            "target_truth_edges_per_event": len(tscore) / n_events,
            "efficiency": _finite(_ratio(int(np.isfinite(tscore).sum()), len(tscore))),
            "purity": _finite(_ratio(int(true.sum()), len(score))),
        },
        "auc": _finite(roc_auc(score, target, fake)),
        "cut": at_cut.as_dict(),
        "best_cut": {
            "min_purity": min_purity,
            "cut": best,
            "metrics": None if best_metrics is None else best_metrics.as_dict(),
        },
        "scan": {k: [m.as_dict()[k] for m in scan] for k in at_cut.as_dict()},
        "roc": _roc_points(*roc),
        "binned": {
            "efficiency_vs_pt": {
                "graph": binned_ratio(a["truth_pt"], in_graph, PT_BINS),
                "gnn": binned_ratio(a["truth_pt"], kept_truth, PT_BINS),
            },
            "efficiency_vs_eta": {
                "graph": binned_ratio(
                    a["truth_eta"][a["truth_target"]], in_graph[a["truth_target"]], ETA_BINS
                ),
                "gnn": binned_ratio(
                    a["truth_eta"][a["truth_target"]], kept_truth[a["truth_target"]], ETA_BINS
                ),
            },
            "purity_vs_eta": {
                "graph": binned_ratio(a["edge_eta"], true, ETA_BINS),
                "gnn": binned_ratio(a["edge_eta"][kept_edges], true[kept_edges], ETA_BINS),
            },
            "notes": "efficiency vs pT: truth edges of every particle with >= min_hits "
            "measurements (any pT); vs eta: target edges, particle eta; purity vs eta: mean "
            "pseudorapidity of the edge's two hits; graph: after graph construction, gnn: "
            "kept at the cut (total)",
        },
        "seconds_per_event": {
            "graph": float(np.mean(scored.seconds_graph)) if scored.seconds_graph else None,
            "gnn": float(np.mean(scored.seconds_gnn)) if scored.seconds_gnn else None,
        },
    }
    summary.update(extra or {})
    return GnnEvaluation(summary=summary, arrays=a, roc=roc, scan=scan)


def _roc_points(
    fpr: FloatArray, tpr: FloatArray, thr: FloatArray, n: int = 400
) -> dict[str, list[float | None]]:
    """At most ``n`` points of the ROC curve (evenly spread in index, ends kept)."""
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(n, len(fpr))).round().astype(int))
    return {
        "fpr": [_finite(float(v)) for v in fpr[idx]],
        "tpr": [_finite(float(v)) for v in tpr[idx]],
        "threshold": [_finite(float(v)) for v in thr[idx]],
    }


def score_events(
    events: Iterable[Event],
    graph: GraphFunction,
    classifier: Any,
    node_features: Sequence[str],
    feature_scales: Sequence[float],
    selection: TruthSelection,
    progress: Any | None = None,
) -> ScoredEdges:
    """Build (``graph(event) -> (edge_index, edge_features)``) and score (``classifier``, an
    edge-classifier stage) every event; returns the accumulated :class:`ScoredEdges`."""
    from acts_gnn.chain.pipeline import node_feature_matrix
    from acts_gnn.train.data import raw_edge_features

    scored = ScoredEdges()
    for event in events:
        start = time.perf_counter()
        edge_index, stored = graph(event)
        edge_attr = raw_edge_features(event, edge_index, stored)
        mid = time.perf_counter()
        x = node_feature_matrix(event.positions(), node_features, feature_scales)
        scores = classifier.classify(x, edge_index, edge_attr).scores
        end = time.perf_counter()
        scored.seconds_graph.append(mid - start)
        scored.seconds_gnn.append(end - mid)
        scored.add_event(event, edge_index, scores.detach().cpu().numpy(), selection)
        if progress is not None:
            progress.update(1)
    return scored


def gnn_classifier(
    model: str | Path, device: str = "cpu", threads: int | None = 1
) -> tuple[Any, list[str], list[float]]:
    """(classifier stage with cut 0, node feature names, scales) for ``model`` (``.onnx``:
    ONNX Runtime, else TorchScript), configured from its metadata. ``threads``: ONNX Runtime
    intra-op threads (torch's are set by the caller with ``torch.set_num_threads``)."""
    from acts_gnn.chain.defaults import edge_classifier, pipeline_features

    names, scales = pipeline_features(model)
    classifier = edge_classifier(model, cut=0.0, device=device, node_features=tuple(names))
    if threads and hasattr(classifier, "session"):
        # the stage's session uses ONNX Runtime's default thread count: reopen it with ours
        from acts_gnn.extras import onnxruntime

        ort = onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
        classifier.session = ort.InferenceSession(
            str(model), options, providers=classifier.providers
        )
    return classifier, names, scales


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    return plt


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _binned_plot(
    ax: Any, data: dict[str, Any], label: str, fmt: str = "o", color: str | None = None
) -> None:
    b = np.asarray(data["bins"])
    y = np.array([np.nan if v is None else v for v in data["ratio"]], float)
    e = np.array([np.nan if v is None else v for v in data["error"]], float)
    centers = np.sqrt(b[1:] * b[:-1]) if b[0] > 0 else 0.5 * (b[1:] + b[:-1])
    xerr = np.abs(np.stack([centers - b[:-1], b[1:] - centers]))
    ax.errorbar(centers, y, yerr=e, xerr=xerr, fmt=fmt, ms=4, label=label, color=color)


def plot_evaluation(evaluation: GnnEvaluation, output: str | Path, title: str) -> list[Path]:
    """Write the PNGs of ``evaluation`` to the folder ``output``: roc.png, score_cut.png,
    scores.png, efficiency_vs_pt.png, efficiency_vs_eta.png, purity_vs_eta.png."""
    plt = _pyplot()
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
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, log in zip(axes, (False, True)):
        keep = fpr > 0 if log else np.ones(len(fpr), bool)
        ax.plot(fpr[keep][::step], tpr[keep][::step], lw=2, label=f"AUC = {_fmt(s['auc'])}")
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
    paths.append(_save(fig, out / "roc.png"))

    fig, ax = plt.subplots(figsize=(8, 6))
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
    paths.append(_save(fig, out / "score_cut.png"))

    fig, ax = plt.subplots(figsize=(8, 6))
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
    paths.append(_save(fig, out / "scores.png"))

    binned = s["binned"]
    for key, xlabel, ylabel, name in (
        ("efficiency_vs_pt", r"particle $p_\mathrm{T}$ [GeV]", "edge efficiency", "pt"),
        ("efficiency_vs_eta", r"particle $\eta$", "target-edge efficiency", "eta"),
        ("purity_vs_eta", r"edge $\eta$ (mean of its hits)", "edge purity", "eta"),
    ):
        fig, ax = plt.subplots(figsize=(8, 6))
        _binned_plot(ax, binned[key]["graph"], "graph construction", "s", "grey")
        _binned_plot(ax, binned[key]["gnn"], f"GNN, score > {cut:g}", "o")
        ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.05))
        if name == "pt":
            ax.set_xscale("log")
            ax.axvline(s["selection"]["min_pt"], color="grey", lw=1, ls=":")
        ax.legend(loc="lower right")
        ax.set_title(title, fontsize=12)
        paths.append(_save(fig, out / f"{key}.png"))
    return paths


# ---------------------------------------------------------------------------------------------
# command
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    """Options of ``acts-gnn evaluate-gnn`` (an ``argparse.ArgumentParser``)."""
    import argparse

    parser.add_argument("--input", "-i", type=Path, required=True, help="prepared folder")
    graphs = parser.add_mutually_exclusive_group(required=True)
    graphs.add_argument(
        "--module-map", "-m", type=str, help="build each event's graph with this module map ..."
    )
    graphs.add_argument(
        "--graphs",
        type=Path,
        help="... or read it from this folder of graph files (any builder: `acts-gnn graphs`)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="GNN model (.onnx: ONNX Runtime, else TorchScript)",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="output folder")
    parser.add_argument("--events", type=int, default=None, help="only the first N events")
    parser.add_argument(
        "--cut", type=float, default=0.5, help="edge score cut, kept: score > cut (default 0.5)"
    )
    parser.add_argument(
        "--min-purity",
        type=float,
        default=0.95,
        help="also find the cut with the best efficiency at this purity (default 0.95)",
    )
    parser.add_argument(
        "--min-pt", type=float, default=1.0, help="target particles' pT cut [GeV] (default 1)"
    )
    parser.add_argument(
        "--min-hits", type=int, default=3, help="target particles' minimum measurements (3)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument(
        "--plots",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write the PNGs (default on)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def evaluate_gnn_command(args: Any) -> int:
    """``acts-gnn evaluate-gnn``: evaluate, write ``gnn_eval.json`` and PNGs, print a table."""
    import torch

    from acts_gnn.chain.defaults import model_metadata
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    torch.set_num_threads(args.threads)
    dataset = PreparedDataset(args.input)
    if args.events:
        dataset = PreparedDataset(args.input, dataset.event_ids[: args.events])
    selection = TruthSelection(min_pt=args.min_pt, min_hits=args.min_hits)
    classifier, names, scales = gnn_classifier(args.model, args.device, args.threads)
    graph: GraphFunction
    if args.graphs:
        from acts_gnn.train.data import StoredGraphs

        graph = StoredGraphs(args.graphs)
        origin = f"graph files {args.graphs}"
    else:
        graph = module_map_graphs(args.module_map, args.threads)
        origin = f"module map {args.module_map}"
    meta = model_metadata(args.model)
    with progress_bar(len(dataset), "evaluate GNN", "event", enabled=not args.quiet) as bar:
        scored = score_events(dataset, graph, classifier, names, scales, selection, bar)
    evaluation = evaluate_scored(
        scored,
        cut=args.cut,
        min_purity=args.min_purity,
        selection=selection,
        extra={
            "input": str(args.input),
            "event_ids": list(dataset.event_ids),
            "module_map": args.module_map,
            "graphs": None if args.graphs is None else str(args.graphs),
            "model": str(args.model),
            "backend": "onnx" if Path(args.model).suffix == ".onnx" else "torch",
            "device": args.device,
            "node_features": names,
            "feature_scales": scales,
            "edge_features": list(meta.get("edge_features") or []),
            "model_config": meta.get("model_config"),
        },
    )
    path = evaluation.write_json(Path(args.output) / "gnn_eval.json")
    print(f"GNN {args.model} on {args.input} ({origin})")
    print(evaluation.table())
    print(f"wrote {path}")
    if args.plots:
        title = f"{Path(args.model).name}, {scored.events} events"
        for p in plot_evaluation(evaluation, args.output, title):
            print(f"plot: {p}")
    return 0

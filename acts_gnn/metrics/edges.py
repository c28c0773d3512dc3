"""Edge-level metrics: a graph against the truth graph, and edge scores against edge labels.

Graph construction (docs/design.md, "Metrics"; :class:`EdgeMetrics`): efficiency = truth edges
present in the graph / truth edges (of the selected particles); purity = graph edges that are
truth edges (of any particle) / graph edges.

Edge scores of a classifier (the definitions of the GNN4ITk / Exa.TrkX papers, used by
:mod:`acts_gnn.evaluation.gnn`): an edge is kept when its score > cut (strictly, as the
classifier stages); *target* edges are the truth edges of the selected particles, *true* edges
those of any particle, *fake* edges the graph edges that are not true edges.

* efficiency = kept target edges / target edges in the graph (the classifier alone), and
  total efficiency = kept target edges / all target truth edges (graph construction losses
  included), see :func:`metrics_at_cut` and :func:`truth_edge_scores`;
* purity = kept true edges / kept edges; target purity = kept target edges / kept edges;
* ROC (:func:`roc_curve`, :func:`roc_auc`): signal against background entries, AUC by the
  trapezoid rule (equal to the probability that a random signal entry scores above a random
  background one, ties counting 1/2);
* :func:`scan_cuts` and :func:`best_cut`: the metrics over score cuts, and the cut with the
  highest efficiency at a required purity; :func:`binned_ratio`: a fraction per bin.

Edges are compared without direction: (a, b) and (b, a) are the same segment
(:func:`undirected_edge_keys`). The functions take plain numpy arrays (edge index [2, E],
scores [E], boolean masks [E]) and are independent of the events, so they work on any graph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def undirected_edge_keys(edges: npt.NDArray[np.int64], n_nodes: int) -> npt.NDArray[np.int64]:
    """One int64 key per edge of ``edges`` [2, E] that is the same for (a, b) and (b, a):
    ``min(a, b) * n_nodes + max(a, b)`` (node indices below ``n_nodes``)."""
    lo = np.minimum(edges[0], edges[1]).astype(np.int64)
    hi = np.maximum(edges[0], edges[1]).astype(np.int64)
    return lo * np.int64(max(n_nodes, 1)) + hi


def edge_truth_mask(
    edges: npt.NDArray[np.int64], truth_edges: npt.NDArray[np.int64], n_nodes: int
) -> npt.NDArray[np.bool_]:
    """For each edge of ``edges`` [2, E], whether it is one of ``truth_edges`` [2, T]."""
    return np.isin(undirected_edge_keys(edges, n_nodes), undirected_edge_keys(truth_edges, n_nodes))


@dataclass
class EdgeMetrics:
    """Sums over events: truth edges found / all, graph edges that are true / all."""

    truth_found: int = 0
    truth_total: int = 0
    true_edges: int = 0
    edges: int = 0
    nodes: int = 0
    events: int = 0
    # per truth edge: found flag and the particle's pT and eta (for the binned curves)
    found_flags: list[npt.NDArray[np.bool_]] = field(default_factory=list, repr=False)
    truth_pt: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)
    truth_eta: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)

    @property
    def efficiency(self) -> float:
        return self.truth_found / self.truth_total if self.truth_total else float("nan")

    @property
    def purity(self) -> float:
        return self.true_edges / self.edges if self.edges else float("nan")

    def add(
        self,
        edges: npt.NDArray[np.int64],
        selected_truth: npt.NDArray[np.int64],
        all_truth: npt.NDArray[np.int64],
        n_nodes: int,
        truth_pt: npt.NDArray | None = None,
        truth_eta: npt.NDArray | None = None,
    ) -> None:
        """Add one event: its graph, the selected truth edges and the full truth graph."""
        found = edge_truth_mask(selected_truth, edges, n_nodes)
        self.truth_found += int(found.sum())
        self.truth_total += selected_truth.shape[1]
        self.true_edges += int(edge_truth_mask(edges, all_truth, n_nodes).sum())
        self.edges += edges.shape[1]
        self.nodes += n_nodes
        self.events += 1
        self.found_flags.append(found)
        if truth_pt is not None:
            self.truth_pt.append(np.asarray(truth_pt, np.float32))
        if truth_eta is not None:
            self.truth_eta.append(np.asarray(truth_eta, np.float32))

    def binned(
        self, variable: str, bins: npt.ArrayLike
    ) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
        """Efficiency per bin of the truth particle's ``pt`` or ``eta``: (edges, eff, error)."""
        values = np.concatenate(self.truth_pt if variable == "pt" else self.truth_eta)
        found = np.concatenate(self.found_flags)
        bins = np.asarray(bins, float)
        total, _ = np.histogram(values, bins)
        passed, _ = np.histogram(values[found], bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = passed / total
            err = np.sqrt(eff * (1 - eff) / total)
        return bins, eff, err

    def summary(self) -> dict[str, float]:
        n = max(self.events, 1)
        return {
            "edge efficiency": self.efficiency,
            "edge purity": self.purity,
            "edges per event": self.edges / n,
            "truth edges per event": self.truth_total / n,
            "nodes per event": self.nodes / n,
            "edges per node": self.edges / max(self.nodes, 1),
        }


def edge_metrics() -> EdgeMetrics:
    """A new, empty accumulator."""
    return EdgeMetrics()


# -- edge scores ------------------------------------------------------------------------------


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
        """The fields, JSON-ready (NaN and infinities as None)."""
        return {k: finite_or_none(v) for k, v in self.__dict__.items()}


def ratio_or_nan(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0."""
    return a / b if b else math.nan


def finite_or_none(value: float | int) -> float | int | None:
    """``value`` for JSON: NaN and infinities become None (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_fraction(value: float | None) -> str:
    """A fraction (efficiency, purity, AUC) for text: 4 decimals, ``nan`` for None."""
    return "nan" if value is None else f"{value:.4f}"


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
        efficiency = ratio_or_nan(kept_target, int(target.sum()))
        total = math.nan
    else:
        t = np.asarray(truth_scores, np.float64)
        found = int((t > cut).sum())
        efficiency = ratio_or_nan(found, int(np.isfinite(t).sum()))
        total = ratio_or_nan(found, len(t))
    return CutMetrics(
        cut=float(cut),
        efficiency=efficiency,
        total_efficiency=total,
        purity=ratio_or_nan(kept_true, n_kept),
        target_purity=ratio_or_nan(kept_target, n_kept),
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
        "ratio": [finite_or_none(float(x)) for x in ratio],
        "error": [finite_or_none(float(x)) for x in error],
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
    keys = undirected_edge_keys(edge_index, n_nodes)
    order = np.lexsort((-s, keys))  # by key, highest score first within a key
    keys, s = keys[order], s[order]
    first = np.append(True, keys[1:] != keys[:-1])
    keys, s = keys[first], s[first]
    truth_keys = undirected_edge_keys(truth_edges, n_nodes)
    pos = np.minimum(np.searchsorted(keys, truth_keys), len(keys) - 1)
    hit = keys[pos] == truth_keys
    out[hit] = s[pos[hit]]
    return out

"""Edge-level evaluation of a trained GNN edge classifier (``acts-gnn evaluate-gnn``).

For held-out prepared events, each event's graph (built with a module map, or read from graph
files of any builder, :mod:`acts_gnn.graph.store`) is scored by the model
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

The metric functions on plain arrays (ROC, cut scans, binned ratios) are in
:mod:`acts_gnn.metrics.edges`, the figures in :func:`acts_gnn.evaluation.plots.plot_evaluation`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.graph.features import node_feature_matrix, raw_edge_features
from acts_gnn.graph.store import GraphSource, StoredGraphs, module_map_graphs
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.io.atomic import write_json
from acts_gnn.metrics.edges import (
    CutMetrics,
    FloatArray,
    best_cut,
    binned_ratio,
    edge_truth_mask,
    finite_or_none,
    format_fraction,
    metrics_at_cut,
    ratio_or_nan,
    roc_auc,
    roc_curve,
    scan_cuts,
    truth_edge_scores,
)

BoolArray = npt.NDArray[np.bool_]

#: score cuts of the efficiency / purity scan (``score > cut``)
SCAN_CUTS: tuple[float, ...] = (*(round(0.01 * k, 2) for k in range(100)), 0.995, 0.999)
#: bins of the binned curves
PT_BINS: tuple[float, ...] = tuple(float(v) for v in np.geomspace(0.1, 100.0, 25))
ETA_BINS: tuple[float, ...] = tuple(float(v) for v in np.linspace(-4.0, 4.0, 33))


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------


#: The per-edge array fields of :class:`ScoredEdges` (one array per event each).
SCORED_ARRAYS = (
    "edge_score",
    "edge_target",
    "edge_true",
    "edge_eta",
    "truth_score",
    "truth_pt",
    "truth_eta",
    "truth_target",
)


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

    def extend(self, other: ScoredEdges) -> None:
        """Append ``other``'s events after these (every per-event list, and the counts)."""
        for name in (*SCORED_ARRAYS, "seconds_graph", "seconds_gnn"):
            getattr(self, name).extend(getattr(other, name))
        self.nodes += other.nodes
        self.events += other.events

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The concatenated arrays (keys as the fields)."""
        empty = {"edge_target": bool, "edge_true": bool, "truth_target": bool}
        return {
            n: np.concatenate(getattr(self, n))
            if getattr(self, n)
            else np.zeros(0, empty.get(n, np.float64))
            for n in SCORED_ARRAYS
        }


@dataclass
class GnnEvaluation:
    """The result of :func:`evaluate_scored`: a JSON-ready ``summary`` and the arrays."""

    summary: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]
    roc: tuple[FloatArray, FloatArray, FloatArray]
    scan: list[CutMetrics]

    def write_json(self, path: str | Path) -> Path:
        return write_json(path, self.summary, indent=1)

    def table(self) -> str:
        """A short text table of the summary."""
        s = self.summary
        g = s["graph"]
        lines = [
            f"{s['events']} events: {g['nodes_per_event']:.0f} nodes, "
            f"{g['edges_per_event']:.0f} edges, {g['target_edges_per_event']:.0f} target "
            f"edges / event; graph construction: efficiency {format_fraction(g['efficiency'])}, "
            f"purity {format_fraction(g['purity'])}",
            f"ROC AUC (target vs fake edges): {format_fraction(s['auc'])}",
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
                f"{name:<32}{format_fraction(m['efficiency']):>12}{format_fraction(m['total_efficiency']):>12}"
                f"{format_fraction(m['purity']):>9}{format_fraction(m['target_purity']):>11}"
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
            "efficiency": finite_or_none(ratio_or_nan(int(np.isfinite(tscore).sum()), len(tscore))),
            "purity": finite_or_none(ratio_or_nan(int(true.sum()), len(score))),
        },
        "auc": finite_or_none(roc_auc(score, target, fake)),
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
        "fpr": [finite_or_none(float(v)) for v in fpr[idx]],
        "tpr": [finite_or_none(float(v)) for v in tpr[idx]],
        "threshold": [finite_or_none(float(v)) for v in thr[idx]],
    }


def score_events(
    events: Iterable[Event],
    graph: GraphSource,
    classifier: Any,
    node_features: Sequence[str],
    feature_scales: Sequence[float],
    selection: TruthSelection,
    progress: Any | None = None,
) -> ScoredEdges:
    """Build (``graph(event) -> (edge_index, edge_features)``) and score (``classifier``, an
    edge-classifier stage) every event; returns the accumulated :class:`ScoredEdges`."""
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
# command
# ---------------------------------------------------------------------------------------------


def evaluate_gnn_command(args: Any) -> int:
    """``acts-gnn evaluate-gnn`` (``args``: its options, :mod:`acts_gnn.cli.parser`): evaluate,
    write ``gnn_eval.json`` and PNGs, print a table."""
    import torch

    from acts_gnn.chain.defaults import model_metadata
    from acts_gnn.evaluation.plots import plot_evaluation
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    torch.set_num_threads(args.threads)
    dataset = PreparedDataset(args.input)
    if args.events:
        dataset = PreparedDataset(args.input, dataset.event_ids[: args.events])
    selection = TruthSelection(min_pt=args.min_pt, min_hits=args.min_hits)
    classifier, names, scales = gnn_classifier(args.model, args.device, args.threads)
    graph: GraphSource
    if args.graphs:
        graph = StoredGraphs(args.graphs)
        origin = f"graph files {args.graphs}"
    else:
        graph = module_map_graphs(args.module_map, args.threads)
        origin = f"module map {args.module_map}"
    meta = model_metadata(args.model)
    from acts_gnn.distributed.executor import ParallelOptions

    parallel = ParallelOptions.from_args(args)
    if parallel.enabled:  # the same arrays, scored in event chunks on Dask workers
        from acts_gnn.distributed.evaluate import score_events_parallel

        scored = score_events_parallel(
            args.input,
            list(dataset.event_ids),
            args.model,
            selection,
            parallel,
            graphs=args.graphs,
            module_map=None if args.graphs else args.module_map,
            device=args.device,
            threads=args.threads,
            state_root=args.output,
            progress=not args.quiet,
        )
    else:
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

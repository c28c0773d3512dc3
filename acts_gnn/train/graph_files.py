"""Per-event graph files from any graph builder (``acts-gnn graphs``), for training a GNN.

A GNN learns the edge distribution of the graphs it is trained on: one trained on module-map
graphs does not transfer to metric-learning graphs (other edges, other fakes). This module
writes the graphs of a prepared folder, built as the tracking chain builds them, into the
folder format that ``data.graphs`` of a GNN training config reads
(:mod:`acts_gnn.graph.store`: ``event<id:09d>-graph.npz`` with ``edge_index`` int64 [2, E] of
hit-table rows and the raw ``edge_features`` float32 [E, 6] in
:data:`~acts_gnn.graph.features.EDGE_FEATURES` order):

* ``module-map``: the C++ module-map builder;
* ``metric-learning``: the embedding + radius / kNN search (``r``, ``k``: the model's operating
  point unless given), then, unless ``filter`` is None, the edge filter at its recorded cut
  (or ``filter_cut``): only the edges it keeps are written, as the chain passes them on.

``graphs.json`` beside the files records the builder, its files and knobs, and per event the
edges, hits, seconds, and edge efficiency (target truth edges of ``selection``) and purity
(truth edges of any particle), so a training set documents its own graph quality. Existing
graph files are kept (counted as skipped) unless ``overwrite``: an interrupted run resumes.
A folder written with other builder knobs is refused unless ``overwrite``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn.event import Event
from acts_gnn.graph.features import node_feature_matrix, raw_edge_features
from acts_gnn.graph.store import (
    GraphSource,
    cache_key,
    graph_path,
    module_map_graphs,
    save_graph,
    stored_cache_key,
)
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.io.atomic import write_text
from acts_gnn.metrics.edges import EdgeMetrics


class FilteredGraphs:
    """A graph source whose edges pass an edge-filter model first (``score > cut``).

    ``filter_path``: exported filter (``.onnx`` or TorchScript); its node and edge features
    are set up from its metadata; ``cut``: None = the cut recorded at export (99 % efficiency).
    Edges are scored :attr:`CHUNK` at a time (a MU = 200 embedding graph has ~10^7 edges).
    """

    CHUNK = 1 << 20

    def __init__(
        self,
        graphs: GraphSource,
        filter_path: str | Path,
        cut: float | None = None,
        device: str = "cpu",
    ) -> None:
        from acts_gnn.chain.defaults import edge_classifier, pipeline_features

        self.graphs = graphs
        self.names, self.scales = pipeline_features(filter_path)
        self.classifier = edge_classifier(
            filter_path,
            cut=cut,
            device=device,
            node_features=tuple(self.names),
            expected=("EdgeFilter",),
        )
        self.cut = float(self.classifier.cut)

    def __call__(self, event: Event) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        edge_index, stored = self.graphs(event)
        edge_attr = raw_edge_features(event, edge_index, stored)
        x = node_feature_matrix(event.positions(), self.names, self.scales)
        kept_edges, kept_attr = [], []
        for lo in range(0, max(edge_index.shape[1], 1), self.CHUNK):
            kept = self.classifier.classify(
                x, edge_index[:, lo : lo + self.CHUNK], edge_attr[lo : lo + self.CHUNK]
            )
            assert kept.edge_attr is not None
            kept_edges.append(kept.edge_index.cpu().numpy())
            kept_attr.append(kept.edge_attr.cpu().numpy())
        return np.concatenate(kept_edges, axis=1), np.concatenate(kept_attr)


def metric_learning_graphs(
    embedding: str | Path,
    r: float | None = None,
    k: int | None = None,
    filter_path: str | Path | None = None,
    filter_cut: float | None = None,
    device: str = "cpu",
) -> tuple[GraphSource, dict[str, Any]]:
    """The metric-learning graph source (embedding + search [+ filter]) and its knobs."""
    from acts_gnn.graph.metric_learning import MetricLearning
    from acts_gnn.train.filter import EmbeddingGraphs

    stage = MetricLearning(str(embedding), rVal=r, knnVal=k, device=device)
    graphs: GraphSource = EmbeddingGraphs(stage)
    knobs: dict[str, Any] = {"embedding": str(embedding), "r": stage.rVal, "k": stage.knnVal}
    if filter_path is not None:
        filtered = FilteredGraphs(graphs, filter_path, filter_cut, device)
        knobs.update(filter=str(filter_path), filter_cut=filtered.cut)
        graphs = filtered
    return graphs, knobs


@dataclass
class GraphFileReport:
    """What :func:`write_graph_files` did (``graphs.json``)."""

    builder: dict[str, Any]
    selection: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped_existing: list[int] = field(default_factory=list)  # graph files kept as they were
    #: existing files built from other inputs (another map, other hits): rebuilt
    rebuilt_stale: list[int] = field(default_factory=list)

    def totals(self) -> dict[str, float]:
        """Edge efficiency, purity and edges per hit over the written events."""
        found = sum(e["target_edges_found"] for e in self.events)
        targets = sum(e["target_edges"] for e in self.events)
        true = sum(e["true_edges"] for e in self.events)
        edges = sum(e["edges"] for e in self.events)
        hits = sum(e["hits"] for e in self.events)
        return {
            "events": len(self.events),
            "edge_efficiency": found / targets if targets else float("nan"),
            "edge_purity": true / edges if edges else float("nan"),
            "edges_per_hit": edges / hits if hits else float("nan"),
            "seconds_per_event": (
                sum(e["seconds"] for e in self.events) / len(self.events)
                if self.events
                else float("nan")
            ),
        }

    def write(self, directory: Path) -> Path:
        body = {**asdict(self), "totals": self.totals()}
        return write_text(
            directory / "graphs.json", json.dumps(body, indent=1, default=float) + "\n"
        )


def write_graph_files(
    events: Any,
    graphs: GraphSource,
    output: str | Path,
    builder: dict[str, Any],
    selection: TruthSelection | None = None,
    overwrite: bool = False,
    progress: Any | None = None,
    report_dir: str | Path | None = None,
) -> GraphFileReport:
    """Build ``graphs(event)`` for every event of ``events`` and write its graph file to
    ``output``; returns (and writes as ``graphs.json``) the report (module docstring).
    ``report_dir``: where ``graphs.json`` is read and written (default ``output``; a task of
    :mod:`acts_gnn.train.graph_files_parallel` keeps its own)."""
    selection = selection or TruthSelection()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    report_dir = Path(report_dir) if report_dir is not None else output
    report_dir.mkdir(parents=True, exist_ok=True)
    report = GraphFileReport(builder=builder, selection=asdict(selection))
    previous = report_dir / "graphs.json"
    if previous.is_file():
        before = json.loads(previous.read_text())
        if before.get("builder") == builder and before.get("selection") == report.selection:
            report.events = list(before.get("events", []))
        elif not overwrite:
            raise ValueError(
                f"{output} holds graphs of another builder ({before.get('builder')}): "
                "give another folder, or --overwrite to rebuild"
            )
    identity = getattr(graphs, "identity", None) or json.dumps(builder, sort_keys=True)
    for event in events:
        key = cache_key(identity, event)
        exists = graph_path(output, event.event_id).is_file()
        if exists and not overwrite and stored_cache_key(output, event.event_id) == key:
            report.skipped_existing.append(event.event_id)
        else:
            if exists and not overwrite:
                report.rebuilt_stale.append(event.event_id)
            start = time.perf_counter()
            edge_index, edge_attr = graphs(event)
            seconds = time.perf_counter() - start
            save_graph(output, event.event_id, edge_index, edge_attr, cache_key=key)
            metrics = EdgeMetrics()
            metrics.add(edge_index, truth_graph(event, selection), truth_graph(event), event.n_hits)
            report.events = [e for e in report.events if e["event_id"] != event.event_id]
            report.events.append(
                {
                    "event_id": event.event_id,
                    "hits": event.n_hits,
                    "edges": int(edge_index.shape[1]),
                    "target_edges": metrics.truth_total,
                    "target_edges_found": metrics.truth_found,
                    "true_edges": metrics.true_edges,
                    "seconds": round(seconds, 3),
                }
            )
            report.write(report_dir)
        if progress is not None:
            progress.update(1)
    report.events.sort(key=lambda e: e["event_id"])
    report.write(report_dir)
    return report


# ---------------------------------------------------------------------------------------------
# command
# ---------------------------------------------------------------------------------------------


def graphs_command(args: Any) -> int:
    """``acts-gnn graphs`` (``args``: its options, :mod:`acts_gnn.cli.parser`): write the graph
    files and ``graphs.json``, print the totals."""
    from acts_gnn.distributed.executor import ParallelOptions
    from acts_gnn.io.atomic import require_writable_dir
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.progress import progress_bar

    torch.set_num_threads(args.threads)
    dataset = PreparedDataset(args.input)
    if args.skip < 0 or (args.events is not None and args.events < 1):
        raise ValueError("--skip must be >= 0 and --events >= 1")
    ids = dataset.event_ids[args.skip :]
    ids = ids[: args.events] if args.events else ids
    if not ids:
        raise ValueError(f"no events left in {args.input} after --skip {args.skip}")
    require_writable_dir(args.output)  # before the work, not after it
    dataset = PreparedDataset(args.input, ids)
    graphs, builder = graph_source(args)
    selection = TruthSelection(min_pt=args.min_pt, min_hits=3)
    parallel = ParallelOptions.from_args(args)
    if parallel.enabled:  # the same files, written by event chunks on Dask workers
        from acts_gnn.train.graph_files_parallel import write_graph_files_parallel

        report = write_graph_files_parallel(args, list(ids), builder, selection, parallel)
    else:
        with progress_bar(len(dataset), "graphs", "event", enabled=not args.quiet) as bar:
            report = write_graph_files(
                dataset, graphs, args.output, builder, selection, args.overwrite, bar
            )
    _print_totals(args, builder, selection, report)
    return 0


def graph_source(args: Any) -> tuple[GraphSource, dict[str, Any]]:
    """The graph source ``acts-gnn graphs`` was asked for (``args``: its options) and the
    builder record of ``graphs.json`` (builder, files, knobs)."""
    from acts_gnn.chain.defaults import default_files

    files = default_files()
    builder: dict[str, Any] = {"graph": args.graph}
    graphs: GraphSource
    if args.graph == "module-map":
        module_map = args.module_map or files.require(files.module_map, "module map")
        graphs = module_map_graphs(module_map, args.threads)
        builder["module_map"] = str(module_map)
    else:
        embedding = args.embedding or files.require(files.embedding, "embedding model")
        filter_path = None
        if not args.no_filter:
            filter_path = args.filter or files.require(files.filter, "edge filter")
        graphs, knobs = metric_learning_graphs(
            embedding, args.r, args.k, filter_path, args.filter_cut, args.device
        )
        builder.update(knobs)
    return graphs, builder


def _print_totals(
    args: Any, builder: dict[str, Any], selection: TruthSelection, report: GraphFileReport
) -> None:
    t = report.totals()
    knobs_text = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in builder.items()
    )
    print(f"graphs of {args.input} -> {args.output} ({knobs_text})")
    print(
        f"{t['events']} events: edge efficiency {t['edge_efficiency']:.4f} (pT > "
        f"{args.min_pt:g} GeV, >= {selection.min_hits} hits), purity {t['edge_purity']:.4f}, "
        f"{t['edges_per_hit']:.1f} edges per hit, {t['seconds_per_event']:.1f} s per event"
    )
    if report.skipped_existing:
        print(
            f"kept {len(report.skipped_existing)} existing graph files (--overwrite rebuilds them)"
        )
    if report.rebuilt_stale:
        print(
            f"rebuilt {len(report.rebuilt_stale)} existing graph files built from other inputs "
            "(another module map or data set)"
        )

#!/usr/bin/env python3
"""Module map -> GNN -> each track builder on prepared events, with ACTS-style track metrics.

The candidates before any fit, scored with :class:`acts_gnn.metrics.TrackMetrics` (ACTS
efficiency / fake / duplicate ratios, TrackML score), one row per track builder; node and
edge features as the model was trained (its metadata). Usage::

    python benchmarks/chain_preview.py --input data/mu200-test-prepared \\
        [--module-map geometry/generic/module-map.npz] [--model geometry/generic/models/gnn.pt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from _machine import machine_line

from acts_gnn.chain.defaults import default_files, edge_classifier, pipeline_features
from acts_gnn.chain.tracks import (
    ConnectedComponentsTrackBuilding,
    JunctionRemovalTrackBuilding,
    WalkthroughTrackBuilding,
)
from acts_gnn.graph.features import node_feature_matrix
from acts_gnn.graph.module_map.formats import load_module_map
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.io.event_store import PreparedDataset
from acts_gnn.metrics.tracks import ParticleSelection, TrackMetrics


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, required=True)
    files = default_files()
    parser.add_argument("--module-map", type=Path, default=files.module_map)
    parser.add_argument(
        "--model", type=Path, default=files.gnn_torchscript, help=".onnx or TorchScript .pt"
    )
    parser.add_argument("--cut", type=float, default=0.5)
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = PreparedDataset(args.input)
    if args.events:
        dataset = PreparedDataset(args.input, dataset.event_ids[: args.events])
    graph_builder = ModuleMapGraphBuilder(load_module_map(args.module_map))
    classifier = edge_classifier(args.model, cut=0.0)
    names, scales = pipeline_features(args.model)
    builders = {
        "connected components": ConnectedComponentsTrackBuilding(cut=args.cut),
        "junction removal": JunctionRemovalTrackBuilding(cut=args.cut),
        "walkthrough": WalkthroughTrackBuilding(cut_high=args.cut, cut_low=0.1),
    }
    selection = ParticleSelection(min_pt=1.0, min_hits=7, max_abs_eta=2.5)
    metrics = {name: TrackMetrics(selection=selection) for name in builders}
    times: dict[str, list[float]] = {"graph": [], "gnn": [], **{n: [] for n in builders}}
    for event in dataset:
        t0 = time.perf_counter()
        graph = graph_builder(event.positions(), event.hits["geometry_id"])
        t1 = time.perf_counter()
        x = node_feature_matrix(event.positions(), names, scales)
        scores = classifier.classify(x, graph.edge_index, graph.edge_features).scores.numpy()
        t2 = time.perf_counter()
        times["graph"].append(t1 - t0)
        times["gnn"].append(t2 - t1)
        for name, builder in builders.items():
            t = time.perf_counter()
            tracks = builder(graph.edge_index, scores, event.n_hits, positions=event.positions())
            times[name].append(time.perf_counter() - t)
            metrics[name].add(event, tracks, trackml=True)
    print(machine_line())
    print(f"events: {len(dataset)} from {args.input}; model {args.model}; edge cut {args.cut}")
    print("selection: pT > 1 GeV, |eta| < 2.5, >= 7 measurements; tracks before any fit")
    print(
        f"time per event: graph {statistics.median(times['graph']):.3f} s, GNN {statistics.median(times['gnn']):.3f} s"
    )
    header = f"{'builder':>22} {'efficiency':>10} {'fake':>7} {'duplicate':>9} {'TrackML':>8} {'time [s]':>8}"
    print(header)
    for name, m in metrics.items():
        print(
            f"{name:>22} {m.efficiency:>10.4f} {m.fake_ratio:>7.4f} {m.duplicate_ratio:>9.4f} "
            f"{m.trackml_score:>8.4f} {statistics.median(times[name]):>8.3f}"
        )


if __name__ == "__main__":
    main()

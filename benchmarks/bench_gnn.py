#!/usr/bin/env python3
"""GNN edge-classifier inference time per event vs graph size, per backend.

Graphs of increasing size are made from the same held-out prepared events by keeping only the
hits in a phi wedge of a growing fraction of the detector (default 1/16, 1/8, 1/4, 1/2, all)
and building the module-map graph of those hits. Each graph is scored by the model (the whole
edge-classifier stage: inputs to tensors, model, sigmoid, cut) with every backend:

* ``torch-cpu``: the TorchScript file with torch, one thread;
* ``onnx-cpu``: the ONNX file with ONNX Runtime's CPU provider, one intra-op thread;
* ``torch-cuda`` / ``onnx-cuda``: the same on the GPU, when ``torch.cuda.is_available()``
  (and, for ONNX, when onnxruntime has the CUDA provider).

Times are the median of ``--repeat`` runs after ``--warmup`` untimed runs (TorchScript
optimizes on its first calls). Prints one row per event and wedge (nodes, edges, ms per
backend), the largest difference of the backends' scores from the first backend, and per
backend the exponent k of time = c * edges^k (least squares in log-log over all rows; ~1 for
a message-passing GNN, whose cost is linear in edges and nodes).

Usage: ``python benchmarks/bench_gnn.py [--input data/mu200-test-prepared] [--module-map
geometry/generic/module-map.npz] [--model geometry/generic/models/gnn.pt] [--onnx FILE] [--events 2]
[--fractions 0.0625 0.125 0.25 0.5 1] [--repeat 3] [--warmup 2]``. ``--model`` may be the ``.pt`` or the
``.onnx``; the other one is looked for next to it (same name, other suffix).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import torch
from _machine import machine_line

from acts_gnn.evaluation.gnn import gnn_classifier
from acts_gnn.graph.features import node_feature_matrix

REPO = Path(__file__).resolve().parent.parent


def model_files(model: Path, onnx: Path | None) -> dict[str, Path]:
    """{"torch": TorchScript file, "onnx": ONNX file}, those that exist."""
    files: dict[str, Path] = {}
    if model.suffix == ".onnx":
        files["onnx"] = model
        files["torch"] = model.with_suffix(".pt")
    else:
        files["torch"] = model
        files["onnx"] = model.with_suffix(".onnx")
    if onnx is not None:
        files["onnx"] = onnx
    return {k: v for k, v in files.items() if v.is_file()}


def backends(files: dict[str, Path]) -> dict[str, Any]:
    """name -> classifier stage (cut 0), for every backend this machine has."""
    out: dict[str, Any] = {}
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    for device in devices:
        if "torch" in files:
            out[f"torch-{device}"] = gnn_classifier(files["torch"], device, threads=1)[0]
        if "onnx" in files:
            try:
                classifier = gnn_classifier(files["onnx"], device, threads=1)[0]
            except ImportError as err:
                print(f"onnx-{device}: skipped ({err})")
                continue
            if device == "cuda" and "CUDAExecutionProvider" not in classifier.providers:
                print("onnx-cuda: skipped (this onnxruntime has no CUDA provider)")
                continue
            out[f"onnx-{device}"] = classifier
    return out


def run(classifier: Any, x: np.ndarray, edges: np.ndarray, attr: np.ndarray) -> torch.Tensor:
    result = classifier.classify(x, edges, attr)
    if result.scores.is_cuda:
        torch.cuda.synchronize()
    return result.scores


def median_time(repeat: int, function: Any, warmup: int = 2) -> tuple[Any, float]:
    """(result, median wall time in s) of ``repeat`` calls after ``warmup`` calls (TorchScript
    optimizes a graph on its first calls)."""
    result = None
    for _ in range(warmup):
        result = function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def fit_exponent(sizes: list[int], seconds: list[float]) -> float:
    """k of seconds = c * sizes^k, least squares in log-log."""
    if len(set(sizes)) < 2:
        return float("nan")
    k, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=REPO / "data" / "mu200-test-prepared")
    parser.add_argument(
        "--module-map", type=Path, default=REPO / "geometry" / "generic" / "module-map.npz"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=REPO / "geometry" / "generic" / "models" / "gnn.pt",
        help=".pt or .onnx",
    )
    parser.add_argument("--onnx", type=Path, default=None, help="ONNX file (default: by --model)")
    parser.add_argument("--events", type=int, default=2, help="held-out events (default 2)")
    parser.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=[1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0],
        help="phi-wedge fractions of the hits kept (default 1/16 .. 1)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timing: median of N runs")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from acts_gnn.graph.module_map.formats import load_module_map
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
    from acts_gnn.io.event_store import PreparedDataset

    files = model_files(args.model, args.onnx)
    if not files:
        sys.exit(f"bench_gnn: no model at {args.model} (nor its .pt / .onnx twin)")
    stages = backends(files)
    from acts_gnn.chain.defaults import model_metadata, pipeline_features

    any_file = next(iter(files.values()))
    names, scales = pipeline_features(any_file)
    meta = model_metadata(any_file)
    builder = ModuleMapGraphBuilder(load_module_map(args.module_map))
    dataset = PreparedDataset(args.input)
    dataset = PreparedDataset(args.input, dataset.event_ids[: args.events])

    print(machine_line())
    print(f"torch {torch.__version__}, 1 thread; CUDA: {torch.cuda.is_available()}")
    print(f"model: {', '.join(str(p) for p in files.values())} ({meta.get('model_config')})")
    print(
        f"edge features: {meta.get('edge_features') or 'none'}; module map: {args.module_map}; "
        f"events: {args.input} {dataset.event_ids}"
    )
    print(
        f"time per graph: median of {args.repeat} runs after {args.warmup} warm-up runs, "
        "milliseconds"
    )
    names_b = list(stages)
    header = f"{'event':>6} {'wedge':>7} {'nodes':>8} {'edges':>8}" + "".join(
        f" {n:>11}" for n in names_b
    )
    print(header)
    print("-" * len(header))
    sizes: list[int] = []
    seconds: dict[str, list[float]] = {n: [] for n in names_b}
    worst: dict[str, float] = {n: 0.0 for n in names_b}
    for event in dataset:
        positions = event.positions()
        phi = np.arctan2(positions[:, 1], positions[:, 0]) + np.pi
        for fraction in sorted(args.fractions):
            keep = phi < 2 * np.pi * fraction if fraction < 1 else np.ones(len(phi), bool)
            pos = positions[keep]
            graph = builder(pos, event.hits["geometry_id"][keep])
            edges, attr = graph.edge_index, graph.edge_features
            x = node_feature_matrix(pos, names, scales)
            row = f"{event.event_id:>6} {fraction:>7.4g} {len(pos):>8} {edges.shape[1]:>8}"
            reference = None
            for name, stage in stages.items():
                scores, t = median_time(
                    args.repeat,
                    lambda stage=stage, x=x, edges=edges, attr=attr: run(stage, x, edges, attr),
                    args.warmup,
                )
                scores = scores.cpu().numpy()
                if reference is None:
                    reference = scores
                elif len(scores):
                    worst[name] = max(worst[name], float(np.abs(scores - reference).max()))
                seconds[name].append(t)
                row += f" {1e3 * t:>11.1f}"
            sizes.append(int(edges.shape[1]))
            print(row, flush=True)
    if len(names_b) > 1:
        print(
            f"max |score - {names_b[0]}|: " + ", ".join(f"{n} {worst[n]:.1e}" for n in names_b[1:])
        )
    print(
        f"time ~ edges^k, least squares in log-log over {len(sizes)} graphs: "
        + ", ".join(f"{n} k = {fit_exponent(sizes, seconds[n]):.2f}" for n in names_b)
    )
    big = int(np.argmax(sizes))
    print(
        f"per edge on the largest graph ({sizes[big]} edges): "
        + ", ".join(f"{n} {1e6 * seconds[n][big] / max(sizes[big], 1):.1f} us" for n in names_b)
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""GNN track finding on CPU, one core: the classifier engines and precisions side by side.

For each prepared folder (``--inputs``, one per pile-up; held-out events) and each event, the
framework-free chain of ``acts-gnn compare`` (:class:`~acts_gnn.chain.pipeline.GnnPipeline`:
node features -> C++ module-map graph -> node shrinking -> Interaction Network (stage cut
0.05) -> walkthrough track building 0.5 / 0.1, >= 7 measurements) runs once per classifier
configuration, all in this one process, on the same events:

* ``reference``: the TorchScript file as it is (``engine="model"``: what ran before the fused
  engine existed);
* ``fused-fp32``: :class:`~acts_gnn.nn.fused.FusedInference` in float32 (``engine="fused"``;
  torch calls on 4096-edge slices);
* ``core-fp32``: :class:`~acts_gnn.nn.core_inference.CoreInference`, the C++ core's float32 kernel
  (the default, ``engine="auto"``);
* ``fused-bf16``: :class:`~acts_gnn.nn.fused.FusedInference` with ``precision="bf16"``;
* ``core-bf16``: :class:`~acts_gnn.nn.core_inference.CoreInference` with bfloat16 products (AVX-512
  BF16 only, left out of the default ``--configs`` elsewhere; ``engine="auto"`` with
  ``precision="bf16"`` there).

Printed: the machine, the load (``uptime``) before and after, per MU and configuration the
median over ``--repeats`` runs (after one warm-up) of each stage's wall time and of the
process's CPU time for the whole chain (``cpu``: on a machine shared with other jobs it is
the closer estimate of one free core; ``x ref`` is the CPU-time speed-up against
``reference``), per event; event sizes (hits, edges); the edge efficiency (pT > 1 GeV target
edges, >= 3 measurements) and purity at the model's shipped cut (0.5) and the ACTS track
efficiency (pT > 1 GeV, |eta| < 2.5, >= 7 measurements, matching ratio 0.5) and fake ratio
of the candidates; then per configuration the exponent k of time = c * hits^k (log-log
least squares over the MU points) and the speed-up against ``reference`` at each MU.
``--profile N`` prints the torch profiler's N top operators of one classifier call per
configuration on the last input's first event. ``--sequencer DIR`` also runs an ``acts.examples.Sequencer`` (ROOT input, digitization,
space points, :class:`~acts_gnn.sequencer.algorithm.TrackFindingAlgorithmGnn`) on the
simulation folder DIR with numThreads 1 and 2 and prints events per second of each (the
classifier's engine: ``--sequencer-engine``, default ``auto``; one torch / core thread per
event).

The machine these were taken on is shared: every time is an upper bound, and only ratios
taken in one run are meaningful. Usage::

    python benchmarks/bench_inference.py --inputs /tmp/h21/mu10-prepared \\
        /tmp/h21/mu50-prepared /tmp/h21/mu200-prepared [--repeats 3] [--events 2] \\
        [--configs reference fused-fp32 fused-bf16] [--sequencer /tmp/h21/mu200] \\
        [--models shipped=geometry/generic/models/gnn.pt small=geometry/generic/models/gnn-small.pt]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import torch
from _machine import machine_line

CONFIGS = {
    "reference": {"engine": "model", "precision": "fp32"},
    "fused-fp32": {"engine": "fused", "precision": "fp32"},
    "core-fp32": {"engine": "core", "precision": "fp32"},
    "fused-bf16": {"engine": "fused", "precision": "bf16"},
    "core-bf16": {"engine": "core", "precision": "bf16"},
}
STAGE_CUT = 0.05  # acts-gnn compare's GNN stage cut; the track builder cuts at 0.5 / 0.1
MIN_MEASUREMENTS = 7


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime: unavailable"


def make_pipeline(config: dict[str, str], model: Path | None = None) -> tuple[Any, float]:
    """(GnnPipeline as ``acts-gnn compare`` builds it, the model's shipped score cut), with
    the GNN file ``model`` (default: the shipped one)."""
    from acts_gnn.chain import tracks
    from acts_gnn.chain.defaults import default_files, edge_classifier, pipeline_features
    from acts_gnn.chain.pipeline import GnnPipeline
    from acts_gnn.graph.module_map.formats import load_module_map
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder

    files = default_files()
    gnn = files.gnn() if model is None else model
    names, scales = pipeline_features(gnn)
    classifier = edge_classifier(
        gnn, cut=STAGE_CUT, node_features=tuple(names), feature_scales=tuple(scales)
    )
    classifier.engine = config["engine"]
    classifier.precision = config["precision"]
    classifier._setup_engine()
    cut = float(classifier.metadata.get("score_cut", 0.5))
    builder = tracks.WalkthroughTrackBuilding(
        cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=MIN_MEASUREMENTS
    )
    graph = ModuleMapGraphBuilder(load_module_map(files.module_map), n_threads=1)
    pipeline = GnnPipeline(graph, [classifier], builder, names, scales, shrinkNodes=True)
    return pipeline, cut


def edge_metrics_at(pipeline: Any, event: Any, target: np.ndarray, every: np.ndarray, cut: float):
    """(truth edges found, truth edges, true kept, kept) of the classifier at ``cut``."""
    from acts_gnn.graph.features import node_feature_matrix
    from acts_gnn.metrics.edges import edge_truth_mask

    pos = event.positions()
    graph = pipeline.graphConstructor(pos, event.hits["geometry_id"])
    x = node_feature_matrix(pos, pipeline.nodeFeatures, pipeline.featureScales)
    scores = pipeline.edgeClassifiers[0].classify(x, graph.edge_index, graph.edge_features).scores
    kept = graph.edge_index[:, scores.numpy() > cut]
    found = edge_truth_mask(target, kept, event.n_hits)
    true = edge_truth_mask(kept, every, event.n_hits)
    return np.array([found.sum(), len(found), true.sum(), len(true)], dtype=np.float64)


def bench_folder(
    folder: Path, n_events: int, configs: list[str], repeats: int, models: dict[str, Path | None]
) -> dict[str, Any]:
    from acts_gnn.graph.truth import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.metrics import TrackMetrics

    dataset = PreparedDataset(folder)
    dataset = PreparedDataset(folder, dataset.event_ids[:n_events])
    events = list(dataset)
    truths = [
        (truth_graph(e, TruthSelection(min_pt=1.0, min_hits=3)), truth_graph(e)) for e in events
    ]
    out: dict[str, Any] = {"hits": statistics.mean(e.n_hits for e in events), "configs": {}}
    for (label, model), config in itertools.product(models.items(), configs):
        name = config if len(models) == 1 else f"{config}/{label}"
        pipeline, cut = make_pipeline(CONFIGS[config], model)
        per_repeat: list[dict[str, float]] = []
        candidates = []
        for r in range(repeats + 1):  # the first pass is the warm-up
            sums: dict[str, float] = {}
            candidates = []
            for event in events:
                cpu = time.process_time()
                result = pipeline.run_event(event)
                sums["cpu"] = sums.get("cpu", 0.0) + (time.process_time() - cpu) / len(events)
                candidates.append(result.candidates)
                for stage, s in result.seconds.items():
                    sums[stage] = sums.get(stage, 0.0) + s / len(events)
                out["edges"] = result.counts.get("graph construction edges", 0)
            if r:
                per_repeat.append(sums)
        stages = {k: statistics.median(p[k] for p in per_repeat) for k in per_repeat[0]}
        metrics = TrackMetrics(
            TruthSelection(min_pt=1.0, min_hits=MIN_MEASUREMENTS, max_abs_eta=2.5)
        )
        edges = np.zeros(4)
        for event, cands, (target, every) in zip(events, candidates, truths):
            metrics.add(event, cands, trackml=False)
            edges += edge_metrics_at(pipeline, event, target, every, cut)
        out["configs"][name] = {
            "stages": stages,
            "edge_efficiency": edges[0] / max(edges[1], 1),
            "edge_purity": edges[2] / max(edges[3], 1),
            "track_efficiency": metrics.efficiency,
            "fake_ratio": metrics.fake_ratio,
            "candidates": statistics.mean(len(c) for c in candidates),
        }
    return out


def profile_classifier(folder: Path, configs: list[str], rows: int) -> None:
    """Print the torch profiler's top operators (self CPU time) of one classifier call per
    configuration on the first event of ``folder``."""
    from torch.profiler import ProfilerActivity, profile

    from acts_gnn.graph.features import node_feature_matrix
    from acts_gnn.io.event_store import PreparedDataset

    event = next(iter(PreparedDataset(folder)))
    for name in configs:
        pipeline, _ = make_pipeline(CONFIGS[name])
        pos = event.positions()
        graph = pipeline.graphConstructor(pos, event.hits["geometry_id"])
        x = node_feature_matrix(pos, pipeline.nodeFeatures, pipeline.featureScales)
        classifier = pipeline.edgeClassifiers[0]
        classifier.classify(x, graph.edge_index, graph.edge_features)  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            classifier.classify(x, graph.edge_index, graph.edge_features)
        print(f"profile of one classifier call, {name}, {folder.name} event {event.event_id}:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def sequencer_rate(
    sim: Path, threads: int, events: int, precision: str, engine: str
) -> dict[str, float]:
    """A Sequencer running the GNN chain on ``sim`` (a fresh process): {"rate": events per
    second, "read": mean seconds per event reading the space points (the Python loop, under
    the GIL), "chain": mean seconds per event of the GnnPipeline}."""
    sim = sim.resolve()  # the process runs in the benchmarks folder
    code = f"""
import os, time, json
os.environ["OMP_NUM_THREADS"] = "1"
import torch
torch.set_num_threads(1)
import acts, acts.examples
from acts_gnn.detector.generic import load_generic_detector
from acts_gnn.sequencer.compare import CompareConfig, gnn_stages
from acts_gnn.sequencer.reconstruction import addGnn, addRootSimulationInput, addSpacePoints
detector = load_generic_detector()
stages = gnn_stages(CompareConfig(input={str(sim)!r}, output="/tmp", precision={precision!r}))
for classifier in stages["edgeClassifiers"]:
    classifier.engine = {engine!r}
    classifier._setup_engine()
s = acts.examples.Sequencer(events={events}, numThreads={threads}, logLevel=acts.logging.WARNING,
                            trackFpes=False, outputDir="/tmp")
for d in detector.decorators:
    s.addContextDecorator(d)
level = acts.logging.WARNING
addRootSimulationInput(s, {str(sim)!r}, detector, 7, level)
sp = addSpacePoints(s, detector, detector.spacepoint_selection_file, "gnn_spacepoints", level)
addGnn(s, **stages, inputSpacePoints=sp, device="cpu", shrinkNodes=True, logLevel=level,
       detector=detector, matchTracks=False, minMeasurementsPerTrack=7)
t = time.perf_counter()
s.run()
algorithm = s.gnnAlgorithm
total = algorithm.times.summary()["total"]["mean"]
read = sum(algorithm.read_seconds) / len(algorithm.read_seconds)
print(json.dumps({{"seconds": time.perf_counter() - t, "read": read, "chain": total}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    if done.returncode:
        sys.exit(f"sequencer run failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"rate": events / out["seconds"], "read": out["read"], "chain": out["chain"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=Path, nargs="+", required=True)
    parser.add_argument("--events", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    from acts_gnn import _core

    runnable = [c for c in CONFIGS if c != "core-bf16" or _core.has_bf16_products()]
    parser.add_argument("--configs", nargs="+", default=runnable, choices=list(CONFIGS))
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        metavar="LABEL=PATH",
        help="GNN files to run each config with (rows CONFIG/LABEL; default: the shipped GNN)",
    )
    parser.add_argument("--sequencer", type=Path, default=None, help="simulation folder")
    parser.add_argument("--sequencer-events", type=int, default=4)
    parser.add_argument("--sequencer-precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--sequencer-engine", default="auto", choices=("auto", "fused", "core"))
    parser.add_argument(
        "--profile", type=int, default=0, help="print the top N operators of each config"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(machine_line())
    print(f"torch {torch.__version__}, one thread; load before: {uptime()}")
    print(
        f"time per event [s], median of {args.repeats} passes over {args.events} events after "
        "one warm-up pass; upper bounds (shared machine)"
    )
    models: dict[str, Path | None] = {"shipped": None}
    if args.models:
        models = {}
        for item in args.models:
            label, sep, path = item.partition("=")
            if not sep or not path:
                parser.error(f"--models wants LABEL=PATH, got {item!r}")
            models[label] = Path(path)
    results = []
    for folder in args.inputs:
        results.append(
            (folder.name, bench_folder(folder, args.events, args.configs, args.repeats, models))
        )
    header = (
        f"{'events':<18} {'config':<17} {'hits':>7} {'edges':>7} {'graph':>7} {'classif':>8} "
        f"{'tracks':>7} {'total':>7} {'cpu':>7} {'x ref':>6} {'edge eff':>8} {'purity':>7} "
        f"{'trk eff':>8} {'fake':>6}"
    )
    print(header)
    print("-" * len(header))
    for label, r in results:
        ref = r["configs"].get("reference", r["configs"].get("reference/shipped"))
        for name, c in r["configs"].items():
            st = c["stages"]
            classifier = sum(v for k, v in st.items() if k.startswith("classifier"))
            speedup = ref["stages"]["cpu"] / st["cpu"] if ref else float("nan")
            print(
                f"{label:<18} {name:<17} {r['hits']:>7.0f} {r['edges']:>7.0f} "
                f"{st['graph construction']:>7.3f} {classifier:>8.3f} {st['track building']:>7.3f} "
                f"{st['total']:>7.3f} {st['cpu']:>7.3f} {speedup:>6.2f} {c['edge_efficiency']:>8.4f} "
                f"{c['edge_purity']:>7.4f} {c['track_efficiency']:>8.4f} {c['fake_ratio']:>6.3f}"
            )
    if len(results) > 1:
        hits = [r["hits"] for _, r in results]
        parts = []
        for name in results[0][1]["configs"]:
            for key in ("total", "cpu"):
                totals = [r["configs"][name]["stages"][key] for _, r in results]
                k = float(np.polyfit(np.log(hits), np.log(totals), 1)[0])
                parts.append(f"{name} k = {k:.2f} ({key})")
        print("GNN track finding time ~ hits^k: " + ", ".join(parts))
    if args.profile:
        profile_classifier(args.inputs[-1], args.configs, args.profile)
    if args.sequencer is not None:
        rates = {
            t: sequencer_rate(
                args.sequencer,
                t,
                args.sequencer_events,
                args.sequencer_precision,
                args.sequencer_engine,
            )
            for t in (1, 2)
        }
        print(
            f"Sequencer on {args.sequencer} ({args.sequencer_events} events, GNN chain, "
            f"{args.sequencer_precision}, engine {args.sequencer_engine}): 1 thread {rates[1]['rate']:.3f} events/s, 2 threads "
            f"{rates[2]['rate']:.3f} events/s, ratio {rates[2]['rate'] / rates[1]['rate']:.2f}; "
            f"per event (1 thread): space-point reading {rates[1]['read']:.3f} s (Python, holds "
            f"the GIL), GnnPipeline {rates[1]['chain']:.3f} s"
        )
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()

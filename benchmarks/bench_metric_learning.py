"""Inference time per step of the metric-learning chain vs the number of hits N.

Steps: embedding (MLP forward), neighbour search (radius r, at most k per hit; every backend
asked for), edge features (C++ core), edge filter (MLP forward over the edges). The hits are
random subsets of the events of a prepared folder (fewer hits = a lower pile-up at the same
geometry), or toy events when no folder is given. Without trained models, random-weight
models are used (the neighbour search then sees an untrained, much denser embedding: give
``--embedding`` for meaningful search times). Every backend returns the same edges (checked);
``grid`` on the CPU is the C++ core's cell search, ``grid-torch`` the same cells searched with
torch (what CUDA tensors run).

    python benchmarks/bench_metric_learning.py --input data/mu200-test-prepared \\
        --embedding output/embedding/embedding.pt --filter output/filter/filter.pt \\
        --sizes 10000 30000 100000 --backends grid faiss kdtree

Prints a table (milliseconds, median of ``--repeat`` runs) and the machine it ran on. With
``--quality``: edge efficiency, purity and edges per hit after each step on whole events, the
filter run by each of ``--engines`` (``model``: the model's own forward over all edges at
once; ``fused``: :class:`acts_gnn.nn.fused.FusedEdgeFilter`; ``fused-bf16``: the same in
bfloat16; ``core``: :class:`acts_gnn.nn.core_inference.CoreEdgeFilter`, the default on CPU;
``core-bf16``: the same with bfloat16 products, AVX-512 BF16 only) on the same graphs, with
its time and the edges whose keep decision each engine and the first disagree on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line

from acts_gnn.event import Event
from acts_gnn.graph import knn
from acts_gnn.graph.features import node_features
from acts_gnn.graph.knn import build_edges
from acts_gnn.graph.metric_learning import MetricLearning, edge_features_tensor, orient_outwards
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.nn.filter import EdgeFilter

#: --quality's filter engines: TorchEdgeClassifier's engine (before any "-") -> precision
ENGINES = {
    "model": "fp32",
    "fused": "fp32",
    "fused-bf16": "bf16",
    "core": "fp32",
    "core-bf16": "bf16",
}
NAMES = ["r", "phi", "z", "eta"]
SCALES = [1000.0, np.pi, 1000.0, 1.0]


def _subset(event: Event, n: int, seed: int) -> Event:
    rows = np.sort(np.random.default_rng(seed).permutation(event.n_hits)[:n])
    return Event(event.event_id, {c: v[rows] for c, v in event.hits.items()}, event.particles)


def _time(fn: Callable[[], Any], repeat: int, device: torch.device) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times), out


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    if args.input:
        from acts_gnn.io.event_store import PreparedDataset

        events = list(PreparedDataset(args.input))[: args.events]
    else:
        from acts_gnn.train.config import SyntheticConfig
        from acts_gnn.train.synthetic import synthetic_event

        toy = SyntheticConfig(n_particles=4000, noise_hits=2000)
        events = [synthetic_event(toy, i) for i in range(args.events)]
    torch.manual_seed(0)
    emb_model: Any = args.embedding or EmbeddingNet(4, 8, 256, 4).eval()
    stage = MetricLearning(emb_model, rVal=args.r, knnVal=args.k, device=device)
    names = stage.metadata.get("node_features", NAMES)
    scales = stage.metadata.get("feature_scales", SCALES)
    if args.filter:
        from acts_gnn.chain.classify import TorchEdgeClassifier

        filt: Any = TorchEdgeClassifier(args.filter, device=device, useEdgeFeatures=True)
        f_meta = _filter_metadata(args.filter)
        # the stage selects and scales the 6 raw edge features itself (its metadata's)
        edge_scales: torch.Tensor | None = None
        f_names, f_scales = f_meta.get("node_features", NAMES), f_meta.get("feature_scales", SCALES)
    else:
        filt = TorchFilter(EdgeFilter(4, 4, 256, 3).eval().to(device))
        # the random filter takes the first 4 features, scaled here
        edge_scales = torch.tensor([100.0, 0.1, 100.0, 1.0], device=device)
        f_names, f_scales = NAMES, SCALES
    rows = []
    for n in args.sizes:
        for e_i, event in enumerate(events):
            if n > event.n_hits:
                continue
            sub = _subset(event, n, e_i)
            x = torch.from_numpy(node_features(sub, names, scales)).to(device)
            pos = torch.from_numpy(sub.positions()).to(device)
            t_emb, emb = _time(lambda: stage.embed(x), args.repeat, device)  # noqa: B023
            rows.append({"N": n, "step": "embedding", "backend": "torch", "ms": t_emb})
            reference = None
            for backend in args.backends:
                if backend in ("faiss", "kdtree") and device.type == "cuda":
                    continue

                def search(b: str = backend, e: torch.Tensor = emb) -> torch.Tensor:
                    knn.CORE_GRID_ON_CPU = b != "grid-torch"
                    try:
                        return build_edges(e, stage.rVal, stage.knnVal, backend=b.split("-")[0])
                    finally:
                        knn.CORE_GRID_ON_CPU = True

                t_nn, edges = _time(search, args.repeat, device)
                if reference is None:
                    reference = edges
                assert torch.equal(edges, reference), f"{backend} edges differ"
                rows.append(
                    {
                        "N": n,
                        "step": "neighbours",
                        "backend": backend,
                        "ms": t_nn,
                        "edges": int(edges.shape[1]),
                    }
                )
            assert reference is not None
            edges = orient_outwards(reference, pos)
            t_feat, feats = _time(lambda: edge_features_tensor(pos, edges), args.repeat, device)  # noqa: B023
            rows.append({"N": n, "step": "edge features", "backend": "C++", "ms": t_feat})
            fx = torch.from_numpy(node_features(sub, f_names, f_scales)).to(device)
            attr = feats if edge_scales is None else feats[:, :4] / edge_scales
            t_f, _ = _time(lambda: filt.classify(fx, edges, attr), args.repeat, device)  # noqa: B023
            rows.append(
                {
                    "N": n,
                    "step": "filter",
                    "backend": "torch",
                    "ms": t_f,
                    "edges": int(edges.shape[1]),
                }
            )
    return rows


class TorchFilter:
    """A random-weight filter behind the classify() interface of the edge-classifier stages."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    @torch.inference_mode()
    def classify(self, x: torch.Tensor, edges: torch.Tensor, attr: torch.Tensor | None) -> Any:
        return torch.sigmoid(self.model(x, edges, attr))


def _filter_metadata(path: str) -> dict[str, Any]:
    from acts_gnn.nn.files import read_onnx_metadata, read_torchscript_metadata

    if str(path).endswith(".onnx"):
        return read_onnx_metadata(path)
    try:
        return read_torchscript_metadata(path)
    except RuntimeError:
        return dict(torch.load(path, weights_only=False).get("metadata", {}))


def quality(args: argparse.Namespace) -> str:
    """Edge efficiency (truth edges of particles with pT > --min-pt GeV and >= 3 hits), purity
    (edges that are truth edges of any particle) and edges per hit after the embedding + radius
    search and after the filter, summed over the events of ``--input``."""
    from acts_gnn.chain.classify import TorchEdgeClassifier
    from acts_gnn.graph.truth import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.metrics.edges import EdgeMetrics

    device = torch.device(args.device)
    stage = MetricLearning(args.embedding, rVal=args.r, knnVal=args.k, device=device)
    f_meta = _filter_metadata(args.filter) if args.filter else {}
    cut = args.cut if args.cut is not None else f_meta.get("score_cut", 0.5)
    engines = tuple(args.engines) if args.filter else ()
    filters = {
        engine: TorchEdgeClassifier(
            args.filter,
            cut=cut,
            device=device,
            useEdgeFeatures=True,
            engine=engine.split("-")[0],
            precision=ENGINES[engine],
        )
        for engine in engines
    }
    after_embedding = EdgeMetrics()
    after_filter = {engine: EdgeMetrics() for engine in engines}
    selection = TruthSelection(min_pt=args.min_pt, min_hits=3)
    seconds = {"embedding": 0.0, "neighbours": 0.0, "edge_features": 0.0}
    seconds.update({f"filter ({engine})": 0.0 for engine in engines})
    disagree = dict.fromkeys(engines[1:], 0)
    events = PreparedDataset(args.input)
    for i, event in enumerate(events):
        if i >= args.events:
            break
        graph = stage.for_event(event)
        for key, value in graph.timing.items():
            seconds[key] += value
        selected, everything = truth_graph(event, selection), truth_graph(event)
        edges = graph.edge_index.cpu().numpy()
        after_embedding.add(edges, selected, everything, event.n_hits)
        kept_by = {}
        for engine, filt in filters.items():
            assert graph.edge_features is not None
            x = node_features(event, f_meta["node_features"], f_meta["feature_scales"])
            attr = graph.edge_features  # raw: the stage selects and scales (its metadata)
            t = time.perf_counter()
            kept = filt.classify(torch.from_numpy(x).to(device), graph.edge_index, attr)
            seconds[f"filter ({engine})"] += time.perf_counter() - t
            kept_by[engine] = kept.edge_index.cpu().numpy()
            after_filter[engine].add(kept_by[engine], selected, everything, event.n_hits)
        if engines:  # edges that one of (the first engine, another) keeps and not the other
            first = {tuple(e) for e in kept_by[engines[0]].T.tolist()}
            for engine in engines[1:]:
                disagree[engine] += len(first ^ {tuple(e) for e in kept_by[engine].T.tolist()})
    n = max(after_embedding.events, 1)
    lines = [
        f"quality on {after_embedding.events} events of {args.input}: r={stage.rVal:g}, "
        f"k={stage.knnVal}, filter cut={cut:.4g}; efficiency: truth edges of pT > "
        f"{args.min_pt:g} GeV, >= 3 hits; purity: truth edges of any particle / edges",
        f"{'stage':<22} {'efficiency':>10} {'purity':>8} {'edges/event':>12} {'edges/hit':>9}",
    ]
    stages = [("embedding + radius", after_embedding)]
    stages += [(f"+ filter ({engine})", m) for engine, m in after_filter.items()]
    for name, m in stages:
        if m.events:
            s = m.summary()
            lines.append(
                f"{name:<22} {s['edge efficiency']:>10.4f} {s['edge purity']:>8.4f} "
                f"{s['edges per event']:>12.0f} {s['edges per node']:>9.2f}"
            )
    lines.append(
        "seconds per event: "
        + ", ".join(f"{k} {v / n:.2f}" for k, v in seconds.items() if v)
        + f" (hits per event {after_embedding.nodes / n:.0f})"
    )
    for engine, count in disagree.items():
        lines.append(f"edges kept by one of {engines[0]} and {engine} and not the other: {count}")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    """Median over events of each (N, step, backend): a fixed-width table."""
    keys: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        keys.setdefault((row["N"], row["step"], row["backend"]), []).append(row)
    lines = [
        f"{'N':>8} {'step':<14} {'backend':<8} {'ms':>10} {'edges':>10} {'edges/hit':>9}",
        "-" * 64,
    ]
    for (n, step, backend), group in keys.items():
        ms = statistics.median(r["ms"] for r in group)
        edges = [r["edges"] for r in group if "edges" in r]
        e = statistics.median(edges) if edges else None
        lines.append(
            f"{n:>8} {step:<14} {backend:<8} {ms:>10.1f} "
            + (f"{e:>10.0f} {e / n:>9.2f}" if e is not None else f"{'':>10} {'':>9}")
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default=None, help="prepared-event folder (default: toy events)")
    p.add_argument("--events", type=int, default=1, help="events to use (default 1)")
    p.add_argument("--embedding", default=None, help="embedding model (TorchScript/ONNX/ckpt)")
    p.add_argument("--filter", default=None, help="filter model (TorchScript or checkpoint)")
    p.add_argument("--r", type=float, default=None, help="radius (default: the model's)")
    p.add_argument("--k", type=int, default=None, help="max neighbours (default: the model's)")
    p.add_argument("--sizes", type=int, nargs="+", default=[3000, 10000, 30000, 100000])
    p.add_argument(
        "--backends",
        nargs="+",
        default=["grid", "faiss", "kdtree"],
        choices=("grid", "grid-torch", "faiss", "kdtree", "brute"),
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.add_argument("--quality", action="store_true", help="edge efficiency / purity instead")
    p.add_argument("--min-pt", type=float, default=1.0, help="target pT for --quality [GeV]")
    p.add_argument("--cut", type=float, default=None, help="filter cut (default: the model's)")
    p.add_argument(
        "--engines",
        nargs="+",
        choices=tuple(ENGINES),
        default=["model", "fused"],
        help="filter engines for --quality (the first is the reference of the disagreements)",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quality:
        if not args.input or not args.embedding:
            p.error("--quality needs --input and --embedding")
        print(machine_line())
        print(f"torch threads {torch.get_num_threads()}")
        print(quality(args))
        return 0
    rows = run(args)
    print(machine_line())
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}, input "
        f"{args.input or 'toy events'}, embedding {args.embedding or 'random weights'}"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

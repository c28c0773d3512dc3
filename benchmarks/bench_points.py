#!/usr/bin/env python3
"""The module-map chain's operating points on the same events: time of each pass and stage,
graph sizes, and what the candidates find before the fit.

For each operating point (``--points``), the GNN chain of ``acts-gnn compare`` (its stages
from :func:`~acts_gnn.sequencer.compare.gnn_stages`, track cleaning as the point does, one
torch thread, nodes without edges dropped) runs on each prepared held-out event (``--input``),
``--repeats`` times, the points taken in turn within each repeat so that a change of the
machine's load touches them alike. Times: per event the median over the repeats, then the
mean over events (seconds). Efficiency: ACTS's matching rule on the candidates (our count,
:class:`~acts_gnn.metrics.tracks.TrackMetrics`), particles with |eta| < 2.5 and >= 7
measurements above 1 and 0.5 GeV. Usage::

    python benchmarks/bench_points.py --input data/p8-mu200-test-prepared [--events 3]
        [--points default lowpt lowpt-one-pass] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from _machine import machine_line

from acts_gnn.chain.pipeline import GnnPipeline
from acts_gnn.io.event_store import list_events, read_event
from acts_gnn.metrics.tracks import ParticleSelection, TrackMetrics
from acts_gnn.sequencer.compare import CompareConfig, gnn_stages

#: (column, stage names of EventResult.seconds summed into it)
COLUMNS = (
    ("1st pass", ("first pass: total",)),
    ("graph", ("graph construction",)),
    ("classifier", ("classifier 0 (TorchEdgeClassifier)", "classifier 0 (OnnxEdgeClassifier)")),
    ("building", ("track building",)),
    ("total", ("total",)),
)
MIN_PTS = (1.0, 0.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", type=Path, default=Path("data/p8-mu200-test-prepared"))
    p.add_argument("--events", type=int, default=3)
    p.add_argument("--points", nargs="+", default=["default", "lowpt", "lowpt-one-pass"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    events = [read_event(args.input, e) for e in list_events(args.input)[: args.events]]
    chains = {
        point: GnnPipeline(
            **gnn_stages(CompareConfig(input=args.input, output=Path("."), operating_point=point)),
            minMeasurementsPerTrack=7,
            shrinkNodes=True,
        )
        for point in args.points
    }
    print(machine_line())
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average)")
    print(
        f"{len(events)} events of {args.input} ({statistics.mean(e.n_hits for e in events):.0f} "
        f"hits each), one torch thread; time [s]: median of {args.repeats} runs per event, "
        "mean over events; edges: graph construction's, per event (a first pass's + the second "
        "pass's); efficiency of the candidates before the fit"
    )
    seconds: dict[str, list[list[dict[str, float]]]] = {q: [[] for _ in events] for q in chains}
    metrics = {
        q: [TrackMetrics(selection=ParticleSelection(m, 7, max_abs_eta=2.5)) for m in MIN_PTS]
        for q in chains
    }
    edges: dict[str, list[float]] = {q: [] for q in chains}
    candidates: dict[str, list[int]] = {q: [] for q in chains}
    for repeat in range(args.repeats):
        for k, event in enumerate(events):
            for point, chain in chains.items():
                result = chain.run_event(event)
                seconds[point][k].append(result.seconds)
                if repeat == 0:
                    c = result.counts
                    edges[point].append(
                        c["graph construction edges"]
                        + c.get("first pass: graph construction edges", 0)
                    )
                    candidates[point].append(c["candidates"])
                    for m in metrics[point]:
                        m.add(event, result.candidates, trackml=False)
    header = (
        f"{'point':<16}"
        + "".join(f"{name:>11}" for name, _ in COLUMNS)
        + f"{'edges':>10}{'cands':>7}"
        + "".join(f"{f'eff>{m:g}':>9}" for m in MIN_PTS)
        + f"{'fake':>8}"
    )
    print(header)
    print("-" * len(header))
    for point in chains:
        cells = []
        for _, names in COLUMNS:
            per_event = [
                statistics.median(sum(s.get(n, 0.0) for n in names) for s in runs)
                for runs in seconds[point]
            ]
            cells.append(f"{np.mean(per_event):>11.3f}")
        effs = "".join(f"{m.efficiency:>9.4f}" for m in metrics[point])
        print(
            f"{point:<16}{''.join(cells)}{np.mean(edges[point]):>10.0f}"
            f"{np.mean(candidates[point]):>7.0f}{effs}{metrics[point][1].fake_ratio:>8.4f}"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

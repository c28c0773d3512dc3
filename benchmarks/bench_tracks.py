#!/usr/bin/env python3
"""Track-building time per event vs pile-up, one CPU core (target: < 0.2 s at MU=200).

Input graphs are scored truth graphs with injected fakes (:func:`acts_gnn.chain.tracks.
scored_truth_graph`: truth scores uniform in [0.6, 1], ``--fakes`` fake edges per truth edge
with scores uniform in [0, 0.7], re-routed to nearby hits so that they make junctions), until
a trained edge classifier exists. Events: a prepared folder ``data/mu<MU>*-prepared`` when
there is one; otherwise MU is emulated from the MU=200 folder by keeping the hard scatter and
the first MU pile-up vertices of each event (``--source``).

For each builder the time is the whole stage call (score cut, junction removal / components,
ordering, candidates as numpy arrays), median over ``--repeats`` per event, then median over
events; the quality columns (ACTS efficiency and fake ratio for particles with pT > 0.5 GeV,
TrackML score) show what the time buys. Usage:
``python benchmarks/bench_tracks.py [--events 3] [--repeats 5] [--pileup 10 50 200]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from _machine import machine_line

from acts_gnn.chain.tracks import (
    ConnectedComponentsTrackBuilding,
    JunctionRemovalTrackBuilding,
    WalkthroughTrackBuilding,
    scored_truth_graph,
)
from acts_gnn.event import Event
from acts_gnn.io.event_store import list_events, read_event
from acts_gnn.metrics import ParticleSelection, TrackMetrics

DATA = Path(__file__).resolve().parent.parent / "data"


def keep_vertices(event: Event, n_pileup: int) -> Event:
    """The event restricted to the hard scatter (vertex 1) and pile-up vertices 2..n+1."""
    keep_particle = event.particles["vertex_primary"] <= n_pileup + 1
    new_row = np.cumsum(keep_particle) - 1
    pid = event.hits["particle_id"]
    keep_hit = (pid >= 0) & keep_particle[np.maximum(pid, 0)] | (pid < 0)
    hits = {c: v[keep_hit] for c, v in event.hits.items()}
    hits["particle_id"] = np.where(
        hits["particle_id"] >= 0, new_row[np.maximum(hits["particle_id"], 0)], -1
    )
    hits["measurement_id"] = np.arange(len(hits["particle_id"]))
    particles = {c: v[keep_particle] for c, v in event.particles.items()}
    particles["particle_id"] = np.arange(int(keep_particle.sum()))
    return Event(event.event_id, hits, particles)


def load_events(mu: int, count: int, source: Path) -> tuple[list[Event], str]:
    """Events at pile-up ``mu`` and a note saying where they came from."""
    prepared = sorted(DATA.glob(f"mu{mu}-*prepared"))
    if prepared:
        ids = list_events(prepared[0])[:count]
        return [read_event(prepared[0], i) for i in ids], prepared[0].name
    ids = list_events(source)[:count]
    events = [keep_vertices(read_event(source, i), mu) for i in ids]
    return events, f"{source.name}, hard scatter + {mu} pile-up vertices"


Builder = Callable[..., list[np.ndarray]]


def run(
    builder: Builder, event: Event, edges: np.ndarray, scores: np.ndarray, repeats: int
) -> tuple[list[np.ndarray], float]:
    """The candidates of one event and the median time [s] of ``repeats`` calls."""
    positions = event.positions()
    candidates = builder(edges, scores, event.n_hits, positions=positions)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        builder(edges, scores, event.n_hits, positions=positions)
        times.append(time.perf_counter() - start)
    return candidates, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3, help="events per pile-up value")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per event")
    parser.add_argument("--pileup", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--fakes", type=float, default=0.5, help="fake edges per truth edge")
    parser.add_argument("--source", type=Path, default=DATA / "mu200-test-prepared")
    parser.add_argument("--torch", action="store_true", help="also time the torch backends")
    args = parser.parse_args()
    torch.set_num_threads(1)

    builders: dict[str, Builder] = {
        "CC (scipy), cut 0.5": ConnectedComponentsTrackBuilding(0.5),
        "junction removal (C++), cut 0.5": JunctionRemovalTrackBuilding(0.5),
        "walkthrough (C++), 0.5 / 0.1": WalkthroughTrackBuilding(0.5, 0.1),
    }
    if args.torch:
        builders["junction removal (torch CPU)"] = JunctionRemovalTrackBuilding(
            0.5, backend="torch"
        )
        builders["walkthrough (torch CPU)"] = WalkthroughTrackBuilding(0.5, 0.1, backend="torch")

    print(machine_line())
    print(
        f"one thread; {args.fakes:g} fake edges per truth edge; time = median over "
        f"{args.repeats} calls per event, then median over events"
    )
    header = (
        f"{'MU':>4} {'hits':>7} {'edges':>7}  {'builder':<34}{'cands':>7} {'time [ms]':>10}"
        f" {'ACTS eff':>9} {'fake':>6} {'TrackML':>8}"
    )
    print(header)
    print("-" * len(header))
    selection = ParticleSelection(min_pt=0.5)
    for mu in args.pileup:
        events, origin = load_events(mu, args.events, args.source)
        graphs = [scored_truth_graph(e, args.fakes, seed=e.event_id) for e in events]
        hits = statistics.mean(e.n_hits for e in events)
        edges = statistics.mean(g[0].shape[1] for g in graphs)
        for name, builder in builders.items():
            times, n_cands = [], []
            metrics = TrackMetrics(selection)
            for event, (edge_index, scores, _) in zip(events, graphs):
                candidates, seconds = run(builder, event, edge_index, scores, args.repeats)
                times.append(seconds)
                n_cands.append(len(candidates))
                metrics.add(event, candidates)
            print(
                f"{mu:>4} {hits:>7.0f} {edges:>7.0f}  {name:<34}{statistics.mean(n_cands):>7.0f}"
                f" {1e3 * statistics.median(times):>10.1f} {metrics.efficiency:>9.3f}"
                f" {metrics.fake_ratio:>6.3f} {metrics.trackml_score:>8.3f}"
            )
        print(f"     (MU={mu}: {len(events)} events from {origin})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Track cleaning (acts_gnn.chain.cleaning) on the GNN chain's candidates: what it removes,
judged by the truth, and what it costs.

For each operating point (``--points``), the chain of ``acts-gnn compare`` (its stages from
:func:`~acts_gnn.sequencer.compare.gnn_stages`, the track builder without cleaning) runs once
on each prepared held-out event (``--input``); the cleaner then runs on those candidates
(hit rows), ``--repeats`` times per event for the time (median, one and two C++ threads).

Truth columns, over the candidates whose majority particle has pT > ``--min-pt`` GeV: how
many candidates carry a wrong hit (not the majority particle's) anywhere and among their
three hits nearest the beam line (the ones ACTS's ``ProtoTracksToParameters`` seeds from),
before and after cleaning; the wrong and the right hits removed; per event. Usage::

    python benchmarks/bench_cleaning.py --input data/p8-mu200-test-prepared [--events 3]
        [--points default lowpt] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from _machine import machine_line

from acts_gnn.chain.cleaning import HelixOutlierRemoval
from acts_gnn.chain.pipeline import GnnPipeline
from acts_gnn.event import Event
from acts_gnn.io.event_store import list_events, read_event
from acts_gnn.sequencer.compare import CompareConfig, gnn_stages

SEED_HITS = 3  # ProtoTracksToParameters seeds from the innermost space points


def truth_counts(
    event: Event, candidates: list[np.ndarray], min_pt: float
) -> tuple[int, int, int, np.ndarray]:
    """(selected candidates, with a wrong hit, with a wrong hit among the SEED_HITS innermost,
    per candidate the majority particle id (-1: not selected))."""
    pid = event.hits["particle_id"]
    pt = dict(zip(event.particles["particle_id"].tolist(), event.particles["pt"].tolist()))
    r = np.hypot(event.hits["x"], event.hits["y"])
    selected = wrong = wrong_seed = 0
    majority = np.full(len(candidates), -1, dtype=np.int64)
    for k, c in enumerate(candidates):
        ids, counts = np.unique(pid[c], return_counts=True)
        best = int(ids[np.argmax(counts)])
        if best == 0 or pt.get(best, 0.0) <= min_pt:
            continue
        majority[k] = best
        selected += 1
        bad = pid[c] != best
        wrong += int(bad.any())
        inner = np.argsort(r[c], kind="stable")[:SEED_HITS]
        wrong_seed += int(bad[inner].any())
    return selected, wrong, wrong_seed, majority


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", type=Path, default=Path("data/p8-mu200-test-prepared"))
    p.add_argument("--events", type=int, default=3)
    p.add_argument("--points", nargs="+", default=["default", "lowpt"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-pt", type=float, default=0.5)
    args = p.parse_args()
    torch.set_num_threads(1)
    event_ids = list_events(args.input)[: args.events]
    events = [read_event(args.input, e) for e in event_ids]
    cleaner = HelixOutlierRemoval()
    print(machine_line())
    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average)")
    print(
        f"{len(events)} events of {args.input} ({statistics.mean(e.n_hits for e in events):.0f} "
        f"hits each); cleaner {cleaner.tolTransverse:g} mm / {cleaner.tolLongitudinal:g} mm, "
        f"at most {cleaner.maxRemoved} removed, >= {cleaner.minKept} kept; time: median of "
        f"{args.repeats} calls per event, then mean over events; truth over candidates of "
        f"pT > {args.min_pt:g} GeV particles, per event"
    )
    header = (
        f"{'point':<8}{'cands':>7}{'cleaned':>8}{'removed':>8}{'ms 1 thr':>9}{'ms 2 thr':>9}"
        f"{'sel':>6}{'wrong':>7}{'->':>5}{'seed wrong':>11}{'->':>5}{'wrong rm':>9}"
        f"{'right rm':>9}"
    )
    print(header)
    print("-" * len(header))
    for point in args.points:
        config = CompareConfig(
            input=args.input, output=Path("."), operating_point=point, track_cleaning=False
        )
        stages = gnn_stages(config)
        pipeline = GnnPipeline(**stages, shrinkNodes=True, minMeasurementsPerTrack=7)
        rows: dict[str, list[float]] = {}
        for event in events:
            candidates = pipeline.run_event(event).candidates
            positions = event.positions()
            seconds = {}
            for threads in (1, 2):
                timed = HelixOutlierRemoval(nThreads=threads)
                calls = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    cleaned = timed(candidates, positions)
                    calls.append(time.perf_counter() - t)
                seconds[threads] = statistics.median(calls)
            masks = HelixOutlierRemoval().keep_masks(candidates, positions)
            sel, wrong, seed, majority = truth_counts(event, candidates, args.min_pt)
            _, wrong_after, seed_after, _ = truth_counts(event, cleaned, args.min_pt)
            pid = event.hits["particle_id"]
            wrong_removed = right_removed = 0
            for c, m, best in zip(candidates, masks, majority, strict=True):
                if best >= 0:
                    gone = pid[c[~m]]
                    wrong_removed += int(np.count_nonzero(gone != best))
                    right_removed += int(np.count_nonzero(gone == best))
            for name, value in (
                ("cands", len(candidates)),
                ("cleaned", sum(not m.all() for m in masks)),
                ("removed", sum(int((~m).sum()) for m in masks)),
                ("ms1", 1e3 * seconds[1]),
                ("ms2", 1e3 * seconds[2]),
                ("sel", sel),
                ("wrong", wrong),
                ("wrong_after", wrong_after),
                ("seed", seed),
                ("seed_after", seed_after),
                ("wrong_removed", wrong_removed),
                ("right_removed", right_removed),
            ):
                rows.setdefault(name, []).append(float(value))
        m = {k: statistics.mean(v) for k, v in rows.items()}
        print(
            f"{point:<8}{m['cands']:>7.0f}{m['cleaned']:>8.0f}{m['removed']:>8.0f}"
            f"{m['ms1']:>9.1f}{m['ms2']:>9.1f}{m['sel']:>6.0f}{m['wrong']:>7.0f}"
            f"{m['wrong_after']:>5.0f}{m['seed']:>11.0f}{m['seed_after']:>5.0f}"
            f"{m['wrong_removed']:>9.0f}{m['right_removed']:>9.0f}"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

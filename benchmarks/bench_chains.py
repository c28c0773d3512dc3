#!/usr/bin/env python3
"""GNN chain vs ACTS seeding + CKF: time per event by stage vs pile-up, one thread.

For each MU, simulates ``--events`` events (parametric pile-up MU, no hard scatter:
:class:`acts_gnn.simulation.GeneratorConfig` defaults; seed ``--seed`` + MU), then runs
``acts-gnn compare`` on them in a fresh process (one thread; the GNN chain and the CKF chain
on the same events in one Sequencer; times from the Sequencer's own timing.csv) and prints one
row per MU:

* hits (measurements) and graph edges per event;
* GNN chain before the Kalman fit (space points + GNN track finding) and with the fit;
* CKF chain (space points, seeding, parameter estimation, CKF, ambiguity resolution);
* the ratio GNN (before fit) / CKF, efficiencies of both chains (ACTS definitions, pT > 1
  GeV, |eta| < 2.5, >= 7 measurements), peak resident memory of the process;

then the exponent k of time = c * hits^k fitted on log-log per-MU points, per chain, and the
GNN track-finding stages at the largest MU. ``--precision bf16`` runs the GNN in bfloat16
(docs/gnn.md, "CPU inference"). Existing simulations are reused: ``--keep DIR`` with
``DIR/sim-mu<MU>`` folders holding ``hits.root`` (e.g. symbolic links to held-out folders
made by ``acts-gnn simulate``). Usage::

    python benchmarks/bench_chains.py [--pileup 10 50 100 200] [--events 2] \\
        [--module-map F] [--model F] [--backend torch|onnx] [--device cpu|cuda] \\
        [--precision fp32|bf16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
from _machine import machine_line


def simulate(directory: Path, events: int, pileup: float, seed: int) -> None:
    from acts_gnn.simulation import GeneratorConfig, simulate

    simulate(directory, events, GeneratorConfig(pileup=pileup), seed=seed, progress=False)


def compare(sim: Path, report: Path, args: argparse.Namespace) -> dict:
    """``acts-gnn compare`` in a fresh process. It runs in the temporary folder, with
    every path absolute: ``python -m`` puts the working folder first on ``sys.path``, and run
    from the repository root it would import the source tree (which has no built ``_core``)
    instead of the installed package."""
    command = [sys.executable, "-m", "acts_gnn.cli", "compare"]
    command += ["-i", str(sim.resolve()), "-o", str(report.resolve())]
    command += ["--backend", args.backend, "--device", args.device]
    if args.precision != "fp32":
        command += ["--precision", args.precision]
    if args.module_map:
        command += ["--module-map", str(args.module_map.resolve())]
    if args.model:
        command += ["--model", str(args.model.resolve())]
    report.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        command,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if done.returncode:
        sys.exit(f"acts-gnn compare failed ({done.returncode}) on {sim}:\n{done.stderr[-3000:]}")
    return json.loads((report / "summary.json").read_text())


def uptime() -> str:
    """The machine's load (``uptime``), printed with every table."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unavailable"


def exponent(hits: list[float], seconds: list[float]) -> float:
    return float(np.polyfit(np.log(hits), np.log(seconds), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pileup", type=float, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--events", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--module-map", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision", default="fp32", choices=("fp32", "bf16"), help="GNN arithmetic (CPU)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the data and reports here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-chains-"))
    load_before = uptime()
    rows = []
    for mu in args.pileup:
        sim = root / f"sim-mu{mu:g}"
        if not (sim / "hits.root").is_file():
            simulate(sim, args.events, mu, args.seed + int(mu))
        s = compare(sim, root / f"report-mu{mu:g}", args)
        g, c = s["gnn"]["time_per_event"], s["ckf"]["time_per_event"]
        before_fit = g["space points"] + g["GNN track finding"]
        rows.append(
            {
                "mu": mu,
                "hits": s["measurements_per_event"],
                "edges": s["gnn"]["gnn_counts"].get("graph construction edges", 0.0),
                "gnn": before_fit,
                "gnn_kf": g["total"],
                "ckf": c["total"],
                "eff_gnn": s["gnn"]["efficiency"],
                "eff_ckf": s["ckf"]["efficiency"],
                "mem": s["peak_rss_mb"],
                "stages": s["gnn"]["gnn_substages"],
            }
        )
    print(machine_line())
    print(f"load before: {load_before}")
    print(
        f"{args.events} events per MU, one thread, backend {args.backend}, device {args.device}, "
        f"precision {args.precision}; times per event in seconds (Sequencer timing.csv; upper "
        "bounds on a shared machine)"
    )
    print(
        f"{'MU':>5} {'hits':>8} {'edges':>8} {'GNN':>8} {'GNN+KF':>8} {'CKF':>8} "
        f"{'GNN/CKF':>8} {'eff GNN':>8} {'eff CKF':>8} {'peak MB':>8}"
    )
    for r in rows:
        print(
            f"{r['mu']:>5g} {r['hits']:>8.0f} {r['edges']:>8.0f} {r['gnn']:>8.3f} "
            f"{r['gnn_kf']:>8.3f} {r['ckf']:>8.3f} {r['gnn'] / r['ckf']:>8.3f} "
            f"{r['eff_gnn']:>8.4f} {r['eff_ckf']:>8.4f} {r['mem']:>8.0f}"
        )
    if len(rows) > 1:
        hits = [r["hits"] for r in rows]
        print(
            "time ~ hits^k: "
            + ", ".join(
                f"{name} k = {exponent(hits, [r[key] for r in rows]):.2f}"
                for name, key in (("GNN", "gnn"), ("GNN+KF", "gnn_kf"), ("CKF", "ckf"))
            )
        )
    last = rows[-1]
    print(
        f"GNN track finding at MU={last['mu']:g} by stage [s]: "
        + ", ".join(f"{k} {v['mean']:.3f}" for k, v in last["stages"].items())
    )
    print(f"load after: {uptime()}")
    print(f"data and reports: {root}")


if __name__ == "__main__":
    main()

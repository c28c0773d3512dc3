#!/usr/bin/env python3
"""Run an event-parallel ``acts-gnn`` command on a batch system through ``dask-jobqueue``.

The script submits Dask worker jobs to Slurm or HTCondor (``dask_jobqueue.SLURMCluster`` /
``HTCondorCluster``: one worker process per job, one thread, ``--memory`` each), waits for
the first worker, and runs the ``acts-gnn`` command given after ``--`` with
``--scheduler <the cluster's address>``; the jobs end with the script. Every worker must see
the input and output folders (a shared file system) and run the same acts-gnn environment
(``--python``). Example (1000 MU = 200 events on 50 Slurm jobs, then their module map)::

    python examples/dask_jobqueue_cluster.py --system slurm --jobs 50 --queue short -- \\
        simulate --generator parametric --pileup 200 -n 1000 --seed 100 -o /shared/sim
    python examples/dask_jobqueue_cluster.py --system slurm --jobs 50 -- \\
        prepare -i /shared/sim -o /shared/prepared
    python examples/dask_jobqueue_cluster.py --system slurm --jobs 50 -- \\
        module-map build -i /shared/prepared -o /shared/module-map.npz

Needs ``pip install dask-jobqueue`` on the submitting machine. See docs/distributed.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def make_cluster(args: argparse.Namespace) -> Any:
    """The jobqueue cluster of ``args`` (one single-threaded worker per job), scaled."""
    try:
        import dask_jobqueue
    except ImportError as err:
        raise SystemExit("this example needs dask-jobqueue: pip install dask-jobqueue") from err
    common: dict[str, Any] = {
        "cores": 1,  # one thread per worker: one ACTS Sequencer at a time per process
        "processes": 1,
        "memory": args.memory,
        "walltime": args.walltime,
        "python": args.python,
        "log_directory": args.log_directory,
        # keep glibc's own heap thresholds in the worker (Dask would export
        # MALLOC_TRIM_THRESHOLD_=65536, which made our stages 1.3-1.5x slower:
        # acts_gnn.distributed.executor.WORKER_MALLOC_KEY)
        "job_script_prologue": [
            "export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None"
        ],
    }
    if args.system == "slurm":
        cluster = dask_jobqueue.SLURMCluster(queue=args.queue, **common)
    else:
        common.pop("walltime")  # HTCondor: a job's lifetime is the pool's policy
        cluster = dask_jobqueue.HTCondorCluster(disk=args.disk, **common)
    cluster.scale(jobs=args.jobs)
    return cluster


def run(args: argparse.Namespace, command: list[str]) -> int:
    """Start the cluster, wait for a worker, run ``acts-gnn COMMAND --scheduler ADDRESS``."""
    from distributed import Client

    from acts_gnn.cli import main

    cluster = make_cluster(args)
    try:
        with Client(cluster) as client:
            print(f"dashboard: {cluster.dashboard_link}; waiting for the first worker job")
            client.wait_for_workers(1, timeout=args.wait)
            return main([*command, "--scheduler", cluster.scheduler_address])
    finally:
        cluster.close()


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        raise SystemExit("give the acts-gnn command after --, e.g. -- prepare -i SIM -o OUT")
    split = argv.index("--")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--system", choices=["slurm", "htcondor"], default="slurm")
    p.add_argument("--jobs", type=int, default=10, help="worker jobs (default %(default)s)")
    p.add_argument("--memory", default="4GB", help="memory per job (default %(default)s)")
    p.add_argument("--walltime", default="04:00:00", help="Slurm time limit per job")
    p.add_argument("--queue", default=None, help="Slurm partition")
    p.add_argument("--disk", default="2GB", help="HTCondor disk request per job")
    p.add_argument("--python", default=sys.executable, help="the workers' python")
    p.add_argument("--log-directory", default="dask-logs", help="the jobs' logs")
    p.add_argument("--wait", type=float, default=3600.0, help="seconds to wait for a worker")
    return p.parse_args(argv[:split]), argv[split + 1 :]


if __name__ == "__main__":
    options, command = parse(sys.argv[1:])
    raise SystemExit(run(options, command))

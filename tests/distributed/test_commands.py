"""``--workers 2`` (and ``--scheduler``) give the serial run's results, command by command.

A tiny sample: 4 parametric events at pile-up 5 (seed 3), simulated, prepared and mapped once
serially per module; each test runs one command on a local Dask cluster of 2 processes (one
cluster for the whole test process, started by the first test) with one event per task, and
compares: simulated branches, prepared Parquet files (bytes), module-map arrays (bytes of the
.npz), graph files (bytes) and evaluation numbers. ``graphs`` and ``evaluate-gnn`` (model and
map loading in every task) are ``slow``: ``pytest -m slow tests/distributed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.cli import main

pytestmark = pytest.mark.acts

EVENTS = ["--chunk-events", "1", "-q"]
SIM = ["simulate", "-n", "4", "--seed", "3", "--generator", "parametric", "--pileup", "5", "-q"]
MAP = ["--min-pt", "0.3"]
GNN = Path(__file__).resolve().parents[2] / "geometry" / "generic" / "models" / "gnn.pt"


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The serial runs: sim/, prepared/, map.npz, graphs/, eval/."""
    from acts_gnn.distributed.executor import close_clients

    d = tmp_path_factory.mktemp("serial")
    assert main([*SIM, "-o", str(d / "sim")]) == 0
    assert main(["prepare", "-i", str(d / "sim"), "-o", str(d / "prepared"), "-q"]) == 0
    build = ["module-map", "build", "-i", str(d / "prepared"), *MAP, "-q"]
    assert main([*build, "-o", str(d / "map.npz")]) == 0
    yield d
    close_clients()


def _same_files(a: Path, b: Path, pattern: str) -> int:
    names = sorted(p.name for p in a.glob(pattern))
    assert names
    assert names == sorted(p.name for p in b.glob(pattern))
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return len(names)


def test_simulate(serial: Path, tmp_path: Path) -> None:
    from acts_gnn.distributed.simulate import check_simulation_equal

    assert main([*SIM, "-o", str(tmp_path / "sim"), "--workers", "2", *EVENTS]) == 0
    assert check_simulation_equal(serial / "sim", tmp_path / "sim") == []
    assert json.loads((tmp_path / "sim" / "simulation.json").read_text()) == json.loads(
        (serial / "sim" / "simulation.json").read_text()
    )
    assert not (tmp_path / "sim" / ".acts-gnn-chunks").exists()  # the chunks are cleared


@pytest.mark.slow
def test_simulate_check_sees_a_difference(serial: Path, tmp_path: Path) -> None:
    from acts_gnn.distributed.simulate import check_simulation_equal

    other = [a if a != "3" else "4" for a in SIM]  # another seed
    assert main([*other, "-o", str(tmp_path / "sim"), "--workers", "2", *EVENTS]) == 0
    assert "hits.tx" in check_simulation_equal(serial / "sim", tmp_path / "sim")


def test_prepare(serial: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    assert (
        main(["prepare", "-i", str(serial / "sim"), "-o", str(out), "--workers", "2", *EVENTS]) == 0
    )
    assert _same_files(serial / "prepared", out, "*.parquet") == 8
    assert json.loads((out / "dataset.json").read_text()) == json.loads(
        (serial / "prepared" / "dataset.json").read_text()
    )


def test_module_map_build(serial: Path, tmp_path: Path) -> None:
    out = tmp_path / "map.npz"
    build = ["module-map", "build", "-i", str(serial / "prepared"), *MAP, "-o", str(out)]
    assert main([*build, "--workers", "2", *EVENTS]) == 0
    a, b = np.load(serial / "map.npz"), np.load(out)
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert (serial / "map.npz").read_bytes() == out.read_bytes()
    assert not (tmp_path / ".acts-gnn-chunks").exists()


def test_module_map_build_on_a_running_cluster(serial: Path, tmp_path: Path) -> None:
    from acts_gnn.distributed.executor import ParallelOptions, get_client

    address = get_client(ParallelOptions(workers=2)).scheduler.address
    out = tmp_path / "map.npz"
    build = ["module-map", "build", "-i", str(serial / "prepared"), *MAP, "-o", str(out)]
    assert main([*build, "--scheduler", address, "--chunk-events", "3", "-q"]) == 0
    assert (serial / "map.npz").read_bytes() == out.read_bytes()


def _graphs(serial: Path, out: Path, *extra: str) -> int:
    cmd = ["graphs", "-i", str(serial / "prepared"), "-o", str(out), "--graph", "module-map"]
    return main([*cmd, "--module-map", str(serial / "map.npz"), "-q", *extra])


def _records(folder: Path) -> dict:
    body = json.loads((folder / "graphs.json").read_text())
    for e in body["events"]:
        e.pop("seconds")
    body["totals"].pop("seconds_per_event")
    return body


@pytest.mark.slow
def test_graphs(serial: Path, tmp_path: Path) -> None:
    assert _graphs(serial, tmp_path / "serial") == 0
    assert _graphs(serial, tmp_path / "parallel", "--workers", "2", *EVENTS) == 0
    assert _same_files(tmp_path / "serial", tmp_path / "parallel", "*-graph.npz") == 4
    assert _records(tmp_path / "serial") == _records(tmp_path / "parallel")
    # a rerun keeps the files (resume), as the serial command does
    assert _graphs(serial, tmp_path / "parallel", "--workers", "2", *EVENTS) == 0
    body = json.loads((tmp_path / "parallel" / "graphs.json").read_text())
    assert body["skipped_existing"] == [0, 1, 2, 3]
    assert _records(tmp_path / "serial")["events"] == _records(tmp_path / "parallel")["events"]


@pytest.mark.slow
def test_evaluate_gnn(serial: Path, tmp_path: Path) -> None:
    cmd = ["evaluate-gnn", "-i", str(serial / "prepared"), "-m", str(serial / "map.npz")]
    cmd += ["--model", str(GNN), "--no-plots", "-q"]
    assert main([*cmd, "-o", str(tmp_path / "serial")]) == 0
    assert (
        main([*cmd, "-o", str(tmp_path / "parallel"), "--workers", "2", "--chunk-events", "1"]) == 0
    )
    a = json.loads((tmp_path / "serial" / "gnn_eval.json").read_text())
    b = json.loads((tmp_path / "parallel" / "gnn_eval.json").read_text())
    assert a.pop("seconds_per_event").keys() == b.pop("seconds_per_event").keys()
    assert a == b
    assert a["events"] == 4
    assert a["auc"] > 0.5


def test_module_map_build_resumes_from_a_finished_chunk(serial: Path, tmp_path: Path) -> None:
    """A chunk recorded by an earlier run is loaded, not rebuilt: here a planted record of
    chunk [0, 1) that holds no event shows in the merged map (one event fewer)."""
    import pickle

    from acts_gnn.distributed.executor import ParallelOptions
    from acts_gnn.distributed.module_map import build_module_map_parallel, module_map_state
    from acts_gnn.graph import TruthSelection
    from acts_gnn.graph.module_map.builder import ModuleMapBuilder
    from acts_gnn.graph.module_map.formats import load_module_map

    selection = TruthSelection(min_pt=0.3)
    refs = [(str(serial / "prepared"), e) for e in range(4)]
    state = module_map_state(tmp_path, refs, selection, False, False)
    state.folder.mkdir(parents=True)
    empty = (ModuleMapBuilder().rows(), {"events": 0, "augmented_samples": 0})
    state.result_path(0, 1).write_bytes(pickle.dumps(empty))
    options = ParallelOptions(workers=2, chunk_events=1)
    resumed = build_module_map_parallel(refs, selection, options, False, False, tmp_path, False)
    assert resumed.metadata["events"] == 3  # chunk [0, 1) came from the record
    assert not state.folder.exists()  # removed once the map is made
    whole = build_module_map_parallel(refs, selection, options, False, False, None, False)
    assert whole.metadata["events"] == 4
    assert whole.metadata["samples"] > resumed.metadata["samples"]
    assert load_module_map(serial / "map.npz").metadata["events"] == 4

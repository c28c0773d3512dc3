"""``acts-gnn compare --workers 2`` gives the serial run's summary (times aside).

The shared tiny sample (2 Pythia8 events at pile-up 3), a module map built from it and an
untrained tiny GNN (as ``tests/sequencer/test_compare.py``), with two GNN edge cuts, two CKF
presets, the truth metrics and two particle selections: the summary of a serial ``compare``
and that of ``compare --workers 2 --chunk-events 1`` (each event in its own ACTS Sequencer,
in a Dask worker) must agree in every count, ratio, mean, width and histogram bin. Also the
merges alone, on made-up records (ACTS's counts summed and ratios recomputed), the per-event
hooks through which ``simulate`` and ``prepare`` tasks report progress, and ``-q``'s quiet
Dask loggers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acts_gnn.cli import main
from tests.sequencer.test_compare import METADATA

pytestmark = pytest.mark.acts


#: Summary keys that hold times or describe the run rather than its events.
TIMES = {
    "wall_seconds",
    "peak_rss_mb",
    "time_per_event",
    "gnn_space_point_reading",
    "parallel",
    "seconds_per_event",  # the track cleaner's
}

#: ACTS's means over quality tracks: merged as weighted means (equal up to float rounding).
MEANS = {"meanCompleteness", "meanPurity"}


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two JSON values differ (NaN equals NaN; :data:`TIMES` keys skipped)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) - TIMES != set(b) - TIMES:
            return [f"{where}: keys {sorted(set(a) ^ set(b))}"]
        out = []
        for k in a:
            if k in TIMES:
                continue
            if k == "gnn_substages":  # seconds per stage; the event counts must agree
                events_a = {s: v["events"] for s, v in a[k].items()}
                events_b = {s: v["events"] for s, v in b[k].items()}
                out += [] if events_a == events_b else [f"{where}.{k}: events"]
                continue
            if k in MEANS and isinstance(a[k], float) and isinstance(b[k], float):
                if a[k] != pytest.approx(b[k], rel=1e-12, nan_ok=True):
                    out.append(f"{where}.{k}: {a[k]!r} != {b[k]!r}")
                continue
            out += _differences(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [
            d
            for k, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{where}[{k}]")
        ]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


@pytest.fixture(scope="module")
def chain_files(tmp_path_factory: pytest.TempPathFactory, prepared_sample: Any) -> dict[str, Path]:
    import torch

    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.graph.truth import TruthSelection
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.nn import InteractionNetwork
    from acts_gnn.train.export import export_onnx

    directory = tmp_path_factory.mktemp("compare-parallel")
    events = PreparedDataset(prepared_sample.directory)
    module_map = build_module_map(events, TruthSelection(min_pt=0.9, min_hits=3))
    torch.manual_seed(3)
    model = InteractionNetwork(4, 4, hidden=8, n_iterations=1)
    return {
        "map": module_map.save(directory / "map.npz"),
        "model": export_onnx(model.eval(), directory / "gnn.onnx", metadata=METADATA),
        "sim": prepared_sample.simulation.directory,
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    from acts_gnn.distributed.executor import close_clients

    yield
    close_clients()


def _compare(files: dict[str, Path], output: Path, *extra: str) -> dict[str, Any]:
    argv = ["compare", "-i", str(files["sim"]), "-o", str(output), "-q"]
    argv += ["--module-map", str(files["map"]), "--model", str(files["model"])]
    argv += ["--gnn-cuts", "0.5", "0.8", "--ckf-preset", "fast", "upstream", "--truth-metrics"]
    argv += ["--track-cleaning"]
    assert main([*argv, *extra]) == 0
    summary: dict[str, Any] = json.loads((output / "summary.json").read_text())
    summary["config"].pop("output")
    return summary


def test_compare_workers_equal_serial(
    chain_files: dict[str, Path], cluster: None, tmp_path: Path
) -> None:
    serial = _compare(chain_files, tmp_path / "serial")
    parallel = _compare(chain_files, tmp_path / "dask", "--workers", "2", "--chunk-events", "1")
    assert parallel["parallel"] == {"tasks": 2, "workers": 2, "scheduler": None}
    assert serial["events"] == parallel["events"] == 2
    assert _differences(serial, parallel) == []
    for label in ("gnn", "gnn_cut0p8", "ckf", "ckf_upstream", "gnn_prefit"):
        stats = parallel[label]["acts_stats"]
        assert stats["nTotalParticles"] > 0
        assert (
            stats["efficiencyParticles"]
            == stats["nTotalMatchedParticles"] / stats["nTotalParticles"]
        )
        assert set(parallel[label]["time_per_event"]) == set(serial[label]["time_per_event"])
    assert parallel["gnn"]["resolutions"]["tracks"] > 0
    assert parallel["gnn"]["gnn_substages"]["total"]["events"] == 2
    assert parallel["gnn"]["gnn_cleaning"]["events"] == 2  # both chunks' cleaner sums
    assert parallel["gnn"]["gnn_cleaning"]["candidates_per_event"] > 0
    assert not (tmp_path / "dask" / ".acts-gnn-chunks").exists()  # the chunks are cleared
    report = (tmp_path / "dask" / "summary.md").read_text()
    assert "GNN track cleaning (tolerances 2 mm transverse, 2 mm longitudinal" in report
    assert "GNN (module map + GNN + cleaning + KF)" in report
    rows = (tmp_path / "dask" / "sequencer" / "timing.csv").read_text().splitlines()
    assert rows[0] == "identifier,time_total_s,time_perevent_s"
    assert len(rows) > 5


def test_compare_workers_refuses_vertexing(chain_files: dict[str, Path], tmp_path: Path) -> None:
    from acts_gnn.distributed import ParallelOptions
    from acts_gnn.distributed.compare import compare_parallel
    from acts_gnn.sequencer.compare import CompareConfig

    config = CompareConfig(input=chain_files["sim"], output=tmp_path, vertexing=True)
    with pytest.raises(ValueError, match="--vertexing"):
        compare_parallel(config, ParallelOptions(workers=2))


def test_merge_writer_stats_sums_counts_and_recomputes_ratios() -> None:
    from acts_gnn.distributed.compare import merge_histograms, merge_writer_stats

    def stats(tracks: int, matched: int, fakes: int, particles: int, found: int) -> dict:
        return {
            "nTotalTracks": tracks,
            "nTotalMatchedTracks": matched,
            "nTotalFakeTracks": fakes,
            "nTotalQualityTracks": matched,
            "nTotalParticles": particles,
            "nTotalMatchedParticles": found,
            "fakeRatioTracks": fakes / tracks,
            "efficiencyParticles": found / particles,
            "meanPurity": 0.5 if matched else float("nan"),
        }

    merged = merge_writer_stats([stats(10, 8, 1, 9, 7), stats(5, 0, 5, 3, 0)])
    assert merged["nTotalTracks"] == 15
    assert merged["nTotalFakeTracks"] == 6
    assert merged["fakeRatioTracks"] == 6 / 15
    assert merged["efficiencyParticles"] == 7 / 12
    assert merged["meanPurity"] == 0.5  # the empty chunk's NaN mean weighs nothing
    with pytest.raises(ValueError, match="unknownRatio"):
        merge_writer_stats([{"unknownRatio": 0.5}])
    h = {"eff": {"edges": [0.0, 1.0, 2.0], "accepted": [1.0, 2.0], "total": [2.0, 4.0]}}
    assert merge_histograms([h, h])["eff"] == {
        "edges": [0.0, 1.0, 2.0],
        "accepted": [2.0, 4.0],
        "total": [4.0, 8.0],
    }


# -- what the other commands' tasks report ---------------------------------------------------


def test_simulate_and_prepare_report_each_event(
    sim_sample: Any, detector: Any, tmp_path: Path
) -> None:
    """The per-event hooks the ``simulate`` and ``prepare`` tasks report progress through."""
    from acts_gnn.simulation import GeneratorConfig, simulate
    from acts_gnn.simulation.prepare import prepare

    simulated: list[int] = []
    simulate(
        tmp_path / "sim",
        2,
        GeneratorConfig(pileup=1),
        seed=3,
        detector=detector,
        progress=False,
        first_event=5,
        on_event=lambda: simulated.append(len(simulated)),
    )
    assert simulated == [0, 1]
    prepared: list[int] = []
    prepare(
        sim_sample.directory,
        tmp_path / "prepared",
        detector=detector,
        progress=False,
        on_event=lambda: prepared.append(1),
    )
    assert len(prepared) == sim_sample.events


def test_quiet_sets_the_dask_loggers_to_warning() -> None:
    import argparse
    import logging

    from acts_gnn.distributed.executor import ParallelOptions, quiet_dask_logs

    assert ParallelOptions.from_args(argparse.Namespace(workers=2, quiet=True)).quiet
    assert not ParallelOptions.from_args(argparse.Namespace(workers=2)).quiet
    previous = logging.getLogger("distributed").level
    logging.getLogger("distributed").setLevel(logging.INFO)
    logging.getLogger("distributed.scheduler").setLevel(logging.INFO)
    quiet_dask_logs()
    assert logging.getLogger("distributed").level == logging.WARNING
    assert logging.getLogger("distributed.scheduler").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("distributed.nanny").getEffectiveLevel() == logging.WARNING
    logging.getLogger("distributed").setLevel(logging.ERROR)
    quiet_dask_logs()
    assert logging.getLogger("distributed").level == logging.ERROR  # a quieter level is kept
    logging.getLogger("distributed").setLevel(previous)

"""``acts-gnn compare`` on bad input: a negative event count, a model of the wrong kind, an
output folder that cannot be written, events without hits, a failed run's stale report, hits
on modules the map has never seen. Everything fails before the Sequencer runs, or is counted
and reported; nothing reaches a number with exit code 0 unannounced."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.acts


def _config(tmp_path: Path, **changes: Any) -> Any:
    from acts_gnn.sequencer.compare import CompareConfig

    (tmp_path / "sim").mkdir(exist_ok=True)
    return CompareConfig(**{"input": tmp_path / "sim", "output": tmp_path / "report", **changes})


@pytest.mark.parametrize(
    ("name", "value"), [("events", -1), ("events", 0), ("skip", -2), ("threads", 0)]
)
def test_bad_counts_are_refused(name: str, value: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"{name} must be an integer >= "):
        _config(tmp_path, **{name: value}).validate()


def test_cli_events_minus_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was a pybind TypeError from the Sequencer; now exit code 2 and one line."""
    from acts_gnn.cli import main

    (tmp_path / "sim").mkdir()
    rc = main(["compare", "-i", str(tmp_path / "sim"), "-o", str(tmp_path / "r"), "--events", "-1"])
    assert rc == 2
    assert "events must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_output_that_cannot_be_a_folder(where: str, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    output = blocker if where == "file" else blocker / "report"
    with pytest.raises(ValueError, match="is a file, not a folder"):
        _config(tmp_path, output=output).validate()


def test_output_not_writable(tmp_path: Path) -> None:
    """A folder nobody can create (under /proc: refused even to root)."""
    with pytest.raises(ValueError, match="is not writable"):
        _config(tmp_path, output=Path("/proc/acts-gnn-test/report")).validate()


def test_failed_run_removes_the_stale_summary(tmp_path: Path) -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.sequencer.compare import run_comparison

    config = _config(tmp_path)
    config.output.mkdir()
    for name in ("summary.json", "summary.md"):
        (config.output / name).write_text('{"gnn": {"efficiency": 0.9}}')
    with pytest.raises(InputDataError, match="does not exist"):
        run_comparison(config, progress=False)  # the simulation folder is empty
    assert not (config.output / "summary.json").exists()
    assert not (config.output / "summary.md").exists()


def test_filter_or_embedding_as_the_gnn(tmp_path: Path) -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.nn.embedding import EmbeddingNet
    from acts_gnn.nn.filter import EdgeFilter
    from acts_gnn.sequencer.compare import gnn_stages
    from acts_gnn.train.export import export_embedding_torchscript, export_torchscript

    meta = {"node_features": ["r", "phi", "z", "eta"], "feature_scales": [1e3, math.pi, 1e3, 1]}
    torch.manual_seed(1)
    flt = export_torchscript(
        EdgeFilter(4, 0, hidden=8, n_layers=1).eval(), tmp_path / "filter.pt", metadata=meta
    )
    emb = export_embedding_torchscript(
        EmbeddingNet(4, embedding_dim=3, hidden=8, n_layers=1).eval(),
        tmp_path / "embedding.pt",
        metadata=meta,
    )
    with pytest.raises(InputDataError, match="this model is an edge filter") as err:
        gnn_stages(_config(tmp_path, model=flt))
    assert err.value.file == str(flt)
    with pytest.raises(InputDataError, match="this model is an embedding network") as err:
        gnn_stages(_config(tmp_path, model=emb))
    assert err.value.file == str(emb)


def test_map_of_another_detector(tmp_path: Path) -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.graph.module_map.map import ModuleMap
    from acts_gnn.sequencer.compare import gnn_stages

    ids = np.array([11, 12, 13, 14], dtype=np.uint64)  # no surface of the generic detector
    cuts = np.tile(np.array([-1.0, 1.0]), (1, 4, 1))
    mm = ModuleMap(ids, [[0, 1, 2]], [3], cuts, cuts, [[-1.0, 1.0]], [[-1.0, 1.0]])
    path = mm.save(tmp_path / "other.npz")
    with pytest.raises(InputDataError, match="module map for another detector") as err:
        gnn_stages(_config(tmp_path, module_map=path))
    assert err.value.file == str(path)
    assert "4 of its 4 modules" in str(err.value)


def test_empty_events_are_counted_and_left_out() -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.sequencer.compare import non_empty_events

    assert non_empty_events([120, 0, 80], "sim").tolist() == [0, 2]
    scores = np.array([0.45, 0.0, 0.45])
    assert float(np.mean(scores[non_empty_events([120, 0, 80], "sim")])) == pytest.approx(0.45)
    with pytest.raises(InputDataError, match="all 2 events have zero measurements") as err:
        non_empty_events([0, 0], "sim")
    assert err.value.file == "sim"


def _summary(**top: Any) -> dict[str, Any]:
    chain = {
        "efficiency": 0.9,
        "fake_ratio": 0.1,
        "duplicate_ratio": 0.05,
        "trackml_score": 0.45,
        "time_per_event": {"total": 1.0},
        "measurements": 2000,
        "independent_count": {"efficiency": 0.9, "fake_ratio": 0.1, "duplicate_ratio": 0.05},
    }
    return {
        "input": "sim",
        "events": 3,
        "empty_events": 0,
        "hits_on_unknown_modules": 0,
        "measurements_per_event": 1000.0,
        "machine": "test",
        "selection": {"min_pt_GeV": 1.0, "max_abs_eta": 2.5, "min_measurements": 7},
        "config": {"graph": "module-map"},
        "gnn": dict(chain),
        "gnn_prefit": dict(chain),
        "ckf": dict(chain),
        **top,
    }


def test_report_names_empty_events_and_unknown_modules() -> None:
    from acts_gnn.sequencer.compare import input_notes, summary_markdown

    assert input_notes(_summary()) == []
    notes = input_notes(_summary(empty_events=1, hits_on_unknown_modules=50))
    assert len(notes) == 2
    assert notes[0].startswith("1 of 3 events have zero measurements")
    assert "50 space points (2.50%) lie on modules the module map has never seen" in notes[1]
    text = summary_markdown(_summary(empty_events=1))
    assert "Note: 1 of 3 events have zero measurements" in text
    json.dumps(_summary())  # the summary stays JSON


def _drop_hits(directory: Path, events: set[int], read_tree: Any, write_tree: Any) -> None:
    """Remove every hit of ``events`` from ``directory/hits.root`` (run metadata kept)."""
    import uproot

    from acts_gnn.io.root_writer import METADATA_KEY

    path = directory / "hits.root"
    with uproot.open(path) as f:
        metadata = str(f[METADATA_KEY]) if METADATA_KEY in f else None
    hits = read_tree(path, "hits")
    keep = ~np.isin(np.asarray(hits["event_id"]), list(events))
    write_tree(path, "hits", {k: v[keep] for k, v in hits.items()})
    if metadata is not None:
        with uproot.update(path) as f:
            f[METADATA_KEY] = metadata


def test_an_empty_event_is_left_out_of_the_averages(
    sample_copy: Path, read_tree: Any, write_tree: Any, tmp_path: Path
) -> None:
    """Event 1 of the shared 2-event sample without hits: counted, reported, and the
    per-event averages are those of event 0 alone (before: the mean with a 0 for event 1)."""
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison, write_report

    _drop_hits(sample_copy, {1}, read_tree, write_tree)
    config = CompareConfig(input=sample_copy, output=tmp_path / "report")
    summary = run_comparison(config, progress=False)
    write_report(summary, config.output)
    assert summary["events"] == 2
    assert summary["empty_events"] == 1
    # measurements per event: those of the one event with hits, not half of them
    assert summary["measurements_per_event"] == summary["gnn"]["measurements"] > 0
    assert 0.0 < summary["gnn"]["trackml_score"] <= 1.0
    text = (config.output / "summary.md").read_text()
    assert "Note: 1 of 2 events have zero measurements" in text
    assert json.loads((config.output / "summary.json").read_text())["empty_events"] == 1


@pytest.mark.slow
def test_all_events_empty_is_refused(
    sample_copy: Path, read_tree: Any, write_tree: Any, tmp_path: Path
) -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison

    _drop_hits(sample_copy, {0, 1}, read_tree, write_tree)
    config = CompareConfig(input=sample_copy, output=tmp_path / "report")
    with pytest.raises(InputDataError, match="zero"):
        run_comparison(config, progress=False)
    assert not (config.output / "summary.json").exists()

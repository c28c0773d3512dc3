"""``acts-gnn graphs``: graph files from the module map or metric learning + filter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acts_gnn.chain.defaults import default_files
from acts_gnn.cli import main
from acts_gnn.graph.store import StoredGraphs, module_map_graphs
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.io.event_store import PreparedDataset
from acts_gnn.metrics.edges import EdgeMetrics
from acts_gnn.train.graph_files import FilteredGraphs, metric_learning_graphs

FILES = default_files()


def _keys(edge_index: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


def test_metric_learning_files_are_the_filtered_graphs(
    tmp_path: Path, prepared_sample: Any
) -> None:
    out = tmp_path / "graphs"
    argv = ["graphs", "-i", str(prepared_sample.directory), "-o", str(out), "-q", "--r", "0.6"]
    assert main(argv) == 0
    events = PreparedDataset(prepared_sample.directory)
    report = json.loads((out / "graphs.json").read_text())
    assert report["builder"]["r"] == 0.6
    assert report["builder"]["k"] == 400
    assert report["builder"]["filter_cut"] == pytest.approx(0.0802, abs=1e-3)
    unfiltered, _ = metric_learning_graphs(FILES.embedding, r=0.6)
    stored = StoredGraphs(out)
    metrics = EdgeMetrics()
    for event, row in zip(events, report["events"], strict=True):
        edge_index, features = stored(event)
        assert row["event_id"] == event.event_id
        assert row["edges"] == edge_index.shape[1] > 0
        # the kept edges are the embedding edges the filter scores above its cut
        all_edges, all_features = unfiltered(event)
        kept = _keys(edge_index)
        assert kept < _keys(all_edges)
        lookup = {key: i for i, key in enumerate(map(tuple, all_edges.T.tolist()))}
        rows = [lookup[key] for key in map(tuple, edge_index.T.tolist())]
        np.testing.assert_array_equal(features, all_features[rows])  # raw, unscaled features
        metrics.add(
            edge_index,
            truth_graph(event, TruthSelection(min_pt=1.0, min_hits=3)),
            truth_graph(event),
            event.n_hits,
        )
    assert report["totals"]["edge_efficiency"] == pytest.approx(metrics.efficiency)
    assert report["totals"]["edge_purity"] == pytest.approx(metrics.purity)
    assert metrics.efficiency > 0.9
    # a rerun keeps the files; --overwrite rebuilds them
    assert main(argv) == 0
    report = json.loads((out / "graphs.json").read_text())
    assert report["skipped_existing"] == events.event_ids
    assert len(report["events"]) == len(events)
    other = [a if a != "0.6" else "0.5" for a in argv]
    assert main(other) == 2  # another builder's folder
    assert main([*argv, "--overwrite", "--skip", "1"]) == 0
    report = json.loads((out / "graphs.json").read_text())
    assert report["skipped_existing"] == []
    assert [e["event_id"] for e in report["events"]] == events.event_ids


def test_filter_in_chunks_gives_the_same_edges(
    monkeypatch: pytest.MonkeyPatch, prepared_sample: Any
) -> None:
    event = PreparedDataset(prepared_sample.directory)[0]
    graphs, _ = metric_learning_graphs(FILES.embedding, filter_path=FILES.filter)
    assert isinstance(graphs, FilteredGraphs)
    whole = graphs(event)
    monkeypatch.setattr(FilteredGraphs, "CHUNK", 997)
    chunked = graphs(event)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])
    # a lower cut keeps more edges
    loose, _ = metric_learning_graphs(FILES.embedding, filter_path=FILES.filter, filter_cut=0.01)
    assert _keys(whole[0]) < _keys(loose(event)[0])


def test_module_map_files(tmp_path: Path, prepared_sample: Any) -> None:
    out = tmp_path / "mm"
    argv = ["graphs", "-i", str(prepared_sample.directory), "-o", str(out), "-q"]
    assert main([*argv, "--graph", "module-map", "--events", "1"]) == 0
    event = PreparedDataset(prepared_sample.directory)[0]
    edge_index, features = StoredGraphs(out)(event)
    expected = module_map_graphs(FILES.module_map)(event)
    np.testing.assert_array_equal(edge_index, expected[0])
    np.testing.assert_allclose(features, expected[1])
    assert sorted(p.name for p in out.iterdir()) == ["event000000000-graph.npz", "graphs.json"]


def test_bad_requests(tmp_path: Path, prepared_sample: Any, capsys: pytest.CaptureFixture) -> None:
    argv = ["graphs", "-i", str(prepared_sample.directory), "-o", str(tmp_path), "-q"]
    assert main([*argv, "--skip", "99"]) == 2
    assert "no events left" in capsys.readouterr().err
    assert main(["graphs", "-i", str(tmp_path / "nope"), "-o", str(tmp_path), "-q"]) == 2
    assert "prepared-event folder does not exist" in capsys.readouterr().err

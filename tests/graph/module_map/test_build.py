"""Building and measuring maps from events (``build.py``), the edge metrics it reports, and
``module-map build`` / ``evaluate``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.metrics.edges import EdgeMetrics, edge_truth_mask

# ---------------------------------------------------------------------------------------------
# A map finds every truth edge of the events it was built from
# ---------------------------------------------------------------------------------------------


@pytest.mark.acts
@pytest.mark.parametrize("with_symmetry", [False, True])
def test_map_finds_all_its_truth_edges(tiny_events, symmetry, with_symmetry: bool) -> None:
    from acts_gnn.graph.module_map.build import build_module_map, evaluate_module_map

    selection = TruthSelection(min_hits=3)
    mm = build_module_map(tiny_events, selection, symmetry if with_symmetry else None)
    result = evaluate_module_map(tiny_events, mm, selection, n_threads=1)
    assert result.metrics.truth_total > 100
    assert result.metrics.efficiency == 1.0
    assert result.hits_unknown_module >= 0
    assert 0.0 < result.metrics.purity <= 1.0
    for e in tiny_events:
        one = ModuleMapGraphBuilder(mm, n_threads=1)(e.positions(), e.hits["geometry_id"])
        three = ModuleMapGraphBuilder(mm, n_threads=3)(e.positions(), e.hits["geometry_id"])
        np.testing.assert_array_equal(one.edge_index, three.edge_index)
        np.testing.assert_array_equal(one.edge_features, three.edge_features)
        assert one.doublet_edges == three.doublet_edges
    if with_symmetry:  # enough doublets and triplets for the C++ to really use 3 threads
        assert mm.n_doublets > 3 * 1024
        assert mm.n_triplets > 2 * 4096


# ---------------------------------------------------------------------------------------------
# Edge metrics
# ---------------------------------------------------------------------------------------------


def test_edge_truth_mask_ignores_direction() -> None:
    edges = np.array([[0, 2, 5, 3], [1, 1, 4, 9]])
    truth = np.array([[1, 1, 4], [0, 2, 5]])
    np.testing.assert_array_equal(edge_truth_mask(edges, truth, 10), [True, True, True, False])


def test_edge_metrics_known_values() -> None:
    all_truth = np.array([[0, 1, 2, 4], [1, 2, 3, 5]])
    selected = all_truth[:, :3]  # the particle 4 -> 5 is not selected
    graph = np.array(
        [
            [1, 1, 5, 0, 3],  # (1,0) reversed truth, (1,2) truth, (5,4) reversed truth,
            [0, 2, 4, 3, 4],  # (0,3) and (3,4) fakes
        ]
    )
    m = EdgeMetrics()
    m.add(graph, selected, all_truth, 6, truth_pt=[0.5, 1.5, 2.5], truth_eta=[0.0, 1.0, -1.0])
    assert m.truth_found == 2
    assert m.truth_total == 3
    assert m.efficiency == pytest.approx(2 / 3)
    assert m.true_edges == 3
    assert m.purity == pytest.approx(3 / 5)
    # a second event: all found, one fake
    m.add(
        np.array([[0, 2, 1], [1, 1, 3]]),
        np.array([[0, 1], [1, 2]]),
        np.array([[0, 1], [1, 2]]),
        4,
        truth_pt=[0.5, 2.5],
        truth_eta=[0.5, 0.5],
    )
    assert m.efficiency == pytest.approx(4 / 5)
    assert m.purity == pytest.approx(5 / 8)
    s = m.summary()
    assert s["edge efficiency"] == pytest.approx(4 / 5)
    assert s["edges per event"] == pytest.approx(4.0)
    assert s["truth edges per event"] == pytest.approx(2.5)
    assert s["nodes per event"] == pytest.approx(5.0)
    assert s["edges per node"] == pytest.approx(8 / 10)
    # binned: pT values 0.5 (found, found), 1.5 (found), 2.5 (missed, found)
    bins, eff, err = m.binned("pt", [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(bins, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(eff[:3], [1.0, 1.0, 0.5])
    np.testing.assert_allclose(err[:3], [0.0, 0.0, math.sqrt(0.5 * 0.5 / 2)])
    assert math.isnan(eff[3])
    _, eff_eta, _ = m.binned("eta", [-2.0, 0.25, 2.0])
    # eta: -1 (missed), 0 (found) | 1 (found), 0.5 (found), 0.5 (found)
    np.testing.assert_allclose(eff_eta, [0.5, 1.0])


def test_edge_metrics_empty() -> None:
    m = EdgeMetrics()
    assert math.isnan(m.efficiency)
    assert math.isnan(m.purity)
    m.add(np.zeros((2, 0), np.int64), np.zeros((2, 0), np.int64), np.zeros((2, 0), np.int64), 0)
    assert math.isnan(m.efficiency)
    assert m.events == 1


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


@pytest.mark.acts
def test_cli_build_and_evaluate(prepared_sample, tmp_path: Path, capsys) -> None:
    try:
        import acts_gnn.graph.module_map.formats  # noqa: F401
    except ImportError as err:
        pytest.skip(f"acts_gnn.graph.module_map.formats is not importable yet ({err})")
    from acts_gnn.cli import main

    out = tmp_path / "map.npz"
    rc = main(
        [
            "module-map",
            "build",
            "--input",
            str(prepared_sample.directory),
            "--output",
            str(out),
            "--format",
            "npz",
            "--min-pt",
            "0",
            "--no-rotate-phi",
            "--quiet",
        ]
    )
    built = capsys.readouterr().out
    assert rc == 0, built
    assert out.is_file()
    assert "ModuleMap(" in built
    mm = ModuleMap.load(out)
    assert mm.n_triplets > 0
    assert mm.metadata["symmetries"] == ["mirror_z"]

    rc = main(
        [
            "module-map",
            "evaluate",
            "--input",
            str(prepared_sample.directory),
            "--module-map",
            str(out),
            "--min-pt",
            "0",
            "--quiet",
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0, printed
    lines = [line for line in printed.splitlines() if line.startswith("edge efficiency: ")]
    assert len(lines) == 1, printed
    efficiency = float(lines[0].split(":", 1)[1])
    assert 0.0 <= efficiency <= 1.0
    # built from these very events: every truth edge of particles with >= 3 hits is found
    assert efficiency == 1.0

    rc = main(
        [
            "module-map",
            "evaluate",
            "--input",
            str(prepared_sample.directory),
            "--module-map",
            str(tmp_path / "missing.npz"),
            "--quiet",
        ]
    )
    assert rc == 2
    assert "missing.npz" in capsys.readouterr().err

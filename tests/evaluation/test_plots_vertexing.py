"""The vertexing plots and report section on a hand-made result with known numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import acts_gnn.evaluation.plots_vertexing as pv
from acts_gnn.metrics.vertices import event_vertex_metrics
from acts_gnn.sequencer.vertexing_compare import finder_summary, vertexing_markdown

TRUTH_Z = {1: 0.0, 2: 10.0, 3: 20.0, 4: 21.0, 5: 150.0}


def hand_made_summary() -> dict[str, Any]:
    """Truth: HS (1) 4 tracks, 2: 3, 3: 2, 4: 2, 5: 12 (at z = 150 mm).

    "ml": every vertex found, the HS 2 um off; "amvf": 3 and 4 merged, 5 lost, the HS 5 um off.
    """
    truth = np.array([1] * 4 + [2] * 3 + [3] * 2 + [4] * 2 + [5] * 12)
    ml = np.array([0] * 4 + [1] * 3 + [2] * 2 + [3] * 2 + [4] * 12)
    amvf = np.array([0] * 4 + [1] * 3 + [2] * 4 + [-1] * 12)
    m_ml = event_vertex_metrics(ml, truth, TRUTH_Z, reco_z=np.array([0.002, 10, 20, 21, 150]))
    m_amvf = event_vertex_metrics(amvf, truth, TRUTH_Z, reco_z=np.array([0.005, 10, 20.5]))
    return {
        "events": 2,
        "tracks_per_event": 23.0,
        "tracks": "ckf_tracks",
        "finder": {"window_mm": 3.0},
        "ml": finder_summary([m_ml, m_ml]),
        "amvf": finder_summary([m_amvf, m_amvf]),
        "seconds_per_event": {"ml": 0.1, "amvf": 1.0, "ml_with_truth": 0.5},
    }


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The figures the plot functions save, by file name (inspected before closing)."""
    figures: dict[str, Any] = {}
    save = pv.save_figure

    def keep(fig: Any, path: str | Path, **kwargs: Any) -> Path:
        axes = fig.axes
        figures[Path(path).name] = {
            "lines": [  # error bars (their data line) and plain lines, by label
                [
                    (c.get_label(), c.lines[0].get_ydata().tolist())
                    for c in ax.containers
                    if hasattr(c, "has_yerr")
                ]
                + [
                    (line.get_label(), line.get_ydata().tolist())
                    for line in ax.get_lines()
                    if not line.get_label().startswith("_")
                ]
                for ax in axes
            ],
            "bars": [
                [p.get_height() for p in ax.patches if hasattr(p, "get_height")] for ax in axes
            ],
            "legend": [
                t.get_text() for ax in axes if ax.get_legend() for t in ax.get_legend().texts
            ],
        }
        return save(fig, path, **kwargs)

    monkeypatch.setattr(pv, "save_figure", keep)
    return figures


def test_every_plot_is_written_with_the_summary_numbers(
    tmp_path: Path, drawn: dict[str, Any]
) -> None:
    summary = hand_made_summary()
    paths = pv.plot_vertexing(summary, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "hard_scatter_dz.png",
        "vertex_efficiency_vs_density.png",
        "vertex_efficiency_vs_tracks.png",
        "vertex_efficiency_vs_z.png",
        "vertex_rates_vs_tracks.png",
        "vertex_time.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert p.stat().st_size > 5000
    # efficiency vs tracks, bins [2,3) [3,5) [5,10) [10,20) ...: ML finds all; AMVF finds the
    # 2-track bin's vertices 3 and 4 as one (4 counts as merged), the 3- and 4-track vertices,
    # not the 12-track vertex 5
    eff = dict(drawn["vertex_efficiency_vs_tracks.png"]["lines"][0])
    ml = np.array(eff["ML pair network"])
    amvf = np.array(eff["ACTS AMVF"])
    np.testing.assert_allclose(ml[:4], [1.0, 1.0, np.nan, 1.0], equal_nan=True)
    np.testing.assert_allclose(amvf[:4], [0.5, 1.0, np.nan, 0.0], equal_nan=True)
    np.testing.assert_allclose(eff["ACTS AMVF: merged"][0], 0.5)
    # vs z: vertex 5 (z = 150 mm) is in the bin [125, 150) .. [150, 175): found by ML only
    by_z = dict(drawn["vertex_efficiency_vs_z.png"]["lines"][0])
    k = int(np.digitize(150.0, np.linspace(-200, 200, 17))) - 1
    assert by_z["ML pair network"][k] == 1.0
    assert by_z["ACTS AMVF"][k] == 0.0
    # merge rate vs tracks of the reco vertex: AMVF's 4-track vertex (3 + 4) is merged
    rates = drawn["vertex_rates_vs_tracks.png"]["lines"]
    merge = dict(rates[0])
    assert merge["ACTS AMVF"][1] == pytest.approx(1 / 3)  # [3, 5): HS, vertex 2 and 3 + 4
    assert merge["ML pair network"][1] == 0.0
    # the HS residual: 2 and 5 um, two events each
    legend = drawn["hard_scatter_dz.png"]["legend"]
    assert legend == [
        "ML pair network: 68 % 2.0 um (2 ev.)",
        "ACTS AMVF: 68 % 5.0 um (2 ev.)",
    ]
    assert drawn["vertex_time.png"]["bars"][0] == [0.1, 1.0]


def test_the_report_section_has_one_row_per_finder() -> None:
    text = vertexing_markdown(hand_made_summary())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| finder | efficiency")
    assert rows[1].startswith("| ML pair network | 1.000 | 0.000 | 0.000 | 0.000 | 1.00 | 1.00 ")
    assert "| 2.0 / 2.0 | 0.1 |" in rows[1]
    # AMVF: 3 of 5 truth vertices, 1 of 3 vertices merged
    assert rows[2].startswith("| ACTS AMVF | 0.600 | 0.333 | 0.000 | 0.000 |")
    assert rows[2].endswith("| 5.0 / 5.0 | 1 |")


def test_a_summary_without_finders_draws_nothing(tmp_path: Path) -> None:
    assert pv.plot_vertexing({"events": 0}, tmp_path) == []
    assert not list(tmp_path.iterdir())

"""ML vertexing in the Sequencer next to ACTS's AMVF, on the shared tiny sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.acts


@pytest.fixture(scope="module")
def vertexing(tmp_path_factory: pytest.TempPathFactory, sim_sample: Any) -> tuple[dict, Path]:
    from acts_gnn.chain.vertexing import VertexFinder
    from acts_gnn.sequencer.vertexing_compare import run_vertexing_comparison

    out = tmp_path_factory.mktemp("vertexing")
    summary = run_vertexing_comparison(sim_sample.directory, out, VertexFinder(split_ncut=0.9))
    return summary, out


def test_both_finders_see_the_same_tracks_and_find_the_hard_scatter(
    vertexing: tuple[dict, Path],
) -> None:
    summary, out = vertexing
    assert summary["events"] == 2
    assert summary["tracks_per_event"] > 10
    for finder in ("ml", "ml_position", "amvf"):
        assert summary[finder]["n_reconstructable"] >= 2
        assert summary[finder]["hs_reconstruction_rate"] == 1.0, finder
    assert summary["ml"]["hs_dz_68"] < 0.1  # mm
    assert summary["amvf"]["hs_dz_68"] < 0.1
    assert summary["seconds_per_event"]["ml"] > 0
    assert summary["seconds_per_event"]["amvf"] > 0
    assert (out / "vertexing.json").is_file()
    assert len(list((out / "amvf").glob("event*-vertices.csv"))) == 2


def test_track_sets_carry_the_fitted_tracks_and_their_truth(vertexing: tuple[dict, Path]) -> None:
    from acts_gnn.io.track_sets import read_track_set, track_set_files

    _, out = vertexing
    files = track_set_files(out / "tracks")
    assert [f.name for f in files] == ["event000000000-tracks.npz", "event000000001-tracks.npz"]
    for f in files:
        ts = read_track_set(f)
        assert (ts.truth_vertex > 0).mean() > 0.9  # CKF tracks are mostly matched
        assert 1 in ts.vertex_ids  # the hard scatter
        matched = ts.truth_vertex > 0
        z_truth = np.array([ts.truth_z[v] for v in ts.truth_vertex[matched]])
        pull = (ts.params[matched, 1] - z_truth) / np.sqrt(ts.covariance[matched, 1, 1])
        assert np.median(np.abs(pull)) < 2.0  # z0 is consistent with the truth vertex


def test_position_association_and_csv_reader(tmp_path: Path) -> None:
    from acts_gnn.errors import InputDataError
    from acts_gnn.sequencer.vertexing import associate_tracks, order_by_sum_pt2, read_csv_vertices

    tv = associate_tracks(np.array([0.0, 0.9, 2.1, 10.0]), np.full(4, 0.2), np.array([2.0, 0.1]))
    assert tv.tolist() == [1, -1, 0, -1]  # 0.9 mm is 4 sigma from both vertices
    assert order_by_sum_pt2(
        np.array([0, 1, 1, -1]), np.array([3.0, 1.0, 1.0, 9.0]), 2
    ).tolist() == [0, 1]
    f = tmp_path / "event000000000-vertices.csv"
    f.write_text("x,y,z,T\n0.01,0.0,-5.5,0\n0.0,0.02,12.25,0\n")
    np.testing.assert_allclose(read_csv_vertices(f)[:, 2], [-5.5, 12.25])
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputDataError, match="CsvVertexWriter"):
        read_csv_vertices(tmp_path / "bad.csv")

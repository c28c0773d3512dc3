"""Vertex metrics on hand-made assignments with known answers."""

from __future__ import annotations

import numpy as np

from acts_gnn.metrics.vertices import (
    efficiency_vs,
    event_vertex_metrics,
    summarise_vertex_metrics,
)

TRUTH_Z = {1: 0.0, 2: 10.0, 3: 20.0, 4: 21.0, 5: 40.0}


def test_clean_merged_split_fake_and_hard_scatter() -> None:
    # truth: HS (1) 4 tracks, 2: 3 tracks, 3: 2, 4: 2, 5: 1 (not reconstructable), 2 fakes (0)
    track_truth = np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 0, 0])
    # reco: v0 = HS; v1 = 2 tracks of vertex 2; v2 = the third track of 2 + one fake: 50 %
    # -> matched to 2, a split; v3 = 3 and 4 merged; v4 = the single vertex-5 track and a fake
    track_vertex = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 4, 2])
    m = event_vertex_metrics(
        track_vertex, track_truth, TRUTH_Z, reco_z=np.array([0.01, 10.0, 10.2, 20.5, 40.0])
    )
    assert m.n_reco == 5
    assert m.n_reconstructable == 4  # 1, 2, 3, 4
    assert m.n_found == 3  # 1, 2 and one of 3 / 4
    assert m.n_split == 1  # v2
    assert m.n_merged == 1  # v3
    assert m.n_fake == 1  # v4: its majority truth vertex (5) is not reconstructable
    assert m.hs_reconstructed
    assert m.hs_identified
    assert np.isclose(m.hs_dz, 0.01)
    assert m.truth_found.tolist() == [True, True, True, False]
    assert m.truth_merged.tolist() == [False, False, False, True]
    # density: vertices 3 and 4 have one neighbour within 2 mm: 1 / 4 mm
    assert m.truth_density.tolist() == [0.0, 0.0, 0.25, 0.25]
    s = summarise_vertex_metrics([m])
    assert s["efficiency"] == 0.75
    assert s["merge_rate"] == s["split_rate"] == s["fake_rate"] == 0.2
    assert s["hs_identification_rate"] == 1.0


def test_hard_scatter_not_first_is_not_identified() -> None:
    track_truth = np.array([1, 1, 2, 2, 2])
    track_vertex = np.array([1, 1, 0, 0, 0])  # vertex 0 (highest sum pT^2) is pile-up
    m = event_vertex_metrics(track_vertex, track_truth, TRUTH_Z, reco_z=np.array([10.0, 0.0]))
    assert m.hs_reconstructed
    assert not m.hs_identified
    assert m.hs_dz is None
    s = summarise_vertex_metrics([m, m])
    assert s["hs_reconstruction_rate"] == 1.0
    assert s["hs_identification_rate"] == 0.0
    assert np.isnan(s["hs_dz_rms"])


def test_efficiency_in_bins_of_tracks() -> None:
    track_truth = np.array([1, 1, 2, 2, 2, 3, 3])
    track_vertex = np.array([0, 0, 1, 1, 1, -1, -1])  # vertex 3 lost
    m = event_vertex_metrics(track_vertex, track_truth, TRUTH_Z)
    binned = efficiency_vs([m], "n_tracks", [1.5, 2.5, 3.5])
    assert binned["n"] == [2, 1]
    assert binned["efficiency"] == [0.5, 1.0]


def test_per_vertex_arrays_rates_and_the_common_hard_scatter() -> None:
    from acts_gnn.metrics.vertices import common_hard_scatter, rates_vs

    track_truth = np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 0, 0])
    track_vertex = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 4, 2])
    reco_z = np.array([0.01, 10.0, 10.2, 20.5, 40.0])
    m = event_vertex_metrics(track_vertex, track_truth, TRUTH_Z, reco_z=reco_z)
    assert m.reco_n_tracks.tolist() == [4, 2, 2, 4, 2]
    assert m.reco_merged.tolist() == [False, False, False, True, False]
    assert m.reco_split.tolist() == [False, False, True, False, False]
    assert m.reco_fake.tolist() == [False, False, False, False, True]
    np.testing.assert_allclose(m.reco_dz, [0.01, 0.0, 0.2, 0.5, np.nan], equal_nan=True)
    assert m.truth_zpos.tolist() == [0.0, 10.0, 20.0, 21.0]
    by_z = efficiency_vs([m], "z", [-5.0, 5.0, 15.0, 25.0])
    assert by_z["n"] == [1, 1, 2]
    assert by_z["efficiency"] == [1.0, 1.0, 0.5]
    rates = rates_vs([m], [2, 3, 5])
    assert rates["n"] == [3, 2]
    assert rates["split_rate"] == [1 / 3, 0.0]
    assert rates["fake_rate"] == [1 / 3, 0.0]
    assert rates["merge_rate"] == [0.0, 0.5]
    s = summarise_vertex_metrics([m])
    assert np.isclose(s["matched_dz_68"], np.quantile([0.01, 0.0, 0.2, 0.5], 0.68))
    # the hard scatter on the events where both finders identify it
    lost = event_vertex_metrics(np.array([1, 1, 0, 0, 0]), np.array([1, 1, 2, 2, 2]), TRUTH_Z)
    other = event_vertex_metrics(
        track_vertex, track_truth, TRUTH_Z, reco_z=reco_z + np.array([0.02, 0, 0, 0, 0])
    )
    a = summarise_vertex_metrics([m, lost, m])
    b = summarise_vertex_metrics([other, other, lost])
    assert a["hs_dz_by_event"] == [0.01, None, 0.01]
    c = common_hard_scatter(a, b)
    assert c["events"] == 1
    assert np.isclose(c["a_68"], 0.01)
    assert np.isclose(c["b_68"], 0.03)

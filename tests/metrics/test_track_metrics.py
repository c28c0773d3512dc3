"""Track metrics on hand-made events whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.evaluation.plots import plot_track_metrics
from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.metrics import ParticleSelection, TrackMetrics, match_tracks, trackml_score
from acts_gnn.metrics.tracks import (
    DUPLICATE,
    FAKE,
    MATCHED,
    UNCLASSIFIED,
    ratio_with_errors,
    trackml_pt_weight,
    trackml_weights,
)

# Particles: A (row 0) 6 hits, pT 2 GeV, eta 0.5; B (row 1) 6 hits, pT 1 GeV, eta -1;
# C (row 2) 4 hits, pT 0.3 GeV, eta 2; D (row 3) 3 hits, pT 0.05 GeV (below the selection).
# Two noise hits. Hit rows are shuffled so that row order is not trajectory order.
N_HITS = {"A": 6, "B": 6, "C": 4, "D": 3}
PT = [2.0, 1.0, 0.3, 0.05]
ETA = [0.5, -1.0, 2.0, 0.0]
PHI = [0.1, 1.0, -2.0, 3.0]


def build_event() -> tuple[Event, dict[str, list[int]]]:
    """The event and, per particle name, its hit rows ordered along the trajectory."""
    rng = np.random.default_rng(5)
    points, pids = [], []
    for p, name in enumerate("ABCD"):
        radii = 30.0 + 40.0 * np.arange(N_HITS[name])
        phi = PHI[p]
        points.append(
            np.stack([radii * np.cos(phi), radii * np.sin(phi), np.sinh(ETA[p]) * radii], 1)
        )
        pids += [p] * N_HITS[name]
    points.append(np.array([[50.0, 50.0, 0.0], [-80.0, 10.0, 30.0]]))
    pids += [-1, -1]
    ordered = np.concatenate(points)
    n = len(pids)
    perm = rng.permutation(n)  # ordered hit k -> row perm[k]
    positions = np.empty_like(ordered)
    positions[perm] = ordered
    pid = np.empty(n, dtype=np.int64)
    pid[perm] = pids
    hits = {c: np.zeros(n, dtype=t) for c, t in HIT_COLUMNS.items()}
    hits.update(x=positions[:, 0], y=positions[:, 1], z=positions[:, 2], particle_id=pid)
    particles = {c: np.zeros(4, dtype=t) for c, t in PARTICLE_COLUMNS.items()}
    particles.update(
        particle_id=np.arange(4),
        pt=np.array(PT),
        eta=np.array(ETA),
        phi=np.array(PHI),
        is_primary=np.ones(4, dtype=bool),
        n_measurements=np.array([N_HITS[k] for k in "ABCD"]),
    )
    rows: dict[str, list[int]] = {}
    start = 0
    for name in "ABCD":
        rows[name] = [int(perm[start + k]) for k in range(N_HITS[name])]
        start += N_HITS[name]
    rows["noise"] = [int(perm[start]), int(perm[start + 1])]
    return Event(0, hits, particles), rows


SELECTION = ParticleSelection(min_pt=0.1)  # A, B, C selected; D not


def four_kinds() -> tuple[Event, list[np.ndarray]]:
    """T0 perfect A; T1 duplicate of A (4 of its hits); T2, T3 B split 3 + 3; T4 fake
    (one hit each of A, B, C and a noise hit); T5 all of D (an unselected particle)."""
    event, r = build_event()
    tracks = [
        r["A"],
        r["A"][:4],
        r["B"][:3],
        r["B"][3:],
        [r["A"][5], r["B"][0], r["C"][0], r["noise"][0]],
        r["D"],
    ]
    return event, [np.array(t) for t in tracks]


def test_matching_by_hand() -> None:
    event, tracks = four_kinds()
    m = match_tracks(event, tracks, SELECTION)
    assert m.n_hits.tolist() == [6, 4, 3, 3, 4, 3]
    # T4: A, B, C one hit each: the tie goes to the particle met first walking back from
    # the track's last hit (C; the noise hit has no particle)
    assert m.particle.tolist() == [0, 0, 1, 1, 2, 3]
    assert m.particle_hits.tolist() == [6, 4, 3, 3, 1, 3]
    # double majority (strict): B's halves hold exactly half of B: no match
    assert m.double_majority.tolist() == [True, True, False, False, False, True]
    # ACTS (ratio >= 0.5, double): T0 matched, T1 duplicate (fewer hits), T2 matched, T3
    # duplicate (same hits: the first stays), T4 fake (1/4), T5 matched to D: ACTS's matcher
    # sees every particle, selected or not
    assert m.acts.tolist() == [MATCHED, DUPLICATE, MATCHED, DUPLICATE, FAKE, MATCHED]
    assert m.particle_n_hits.tolist() == [6, 6, 4, 3]
    assert m.selected.tolist() == [True, True, True, False]
    assert m.n_acts_matched.tolist() == [2, 2, 0, 1]
    assert m.n_acts_fake.tolist() == [0, 0, 1, 0]
    assert m.exatrkx_matched.tolist() == [True, False, False, True]


def test_duplicate_is_the_track_with_fewer_hits_whatever_the_order() -> None:
    event, tracks = four_kinds()
    m = match_tracks(event, [tracks[1], tracks[0]], SELECTION)
    assert m.acts.tolist() == [DUPLICATE, MATCHED]


def test_metrics_by_hand() -> None:
    event, tracks = four_kinds()
    metrics = TrackMetrics(SELECTION)
    metrics.add(event, tracks, trackml=False)
    # Exa.TrkX: matched selected particles {A} of {A, B, C}; reconstructable (>= 5 hits):
    # {A, B}; tracks matching a selected particle: T0, T1 of 6
    assert metrics.physics_efficiency == pytest.approx(1 / 3)
    assert metrics.technical_efficiency == pytest.approx(1 / 2)
    assert metrics.purity == pytest.approx(2 / 6)
    # ACTS: particles with a matched track {A, B} of 3; 1 fake, 2 duplicates of 6 tracks
    assert metrics.efficiency == pytest.approx(2 / 3)
    assert metrics.fake_ratio == pytest.approx(1 / 6)
    assert metrics.duplicate_ratio == pytest.approx(2 / 6)
    stats = metrics.acts_stats()
    expected = {
        "nTotalTracks": 6,
        "nTotalMatchedTracks": 4,
        "nTotalFakeTracks": 1,
        "nTotalDuplicateTracks": 2,
        "nTotalParticles": 3,
        "nTotalMatchedParticles": 2,
        "nTotalDuplicateParticles": 2,
        "nTotalFakeParticles": 1,
    }
    assert {k: stats[k] for k in expected} == expected
    assert stats["efficiencyTracks"] == pytest.approx(4 / 6)
    # a second identical event: same ratios, counts doubled
    metrics.add(event, tracks, trackml=False)
    assert metrics.counts["nTotalTracks"] == 12
    assert metrics.efficiency == pytest.approx(2 / 3)
    assert metrics.purity == pytest.approx(2 / 6)


def test_fakes_and_duplicates_of_unselected_particles_count() -> None:
    # D (0.05 GeV) is not selected. T0 all of D (matched), T1 two of D's three hits
    # (2/2 of the track, 2/3 of D: a duplicate), T2 one D hit + two noise hits (1/3: fake).
    event, r = build_event()
    tracks = [np.array(r["D"]), np.array(r["D"][:2]), np.array([r["D"][0], *r["noise"]])]
    metrics = TrackMetrics(SELECTION)
    m = metrics.add(event, tracks, trackml=False)
    assert m.acts.tolist() == [MATCHED, DUPLICATE, FAKE]
    # ACTS divides by all tracks and counts the tracks of every particle
    assert metrics.fake_ratio == pytest.approx(1 / 3)
    assert metrics.duplicate_ratio == pytest.approx(1 / 3)
    # the particle-level numbers count the selected particles (A, B, C) only
    assert metrics.efficiency == 0.0
    stats = metrics.acts_stats()
    assert stats["nTotalMatchedTracks"] == 0
    assert stats["nTotalFakeParticles"] == 0
    assert stats["nTotalQualityTracks"] == 0
    assert math.isnan(stats["meanPurity"])


def test_majority_ties_and_shared_measurements() -> None:
    event, r = build_event()
    a, b = r["A"], r["B"]
    # one hit each: the particle met first from the track's end wins
    m = match_tracks(event, [np.array([b[0], a[0]]), np.array([a[0], b[0]])], SELECTION)
    assert m.particle.tolist() == [0, 1]
    # two B hits + two noise hits: 2/4 of the track but 2/6 of B -> fake; with both noise
    # hits also made by B (shared), 4/4 of the track and 4/8 of B -> matched
    track = [np.array([b[0], b[1], *r["noise"]])]
    assert match_tracks(event, track, SELECTION).acts.tolist() == [FAKE]
    shared = (np.array(r["noise"]), np.array([1, 1]))
    m = match_tracks(event, track, SELECTION, shared=shared)
    assert m.acts.tolist() == [MATCHED]
    assert m.particle_hits.tolist() == [4]
    assert m.particle_n_hits[1] == 8
    # a hit made by A (first) and B (shared): the tie goes to the first particle
    m = match_tracks(event, [np.array([a[0]])], SELECTION, shared=(np.array([a[0]]), [1]))
    assert m.particle.tolist() == [0]
    metrics = TrackMetrics(SELECTION)
    metrics.add(event, [np.array(a), np.array(a[:4])], trackml=False)
    # completeness 6/6 and 4/6, purity 1 and 1
    assert metrics.mean_completeness == pytest.approx((1 + 4 / 6) / 2)
    assert metrics.mean_purity == pytest.approx(1.0)


def test_selection_counts_shared_measurements() -> None:
    """ACTS's ParticleSelector counts a particle's measurements in the particle ->
    measurements map, shared ones included: C has 4 hits of its own; with 7 measurements
    required it is selected only when 3 more (here: A's first three, also made by C) count."""
    event, r = build_event()
    selection = ParticleSelection(min_pt=0.1, min_hits=7)
    assert match_tracks(event, [], selection).selected.tolist() == [False] * 4
    shared = (np.array(r["A"][:3]), np.array([2, 2, 2]))
    m = match_tracks(event, [], selection, shared=shared)
    assert m.particle_n_hits.tolist() == [6, 6, 7, 3]
    assert m.selected.tolist() == [False, False, True, False]
    metrics = TrackMetrics(selection)
    metrics.add(event, [np.array(r["C"])], trackml=False, shared=shared)
    # C's own 4 hits are 4/7 of its measurements (>= 50 %): matched, efficiency 1
    assert metrics.acts_stats()["nTotalParticles"] == 1
    assert metrics.efficiency == 1.0


def test_matching_ratio_and_single_matching() -> None:
    event, tracks = four_kinds()
    # ratio 0.6: B's halves (3/6) no longer match -> fakes; T1 (4/6) still a duplicate
    m = match_tracks(event, tracks, SELECTION, matchingRatio=0.6)
    assert m.acts.tolist() == [MATCHED, DUPLICATE, FAKE, FAKE, FAKE, MATCHED]
    # two A hits + two noise hits: 2/4 of the track (>= 0.5) but 2/6 of A
    _, r = build_event()
    track = [np.array([r["A"][0], r["A"][1], *r["noise"]])]
    assert match_tracks(event, track, SELECTION).acts.tolist() == [FAKE]
    assert match_tracks(event, track, SELECTION, doubleMatching=False).acts.tolist() == [MATCHED]
    # no truth hit at all: unclassified; an empty track too
    empty = [np.array(r["noise"]), np.zeros(0, dtype=np.int64)]
    m = match_tracks(event, empty, SELECTION)
    assert m.acts.tolist() == [UNCLASSIFIED, UNCLASSIFIED]
    assert m.particle.tolist() == [-1, -1]
    with pytest.raises(ValueError, match="outside"):
        match_tracks(event, [np.array([0, 99])])


def test_selection_options() -> None:
    event, tracks = four_kinds()
    # pT > 0.5 GeV: A, B selected; C drops out of the denominators
    metrics = TrackMetrics(ParticleSelection(min_pt=0.5))
    metrics.add(event, tracks, trackml=False)
    assert metrics.physics_efficiency == pytest.approx(1 / 2)
    assert metrics.efficiency == pytest.approx(2 / 2)
    # |eta| < 1.5 and at least 6 measurements: A, B
    m = match_tracks(event, tracks, ParticleSelection(max_abs_eta=1.5, min_hits=6))
    assert m.selected.tolist() == [True, True, False, False]
    # primaries only: mark B as a secondary
    event.particles["is_primary"][1] = False
    m = match_tracks(event, tracks, ParticleSelection(primaries_only=True))
    assert m.selected.tolist() == [True, False, True, True]
    # B unselected: its tracks are classified all the same (only the efficiency ignores B)
    assert m.acts.tolist()[2:4] == [MATCHED, DUPLICATE]


# -- TrackML score -------------------------------------------------------------------------

# Order weights worked out from the published profile 10, 8, 6, 5, 3, 3, 3, 5, 6 stretched
# over n hits: n = 6 gives 10, 6.8, 4.6, 3, 3.8, 6 (sum 34.2); n = 4 gives 10, 16/3, 3, 6.
ORDER_6 = np.array([10.0, 6.8, 4.6, 3.0, 3.8, 6.0]) / 34.2
ORDER_4 = np.array([10.0, 16.0 / 3.0, 3.0, 6.0]) / (19.0 + 16.0 / 3.0)
# pT weights: A (2 GeV) 0.68, B (1 GeV) 0.36, C (0.3 GeV) 0.2, D (3 hits) none
TOTAL = 0.68 + 0.36 + 0.2


def test_trackml_weights_by_hand() -> None:
    event, r = build_event()
    w = trackml_weights(event)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w[r["A"]], ORDER_6 * 0.68 / TOTAL)
    np.testing.assert_allclose(w[r["B"]], ORDER_6 * 0.36 / TOTAL)
    np.testing.assert_allclose(w[r["C"]], ORDER_4 * 0.2 / TOTAL)
    assert (w[r["D"]] == 0).all()
    assert (w[r["noise"]] == 0).all()
    np.testing.assert_allclose(
        trackml_pt_weight([0.01, 0.05, 0.3, 0.5, 1.75, 3.0, 10.0]),
        [0.0, 0.2, 0.2, 0.2, 0.6, 1.0, 1.0],
    )
    # ordering by |z - vz| gives the same ranks here (z grows along each track)
    np.testing.assert_allclose(trackml_weights(event, order="dz"), w)


def test_trackml_score_by_hand() -> None:
    event, r = build_event()
    perfect = [np.array(r[k]) for k in "ABCD"]
    assert trackml_score(event, perfect) == pytest.approx(1.0)
    # A whole; B split 3 + 3 (no half holds a majority of B); C: 2 of its 4 hits with a
    # noise hit (2/3 of the track, but not more than half of C): only A scores
    tracks = [
        np.array(r["A"]),
        np.array(r["B"][:3]),
        np.array(r["B"][3:]),
        np.array([*r["C"][:2], r["noise"][0]]),
    ]
    assert trackml_score(event, tracks) == pytest.approx(0.68 / TOTAL)
    # A's first 4 hits with one noise hit (4/5 of the track, 4/6 of A): those 4 hits score
    partial = [np.array([*r["A"][:4], r["noise"][1]]), np.array(r["C"][:3])]
    expected = (ORDER_6[:4].sum() * 0.68 + ORDER_4[:3].sum() * 0.2) / TOTAL
    assert trackml_score(event, partial) == pytest.approx(expected)
    with pytest.raises(ValueError, match="share no hit"):
        trackml_score(event, [np.array(r["A"]), np.array(r["A"][:2])])
    metrics = TrackMetrics(SELECTION)
    metrics.add(event, perfect)
    metrics.add(event, tracks)
    assert metrics.trackml_score == pytest.approx((1.0 + 0.68 / TOTAL) / 2)


# -- histograms and plots ------------------------------------------------------------------


def test_histograms_by_hand(tmp_path: Path) -> None:
    event, tracks = four_kinds()
    metrics = TrackMetrics(SELECTION)
    metrics.add(event, tracks, trackml=False)
    h = metrics.efficiency_hist("pt")  # ACTS: A (2 GeV), B (1 GeV) matched, C (0.3) not
    edges, eff, low, high = ratio_with_errors(h)
    assert h.values().sum() == 3
    by_bin = dict(zip(edges[:-1].tolist(), eff.tolist()))
    assert by_bin[2.0] == 1.0
    assert by_bin[1.0] == 1.0
    assert by_bin[0.3] == 0.0
    assert np.isnan(by_bin[5.0])
    assert (low[~np.isnan(eff)] >= 0).all()
    assert (high[~np.isnan(eff)] >= 0).all()
    # physics efficiency vs eta: only A (eta 0.5) matched
    h = metrics.efficiency_hist("eta", "physics")
    matched_eta = h.axes[0].centers[h.values()[:, 1] > 0]
    assert matched_eta.tolist() == pytest.approx([0.625])
    # technical: C (4 hits) is not reconstructable
    assert metrics.efficiency_hist("n_hits", "technical").values().sum() == 2
    # ACTS fakes vs track hits: T4 (4 hits) is the only fake
    fake = metrics.fake_hist("n_hits").values()
    assert fake[:, 1].sum() == 1
    assert fake[4, 1] == 1
    assert fake.sum() == 6
    # vs the majority particle's pT: all 6 tracks have one; Exa.TrkX fakes: T2..T5
    assert metrics.fake_hist("pt", "exatrkx").values()[:, 1].sum() == 4
    with pytest.raises(ValueError, match="definition"):
        metrics.efficiency_hist("pt", "nonsense")
    out = plot_track_metrics(metrics, tmp_path / "plots" / "tracks.png")
    assert out.is_file()
    assert out.stat().st_size > 10_000

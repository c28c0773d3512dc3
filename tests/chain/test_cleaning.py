"""Track cleaning (acts_gnn.chain.cleaning, cpp/track_cleaning.cpp) on synthetic helices.

The helices are drawn here from their parameters (a circle through the beam line and z linear
in the transverse arc length), barrel hits on cylinders and endcap hits on disks, with the
detector's resolutions; wrong hits are displaced by a few millimetres.
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn import _core
from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval
from acts_gnn.chain.tracks import JunctionRemovalTrackBuilding

BARREL_RADII = np.array([33.0, 72, 116, 172, 260, 360, 500, 660, 820, 1020])


def helix_at_radii(
    radius: float, radii: np.ndarray, tan_lambda: float, phi0: float, charge: int, z0: float
) -> np.ndarray:
    """[H, 3] mm: the points at transverse ``radii`` of the helix of transverse radius
    ``radius`` leaving the beam line at (0, 0, z0) in direction phi0."""
    arc = 2 * radius * np.arcsin(radii / (2 * radius))
    turned = arc / radius  # angle swept around the centre
    centre = radius * np.array(
        [np.cos(phi0 + charge * np.pi / 2), np.sin(phi0 + charge * np.pi / 2)]
    )
    start = np.arctan2(-centre[1], -centre[0])
    x = centre[0] + radius * np.cos(start - charge * turned)
    y = centre[1] + radius * np.sin(start - charge * turned)
    return np.stack([x, y, z0 + tan_lambda * arc], axis=1)


def random_barrel_helices(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """``n`` helices of pT 0.5 GeV .. 1 TeV in 2 T (transverse radius 0.83 m .. 1.7 km),
    |tan lambda| < 1, 15 um transverse and 0.1 mm longitudinal smearing."""
    out = []
    for _ in range(n):
        pt = np.exp(rng.uniform(np.log(0.5), np.log(1000.0)))
        radius = pt / (0.3 * 2.0) * 1000.0
        hits = helix_at_radii(
            radius,
            BARREL_RADII,
            rng.uniform(-1, 1),
            rng.uniform(-np.pi, np.pi),
            int(rng.choice([-1, 1])),
            rng.normal(0, 50),
        )
        phi = np.arctan2(hits[:, 1], hits[:, 0])
        along = rng.normal(0, 0.015, len(hits))
        hits[:, 0] -= along * np.sin(phi)
        hits[:, 1] += along * np.cos(phi)
        hits[:, 2] += rng.normal(0, 0.1, len(hits))
        out.append(hits)
    return out


def removed(cleaner: HelixOutlierRemoval, hits: np.ndarray) -> list[int]:
    """The hit indices ``cleaner`` removes from the one candidate ``hits`` [H, 3]."""
    (mask,) = cleaner.keep_masks([np.arange(len(hits))], hits)
    return [int(k) for k in np.flatnonzero(~mask)]


def test_clean_helices_keep_every_hit() -> None:
    rng = np.random.default_rng(1)
    helices = random_barrel_helices(rng, 300)
    cleaner = HelixOutlierRemoval()
    assert all(removed(cleaner, h) == [] for h in helices)


@pytest.mark.parametrize("axis", ["transverse", "longitudinal"])
def test_one_wrong_inner_hit_is_the_one_removed(axis: str) -> None:
    rng = np.random.default_rng(2)
    cleaner = HelixOutlierRemoval()
    for hits in random_barrel_helices(rng, 200):
        wrong = int(rng.integers(0, 4))
        bad = hits.copy()
        if axis == "transverse":  # 4 mm along the cylinder, either side
            phi = np.arctan2(bad[wrong, 1], bad[wrong, 0])
            shift = rng.choice([-4.0, 4.0])
            bad[wrong, :2] += shift * np.array([-np.sin(phi), np.cos(phi)])
        else:
            bad[wrong, 2] += rng.choice([-8.0, 8.0])
        assert removed(cleaner, bad) == [wrong]


def test_a_kink_in_a_straight_track_removes_the_kink() -> None:
    """One hit 3 mm off a 1 TeV track: every left-out circle through the kink bends, so the
    hit that leaves the straightest others must go, not the one farthest from its circle."""
    hits = helix_at_radii(1.7e6, BARREL_RADII, 0.5, 0.3, 1, 10.0)
    phi = np.arctan2(hits[2, 1], hits[2, 0])
    hits[2, :2] += 3.0 * np.array([-np.sin(phi), np.cos(phi)])
    assert removed(HelixOutlierRemoval(), hits) == [2]


def test_endcap_hits_are_judged_perpendicular_to_the_line() -> None:
    """A forward track on disks (z exact, r off by 0.8 mm): its hits lie about 0.8 mm off the
    (arc length, z) line, measured perpendicular to it, but 0.8 mm x tan(lambda) (4 mm) away
    in z, twice the tolerance."""
    rng = np.random.default_rng(3)
    disks_z = np.array([600.0, 700, 820, 960, 1100, 1300, 1500, 1800, 2100, 2500])
    tan_lambda = 5.0
    arc = disks_z / tan_lambda
    radius = 2000.0
    radii = 2 * radius * np.sin(arc / (2 * radius))
    hits = helix_at_radii(radius, radii, tan_lambda, 1.0, -1, 0.0)
    hits[:, 2] = disks_z
    rho = np.hypot(hits[:, 0], hits[:, 1])
    hits[:, :2] *= ((rho + rng.choice([-0.8, 0.8], len(rho))) / rho)[:, None]
    assert removed(HelixOutlierRemoval(), hits) == []
    hits[1, 2] += 0.0
    hits[1, :2] *= (np.hypot(*hits[1, :2]) + 30.0) / np.hypot(*hits[1, :2])  # 30 mm in r
    assert removed(HelixOutlierRemoval(), hits) == [1]


def test_limits_on_what_is_removed() -> None:
    hits = helix_at_radii(1000.0, BARREL_RADII, 0.2, 0.0, 1, 0.0)
    hits[[0, 3, 6], 2] += [10.0, -12.0, 14.0]  # three wrong hits of ten
    assert sorted(removed(HelixOutlierRemoval(minKept=5, maxRemoved=4), hits)) == [0, 3, 6]
    assert len(removed(HelixOutlierRemoval(minKept=9, maxRemoved=4), hits)) == 1
    assert len(removed(HelixOutlierRemoval(minKept=5), hits)) == 2  # maxRemoved 2
    assert removed(HelixOutlierRemoval(minKept=5, maxRemoved=0), hits) == []
    # never below four hits, whatever minKept says
    assert len(removed(HelixOutlierRemoval(minKept=1), hits[[0, 1, 2, 3, 4]])) == 1
    assert removed(HelixOutlierRemoval(minKept=1), hits[[0, 1, 2, 3]]) == []


def test_candidates_are_cleaned_independently_and_in_order() -> None:
    good = helix_at_radii(1500.0, BARREL_RADII, -0.4, 2.0, -1, 5.0)
    bad = helix_at_radii(900.0, BARREL_RADII, 0.7, -1.0, 1, -20.0)
    bad[1, 2] += 9.0
    positions = np.concatenate([good, bad])
    cleaner = HelixOutlierRemoval()
    first = np.arange(10)[::-1]  # outer -> inner: the order is kept
    second = np.arange(10, 20)
    out = cleaner([first, second, np.zeros(0, np.int64)], positions)
    assert [list(c) for c in out] == [list(first), [10, *range(12, 20)], []]
    assert (cleaner.removed, cleaner.cleaned, cleaner.candidates) == (1, 1, 3)
    assert cleaner([], positions) == []
    summary = cleaner.summary()
    assert summary["events"] == 2
    assert summary["hits_removed_per_event"] == 0.5
    assert summary["tolTransverse"] == 2.0
    assert summary["minKept"] == 7


def test_threads_give_the_same_masks() -> None:
    rng = np.random.default_rng(4)
    helices = random_barrel_helices(rng, 600)
    for h in helices[::3]:
        h[int(rng.integers(0, 10)), 2] += 7.0
    positions = np.concatenate(helices)
    candidates = [np.arange(10 * k, 10 * k + 10) for k in range(len(helices))]
    one = HelixOutlierRemoval(nThreads=1).keep_masks(candidates, positions)
    two = HelixOutlierRemoval(nThreads=2).keep_masks(candidates, positions)
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    assert sum(int((~m).sum()) for m in one) == 200


def test_bad_arguments_are_refused() -> None:
    positions = np.zeros((5, 3))
    with pytest.raises(ValueError, match="tolerances"):
        HelixOutlierRemoval(tolTransverse=0.0)
    with pytest.raises(ValueError, match="maxRemoved"):
        HelixOutlierRemoval(maxRemoved=-1)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        HelixOutlierRemoval()([np.arange(3)], np.zeros((5, 2)))
    with pytest.raises(IndexError, match="not a hit index"):
        HelixOutlierRemoval()([np.array([0, 7])], positions)
    nan = positions.copy()
    nan[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"hit row 3 of a candidate has a non-finite position"):
        HelixOutlierRemoval()([np.arange(5)], nan)
    assert HelixOutlierRemoval()([np.arange(3)], nan)[0].tolist() == [0, 1, 2]  # row 3 unused
    x = positions[:, 0].copy()
    with pytest.raises(ValueError, match="offsets must start at 0"):
        _core.helix_outliers(x, x, x, np.array([1, 2]), np.array([0, 1]), 1.0, 1.0, 1, 4)
    with pytest.raises(ValueError, match="must not decrease"):
        _core.helix_outliers(x, x, x, np.array([0, 2, 1, 2]), np.array([0, 1]), 1.0, 1.0, 1, 4)


def test_cleaned_builder_returns_cleaned_space_point_ids() -> None:
    hits = helix_at_radii(1200.0, BARREL_RADII, 0.3, 0.5, 1, 0.0)
    hits[2, 2] += 10.0
    order = np.random.default_rng(5).permutation(10)  # hit rows in a shuffled table
    positions = hits[order]
    row_of = np.argsort(order)  # row of helix hit k
    edge_index = np.stack([row_of[:-1], row_of[1:]])
    scores = np.full(9, 0.9)
    ids = 1000 + np.arange(10)
    builder = CleanedTrackBuilding(
        JunctionRemovalTrackBuilding(cut=0.5, minMeasurementsPerTrack=7), HelixOutlierRemoval()
    )
    (candidate,) = builder(edge_index, scores, 10, spacePointIds=ids, positions=positions)
    assert list(candidate) == [1000 + row_of[k] for k in range(10) if k != 2]
    builder.minMeasurementsPerTrack = 11
    assert builder.builder.minMeasurementsPerTrack == 11
    assert builder(edge_index, scores, 10, positions=positions) == []
    with pytest.raises(ValueError, match="positions"):
        builder(edge_index, scores, 10)

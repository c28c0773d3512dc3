"""The truth perigee on hand-made helices with known answers, and the residual / pull
bookkeeping of :mod:`acts_gnn.metrics.resolutions`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acts_gnn.metrics.resolutions import (
    C_LIGHT,
    ResolutionCollector,
    truth_perigee,
    width68,
    wrap_angle,
)

B = 2.0  # T
R = 1000.0  # mm
PT = C_LIGHT * B * R  # GeV: a 1 m radius in 2 T


def test_prompt_particle_has_zero_impact_parameters() -> None:
    t = truth_perigee([[0, 0, 0]], [[0.6, 0.8, 1.2]], [1.0], B)
    assert t["d0"][0] == pytest.approx(0.0, abs=1e-9)
    assert t["z0"][0] == pytest.approx(0.0, abs=1e-9)
    assert t["phi"][0] == pytest.approx(math.atan2(0.8, 0.6))
    assert t["theta"][0] == pytest.approx(math.atan2(1.0, 1.2))
    assert t["qop"][0] == pytest.approx(1 / math.sqrt(1 + 1.44))


def test_quarter_turn_back_to_the_beam_line() -> None:
    # positive charge, B along +z: clockwise. Through the origin along +x, the centre is at
    # (0, -R); a quarter turn later the particle is at (R, -R) moving along -y. Started there,
    # its perigee is the origin, phi = 0, and z0 lies a quarter circle of path back.
    pz = 0.3
    vz = 40.0
    t = truth_perigee([[R, -R, vz]], [[0.0, -PT, pz]], [1.0], B)
    assert t["d0"][0] == pytest.approx(0.0, abs=1e-6)
    assert t["phi"][0] == pytest.approx(0.0, abs=1e-9)
    assert t["z0"][0] == pytest.approx(vz - 0.5 * math.pi * R * pz / PT, rel=1e-9)
    # its mirror image in y: a negative charge (anticlockwise) from (R, R) moving along +y
    # also reaches the origin moving along +x after a quarter turn
    t = truth_perigee([[R, R, vz]], [[0.0, PT, pz]], [-1.0], B)
    assert t["d0"][0] == pytest.approx(0.0, abs=1e-6)
    assert t["phi"][0] == pytest.approx(0.0, abs=1e-9)
    assert t["z0"][0] == pytest.approx(vz - 0.5 * math.pi * R * pz / PT, rel=1e-9)
    # reversed in time it is the positive charge's way back: started at the origin along -x,
    # the PCA is the start itself (the particle moves away from the beam line)
    t = truth_perigee([[0.0, 0.0, vz]], [[-PT, 0.0, pz]], [-1.0], B)
    assert t["d0"][0] == pytest.approx(0.0, abs=1e-9)
    assert t["z0"][0] == pytest.approx(vz, abs=1e-9)
    assert wrap_angle(t["phi"][0] - math.pi) == pytest.approx(0.0, abs=1e-9)


def test_displaced_circle_gives_signed_d0() -> None:
    # the first case moved by 5 mm along -y: the PCA is (0, -5), phi = 0, so
    # d0 = P . (-sin phi, cos phi) = -5 mm; moved along +y: +5 mm
    for shift, d0 in ((-5.0, -5.0), (5.0, 5.0)):
        t = truth_perigee([[R, -R + shift, 0.0]], [[0.0, -PT, 0.0]], [1.0], B)
        assert t["d0"][0] == pytest.approx(d0, abs=1e-6)
        assert t["phi"][0] == pytest.approx(0.0, abs=1e-9)
    # the reference point moves the beam line: the same as moving the vertex the other way
    t = truth_perigee([[R, -R, 0.0]], [[0.0, -PT, 0.0]], [1.0], B, reference=(0.0, 5.0, 0.0))
    assert t["d0"][0] == pytest.approx(-5.0, abs=1e-6)


def test_neutral_particle_is_a_straight_line() -> None:
    t = truth_perigee([[3.0, 4.0, 10.0]], [[1.0, 0.0, 1.0]], [0.0], B)
    assert t["d0"][0] == pytest.approx(4.0)  # (3, 4) . (0, 1)
    assert t["z0"][0] == pytest.approx(10.0 - 3.0)  # 3 mm of path back, pz / pT = 1


def test_collector_residuals_pulls_and_widths() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    truth = {k: np.zeros(n) for k in ("d0", "z0", "phi", "theta", "qop")}
    truth["phi"][:] = math.pi - 0.001  # the residual crosses the +-pi seam
    sigma = np.array([0.02, 0.05, 1e-3, 1e-3, 1e-3])
    fitted = rng.normal(size=(n, 5)) * sigma
    fitted[:, 2] = wrap_angle(fitted[:, 2] + math.pi - 0.001)
    cov = np.zeros((n, 5, 5))
    cov[:, range(5), range(5)] = (2 * sigma) ** 2  # covariance twice too wide: pulls 0.5
    eta = rng.uniform(-2.5, 2.5, n)
    collector = ResolutionCollector()
    collector.add(
        fitted[: n // 2],
        cov[: n // 2],
        {k: v[: n // 2] for k, v in truth.items()},
        np.full(n // 2, 2.0),
        eta[: n // 2],
    )
    collector.add(
        fitted[n // 2 :],
        cov[n // 2 :],
        {k: v[n // 2 :] for k, v in truth.items()},
        np.full(n - n // 2, 2.0),
        eta[n // 2 :],
    )
    s = collector.summary()
    assert s["tracks"] == n
    for k, name in enumerate(("d0", "z0", "phi", "theta", "qop")):
        assert s[name]["width68"] == pytest.approx(sigma[k], rel=0.03), name
        assert s[name]["rms"] == pytest.approx(sigma[k], rel=0.03), name
        assert s[name]["pull_width68"] == pytest.approx(0.5, rel=0.03), name
        assert sum(s[name]["vs_abs_eta"]["tracks"]) == n
        assert s[name]["vs_pt"]["tracks"][3] == n  # all in 2-5 GeV
        assert s[name]["vs_pt"]["width68"][3] == pytest.approx(sigma[k], rel=0.03)
        assert math.isnan(s[name]["vs_pt"]["width68"][0])  # an empty bin has no width
    few = ResolutionCollector()
    few.add(fitted[:3], cov[:3], {k: v[:3] for k, v in truth.items()}, np.full(3, 2.0), eta[:3])
    assert math.isnan(few.summary()["d0"]["vs_pt"]["width68"][3])  # 3 < MIN_BIN_TRACKS
    assert few.summary()["d0"]["vs_pt"]["tracks"][3] == 3
    # the headline cut: min_pt above every track leaves none
    assert ResolutionCollector.summary(collector, min_pt=3.0)["tracks"] == 0
    assert width68([]) != width68([])  # NaN when empty

"""The numpy event generator: distributions, hard scatter, reproducibility, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.simulation.generator import (
    PARTICLE_COLUMNS,
    EventGenerator,
    GeneratorConfig,
)


def _pt(table):
    return np.hypot(table["px"], table["py"])


def _eta(table):
    return np.arcsinh(table["pz"] / _pt(table))


@pytest.fixture(scope="module")
def pileup_events():
    """50 pile-up-only events at MU = 100: about 5000 vertices and 240k particles."""
    generator = EventGenerator(GeneratorConfig(pileup=100))
    rng = np.random.default_rng(20240501)
    return [generator.generate(rng) for _ in range(50)]


@pytest.fixture(scope="module")
def pileup_particles(pileup_events):
    return {c: np.concatenate([e[c] for e in pileup_events]) for c in PARTICLE_COLUMNS}


def test_table_layout(pileup_events):
    event = pileup_events[0]
    assert set(event) == set(PARTICLE_COLUMNS)
    n = len(event["pdg"])
    assert n > 0
    assert all(len(v) == n for v in event.values())
    assert event["vertex_primary"].dtype == np.uint32
    assert event["particle"].dtype == np.uint32
    assert event["pdg"].dtype == np.int32
    assert event["px"].dtype == np.float64
    # particle numbers are 1..n inside each vertex, vertices are numbered from 1
    for v in np.unique(event["vertex_primary"]):
        numbers = event["particle"][event["vertex_primary"] == v]
        np.testing.assert_array_equal(numbers, np.arange(1, len(numbers) + 1))
    assert event["vertex_primary"].min() >= 1


def test_charged_multiplicity_per_unit_eta(pileup_events):
    config = GeneratorConfig(pileup=100)
    per_vertex = np.concatenate([np.bincount(e["vertex_primary"])[1:] for e in pileup_events])
    assert len(per_vertex) > 4000
    dn_deta = per_vertex.mean() / (2 * config.eta_max)
    assert dn_deta == pytest.approx(6.0, rel=0.04)
    # broad (negative binomial, k = 2): variance well above Poisson
    assert per_vertex.var() > 5 * per_vertex.mean()


def test_mean_number_of_vertices_is_pileup(pileup_events):
    vertices = [len(np.unique(e["vertex_primary"])) for e in pileup_events]
    assert np.mean(vertices) == pytest.approx(100, rel=0.05)


def test_pt_spectrum(pileup_particles):
    config = GeneratorConfig()
    pt = _pt(pileup_particles)
    below_1 = np.mean(pt < 1.0)
    assert 0.85 < below_1 < 0.95
    assert pt.min() >= config.pt_min * (1 - 1e-9)
    assert pt.max() <= config.pt_max * (1 + 1e-9)
    # power-law tail: a few per mille above 2 GeV, and some above 5 GeV
    assert 0.005 < np.mean(pt > 2.0) < 0.05
    assert np.sum(pt > 5.0) > 0
    # soft peak: the median is a few hundred MeV
    assert 0.2 < np.median(pt) < 0.6


def test_pt_min_is_respected_with_other_settings():
    generator = EventGenerator(GeneratorConfig(pileup=20, pt_min=0.5, pt_max=10.0))
    table = generator.generate(np.random.default_rng(3))
    pt = _pt(table)
    assert len(pt) > 100
    assert pt.min() >= 0.5 * (1 - 1e-9)
    assert pt.max() <= 10.0 * (1 + 1e-9)


def test_vertex_spread(pileup_events):
    first = [np.unique(e["vertex_primary"], return_index=True)[1] for e in pileup_events]
    vz = np.concatenate([e["vz"][i] for e, i in zip(pileup_events, first)])
    vx = np.concatenate([e["vx"][i] for e, i in zip(pileup_events, first)])
    assert len(vz) > 4000
    assert np.std(vz) == pytest.approx(50.0, rel=0.05)
    assert abs(np.mean(vz)) < 3 * 50.0 / np.sqrt(len(vz))
    assert np.std(vx) == pytest.approx(0.0125, rel=0.05)
    # all particles of a vertex share its position, and start at t = 0
    for event in pileup_events[:5]:
        for v in np.unique(event["vertex_primary"]):
            sel = event["vertex_primary"] == v
            assert np.ptp(event["vz"][sel]) == 0.0
            assert np.ptp(event["vx"][sel]) == 0.0
    assert np.all(pileup_events[0]["vt"] == 0.0)


def test_eta_flat_and_bounded(pileup_particles):
    eta = _eta(pileup_particles)
    assert np.abs(eta).max() <= 4.0 + 1e-9
    counts, _ = np.histogram(eta, bins=16, range=(-4.0, 4.0))
    expected = len(eta) / 16
    # ~15k per bin: statistical spread ~0.8 %, so 4 % catches any real slope
    assert np.all(np.abs(counts / expected - 1) < 0.04)
    # a narrower eta_max is respected
    narrow = EventGenerator(GeneratorConfig(pileup=30, eta_max=1.5)).generate(
        np.random.default_rng(9)
    )
    assert np.abs(_eta(narrow)).max() <= 1.5 + 1e-9


def test_phi_uniform(pileup_particles):
    phi = np.arctan2(pileup_particles["py"], pileup_particles["px"])
    counts, _ = np.histogram(phi, bins=8, range=(-np.pi, np.pi))
    assert np.all(np.abs(counts / (len(phi) / 8) - 1) < 0.03)


def test_species_and_charges(pileup_particles):
    pdg = pileup_particles["pdg"]
    q = pileup_particles["q"]
    apdg = np.abs(pdg)
    assert set(np.unique(apdg)) <= {211, 321, 2212}
    assert np.mean(apdg == 211) == pytest.approx(0.80, abs=0.01)
    assert np.mean(apdg == 321) == pytest.approx(0.12, abs=0.01)
    assert np.mean(apdg == 2212) == pytest.approx(0.08, abs=0.01)
    # hadrons: positive PDG id = positive charge; both signs about equally frequent
    np.testing.assert_array_equal(np.sign(pdg), np.sign(q))
    assert np.all(np.abs(q) == 1.0)
    assert np.mean(q > 0) == pytest.approx(0.5, abs=0.01)
    # masses belong to the species
    masses = {211: 0.13957, 321: 0.49368, 2212: 0.93827}
    for code, mass in masses.items():
        np.testing.assert_allclose(pileup_particles["m"][apdg == code], mass)


def test_hard_scatter():
    generator = EventGenerator(GeneratorConfig(pileup=0, hard_scatter=True))
    rng = np.random.default_rng(11)
    for _ in range(5):
        table = generator.generate(rng)
        pt = _pt(table)
        assert np.all(table["vertex_primary"] == 1)
        # jets: particles far harder than minimum bias
        assert np.sum(pt > 10.0) >= 2
        # two isolated muons of opposite charge; PDG 13 is the mu-
        muons = np.abs(table["pdg"]) == 13
        assert muons.sum() == 2
        np.testing.assert_array_equal(np.sort(table["pdg"][muons]), [-13, 13])
        for pdg, q in zip(table["pdg"][muons], table["q"][muons]):
            assert q == (-1.0 if pdg == 13 else 1.0)
        assert np.all((pt[muons] >= 20.0) & (pt[muons] <= 80.0))
        assert np.abs(_eta(table)).max() < 4.0
        np.testing.assert_array_equal(table["particle"], np.arange(1, len(pt) + 1))
        assert np.all(pt >= 0.1 * (1 - 1e-9))


def test_hard_scatter_comes_first_with_pileup():
    generator = EventGenerator(GeneratorConfig(pileup=10, hard_scatter=True))
    table = generator.generate(np.random.default_rng(12))
    pt = _pt(table)
    assert table["vertex_primary"][0] == 1
    assert pt[table["vertex_primary"] == 1].max() > 10.0
    # pile-up vertices are soft: nothing from them near jet energies
    assert pt[table["vertex_primary"] > 1].max() < pt[table["vertex_primary"] == 1].max()
    assert table["vertex_primary"].max() > 1


def test_mu200_gives_about_ten_thousand_particles():
    generator = EventGenerator(GeneratorConfig(pileup=200))
    rng = np.random.default_rng(200)
    sizes = [len(generator.generate(rng)["pdg"]) for _ in range(8)]
    assert all(4_000 < n < 20_000 for n in sizes)
    # expected 200 * 6 * 8 = 9600
    assert np.mean(sizes) == pytest.approx(9600, rel=0.15)


def test_same_seed_same_event_different_seed_different_event():
    generator = EventGenerator(GeneratorConfig(pileup=5, hard_scatter=True))
    a = generator.generate(np.random.default_rng(77))
    b = generator.generate(np.random.default_rng(77))
    c = generator.generate(np.random.default_rng(78))
    for column in PARTICLE_COLUMNS:
        np.testing.assert_array_equal(a[column], b[column])
    assert len(a["pdg"]) != len(c["pdg"]) or not np.array_equal(a["px"], c["px"])


def test_momentum_components_consistent(pileup_particles):
    # px, py, pz are built from (pt, eta, phi): p = pt cosh(eta)
    pt = _pt(pileup_particles)
    p = np.sqrt(pt**2 + pileup_particles["pz"] ** 2)
    np.testing.assert_allclose(p, pt * np.cosh(_eta(pileup_particles)), rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pileup": -1.0},
        {"pileup": float("nan")},
        {"pileup": float("inf")},
        {"pt_min": 0.0},
        {"pt_min": -0.1},
        {"pt_min": 5.0, "pt_max": 5.0},
        {"pt_min": 10.0, "pt_max": 1.0},
        {"eta_max": 0.0},
        {"eta_max": -2.0},
        {"pileup": 0.0, "hard_scatter": False},
    ],
)
def test_invalid_config_raises(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError with a message will do
        GeneratorConfig(**kwargs)


def test_config_round_trips_to_dict():
    config = GeneratorConfig(pileup=3, hard_scatter=True)
    as_dict = config.to_dict()
    assert as_dict["pileup"] == 3
    assert as_dict["hard_scatter"] is True
    assert as_dict["sigma_z"] == 50.0

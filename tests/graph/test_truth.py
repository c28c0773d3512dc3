"""The truth graph on hand-made events, where the right answer is known edge by edge."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.graph import TruthSelection, truth_graph


def make_event(positions, particle_ids, particles, event_id=0) -> Event:
    """An Event from hit positions [N, 3], hit particle ids and a list of particle dicts.

    Each particle dict gives any of pt, eta, vx, vy, vz, is_primary (defaults: a 1 GeV
    primary at eta 0 from the origin); n_measurements is counted from the hits.
    """
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    pid = np.asarray(particle_ids, dtype=np.int64)
    n = len(pid)
    x, y, z = positions.T
    r = np.hypot(x, y)
    hits = {c: np.zeros(n, dtype=t) for c, t in HIT_COLUMNS.items()}
    hits.update(
        measurement_id=np.arange(n),
        x=x,
        y=y,
        z=z,
        r=r,
        phi=np.arctan2(y, x),
        eta=np.arcsinh(z / np.where(r > 0, r, 1e-9)),
        particle_id=pid,
    )
    m = len(particles)
    table = {c: np.zeros(m, dtype=t) for c, t in PARTICLE_COLUMNS.items()}
    table["particle_id"] = np.arange(m)
    table["particle"] = np.arange(1, m + 1)
    table["vertex_primary"] = np.ones(m)
    defaults = {"pt": 1.0, "eta": 0.0, "vx": 0.0, "vy": 0.0, "vz": 0.0, "is_primary": True}
    for column, default in defaults.items():
        table[column] = np.array([p.get(column, default) for p in particles], dtype=float)
    table["is_primary"] = table["is_primary"].astype(bool)
    table["generation"] = np.where(table["is_primary"], 0, 1)
    table["n_measurements"] = np.bincount(pid[pid >= 0], minlength=m)
    return Event(event_id, hits, table)


def edge_set(edges: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in edges.T}


def radial_track(radii, phi=0.3, slope=0.5, origin=(0.0, 0.0, 0.0)):
    """Points of a straight line leaving ``origin`` at azimuth ``phi``."""
    radii = np.asarray(radii, dtype=float)
    ox, oy, oz = origin
    return np.stack(
        [ox + radii * np.cos(phi), oy + radii * np.sin(phi), oz + slope * radii], axis=1
    )


@pytest.fixture
def two_tracks_and_noise():
    """Particle 0: 4 hits, particle 1: 3 hits, 2 noise hits; rows listed inner to outer."""
    a = radial_track([30, 70, 120, 200], phi=0.1)
    b = radial_track([35, 80, 150], phi=2.0, slope=-1.0)
    noise = np.array([[50.0, 50.0, 0.0], [-300.0, 10.0, 20.0]])
    positions = np.concatenate([a, b, noise])
    pid = [0, 0, 0, 0, 1, 1, 1, -1, -1]
    return make_event(positions, pid, [{"pt": 2.0}, {"pt": 0.5, "eta": -0.9}])


def test_edges_join_consecutive_hits(two_tracks_and_noise):
    edges = truth_graph(two_tracks_and_noise)
    assert edges.dtype == np.int64
    assert edges.shape == (2, 5)  # (4 - 1) + (3 - 1)
    assert edge_set(edges) == {(0, 1), (1, 2), (2, 3), (4, 5), (5, 6)}


def test_noise_hits_are_never_in_the_graph(two_tracks_and_noise):
    edges = truth_graph(two_tracks_and_noise)
    assert not np.isin([7, 8], edges).any()


def test_order_is_by_distance_from_production_vertex_not_row_order():
    rng = np.random.default_rng(0)
    track_a = radial_track([30, 70, 120, 200, 300, 450], phi=-2.5)
    track_b = radial_track([40, 90, 180, 260], phi=1.0, slope=2.0)
    positions = np.concatenate([track_a, track_b, [[1.0, 2.0, 3.0]]])
    pid = np.array([0] * 6 + [1] * 4 + [-1])
    perm = rng.permutation(len(pid))
    event = make_event(positions[perm], pid[perm], [{}, {}])
    edges = truth_graph(event)
    # map shuffled rows back to (particle, position along the track)
    inverse = np.argsort(perm)
    expected = {(inverse[k], inverse[k + 1]) for k in range(5)}
    expected |= {(inverse[k], inverse[k + 1]) for k in range(6, 9)}
    assert edge_set(edges) == {(int(a), int(b)) for a, b in expected}
    # every edge points outwards
    r = event.hits["r"]
    assert np.all(r[edges[1]] > r[edges[0]])


def test_distance_is_measured_from_the_vertex_not_the_origin():
    # A looper-like particle produced at (0, 0, 500) moving towards -z: its hits closest to the
    # production vertex come first although they have the larger |z| and r.
    vertex = (0.0, 0.0, 500.0)
    positions = np.array([[40.0, 0.0, 460.0], [60.0, 0.0, 300.0], [80.0, 0.0, 100.0]])
    event = make_event(positions[::-1], [0, 0, 0], [{"vz": vertex[2]}])
    edges = truth_graph(event)
    # rows after reversal: 0 = z 100 (far), 1 = z 300, 2 = z 460 (near)
    assert edge_set(edges) == {(2, 1), (1, 0)}
    # with the vertex at the origin the order would flip
    flipped = make_event(positions[::-1], [0, 0, 0], [{"vz": 0.0}])
    assert edge_set(truth_graph(flipped)) == {(0, 1), (1, 2)}


def test_displaced_vertex_in_transverse_plane():
    # a secondary produced at r = 100: hits inside it are farther away than the outer ones
    positions = np.array([[110.0, 0.0, 0.0], [150.0, 0.0, 0.0], [60.0, 0.0, 0.0]])
    event = make_event(positions, [0, 0, 0], [{"vx": 100.0, "is_primary": False}])
    # distances: 10, 50, 40 -> order rows 0, 2, 1
    assert edge_set(truth_graph(event)) == {(0, 2), (2, 1)}


def test_edge_count_is_hits_minus_one_per_particle():
    rng = np.random.default_rng(1)
    counts = [1, 2, 5, 9, 3, 1, 7]
    positions, pid = [], []
    for p, n in enumerate(counts):
        positions.append(radial_track(np.sort(rng.uniform(30, 1000, n)), phi=rng.uniform(-3, 3)))
        pid += [p] * n
    positions = np.concatenate(positions)
    pid = np.array(pid)
    perm = rng.permutation(len(pid))
    event = make_event(positions[perm], pid[perm], [{} for _ in counts])
    edges = truth_graph(event)
    assert edges.shape[1] == sum(n - 1 for n in counts)
    # both ends belong to the same particle, and each hit is a source at most once
    hit_pid = event.hits["particle_id"]
    np.testing.assert_array_equal(hit_pid[edges[0]], hit_pid[edges[1]])
    assert len(np.unique(edges[0])) == edges.shape[1]
    assert len(np.unique(edges[1])) == edges.shape[1]
    per_particle = np.bincount(hit_pid[edges[0]], minlength=len(counts))
    np.testing.assert_array_equal(per_particle, np.maximum(np.array(counts) - 1, 0))


def test_min_pt(two_tracks_and_noise):
    edges = truth_graph(two_tracks_and_noise, TruthSelection(min_pt=1.0))
    assert edge_set(edges) == {(0, 1), (1, 2), (2, 3)}
    # the cut is inclusive: pt == min_pt is kept
    edges = truth_graph(two_tracks_and_noise, TruthSelection(min_pt=0.5))
    assert edges.shape[1] == 5
    assert truth_graph(two_tracks_and_noise, TruthSelection(min_pt=5.0)).shape == (2, 0)


def test_min_hits(two_tracks_and_noise):
    edges = truth_graph(two_tracks_and_noise, TruthSelection(min_hits=4))
    assert edge_set(edges) == {(0, 1), (1, 2), (2, 3)}
    assert truth_graph(two_tracks_and_noise, TruthSelection(min_hits=3)).shape[1] == 5
    assert truth_graph(two_tracks_and_noise, TruthSelection(min_hits=5)).shape == (2, 0)


def test_primaries_only():
    a = radial_track([30, 70, 120], phi=0.1)
    b = radial_track([35, 80, 150, 210], phi=2.0)
    event = make_event(np.concatenate([a, b]), [0, 0, 0, 1, 1, 1, 1], [{}, {"is_primary": False}])
    assert truth_graph(event).shape[1] == 5
    edges = truth_graph(event, TruthSelection(primaries_only=True))
    assert edge_set(edges) == {(0, 1), (1, 2)}


def test_max_abs_eta(two_tracks_and_noise):
    # particle 1 has eta -0.9
    edges = truth_graph(two_tracks_and_noise, TruthSelection(max_abs_eta=0.5))
    assert edge_set(edges) == {(0, 1), (1, 2), (2, 3)}
    assert truth_graph(two_tracks_and_noise, TruthSelection(max_abs_eta=0.9)).shape[1] == 5


def test_selections_combine(two_tracks_and_noise):
    sel = TruthSelection(min_pt=1.0, min_hits=5)
    assert truth_graph(two_tracks_and_noise, sel).shape == (2, 0)
    mask = sel.particle_mask(two_tracks_and_noise)
    np.testing.assert_array_equal(mask, [False, False])
    np.testing.assert_array_equal(
        TruthSelection(max_abs_eta=0.5).particle_mask(two_tracks_and_noise), [True, False]
    )


def test_degenerate_events():
    # no hits at all
    empty = make_event(np.zeros((0, 3)), [], [{}])
    assert truth_graph(empty).shape == (2, 0)
    # only noise
    noise = make_event(np.ones((3, 3)), [-1, -1, -1], [{}])
    assert truth_graph(noise).shape == (2, 0)
    # only noise and an empty particle table (an event missing from particles.root)
    orphan = make_event(np.ones((3, 3)), [-1, -1, -1], [])
    assert orphan.n_particles == 0
    assert truth_graph(orphan).shape == (2, 0)
    assert truth_graph(orphan, TruthSelection(min_pt=1.0)).shape == (2, 0)
    # single hit particles give no edges
    single = make_event(np.array([[30.0, 0, 0], [0, 40.0, 0]]), [0, 1], [{}, {}])
    assert truth_graph(single).shape == (2, 0)
    # a particle without hits next to one with hits
    one = make_event(radial_track([30, 60]), [1, 1], [{}, {}])
    assert edge_set(truth_graph(one)) == {(0, 1)}


def test_event_table_checks():
    positions = radial_track([30, 60])
    event = make_event(positions, [0, -1], [{"pt": 3.0}])
    assert event.n_hits == 2
    assert event.n_particles == 1
    assert event.hits["x"].dtype == np.float32
    assert event.hits["particle_id"].dtype == np.int64
    pt = event.hit_particle("pt")
    assert pt[0] == pytest.approx(3.0)
    assert np.isnan(pt[1])
    np.testing.assert_array_equal(event.hit_particle("is_primary"), [True, False])
    np.testing.assert_allclose(event.positions(), positions, rtol=1e-6)
    hits = dict(event.hits)
    del hits["x"]
    with pytest.raises(KeyError, match="'x'"):
        Event(0, hits, event.particles)
    hits = dict(event.hits)
    hits["y"] = hits["y"][:1]
    with pytest.raises(ValueError, match="different lengths"):
        Event(0, hits, event.particles)

"""Cached surface transforms against ACTS's own Surface.localToGlobal / globalToLocal."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.detector import GENERIC_VOLUMES, SurfaceTransforms
from acts_gnn.errors import InputDataError

pytestmark = pytest.mark.acts


@pytest.fixture(scope="module")
def surface_map(detector):
    return dict(detector.tracking_geometry.geoIdSurfaceMap())


@pytest.fixture(scope="module")
def sampled(surface_map):
    """About 300 sensitive surfaces spread over every volume, with random local points."""
    rng = np.random.default_rng(5)
    sensitive = sorted(
        (gid.value, surface) for gid, surface in surface_map.items() if gid.sensitive != 0
    )
    picks = rng.choice(len(sensitive), 300, replace=False)
    ids = np.array([sensitive[k][0] for k in picks], dtype=np.uint64)
    surfaces = [sensitive[k][1] for k in picks]
    loc0 = rng.uniform(-10.0, 10.0, len(ids))
    loc1 = rng.uniform(-30.0, 30.0, len(ids))
    return ids, surfaces, loc0, loc1


def _acts_local_to_global(surfaces, loc0, loc1):
    import acts

    gctx = acts.GeometryContext.dangerouslyDefaultConstruct()
    direction = acts.Vector3(0.0, 0.0, 1.0)
    return np.array(
        [
            np.asarray(s.localToGlobal(gctx, acts.Vector2(float(a), float(b)), direction))
            for s, a, b in zip(surfaces, loc0, loc1)
        ]
    )


def test_table_covers_every_sensitive_surface(detector, surface_map):
    transforms = detector.surfaces()
    assert isinstance(transforms, SurfaceTransforms)
    sensitive = sorted(g.value for g in surface_map if g.sensitive > 0)
    assert len(transforms) == len(sensitive) < len(surface_map)
    np.testing.assert_array_equal(transforms.geometry_ids, np.array(sensitive, dtype=np.uint64))
    assert np.all(np.diff(transforms.geometry_ids.astype(np.float64)) >= 0)  # sorted
    assert len(np.unique(transforms.geometry_ids)) == len(transforms)
    # cached: the same object each time
    assert detector.surfaces() is transforms
    # rotations are proper rotations
    r = transforms.rotations
    np.testing.assert_allclose(
        np.einsum("nji,njk->nik", r, r), np.broadcast_to(np.eye(3), r.shape), atol=1e-9
    )
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)


def test_sensitive_surfaces_are_planar_and_in_known_volumes(surface_map):
    # local_to_global assumes planar surfaces (global = R (l0, l1, 0) + t): check that every
    # sensitive surface, i.e. every surface that can carry a measurement, is a plane
    import acts

    volumes = set()
    for gid, surface in surface_map.items():
        if gid.sensitive != 0:
            assert surface.type == acts.SurfaceType.Plane, gid
            volumes.add(gid.volume)
    assert volumes == set(GENERIC_VOLUMES)


def test_local_to_global_matches_acts(detector, sampled):
    ids, surfaces, loc0, loc1 = sampled
    ours = detector.surfaces().local_to_global(ids, loc0, loc1)
    theirs = _acts_local_to_global(surfaces, loc0, loc1)
    assert ours.shape == (len(ids), 3)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    # and the points are away from the surface centres (not a trivial pass)
    transforms = detector.surfaces()
    centers = transforms.translations[transforms.index_of(ids)]
    assert np.all(np.linalg.norm(ours - centers, axis=1) > 0.1)


def test_local_origin_is_surface_center(detector, sampled):
    import acts

    ids, surfaces, _, _ = sampled
    gctx = acts.GeometryContext.dangerouslyDefaultConstruct()
    centers = np.array([np.asarray(s.center(gctx)) for s in surfaces])
    ours = detector.surfaces().local_to_global(ids, np.zeros(len(ids)), np.zeros(len(ids)))
    np.testing.assert_allclose(ours, centers, atol=1e-9)


def test_global_to_local_inverts_local_to_global(detector, sampled):
    ids, _, loc0, loc1 = sampled
    transforms = detector.surfaces()
    position = transforms.local_to_global(ids, loc0, loc1)
    local = transforms.global_to_local(ids, position)
    assert local.shape == (len(ids), 3)
    np.testing.assert_allclose(local[:, 0], loc0, atol=1e-9)
    np.testing.assert_allclose(local[:, 1], loc1, atol=1e-9)
    np.testing.assert_allclose(local[:, 2], 0.0, atol=1e-9)


def test_global_to_local_gives_distance_from_plane(detector, surface_map, sampled):
    import acts

    ids, surfaces, loc0, loc1 = sampled
    transforms = detector.surfaces()
    gctx = acts.GeometryContext.dangerouslyDefaultConstruct()
    normals = np.array(
        [np.asarray(s.normal(gctx, s.center(gctx), acts.Vector3(0, 0, 1))) for s in surfaces]
    )
    position = transforms.local_to_global(ids, loc0, loc1) + 0.25 * normals
    local = transforms.global_to_local(ids, position)
    np.testing.assert_allclose(local[:, 2], 0.25, atol=1e-9)
    np.testing.assert_allclose(local[:, 0], loc0, atol=1e-9)


def test_repeated_and_unsorted_ids(detector, sampled):
    ids, surfaces, loc0, loc1 = sampled
    order = np.concatenate([np.arange(len(ids))[::-1], [0, 0, 1]])
    ours = detector.surfaces().local_to_global(ids[order], loc0[order], loc1[order])
    theirs = _acts_local_to_global([surfaces[k] for k in order], loc0[order], loc1[order])
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_simulated_hits_lie_on_their_surfaces(detector, sim_sample, read_tree):
    hits = read_tree(sim_sample.hits_file, "hits")
    position = np.stack([hits["tx"], hits["ty"], hits["tz"]], axis=1).astype(np.float64)
    local = detector.surfaces().global_to_local(hits["geometry_id"], position)
    # Fatras puts hits on the surface: only float32 rounding of ~1 m coordinates remains
    assert np.abs(local[:, 2]).max() < 1e-3
    assert len(local) > 100


def test_unknown_geometry_id_raises(detector, sampled):
    ids, _, loc0, loc1 = sampled
    transforms = detector.surfaces()
    bad_ids = ids.copy()
    bad_ids[7] = np.uint64(123456789)
    with pytest.raises(InputDataError, match="123456789") as info:
        transforms.local_to_global(bad_ids, loc0, loc1)
    assert info.value.field == "geometry_id"
    with pytest.raises(InputDataError):
        transforms.global_to_local(bad_ids, np.zeros((len(ids), 3)))
    # an id larger than every known one (past the end of the sorted table)
    with pytest.raises(InputDataError):
        transforms.index_of([np.iinfo(np.uint64).max])
    # smaller than every known one
    with pytest.raises(InputDataError):
        transforms.index_of([0])


def test_small_hand_made_table():
    # a surface rotated by 90 deg about z and shifted by (100, 0, 5):
    # (l0, l1) -> (100 - l1, l0, 5), worked out by hand
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    table = SurfaceTransforms(
        np.array([20, 10], dtype=np.uint64),
        np.stack([rotation, np.eye(3)]),
        np.array([[100.0, 0.0, 5.0], [0.0, 0.0, 0.0]]),
    )
    assert list(table.geometry_ids) == [10, 20]
    np.testing.assert_allclose(table.local_to_global([20], [1.0], [2.0]), [[98.0, 1.0, 5.0]])
    np.testing.assert_allclose(table.local_to_global([10], [1.0], [2.0]), [[1.0, 2.0, 0.0]])
    np.testing.assert_allclose(table.global_to_local([20], [[98.0, 1.0, 6.0]]), [[1.0, 2.0, 1.0]])
    with pytest.raises(InputDataError):
        table.index_of([15])

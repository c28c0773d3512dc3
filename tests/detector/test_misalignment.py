"""Misaligned modules (:mod:`acts_gnn.detector.misalignment`) on hand-made surfaces: a known
shift or rotation moves hits by the expected amount in the module frame, zero sigma is the
identity, and the drawn displacements have the asked sigma, per module or rigidly per layer."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.detector.misalignment import Misalignment, MisalignmentSettings, small_rotation
from acts_gnn.detector.surfaces import SurfaceTransforms


def surfaces(n: int = 6, seed: int = 0) -> SurfaceTransforms:
    """``n`` planar modules with random orientations at radius ~ 100 .. 500 mm."""
    rng = np.random.default_rng(seed)
    rot = small_rotation(rng.uniform(-np.pi, np.pi, (n, 3)))
    trans = rng.uniform(-500, 500, (n, 3))
    return SurfaceTransforms(np.arange(1, n + 1, dtype=np.uint64) * 256, rot, trans)


def hits_on(s: SurfaceTransforms, per_module: int = 50, seed: int = 1) -> tuple:
    """Points on the nominal planes: (geometry ids, local [N, 2], global [N, 3])."""
    rng = np.random.default_rng(seed)
    gid = np.repeat(s.geometry_ids, per_module)
    local = rng.uniform(-20, 20, (len(gid), 2))
    return gid, local, s.local_to_global(gid, local[:, 0], local[:, 1])


def local_of(s: SurfaceTransforms, gid: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    return s.global_to_local(gid, xyz)


def constant(s: SurfaceTransforms, angles: tuple, shift: tuple) -> Misalignment:
    m = len(s)
    return Misalignment(
        s, np.repeat(small_rotation([angles]), m, axis=0), np.tile(np.asarray(shift, float), (m, 1))
    )


def test_in_plane_shift_moves_hits_opposite_to_the_module() -> None:
    s = surfaces()
    gid, local, xyz = hits_on(s)
    moved = constant(s, (0, 0, 0), (0.1, -0.05, 0.0)).apply(gid, xyz)  # normal incidence
    new = local_of(s, gid, moved)
    np.testing.assert_allclose(new[:, :2] - local, np.tile([-0.1, 0.05], (len(gid), 1)), atol=1e-9)
    np.testing.assert_allclose(new[:, 2], 0.0, atol=1e-9)  # on the nominal surface


def test_rotation_about_the_normal_rotates_hits_back() -> None:
    s = surfaces()
    gid, local, xyz = hits_on(s)
    gamma = 1e-3
    new = local_of(s, gid, constant(s, (0, 0, gamma), (0, 0, 0)).apply(gid, xyz))
    c, sn = np.cos(gamma), np.sin(gamma)
    expected = np.stack(
        [c * local[:, 0] + sn * local[:, 1], -sn * local[:, 0] + c * local[:, 1]], 1
    )
    np.testing.assert_allclose(new[:, :2], expected, atol=1e-9)
    # at 20 mm from the centre a 1 mrad rotation moves a hit by up to 20 um
    assert np.abs(new[:, :2] - local).max() == pytest.approx(np.abs(local).max() * gamma, rel=0.3)


def test_normal_shift_acts_through_the_track_angle() -> None:
    s = surfaces()
    gid, local, xyz = hits_on(s)
    w, slope = 0.2, 0.5  # mm along the normal; track direction (0.5, 0, 1) in the module frame
    direction_local = np.tile([slope, 0.0, 1.0], (len(gid), 1))
    rows = s.index_of(gid)
    direction = np.einsum("nij,nj->ni", s.rotations[rows], direction_local)
    new = local_of(s, gid, constant(s, (0, 0, 0), (0, 0, w)).apply(gid, xyz, direction))
    np.testing.assert_allclose(new[:, 0] - local[:, 0], w * slope, atol=1e-9)
    np.testing.assert_allclose(new[:, 1] - local[:, 1], 0.0, atol=1e-9)
    # without a direction (normal incidence) a normal shift does nothing
    same = local_of(s, gid, constant(s, (0, 0, 0), (0, 0, w)).apply(gid, xyz))
    np.testing.assert_allclose(same[:, :2], local, atol=1e-9)


def test_zero_sigma_is_the_identity() -> None:
    s = surfaces()
    gid, _, xyz = hits_on(s)
    settings = MisalignmentSettings(0.0, 0.0, "module", seed=5)
    assert settings.is_identity
    m = Misalignment.draw(settings, s)
    np.testing.assert_array_equal(m.shifts, 0.0)
    np.testing.assert_array_equal(m.rotations, np.tile(np.eye(3), (len(s), 1, 1)))
    np.testing.assert_allclose(m.apply(gid, xyz), xyz, atol=1e-9)


def test_module_draw_has_the_asked_sigma_and_is_reproducible() -> None:
    s = surfaces(4000)
    settings = MisalignmentSettings(100.0, 1.0, "module", seed=3)
    m = Misalignment.draw(settings, s)
    summary = m.summary()
    for axis in "xyz":
        assert summary[f"rms_shift_{axis}_um"] == pytest.approx(100.0, rel=0.05)
        assert summary[f"rms_rotation_{axis}_mrad"] == pytest.approx(1.0, rel=0.05)
    again = Misalignment.draw(settings, s)
    np.testing.assert_array_equal(again.shifts, m.shifts)
    other = Misalignment.draw(MisalignmentSettings(100.0, 1.0, "module", seed=4), s)
    assert not np.allclose(other.shifts, m.shifts)


def test_layer_draw_moves_each_group_rigidly() -> None:
    s = surfaces(40)
    groups = np.repeat([0, 1], 20)
    m = Misalignment.draw(MisalignmentSettings(100.0, 0.0, "layer", seed=2), s, groups)
    # module centre displacement in the global frame: R_N t (no rotation: the layer's shift)
    moved = np.einsum("mij,mj->mi", s.rotations, m.shifts)
    for g in (0, 1):
        block = moved[groups == g]
        np.testing.assert_allclose(block, np.tile(block[0], (len(block), 1)), atol=1e-12)
    assert not np.allclose(moved[0], moved[-1])
    # a rotation about global z through the origin moves a module centre by R_G T - T
    m = Misalignment.draw(MisalignmentSettings(0.0, 1.0, "layer", seed=2), s, groups)
    centre = np.einsum("mij,mj->mi", s.rotations, m.shifts) + s.translations
    for g in (0, 1):
        idx = np.flatnonzero(groups == g)
        # rigid: distances between module centres of one group are kept
        before = np.linalg.norm(s.translations[idx[0]] - s.translations[idx[1:]], axis=1)
        after = np.linalg.norm(centre[idx[0]] - centre[idx[1:]], axis=1)
        np.testing.assert_allclose(after, before, rtol=1e-9)
    with pytest.raises(ValueError, match="groups"):
        Misalignment.draw(MisalignmentSettings(10.0, 0.0, "layer"), s)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        MisalignmentSettings(1.0, 0.0, "sensor")
    with pytest.raises(ValueError, match="shift_um"):
        MisalignmentSettings(-1.0)

"""Misaligned modules: the detector that made the hits is not the one reconstruction assumes.

A real module sits at ``M = N o D``: its nominal placement ``N`` (the surface transform
reconstruction uses, :class:`~acts_gnn.detector.surfaces.SurfaceTransforms`) composed with a
small displacement ``D`` in the module's own frame, ``D(x) = R_d x + t`` (rotation ``R_d``,
shift ``t`` [mm]). The simulation runs in the nominal geometry, so it gives the point ``l``
where a particle crosses the nominal plane (module frame) and its direction ``d``. What the
misaligned module reads out, and what reconstruction (which keeps ``N``) then uses:

1. the particle crosses the real plane (through ``t``, normal ``n' = R_d e_z``) at
   ``p = l + s d`` with ``s = n' . (t - l) / (n' . d)`` (straight line over the sub-mm gap;
   ``d = n'`` where the track runs parallel to the plane);
2. the module reads the local coordinates ``u = R_d^T (p - t)`` of that point;
3. reconstruction places the measurement at ``N(u_0, u_1, 0)``, on the nominal surface.

So a module shifted by ``+a`` along its local x reads hits at ``-a`` (the hits move by the
opposite of the module), a shift along the normal moves them by ``a tan`` (track angle), and a
rotation by ``gamma`` about the normal rotates them by ``-gamma`` about the module centre.
:meth:`Misalignment.apply` returns the new positions, on the nominal surfaces; applied to the
simulated hits before digitization (:mod:`acts_gnn.simulation.noise`), every consumer (the
prepared tables, hence the module map and the GNN, and ACTS's CKF) sees the same misaligned
measurements.

Two ways to draw the displacements (:class:`MisalignmentSettings`, reproducible by ``seed``):
``module``: each module independently, three shifts (local x, y, normal) with sigma
``shift_um`` and three rotations (about local x, y, normal) with sigma ``rotation_mrad``;
``layer``: one rigid motion per group of modules (the caller's ``groups``, e.g. one per
ACTS (volume, layer)), shifts along global x, y, z and rotations about the global x, y, z axes
through the origin (the beam spot), turned into each module's frame as
``R_d = R_N^T R_G R_N``, ``t = R_N^T (R_G T_N + t_G - T_N)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from acts_gnn.detector.surfaces import SurfaceTransforms

#: The ways displacements are drawn (:class:`MisalignmentSettings`).
MISALIGNMENT_LEVELS = ("module", "layer")


@dataclass(frozen=True)
class MisalignmentSettings:
    """Gaussian misalignment: sigma of each shift component [um] and of each rotation angle
    [mrad], per ``level`` (``module`` or ``layer``), drawn with ``seed``."""

    shift_um: float = 0.0
    rotation_mrad: float = 0.0
    level: str = "module"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.level not in MISALIGNMENT_LEVELS:
            raise ValueError(f"level must be one of {MISALIGNMENT_LEVELS}, got {self.level!r}")
        for name in ("shift_um", "rotation_mrad"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite sigma >= 0, got {value!r}")

    @property
    def is_identity(self) -> bool:
        """True when both sigmas are zero (nothing moves)."""
        return self.shift_um == 0 and self.rotation_mrad == 0

    def describe(self) -> dict[str, float | int | str]:
        """The settings as JSON-ready values (units in the keys)."""
        return {
            "shift_um": float(self.shift_um),
            "rotation_mrad": float(self.rotation_mrad),
            "level": self.level,
            "seed": int(self.seed),
        }


def small_rotation(angles: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Rotation matrices [K, 3, 3] ``Rz(c) Ry(b) Rx(a)`` of angles [K, 3] = (a, b, c) [rad]."""
    a = np.asarray(angles, dtype=np.float64).reshape(-1, 3)
    ca, sa = np.cos(a[:, 0]), np.sin(a[:, 0])
    cb, sb = np.cos(a[:, 1]), np.sin(a[:, 1])
    cc, sc = np.cos(a[:, 2]), np.sin(a[:, 2])
    one, zero = np.ones(len(a)), np.zeros(len(a))
    rx = np.stack([one, zero, zero, zero, ca, -sa, zero, sa, ca], 1).reshape(-1, 3, 3)
    ry = np.stack([cb, zero, sb, zero, one, zero, -sb, zero, cb], 1).reshape(-1, 3, 3)
    rz = np.stack([cc, -sc, zero, sc, cc, zero, zero, zero, one], 1).reshape(-1, 3, 3)
    return np.asarray(rz @ ry @ rx)


class Misalignment:
    """Displacement ``D(x) = R_d x + t`` of every surface of ``surfaces`` in its own frame:
    ``rotations`` [M, 3, 3] and ``shifts`` [M, 3] (mm), rows in ``surfaces`` order."""

    def __init__(
        self,
        surfaces: SurfaceTransforms,
        rotations: npt.NDArray[np.float64],
        shifts: npt.NDArray[np.float64],
    ) -> None:
        m = len(surfaces)
        if rotations.shape != (m, 3, 3) or shifts.shape != (m, 3):
            raise ValueError(
                f"rotations [M, 3, 3] and shifts [M, 3] for M = {m} surfaces, got "
                f"{rotations.shape} and {shifts.shape}"
            )
        self.surfaces = surfaces
        self.rotations = np.ascontiguousarray(rotations, dtype=np.float64)
        self.shifts = np.ascontiguousarray(shifts, dtype=np.float64)

    @classmethod
    def identity(cls, surfaces: SurfaceTransforms) -> Misalignment:
        """No displacement of any module."""
        m = len(surfaces)
        return cls(surfaces, np.tile(np.eye(3), (m, 1, 1)), np.zeros((m, 3)))

    @classmethod
    def draw(
        cls,
        settings: MisalignmentSettings,
        surfaces: SurfaceTransforms,
        groups: npt.ArrayLike | None = None,
    ) -> Misalignment:
        """Gaussian displacements as the module docstring describes. ``groups`` [M] (ints, one
        per surface in ``surfaces`` order) names the rigid groups of ``layer`` level; required
        there, ignored for ``module``. The same settings and surfaces give the same result."""
        if settings.is_identity:
            return cls.identity(surfaces)
        rng = np.random.default_rng(settings.seed)
        sigma_shift = settings.shift_um * 1e-3  # mm
        sigma_rot = settings.rotation_mrad * 1e-3  # rad
        m = len(surfaces)
        if settings.level == "module":
            shifts = rng.normal(0.0, 1.0, (m, 3)) * sigma_shift
            rotations = small_rotation(rng.normal(0.0, 1.0, (m, 3)) * sigma_rot)
            return cls(surfaces, rotations, shifts)
        if groups is None:
            raise ValueError("layer-level misalignment needs the module groups (one per layer)")
        labels = np.asarray(groups)
        if labels.shape != (m,):
            raise ValueError(f"groups must have one label per surface ({m}), got {labels.shape}")
        unique, inverse = np.unique(labels, return_inverse=True)
        global_shift = (rng.normal(0.0, 1.0, (len(unique), 3)) * sigma_shift)[inverse]
        global_rot = small_rotation(rng.normal(0.0, 1.0, (len(unique), 3)) * sigma_rot)[inverse]
        r_n, t_n = surfaces.rotations, surfaces.translations
        r_nt = np.transpose(r_n, (0, 2, 1))
        rotations = r_nt @ global_rot @ r_n
        moved = np.einsum("mij,mj->mi", global_rot, t_n) + global_shift - t_n
        shifts = np.einsum("mij,mj->mi", r_nt, moved)
        return cls(surfaces, rotations, shifts)

    def apply(
        self,
        geometry_ids: npt.ArrayLike,
        positions: npt.ArrayLike,
        directions: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.float64]:
        """Where reconstruction sees hits [N, 3] (mm, global, on the nominal surfaces) that the
        simulation put at ``positions`` [N, 3] (mm, global, on the nominal surfaces of
        ``geometry_ids`` [N]) with ``directions`` [N, 3] (any length; None or a zero vector:
        along the module's normal). Steps 1-3 of the module docstring."""
        rows = self.surfaces.index_of(geometry_ids)
        local = self.surfaces.global_to_local(geometry_ids, positions)  # [N, 3]
        r_n = self.surfaces.rotations[rows]
        rot, shift = self.rotations[rows], self.shifts[rows]
        normal = rot[:, :, 2]  # the real plane's normal, module frame
        if directions is None:
            direction = normal.copy()
        else:
            direction = np.einsum("nji,nj->ni", r_n, np.asarray(directions, np.float64))
        denom = np.einsum("ni,ni->n", normal, direction)
        parallel = np.abs(denom) < 1e-6 * np.maximum(np.linalg.norm(direction, axis=1), 1e-300)
        direction[parallel] = normal[parallel]
        denom[parallel] = 1.0
        step = np.einsum("ni,ni->n", normal, shift - local) / denom
        crossing = local + step[:, None] * direction
        read = np.einsum("nji,nj->ni", rot, crossing - shift)
        return (
            np.einsum("nij,nj->ni", r_n[:, :, :2], read[:, :2]) + self.surfaces.translations[rows]
        )

    def summary(self) -> dict[str, float]:
        """RMS of the drawn shifts [um] (per local axis) and rotation angles [mrad]."""
        angles = np.stack(
            [
                np.arctan2(self.rotations[:, 2, 1], self.rotations[:, 2, 2]),
                -np.arcsin(np.clip(self.rotations[:, 2, 0], -1, 1)),
                np.arctan2(self.rotations[:, 1, 0], self.rotations[:, 0, 0]),
            ],
            1,
        )
        rms_shift = np.sqrt(np.mean(self.shifts**2, axis=0)) * 1e3
        rms_angle = np.sqrt(np.mean(angles**2, axis=0)) * 1e3
        out = {f"rms_shift_{a}_um": float(v) for a, v in zip("xyz", rms_shift)}
        out.update({f"rms_rotation_{a}_mrad": float(v) for a, v in zip("xyz", rms_angle)})
        return out


__all__ = ["MISALIGNMENT_LEVELS", "Misalignment", "MisalignmentSettings", "small_rotation"]

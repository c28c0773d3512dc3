"""Detector symmetries used to multiply the statistics of a module map.

Two exact symmetries of a cylindrical detector with regular module rings:

* rotation about the beam axis by a multiple of the module pitch of every ring involved: a
  triplet of modules in rings of N1, N2, N3 modules maps onto another triplet of modules under
  rotations by 2 pi k / gcd(N1, N2, N3);
* mirroring z -> -z, where the module layout is mirror-symmetric.

Each truth triplet seen in training is copied through every symmetry that maps all three of its
modules onto modules (checked: centre and normal match within ``tolerance``), and the copies'
geometry is recomputed from the transformed hit positions, so the map learns module triplets
that the simulated events did not reach. Whether a symmetry is exact is checked per module, not
assumed: modules without a partner are simply not augmented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from acts_gnn.detector.surfaces import SurfaceTransforms
from acts_gnn.io.schemas import decode_geometry_id


@dataclass
class DetectorSymmetry:
    """Module-level symmetry tables of one detector (see the module docstring)."""

    geometry_ids: npt.NDArray[np.uint64]  # sorted
    ring_size: npt.NDArray[np.int64]  # modules per phi ring (1: no rotation symmetry)
    ring_next: npt.NDArray[np.int64]  # module reached by rotating one pitch (+2 pi / N)
    mirror: npt.NDArray[np.int64]  # index of the z-mirrored module, -1 if none
    centers: npt.NDArray[np.float64]
    normals: npt.NDArray[np.float64]
    tolerance: float

    @classmethod
    def from_surfaces(
        cls, surfaces: SurfaceTransforms, tolerance: float = 0.01
    ) -> DetectorSymmetry:
        """Find rings and mirror partners of every module (tolerance in mm)."""
        ids = surfaces.geometry_ids
        centers = surfaces.translations
        normals = surfaces.rotations[:, :, 2]
        tree = cKDTree(centers)
        volume = decode_geometry_id(ids, "volume").astype(np.int64)
        layer = decode_geometry_id(ids, "layer").astype(np.int64)
        r = np.hypot(centers[:, 0], centers[:, 1])
        z = centers[:, 2]
        # Ring = same volume and layer, same centre radius and z (within tolerance).
        key = np.stack(
            [
                volume,
                layer,
                np.round(r / tolerance).astype(np.int64),
                np.round(z / tolerance).astype(np.int64),
            ],
            axis=1,
        )
        _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        ring = counts[inverse.ravel()].astype(np.int64)
        # Keep a ring size only where rotating by one pitch really lands on a module.
        rotated = _rotate(centers, 2 * np.pi / ring)
        dist, match = tree.query(rotated)
        same_normal = (
            np.einsum("ij,ij->i", _rotate(normals, 2 * np.pi / ring), normals[match]) > 1 - 1e-6
        )
        exact = (dist < tolerance) & same_normal
        ring = np.where(exact, ring, 1)
        ring_next = np.where(exact, match, np.arange(len(ids)))
        mirrored = centers * np.array([1.0, 1.0, -1.0])
        dist, match = tree.query(mirrored)
        mirrored_normal = normals * np.array([1.0, 1.0, -1.0])
        normal_ok = np.abs(np.einsum("ij,ij->i", mirrored_normal, normals[match])) > 1 - 1e-6
        mirror = np.where((dist < tolerance) & normal_ok, match, -1)
        return cls(ids, ring, ring_next, mirror, centers, normals, tolerance)

    def rotated(
        self, modules: npt.NDArray[np.int64], steps: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Module indices reached by rotating each module ``steps`` pitches of its own ring."""
        table = self._ring_table()
        start, position = table[0][modules], table[1][modules]
        return table[2][start + (position + steps) % self.ring_size[modules]]

    def _ring_table(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(ring start offset, position in ring, members) from following ``ring_next``."""
        cached = getattr(self, "_rings", None)
        if cached is not None:
            return cached
        n = len(self.geometry_ids)
        start = np.full(n, -1, dtype=np.int64)
        position = np.zeros(n, dtype=np.int64)
        members: list[int] = []
        for m in range(n):
            if start[m] >= 0:
                continue
            first = len(members)
            current = m
            for k in range(int(self.ring_size[m])):
                start[current] = first
                position[current] = k
                members.append(current)
                current = int(self.ring_next[current])
            if current != m:
                raise RuntimeError(f"module ring of {int(self.geometry_ids[m])} does not close")
        self._rings = (start, position, np.array(members, dtype=np.int64))
        return self._rings

    def _index(self, module_ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        pos = np.minimum(np.searchsorted(self.geometry_ids, module_ids), len(self.geometry_ids) - 1)
        return np.where(self.geometry_ids[pos] == module_ids, pos, -1)

    def augment(
        self,
        positions: npt.NDArray[np.float64],
        modules: npt.NDArray[np.uint64],
        mirror_z: bool = True,
        rotate_phi: bool = True,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint64]]:
        """Symmetric copies of triplets: ``positions`` [T, 3, 3] (mm), ``modules`` [T, 3].

        Returns only the new copies (not the input), as (positions [K, 3, 3], modules [K, 3]).
        """
        out_pos = [np.zeros((0, 3, 3))]
        out_mod = [np.zeros((0, 3), dtype=np.uint64)]
        idx = self._index(modules.reshape(-1)).reshape(-1, 3)
        known = np.all(idx >= 0, axis=1)
        positions, idx = positions[known], idx[known]
        bases = [(positions, idx)]
        if mirror_z:
            partner = self.mirror[idx]
            ok = np.all(partner >= 0, axis=1)
            mirrored = positions[ok] * np.array([1.0, 1.0, -1.0])
            out_pos.append(mirrored)
            out_mod.append(self.geometry_ids[partner[ok]])
            bases.append((mirrored, partner[ok]))
        if rotate_phi:
            for base_pos, base_idx in bases:
                sizes = self.ring_size[base_idx]
                period_of = np.gcd.reduce(sizes, axis=1)
                for period in np.unique(period_of[period_of > 1]):
                    rows = np.flatnonzero(period_of == period)
                    pos = base_pos[rows].reshape(-1, 3)
                    idx = base_idx[rows]
                    pitch_steps = sizes[rows] // period  # ring pitches per 1/period turn
                    for k in range(1, int(period)):
                        out_pos.append(_rotate(pos, 2 * np.pi * k / period).reshape(-1, 3, 3))
                        out_mod.append(self.geometry_ids[self.rotated(idx, k * pitch_steps)])
        return np.concatenate(out_pos), np.concatenate(out_mod)

    def summary(self) -> dict[str, int]:
        return {
            "modules": len(self.geometry_ids),
            "modules with a mirror partner": int(np.count_nonzero(self.mirror >= 0)),
            "modules in a rotation ring": int(np.count_nonzero(self.ring_size > 1)),
            "gcd of all ring sizes": int(np.gcd.reduce(self.ring_size[self.ring_size > 1]))
            if np.any(self.ring_size > 1)
            else 1,
        }


def _rotate(
    vectors: npt.NDArray[np.float64], angle: float | npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rotate [N, 3] vectors about z by ``angle`` (scalar or per row)."""
    c, s = np.cos(angle), np.sin(angle)
    out = vectors.copy()
    out[:, 0] = c * vectors[:, 0] - s * vectors[:, 1]
    out[:, 1] = s * vectors[:, 0] + c * vectors[:, 1]
    return out

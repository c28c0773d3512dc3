"""A cached table of sensitive-surface transforms, for vectorised local <-> global conversion.

ACTS surfaces are objects; converting 10^5 measurements one call at a time is slow. This reads
every sensitive surface's rotation and translation once and then converts whole arrays:
``global = R @ (loc0, loc1, 0) + t`` with R, t gathered per hit by geometry id.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError


class SurfaceTransforms:
    """Rotation [M, 3, 3] and translation [M, 3] (mm) of M surfaces sorted by geometry id."""

    def __init__(
        self,
        geometry_ids: npt.NDArray[np.uint64],
        rotations: npt.NDArray[np.float64],
        translations: npt.NDArray[np.float64],
    ) -> None:
        order = np.argsort(geometry_ids)
        self.geometry_ids = np.ascontiguousarray(geometry_ids[order], dtype=np.uint64)
        self.rotations = np.ascontiguousarray(rotations[order], dtype=np.float64)
        self.translations = np.ascontiguousarray(translations[order], dtype=np.float64)

    @classmethod
    def from_tracking_geometry(cls, tracking_geometry: Any) -> SurfaceTransforms:
        """Read the sensitive surfaces of an ``acts.TrackingGeometry``."""
        import acts

        gctx = acts.GeometryContext.dangerouslyDefaultConstruct()
        # Only sensitive (planar module) surfaces: measurements live there, and the planar
        # local -> global formula would be wrong for the passive discs and cylinders.
        surface_map = {
            gid: surface
            for gid, surface in tracking_geometry.geoIdSurfaceMap().items()
            if gid.sensitive > 0
        }
        n = len(surface_map)
        ids = np.empty(n, dtype=np.uint64)
        rot = np.empty((n, 3, 3))
        trans = np.empty((n, 3))
        for k, (gid, surface) in enumerate(surface_map.items()):
            transform = surface.localToGlobalTransform(gctx)
            r = transform.rotation
            ids[k] = gid.value
            rot[k] = [[r[i, j] for j in range(3)] for i in range(3)]
            trans[k] = np.asarray(transform.translation)
        return cls(ids, rot, trans)

    def __len__(self) -> int:
        return len(self.geometry_ids)

    def index_of(self, geometry_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Row of each geometry id; raises :class:`InputDataError` for unknown ids."""
        ids = np.asarray(geometry_ids, dtype=np.uint64)
        rows = np.searchsorted(self.geometry_ids, ids)
        rows_clipped = np.minimum(rows, len(self.geometry_ids) - 1)
        unknown = self.geometry_ids[rows_clipped] != ids
        if np.any(unknown):
            bad = ids[unknown]
            raise InputDataError(
                f"{unknown.sum()} geometry id(s) are not surfaces of this detector, "
                f"first: {int(bad[0])}",
                field="geometry_id",
            )
        return rows_clipped.astype(np.int64)

    def local_to_global(
        self, geometry_ids: npt.ArrayLike, loc0: npt.ArrayLike, loc1: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Global positions [N, 3] (mm) of local 2D positions (mm) on the given surfaces."""
        rows = self.index_of(geometry_ids)
        local = np.stack([np.asarray(loc0, float), np.asarray(loc1, float)], axis=1)
        # Planar surfaces: the local point is (loc0, loc1, 0), so only the first two columns.
        return np.einsum("nij,nj->ni", self.rotations[rows, :, :2], local) + self.translations[rows]

    def global_to_local(
        self, geometry_ids: npt.ArrayLike, positions: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Local coordinates [N, 3] (loc0, loc1, distance from the plane; mm) of global points."""
        rows = self.index_of(geometry_ids)
        shifted = np.asarray(positions, float) - self.translations[rows]
        return np.einsum("nji,nj->ni", self.rotations[rows], shifted)

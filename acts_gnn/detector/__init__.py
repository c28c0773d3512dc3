"""Detectors: tracking geometry, magnetic field, digitization configs and surface transforms."""

from acts_gnn.detector.generic import (
    GENERIC_VOLUMES,
    Detector,
    geometry_dir,
    load_generic_detector,
)
from acts_gnn.detector.surfaces import SurfaceTransforms

__all__ = [
    "GENERIC_VOLUMES",
    "Detector",
    "SurfaceTransforms",
    "geometry_dir",
    "load_generic_detector",
]

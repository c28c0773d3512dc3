"""The ITk-like detector: ACTS's GenericDetector in a 2 T solenoid field.

Volumes (ids as ACTS assigns them): pixel 7/8/9, short strips 12/13/14, long strips 16/17/18
(negative endcap / barrel / positive endcap). The digitization and space-point selection are
ours, in ``geometry/generic/`` (see its README).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from acts_gnn.detector.surfaces import SurfaceTransforms

#: volume id -> (subdetector, region)
GENERIC_VOLUMES: dict[int, tuple[str, str]] = {
    7: ("pixel", "negative endcap"),
    8: ("pixel", "barrel"),
    9: ("pixel", "positive endcap"),
    12: ("short strip", "negative endcap"),
    13: ("short strip", "barrel"),
    14: ("short strip", "positive endcap"),
    16: ("long strip", "negative endcap"),
    17: ("long strip", "barrel"),
    18: ("long strip", "positive endcap"),
}

#: Solenoid field strength [T].
SOLENOID_FIELD_TESLA = 2.0


def geometry_dir(detector: str = "generic") -> Path:
    """Folder holding a detector's data files (digitization config, module maps, models).

    Looks in the installed package first (``acts_gnn/geometry/<detector>``), then in a source
    checkout (``<repo>/geometry/<detector>``).
    """
    installed = Path(str(resources.files("acts_gnn"))) / "geometry" / detector
    if installed.is_dir():
        return installed
    source = Path(__file__).resolve().parents[2] / "geometry" / detector
    if source.is_dir():
        return source
    raise FileNotFoundError(
        f"no data folder for detector {detector!r}: looked in {installed} and {source}"
    )


@dataclass
class Detector:
    """Everything a simulation or reconstruction job needs to know about a detector."""

    name: str
    tracking_geometry: Any  # acts.TrackingGeometry
    field: Any  # acts.MagneticFieldProvider
    decorators: list[Any]
    digi_config_file: Path
    spacepoint_selection_file: Path
    seeding_selection_file: Path
    _keep_alive: Any = None  # the ACTS detector object owning the geometry
    _surfaces: Any = None

    def surfaces(self) -> SurfaceTransforms:
        """This detector's :class:`SurfaceTransforms`, read once and then cached."""
        if self._surfaces is None:
            self._surfaces = SurfaceTransforms.from_tracking_geometry(self.tracking_geometry)
        return self._surfaces


@functools.cache
def load_generic_detector() -> Detector:
    """Build (once per process) the generic detector, its field and config paths."""
    import acts
    import acts.examples

    detector = acts.examples.GenericDetector(acts.examples.GenericDetector.Config())
    field = acts.ConstantBField(acts.Vector3(0.0, 0.0, SOLENOID_FIELD_TESLA * acts.UnitConstants.T))
    data = geometry_dir("generic")
    return Detector(
        name="generic",
        tracking_geometry=detector.trackingGeometry(),
        field=field,
        decorators=list(detector.contextDecorators()),
        digi_config_file=data / "digi-smearing.json",
        spacepoint_selection_file=data / "spacepoint-selection.json",
        seeding_selection_file=data / "seeding-selection.json",
        _keep_alive=detector,
    )

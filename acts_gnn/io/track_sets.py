"""Track-set files: one event's fitted tracks with their truth, for vertexing.

Written in the Sequencer by ``MlVertexingAlgorithm(..., outputTrackSets=DIR)``
(:mod:`acts_gnn.sequencer.vertexing`) and read by vertex training and evaluation. One ``.npz`` per event::

    DIR/event000000042-tracks.npz
        params         float64 [N, 5]     d0 [mm], z0 [mm], phi, theta [rad], q/p [e/GeV]
                                          at the perigee (beam line)
        covariance     float64 [N, 5, 5]  their covariance
        truth_vertex   int64 [N]          vertex_primary of the track's matched particle
                                          (1-based; 0: fake or unmatched track)
        secondary      bool [N]           the matched particle is not from a primary vertex
        vertex_ids     int64 [V]          every primary (truth) vertex of the event
        vertex_z       float64 [V]        their z [mm]

Reading checks shapes and values and names the file and field of anything wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.atomic import atomic_path

#: File name of one event's track set.
TRACK_SET_PATTERN = "event{:09d}-tracks.npz"


@dataclass
class TruthTrackSet:
    """The arrays of one track-set file (see the module docstring)."""

    event_id: int
    params: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]
    truth_vertex: npt.NDArray[np.int64]
    secondary: npt.NDArray[np.bool_]
    vertex_ids: npt.NDArray[np.int64]
    vertex_z: npt.NDArray[np.float64]

    @property
    def truth_z(self) -> dict[int, float]:
        """z [mm] of every truth vertex by id."""
        return dict(zip(self.vertex_ids.tolist(), self.vertex_z.tolist(), strict=True))


def write_track_set(directory: str | Path, tracks: TruthTrackSet) -> Path:
    """Write ``tracks`` as ``DIR/event<id>-tracks.npz`` (atomically); returns the path."""
    path = Path(directory) / TRACK_SET_PATTERN.format(tracks.event_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial, open(partial, "wb") as f:
        np.savez(
            f,
            params=tracks.params,
            covariance=tracks.covariance,
            truth_vertex=tracks.truth_vertex,
            secondary=tracks.secondary,
            vertex_ids=tracks.vertex_ids,
            vertex_z=tracks.vertex_z,
        )
    return path


def read_track_set(path: str | Path) -> TruthTrackSet:
    """Read one track-set file; :class:`InputDataError` names the file and field if wrong."""
    path = Path(path)
    try:
        event_id = int(path.name.split("-")[0].removeprefix("event"))
    except ValueError:
        raise InputDataError(
            "not a track-set file name (event<id>-tracks.npz)", file=path
        ) from None
    if not path.is_file():
        raise InputDataError("track-set file does not exist", file=path, event=event_id)
    with np.load(path) as data:
        arrays = {}
        for name, shape in (
            ("params", (-1, 5)),
            ("covariance", (-1, 5, 5)),
            ("truth_vertex", (-1,)),
            ("secondary", (-1,)),
            ("vertex_ids", (-1,)),
            ("vertex_z", (-1,)),
        ):
            if name not in data:
                raise InputDataError("missing array", file=path, event=event_id, field=name)
            a = data[name]
            if a.ndim != len(shape) or any(s >= 0 and d != s for d, s in zip(a.shape, shape)):
                raise InputDataError(
                    f"shape {a.shape}, expected {shape}", file=path, event=event_id, field=name
                )
            arrays[name] = a
    n = len(arrays["params"])
    for name in ("covariance", "truth_vertex", "secondary"):
        if len(arrays[name]) != n:
            raise InputDataError(
                f"{len(arrays[name])} rows for {n} tracks", file=path, event=event_id, field=name
            )
    if len(arrays["vertex_ids"]) != len(arrays["vertex_z"]):
        raise InputDataError(
            "vertex_ids and vertex_z differ in length", file=path, field="vertex_z"
        )
    for name in ("params", "covariance", "vertex_z"):
        if not np.isfinite(arrays[name]).all():
            raise InputDataError("non-finite values", file=path, event=event_id, field=name)
    return TruthTrackSet(
        event_id=event_id,
        params=arrays["params"].astype(np.float64),
        covariance=arrays["covariance"].astype(np.float64),
        truth_vertex=arrays["truth_vertex"].astype(np.int64),
        secondary=arrays["secondary"].astype(bool),
        vertex_ids=arrays["vertex_ids"].astype(np.int64),
        vertex_z=arrays["vertex_z"].astype(np.float64),
    )


def track_set_files(directory: str | Path) -> list[Path]:
    """The track-set files of ``directory``, sorted; :class:`InputDataError` if none."""
    files = sorted(Path(directory).glob("event*-tracks.npz"))
    if not files:
        raise InputDataError("no event*-tracks.npz files", file=directory)
    return files

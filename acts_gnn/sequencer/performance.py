"""Our own track metrics inside a Sequencer, next to ACTS's performance writer.

:class:`TrackMetricsAlgorithm` reads proto-track collections (measurement indices; for
fitted or CKF tracks use ``TracksToTrajectories`` + ``TrajectoriesToProtoTracks``), turns the
whiteboard truth into an :class:`~acts_gnn.event.Event` and feeds
:class:`~acts_gnn.metrics.tracks.TrackMetrics`: ACTS-style efficiency / fake / duplicate
ratios counted independently of ACTS's ``TrackTruthMatcher`` (with every particle of a
measurement made by several particles counted, as ACTS does), the Exa.TrkX efficiencies and
the TrackML score. Tracks that share measurements (CKF after ambiguity resolution allows a few)
are made disjoint for the TrackML score only: each shared measurement stays on the longest
track that holds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import acts
import acts.examples
import numpy as np
import numpy.typing as npt

from acts_gnn.io.acts_edm import (
    data_handle,
    event_particle_table,
    particle_rows,
    particles_to_columns,
)
from acts_gnn.io.schemas import barcode_hash
from acts_gnn.io.whiteboard import event_from_whiteboard
from acts_gnn.metrics.resolutions import ResolutionCollector, truth_perigee
from acts_gnn.metrics.tracks import MATCHED, ParticleSelection, TrackMetrics, trackml_score
from acts_gnn.sequencer.algorithm import space_point_columns


def shared_measurement_particles(
    particles: Any, measurement_particles: Any, row_of: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(hit rows, particle rows) of the second and later particles of measurements made by
    several particles (``measurement_particles`` order; the event's hit table holds the
    first), for :func:`~acts_gnn.metrics.tracks.match_tracks` ``shared``. ``row_of``: hit row
    of each measurement index (-1: no hit); measurements without a hit are left out."""
    seen: set[int] = set()
    links = []
    for m, b in measurement_particles:
        if m in seen:
            links.append(
                (m, b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
            )
        seen.add(m)
    if not links:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a = np.asarray(links, dtype=np.int64)
    _, particle_hash = event_particle_table(particles_to_columns(particles))
    pid = particle_rows(
        particle_hash, barcode_hash(*(a[:, k].astype(np.uint32) for k in range(1, 6)))
    )
    inside = a[:, 0] < len(row_of)
    rows = np.full(len(a), -1, np.int64)
    rows[inside] = row_of[a[inside, 0]]
    keep = (rows >= 0) & (pid >= 0)
    return rows[keep], pid[keep]


def disjoint_tracks(tracks: list[npt.NDArray[np.int64]]) -> list[npt.NDArray[np.int64]]:
    """The tracks with every shared hit kept only on the longest track holding it (ties: the
    earlier track) and a hit a track lists twice kept once; hit order within a track kept."""
    order = sorted(range(len(tracks)), key=lambda k: (-len(tracks[k]), k))
    taken: set[int] = set()
    out: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)] * len(tracks)
    for k in order:
        keep = []
        for h in tracks[k].tolist():
            if h not in taken:
                taken.add(h)
                keep.append(h)
        out[k] = np.asarray(keep, dtype=np.int64)
    return out


class TrackMetricsAlgorithm(acts.examples.IAlgorithm):  # type: ignore[misc]
    """Per label, :class:`TrackMetrics` of a proto-track collection (see module docstring).

    ``inputProtoTracks``: label -> whiteboard name; ``inputSpacePoints``: one space point per
    measurement (the hits of the event); ``selection``: the particles efficiency counts, or
    several selections by name, each counted on the same tracks (``selection_metrics[name]
    [label]``; ``metrics`` is the first selection's, and alone holds the TrackML scores).
    """

    def __init__(
        self,
        inputProtoTracks: Mapping[str, str],
        inputSpacePoints: str,
        selection: ParticleSelection | Mapping[str, ParticleSelection],
        inputParticles: str = "particles",
        inputMeasurementParticlesMap: str = "measurement_particles_map",
        level: Any = None,
        inputTracks: Mapping[str, str] | None = None,
        resolutionSelection: str | None = None,
        bzTesla: float = 2.0,
        reversedProtoTracks: Sequence[str] = (),
    ) -> None:
        """``inputTracks``: label -> the fitted track container whose proto tracks (same
        order) ``inputProtoTracks[label]`` are; for each, the residuals and pulls of the
        tracks ACTS-matched to a particle of selection ``resolutionSelection`` (default:
        the first) against its truth perigee in the field ``bzTesla`` [T] go to
        ``resolutions[label]`` (:class:`~acts_gnn.metrics.resolutions.ResolutionCollector`);
        ``resolution_skips[label]`` counts tracks left out (no reference surface).
        ``reversedProtoTracks``: the labels whose proto tracks list the hits from the track's
        last state backwards, as ``TrajectoriesToProtoTracks`` makes them from fitted or CKF
        tracks; they are turned round, so that a tie for the majority particle goes where
        ACTS's matcher (walking the track states from the last) sends it."""
        super().__init__("TrackMetricsAlgorithm", acts.logging.INFO if level is None else level)
        selections = selection if isinstance(selection, Mapping) else {"selection": selection}
        if not selections:
            raise ValueError("TrackMetricsAlgorithm needs at least one particle selection")
        self.selection_metrics = {
            key: {label: TrackMetrics(selection=sel) for label in inputProtoTracks}
            for key, sel in selections.items()
        }
        self.metrics = next(iter(self.selection_metrics.values()))
        self._resolution_selection = resolutionSelection or next(iter(selections))
        if self._resolution_selection not in selections:
            raise ValueError(f"resolutionSelection {resolutionSelection!r} is not a selection")
        self._bz = float(bzTesla)
        self._fitted = {
            label: data_handle(
                self, "read", acts.examples.ConstTrackContainer, f"InputTracks_{label}", name
            )
            for label, name in (inputTracks or {}).items()
        }
        self.resolutions = {label: ResolutionCollector() for label in self._fitted}
        self.resolution_skips = dict.fromkeys(self._fitted, 0)
        self._reversed = frozenset(reversedProtoTracks)
        unknown = self._reversed - set(inputProtoTracks)
        if unknown:
            raise ValueError(f"reversedProtoTracks {sorted(unknown)} are not proto-track labels")
        self.n_hits: list[int] = []
        self.n_shared: list[int] = []  # per event: further particles of shared measurements
        self._tracks = {
            label: data_handle(
                self, "read", acts.examples.ProtoTrackContainer, f"InputProtoTracks_{label}", name
            )
            for label, name in inputProtoTracks.items()
        }
        self._space_points = data_handle(
            self, "read", acts.SpacePointContainer, "InputSpacePoints", inputSpacePoints
        )
        self._particles = data_handle(
            self, "read", acts.examples.SimParticleContainer, "InputParticles", inputParticles
        )
        self._map = data_handle(
            self,
            "read",
            acts.examples.MeasurementParticlesMap,
            "InputMeasurementParticlesMap",
            inputMeasurementParticlesMap,
        )

    def execute(self, context: Any) -> Any:
        store = context.eventStore
        positions, geometry_ids, measurements = space_point_columns(self._space_points(store))
        event = event_from_whiteboard(
            context.eventNumber,
            positions,
            geometry_ids,
            measurements,
            self._particles(store),
            self._map(store),
        )
        self.n_hits.append(event.n_hits)
        row_of = np.full(int(measurements.max(initial=-1)) + 1, -1, np.int64)
        row_of[measurements] = np.arange(len(measurements))
        shared = shared_measurement_particles(self._particles(store), self._map(store), row_of)
        self.n_shared.append(len(shared[0]))
        for label, handle in self._tracks.items():
            tracks = []
            for proto in handle(store):
                ids = np.asarray(list(proto), dtype=np.int64)
                rows = row_of[ids[ids < len(row_of)]]
                rows = rows[rows >= 0]
                tracks.append(rows[::-1] if label in self._reversed else rows)
            for key, per_label in self.selection_metrics.items():
                m = per_label[label].add(event, tracks, trackml=False, shared=shared)
                if key == self._resolution_selection and label in self._fitted:
                    self._add_resolutions(
                        label, self._fitted[label](store), event, m, context.recoGeoContext
                    )
            self.metrics[label].trackml_scores.append(trackml_score(event, disjoint_tracks(tracks)))
        return acts.examples.ProcessCode.SUCCESS

    def _add_resolutions(self, label: str, container: Any, event: Any, m: Any, gctx: Any) -> None:
        """Residuals and pulls of the tracks of ``container`` matched (ACTS MATCHED) to a
        selected particle of ``m`` (the matching of the same tracks as proto tracks)."""
        if len(container) != len(m.n_hits):
            raise RuntimeError(
                f"event {event.event_id}: {label} has {len(container)} fitted tracks but "
                f"{len(m.n_hits)} proto tracks; their order is assumed to be the same"
            )
        rows = np.flatnonzero((m.acts == MATCHED) & (m.particle >= 0))
        rows = rows[m.selected[m.particle[rows]]]
        fitted, cov, ref, keep = [], [], [], []
        for k in rows.tolist():
            track = container.getTrack(int(k))
            if not track.hasReferenceSurface:
                self.resolution_skips[label] += 1
                continue
            fitted.append(np.asarray(track.parameters, dtype=np.float64)[:5])
            c = track.covariance  # acts.BoundMatrix: indexed [i, j] only
            cov.append([[c[i, j] for j in range(5)] for i in range(5)])
            centre = track.referenceSurface.center(gctx)
            ref.append([centre[0], centre[1], centre[2]])
            keep.append(k)
        if not keep:
            return
        p = event.particles
        pid = m.particle[np.asarray(keep)]
        vertex = np.stack([p["vx"][pid], p["vy"][pid], p["vz"][pid]], axis=1)
        momentum = np.stack([p["px"][pid], p["py"][pid], p["pz"][pid]], axis=1)
        refs = np.asarray(ref)
        truth = {name: np.empty(len(pid)) for name in ("d0", "z0", "phi", "theta", "qop")}
        for point in np.unique(refs, axis=0):  # one perigee surface per reference point
            same = np.all(refs == point, axis=1)
            t = truth_perigee(vertex[same], momentum[same], p["q"][pid][same], self._bz, point)
            for name in truth:
                truth[name][same] = t[name]
        self.resolutions[label].add(
            np.asarray(fitted), np.asarray(cov), truth, p["pt"][pid], p["eta"][pid]
        )

"""ML primary-vertex finding in the ACTS Sequencer, and ACTS's AMVF on the same tracks.

``addMlVertexing(s, ...)`` adds :class:`MlVertexingAlgorithm`: it reads a fitted track
container (``acts.examples.ConstTrackContainer`` whose tracks are referenced to the perigee at
the origin, as the Kalman fit and the CKF here write them), runs the vertexing stage of
:mod:`acts_gnn.chain.vertexing` and keeps each event's :class:`~acts_gnn.chain.vertexing.
Vertices`; with truth inputs it also writes track-set files (:mod:`acts_gnn.io.track_sets`),
the training and evaluation input of vertexing.

The vertex container: pyacts 48 binds neither ``Acts::Vertex`` nor the examples'
``VertexContainer`` nor ``ProtoVertexContainer`` (``std::vector<std::vector<Index>>``, not the
``ProtoTrackContainer`` a Python algorithm can write), so a Python algorithm cannot put
vertices on the whiteboard for ACTS's ``VertexFitterAlgorithm``, ``VertexTruthMatcher`` or
performance writer, nor read the vertices ACTS's finders write. Hence the ML vertices are
written as ``ProtoTrackContainer`` of track indices (one entry per vertex, ordered as
``Vertices``) and kept in Python, and AMVF's (``addAmvfReference``) go through ACTS's
``CsvVertexWriter`` (x, y, z, t per vertex: no tracks) and :func:`read_csv_vertices`.
For a like-for-like comparison both finders' vertices are scored with the same association
(:func:`associate_tracks`: every track to the vertex most compatible with its z0).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.chain.vertex_fit import Vertices
from acts_gnn.chain.vertexing import TrackSet, VertexFinder
from acts_gnn.errors import InputDataError
from acts_gnn.io.acts_edm import data_handle, particles_to_columns
from acts_gnn.io.track_sets import TruthTrackSet, write_track_set
from acts_gnn.sequencer.memory import reusable_heap

try:  # the Sequencer base class; the module imports without ACTS for documentation tools
    import acts
    import acts.examples

    _IAlgorithm: Any = acts.examples.IAlgorithm
except ImportError:  # pragma: no cover - pyacts is a dependency
    _IAlgorithm = object


def tracks_from_container(tracks: Any) -> TrackSet:
    """The perigee parameters [N, 5] and covariance [N, 5, 5] of a ``ConstTrackContainer``
    (ACTS bound parameters without time), as a :class:`TrackSet`."""
    n = len(tracks)
    if n == 0:
        return TrackSet(np.zeros((0, 5)), np.zeros((0, 5, 5)))
    # copies: the container's buffers are freed with the event, the TrackSet may outlive it
    params = np.array(tracks.parameters, np.float64, copy=True).reshape(n, -1)[:, :5]
    covariance = np.array(tracks.covariance, np.float64, copy=True).reshape(n, 6, 6)[:, :5, :5]
    return TrackSet(np.ascontiguousarray(params), np.ascontiguousarray(covariance))


def track_truth(
    tracks: Any, measurement_particles: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(truth vertex [N], secondary [N]) of every track: ``vertex_primary`` of the particle
    that made most of its measurements (0 if that is not at least half of them) and whether
    that particle comes from a secondary vertex."""
    owner: dict[int, tuple[int, ...]] = {}
    for m, b in measurement_particles:
        owner.setdefault(
            int(m), (b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
        )
    from_link = acts.examples.IndexSourceLink.fromSourceLink
    n = len(tracks)
    vertex = np.zeros(n, np.int64)
    secondary = np.zeros(n, bool)
    for k in range(n):
        track = tracks.getTrack(k)
        counts: Counter[tuple[int, ...]] = Counter()
        n_meas = 0
        for state in track.trackStatesReversed:
            if not state.hasUncalibratedSourceLink:
                continue
            n_meas += 1
            particle = owner.get(from_link(state.uncalibratedSourceLink).index())
            if particle is not None:
                counts[particle] += 1
        if counts:
            particle, hits = counts.most_common(1)[0]
            if 2 * hits >= n_meas:
                vertex[k] = particle[0]
                secondary[k] = particle[1] != 0 or particle[3] != 0
    return vertex, secondary


def truth_vertices(particles: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(ids [V], z [V] mm) of the primary vertices of a ``SimParticleContainer`` (z of the
    generation-0 particles of each ``vertex_primary``)."""
    if len(particles) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    c = particles_to_columns(particles)
    primary = (c["vertex_secondary"] == 0) & (c["generation"] == 0)
    ids = np.unique(c["vertex_primary"][primary]).astype(np.int64)
    z = np.array([np.median(c["vz"][primary & (c["vertex_primary"] == i)]) for i in ids])
    return ids, z


class MlVertexingAlgorithm(_IAlgorithm):  # type: ignore[misc]
    """The ML vertexing stage as an ``acts.examples.IAlgorithm``.

    ``inputTracks``: fitted tracks at the perigee; ``finder``: a
    :class:`~acts_gnn.chain.vertexing.VertexFinder`; ``outputProtoVertices``: the vertices as
    a ``ProtoTrackContainer`` of track indices; with ``inputParticles`` and
    ``inputMeasurementParticlesMap`` the truth of every track is worked out, and
    ``outputTrackSets`` (a folder) receives the track-set files. ``results`` holds per event
    (event number, Vertices, TruthTrackSet or None); ``seconds`` the vertexing time per event
    (container read + :class:`VertexFinder`, not the truth).
    """

    def __init__(
        self,
        finder: VertexFinder,
        inputTracks: str,
        outputProtoVertices: str = "ml_protovertices",
        inputParticles: str = "",
        inputMeasurementParticlesMap: str = "",
        outputTrackSets: str | Path | None = None,
        level: Any = None,
        name: str = "MlVertexingAlgorithm",
    ) -> None:
        super().__init__(name, acts.logging.INFO if level is None else level)
        if bool(inputParticles) != bool(inputMeasurementParticlesMap):
            raise ValueError("truth needs both inputParticles and inputMeasurementParticlesMap")
        if outputTrackSets is not None and not inputParticles:
            raise ValueError("outputTrackSets needs the truth inputs")
        self.finder = finder
        self.outputTrackSets = Path(outputTrackSets) if outputTrackSets is not None else None
        self._tracks = data_handle(
            self, "read", acts.examples.ConstTrackContainer, "InputTracks", inputTracks
        )
        self._protos = data_handle(
            self,
            "write",
            acts.examples.ProtoTrackContainer,
            "OutputProtoVertices",
            outputProtoVertices,
        )
        self._truth = bool(inputParticles)
        if self._truth:
            self._particles = data_handle(
                self, "read", acts.examples.SimParticleContainer, "InputParticles", inputParticles
            )
            self._measurement_particles = data_handle(
                self,
                "read",
                acts.examples.MeasurementParticlesMap,
                "InputMeasurementParticlesMap",
                inputMeasurementParticlesMap,
            )
        self.results: list[tuple[int, Vertices, TruthTrackSet | None]] = []
        self.seconds: list[float] = []

    def execute(self, context: Any) -> Any:
        t0 = time.perf_counter()
        container = self._tracks(context.eventStore)
        try:
            tracks = tracks_from_container(container)
        except InputDataError as err:
            raise InputDataError(str(err), event=context.eventNumber, field="inputTracks") from err
        with reusable_heap():  # the pair network's tensors reused (sequencer/memory.py)
            vertices = self.finder(tracks)
        protos = acts.examples.ProtoTrackContainer()
        for v in range(len(vertices)):
            protos.append(acts.examples.ProtoTrack(vertices.tracks_of(v).tolist()))
        self._protos(context, protos)
        self.seconds.append(time.perf_counter() - t0)
        truth = None
        if self._truth:
            vertex, secondary = track_truth(
                container, self._measurement_particles(context.eventStore)
            )
            ids, z = truth_vertices(self._particles(context.eventStore))
            truth = TruthTrackSet(
                int(context.eventNumber),
                tracks.params,
                tracks.covariance,
                vertex,
                secondary,
                ids,
                z,
            )
            if self.outputTrackSets is not None:
                write_track_set(self.outputTrackSets, truth)
        self.results.append((int(context.eventNumber), vertices, truth))
        self.logger.debug(
            f"event {context.eventNumber}: {len(tracks)} tracks, {len(vertices)} vertices"
        )
        return acts.examples.ProcessCode.SUCCESS


def addMlVertexing(
    s: Any,
    finder: VertexFinder,
    inputTracks: str = "ckf_tracks",
    outputProtoVertices: str = "ml_protovertices",
    truth: bool = True,
    outputTrackSets: str | Path | None = None,
    logLevel: Any = None,
) -> MlVertexingAlgorithm:
    """Add :class:`MlVertexingAlgorithm` on ``inputTracks``; ``truth``: read ``particles``
    and ``measurement_particles_map`` for the per-track truth. Returns the algorithm."""
    algorithm = MlVertexingAlgorithm(
        finder,
        inputTracks,
        outputProtoVertices,
        inputParticles="particles" if truth else "",
        inputMeasurementParticlesMap="measurement_particles_map" if truth else "",
        outputTrackSets=outputTrackSets,
        level=logLevel if logLevel is not None else s.config.logLevel,
    )
    s.addAlgorithm(algorithm)
    return algorithm


def addAmvfReference(
    s: Any,
    field: Any,
    inputTracks: str = "ckf_tracks",
    outputDir: str | Path = "amvf",
    outputVertices: str = "amvf_vertices",
    logLevel: Any = None,
) -> Path:
    """ACTS's adaptive multi-vertex finder (Gaussian seeder, the ACTS defaults) on
    ``inputTracks``, its vertices written by ``CsvVertexWriter`` into ``outputDir``
    (``event<id>-vertices.csv``); returns that folder."""
    level = logLevel if logLevel is not None else s.config.logLevel
    out = Path(outputDir)
    out.mkdir(parents=True, exist_ok=True)
    s.addAlgorithm(
        acts.examples.TracksToParameters(
            level=level, inputTracks=inputTracks, outputTrackParameters="amvf_track_parameters"
        )
    )
    s.addAlgorithm(
        acts.examples.AdaptiveMultiVertexFinderAlgorithm(
            level=level,
            inputTrackParameters="amvf_track_parameters",
            outputProtoVertices="amvf_protovertices",
            outputVertices=outputVertices,
            bField=field,
            seedFinder=acts.examples.VertexSeedFinder.GaussianSeeder,
        )
    )
    s.addWriter(
        acts.examples.CsvVertexWriter(
            level=level, inputVertices=outputVertices, outputDir=str(out), outputStem="vertices"
        )
    )
    return out


def read_csv_vertices(path: str | Path) -> npt.NDArray[np.float64]:
    """Vertex positions [V, 3] mm of one ``CsvVertexWriter`` file (columns x, y, z, T)."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError("vertex file does not exist", file=path)
    header = path.read_text().splitlines()[:1]
    if not header or header[0].split(",")[:3] != ["x", "y", "z"]:
        raise InputDataError("not a CsvVertexWriter file (header x,y,z,T)", file=path)
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, :3] if len(data) else np.zeros((0, 3))


def associate_tracks(
    z0: npt.NDArray[np.float64],
    sigma_z0: npt.NDArray[np.float64],
    vertex_z: npt.NDArray[np.float64],
    chi2_cut: float = 9.0,
) -> npt.NDArray[np.int64]:
    """Vertex [N] of every track: the vertex nearest to its z0 in significance
    (|z0 - z_v| / sigma_z0), -1 when that significance^2 > ``chi2_cut``."""
    if len(vertex_z) == 0:
        return np.full(len(z0), -1, np.int64)
    order = np.argsort(vertex_z)
    zs = vertex_z[order]
    right = np.clip(np.searchsorted(zs, z0), 0, len(zs) - 1)
    left = np.clip(right - 1, 0, len(zs) - 1)
    pick = np.where(np.abs(zs[left] - z0) < np.abs(zs[right] - z0), left, right)
    chi2 = (zs[pick] - z0) ** 2 / sigma_z0**2
    return np.where(chi2 <= chi2_cut, order[pick], -1).astype(np.int64)


def order_by_sum_pt2(
    track_vertex: npt.NDArray[np.int64], pt: npt.NDArray[np.float64], n_vertices: int
) -> npt.NDArray[np.int64]:
    """Vertex indices ordered by the sum of pT^2 [GeV^2] of their tracks, descending."""
    ok = track_vertex >= 0
    sum_pt2 = np.bincount(track_vertex[ok], pt[ok] ** 2, minlength=n_vertices)
    return np.argsort(-sum_pt2, kind="stable")

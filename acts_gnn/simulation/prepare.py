"""ROOT simulation -> ACTS digitization (in a Sequencer) -> per-event training tables.

:func:`prepare` reads ``particles.root``/``hits.root`` in the ACTS schemas, runs ACTS's
``DigitizationAlgorithm`` with the detector's smearing config, and turns the measurements into
the hit table of :mod:`acts_gnn.event`: local coordinates and geometry ids come from the
``MeasurementContainer``, global positions from the cached surface transforms (vectorised,
identical to what ``SpacePointMaker`` computes), the truth particle from ACTS's
``measurement_particles_map``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.detector import Detector, SurfaceTransforms, load_generic_detector
from acts_gnn.event import Event
from acts_gnn.io.acts_edm import event_particle_table, hit_columns, particle_rows
from acts_gnn.io.event_store import write_dataset_info, write_event
from acts_gnn.io.root_reader import SimulationFiles, make_root_reader
from acts_gnn.io.schemas import barcode_hash
from acts_gnn.progress import progress_bar

#: Barcode components, in the order of :func:`acts_gnn.io.schemas.barcode_hash`.
BARCODE_FIELDS = ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle")

log = logging.getLogger(__name__)


@dataclass
class PrepareReport:
    """What :func:`prepare` did: events written, events skipped and why, timing."""

    written: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    hits_without_particle: int = 0
    seconds_per_event: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"events written: {len(self.written)}", f"events skipped: {len(self.skipped)}"]
        lines += [f"  event {e}: {why}" for e, why in sorted(self.skipped.items())]
        if self.hits_without_particle:
            lines.append(
                f"measurements without a particle in particles.root: {self.hits_without_particle}"
            )
        return "\n".join(lines)


def measurements_to_event(
    event_id: int,
    measurements: Any,
    measurement_simhits: Any,
    hits: dict[str, npt.NDArray],
    particles: dict[str, npt.NDArray],
    surfaces: SurfaceTransforms,
) -> tuple[Event, int]:
    """Build an :class:`Event` from ACTS measurements and the ROOT hit and particle columns.

    ``measurement_simhits`` is ACTS's measurement -> sim-hit map; the sim-hit index counts
    hits in the order of ACTS's ``SimHitContainer``, i.e. sorted by geometry id, equal ids in
    reading order (checked: each measurement's module must be its sim hit's module). The
    particle of a measurement is that of its (first) sim hit, taken from the ROOT columns.
    Returns the event and the number of measurements whose particle is not in ``particles``.
    """
    n = len(measurements)
    geometry_id = np.empty(n, dtype=np.uint64)
    local = np.empty((n, 4), dtype=np.float64)
    for k, m in enumerate(measurements):
        geometry_id[k] = m.geometryId.value
        params = m.fullParameters
        cov = m.fullCovariance
        local[k] = (params[0], params[1], cov[0, 0], cov[1, 1])
    position = surfaces.local_to_global(geometry_id, local[:, 0], local[:, 1])

    particle_table, particle_hash = event_particle_table(particles)
    particle_id = np.full(n, -1, dtype=np.int64)
    links = np.array([(m, h) for m, h in measurement_simhits], dtype=np.int64).reshape(-1, 2)
    missing = 0
    if len(links):
        container_order = np.argsort(hits["geometry_id"], kind="stable")
        measured, first = np.unique(links[:, 0], return_index=True)
        rows = container_order[links[first, 1]]
        if np.any(np.asarray(hits["geometry_id"])[rows] != geometry_id[measured]):
            raise RuntimeError(
                "ACTS sim-hit order differs from the sorted ROOT hits: measurement and sim-hit "
                f"modules disagree in event {event_id}"
            )
        hashes = barcode_hash(*(hits[f"barcode_{c}"][rows] for c in BARCODE_FIELDS))
        found_rows = particle_rows(particle_hash, hashes)
        found = found_rows >= 0
        particle_id[measured[found]] = found_rows[found]
        missing = int((~found).sum())
    particle_table["n_measurements"] = np.bincount(
        particle_id[particle_id >= 0], minlength=len(particle_hash)
    ).astype(np.int32)
    hits = hit_columns(np.arange(n, dtype=np.int64), position, geometry_id, particle_id, local)
    return Event(event_id, hits, particle_table), missing


def prepare(
    input_dir: str | Path,
    output_dir: str | Path,
    detector: Detector | None = None,
    seed: int = 7,
    events: int | None = None,
    progress: bool = True,
    log_level: Any = None,
) -> PrepareReport:
    """Digitize the simulation in ``input_dir`` and write prepared events to ``output_dir``.

    Events without any measurement are skipped and reported (in the returned report and in
    ``dataset.json``); bad input raises :class:`~acts_gnn.errors.InputDataError`.
    """
    import acts
    import acts.examples
    from acts.examples.simulation import addDigitization

    level = log_level if log_level is not None else acts.logging.WARNING
    detector = detector or load_generic_detector()
    files = SimulationFiles.from_dir(input_dir)
    event_ids = files.event_ids[:events] if events is not None else files.event_ids
    report = PrepareReport()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not event_ids:
        write_dataset_info(output_dir, _info(input_dir, detector, seed, report))
        return report
    surfaces = detector.surfaces()

    sequencer = acts.examples.Sequencer(
        # run over the whole id range: ids may have gaps, and only wanted events are written
        events=event_ids[-1] - event_ids[0] + 1,
        skip=event_ids[0],
        numThreads=1,
        logLevel=level,
        trackFpes=False,
    )
    for decorator in detector.decorators:
        sequencer.addContextDecorator(decorator)
    sequencer.addReader(make_root_reader(files, level))
    addDigitization(
        sequencer,
        detector.tracking_geometry,
        detector.field,
        digiConfigFile=detector.digi_config_file,
        rnd=acts.examples.RandomNumbers(seed=seed),
        logLevel=level,
    )
    wanted = set(event_ids)
    bar = progress_bar(total=len(event_ids), desc="prepare", unit="event", enabled=progress)

    class TableWriter(acts.examples.IAlgorithm):
        def __init__(self) -> None:
            super().__init__("ActsGnnEventTableWriter", level)
            self.measurements = acts.examples.ReadDataHandle(
                self, acts.examples.MeasurementContainer, "InputMeasurements"
            )
            self.measurements.initialize("measurements")
            self.map = acts.examples.ReadDataHandle(
                self, acts.examples.MeasurementSimHitsMap, "InputMeasurementSimHitsMap"
            )
            self.map.initialize("measurement_simhits_map")
            self.last = time.perf_counter()

        def execute(self, context: Any) -> Any:
            event_id = context.eventNumber
            if event_id in wanted:
                measurements = self.measurements(context.eventStore)
                if len(measurements) == 0:
                    report.skipped[event_id] = "no measurements (empty event)"
                    log.warning("event %d of %s has no measurements: skipped", event_id, input_dir)
                else:
                    event, missing = measurements_to_event(
                        event_id,
                        measurements,
                        self.map(context.eventStore),
                        files.hits(event_id),
                        files.particles(event_id),
                        surfaces,
                    )
                    report.hits_without_particle += missing
                    write_event(output_dir, event)
                    report.written.append(event_id)
                now = time.perf_counter()
                report.seconds_per_event.append(now - self.last)
                self.last = now
                bar.update(1)
            return acts.examples.ProcessCode.SUCCESS

    sequencer.addAlgorithm(TableWriter())
    try:
        sequencer.run()
    finally:
        bar.close()
    write_dataset_info(output_dir, _info(input_dir, detector, seed, report))
    return report


def _info(
    input_dir: str | Path, detector: Detector, seed: int, report: PrepareReport
) -> dict[str, Any]:
    return {
        "input": str(Path(input_dir).resolve()),
        "detector": detector.name,
        "digitization_config": str(detector.digi_config_file),
        "digitization_seed": seed,
        "events": report.written,
        "skipped": {str(k): v for k, v in report.skipped.items()},
        "measurements_without_particle": report.hits_without_particle,
    }

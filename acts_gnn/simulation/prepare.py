"""ROOT simulation -> ACTS digitization (in a Sequencer) -> per-event training tables.

:func:`prepare` reads ``particles.root``/``hits.root`` in the ACTS schemas, runs ACTS's
``DigitizationAlgorithm`` with the detector's smearing config, and turns the measurements into
the hit table of :mod:`acts_gnn.event`: local coordinates and variances come from the
``MeasurementContainer``, each measurement's module and truth particle from its (first) sim
hit through ACTS's ``measurement_simhits_map`` (modules spot-checked against the
measurements', :func:`measurement_modules`), global positions from the cached surface
transforms (vectorised, identical to what ``SpacePointMaker`` computes).

Per Pythia8 MU = 200 event (~100k sim hits) the time goes to building ACTS's
``SimHitContainer`` (~2 us a hit of binding calls), reading the measurements (~2 us each),
ACTS's digitization itself, Parquet writing, and the up-front input checks; docs/data.md
("Speed") has the numbers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.detector import Detector, SurfaceTransforms, load_generic_detector
from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.io.acts_edm import data_handle, event_particle_table, hit_columns, particle_rows
from acts_gnn.io.atomic import require_writable_dir
from acts_gnn.io.event_store import (
    COMPATIBLE_KEYS,
    DATASET_FILE,
    event_files,
    event_stem,
    read_dataset_info,
    write_dataset_info,
    write_event,
)
from acts_gnn.io.root_reader import SimulationFiles, make_root_reader
from acts_gnn.io.schemas import barcode_hash, decode_geometry_id
from acts_gnn.io.sim_checks import BARCODE_FIELDS
from acts_gnn.progress import progress_bar

log = logging.getLogger(__name__)

#: A measurement more than this many sigma (its variance) from its sim hit is "far"; more than
#: MAX_FAR_FRACTION of them in an event means the measurement -> sim-hit rows are wrong.
MAX_PULL = 10.0
MAX_FAR_FRACTION = 0.01
#: Every this-many-th measurement's module id is asked of ACTS, to check the one taken from
#: its sim hit (:func:`measurement_modules`).
MODULE_CHECK_STRIDE = 16


@dataclass
class PrepareReport:
    """What :func:`prepare` did: events written, events skipped and why, hits lost, timing."""

    written: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    hits_without_particle: int = 0
    #: sim hits ACTS digitization made no measurement of, per event (only events with some)
    simhits_dropped: dict[int, int] = field(default_factory=dict)
    #: of those, the hits on passive surfaces (geometry id without a sensitive number)
    simhits_not_on_sensitive: int = 0
    #: sim hits ACTS digitization merged into the measurement of an earlier sim hit on the
    #: same module, per event (only events with some): one measurement, several sim hits
    simhits_merged: dict[int, int] = field(default_factory=dict)
    #: of those, the hits of another particle than the measurement's (its label is lost)
    simhits_merged_other_particle: int = 0
    #: events of an earlier prepare of the same input that this run replaced
    replaced: list[int] = field(default_factory=list)
    seconds_per_event: list[float] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"events written: {len(self.written)}", f"events skipped: {len(self.skipped)}"]
        lines += [f"  event {e}: {why}" for e, why in sorted(self.skipped.items())]
        if self.replaced:
            lines.append(f"replaced {len(self.replaced)} event(s) of an earlier prepare")
        if self.hits_without_particle:
            lines.append(
                f"measurements without a particle in particles.root: {self.hits_without_particle}"
            )
        dropped = sum(self.simhits_dropped.values())
        if dropped:
            events = ", ".join(f"{e}: {n}" for e, n in sorted(self.simhits_dropped.items())[:5])
            lines.append(
                f"sim hits dropped by ACTS digitization (no measurement): {dropped} "
                f"({self.simhits_not_on_sensitive} not on a sensitive surface, "
                f"{dropped - self.simhits_not_on_sensitive} outside their module's bounds); "
                f"per event: {events}{', ...' if len(self.simhits_dropped) > 5 else ''}"
            )
        merged = sum(self.simhits_merged.values())
        if merged:
            lines.append(
                f"sim hits merged by ACTS digitization into another hit's measurement: {merged} "
                f"({self.simhits_merged_other_particle} of another particle)"
            )
        return "\n".join(lines)


def measurement_values(measurements: Any) -> npt.NDArray[np.float64]:
    """(loc0, loc1, var0, var1) [N, 4] (mm, mm^2) of ACTS measurements, in container order.

    Each value is one call into the ACTS bindings (~0.3 us); the loop body does nothing else
    (the values gathered in one flat list, converted once): ~2 us a measurement.
    """
    n = len(measurements)
    values: list[float] = []
    add = values.extend
    for m in measurements:
        params = m.fullParameters
        cov = m.fullCovariance
        add((params[0], params[1], cov[0, 0], cov[1, 1]))
    return np.fromiter(values, np.float64, 4 * n).reshape(n, 4)


def measurement_modules(
    event_id: int,
    measurements: Any,
    measured: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    hit_modules: npt.NDArray,
) -> npt.NDArray[np.uint64]:
    """Module id [N] of each measurement: that of its (first) sim hit, ``hit_modules[rows]``
    for the measurements ``measured``; a measurement without a sim hit (none in ACTS's
    digitization) asks ACTS. Checked against ACTS's own module id of every
    :data:`MODULE_CHECK_STRIDE`-th measurement and of the last (a different sim-hit order
    puts most measurements on another module; within a module, the pull check of
    :func:`measurements_to_event` catches it): 1/16 of the binding calls of asking for all.
    """
    n = len(measurements)
    if len(measured) and (measured[-1] >= n or np.any(rows >= len(hit_modules))):
        raise RuntimeError(
            "ACTS measurement -> sim-hit map points past the measurements or the ROOT hits "
            f"in event {event_id}"
        )
    geometry_id = np.zeros(n, dtype=np.uint64)
    geometry_id[measured] = np.asarray(hit_modules, np.uint64)[rows]
    linked = np.zeros(n, dtype=bool)
    linked[measured] = True
    for k in np.flatnonzero(~linked).tolist():
        geometry_id[k] = measurements[k].geometryId.value
    spot = np.unique(np.append(np.arange(0, n, MODULE_CHECK_STRIDE), n - 1)) if n else measured
    own = np.fromiter(
        (measurements[k].geometryId.value for k in spot.tolist()), np.uint64, len(spot)
    )
    if np.any(own != geometry_id[spot]):
        raise RuntimeError(
            "ACTS sim-hit order differs from the ROOT hits in container order: measurement "
            f"and sim-hit modules disagree in event {event_id}"
        )
    return geometry_id


def measurements_to_event(
    event_id: int,
    measurements: Any,
    measurement_simhits: Any,
    hits: dict[str, npt.NDArray],
    particles: dict[str, npt.NDArray],
    surfaces: SurfaceTransforms,
) -> tuple[Event, int, npt.NDArray[np.int64], tuple[int, int]]:
    """Build an :class:`Event` from ACTS measurements and the ROOT hit and particle columns.

    ``measurement_simhits`` is ACTS's measurement -> sim-hit map; its sim-hit index counts
    hits in the order of ACTS's ``SimHitContainer``, which is the row order of ``hits`` as
    :meth:`SimulationFiles.hits` returns them (by geometry id, then time), whatever order the
    file has (checked: measurements lie on their sim hit's module, :func:`measurement_modules`,
    and within a few sigma of it). The particle of a measurement is that of its (first) sim
    hit, taken from the ROOT columns.
    Returns the event, the number of measurements whose particle is not in ``particles``, the
    rows of ``hits`` that ACTS made no measurement of, and (merged, of another particle): the
    number of sim hits whose measurement is that of an earlier sim hit, and how many of those
    belong to another particle than that hit.
    """
    n = len(measurements)
    local = measurement_values(measurements)
    # (measurement, sim hit) pairs, flattened without a Python tuple per pair (~30 % faster)
    links = np.fromiter(chain.from_iterable(measurement_simhits), np.int64).reshape(-1, 2)
    measured, first = np.unique(links[:, 0], return_index=True)
    rows = links[first, 1]
    geometry_id = measurement_modules(event_id, measurements, measured, rows, hits["geometry_id"])
    position = surfaces.local_to_global(geometry_id, local[:, 0], local[:, 1])

    particle_table, particle_hash = event_particle_table(particles)
    particle_id = np.full(n, -1, dtype=np.int64)
    missing = 0
    merged = (0, 0)
    n_simhits = len(hits["geometry_id"])
    if len(links):
        # and within a module: each measurement lies within a few sigma of its sim hit
        sim_xyz = np.stack([np.asarray(hits[c], np.float64)[rows] for c in ("tx", "ty", "tz")], 1)
        sim_local = surfaces.global_to_local(geometry_id[measured], sim_xyz)
        pull = np.maximum(
            np.abs(local[measured, 0] - sim_local[:, 0]) / np.sqrt(local[measured, 2]),
            np.abs(local[measured, 1] - sim_local[:, 1]) / np.sqrt(local[measured, 3]),
        )
        far = int(np.sum(pull > MAX_PULL))
        if far > MAX_FAR_FRACTION * len(measured):
            raise RuntimeError(
                f"ACTS sim-hit order differs from the ROOT hits in container order: {far} of "
                f"{len(measured)} measurements lie more than {MAX_PULL:g} sigma from their "
                f"sim hit in event {event_id}"
            )
        hashes = barcode_hash(*(hits[f"barcode_{c}"][rows] for c in BARCODE_FIELDS))
        found_rows = particle_rows(particle_hash, hashes)
        if len(links) > len(measured):  # several sim hits in one measurement
            later = np.ones(len(links), dtype=bool)
            later[first] = False
            first_of = np.searchsorted(measured, links[later, 0])
            all_hashes = barcode_hash(
                *(hits[f"barcode_{c}"][links[later, 1]] for c in BARCODE_FIELDS)
            )
            merged = (int(later.sum()), int(np.sum(all_hashes != hashes[first_of])))
        found = found_rows >= 0
        particle_id[measured[found]] = found_rows[found]
        missing = int((~found).sum())
    unmeasured = np.ones(n_simhits, dtype=bool)
    unmeasured[links[:, 1][links[:, 1] < n_simhits]] = False
    particle_table["n_measurements"] = np.bincount(
        particle_id[particle_id >= 0], minlength=len(particle_hash)
    ).astype(np.int32)
    hits = hit_columns(np.arange(n, dtype=np.int64), position, geometry_id, particle_id, local)
    return Event(event_id, hits, particle_table), missing, np.flatnonzero(unmeasured), merged


def check_output_folder(output_dir: Path, input_dir: Path, overwrite: bool) -> list[int]:
    """Make sure ``output_dir`` can take this run's events, before any work is done.

    Refused (:class:`InputDataError` naming the folder): a path under a file or of a file, a
    folder that cannot be created or written to, and a folder holding prepared events of
    another input or of an interrupted prepare (unless ``overwrite``). Events of an earlier
    prepare of the same input, and with ``overwrite`` any events, are to be replaced: returns
    their ids (:func:`remove_events` removes them once the input has passed its checks).
    """
    try:
        require_writable_dir(output_dir)  # created, and a probe file written and removed
    except ValueError as err:
        raise InputDataError(str(err), file=output_dir) from err
    existing = event_files(output_dir)
    info_path = output_dir / DATASET_FILE
    if not existing and not info_path.exists():
        return []
    previous = None
    if info_path.exists():
        try:
            previous = read_dataset_info(output_dir).get("input")
        except InputDataError:
            previous = None
    same_input = previous == str(input_dir.resolve())
    if not (same_input or overwrite):
        origin = (
            f"prepared from {previous}" if previous else f"without {DATASET_FILE} (interrupted?)"
        )
        shown = ", ".join(map(str, existing[:5])) + (", ..." if len(existing) > 5 else "")
        raise InputDataError(
            f"output folder already holds {len(existing)} prepared event(s) (ids {shown}), "
            f"{origin}: use an empty folder, or --overwrite to replace them",
            file=output_dir,
        )
    return existing


def remove_events(output_dir: Path, event_ids: list[int]) -> None:
    """Remove ``dataset.json`` (first: a folder without it is never read as complete) and the
    files of ``event_ids`` from a prepared folder."""
    (output_dir / DATASET_FILE).unlink(missing_ok=True)
    for event_id in event_ids:
        for kind in ("hits", "particles"):
            (output_dir / f"{event_stem(event_id)}-{kind}.parquet").unlink(missing_ok=True)


def prepare(
    input_dir: str | Path,
    output_dir: str | Path,
    detector: Detector | None = None,
    seed: int = 7,
    events: int | None = None,
    progress: bool = True,
    log_level: Any = None,
    overwrite: bool = False,
    chunk: tuple[int, int] | None = None,
    on_event: Callable[[], object] | None = None,
) -> PrepareReport:
    """Digitize the simulation in ``input_dir`` and write prepared events to ``output_dir``.

    ``events``: the first N events present (N >= 1; None: all). Checked before any work
    (:class:`~acts_gnn.errors.InputDataError` naming file, event and field): the input files
    (:class:`~acts_gnn.io.root_reader.SimulationFiles`), their modules against the detector,
    and the output folder (:func:`check_output_folder`; ``overwrite`` replaces events of
    another run). Events without any measurement are skipped and reported; measurements
    without a particle and sim hits ACTS digitization drops are counted (in the returned
    report and in ``dataset.json``). If the run fails, the events it wrote are removed and no
    ``dataset.json`` is written.

    ``chunk`` = (start, stop): only the events at positions start .. stop - 1 of that list,
    digitized exactly as in the whole run, with neither the output-folder check nor
    ``dataset.json`` (one task of :mod:`acts_gnn.distributed`, which does both once and
    writes ``dataset.json`` with :func:`write_prepared_info`). ``on_event``: called after
    each event (a Dask task's progress report).
    """
    import acts
    import acts.examples
    from acts.examples.simulation import addDigitization

    if events is not None and events < 1:
        raise ValueError(f"--events must be a positive number of events, got {events}")
    level = log_level if log_level is not None else acts.logging.WARNING
    output_dir = Path(output_dir)
    files = SimulationFiles.from_dir(input_dir)
    report = PrepareReport()
    replaced = [] if chunk else check_output_folder(output_dir, Path(input_dir), overwrite)
    detector = detector or load_generic_detector()
    event_ids = files.event_ids[:events] if events is not None else files.event_ids
    first = chunk[0] if chunk else 0
    event_ids = event_ids[first : chunk[1]] if chunk else event_ids
    surfaces = detector.surfaces()
    files.validate(event_ids, surfaces.geometry_ids)  # every event, before any work
    if replaced or (output_dir / DATASET_FILE).exists():
        remove_events(output_dir, replaced)  # only now: bad input leaves old events in place
    report.replaced = replaced
    if not event_ids:
        if not chunk:
            write_dataset_info(output_dir, _info(input_dir, detector, seed, report))
        return report

    sequencer = acts.examples.Sequencer(
        # event number k is the k-th event present (make_root_reader): no cost per id gap
        events=len(event_ids),
        skip=first,
        numThreads=1,
        logLevel=level,
        trackFpes=False,
    )
    for decorator in detector.decorators:
        sequencer.addContextDecorator(decorator)
    # kept referenced while the Sequencer runs; digitization reads no particles
    reader = make_root_reader(files, level, output_particles=None)
    sequencer.addReader(reader)
    addDigitization(
        sequencer,
        detector.tracking_geometry,
        detector.field,
        digiConfigFile=detector.digi_config_file,
        rnd=acts.examples.RandomNumbers(seed=seed),
        logLevel=level,
    )
    info = _info(input_dir, detector, seed, report)
    stamp = {key: info[key] for key in COMPATIBLE_KEYS}
    bar = progress_bar(total=len(event_ids), desc="prepare", unit="event", enabled=progress)

    class TableWriter(acts.examples.IAlgorithm):
        def __init__(self) -> None:
            super().__init__("ActsGnnEventTableWriter", level)
            self.measurements = data_handle(
                self,
                "read",
                acts.examples.MeasurementContainer,
                "InputMeasurements",
                "measurements",
            )
            self.map = data_handle(
                self,
                "read",
                acts.examples.MeasurementSimHitsMap,
                "InputMeasurementSimHitsMap",
                "measurement_simhits_map",
            )
            self.last = time.perf_counter()

        def execute(self, context: Any) -> Any:
            event_id = files.event_ids[context.eventNumber]
            measurements = self.measurements(context.eventStore)
            hits = files.hits(event_id)  # the reader's (cached) rows, in container order
            if len(measurements) == 0:
                report.skipped[event_id] = "no measurements (empty event)"
                log.warning("event %d of %s has no measurements: skipped", event_id, input_dir)
            else:
                event, missing, unmeasured, merged = measurements_to_event(
                    event_id,
                    measurements,
                    self.map(context.eventStore),
                    hits,
                    files.particles(event_id),
                    surfaces,
                )
                report.hits_without_particle += missing
                if merged[0]:
                    report.simhits_merged[event_id] = merged[0]
                    report.simhits_merged_other_particle += merged[1]
                write_event(output_dir, event, stamp)
                report.written.append(event_id)
                if len(unmeasured):
                    report.simhits_dropped[event_id] = len(unmeasured)
                    passive = decode_geometry_id(hits["geometry_id"][unmeasured], "sensitive") == 0
                    report.simhits_not_on_sensitive += int(passive.sum())
            now = time.perf_counter()
            report.seconds_per_event.append(now - self.last)
            self.last = now
            bar.update(1)
            if on_event is not None:
                on_event()
            return acts.examples.ProcessCode.SUCCESS

    sequencer.addAlgorithm(TableWriter())
    try:
        sequencer.run()
    except BaseException:
        for event_id in report.written:  # never leave the events of a failed run behind
            for kind in ("hits", "particles"):
                (output_dir / f"{event_stem(event_id)}-{kind}.parquet").unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    if not chunk:
        write_dataset_info(output_dir, _info(input_dir, detector, seed, report))
    return report


def write_prepared_info(
    input_dir: str | Path,
    output_dir: str | Path,
    detector: Detector,
    seed: int,
    report: PrepareReport,
) -> None:
    """Write ``dataset.json`` of a prepared folder from the (merged) report of its run."""
    write_dataset_info(Path(output_dir), _info(input_dir, detector, seed, report))


def _info(
    input_dir: str | Path, detector: Detector, seed: int, report: PrepareReport
) -> dict[str, Any]:
    config = Path(detector.digi_config_file)
    return {
        "input": str(Path(input_dir).resolve()),
        "detector": detector.name,
        "digitization_config": str(config),
        "digitization_config_sha256": hashlib.sha256(config.read_bytes()).hexdigest(),
        "digitization_seed": seed,
        "events": report.written,
        "skipped": {str(k): v for k, v in report.skipped.items()},
        "measurements_without_particle": report.hits_without_particle,
        "simhits_without_measurement": sum(report.simhits_dropped.values()),
        "simhits_without_measurement_per_event": {
            str(k): v for k, v in sorted(report.simhits_dropped.items())
        },
        "simhits_not_on_sensitive_surface": report.simhits_not_on_sensitive,
        "simhits_merged": sum(report.simhits_merged.values()),
        "simhits_merged_per_event": {str(k): v for k, v in sorted(report.simhits_merged.items())},
        "simhits_merged_other_particle": report.simhits_merged_other_particle,
    }

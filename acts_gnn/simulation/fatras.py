"""Run generator -> ACTS Fatras -> ROOT writer in an ``acts.examples.Sequencer``."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn.detector import Detector, load_generic_detector
from acts_gnn.io.acts_edm import (
    columns_to_sim_particles,
    data_handle,
    particles_to_columns,
    simhits_to_columns,
)
from acts_gnn.io.atomic import write_json
from acts_gnn.io.root_writer import SimulationRootWriter
from acts_gnn.progress import progress_bar
from acts_gnn.simulation.generator import EventGenerator, GeneratorConfig
from acts_gnn.simulation.hepmc import (
    HEPMC_FILE,
    HepMC3EventWriter,
    HepMC3Input,
    HepMC3Source,
    add_hepmc3_reader,
    check_hepmc3_input,
)
from acts_gnn.simulation.pythia8 import (
    PARENT_COLUMNS,
    Pythia8Config,
    Pythia8Generator,
    concatenate_tables,
)

#: Written next to the ROOT files: how they were made (seed, generator settings, versions).
RUN_INFO_FILE = "simulation.json"

#: Minimum momentum of particles Fatras simulates [GeV] (primaries and secondaries).
FATRAS_P_MIN_GEV = 0.05


@dataclass
class SimulationResult:
    """What :func:`simulate` made: files and per-event counts."""

    particles_file: Path
    hits_file: Path
    events: int
    particles_per_event: list[int] = field(default_factory=list)
    hits_per_event: list[int] = field(default_factory=list)
    seconds_per_event: list[float] = field(default_factory=list)


def event_rng(seed: int, event: int) -> np.random.Generator:
    """The generator's random stream of one event: fixed by (seed, event number) alone."""
    return np.random.default_rng([seed, event])


#: What ``simulate`` takes its events from: the parametric generator, Pythia8 or HepMC3 files.
EventSource = GeneratorConfig | Pythia8Config | HepMC3Input


class _TableSource:
    """Events from an in-memory generator (parametric or Pythia8)."""

    input_name: str | None = None

    def __init__(self, config: GeneratorConfig | Pythia8Config, seed: int) -> None:
        self.generator: EventGenerator | Pythia8Generator = (
            Pythia8Generator(config)
            if isinstance(config, Pythia8Config)
            else EventGenerator(config)
        )
        self.seed = seed

    def event(self, number: int, particles: Any = None) -> tuple[dict, dict, dict]:
        """(the table Fatras gets, the record for HepMC3 output, what to log of the event)."""
        table = self.generator.generate(event_rng(self.seed, number))
        if isinstance(self.generator, Pythia8Generator):
            record = concatenate_tables(self.generator.last_interactions, PARENT_COLUMNS)
            return table, record, dict(self.generator.last_seeds)
        return table, table, {}

    def event_info(self, number: int) -> dict[str, int]:
        """What ``event`` will log of event ``number`` (Pythia8 seeds), known in advance."""
        if isinstance(self.generator, Pythia8Generator):
            return self.generator.draw_seeds(event_rng(self.seed, number))
        return {}


def simulate(
    output_dir: str | Path,
    events: int,
    generator: EventSource,
    seed: int = 42,
    detector: Detector | None = None,
    progress: bool = True,
    log_level: Any = None,
    write_hepmc: str | Path | None = None,
    first_event: int = 0,
    on_event: Callable[[], object] | None = None,
) -> SimulationResult:
    """Generate ``events`` events, simulate them with Fatras, write particles.root/hits.root.

    ``generator``: a :class:`GeneratorConfig` (parametric), a :class:`Pythia8Config` or a
    :class:`~acts_gnn.simulation.hepmc.HepMC3Input` (events read from HepMC3 files).
    ``write_hepmc``: a folder where the generated events are also written as
    ``events.hepmc3`` (ASCII HepMC3, before the generator-level selection).

    The same ``seed`` gives the same events: the generator draws from ``event_rng(seed, i)`` and
    Fatras from ACTS's ``RandomNumbers(seed)``, which also derives per-event streams; the
    per-event Pythia8 seeds are recorded in ``simulation.json`` (``per_event``).
    ``first_event``: number of the first event (events ``first_event`` ..
    ``first_event + events - 1`` are made, each exactly as in a run from 0: what
    :mod:`acts_gnn.distributed` runs in each task; not with HepMC3 input).
    ``on_event``: called after each event is written (a Dask task's progress report).
    """
    import acts
    import acts.examples

    if events <= 0:
        raise ValueError(f"events must be > 0, got {events}")
    if isinstance(generator, HepMC3Input):
        check_hepmc3_input(generator, events)  # before the minutes of setting up
        if first_event:
            raise ValueError("HepMC3 input is read from its first event: first_event must be 0")
    level = log_level if log_level is not None else acts.logging.WARNING
    detector = detector or load_generic_detector()
    output_dir = Path(output_dir)
    metadata: dict[str, Any] = {
        "seed": seed,
        "events": events,
        "generator": generator.to_dict(),
        "detector": detector.name,
        "acts_version": f"{acts.version.major}.{acts.version.minor}.{acts.version.patch}",
    }
    rnd = acts.examples.RandomNumbers(seed=seed)
    sequencer = acts.examples.Sequencer(
        events=events, skip=first_event, numThreads=1, logLevel=level, trackFpes=False
    )
    for decorator in detector.decorators:
        sequencer.addContextDecorator(decorator)
    source: _TableSource | HepMC3Source
    scratch = tempfile.TemporaryDirectory(prefix="acts-gnn-hepmc3-")  # several files -> one
    if isinstance(generator, HepMC3Input):
        # the reader's own stream (pile-up counts, vertices), independent of Fatras's
        reader_seed = int(np.random.default_rng([seed, 0x48455033]).integers(1, 2**31))
        reader_rnd = acts.examples.RandomNumbers(seed=reader_seed)
        add_hepmc3_reader(sequencer, generator, events, reader_rnd, Path(scratch.name), level)
        source = HepMC3Source(generator, seed)
    else:
        source = _TableSource(generator, seed)
    hepmc_writer = None
    if write_hepmc is not None:
        hepmc_writer = HepMC3EventWriter(Path(write_hepmc) / HEPMC_FILE)
        metadata["hepmc_output"] = str(Path(write_hepmc) / HEPMC_FILE)
    numbers = range(first_event, first_event + events)
    per_event = {str(k): info for k in numbers if (info := source.event_info(k))}
    if per_event:  # Pythia8 seeds and pile-up counts, recorded before the run
        metadata["per_event"] = per_event
    writer = SimulationRootWriter(output_dir, metadata)
    result = SimulationResult(writer._final["particles"], writer._final["hits"], events)

    sequencer.addAlgorithm(_GeneratorAlgorithm(source, level, hepmc_writer))
    sequencer.addAlgorithm(
        acts.examples.FatrasSimulation(
            acts.examples.FatrasSimulation.Config(
                inputParticles="particles_generated",
                outputParticles="particles_simulated",
                outputSimHits="simhits",
                randomNumbers=rnd,
                trackingGeometry=detector.tracking_geometry,
                magneticField=detector.field,
                generateHitsOnSensitive=True,
                emScattering=True,
                emEnergyLossIonisation=True,
                emEnergyLossRadiation=True,
                emPhotonConversion=True,
                # ACTS's default (0.5 GeV) silently drops most minimum-bias particles; simulate
                # everything the generator makes and secondaries down to this momentum.
                pMin=FATRAS_P_MIN_GEV * acts.UnitConstants.GeV,
            ),
            level,
        )
    )
    recorder = _RecorderAlgorithm(writer, result, events, progress, level, on_event)
    sequencer.addAlgorithm(recorder)
    try:
        sequencer.run()
    except BaseException:
        writer.abort()
        if hepmc_writer is not None:
            hepmc_writer.abort()
        raise
    finally:
        recorder.close_progress()
        scratch.cleanup()
    writer.close()
    if hepmc_writer is not None:
        hepmc_writer.close()
    write_json(output_dir / RUN_INFO_FILE, metadata, sort_keys=True)
    return result


class _GeneratorAlgorithm:
    """Factory for the ACTS algorithm that puts generated particles on the whiteboard."""

    def __new__(
        cls,
        source: _TableSource | HepMC3Source,
        level: Any,
        hepmc_writer: HepMC3EventWriter | None,
    ) -> Any:
        import acts.examples

        class GeneratorAlgorithm(acts.examples.IAlgorithm):
            def __init__(self) -> None:
                super().__init__("ActsGnnEventGenerator", level)
                self.output = data_handle(
                    self,
                    "write",
                    acts.examples.SimParticleContainer,
                    "OutputParticles",
                    "particles_generated",
                )
                self.input = None
                if source.input_name is not None:
                    self.input = data_handle(
                        self,
                        "read",
                        acts.examples.SimParticleContainer,
                        "InputParticles",
                        source.input_name,
                    )

            def execute(self, context: Any) -> Any:
                read = self.input(context.eventStore) if self.input is not None else None
                table, record, info = source.event(context.eventNumber, read)
                if hepmc_writer is not None:
                    hepmc_writer.write(context.eventNumber, record)
                if info != source.event_info(context.eventNumber):
                    raise RuntimeError(f"event {context.eventNumber}: seeds differ from the record")
                self.output(context, columns_to_sim_particles(table))
                return acts.examples.ProcessCode.SUCCESS

        return GeneratorAlgorithm()


class _RecorderAlgorithm:
    """Factory for the ACTS algorithm that converts Fatras output and hands it to the writer."""

    def __new__(
        cls,
        writer: SimulationRootWriter,
        result: SimulationResult,
        events: int,
        progress: bool,
        level: Any,
        on_event: Callable[[], object] | None = None,
    ) -> Any:
        import acts.examples

        class RecorderAlgorithm(acts.examples.IAlgorithm):
            def __init__(self) -> None:
                super().__init__("ActsGnnSimulationRecorder", level)
                self.hits = data_handle(
                    self, "read", acts.examples.SimHitContainer, "InputSimHits", "simhits"
                )
                self.particles = data_handle(
                    self,
                    "read",
                    acts.examples.SimParticleContainer,
                    "InputParticles",
                    "particles_simulated",
                )
                self.bar = progress_bar(
                    total=events, desc="simulate", unit="event", enabled=progress
                )
                self.last = time.perf_counter()

            def execute(self, context: Any) -> Any:
                particles = particles_to_columns(self.particles(context.eventStore))
                hits = simhits_to_columns(self.hits(context.eventStore))
                writer.write_event(context.eventNumber, particles, hits)
                now = time.perf_counter()
                result.particles_per_event.append(len(particles["particle"]))
                result.hits_per_event.append(len(hits["geometry_id"]))
                result.seconds_per_event.append(now - self.last)
                self.last = now
                self.bar.set_postfix(
                    particles=result.particles_per_event[-1], hits=result.hits_per_event[-1]
                )
                self.bar.update(1)
                if on_event is not None:
                    on_event()
                return acts.examples.ProcessCode.SUCCESS

            def close_progress(self) -> None:
                self.bar.close()

        return RecorderAlgorithm()

"""Run generator -> ACTS Fatras -> ROOT writer in an ``acts.examples.Sequencer``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acts_gnn.detector import Detector, load_generic_detector
from acts_gnn.io.acts_edm import columns_to_sim_particles, particles_to_columns, simhits_to_columns
from acts_gnn.io.atomic import write_json
from acts_gnn.io.root_writer import SimulationRootWriter
from acts_gnn.progress import progress_bar
from acts_gnn.simulation.generator import EventGenerator, GeneratorConfig

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


def simulate(
    output_dir: str | Path,
    events: int,
    generator: GeneratorConfig,
    seed: int = 42,
    detector: Detector | None = None,
    progress: bool = True,
    log_level: Any = None,
) -> SimulationResult:
    """Generate ``events`` events, simulate them with Fatras, write particles.root/hits.root.

    The same ``seed`` gives the same events: the generator draws from ``event_rng(seed, i)`` and
    Fatras from ACTS's ``RandomNumbers(seed)``, which also derives per-event streams.
    """
    import acts
    import acts.examples

    if events <= 0:
        raise ValueError(f"events must be > 0, got {events}")
    level = log_level if log_level is not None else acts.logging.WARNING
    detector = detector or load_generic_detector()
    output_dir = Path(output_dir)
    metadata = {
        "seed": seed,
        "events": events,
        "generator": generator.to_dict(),
        "detector": detector.name,
        "acts_version": f"{acts.version.major}.{acts.version.minor}.{acts.version.patch}",
    }
    writer = SimulationRootWriter(output_dir, metadata)
    result = SimulationResult(writer._final["particles"], writer._final["hits"], events)

    sequencer = acts.examples.Sequencer(
        events=events, numThreads=1, logLevel=level, trackFpes=False
    )
    for decorator in detector.decorators:
        sequencer.addContextDecorator(decorator)
    rnd = acts.examples.RandomNumbers(seed=seed)
    sequencer.addAlgorithm(_GeneratorAlgorithm(EventGenerator(generator), seed, level))
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
    recorder = _RecorderAlgorithm(writer, result, events, progress, level)
    sequencer.addAlgorithm(recorder)
    try:
        sequencer.run()
    except BaseException:
        writer.abort()
        raise
    finally:
        recorder.close_progress()
    writer.close()
    write_json(output_dir / RUN_INFO_FILE, metadata, sort_keys=True)
    return result


class _GeneratorAlgorithm:
    """Factory for the ACTS algorithm that puts generated particles on the whiteboard."""

    def __new__(cls, generator: EventGenerator, seed: int, level: Any) -> Any:
        import acts.examples

        class GeneratorAlgorithm(acts.examples.IAlgorithm):
            def __init__(self) -> None:
                super().__init__("ActsGnnEventGenerator", level)
                self.output = acts.examples.WriteDataHandle(
                    self, acts.examples.SimParticleContainer, "OutputParticles"
                )
                self.output.initialize("particles_generated")

            def execute(self, context: Any) -> Any:
                table = generator.generate(event_rng(seed, context.eventNumber))
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
    ) -> Any:
        import acts.examples

        class RecorderAlgorithm(acts.examples.IAlgorithm):
            def __init__(self) -> None:
                super().__init__("ActsGnnSimulationRecorder", level)
                self.hits = acts.examples.ReadDataHandle(
                    self, acts.examples.SimHitContainer, "InputSimHits"
                )
                self.hits.initialize("simhits")
                self.particles = acts.examples.ReadDataHandle(
                    self, acts.examples.SimParticleContainer, "InputParticles"
                )
                self.particles.initialize("particles_simulated")
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
                return acts.examples.ProcessCode.SUCCESS

            def close_progress(self) -> None:
                self.bar.close()

        return RecorderAlgorithm()

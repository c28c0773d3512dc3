"""Event generation (Pythia8, parametric, HepMC3 input) and ACTS fast simulation (Fatras) to
ROOT files."""

from acts_gnn.simulation.fatras import EventSource, SimulationResult, simulate
from acts_gnn.simulation.generator import EventGenerator, GeneratorConfig
from acts_gnn.simulation.hepmc import HepMC3Input
from acts_gnn.simulation.pythia8 import BeamSpot, ParticleSelection, Pythia8Config, Pythia8Generator

__all__ = [
    "BeamSpot",
    "EventGenerator",
    "EventSource",
    "GeneratorConfig",
    "HepMC3Input",
    "ParticleSelection",
    "Pythia8Config",
    "Pythia8Generator",
    "SimulationResult",
    "simulate",
]

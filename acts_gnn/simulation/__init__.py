"""Event generation (pile-up + hard scatter) and ACTS fast simulation (Fatras) to ROOT files."""

from acts_gnn.simulation.fatras import SimulationResult, simulate
from acts_gnn.simulation.generator import EventGenerator, GeneratorConfig

__all__ = ["EventGenerator", "GeneratorConfig", "SimulationResult", "simulate"]

"""Fixtures of the module-map tests: maps built from the shared tiny ACTS sample (built once per
session), the detector's symmetries, and a random map for the file-format tests."""

from __future__ import annotations

import pytest

from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.truth import TruthSelection
from tests.graph.module_map.random_maps import random_module_map


@pytest.fixture(scope="session")
def tiny_events(prepared_events):
    return prepared_events


@pytest.fixture(scope="session")
def tiny_map(tiny_events) -> ModuleMap:
    """Map built from event 0 of the tiny sample (all particles with >= 3 measurements)."""
    from acts_gnn.graph.module_map.build import build_module_map

    return build_module_map(tiny_events[:1], TruthSelection(min_hits=3))


@pytest.fixture(scope="session")
def symmetry(detector):
    from acts_gnn.graph.module_map.symmetry import DetectorSymmetry

    return DetectorSymmetry.from_surfaces(detector.surfaces())


@pytest.fixture(scope="session")
def tiny_map_symmetric(tiny_events, symmetry) -> ModuleMap:
    from acts_gnn.graph.module_map.build import build_module_map

    return build_module_map(tiny_events[:1], TruthSelection(min_hits=3), symmetry)


@pytest.fixture
def module_map() -> ModuleMap:
    return random_module_map()

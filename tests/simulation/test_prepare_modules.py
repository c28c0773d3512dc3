"""prepare's measurement module ids: taken from each measurement's sim hit, spot-checked against
ACTS's own (every MODULE_CHECK_STRIDE-th and the last), asked of ACTS where no sim hit links.

Stand-in measurements (``geometryId.value``, counting how often ACTS would be asked), no ACTS.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from acts_gnn.simulation.prepare import MODULE_CHECK_STRIDE, measurement_modules


class Measurements:
    """A measurement container stand-in: ``m[k].geometryId.value``; counts the lookups."""

    def __init__(self, modules: list[int]) -> None:
        self.modules = modules
        self.asked = 0

    def __len__(self) -> int:
        return len(self.modules)

    def __getitem__(self, k: int) -> SimpleNamespace:
        self.asked += 1
        return SimpleNamespace(geometryId=SimpleNamespace(value=self.modules[k]))


N = 5 * MODULE_CHECK_STRIDE + 3
MODULES = [1000 + k // 4 for k in range(N)]  # 4 measurements a module, sorted as ACTS makes them


def test_modules_come_from_the_sim_hits_and_few_are_asked() -> None:
    hit_modules = np.array(MODULES, np.uint64)[::-1].copy()  # sim hit row k = measurement N-1-k
    measured = np.arange(N, dtype=np.int64)
    measurements = Measurements(MODULES)
    got = measurement_modules(0, measurements, measured, measured[::-1].copy(), hit_modules)
    assert got.dtype == np.uint64
    assert got.tolist() == MODULES
    assert measurements.asked == 6 + 1  # k = 0, 16, ..., 80, and the last


def test_a_measurement_without_sim_hit_asks_acts() -> None:
    measured = np.delete(np.arange(N, dtype=np.int64), [5, 9])
    measurements = Measurements(MODULES)
    got = measurement_modules(0, measurements, measured, measured, np.array(MODULES, np.uint64))
    assert got.tolist() == MODULES


def test_sim_hit_rows_of_other_modules_are_caught() -> None:
    measured = np.arange(N, dtype=np.int64)
    shifted = np.roll(measured, 4)  # every measurement gets the hit of the module before
    with pytest.raises(RuntimeError, match="modules disagree in event 3"):
        measurement_modules(3, Measurements(MODULES), measured, shifted, np.array(MODULES))
    with pytest.raises(RuntimeError, match="points past the measurements or the ROOT hits"):
        measurement_modules(3, Measurements(MODULES), measured, measured + 1, np.array(MODULES))

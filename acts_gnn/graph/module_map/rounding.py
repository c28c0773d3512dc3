"""Outward rounding: storing float64 cut bounds in a narrower float type without losing edges.

A module map's cuts are [min, max] intervals. Whenever a bound is stored with fewer bits (the
float16 compact ``.npz`` encoding, :mod:`acts_gnn.graph.module_map.compact`; the float32
ModuleMapGraph ROOT pair, :mod:`acts_gnn.graph.module_map.mmg_root`), a min is rounded *down*
and a max *up*, so every stored interval contains the original one and a graph built with the
stored map keeps every edge the original map gives. This module is the one place that rounding
is done.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def round_outward(values: npt.NDArray[np.float64], dtype: Any, up: bool) -> npt.NDArray[Any]:
    """``values`` (any shape) as floating ``dtype``, rounded up (``up``) or down: the nearest
    number of ``dtype`` at or above (below) each value, +-inf past the type's range on that
    side. NaN stays NaN; values that ``dtype`` holds exactly are unchanged."""
    target = np.array(np.inf if up else -np.inf, dtype=dtype)
    with np.errstate(over="ignore", under="ignore"):
        out = values.astype(dtype)
        for _ in range(3):  # a correctly rounded cast needs at most one step
            wrong = out < values if up else out > values
            if not wrong.any():
                return out
            out = np.where(wrong, np.nextafter(out, target), out).astype(dtype)
    raise AssertionError("outward rounding did not converge")  # pragma: no cover

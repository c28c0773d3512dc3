"""Outward rounding of cut bounds (``rounding.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.graph.module_map.rounding import round_outward


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_round_outward(dtype: type) -> None:
    rng = np.random.default_rng(2)
    info = np.finfo(dtype)
    values = np.concatenate(
        [
            rng.normal(size=2000) * 10.0 ** rng.integers(-50, 50, size=2000),
            [0.0, -0.0, np.inf, -np.inf, float(info.max), float(info.tiny), 1e-300, 1e300],
            np.array([0.1, 1.5, 1 / 3], dtype=dtype).astype(np.float64),
        ]
    )
    down, up = round_outward(values, dtype, up=False), round_outward(values, dtype, up=True)
    assert down.dtype == dtype
    assert up.dtype == dtype
    assert np.all(down <= values)
    assert np.all(up >= values)
    # the nearest such numbers: one step further in is on the wrong side
    finite = np.isfinite(values)
    with np.errstate(over="ignore"):
        assert not np.any(np.nextafter(down, dtype(np.inf))[finite] <= values[finite])
        assert not np.any(np.nextafter(up, dtype(-np.inf))[finite] >= values[finite])
    exact = down.astype(np.float64) == values
    assert np.array_equal(down[exact], up[exact])
    assert round_outward(np.array([1e300]), dtype, up=False)[0] == info.max
    assert round_outward(np.array([1e-300]), dtype, up=True)[0] == info.smallest_subnormal

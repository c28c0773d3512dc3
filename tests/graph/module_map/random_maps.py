"""Random module maps for the file-format tests, and a check that writers leave no temporary
files (a helper module, not a test module).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acts_gnn.graph.module_map.map import ModuleMap

N_MODULES = 50
N_TRIPLETS = 200


def random_module_map(
    seed: int = 7, float32_values: bool = False, id_above_2_63: bool = True
) -> ModuleMap:
    """50 modules with geometry-id-like uint64 ids, 200 sorted unique triplets, min <= max."""
    rng = np.random.default_rng(seed)
    base = np.uint64(0x0800000200000100)
    ids = base + rng.choice(1 << 20, size=N_MODULES - 1, replace=False).astype(np.uint64) * 0x100
    extra = 0xF0000000000000FF if id_above_2_63 else 0x0100000000000001  # ids are unsigned
    ids = np.append(ids, np.uint64(extra))
    modules = np.unique(ids)
    assert len(modules) == N_MODULES
    keys = set()
    while len(keys) < N_TRIPLETS:
        keys.add(tuple(int(k) for k in rng.choice(N_MODULES, size=3, replace=False)))
    triplets = np.array(sorted(keys), dtype=np.int32)

    def ranges(*shape: int) -> np.ndarray:
        scale = rng.choice([1e-4, 1e-2, 1.0, 1e3], size=shape)
        a = rng.normal(size=shape) * scale
        b = a + rng.exponential(size=shape) * scale
        lo_hi = np.stack([a, b], axis=-1)
        return lo_hi.astype(np.float32).astype(np.float64) if float32_values else lo_hi

    return ModuleMap(
        modules,
        triplets,
        rng.integers(1, 5000, size=N_TRIPLETS),
        ranges(N_TRIPLETS, 4),
        ranges(N_TRIPLETS, 4),
        ranges(N_TRIPLETS),
        ranges(N_TRIPLETS),
        {"seed": seed},
    )


def assert_no_partial_files(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".partial")]

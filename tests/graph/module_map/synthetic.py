"""A synthetic detector, its events and module maps, for the module-map tests (not a test module).

4 barrel layers of 6 phi sectors; sector 0 straddles phi = +-pi. Events have fake module ids,
several hits per module, a hit on an unknown module, tracks crossing phi = +-pi and a track at
x == 0. Also: maps with every range scaled or widened, and triplets drawn from a small pool.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from acts_gnn.graph.module_map.builder import ModuleMapBuilder, triplet_samples
from acts_gnn.graph.module_map.map import ModuleMap

LAYER_RADII = (30.0, 60.0, 100.0, 150.0)
N_SECTORS = 6
UNKNOWN_MODULE = 987_654_321


def synthetic_module(layer: int, x: float, y: float) -> int:
    """Fake geometry id (large, to exercise uint64) of the sector holding (x, y)."""
    phi = math.atan2(y, x)
    width = 2 * math.pi / N_SECTORS
    sector = int(((phi + math.pi + width / 2) % (2 * math.pi)) // width) % N_SECTORS
    return ((layer + 1) << 40) | sector


def synthetic_track(rng, phi0=None, curvature=None, cot=None, z0=None, x_zero=False):
    """Hit positions [4, 3] (one per layer) of a curved track from near the origin."""
    phi0 = rng.uniform(-math.pi, math.pi) if phi0 is None else phi0
    curvature = rng.uniform(-2e-3, 2e-3) if curvature is None else curvature
    cot = rng.uniform(-1.0, 1.0) if cot is None else cot
    z0 = rng.uniform(-5.0, 5.0) if z0 is None else z0
    points = []
    for radius in LAYER_RADII:
        r = radius + rng.normal(0.0, 0.5)
        phi = phi0 + curvature * r
        x, y = r * math.cos(phi), r * math.sin(phi)
        if x_zero:
            x, y = 0.0, r
        points.append((x, y, z0 + cot * r))
    return np.array(points)


def special_tracks(rng) -> list[np.ndarray]:
    """Tracks crossing phi = +-pi both ways, and one at x == 0 exactly (dy/dx -> 0)."""
    return [
        synthetic_track(rng, phi0=math.pi - 0.05, curvature=1e-3),
        synthetic_track(rng, phi0=-math.pi + 0.05, curvature=-1e-3),
        synthetic_track(rng, phi0=math.pi - 0.01, curvature=2e-4),
        synthetic_track(rng, curvature=0.0, x_zero=True, z0=0.0, cot=0.3),
    ]


def synthetic_training_triplets(n_tracks: int = 300, seed: int = 11):
    """(module ids [T, 3] uint64, triplet samples [T, 10]) of layer triplets (0,1,2), (1,2,3)."""
    rng = np.random.default_rng(seed)
    tracks = [synthetic_track(rng) for _ in range(n_tracks)] + special_tracks(rng)
    positions = np.concatenate(tracks)
    modules = np.array(
        [synthetic_module(k % 4, x, y) for k, (x, y, _) in enumerate(positions)], dtype=np.uint64
    )
    rows = np.array(
        [[4 * t + k, 4 * t + k + 1, 4 * t + k + 2] for t in range(len(tracks)) for k in (0, 1)]
    )
    return modules[rows], triplet_samples(positions, rows), positions, modules


def synthetic_map() -> ModuleMap:
    ids, samples, _, _ = synthetic_training_triplets()
    builder = ModuleMapBuilder()
    builder.add(ids, samples)
    return builder.build()


def synthetic_event(seed: int, n_tracks: int = 25, n_noise: int = 15):
    """Hit positions [N, 3] and module ids [N]: tracks, noise, near-duplicate hits on the same
    module, one hit on a module missing from the map; rows shuffled."""
    rng = np.random.default_rng(seed)
    tracks = [synthetic_track(rng) for _ in range(n_tracks)] + special_tracks(rng)
    positions = np.concatenate(tracks)
    layers = np.tile(np.arange(4), len(tracks))
    noise_layers = rng.integers(0, 4, n_noise)
    noise_phi = rng.uniform(-math.pi, math.pi, n_noise)
    noise_r = np.array(LAYER_RADII)[noise_layers]
    noise = np.stack(
        [noise_r * np.cos(noise_phi), noise_r * np.sin(noise_phi), rng.uniform(-100, 100, n_noise)],
        axis=1,
    )
    twins = positions[:8] + rng.normal(0.0, 0.05, size=(8, 3))  # same modules, nearly same place
    positions = np.concatenate([positions, noise, twins])
    layers = np.concatenate([layers, noise_layers, layers[:8]])
    modules = np.array(
        [synthetic_module(int(k), x, y) for k, (x, y, _) in zip(layers, positions)],
        dtype=np.uint64,
    )
    positions = np.concatenate([positions, [[40.0, 5.0, 1.0]]])
    modules = np.concatenate([modules, np.array([UNKNOWN_MODULE], dtype=np.uint64)])
    order = rng.permutation(len(modules))
    return positions[order], modules[order]


def scaled_map(mm: ModuleMap, scale: float) -> ModuleMap:
    """The map with every [min, max] range scaled by ``scale`` about its centre."""

    def scale_ranges(ranges: np.ndarray) -> np.ndarray:
        centre = ranges.mean(axis=-1, keepdims=True)
        return centre + scale * (ranges - centre)

    return ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        scale_ranges(mm.cuts12),
        scale_ranges(mm.cuts23),
        scale_ranges(mm.diff_dzdr),
        scale_ranges(mm.diff_dydx),
    )


def widened_map(mm: ModuleMap) -> ModuleMap:
    """The map with every range widened by a fixed margin (z0, dphi, phi_slope, deta; the
    differences of dz/dr and dy/dx): wide enough to connect other events' hits."""
    margin = np.array([400.0, 0.4, 4e-3, 1.0])[:, None] * np.array([-1.0, 1.0])
    diff = np.array([-1.0, 1.0])
    return ModuleMap(
        mm.modules,
        mm.triplets,
        mm.occurrence,
        mm.cuts12 + margin,
        mm.cuts23 + margin,
        mm.diff_dzdr + diff,
        mm.diff_dydx + 10 * diff,
    )


def repeated_triplets(seed: int = 5):
    """Triplets drawn from a small pool, so most occur several times; with their counts."""
    ids, samples, _, _ = synthetic_training_triplets()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(ids), 400)
    ids, samples = ids[picks], samples[picks]
    # the same module triple with different samples, and different triples
    counts = Counter(tuple(int(m) for m in row) for row in ids)
    return ids, samples, counts


def triplet_table(mm: ModuleMap) -> dict[tuple[int, int, int], tuple]:
    table = {}
    for t, row in enumerate(mm.triplets):
        key = tuple(int(mm.modules[i]) for i in row)
        table[key] = (
            int(mm.occurrence[t]),
            mm.cuts12[t].tobytes(),
            mm.cuts23[t].tobytes(),
            mm.diff_dzdr[t].tobytes(),
            mm.diff_dydx[t].tobytes(),
        )
    return table

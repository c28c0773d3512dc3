"""The module-map graph the slow, obvious way: a pure-Python reference for the C++ builder.

Written here from the definitions in ``cpp/geometry_kernels.cpp`` and ``cpp/module_map.cpp``
(the map's quantities carry the ModuleMapGraph / acorn signs), with loops and ``math``.
:func:`check_against_reference` compares a C++ graph with it edge by edge. A helper module for
the tests of this folder, not a test module.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap


def _hypot(x: float, y: float) -> float:
    """C's ``hypot`` (what std::hypot calls). Python's ``math.hypot`` has its own algorithm
    and differs in the last bit for some inputs, which matters here: a triplet seen once has
    cuts with min == max, so the reference must compute r exactly as the C++ does."""
    return float(np.hypot(x, y))


def hit_coordinates(x: float, y: float, z: float) -> tuple[float, ...]:
    """x, y, z, r, phi, eta of one hit; eta = asinh(z / r), +-1e3 on the beam line."""
    r = _hypot(x, y)
    eta = math.asinh(z / r) if r > 0 else (1e3 if z >= 0 else -1e3)
    return x, y, z, r, math.atan2(y, x), eta


def _wrap_phi(dphi: float) -> float:
    """Into [-pi, pi), as wrapPhi does."""
    dphi = math.fmod(dphi + math.pi, 2 * math.pi)
    if dphi < 0:
        dphi += 2 * math.pi
    return dphi - math.pi


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0 else 0.0


def doublet_quantities(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """z0, dphi, phi_slope, deta, dz/dr, dy/dx of the doublet a -> b, as
    ``_core.doublet_features`` defines them (deta = eta(b) - eta(a))."""
    ax, ay, az, ar, aphi, aeta = a
    bx, by, bz, br, bphi, beta = b
    dr = br - ar
    dphi = _wrap_phi(bphi - aphi)
    dzdr = _ratio(bz - az, dr)
    z0 = az - ar * dzdr
    return z0, dphi, _ratio(dphi, dr), beta - aeta, dzdr, _ratio(by - ay, bx - ax)


def _inside(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def map_quantities(q: tuple[float, ...]) -> tuple[float, ...]:
    """The module-map cut quantities of a doublet: z0, dphi, phi_slope and deta with the
    ModuleMapGraph / acorn sign, deta = eta(inner) - eta(outer)."""
    return q[0], q[1], q[2], -q[3]


def diff_dydx(q12: tuple[float, ...], q23: tuple[float, ...]) -> float:
    """diff_dydx as ModuleMapGraph / acorn define it, sign included: -dy/dx(12) - dy/dx(23)."""
    return -q12[5] - q23[5]


def _passes(q: tuple[float, ...], cuts: np.ndarray) -> bool:
    """The four module-map cut quantities of the doublet ``q`` against ``cuts`` [4, 2]."""
    m = map_quantities(q)
    return all(_inside(m[k], float(cuts[k, 0]), float(cuts[k, 1])) for k in range(4))


def reference_doublet_cuts(mm: ModuleMap) -> dict[tuple[int, int], np.ndarray]:
    """Union of the leg ranges of every triplet, per (module id, module id) doublet."""
    union: dict[tuple[int, int], np.ndarray] = {}
    for t, (i1, i2, i3) in enumerate(mm.triplets):
        m1, m2, m3 = (int(mm.modules[i]) for i in (i1, i2, i3))
        for key, cuts in (((m1, m2), mm.cuts12[t]), ((m2, m3), mm.cuts23[t])):
            if key not in union:
                union[key] = cuts.copy()
            else:
                union[key][:, 0] = np.minimum(union[key][:, 0], cuts[:, 0])
                union[key][:, 1] = np.maximum(union[key][:, 1], cuts[:, 1])
    return union


def reference_graph(
    mm: ModuleMap, positions: np.ndarray, geometry_ids: np.ndarray
) -> set[tuple[int, int]]:
    """Edges (src, dst) of the module-map graph, the slow and obvious way."""
    coords = [hit_coordinates(float(x), float(y), float(z)) for x, y, z in positions]
    hits_on: dict[int, list[int]] = defaultdict(list)
    for row, module in enumerate(geometry_ids):
        hits_on[int(module)].append(row)
    union = reference_doublet_cuts(mm)
    edges: set[tuple[int, int]] = set()
    for t, (i1, i2, i3) in enumerate(mm.triplets):
        m1, m2, m3 = (int(mm.modules[i]) for i in (i1, i2, i3))
        for h1 in hits_on.get(m1, []):
            for h2 in hits_on.get(m2, []):
                if h1 == h2:
                    continue
                q12 = doublet_quantities(coords[h1], coords[h2])
                if not (_passes(q12, union[m1, m2]) and _passes(q12, mm.cuts12[t])):
                    continue
                for h3 in hits_on.get(m3, []):
                    if h3 == h2:
                        continue
                    q23 = doublet_quantities(coords[h2], coords[h3])
                    if not (_passes(q23, union[m2, m3]) and _passes(q23, mm.cuts23[t])):
                        continue
                    if _inside(q12[4] - q23[4], *mm.diff_dzdr[t]) and _inside(
                        diff_dydx(q12, q23), *mm.diff_dydx[t]
                    ):
                        edges.add((h1, h2))
                        edges.add((h2, h3))
    return edges


def edge_set(edge_index: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in np.asarray(edge_index).T}


def check_against_reference(mm: ModuleMap, positions: np.ndarray, geometry_ids: np.ndarray):
    """C++ graph == reference graph, without duplicate edges; returns the C++ graph."""
    graph = ModuleMapGraphBuilder(mm)(positions, geometry_ids)
    assert graph.edge_index.dtype == np.int64
    assert graph.edge_index.shape[0] == 2
    found = edge_set(graph.edge_index)
    assert len(found) == graph.edge_index.shape[1], "duplicate edges in the C++ graph"
    expected = reference_graph(mm, positions, geometry_ids)
    assert found == expected, (
        f"C++ only: {sorted(found - expected)[:10]}, reference only: {sorted(expected - found)[:10]}"
    )
    assert graph.doublet_edges >= len(found)
    assert graph.edge_features.shape == (len(found), 6)
    return graph

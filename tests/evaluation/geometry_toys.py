"""A toy detector for the geometry tests: volumes 1 (layers 2, 4) and 2 (layer 2), three
modules per layer, with config files, a hit table and a module map made by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from acts_gnn.evaluation.geometry_configs import GeometrySelector
from acts_gnn.graph.module_map.map import ModuleMap


def gid(volume: int, layer: int = 0, sensitive: int = 0) -> int:
    return GeometrySelector(volume=volume, layer=layer, sensitive=sensitive).value()


#: A toy detector: volumes 1 (layers 2, 4) and 2 (layer 2), three modules per layer.
MODULES = np.array(
    sorted(gid(v, lay, s) for v, lay in ((1, 2), (1, 4), (2, 2)) for s in (1, 2, 3)),
    dtype=np.uint64,
)


def digi_json(path: Path, entries: list[dict]) -> Path:
    smear = [{"index": 0, "mean": 0.0, "stddev": 0.01, "type": "Gauss"}]
    for e in entries:
        e.setdefault("value", {"smearing": smear})
    path.write_text(
        json.dumps(
            {
                "acts-geometry-hierarchy-map": {
                    "format-version": 0,
                    "value-identifier": "digitization-configuration",
                },
                "entries": entries,
            }
        )
    )
    return path


def selection_json(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def tiny_hits() -> dict[str, np.ndarray]:
    """Two hits on each of the first two modules of every layer."""
    ids = np.repeat(MODULES.reshape(3, 3)[:, :2].ravel(), 2)
    n = len(ids)
    rng = np.random.default_rng(1)
    volume = (ids >> np.uint64(56)).astype(np.uint32)
    layer = ((ids >> np.uint64(36)) & np.uint64(0xFFF)).astype(np.uint32)
    r = 30.0 * layer + 100.0 * (volume - 1) + rng.uniform(0, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    z = np.where(volume == 1, rng.uniform(-100, 100, n), rng.uniform(200, 300, n))
    return {
        "x": (r * np.cos(phi)).astype(np.float32),
        "y": (r * np.sin(phi)).astype(np.float32),
        "z": z.astype(np.float32),
        "r": r.astype(np.float32),
        "geometry_id": ids,
        "volume_id": volume,
        "layer_id": layer,
    }


def tiny_map() -> ModuleMap:
    """Triplets 1:2 -> 1:4 -> 2:2 through modules 1 and 2 of each layer; module 3 unused."""
    index = {int(m): k for k, m in enumerate(MODULES)}
    triplets = [
        [index[gid(1, 2, s)], index[gid(1, 4, s)], index[gid(2, 2, s2)]]
        for s in (1, 2)
        for s2 in (1, 2)
    ]
    t = len(triplets)
    return ModuleMap(
        MODULES,
        np.array(triplets),
        np.ones(t, dtype=np.int64),
        np.zeros((t, 4, 2)),
        np.zeros((t, 4, 2)),
        np.zeros((t, 2)),
        np.zeros((t, 2)),
    )

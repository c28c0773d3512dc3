"""Where are the hits, and what does the module map connect? Part of ``acts-gnn geometry``.

Hit tables of prepared events per volume (:func:`concatenate_hits`, :func:`hit_summary`,
:func:`barrel_volumes`), the module map's doublets and triplets per (volume, layer) pair
(:func:`module_map_connectivity`), and which detector modules the map never saw, with the
event hits that fall on them (:func:`module_coverage`). The report and the command are in
:mod:`acts_gnn.evaluation.geometry`, the figures in :mod:`acts_gnn.evaluation.plots`.

Units: positions and radii in mm; modules are given by their geometry ids (uint64).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.errors import InputDataError
from acts_gnn.io.schemas import decode_geometry_id

#: Hit-table columns this module reads.
HIT_MAP_COLUMNS = ("x", "y", "z", "r", "geometry_id", "volume_id", "layer_id")

LayerKey = tuple[int, int]  # (volume, layer)


# -- hits ---------------------------------------------------------------------------------------
def concatenate_hits(events: Iterable[Any]) -> tuple[dict[str, npt.NDArray[Any]], int]:
    """The :data:`HIT_MAP_COLUMNS` of several events' hit tables, joined; and the event count."""
    parts: dict[str, list[npt.NDArray[Any]]] = {c: [] for c in HIT_MAP_COLUMNS}
    n = 0
    for event in events:
        for c in HIT_MAP_COLUMNS:
            parts[c].append(np.asarray(event.hits[c]))
        n += 1
    if n == 0:
        raise InputDataError("no events to read hits from")
    return {c: np.concatenate(v) for c, v in parts.items()}, n


@dataclass
class VolumeHits:
    """Hits of one volume: count, layers, and r, z extent [mm]."""

    volume: int
    hits: int
    layers: list[int]
    r_range: tuple[float, float]
    z_range: tuple[float, float]


def hit_summary(hits: Mapping[str, npt.NDArray[Any]]) -> list[VolumeHits]:
    """Per-volume hit counts, layers and r, z extents [mm] of a hit table."""
    volume = np.asarray(hits["volume_id"])
    out = []
    for v in np.unique(volume):
        sel = volume == v
        r, z = np.asarray(hits["r"])[sel], np.asarray(hits["z"])[sel]
        out.append(
            VolumeHits(
                volume=int(v),
                hits=int(sel.sum()),
                layers=sorted(int(x) for x in np.unique(np.asarray(hits["layer_id"])[sel])),
                r_range=(float(r.min()), float(r.max())),
                z_range=(float(z.min()), float(z.max())),
            )
        )
    return out


def hit_id_mismatches(hits: Mapping[str, npt.NDArray[Any]]) -> int:
    """Hits whose volume_id / layer_id columns disagree with their geometry_id."""
    gid = np.asarray(hits["geometry_id"], dtype=np.uint64)
    return int(
        np.sum(
            (decode_geometry_id(gid, "volume") != np.asarray(hits["volume_id"]))
            | (decode_geometry_id(gid, "layer") != np.asarray(hits["layer_id"]))
        )
    )


def barrel_volumes(hits: Mapping[str, npt.NDArray[Any]]) -> list[int]:
    """Volumes whose hits lie on both sides of z = 0 (barrels; endcaps sit at one sign of z)."""
    volume = np.asarray(hits["volume_id"])
    z = np.asarray(hits["z"])
    return [int(v) for v in np.unique(volume) if z[volume == v].min() < 0 < z[volume == v].max()]


# -- module map -------------------------------------------------------------------------------
def layer_keys(geometry_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """(volume, layer) of each geometry id, as an int64 [N, 2] array."""
    ids = np.asarray(geometry_ids, dtype=np.uint64)
    return np.stack(
        [decode_geometry_id(ids, "volume"), decode_geometry_id(ids, "layer")], axis=-1
    ).astype(np.int64)


def layer_label(key: LayerKey) -> str:
    """``7:2`` for volume 7, layer 2."""
    return f"{key[0]}:{key[1]}"


@dataclass
class Connectivity:
    """Module-map connectivity between (volume, layer) pairs.

    layers: the L layers, sorted; doublets[i, j]: doublets from layer i (first module along the
    track) to layer j; triplets[i, j]: triplets with a leg from layer i to layer j (each
    triplet counts on both its legs); layer_triplets: triplet count per (layer, layer, layer).
    """

    layers: list[LayerKey]
    doublets: npt.NDArray[np.int64]
    triplets: npt.NDArray[np.int64]
    layer_triplets: dict[tuple[LayerKey, LayerKey, LayerKey], int]

    def pair_lines(self) -> list[str]:
        """A text table of the layer pairs with doublets (inner -> outer)."""
        out = [f"{'from':>6} {'to':>6} {'doublets':>9} {'triplets':>9}"]
        for i, j in zip(*np.nonzero(self.doublets)):
            out.append(
                f"{layer_label(self.layers[i]):>6} {layer_label(self.layers[j]):>6} "
                f"{self.doublets[i, j]:>9} {self.triplets[i, j]:>9}"
            )
        return out

    def triplet_lines(self) -> list[str]:
        """A text table of the layer triplets, most frequent first."""
        out = [f"{'layer 1':>7} {'layer 2':>7} {'layer 3':>7} {'triplets':>9}"]
        for (a, b, c), n in sorted(self.layer_triplets.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{layer_label(a):>7} {layer_label(b):>7} {layer_label(c):>7} {n:>9}")
        return out


def module_map_connectivity(module_map: Any, layers: Iterable[LayerKey] = ()) -> Connectivity:
    """Doublets and triplets of a :class:`~acts_gnn.graph.module_map.core.ModuleMap` per layer pair.

    ``layers`` adds (volume, layer) keys that get a row even without doublets (e.g. every
    layer of the detector), so the matrix shows layers the map never connects.
    """
    module_layers = layer_keys(module_map.modules)
    keys = sorted({(int(v), int(lay)) for v, lay in module_layers} | set(layers))
    index = {k: n for n, k in enumerate(keys)}
    module_row = np.array([index[(int(v), int(lay))] for v, lay in module_layers], dtype=np.int64)
    n = len(keys)

    doublets = np.zeros((n, n), dtype=np.int64)
    d = np.asarray(module_map.doublets, dtype=np.int64).reshape(-1, 2)
    np.add.at(doublets, (module_row[d[:, 0]], module_row[d[:, 1]]), 1)

    triplets = np.zeros((n, n), dtype=np.int64)
    t = np.asarray(module_map.triplets, dtype=np.int64).reshape(-1, 3)
    rows = module_row[t] if len(t) else np.zeros((0, 3), dtype=np.int64)
    np.add.at(triplets, (rows[:, 0], rows[:, 1]), 1)
    np.add.at(triplets, (rows[:, 1], rows[:, 2]), 1)

    combos, counts = np.unique(rows, axis=0, return_counts=True)
    layer_triplets = {(keys[a], keys[b], keys[c]): int(k) for (a, b, c), k in zip(combos, counts)}
    return Connectivity(keys, doublets, triplets, layer_triplets)


@dataclass
class VolumeModules:
    """Detector modules of one volume vs a module map, with the event hits on missing ones."""

    volume: int
    n_modules: int
    n_in_map: int  # modules in at least one triplet
    hits: int
    hits_on_missing: int

    @property
    def n_missing(self) -> int:
        return self.n_modules - self.n_in_map


@dataclass
class ModuleCoverage:
    """Result of :func:`module_coverage`."""

    volumes: list[VolumeModules]
    missing_ids: npt.NDArray[np.uint64]  # detector modules in no triplet of the map
    foreign_ids: npt.NDArray[np.uint64]  # map modules that are not detector modules

    def lines(self) -> list[str]:
        out = [
            f"{'volume':>6} {'modules':>8} {'in map':>8} {'missing':>8} "
            f"{'hits':>9} {'hits on missing':>16}"
        ]
        for v in self.volumes:
            frac = f" ({v.hits_on_missing / v.hits:.2%})" if v.hits else ""
            out.append(
                f"{v.volume:>6} {v.n_modules:>8} {v.n_in_map:>8} {v.n_missing:>8} "
                f"{v.hits:>9} {v.hits_on_missing:>7}{frac:>9}"
            )
        total = sum(v.n_modules for v in self.volumes)
        hits = sum(v.hits for v in self.volumes)
        on_missing = sum(v.hits_on_missing for v in self.volumes)
        out.append(
            f"{'all':>6} {total:>8} {total - len(self.missing_ids):>8} "
            f"{len(self.missing_ids):>8} {hits:>9} {on_missing:>7}"
            + (f" ({on_missing / hits:.2%})" if hits else "")
        )
        if len(self.foreign_ids):
            out.append(
                f"PROBLEM: {len(self.foreign_ids)} module(s) of the map are not sensitive "
                f"modules of this detector (first: {int(self.foreign_ids[0])}): a map of "
                "another geometry?"
            )
        return out


def module_coverage(
    module_ids: npt.ArrayLike,
    module_map: Any,
    hit_geometry_ids: npt.ArrayLike | None = None,
) -> ModuleCoverage:
    """Which detector modules (geometry ids, uint64) are in no triplet of the module map.

    Per volume: modules, modules in the map, and the hits of ``hit_geometry_ids`` (all / on
    modules missing from the map; those hits can never get a module-map edge).
    """
    ids = np.unique(np.asarray(module_ids, dtype=np.uint64))
    map_modules = np.asarray(module_map.modules, dtype=np.uint64)
    used = map_modules[np.unique(np.asarray(module_map.triplets, dtype=np.int64))]
    in_map = np.isin(ids, used)
    hit_ids = (
        np.zeros(0, np.uint64)
        if hit_geometry_ids is None
        else np.asarray(hit_geometry_ids, np.uint64)
    )
    hit_volume = decode_geometry_id(hit_ids, "volume")
    hit_missing = np.isin(hit_ids, ids[~in_map])
    volumes = decode_geometry_id(ids, "volume")
    rows = [
        VolumeModules(
            volume=int(v),
            n_modules=int((volumes == v).sum()),
            n_in_map=int((in_map & (volumes == v)).sum()),
            hits=int((hit_volume == v).sum()),
            hits_on_missing=int((hit_missing & (hit_volume == v)).sum()),
        )
        for v in np.unique(volumes)
    ]
    return ModuleCoverage(rows, ids[~in_map], np.setdiff1d(map_modules, ids))


__all__ = [
    "HIT_MAP_COLUMNS",
    "Connectivity",
    "LayerKey",
    "ModuleCoverage",
    "VolumeHits",
    "VolumeModules",
    "barrel_volumes",
    "concatenate_hits",
    "hit_id_mismatches",
    "hit_summary",
    "layer_keys",
    "layer_label",
    "module_coverage",
    "module_map_connectivity",
]

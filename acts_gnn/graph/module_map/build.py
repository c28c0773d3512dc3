"""The module map's event loops: build a map from prepared events, and measure one on others.

:func:`build_module_map` (through :func:`accumulate_triplets`) feeds the truth triplets of each event (and, with a
:class:`~acts_gnn.graph.module_map.symmetry.DetectorSymmetry`, their symmetric copies) to a
:class:`~acts_gnn.graph.module_map.builder.ModuleMapBuilder`; :func:`evaluate_module_map`
builds each event's graph and reports edge efficiency, purity, graph sizes and time per event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from acts_gnn.event import Event
from acts_gnn.graph.module_map.builder import ModuleMapBuilder, triplet_samples, truth_triplets
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.module_map.symmetry import DetectorSymmetry
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import EdgeMetrics


def event_triplets(event: Event, selection: TruthSelection) -> tuple[np.ndarray, np.ndarray]:
    """Truth triplets of one event: hit positions [T, 3, 3] (mm) and module ids [T, 3]."""
    hits = truth_triplets(truth_graph(event, selection))
    return event.positions()[hits], event.hits["geometry_id"][hits]


def accumulate_triplets(
    events: Iterable[Event],
    selection: TruthSelection,
    symmetry: DetectorSymmetry | None = None,
    mirror_z: bool = True,
    rotate_phi: bool = True,
    progress: object | None = None,
) -> tuple[ModuleMapBuilder, dict[str, object]]:
    """The truth triplets of ``events`` (and their symmetric copies) in a builder, and the
    metadata of the map it builds (events, selection, symmetries, augmented samples).

    ``progress``: an object with ``update(n)`` (e.g. a tqdm bar), called once per event.
    """
    builder = ModuleMapBuilder()
    n_events = 0
    augmented = 0
    for event in events:
        positions, modules = event_triplets(event, selection)
        if symmetry is not None:
            extra_pos, extra_mod = symmetry.augment(positions, modules, mirror_z, rotate_phi)
            augmented += len(extra_mod)
            positions = np.concatenate([positions, extra_pos])
            modules = np.concatenate([modules, extra_mod])
        flat = positions.reshape(-1, 3)
        rows = np.arange(len(flat), dtype=np.int64).reshape(-1, 3)
        builder.add(modules, triplet_samples(flat, rows))
        n_events += 1
        if progress is not None:
            progress.update(1)  # type: ignore[attr-defined]
    metadata: dict[str, object] = {
        "events": n_events,
        "min_pt": selection.min_pt,
        "min_hits": selection.min_hits,
        "primaries_only": selection.primaries_only,
        "symmetries": [
            s
            for s, on in (("mirror_z", mirror_z), ("rotate_phi", rotate_phi))
            if on and symmetry is not None
        ],
        "augmented_samples": augmented,
    }
    return builder, metadata


def build_module_map(
    events: Iterable[Event],
    selection: TruthSelection,
    symmetry: DetectorSymmetry | None = None,
    mirror_z: bool = True,
    rotate_phi: bool = True,
    progress: object | None = None,
) -> ModuleMap:
    """Accumulate the truth triplets of ``events`` (and their symmetric copies) into a map
    (:func:`accumulate_triplets`, then the builder's map)."""
    builder, metadata = accumulate_triplets(
        events, selection, symmetry, mirror_z, rotate_phi, progress
    )
    return builder.build(metadata)


@dataclass
class ModuleMapEvaluation:
    """Edge metrics of a module map on some events, with timing and unknown-module counts."""

    metrics: EdgeMetrics
    seconds_per_event: list[float] = field(default_factory=list)
    doublet_edges: int = 0
    hits_unknown_module: int = 0
    hits: int = 0

    def lines(self) -> list[str]:
        """One line per number, ``name: value``."""
        s = self.metrics.summary()
        n = max(self.metrics.events, 1)
        t = np.median(self.seconds_per_event) if self.seconds_per_event else float("nan")
        return [
            f"events: {self.metrics.events}",
            f"edge efficiency: {s['edge efficiency']:.4f}",
            f"edge purity: {s['edge purity']:.4f}",
            f"edges per event: {s['edges per event']:.0f}",
            f"edges after doublet cuts per event: {self.doublet_edges / n:.0f}",
            f"truth edges per event: {s['truth edges per event']:.0f}",
            f"hits per event: {s['nodes per event']:.0f}",
            f"edges per hit: {s['edges per node']:.3f}",
            f"hits on modules not in the map: {self.hits_unknown_module} ({self.hits_unknown_module / max(self.hits, 1):.2%})",
            f"time per event: {t:.3f} s",
        ]


def evaluate_module_map(
    events: Iterable[Event],
    module_map: ModuleMap,
    selection: TruthSelection,
    n_threads: int = 1,
    progress: object | None = None,
) -> ModuleMapEvaluation:
    """Build each event's graph and compare with its truth graph (``selection`` for efficiency;
    purity counts an edge true if it joins consecutive hits of any particle)."""
    builder = ModuleMapGraphBuilder(module_map, n_threads=n_threads)
    result = ModuleMapEvaluation(EdgeMetrics())
    for event in events:
        start = time.perf_counter()
        graph = builder(event.positions(), event.hits["geometry_id"])
        result.seconds_per_event.append(time.perf_counter() - start)
        selected = truth_graph(event, selection)
        pid = event.hits["particle_id"][selected[0]]
        result.metrics.add(
            graph.edge_index,
            selected,
            truth_graph(event),
            event.n_hits,
            truth_pt=event.particles["pt"][pid],
            truth_eta=event.particles["eta"][pid],
        )
        result.doublet_edges += graph.doublet_edges
        result.hits_unknown_module += graph.hits_unknown_module
        result.hits += event.n_hits
        if progress is not None:
            progress.update(1)  # type: ignore[attr-defined]
    return result

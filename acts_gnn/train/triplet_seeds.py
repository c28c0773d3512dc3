"""Seed metrics of triplet-classifier scores, and the scored doublet graphs they start from.

A **seed** is a hit triplet (bottom, middle, top) of the triplet graph
(:mod:`acts_gnn.graph.triplets`) whose triplet score passes a cut. For one cut, over events:

* ``purity``: the fraction of seeds whose three hits belong to one particle;
* ``efficiency``: the fraction of target particles (default: pT > 1 GeV, |eta| < 2.5,
  >= 7 measurements: :data:`SEED_TARGET`) with at least one such seed of their own;
* ``seeds_per_event``, and the same three for the innermost seeds only
  (:func:`acts_gnn.graph.triplets.innermost_triplets`: one seed per chain of selected
  triplets, what the GNN-seeded CKF starts from).

:func:`scored_doublets` runs the module map and the doublet GNN on an event, cached on disk
per event (the GNN is the slow part on a CPU).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.graph.triplets import innermost_triplets
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.io.atomic import atomic_path

log = logging.getLogger(__name__)

#: The target particles of the seed efficiency (issue 25): pT > 1 GeV, |eta| < 2.5, >= 7 hits.
SEED_TARGET = TruthSelection(min_pt=1.0, min_hits=7, max_abs_eta=2.5)
#: Triplet-score cuts of the seed scans.
SEED_CUTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


class DoubletScorer:
    """Module-map graph + doublet GNN scores of an event: ``(edge_index [2, E] int64, scores
    [E] float32)``, every edge scored (cut 0). ``module_map`` / ``gnn``: files (None: the
    shipped ones); ``cache``: a folder for one ``event<id>-doublets.npz`` per event, reused
    when its source files match."""

    def __init__(
        self,
        module_map: str | Path | None = None,
        gnn: str | Path | None = None,
        cache: str | Path | None = None,
        device: str = "cpu",
    ) -> None:
        from acts_gnn.chain.defaults import default_files

        files = default_files()
        self.module_map = Path(module_map) if module_map else files.module_map
        self.gnn = Path(gnn) if gnn else files.gnn()
        self.cache = Path(cache) if cache else None
        self.device = device
        self._source: Any = None
        self._classifier: Any = None
        self.key = f"{self.module_map.resolve()}|{self.gnn.resolve()}"

    def _stages(self) -> tuple[Any, Any, list[str], list[float]]:
        from acts_gnn.chain.defaults import edge_classifier, pipeline_features
        from acts_gnn.graph.store import module_map_graphs

        if self._source is None:
            self._source = module_map_graphs(self.module_map)
            self._classifier = edge_classifier(self.gnn, cut=0.0, device=self.device)
        names, scales = pipeline_features(self.gnn)
        return self._source, self._classifier, names, scales

    def __call__(
        self, event: Event, tag: str = ""
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        path = None
        if self.cache is not None:
            path = self.cache / f"{tag}event{event.event_id:09d}-doublets.npz"
            if path.is_file():
                with np.load(path) as f:
                    if str(f["key"]) == self.key and int(f["n_hits"]) == event.n_hits:
                        return f["edge_index"].astype(np.int64), f["scores"].astype(np.float32)
        from acts_gnn.graph.features import node_feature_matrix

        source, classifier, names, scales = self._stages()
        edge_index, features = source(event)
        x = node_feature_matrix(event.positions(), names, scales)
        scores = classifier.classify(x, edge_index, features).scores.cpu().numpy()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as partial, open(partial, "wb") as out:
                np.savez(
                    out,
                    edge_index=edge_index,
                    scores=scores,
                    key=self.key,
                    n_hits=event.n_hits,
                )
        return edge_index.astype(np.int64), scores.astype(np.float32)


@dataclass
class SeedCounts:
    """Counts of one cut summed over events (see the module docstring)."""

    seeds: int = 0
    pure: int = 0
    innermost: int = 0
    innermost_pure: int = 0
    targets: int = 0
    seeded: int = 0
    innermost_seeded: int = 0
    events: int = 0

    def metrics(self) -> dict[str, float]:
        def ratio(a: int, b: int) -> float:
            return a / b if b else math.nan

        return {
            "purity": ratio(self.pure, self.seeds),
            "efficiency": ratio(self.seeded, self.targets),
            "seeds_per_event": ratio(self.seeds, self.events),
            "innermost_purity": ratio(self.innermost_pure, self.innermost),
            "innermost_efficiency": ratio(self.innermost_seeded, self.targets),
            "innermost_seeds_per_event": ratio(self.innermost, self.events),
            "targets": float(self.targets),
        }


def add_event_seeds(
    counts: dict[float, SeedCounts],
    event: Event,
    hits: npt.NDArray[np.int64],
    index: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float32],
    selection: TruthSelection = SEED_TARGET,
) -> None:
    """Add one event's seeds at every cut of ``counts`` (cut -> :class:`SeedCounts`):
    ``hits`` [T, 3] hit rows of the triplets (``TripletGraph.hits``), ``index`` [2, T] their
    triplet-graph edges, ``scores`` [T]."""
    pid = event.hits["particle_id"][hits] if len(hits) else np.zeros((0, 3), np.int64)
    pure = (pid[:, 0] == pid[:, 1]) & (pid[:, 1] == pid[:, 2]) & (pid[:, 0] >= 0)
    targets = np.flatnonzero(selection.particle_mask(event)) if event.particles else np.zeros(0)
    for cut, c in counts.items():
        selected = scores > cut
        inner = innermost_triplets(index, selected)
        c.events += 1
        c.targets += len(targets)
        c.seeds += int(selected.sum())
        c.pure += int((selected & pure).sum())
        c.innermost += int(inner.sum())
        c.innermost_pure += int((inner & pure).sum())
        c.seeded += int(np.isin(targets, pid[selected & pure, 0]).sum())
        c.innermost_seeded += int(np.isin(targets, pid[inner & pure, 0]).sum())


def seed_table(counts: dict[float, SeedCounts]) -> list[dict[str, float]]:
    """One row per cut: ``cut`` and :meth:`SeedCounts.metrics`."""
    return [{"cut": cut, **c.metrics()} for cut, c in sorted(counts.items())]


def format_seed_table(rows: Sequence[dict[str, float]]) -> str:
    """A markdown table of :func:`seed_table` rows."""
    lines = [
        "| cut | seeds / event | purity | particles seeded | innermost seeds / event | "
        "innermost purity | particles seeded (innermost) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cut']:g} | {r['seeds_per_event']:.0f} | {r['purity']:.4f} | "
            f"{r['efficiency']:.4f} | {r['innermost_seeds_per_event']:.0f} | "
            f"{r['innermost_purity']:.4f} | {r['innermost_efficiency']:.4f} |"
        )
    return "\n".join(lines)


def best_cut(rows: Sequence[dict[str, float]], min_efficiency: float = 0.99) -> float:
    """The largest cut whose efficiency is >= ``min_efficiency`` (the smallest cut if none)."""
    ok = [r["cut"] for r in rows if r["efficiency"] >= min_efficiency]
    return max(ok) if ok else min(r["cut"] for r in rows)


def write_seed_report(path: str | Path, rows: Sequence[dict[str, float]], info: dict) -> None:
    """``rows`` and ``info`` as JSON at ``path`` (atomic)."""
    from acts_gnn.io.atomic import write_json

    write_json(Path(path), {"info": info, "rows": list(rows)})
    log.info("wrote %s", path)


def scan_seeds(
    samples: Sequence[Any],
    score: Any,
    cuts: Sequence[float] = SEED_CUTS,
    selection: TruthSelection = SEED_TARGET,
) -> list[dict[str, float]]:
    """Seed-metric rows (:func:`seed_table`) over ``cuts`` of ``samples`` (objects with
    ``graph``, a :class:`~acts_gnn.graph.triplets.TripletGraph`, and ``event``), each
    triplet scored by ``score(sample) -> [T]`` (e.g. the classifier, or the smaller doublet
    score as a baseline without a triplet classifier)."""
    counts = {float(c): SeedCounts() for c in cuts}
    for s in samples:
        add_event_seeds(counts, s.event, s.graph.hits, s.graph.index, score(s), selection)
    return seed_table(counts)

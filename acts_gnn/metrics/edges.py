"""Edge-level metrics of a graph against the truth graph (DESIGN.md section 6).

Efficiency = truth edges present in the graph / truth edges (of the selected particles);
purity = graph edges that are truth edges (of any particle) / graph edges. Edges are compared
without direction: (a, b) and (b, a) are the same segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


def _undirected_keys(edges: npt.NDArray[np.int64], n_nodes: int) -> npt.NDArray[np.int64]:
    lo = np.minimum(edges[0], edges[1]).astype(np.int64)
    hi = np.maximum(edges[0], edges[1]).astype(np.int64)
    return lo * np.int64(max(n_nodes, 1)) + hi


def edge_truth_mask(
    edges: npt.NDArray[np.int64], truth_edges: npt.NDArray[np.int64], n_nodes: int
) -> npt.NDArray[np.bool_]:
    """For each edge of ``edges`` [2, E], whether it is one of ``truth_edges`` [2, T]."""
    return np.isin(_undirected_keys(edges, n_nodes), _undirected_keys(truth_edges, n_nodes))


@dataclass
class EdgeMetrics:
    """Sums over events: truth edges found / all, graph edges that are true / all."""

    truth_found: int = 0
    truth_total: int = 0
    true_edges: int = 0
    edges: int = 0
    nodes: int = 0
    events: int = 0
    # per truth edge: found flag and the particle's pT and eta (for the binned curves)
    found_flags: list[npt.NDArray[np.bool_]] = field(default_factory=list, repr=False)
    truth_pt: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)
    truth_eta: list[npt.NDArray[np.float32]] = field(default_factory=list, repr=False)

    @property
    def efficiency(self) -> float:
        return self.truth_found / self.truth_total if self.truth_total else float("nan")

    @property
    def purity(self) -> float:
        return self.true_edges / self.edges if self.edges else float("nan")

    def add(
        self,
        edges: npt.NDArray[np.int64],
        selected_truth: npt.NDArray[np.int64],
        all_truth: npt.NDArray[np.int64],
        n_nodes: int,
        truth_pt: npt.NDArray | None = None,
        truth_eta: npt.NDArray | None = None,
    ) -> None:
        """Add one event: its graph, the selected truth edges and the full truth graph."""
        found = edge_truth_mask(selected_truth, edges, n_nodes)
        self.truth_found += int(found.sum())
        self.truth_total += selected_truth.shape[1]
        self.true_edges += int(edge_truth_mask(edges, all_truth, n_nodes).sum())
        self.edges += edges.shape[1]
        self.nodes += n_nodes
        self.events += 1
        self.found_flags.append(found)
        if truth_pt is not None:
            self.truth_pt.append(np.asarray(truth_pt, np.float32))
        if truth_eta is not None:
            self.truth_eta.append(np.asarray(truth_eta, np.float32))

    def binned(
        self, variable: str, bins: npt.ArrayLike
    ) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray]:
        """Efficiency per bin of the truth particle's ``pt`` or ``eta``: (edges, eff, error)."""
        values = np.concatenate(self.truth_pt if variable == "pt" else self.truth_eta)
        found = np.concatenate(self.found_flags)
        bins = np.asarray(bins, float)
        total, _ = np.histogram(values, bins)
        passed, _ = np.histogram(values[found], bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            eff = passed / total
            err = np.sqrt(eff * (1 - eff) / total)
        return bins, eff, err

    def summary(self) -> dict[str, float]:
        n = max(self.events, 1)
        return {
            "edge efficiency": self.efficiency,
            "edge purity": self.purity,
            "edges per event": self.edges / n,
            "truth edges per event": self.truth_total / n,
            "nodes per event": self.nodes / n,
            "edges per node": self.edges / max(self.nodes, 1),
        }


def edge_metrics() -> EdgeMetrics:
    """A new, empty accumulator."""
    return EdgeMetrics()

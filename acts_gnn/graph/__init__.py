"""Graphs over an event's hits: the truth graph, and (later) the graph builders."""

from acts_gnn.graph.truth import TruthSelection, truth_graph

__all__ = ["TruthSelection", "truth_graph"]

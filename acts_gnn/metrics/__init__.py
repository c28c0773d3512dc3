"""Metrics (DESIGN.md section 6): edge level here; track level in later modules."""

from acts_gnn.metrics.edges import EdgeMetrics, edge_metrics

__all__ = ["EdgeMetrics", "edge_metrics"]

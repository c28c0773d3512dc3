"""Metrics (docs/design.md, "Metrics"): edge level and track level (ACTS, Exa.TrkX, TrackML).

Numbers only; the figures of them are in :mod:`acts_gnn.evaluation.plots`.
"""

from acts_gnn.metrics.edges import EdgeMetrics, edge_metrics
from acts_gnn.metrics.tracks import (
    ParticleSelection,
    TrackMatching,
    TrackMetrics,
    match_tracks,
    trackml_score,
    trackml_weights,
)

__all__ = [
    "EdgeMetrics",
    "ParticleSelection",
    "TrackMatching",
    "TrackMetrics",
    "edge_metrics",
    "match_tracks",
    "trackml_score",
    "trackml_weights",
]

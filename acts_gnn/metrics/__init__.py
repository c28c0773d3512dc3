"""Metrics (DESIGN.md section 6): edge level and track level (ACTS, Exa.TrkX, TrackML)."""

from acts_gnn.metrics.edges import EdgeMetrics, edge_metrics
from acts_gnn.metrics.tracks import (
    ParticleSelection,
    TrackMatching,
    TrackMetrics,
    match_tracks,
    plot_track_metrics,
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
    "plot_track_metrics",
    "trackml_score",
    "trackml_weights",
]

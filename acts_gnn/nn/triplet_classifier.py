"""The triplet classifier: an Interaction Network on the triplet graph (Exa.TrkX, section 3.2).

The triplet graph (:mod:`acts_gnn.graph.triplets`) has the scored doublets of an event as nodes
and pairs of doublets sharing a middle hit as edges; classifying its edges classifies hit
triplets. The network is the package's :class:`~acts_gnn.nn.interaction_network.
InteractionNetwork` (the same message passing, aggregation by ``scatter_add`` so it exports to
ONNX, the same I/O: ``x`` float32 [D, F] doublet features, ``edge_index`` int64 [2, T] triplet
edges, ``edge_attr`` float32 [T, G] triplet features -> logits [T]), under its own class name,
so model files say what they are and a triplet model is never taken for a doublet GNN (whose
inputs are hits). The defaults are small: it trains on two CPU cores in minutes.
"""

from __future__ import annotations

from typing import Any

from acts_gnn.nn.interaction_network import InteractionNetwork


class TripletClassifier(InteractionNetwork):
    """Triplet-edge classifier ``forward(x, edge_index, edge_attr)`` -> logits [T].

    Args: as :class:`~acts_gnn.nn.interaction_network.InteractionNetwork`, with the small
    defaults hidden = 32, n_iterations = 3; ``node_features`` = 13 and ``edge_features`` = 7
    for the features of :mod:`acts_gnn.graph.triplets`.
    """

    def __init__(
        self,
        node_features: int = 13,
        edge_features: int = 7,
        hidden: int = 32,
        n_iterations: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(node_features, edge_features, hidden, n_iterations, **kwargs)


def build_triplet_classifier(config: dict[str, Any]) -> TripletClassifier:
    """A :class:`TripletClassifier` from its ``config`` dict."""
    return TripletClassifier(**config)

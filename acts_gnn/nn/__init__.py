"""Torch modules: MLPs and the Interaction Network edge classifier."""

from acts_gnn.nn.interaction_network import (
    InteractionNetwork,
    build_interaction_network,
    scatter_sum,
)
from acts_gnn.nn.mlp import make_mlp

__all__ = ["InteractionNetwork", "build_interaction_network", "make_mlp", "scatter_sum"]

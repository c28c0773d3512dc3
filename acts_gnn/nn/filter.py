r"""The edge filter: an MLP on each edge's two hits (Exa.TrkX, EPJ C 81 (2021) 876, 5.2).

For an edge :math:`i \to j` with node features :math:`x_i, x_j \in \mathbb{R}^F` and optional
edge features :math:`a_{ij} \in \mathbb{R}^D` (e.g. dr, dphi, dz, deta in scaled units)::

    logit_ij = MLP([x_i, x_j, a_ij])            (``n_layers`` hidden layers of ``hidden``)

No message passing: every edge is scored on its own, so evaluating the edges in chunks gives
exactly the same scores (the upstream ``TorchEdgeClassifier`` ``nChunks``). The I/O is that of
every edge classifier here and upstream: ``forward(x [N, F] float32, edge_index [2, E] int64
[, edge_attr [E, D]])`` returns logits [E] (apply a sigmoid for scores). It scripts with
TorchScript and exports to ONNX with dynamic N and E (zero edges included).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.mlp import make_mlp, reset_mlp


class EdgeFilter(nn.Module):
    """Per-edge classifier ``forward(x, edge_index, edge_attr=None) -> logits [E]``.

    Args:
        node_features: F, node features per hit.
        edge_features: D, edge features per edge (0: the model takes no ``edge_attr``).
        hidden: width of the hidden layers.
        n_layers: number of hidden layers (then a Linear to one logit).
        layer_norm: LayerNorm after every hidden Linear.
        activation: ``torch.nn`` activation name (``Tanh``, ``SiLU``, ``ReLU``, ...).
    """

    __jit_unused_properties__ = ["config"]  # noqa: RUF012 (TorchScript reads this list)

    def __init__(
        self,
        node_features: int,
        edge_features: int = 0,
        hidden: int = 256,
        n_layers: int = 3,
        layer_norm: bool = True,
        activation: str = "Tanh",
    ) -> None:
        super().__init__()
        self._config = dict(
            node_features=node_features,
            edge_features=edge_features,
            hidden=hidden,
            n_layers=n_layers,
            layer_norm=layer_norm,
            activation=activation,
        )
        self.node_features = node_features
        self.edge_features = edge_features
        self.network = make_mlp(
            2 * node_features + edge_features,
            [hidden] * n_layers + [1],
            activation,
            None,
            layer_norm,
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (to rebuild the model)."""
        return dict(self._config)

    def reset_parameters(self) -> None:
        reset_mlp(self.network)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Edge logits [E] for x [N, F] float32, edge_index [2, E] int64, edge_attr [E, D]."""
        if not torch.jit.is_tracing():
            if x.dim() != 2 or x.shape[1] != self.node_features:
                raise ValueError("x must have shape [N, node_features]")
            if edge_index.dim() != 2 or edge_index.shape[0] != 2:
                raise ValueError("edge_index must have shape [2, E]")
            if self.edge_features > 0:
                if edge_attr is None or edge_attr.shape[1] != self.edge_features:
                    raise ValueError("this model needs edge_attr [E, edge_features]")
            elif edge_attr is not None:
                raise ValueError("this model was built without edge features: pass no edge_attr")
        inputs = [x[edge_index[0]], x[edge_index[1]]]
        if edge_attr is not None:
            inputs.append(edge_attr.to(x.dtype))
        return self.network(torch.cat(inputs, dim=1)).squeeze(-1)


def build_edge_filter(config: dict[str, Any]) -> EdgeFilter:
    """An :class:`EdgeFilter` from its :attr:`EdgeFilter.config` dict."""
    return EdgeFilter(**config)

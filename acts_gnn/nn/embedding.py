r"""The metric-learning embedding network (Exa.TrkX, EPJ C 81 (2021) 876, section 5.2).

An MLP maps each hit's node features :math:`x_i \in \mathbb{R}^F` (scaled hit coordinates,
e.g. r/1000 mm, phi/pi, z/1000 mm, eta) to a point :math:`e_i \in \mathbb{R}^D` of a small
latent space (``embedding_dim`` D, default 8), trained so that consecutive hits of a track lie
close together (pairwise hinge loss, :mod:`acts_gnn.train.embedding`). A graph is then built
by joining hits within a radius r in that space (:mod:`acts_gnn.graph.knn`).

Input encoding (optional, ``fourier_octaves`` L > 0): every feature x is fed as
:math:`x, \sin(2^j \pi x), \cos(2^j \pi x)` for j = 0 .. L-1, and the features listed in
``periodic_features`` (angles divided by pi, e.g. phi/pi) as the sines and cosines only, so the
embedding is continuous across phi = +-pi. An MLP of smooth units followed by LayerNorm varies
slowly with its inputs; these Fourier features let it resolve hits a few mrad apart in phi
and a few 0.01 apart in eta (Tancik et al., NeurIPS 2020), which a tracker's embedding needs.

Architecture: ``n_layers`` hidden layers ``Linear -> LayerNorm -> activation`` (default Tanh,
as the paper) of width ``hidden``, then ``Linear`` to D; with ``normalize`` the output is
projected onto the unit sphere. Input x float32 [N, F], output float32 [N, D] (the upstream
ACTS ``TorchMetricLearning`` convention). Plain ``torch.nn`` layers only: the module scripts
with TorchScript and exports to ONNX with a dynamic N (N = 0 included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.mlp import make_mlp, reset_mlp


class EmbeddingNet(nn.Module):
    """Hit embedding: ``forward(x [N, F]) -> [N, embedding_dim]`` (see the module docstring).

    Args:
        node_features: F, input features per hit.
        embedding_dim: D, size of the latent space.
        hidden: width of the hidden layers.
        n_layers: number of hidden layers.
        layer_norm: LayerNorm after every hidden Linear.
        activation: ``torch.nn`` activation name of the hidden layers (``Tanh``, ``SiLU``, ...).
        normalize: L2-normalise the output (points on the unit sphere).
        fourier_octaves: L, number of Fourier frequencies per feature (0: raw features).
        periodic_features: indices of features that are angles / pi (fed as sin and cos
            only; requires ``fourier_octaves`` >= 1).
    """

    __jit_unused_properties__ = ["config"]  # noqa: RUF012 (TorchScript reads this list)

    def __init__(
        self,
        node_features: int,
        embedding_dim: int = 8,
        hidden: int = 256,
        n_layers: int = 4,
        layer_norm: bool = True,
        activation: str = "Tanh",
        normalize: bool = False,
        fourier_octaves: int = 0,
        periodic_features: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if embedding_dim < 1 or n_layers < 0 or fourier_octaves < 0:
            raise ValueError("embedding_dim must be >= 1, n_layers and fourier_octaves >= 0")
        periodic = sorted(set(int(i) for i in periodic_features))
        if periodic and (fourier_octaves < 1 or periodic[0] < 0 or periodic[-1] >= node_features):
            raise ValueError(
                f"periodic_features {periodic} need fourier_octaves >= 1 and indices below "
                f"node_features = {node_features}"
            )
        self._config = dict(
            node_features=node_features,
            embedding_dim=embedding_dim,
            hidden=hidden,
            n_layers=n_layers,
            layer_norm=layer_norm,
            activation=activation,
            normalize=normalize,
            fourier_octaves=fourier_octaves,
            periodic_features=periodic,
        )
        self.node_features = node_features
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.fourier_octaves = fourier_octaves
        raw = [i for i in range(node_features) if i not in periodic]
        # buffers, so that TorchScript and ONNX carry them as constants
        self.register_buffer("raw_columns", torch.tensor(raw, dtype=torch.long), persistent=False)
        self.register_buffer(
            "frequencies",
            torch.pi * 2.0 ** torch.arange(fourier_octaves, dtype=torch.float32),
            persistent=False,
        )
        n_in = len(raw) + 2 * fourier_octaves * node_features if fourier_octaves else node_features
        self.network = make_mlp(
            n_in, [hidden] * n_layers + [embedding_dim], activation, None, layer_norm
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (to rebuild the model)."""
        return dict(self._config)

    def reset_parameters(self) -> None:
        reset_mlp(self.network)

    def encode(self, x: Tensor) -> Tensor:
        """The network's input [N, F'] from x [N, F] (the Fourier encoding, if any)."""
        if self.fourier_octaves == 0:
            return x
        # (buffers: mypy sees Tensor | Module, TorchScript rejects a class annotation)
        phase = (x.unsqueeze(2) * self.frequencies).flatten(1)  # type: ignore[operator]
        raw = x.index_select(1, self.raw_columns)  # type: ignore[arg-type]
        return torch.cat([raw, torch.sin(phase), torch.cos(phase)], 1)  # [N, F']

    def forward(self, x: Tensor) -> Tensor:
        """Embeddings [N, D] of x float32 [N, F]."""
        if not torch.jit.is_tracing() and (x.dim() != 2 or x.shape[1] != self.node_features):
            raise ValueError("x must have shape [N, node_features]")
        out = self.network(self.encode(x))
        if self.normalize:
            norm = torch.sqrt((out * out).sum(dim=1, keepdim=True))
            out = out / torch.clamp(norm, min=1e-12)
        return out


def build_embedding_net(config: dict[str, Any]) -> EmbeddingNet:
    """An :class:`EmbeddingNet` from its :attr:`EmbeddingNet.config` dict."""
    return EmbeddingNet(**config)

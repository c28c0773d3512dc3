r"""The track-pair network of the vertexing stage: do two fitted tracks come from one vertex?

A Siamese network on the perigee parameters of two tracks (the tracking talk's ML vertexing;
the stage that uses it is :mod:`acts_gnn.chain.vertexing`). Every track is described by the
ten numbers of :data:`TRACK_FEATURES`: its perigee parameters with respect to the beam line
(d0 [mm], z0 [mm], phi [rad], theta [rad], q/p [e/GeV]) and their uncertainties (square roots
of the covariance diagonal, same units). For a pair (a, b)::

    u_t   = per-track inputs of t: d0, log sigma_d0, log sigma_z0, cot theta, q/p,
            log sigma_phi, log sigma_theta, log sigma_q/p          (no z0, no phi: invariance)
    h_t   = MLP_track(u_t)                                              (shared weights)
    s_ab  = pair inputs: |dz0| [mm], log(1 + |dz0| / sigma), log(1 + |dz0| sin theta / sigma)
            with sigma = sqrt(sz0_a^2 + sz0_b^2), |wrap(dphi)|, |d cot theta|, |d0_a| + |d0_b|
    logit = MLP_pair([h_a + h_b, |h_a - h_b|, s_ab])

so the logit is exactly symmetric under a <-> b (sums and absolute differences only), does not
depend on where along z or at which phi the pair sits, and needs no external feature scaling
(the logarithms and fixed scales are inside the module, so an exported file is
self-contained). The I/O is that of the edge classifiers: ``forward(tracks [N, 10] float32,
pairs [2, P] int64) -> logits [P]`` (no sigmoid); it scripts with TorchScript and exports to
ONNX with dynamic N and P (zero pairs included).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.mlp import make_mlp, reset_mlp

#: Per-track inputs of :class:`VertexPairNet`, in column order (ACTS units).
TRACK_FEATURES = (
    "d0",
    "z0",
    "phi",
    "theta",
    "qop",
    "sigma_d0",
    "sigma_z0",
    "sigma_phi",
    "sigma_theta",
    "sigma_qop",
)
#: Number of per-track inputs the network takes.
N_TRACK_FEATURES = len(TRACK_FEATURES)
#: Number of derived per-track inputs of the Siamese branch.
N_TRACK_INPUTS = 8
#: Number of pair inputs (see the module docstring).
N_PAIR_INPUTS = 6
#: Floor on every uncertainty before its logarithm [same units as the parameter].
SIGMA_FLOOR = 1e-6


class VertexPairNet(nn.Module):
    """Pair classifier ``forward(tracks [N, 10], pairs [2, P]) -> logits [P]``.

    Args:
        hidden: width of the hidden layers of both MLPs.
        embedding: size of the per-track representation ``h``.
        track_layers: hidden layers of the per-track MLP.
        pair_layers: hidden layers of the pair MLP.
        layer_norm: LayerNorm after every hidden Linear.
        activation: ``torch.nn`` activation name.
    """

    __jit_unused_properties__ = ["config"]  # noqa: RUF012 (TorchScript reads this list)

    def __init__(
        self,
        hidden: int = 64,
        embedding: int = 32,
        track_layers: int = 2,
        pair_layers: int = 3,
        layer_norm: bool = True,
        activation: str = "SiLU",
    ) -> None:
        super().__init__()
        self._config = dict(
            hidden=hidden,
            embedding=embedding,
            track_layers=track_layers,
            pair_layers=pair_layers,
            layer_norm=layer_norm,
            activation=activation,
        )
        #: Inputs per track (the ``node_features`` of an edge classifier, for the exports).
        self.node_features = N_TRACK_FEATURES
        self.edge_features = 0
        self.sigma_floor = SIGMA_FLOOR
        self.track_net = make_mlp(
            N_TRACK_INPUTS, [hidden] * track_layers + [embedding], activation, None, layer_norm
        )
        self.pair_net = make_mlp(
            2 * embedding + N_PAIR_INPUTS,
            [hidden] * pair_layers + [1],
            activation,
            None,
            layer_norm,
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (to rebuild the model)."""
        return dict(self._config)

    def reset_parameters(self) -> None:
        reset_mlp(self.track_net)
        reset_mlp(self.pair_net)

    def track_inputs(self, tracks: Tensor) -> Tensor:
        """The Siamese branch's inputs [N, 8] from ``tracks`` [N, 10]."""
        sigma = torch.clamp(tracks[:, 5:10], min=self.sigma_floor)
        theta = tracks[:, 3]
        cot = torch.cos(theta) / torch.clamp(torch.sin(theta), min=1e-3)
        return torch.stack(
            [
                tracks[:, 0],
                torch.log(sigma[:, 0]),
                torch.log(sigma[:, 1]),
                cot,
                tracks[:, 4],
                torch.log(sigma[:, 2]),
                torch.log(sigma[:, 3]),
                torch.log(sigma[:, 4]),
            ],
            dim=1,
        )

    def pair_inputs(self, tracks: Tensor, a: Tensor, b: Tensor) -> Tensor:
        """The symmetric pair inputs [P, 6] of pairs (a[p], b[p])."""
        ta, tb = tracks[a], tracks[b]
        dz = torch.abs(ta[:, 1] - tb[:, 1])
        sigma = torch.sqrt(
            torch.clamp(ta[:, 6], min=self.sigma_floor) ** 2
            + torch.clamp(tb[:, 6], min=self.sigma_floor) ** 2
        )
        sin_theta = 0.5 * (torch.sin(ta[:, 3]) + torch.sin(tb[:, 3]))
        dphi = torch.remainder(torch.abs(ta[:, 2] - tb[:, 2]), 2 * math.pi)
        dphi = torch.minimum(dphi, 2 * math.pi - dphi)
        cot_a = torch.cos(ta[:, 3]) / torch.clamp(torch.sin(ta[:, 3]), min=1e-3)
        cot_b = torch.cos(tb[:, 3]) / torch.clamp(torch.sin(tb[:, 3]), min=1e-3)
        return torch.stack(
            [
                dz,
                torch.log1p(dz / sigma),
                torch.log1p(dz * sin_theta / sigma),
                dphi,
                torch.abs(cot_a - cot_b),
                torch.abs(ta[:, 0]) + torch.abs(tb[:, 0]),
            ],
            dim=1,
        )

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Pair logits [P] for tracks ``x`` [N, 10] float32 (:data:`TRACK_FEATURES`) and
        pairs ``edge_index`` [2, P] int64 (rows of ``x``)."""
        if not torch.jit.is_tracing():
            if x.dim() != 2 or x.shape[1] != self.node_features:
                raise ValueError("tracks must have shape [N, 10]")
            if edge_index.dim() != 2 or edge_index.shape[0] != 2:
                raise ValueError("pairs must have shape [2, P]")
        h = self.track_net(self.track_inputs(x))
        a, b = edge_index[0], edge_index[1]
        ha, hb = h[a], h[b]
        pair = torch.cat([ha + hb, torch.abs(ha - hb), self.pair_inputs(x, a, b)], dim=1)
        return self.pair_net(pair).squeeze(-1)


def build_vertex_pair_net(config: dict[str, Any]) -> VertexPairNet:
    """A :class:`VertexPairNet` from its :attr:`VertexPairNet.config` dict."""
    return VertexPairNet(**config)

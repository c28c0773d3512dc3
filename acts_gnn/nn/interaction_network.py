r"""The Interaction Network edge classifier (Battaglia et al. 2016; Exa.TrkX / GNN4ITk flavour).

Notation: a graph with N nodes (hits) and E directed edges :math:`i \to j` (``edge_index``
[2, E] int64, row 0 the source ``i``, row 1 the target ``j``), node features
:math:`x_i \in \mathbb{R}^F` (scaled hit coordinates, e.g. r/1000 mm, phi/pi, z/1000 mm, eta)
and optional edge features :math:`a_{ij} \in \mathbb{R}^D`. H is the latent size.

Encoders::

    h_i^0  = phi_x(x_i)                                  [N, H]
    e_ij^0 = phi_e([h_i^0, h_j^0, a_ij])                 [E, H]   (a_ij only when D > 0)

T message-passing steps (t = 1..T), each with its own node net phi_n^t and edge net phi_e^t
(or one shared pair when ``recurrent``), residual updates::

    in_j   = AGG_{i: i->j} e_ij^{t-1}                    [N, H]   messages into the target
    out_i  = AGG_{j: i->j} e_ij^{t-1}                    [N, H]   messages into the source
    h^t    = h^{t-1} + phi_n^t([h^{t-1}, in, out])       [N, H]
    e_ij^t = e_ij^{t-1} + phi_e^t([h_i^t, h_j^t, e_ij^{t-1}])   [E, H]

so every edge sends its message to both of its endpoints (undirected message passing) while
the node still knows which side of the edge it is on. AGG is ``sum``, ``mean``
(sum / max(count, 1)) or both concatenated (``sum_mean``). Decoder, one logit per edge::

    logit_ij = phi_d([h_i^T, h_j^T, e_ij^T])             [E]

Implementation notes (these keep the model exportable, see docs/design.md, "Model files"):

* aggregation uses ``Tensor.scatter_add`` (ONNX ``ScatterElements`` with ``reduction="add"``),
  never ``index_add`` (the legacy ONNX exporter turns it into an overwriting scatter) nor
  ``max`` / ``torch_scatter``;
* the module scripts with ``torch.jit.script`` and traces to ONNX with dynamic N and E, zero
  edges included;
* ``n_chunks > 1`` evaluates every per-edge MLP (encoder, edge nets, decoder) on
  ``n_chunks`` slices of the edges: the result is identical to the unchunked one (message
  passing still sees the whole graph) and the per-edge MLP activations ([E, 3H] inputs and
  [E, H] hidden layers) shrink by ``n_chunks``. Without autograd (inference) the edge latents
  are updated in place, so memory is ~one [E, H] tensor plus one chunk's activations (for
  E = 200k, H = 128, T = 8 on CPU: peak +690 MB unchunked, +280 MB with 8 chunks). While
  tracing for ONNX the chunks are concatenated instead (no in-place writes in the graph).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.mlp import make_mlp, reset_mlp

AGGREGATIONS = ("sum", "mean", "sum_mean")


def scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    """Sum rows of ``src`` [E, H] into ``n`` rows by ``index`` [E] (int64): out [n, H].

    Written as ``zeros.scatter_add`` so ONNX export gives an accumulating scatter.
    """
    out = torch.zeros((n, src.shape[1]), dtype=src.dtype, device=src.device)
    return out.scatter_add(0, index.unsqueeze(-1).expand(-1, src.shape[1]), src)


def _inference(h: Tensor, e: Tensor) -> bool:
    """No gradients needed and not tracing for ONNX: chunks may write in place."""
    return not h.requires_grad and not e.requires_grad and not torch.jit.is_tracing()


def _chunk_bounds(n_items: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    size = (n_items + n_chunks - 1) // n_chunks
    return chunk * size, (chunk + 1) * size


class InteractionStep(nn.Module):
    """One message-passing step: the node net and the edge net (see the module docstring)."""

    def __init__(
        self,
        hidden: int,
        n_aggregations: int,
        n_node_layers: int,
        n_edge_layers: int,
        layer_norm: bool,
        activation: str,
    ) -> None:
        super().__init__()
        self.node_net = make_mlp(
            (1 + 2 * n_aggregations) * hidden,
            [hidden] * n_node_layers,
            activation,
            None,
            layer_norm,
        )
        self.edge_net = make_mlp(3 * hidden, [hidden] * n_edge_layers, activation, None, layer_norm)

    def forward(
        self,
        h: Tensor,
        e: Tensor,
        src: Tensor,
        dst: Tensor,
        inv_count_in: Tensor,
        inv_count_out: Tensor,
        use_sum: bool,
        use_mean: bool,
        n_chunks: int,
    ) -> tuple[Tensor, Tensor]:
        """h [N, H], e [E, H], src/dst [E]; inv_count_* [N, 1] = 1 / max(degree, 1).

        Returns the updated (h [N, H], e [E, H]).
        """
        n = h.shape[0]
        sum_in = scatter_sum(e, dst, n)
        sum_out = scatter_sum(e, src, n)
        parts = [h]
        if use_sum:
            parts += [sum_in, sum_out]
        if use_mean:
            parts += [sum_in * inv_count_in.to(e.dtype), sum_out * inv_count_out.to(e.dtype)]
        h = h + self.node_net(torch.cat(parts, dim=1))
        if n_chunks <= 1:
            return h, e + self.edge_net(torch.cat([h[src], h[dst], e], dim=1))
        if _inference(h, e):  # update e chunk by chunk in place: no second [E, H] tensor
            for c in range(n_chunks):
                lo, hi = _chunk_bounds(src.shape[0], n_chunks, c)
                ec = e[lo:hi]
                ec.add_(self.edge_net(torch.cat([h[src[lo:hi]], h[dst[lo:hi]], ec], dim=1)))
            return h, e
        updated: list[Tensor] = []
        for c in range(n_chunks):
            lo, hi = _chunk_bounds(src.shape[0], n_chunks, c)
            ec = e[lo:hi]
            update = self.edge_net(torch.cat([h[src[lo:hi]], h[dst[lo:hi]], ec], dim=1))
            updated.append(ec + update)
        return h, torch.cat(updated, dim=0)


class InteractionNetwork(nn.Module):
    """Interaction Network edge classifier: ``forward(x, edge_index, edge_attr=None)`` -> logits.

    Args:
        node_features: F, input node features per hit.
        edge_features: D, input edge features per edge (0: the model takes no ``edge_attr``).
        hidden: H, latent size of nodes and edges.
        n_iterations: T, message-passing steps.
        n_node_layers, n_edge_layers: Linear layers in each node / edge MLP (encoders included).
        n_decoder_layers: hidden layers of the decoder (followed by a Linear to one logit).
        layer_norm: LayerNorm after every hidden Linear.
        activation: ``torch.nn`` activation name (``SiLU``, ``Tanh``, ``ReLU``, ...).
        aggregation: ``sum``, ``mean`` or ``sum_mean``.
        recurrent: share one node net and one edge net across all steps.
        n_chunks: evaluate the per-edge MLPs in this many edge slices (exact; saves memory).
        gradient_checkpointing: in training, recompute each step in backward (saves memory).

    Inputs: x float32 [N, F], edge_index int64 [2, E], edge_attr float32 [E, D] (only if D > 0).
    Output: float logits [E] (apply a sigmoid for edge scores).
    """

    __jit_unused_properties__ = ["config"]  # noqa: RUF012 (TorchScript reads this list)

    def __init__(
        self,
        node_features: int,
        edge_features: int = 0,
        hidden: int = 128,
        n_iterations: int = 8,
        n_node_layers: int = 2,
        n_edge_layers: int = 2,
        n_decoder_layers: int = 2,
        layer_norm: bool = True,
        activation: str = "SiLU",
        aggregation: str = "sum",
        recurrent: bool = False,
        n_chunks: int = 1,
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        if n_iterations < 0 or n_chunks < 1:
            raise ValueError("n_iterations must be >= 0 and n_chunks >= 1")
        self._config = dict(
            node_features=node_features,
            edge_features=edge_features,
            hidden=hidden,
            n_iterations=n_iterations,
            n_node_layers=n_node_layers,
            n_edge_layers=n_edge_layers,
            n_decoder_layers=n_decoder_layers,
            layer_norm=layer_norm,
            activation=activation,
            aggregation=aggregation,
            recurrent=recurrent,
        )
        self.node_features = node_features
        self.edge_features = edge_features
        self.use_sum = aggregation in ("sum", "sum_mean")
        self.use_mean = aggregation in ("mean", "sum_mean")
        self.n_chunks = n_chunks
        self.gradient_checkpointing = gradient_checkpointing
        n_aggregations = 2 if aggregation == "sum_mean" else 1

        self.node_encoder = make_mlp(
            node_features, [hidden] * n_node_layers, activation, activation, layer_norm, layer_norm
        )
        self.edge_encoder = make_mlp(
            2 * hidden + edge_features,
            [hidden] * n_edge_layers,
            activation,
            activation,
            layer_norm,
            layer_norm,
        )

        def step() -> InteractionStep:
            return InteractionStep(
                hidden, n_aggregations, n_node_layers, n_edge_layers, layer_norm, activation
            )

        if recurrent and n_iterations > 0:
            shared = step()
            self.steps = nn.ModuleList([shared] * n_iterations)
        else:
            self.steps = nn.ModuleList([step() for _ in range(n_iterations)])
        self.decoder = make_mlp(
            3 * hidden, [hidden] * n_decoder_layers + [1], activation, None, layer_norm
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments that define the architecture (to rebuild the model)."""
        return dict(self._config)

    def reset_parameters(self) -> None:
        """Re-initialise every layer (torch default initialisation)."""
        for mlp in (self.node_encoder, self.edge_encoder, self.decoder):
            reset_mlp(mlp)
        for s in self.steps:
            reset_mlp(s)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Edge logits [E] for x [N, F] float32, edge_index [2, E] int64, edge_attr [E, D]."""
        return self._run(x, edge_index, edge_attr, self.n_chunks)

    @torch.jit.export
    def forward_chunked(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None, n_chunks: int
    ) -> Tensor:
        """As :meth:`forward`, with the per-edge MLPs run on ``n_chunks`` edge slices (exact)."""
        return self._run(x, edge_index, edge_attr, n_chunks)

    def _run(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None, n_chunks: int
    ) -> Tensor:
        if not torch.jit.is_tracing():  # shape checks (skipped while tracing for ONNX)
            if x.dim() != 2 or x.shape[1] != self.node_features:
                raise ValueError("x must have shape [N, node_features]")
            if edge_index.dim() != 2 or edge_index.shape[0] != 2:
                raise ValueError("edge_index must have shape [2, E]")
            if self.edge_features > 0:
                if edge_attr is None or edge_attr.shape[1] != self.edge_features:
                    raise ValueError("this model needs edge_attr [E, edge_features]")
            elif edge_attr is not None:
                raise ValueError("this model was built without edge features: pass no edge_attr")
        src = edge_index[0]
        dst = edge_index[1]
        n = x.shape[0]

        h = self.node_encoder(x)
        e = self._encode_edges(h, src, dst, edge_attr, n_chunks)

        # degrees for the mean aggregation (computed once; float32 [N, 1])
        ones = torch.ones((src.shape[0], 1), dtype=x.dtype, device=x.device)
        inv_count_in = 1.0 / scatter_sum(ones, dst, n).clamp(min=1.0)
        inv_count_out = 1.0 / scatter_sum(ones, src, n).clamp(min=1.0)

        for i, step in enumerate(self.steps):
            if self.gradient_checkpointing and self.training and not torch.jit.is_scripting():
                h, e = self._checkpointed_step(
                    i, h, e, src, dst, inv_count_in, inv_count_out, n_chunks
                )
            else:
                h, e = step(
                    h,
                    e,
                    src,
                    dst,
                    inv_count_in,
                    inv_count_out,
                    self.use_sum,
                    self.use_mean,
                    n_chunks,
                )
        return self._decode(h, e, src, dst, n_chunks)

    def _encode_edges(
        self, h: Tensor, src: Tensor, dst: Tensor, edge_attr: Tensor | None, n_chunks: int
    ) -> Tensor:
        if n_chunks <= 1:
            inputs = [h[src], h[dst]]
            if edge_attr is not None:
                inputs.append(edge_attr.to(h.dtype))
            return self.edge_encoder(torch.cat(inputs, dim=1))
        in_place = _inference(h, h)
        e = torch.zeros(0)
        parts: list[Tensor] = []
        for c in range(n_chunks):
            lo, hi = _chunk_bounds(src.shape[0], n_chunks, c)
            inputs = [h[src[lo:hi]], h[dst[lo:hi]]]
            if edge_attr is not None:
                inputs.append(edge_attr[lo:hi].to(h.dtype))
            out = self.edge_encoder(torch.cat(inputs, dim=1))
            if not in_place:
                parts.append(out)
                continue
            if c == 0:  # write the chunks into one preallocated [E, H] tensor
                e = out.new_empty((src.shape[0], out.shape[1]))
            e[lo:hi] = out
        return e if in_place else torch.cat(parts, dim=0)

    def _decode(self, h: Tensor, e: Tensor, src: Tensor, dst: Tensor, n_chunks: int) -> Tensor:
        if n_chunks <= 1:
            return self.decoder(torch.cat([h[src], h[dst], e], dim=1)).squeeze(-1)
        parts: list[Tensor] = []
        for c in range(n_chunks):
            lo, hi = _chunk_bounds(src.shape[0], n_chunks, c)
            inputs = torch.cat([h[src[lo:hi]], h[dst[lo:hi]], e[lo:hi]], dim=1)
            parts.append(self.decoder(inputs).squeeze(-1))
        return torch.cat(parts, dim=0)

    @torch.jit.unused
    def _checkpointed_step(
        self,
        i: int,
        h: Tensor,
        e: Tensor,
        src: Tensor,
        dst: Tensor,
        inv_count_in: Tensor,
        inv_count_out: Tensor,
        n_chunks: int,
    ) -> tuple[Tensor, Tensor]:
        """Step ``i`` under ``torch.utils.checkpoint`` (activations recomputed in backward)."""
        from torch.utils.checkpoint import checkpoint

        out = checkpoint(
            self.steps[i],
            h,
            e,
            src,
            dst,
            inv_count_in,
            inv_count_out,
            self.use_sum,
            self.use_mean,
            n_chunks,
            use_reentrant=False,
        )
        return out[0], out[1]


def build_interaction_network(config: dict[str, Any]) -> InteractionNetwork:
    """An :class:`InteractionNetwork` from its :attr:`InteractionNetwork.config` dict."""
    return InteractionNetwork(**config)

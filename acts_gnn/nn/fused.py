"""Fused inference of the edge classifiers: the same function, far less memory traffic.

:class:`FusedInference` evaluates an :class:`~acts_gnn.nn.interaction_network.
InteractionNetwork` (its weights, its function) for inference only; on CPU it is 1.7-2x as
fast as the model's ``forward`` or its TorchScript file, whose time goes into moving [E, 3H]
concatenations and [E, H] temporaries through memory rather than into arithmetic.
:class:`FusedEdgeFilter` does the same for the metric-learning chain's per-edge
:class:`~acts_gnn.nn.filter.EdgeFilter`. The C++ core's kernels of the same scheme are in
:mod:`acts_gnn.nn.core_inference`; :mod:`acts_gnn.nn.engines` picks one for a stage. See
docs/gnn.md, "CPU inference".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.filter import EdgeFilter
from acts_gnn.nn.interaction_network import (
    InteractionNetwork,
    InteractionStep,
)

#: The precisions of :class:`FusedInference`: ``fp32`` (the model's own arithmetic, up to the
#: order of summation) and ``bf16`` (bfloat16 weights, activations and latents, float32
#: accumulation inside the matrix products and LayerNorm statistics; AMX / AVX-512 BF16).
PRECISIONS = ("fp32", "bf16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


#: torch's CPU kernels use AVX-512 here: its tanh is then vectorised (0.26 ns per float32 on
#: an AVX-512 Xeon core against 0.63 for the identity of :func:`_tanh`, torch 2.13)
_VECTOR_TANH = torch.backends.cpu.get_cpu_capability() == "AVX512"


def _tanh(z: Tensor, inplace: bool = True) -> Tensor:
    """tanh(z) in place: torch's own where its kernel is vectorised (CUDA, AVX-512 CPUs), else
    as 2 sigmoid(2 z) - 1: there torch's tanh costs ~3x its sigmoid (5.3 against 1.6 ns per
    float32 on an AVX2 core, torch 2.13); the identity moves a value by at most ~6e-8
    (absolute, near 0, where 2 sigmoid(2 z) rounds to 1)."""
    if _VECTOR_TANH or z.device.type != "cpu":
        return z.tanh_()
    return z.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)


#: activations the fused engines apply in place (on temporaries only)
_IN_PLACE: dict[type[nn.Module], Any] = {
    nn.SiLU: nn.functional.silu,
    nn.ReLU: nn.functional.relu,
    nn.Tanh: _tanh,
}


class _Layer:
    """One ``Linear [-> LayerNorm] [-> activation]`` of an MLP, weights pre-transposed."""

    def __init__(self, linear: nn.Linear, dtype: torch.dtype) -> None:
        self.weight_t = linear.weight.detach().t().contiguous().to(dtype)  # [in, out]
        self.bias = linear.bias.detach().to(dtype)
        self.norm: tuple[Tensor, Tensor, float] | None = None
        self.activation: nn.Module | None = None
        self.in_place = False  # the activation has an in-place form (_IN_PLACE)


def _layers(mlp: nn.Module, dtype: torch.dtype) -> list[_Layer]:
    layers: list[_Layer] = []
    for module in mlp.children():
        if isinstance(module, nn.Linear):
            layers.append(_Layer(module, dtype))
        elif isinstance(module, nn.LayerNorm):
            w, b = module.weight.detach().to(dtype), module.bias.detach().to(dtype)
            layers[-1].norm = (w, b, float(module.eps))
        else:
            layers[-1].activation = module
            layers[-1].in_place = type(module) in _IN_PLACE
    return layers


def _move_layers(layers: list[_Layer], device: torch.device) -> None:
    """Move the weights of ``layers`` to ``device`` (in place)."""
    for layer in layers:
        layer.weight_t = layer.weight_t.to(device)
        layer.bias = layer.bias.to(device)
        if layer.norm is not None:
            w, b, eps = layer.norm
            layer.norm = (w.to(device), b.to(device), eps)


def _finish(z: Tensor, layers: list[_Layer], low: list[Tensor | None] | None = None) -> Tensor:
    """The rest of an MLP from the output ``z`` of its first Linear (bias included).
    ``low[i]``: where given, layer i's product takes its input rounded to that weight's dtype
    (bfloat16) and returns to z's dtype before the bias and everything after it."""
    for i, layer in enumerate(layers):
        weight = None if low is None else low[i]
        if i > 0 and weight is not None:
            z = torch.mm(z.to(weight.dtype), weight).to(layer.bias.dtype).add_(layer.bias)
        elif i > 0:
            z = torch.addmm(layer.bias, z, layer.weight_t)
        if layer.norm is not None:
            w, b, eps = layer.norm
            z = nn.functional.layer_norm(z, (z.shape[1],), w, b, eps)
        if layer.activation is None:
            continue
        if layer.in_place:
            _IN_PLACE[type(layer.activation)](z, inplace=True)
        else:
            z = layer.activation(z)
    return z


def _split_rows(weight_t: Tensor, sizes: list[int]) -> list[Tensor]:
    """The row blocks of a first-layer weight [sum(sizes), out] (one per concatenated input)."""
    return [block.contiguous() for block in torch.split(weight_t, sizes, dim=0)]


def _edge_blocks(weight_t: Tensor, sizes: list[int]) -> list[Tensor]:
    """:func:`_split_rows` of an edge MLP's first weight ([h_i, h_j(, e)] inputs), plus the
    source and target blocks side by side [H, 2 out] (last) for one product per node."""
    blocks = _split_rows(weight_t, sizes)
    return [*blocks, torch.cat([blocks[0], blocks[1]], dim=1)]


def check_graph(
    x: Tensor, edge_index: Tensor, edge_attr: Tensor | None, node_features: int, edge_features: int
) -> None:
    """ValueError unless x is [N, node_features], edge_index [2, E] and edge_attr given exactly
    when the model has edge features: the inputs every fused or core engine takes."""
    if x.dim() != 2 or x.shape[1] != node_features:
        raise ValueError("x must have shape [N, node_features]")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError("edge_index must have shape [2, E]")
    if (edge_features > 0) != (edge_attr is not None):
        raise ValueError(
            "this model needs edge_attr [E, edge_features]"
            if edge_features
            else "this model was built without edge features: pass no edge_attr"
        )


class FusedInference:
    """Inference of an :class:`InteractionNetwork` (same weights, same function) with far less
    memory traffic than its ``forward``; CPU or CUDA, no autograd, not exportable.

    What changes against ``forward`` (the scores do not, beyond rounding):

    * no concatenation: the first Linear of an MLP on ``[h_i, h_j, e_ij]`` is split by input
      block, ``W [h_i, h_j, e] = W_s h_i + W_d h_j + W_e e``, and the node blocks are applied
      once per node (one [N, 2H] product) and gathered per edge, instead of gathering
      [E, 3H];
    * the per-edge MLPs run on slices of ``chunk_size`` edges (default 4096: one slice's
      activations, 4096 x 64 float32 = 1 MB, stay in the core's cache), updating the edge
      latents in place, and each slice's new latents are summed into the next step's node
      inputs (``index_add_``) while still in cache;
    * nodes without any edge are dropped first (exact: they never reach an edge's score);
    * ``precision="bf16"``: weights, MLP activations and node and edge latents in bfloat16
      (matrix products and LayerNorm statistics accumulate in float32 inside the kernels;
      float32 latents were measured slower for the same scores: the conversions cost more
      than they save); the message sums stay float32 (torch's CPU ``index_add_`` of bfloat16
      took 2.5x its float32 time: 211 against 83 ms of a 0.68 s pass, 60k nodes and 83k
      edges, one AVX-512 core); the logits are returned as float32. Scores move by ~1e-3 on
      average, up to ~0.1 on single edges (docs/results.md, "CPU inference", for the edge
      and track metrics this gives on held-out events).

    ``model``: an :class:`InteractionNetwork` (eager; for a TorchScript file rebuild it from
    the file's ``model_config`` and ``state_dict``). Inputs and output as
    :meth:`InteractionNetwork.forward`: x [N, F], edge_index int64 [2, E], edge_attr [E, D]
    (D > 0 only); logits float32 [E].
    """

    def __init__(
        self, model: InteractionNetwork, precision: str = "fp32", chunk_size: int = 4096
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.precision = precision
        self.chunk_size = int(chunk_size)
        self.dtype = _DTYPES[precision]
        self.node_features = model.node_features
        self.edge_features = model.edge_features
        self.use_sum = model.use_sum
        self.use_mean = model.use_mean
        hidden = int(model.config["hidden"])
        self.hidden = hidden
        dt = self.dtype
        self.node_encoder = _layers(model.node_encoder, dt)
        self.edge_encoder = _layers(model.edge_encoder, dt)
        self.decoder = _layers(model.decoder, dt)
        sizes_e = [hidden, hidden] + ([model.edge_features] if model.edge_features else [])
        self.edge_encoder_blocks = _edge_blocks(self.edge_encoder[0].weight_t, sizes_e)
        self.decoder_blocks = _edge_blocks(self.decoder[0].weight_t, [hidden] * 3)
        n_node_inputs = 1 + 2 * (int(self.use_sum) + int(self.use_mean))
        self.steps: list[tuple[list[_Layer], list[Tensor], list[_Layer], list[Tensor]]] = []
        for step in model.steps:
            assert isinstance(step, InteractionStep)
            node_layers = _layers(step.node_net, dt)
            edge_layers = _layers(step.edge_net, dt)
            self.steps.append(
                (
                    node_layers,
                    _split_rows(node_layers[0].weight_t, [hidden] * n_node_inputs),
                    edge_layers,
                    _edge_blocks(edge_layers[0].weight_t, [hidden] * 3),
                )
            )

    def to(self, device: torch.device) -> FusedInference:
        """Move every weight to ``device`` (in place; returns self)."""

        for layers in (self.node_encoder, self.edge_encoder, self.decoder):
            _move_layers(layers, device)
        self.edge_encoder_blocks = [b.to(device) for b in self.edge_encoder_blocks]
        self.decoder_blocks = [b.to(device) for b in self.decoder_blocks]
        steps = []
        for node_layers, node_blocks, edge_layers, edge_blocks in self.steps:
            _move_layers(node_layers, device)
            _move_layers(edge_layers, device)
            steps.append(
                (
                    node_layers,
                    [b.to(device) for b in node_blocks],
                    edge_layers,
                    [b.to(device) for b in edge_blocks],
                )
            )
        self.steps = steps
        return self

    def _edge_mlp(
        self,
        h: Tensor,
        third: Tensor | None,
        src: Tensor,
        dst: Tensor,
        layers: list[_Layer],
        blocks: list[Tensor],
        out: Tensor,
        residual: bool,
        sums: tuple[Tensor, Tensor] | None,
    ) -> None:
        """``out[k] (+)= MLP([h[src[k]], h[dst[k]], third[k]])`` slice by slice; with ``sums``
        (in, out) [N, H], add each new ``out`` slice into them by dst / src."""
        width = blocks[0].shape[1]
        both = h.to(self.dtype) @ blocks[-1]  # [N, 2 out]: (W_s h, W_d h) for every node, one
        from_src, from_dst = both[:, :width], both[:, width:]  # product; gathered per edge below
        dt = self.dtype
        n_edges = src.shape[0]
        for lo in range(0, n_edges, self.chunk_size):
            hi = min(n_edges, lo + self.chunk_size)
            s, d = src[lo:hi], dst[lo:hi]
            if third is None:
                z = from_src.index_select(0, s).add_(layers[0].bias)
            else:
                z = torch.addmm(layers[0].bias, third[lo:hi].to(dt), blocks[2])
                z += from_src.index_select(0, s)
            z += from_dst.index_select(0, d)
            z = _finish(z, layers)
            piece = out[lo:hi]
            if residual:
                piece += z
            else:
                piece.copy_(z)
            if sums is not None:
                added = piece.float()  # (a no-op in fp32)
                sums[0].index_add_(0, d, added)
                sums[1].index_add_(0, s, added)

    @torch.inference_mode()
    def __call__(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Logits float32 [E] (see the class docstring)."""
        check_graph(x, edge_index, edge_attr, self.node_features, self.edge_features)
        n_edges = int(edge_index.shape[1])
        if n_edges == 0:
            return torch.zeros(0, dtype=torch.float32, device=x.device)
        dt, hidden = self.dtype, self.hidden
        used = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        used[edge_index.reshape(-1)] = True
        renumber = torch.cumsum(used, 0) - 1
        src = renumber[edge_index[0]].contiguous()
        dst = renumber[edge_index[1]].contiguous()
        x = x[used].to(dt)
        n = x.shape[0]
        third = None if edge_attr is None else edge_attr.to(dt)
        latent = dt  # latents in the working precision, message sums in float32 (docstring)

        encoder = self.node_encoder
        h = _finish(torch.addmm(encoder[0].bias, x, encoder[0].weight_t), encoder).to(latent)
        e = torch.empty((n_edges, hidden), dtype=latent, device=x.device)
        sum_in = torch.zeros((n, hidden), dtype=torch.float32, device=x.device)
        sum_out = torch.zeros_like(sum_in)
        sums = (sum_in, sum_out) if self.steps else None
        self._edge_mlp(
            h, third, src, dst, self.edge_encoder, self.edge_encoder_blocks, e, False, sums
        )
        inv_in = inv_out = None
        if self.use_mean:
            ones = torch.ones(n_edges, dtype=torch.float32, device=x.device)
            count_in = torch.zeros(n, dtype=torch.float32, device=x.device).index_add_(0, dst, ones)
            count_out = torch.zeros_like(count_in).index_add_(0, src, ones)
            inv_in = (1.0 / count_in.clamp(min=1.0))[:, None]
            inv_out = (1.0 / count_out.clamp(min=1.0))[:, None]
        for k, (node_layers, node_blocks, edge_layers, edge_blocks) in enumerate(self.steps):
            inputs = [h]
            if self.use_sum:
                inputs += [sum_in, sum_out]
            if self.use_mean:
                assert inv_in is not None
                assert inv_out is not None
                inputs += [sum_in * inv_in, sum_out * inv_out]
            z = torch.addmm(node_layers[0].bias, inputs[0].to(dt), node_blocks[0])
            for block, value in zip(node_blocks[1:], inputs[1:]):
                z.addmm_(value.to(dt), block)
            h = h + _finish(z, node_layers)
            last = k == len(self.steps) - 1
            if not last:
                sum_in.zero_()
                sum_out.zero_()
            self._edge_mlp(
                h, e, src, dst, edge_layers, edge_blocks, e, True, None if last else sums
            )
        logits = torch.empty((n_edges, 1), dtype=latent, device=x.device)
        self._edge_mlp(h, e, src, dst, self.decoder, self.decoder_blocks, logits, False, None)
        return logits.reshape(-1).float()


class FusedEdgeFilter:
    """Inference of an :class:`~acts_gnn.nn.filter.EdgeFilter` (same weights, same function)
    on slices of ``chunk_size`` edges; CPU or CUDA, no autograd, not exportable.

    The model's ``forward`` builds the [E, 2F + D] inputs and every [E, hidden] activation of
    all E edges at once (13 M pairs, 6.7 GB per activation, at MU = 200), so its time goes
    into memory traffic. Here each slice of 4096 edges (2 MB of activations at hidden 128)
    runs the whole MLP while it is in cache, the first Linear split by input block (no
    concatenation), activations in place (Tanh by :func:`_tanh`). Per pair on one AVX2 core
    (hidden 128, 3 layers, Tanh): 8.1 us for the model on 10^6 pairs, 4.4 us for the model on
    4096-edge slices (the same scores, bit for bit), 2.6 us here (logits within ~1e-6).
    ``precision="bf16"``: the hidden [H, H] products take bfloat16 inputs and weights
    (float32 accumulation and result), everything else stays float32 (torch's bfloat16
    LayerNorm and Tanh are slower on CPU; docs/gnn.md). Inputs as
    :meth:`EdgeFilter.forward`: x [N, F], edge_index int64 [2, E], edge_attr [E, D] (D > 0
    only); logits float32 [E].
    """

    def __init__(self, model: EdgeFilter, precision: str = "fp32", chunk_size: int = 4096) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.precision = precision
        self.chunk_size = int(chunk_size)
        self.node_features = model.node_features
        self.edge_features = model.edge_features
        self.layers = _layers(model.network, torch.float32)
        f = model.node_features
        sizes = [f, f] + ([model.edge_features] if model.edge_features else [])
        self.blocks = _split_rows(self.layers[0].weight_t, sizes)
        # bf16: the hidden products (square [H, H] weights) only; the narrow first and last
        # layers, LayerNorm and the activations stay float32 (their bfloat16 kernels are
        # slower on CPU: Tanh 0.20 against 0.035 us per 128-value row)
        self.low: list[Tensor | None] | None = None
        if precision == "bf16":
            self.low = [
                layer.weight_t.to(torch.bfloat16) if 0 < i < len(self.layers) - 1 else None
                for i, layer in enumerate(self.layers)
            ]

    def to(self, device: torch.device) -> FusedEdgeFilter:
        """Move every weight to ``device`` (in place; returns self)."""
        _move_layers(self.layers, device)
        self.blocks = [b.to(device) for b in self.blocks]
        if self.low is not None:
            self.low = [None if w is None else w.to(device) for w in self.low]
        return self

    def __call__(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Logits float32 [E] (see the class docstring)."""
        check_graph(x, edge_index, edge_attr, self.node_features, self.edge_features)
        n_edges = int(edge_index.shape[1])
        logits = torch.empty(n_edges, dtype=torch.float32, device=x.device)
        x = x.float()
        third = None if edge_attr is None else edge_attr.float()
        first = self.layers[0]
        for start in range(0, n_edges, self.chunk_size):
            stop = min(start + self.chunk_size, n_edges)
            z = torch.addmm(first.bias, x[edge_index[0, start:stop]], self.blocks[0])
            z.addmm_(x[edge_index[1, start:stop]], self.blocks[1])
            if third is not None:
                z.addmm_(third[start:stop], self.blocks[2])
            logits[start:stop] = _finish(z, self.layers, self.low).reshape(-1)
        return logits

"""Inference of the edge classifiers in the C++ core: :class:`CoreInference` (an
:class:`~acts_gnn.nn.interaction_network.InteractionNetwork`) and :class:`CoreEdgeFilter` (an
:class:`~acts_gnn.nn.filter.EdgeFilter`) wrap ``acts_gnn._core.InteractionNetworkKernel`` and
``EdgeMlpKernel`` (cpp/interaction_network.cpp): the scheme of :mod:`acts_gnn.nn.fused`,
compiled, one GIL-free call per graph, float32 or bfloat16 products on AVX-512 BF16. See
docs/gnn.md, "CPU inference".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from acts_gnn.nn.filter import EdgeFilter
from acts_gnn.nn.fused import PRECISIONS, check_graph
from acts_gnn.nn.interaction_network import InteractionNetwork, InteractionStep


def _mlp_layers(mlp: nn.Module) -> list[tuple[Any, ...]]:
    """The layers of ``mlp`` as :class:`acts_gnn._core.InteractionNetworkKernel` takes them:
    (weight_t float32 [in, out], bias, norm weight or None, norm bias or None, eps,
    activation name) per Linear. ValueError for a module the kernel does not evaluate."""
    layers: list[list[Any]] = []
    for module in mlp.children():
        if isinstance(module, nn.Linear):
            weight_t = module.weight.detach().float().t().contiguous().cpu().numpy()
            layers.append([weight_t, module.bias.detach().float().cpu().numpy(), None, None])
            layers[-1] += [1e-5, "None"]
        elif isinstance(module, nn.LayerNorm) and layers and layers[-1][2] is None:
            layers[-1][2] = module.weight.detach().float().cpu().numpy()
            layers[-1][3] = module.bias.detach().float().cpu().numpy()
            layers[-1][4] = float(module.eps)
        elif type(module).__name__ in CORE_ACTIVATIONS and layers and layers[-1][5] == "None":
            layers[-1][5] = type(module).__name__
        else:
            raise ValueError(f"the core kernel does not evaluate {type(module).__name__} here")
    return [tuple(layer) for layer in layers]


#: the activations :class:`CoreInference` evaluates (torch.nn class names)
CORE_ACTIVATIONS = ("ReLU", "SiLU", "Tanh", "Sigmoid")


class _CoreEngine:
    """What both core engines share: the checked precision, the model's feature counts, the
    thread count and the call into their ``kernel``."""

    kernel: Any

    def __init__(
        self, model: InteractionNetwork | EdgeFilter, precision: str, threads: int | None
    ) -> None:
        self.precision = _checked_core_precision(precision)
        self.node_features = model.node_features
        self.edge_features = model.edge_features
        self.threads = threads

    def to(self, device: torch.device) -> _CoreEngine:
        """CPU only (returns self); ValueError for another device."""
        if torch.device(device).type != "cpu":
            raise ValueError(f"the core kernel runs on CPU only, not {device}")
        return self

    def __call__(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """Logits float32 [E] (see the class docstring)."""
        check_graph(x, edge_index, edge_attr, self.node_features, self.edge_features)
        threads = torch.get_num_threads() if self.threads is None else self.threads
        attr = None if edge_attr is None else edge_attr.detach().float().contiguous().numpy()
        logits = self.kernel.logits(
            x.detach().float().contiguous().numpy(),
            edge_index.detach().long().contiguous().numpy(),
            attr,
            self.precision == "bf16",
            threads,
        )
        return torch.from_numpy(logits)


class CoreInference(_CoreEngine):
    """Inference of an :class:`InteractionNetwork` in the C++ core
    (:class:`acts_gnn._core.InteractionNetworkKernel`): CPU, one call per graph that runs
    without the GIL on ``threads`` threads (None: ``torch.get_num_threads()`` at each call).
    The same scheme as :class:`FusedInference` (split first layers, node terms once per node,
    blocks of 64 rows through each whole MLP while in cache, message sums added while in
    cache, nodes without edges dropped) in one compiled loop instead of ~10 torch calls per
    4096-edge slice; exp is a polynomial good to ~2 ulp, so fp32 logits differ from the
    model's by ~1e-5. ``precision="bf16"`` (CPUs with AVX-512 BF16 only, see
    ``acts_gnn._core.has_bf16_products``): the matrix products take bfloat16 inputs and
    weights and accumulate in float32; latents, message sums, LayerNorm and activations stay
    float32 (docs/gnn.md, "CPU inference"). ValueError, at construction, for an activation
    other than :data:`CORE_ACTIVATIONS` or bf16 on another CPU. Inputs and output as
    :meth:`InteractionNetwork.forward` (CPU tensors): x [N, F], edge_index int64 [2, E],
    edge_attr [E, D] (D > 0 only); logits float32 [E].
    """

    def __init__(
        self, model: InteractionNetwork, precision: str = "fp32", threads: int | None = None
    ) -> None:
        from acts_gnn import _core

        super().__init__(model, precision, threads)
        steps = []
        for step in model.steps:
            assert isinstance(step, InteractionStep)
            steps.append((_mlp_layers(step.node_net), _mlp_layers(step.edge_net)))
        self.kernel = _core.InteractionNetworkKernel(
            model.node_features,
            model.edge_features,
            int(model.config["hidden"]),
            model.use_sum,
            model.use_mean,
            _mlp_layers(model.node_encoder),
            _mlp_layers(model.edge_encoder),
            steps,
            _mlp_layers(model.decoder),
        )


class CoreEdgeFilter(_CoreEngine):
    """Inference of an :class:`~acts_gnn.nn.filter.EdgeFilter` in the C++ core
    (:class:`acts_gnn._core.EdgeMlpKernel`): blocks of 64 edges, each gathering its inputs
    ``[x_src, x_dst, edge_attr]`` and going through the whole MLP while in cache, in one
    GIL-free call on ``threads`` threads (None: ``torch.get_num_threads()`` at each call);
    the products as :class:`CoreInference`'s (AVX-512 register blocks; with
    ``precision="bf16"`` every product of width 16-128 in bfloat16 with float32
    accumulation, on AVX-512 BF16 only), LayerNorm and activations float32; logits within
    ~1e-5 of the model's in fp32. ValueError, at construction, for an activation other than
    :data:`CORE_ACTIVATIONS` or bf16 on another CPU. Inputs and output as
    :meth:`EdgeFilter.forward` (CPU tensors); logits float32 [E].
    """

    def __init__(
        self, model: EdgeFilter, precision: str = "fp32", threads: int | None = None
    ) -> None:
        from acts_gnn import _core

        super().__init__(model, precision, threads)
        self.kernel = _core.EdgeMlpKernel(
            model.node_features, model.edge_features, _mlp_layers(model.network)
        )


def core_precision(precision: str) -> bool:
    """Whether the core kernels run ``precision`` on this CPU."""
    from acts_gnn import _core

    return precision == "fp32" or _core.has_bf16_products()


def _checked_core_precision(precision: str) -> str:
    """``precision``; ValueError unless it is one of :data:`PRECISIONS` and, for bf16, the
    CPU has AVX-512 BF16."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not core_precision(precision):
        raise ValueError("the core kernel's bf16 needs a CPU with AVX-512 BF16")
    return precision


def core_evaluates(model: nn.Module) -> bool:
    """Whether the core kernels evaluate every layer of ``model`` (an Interaction Network or
    an edge filter)."""
    names = {type(m).__name__ for m in model.modules() if not list(m.children())}
    return names <= {"Linear", "LayerNorm", *CORE_ACTIVATIONS}

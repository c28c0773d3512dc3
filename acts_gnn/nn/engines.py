"""Which engine computes an edge-classifier stage's logits (:data:`ENGINES`,
:func:`choose_engine`): the model itself, the torch fused engines (:mod:`acts_gnn.nn.fused`)
or the C++ core's kernels (:mod:`acts_gnn.nn.core_inference`). See docs/gnn.md, "CPU
inference".
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from acts_gnn.nn.core_inference import (
    CORE_ACTIVATIONS,
    CoreEdgeFilter,
    CoreInference,
    core_evaluates,
    core_precision,
)
from acts_gnn.nn.filter import EdgeFilter, build_edge_filter
from acts_gnn.nn.fused import PRECISIONS, FusedEdgeFilter, FusedInference
from acts_gnn.nn.interaction_network import InteractionNetwork, build_interaction_network

#: What computes an edge-classifier stage's logits: ``model`` (the model file or module as it
#: is), ``fused`` (:class:`FusedInference` or :class:`FusedEdgeFilter` on the model's
#: weights: the same scores up to rounding; Interaction Networks and edge filters only),
#: ``core`` (:class:`CoreInference` / :class:`CoreEdgeFilter`: the C++ core's kernels; those
#: two kinds of model, CPU only), ``auto`` (on CPU: ``core`` where the kernels have the
#: model's activations, in fp32, or in bf16 where the CPU has AVX-512 BF16; else ``fused``;
#: elsewhere the model).
ENGINES = ("auto", "model", "fused", "core")


def _eager_model(model: nn.Module, metadata: dict[str, Any], kind: type[nn.Module]) -> Any:
    """An eager ``kind`` (:class:`InteractionNetwork` or :class:`EdgeFilter`) with ``model``'s
    weights (the module itself, or rebuilt from ``metadata["model_config"]`` for a TorchScript
    file exported here), or None when ``model`` is not one (or its weights do not fit the
    recorded architecture)."""
    if isinstance(model, kind):
        return model
    config = metadata.get("model_config")
    if metadata.get("model") != kind.__name__ or not isinstance(config, dict):
        return None
    build = build_interaction_network if kind is InteractionNetwork else build_edge_filter
    try:
        network = build(config)
        network.load_state_dict(model.state_dict())
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        import logging

        logging.getLogger(__name__).warning("fused engine unavailable (%s): the model runs", err)
        return None
    return network.eval()


def choose_engine(
    model: nn.Module,
    metadata: dict[str, Any],
    engine: str,
    precision: str,
    device: torch.device,
    source: str,
) -> CoreInference | FusedInference | CoreEdgeFilter | FusedEdgeFilter | None:
    """The :class:`CoreInference` or :class:`FusedInference` (an Interaction Network) or
    :class:`CoreEdgeFilter` or :class:`FusedEdgeFilter` (an edge filter) an edge-classifier
    stage should run for ``engine`` (:data:`ENGINES`) and ``precision`` on ``device``, or
    None (run the model itself). ValueError, naming ``source``, for ``engine="fused"`` or ``"core"`` on a model
    they do not evaluate, ``"core"`` off the CPU (or in bf16 on a CPU without AVX-512 BF16),
    or a ``precision`` other than fp32 without a fused engine (another model, or
    ``engine="model"``)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    on_cpu = device.type == "cpu"
    if engine == "core":
        if not on_cpu:
            raise ValueError(
                f"{source}: engine='core' runs on CPU only, not {device}; use engine='fused'"
            )
        network = _eager_model(model, metadata, InteractionNetwork)
        if network is not None and core_evaluates(network):
            return CoreInference(network, precision)
        edge_filter = _eager_model(model, metadata, EdgeFilter)
        if edge_filter is not None and core_evaluates(edge_filter):
            return CoreEdgeFilter(edge_filter, precision)
        raise ValueError(
            f"{source}: engine='core' needs an InteractionNetwork or EdgeFilter (a file "
            f"exported here, with model_config in its metadata, or the module) with "
            f"{CORE_ACTIVATIONS} activations"
        )
    wanted = engine == "fused" or (engine == "auto" and on_cpu)
    core = engine == "auto" and core_precision(precision)
    network = _eager_model(model, metadata, InteractionNetwork) if wanted else None
    if network is not None:
        if core and core_evaluates(network):
            return CoreInference(network, precision)
        return FusedInference(network, precision).to(device)
    edge_filter = _eager_model(model, metadata, EdgeFilter) if wanted else None
    if edge_filter is not None:
        if core and core_evaluates(edge_filter):
            return CoreEdgeFilter(edge_filter, precision)
        return FusedEdgeFilter(edge_filter, precision).to(device)
    if engine == "fused" and precision == "fp32":
        raise ValueError(
            f"{source}: engine='fused' needs an InteractionNetwork or EdgeFilter model (a "
            "file exported here, with model_config in its metadata, or the module itself)"
        )
    if precision != "fp32":
        raise ValueError(
            f"{source}: precision={precision!r} needs the fused engine (an InteractionNetwork "
            "or EdgeFilter model; on CUDA pass engine='fused')"
        )
    return None

"""Model files: TorchScript and ONNX files and training checkpoints, read and written.

Exported files (written by :mod:`acts_gnn.train.export`, read by the inference stages of
:mod:`acts_gnn.chain` and :mod:`acts_gnn.graph.metric_learning`, and by upstream ACTS):

* **ONNX**: legacy (TorchScript-based) exporter, inputs named :data:`INPUT_NAMES` (``x``
  float32 [N, F], ``edge_index`` int64 [2, E], ``edge_attr`` float32 [E, D]; an embedding
  model takes ``x`` only), one output :data:`OUTPUT_NAME`; the metadata (features, scales,
  architecture, ...) as JSON in ``metadata_props["acts_gnn"]`` (:func:`read_onnx_metadata`);
* **TorchScript**: ``torch.jit.script`` of the module, the metadata as JSON in the extra file
  :data:`METADATA_FILE` (:func:`read_torchscript_metadata`).

Both are written atomically (:mod:`acts_gnn.io.atomic`). Training checkpoints
(``torch.save`` of a dict with ``format`` :data:`CHECKPOINT_FORMAT`, written by
:mod:`acts_gnn.train.loop`) hold the model's name, config and weights:
:func:`model_from_checkpoint` rebuilds the model from them.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from acts_gnn.io.atomic import atomic_path

#: Input names of an exported edge classifier, in order (the first two without edge features).
INPUT_NAMES = ("x", "edge_index", "edge_attr")
#: The one output of every exported model.
OUTPUT_NAME = "output"
#: The extra file of a TorchScript model that holds its metadata (JSON).
METADATA_FILE = "acts_gnn.json"
#: The ``format`` entry of a training checkpoint, and the version written.
CHECKPOINT_FORMAT = "acts-gnn-checkpoint"
CHECKPOINT_VERSION = 1


def random_graph(
    n_nodes: int, n_edges: int, node_features: int, edge_features: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A random graph: x [n_nodes, node_features], edge_index [2, n_edges] whose edges repeat
    target nodes (half of them land on 3 hub nodes), edge_attr [n_edges, edge_features] (None
    if ``edge_features`` is 0); seeded by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_nodes, node_features, generator=g)
    edge_index = torch.randint(0, n_nodes, (2, n_edges), generator=g)
    hubs = torch.randint(0, min(3, n_nodes), (n_edges,), generator=g)
    edge_index[1] = torch.where(torch.arange(n_edges) % 2 == 0, hubs, edge_index[1])
    edge_attr = torch.randn(n_edges, edge_features, generator=g) if edge_features else None
    return x, edge_index, edge_attr


# ---------------------------------------------------------------------------------------------
# TorchScript
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_jit() -> Iterator[None]:
    """TorchScript is what upstream ACTS loads: silence torch's deprecation notices for it."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning
        )
        yield


def load_torchscript(
    path: str | Path, device: str | torch.device = "cpu", extra_files: dict[str, Any] | None = None
) -> torch.jit.ScriptModule:
    """``torch.jit.load`` without the deprecation notices; ``extra_files`` filled in place."""
    with _quiet_jit():
        if extra_files is None:
            return torch.jit.load(str(path), map_location=device)
        return torch.jit.load(str(path), map_location=device, _extra_files=extra_files)


def write_torchscript(model: torch.nn.Module, path: Path, info: dict[str, Any]) -> None:
    """``torch.jit.script(model)`` with ``info`` in the extra file :data:`METADATA_FILE`,
    written atomically to ``path``."""
    with atomic_path(path) as partial, _quiet_jit():
        scripted = torch.jit.script(model)
        torch.jit.save(scripted, str(partial), _extra_files={METADATA_FILE: json.dumps(info)})


def read_torchscript_metadata(path: str | Path) -> dict[str, Any]:
    """The ``acts_gnn.json`` metadata of a TorchScript file written here ({} if none)."""
    files = {METADATA_FILE: ""}
    load_torchscript(path, extra_files=files)
    return json.loads(files[METADATA_FILE]) if files[METADATA_FILE] else {}


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------


def write_onnx(
    model: torch.nn.Module,
    args: tuple[Any, ...],
    path: Path,
    input_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    info: dict[str, Any],
    opset: int,
) -> None:
    """Export ``model`` on example ``args`` with the legacy (TorchScript-based) exporter,
    store ``info`` as ``metadata_props["acts_gnn"]``, check and write ``path`` atomically."""
    import onnx

    with atomic_path(path) as partial:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*feature will be removed.*")
            torch.onnx.export(
                model,
                args,
                str(partial),
                dynamo=False,
                opset_version=opset,
                input_names=input_names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic_axes,
            )
        proto = onnx.load(str(partial))
        entry = proto.metadata_props.add()
        entry.key, entry.value = "acts_gnn", json.dumps(info)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(partial))


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``acts_gnn`` metadata of an ONNX file written here ({} if none)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.metadata_props:
        if entry.key == "acts_gnn":
            return dict(json.loads(entry.value))
    return {}


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by :mod:`acts_gnn.train.loop` (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an acts-gnn training checkpoint")
    return checkpoint


def _builders() -> dict[str, Callable[[dict[str, Any]], torch.nn.Module]]:
    """Model name (a checkpoint's ``model``) -> builder from its ``model_config``."""
    from acts_gnn.nn.embedding import build_embedding_net
    from acts_gnn.nn.filter import build_edge_filter
    from acts_gnn.nn.interaction_network import build_interaction_network

    return {
        "InteractionNetwork": build_interaction_network,
        "EdgeFilter": build_edge_filter,
        "EmbeddingNet": build_embedding_net,
    }


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of a checkpoint (eval mode, CPU) and its metadata (features, scales, ...):
    an :class:`~acts_gnn.nn.interaction_network.InteractionNetwork`,
    :class:`~acts_gnn.nn.filter.EdgeFilter` or :class:`~acts_gnn.nn.embedding.EmbeddingNet`,
    as the checkpoint says."""
    checkpoint = load_checkpoint(path)
    name = checkpoint.get("model", "InteractionNetwork")
    builders = _builders()
    if name not in builders:
        raise ValueError(f"{path}: unknown model {name!r} in the checkpoint")
    model = builders[name](checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    return model.eval(), dict(checkpoint.get("metadata", {}))

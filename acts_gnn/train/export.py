"""Export a trained edge classifier to ONNX and TorchScript with the upstream ACTS conventions.

Both files take ``x`` float32 [N, F], ``edge_index`` int64 [2, E] and, for models trained with
edge features, ``edge_attr`` float32 [E, D], and return one tensor of logits [E] (no sigmoid),
so they load in the upstream ACTS ``OnnxEdgeClassifier`` / ``TorchEdgeClassifier`` as well as
in :mod:`acts_gnn.chain.classify`. ONNX: legacy (TorchScript-based) exporter, opset >= 17, dynamic
node and edge counts, input names ``x``, ``edge_index``, ``edge_attr``, output ``output``;
metadata (features, scales, architecture) in the model's ``metadata_props``. TorchScript:
``torch.jit.script`` of the module (``forward(x, edge_index, edge_attr=None)`` plus the exact
chunked ``forward_chunked``), metadata in the extra file ``acts_gnn.json``.

Every export is verified: the exported model is run on random graphs of several sizes (with
repeated target nodes, and with zero edges) and compared with the torch model.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acts_gnn.nn.interaction_network import InteractionNetwork, build_interaction_network

log = logging.getLogger(__name__)

INPUT_NAMES = ("x", "edge_index", "edge_attr")
OUTPUT_NAME = "output"
METADATA_FILE = "acts_gnn.json"
#: Graph sizes (nodes, edges) used to verify every export.
VERIFY_SIZES = ((5, 0), (7, 1), (40, 37), (300, 5000))


class ExportError(RuntimeError):
    """The exported model disagrees with the torch model (or could not be written)."""


def _prepare(model: torch.nn.Module, n_chunks: int = 1) -> torch.nn.Module:
    model = copy.deepcopy(model).cpu().eval()
    if isinstance(model, InteractionNetwork):
        model.n_chunks = n_chunks
        model.gradient_checkpointing = False
    return model


def _n_features(model: torch.nn.Module) -> tuple[int, int]:
    return int(getattr(model, "node_features")), int(getattr(model, "edge_features", 0))  # noqa: B009


def random_graph(
    n_nodes: int, n_edges: int, node_features: int, edge_features: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A random graph whose edges repeat target nodes (half of them land on 3 hub nodes)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_nodes, node_features, generator=g)
    edge_index = torch.randint(0, n_nodes, (2, n_edges), generator=g)
    hubs = torch.randint(0, min(3, n_nodes), (n_edges,), generator=g)
    edge_index[1] = torch.where(torch.arange(n_edges) % 2 == 0, hubs, edge_index[1])
    edge_attr = torch.randn(n_edges, edge_features, generator=g) if edge_features else None
    return x, edge_index, edge_attr


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


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def check_agreement(path: str | Path, worst: float, atol: float, runtime: str) -> float:
    """``worst`` (max |torch - runtime| of an export's verification) if within ``atol``,
    else :class:`ExportError`."""
    if worst > atol:
        raise ExportError(f"{path}: {runtime} differs from torch by {worst:.2e} > {atol}")
    log.info("verified %s: max |torch - %s| = %.2e", path, runtime, worst)
    return worst


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

    partial = _atomic_target(path)
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
    os.replace(partial, path)


def write_torchscript(model: torch.nn.Module, path: Path, info: dict[str, Any]) -> None:
    """``torch.jit.script(model)`` with ``info`` in the extra file :data:`METADATA_FILE`,
    written atomically to ``path``."""
    partial = _atomic_target(path)
    with _quiet_jit():
        scripted = torch.jit.script(model)
        torch.jit.save(scripted, str(partial), _extra_files={METADATA_FILE: json.dumps(info)})
    os.replace(partial, path)


def export_onnx(
    model: torch.nn.Module,
    path: str | Path,
    with_edge_features: bool | None = None,
    *,
    opset: int = 17,
    n_chunks: int = 1,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Write ``model`` as ONNX (see the module docstring); returns the path.

    ``with_edge_features``: add the ``edge_attr`` input (default: when the model has edge
    features). ``n_chunks`` > 1 bakes the exact chunked evaluation of the per-edge MLPs into
    the graph (lower peak memory in ONNX Runtime on large graphs, same result).
    """
    path = Path(path)
    model = _prepare(model, n_chunks)
    n_node, n_edge = _n_features(model)
    if with_edge_features is None:
        with_edge_features = n_edge > 0
    if with_edge_features != (n_edge > 0):
        raise ValueError(
            f"the model has {n_edge} edge features: with_edge_features must be {n_edge > 0}"
        )
    x, edge_index, edge_attr = random_graph(16, 40, n_node, n_edge)
    args: tuple[Any, ...] = (x, edge_index, edge_attr) if with_edge_features else (x, edge_index)
    names = list(INPUT_NAMES[: len(args)])
    dynamic_axes = {
        "x": {0: "n_nodes"},
        "edge_index": {1: "n_edges"},
        "edge_attr": {0: "n_edges"},
        OUTPUT_NAME: {0: "n_edges"},
    }
    dynamic_axes = {k: v for k, v in dynamic_axes.items() if k in names or k == OUTPUT_NAME}
    info = dict(metadata or {})
    info.update(
        model=type(model).__name__,
        model_config=getattr(model, "config", {}),
        n_chunks=n_chunks,
        message_passing=isinstance(model, InteractionNetwork),
    )
    write_onnx(model, args, path, names, dynamic_axes, info, opset)
    if verify:
        verify_onnx(model, path, atol=atol)
    return path


def verify_onnx(model: torch.nn.Module, path: str | Path, atol: float = 1e-4) -> float:
    """Max |torch - onnxruntime| over :data:`VERIFY_SIZES`; raises :class:`ExportError` if > atol."""
    from acts_gnn.extras import onnxruntime

    ort = onnxruntime()
    model = _prepare(model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    n_node, n_edge = _n_features(model)
    worst = 0.0
    for seed, (n, e) in enumerate(VERIFY_SIZES):
        x, edge_index, edge_attr = random_graph(n, e, n_node, n_edge, seed)
        feed = {"x": x.numpy(), "edge_index": edge_index.numpy()}
        if edge_attr is not None:
            feed["edge_attr"] = edge_attr.numpy()
        (out,) = session.run(None, {k: feed[k] for k in inputs})
        with torch.no_grad():
            ref = model(x, edge_index, edge_attr).numpy()
        if out.reshape(-1).shape != ref.shape:
            raise ExportError(f"{path}: output shape {out.shape} for {e} edges, expected [{e}]")
        if e:
            worst = max(worst, float(np.abs(out.reshape(-1) - ref).max()))
    return check_agreement(path, worst, atol, "onnxruntime")


def export_torchscript(
    model: torch.nn.Module,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-5,
) -> Path:
    """Write ``model`` as a TorchScript file (``torch.jit.script``); returns the path."""
    path = Path(path)
    model = _prepare(model)
    info = dict(metadata or {})
    info.update(model=type(model).__name__, model_config=getattr(model, "config", {}))
    write_torchscript(model, path, info)
    if verify:
        verify_torchscript(model, path, atol=atol)
    return path


def verify_torchscript(model: torch.nn.Module, path: str | Path, atol: float = 1e-5) -> float:
    """Max |torch - TorchScript| over :data:`VERIFY_SIZES`; raises :class:`ExportError` if > atol."""
    model = _prepare(model)
    loaded = load_torchscript(path)
    n_node, n_edge = _n_features(model)
    worst = 0.0
    with torch.no_grad():
        for seed, (n, e) in enumerate(VERIFY_SIZES):
            x, edge_index, edge_attr = random_graph(n, e, n_node, n_edge, seed)
            args = (x, edge_index) if edge_attr is None else (x, edge_index, edge_attr)
            out, ref = loaded(*args), model(*args)
            if out.shape != ref.shape:
                raise ExportError(f"{path}: output shape {tuple(out.shape)} for {e} edges")
            if e:
                worst = max(worst, float((out - ref).abs().max()))
    return check_agreement(path, worst, atol, "TorchScript")


def read_torchscript_metadata(path: str | Path) -> dict[str, Any]:
    """The ``acts_gnn.json`` metadata of a TorchScript file written here ({} if none)."""
    files = {METADATA_FILE: ""}
    load_torchscript(path, extra_files=files)
    return json.loads(files[METADATA_FILE]) if files[METADATA_FILE] else {}


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
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != "acts-gnn-checkpoint":
        raise ValueError(f"{path} is not an acts-gnn training checkpoint")
    return checkpoint


def _builders() -> dict[str, Any]:
    from acts_gnn.nn.embedding import build_embedding_net
    from acts_gnn.nn.filter import build_edge_filter

    return {
        "InteractionNetwork": build_interaction_network,
        "EdgeFilter": build_edge_filter,
        "EmbeddingNet": build_embedding_net,
    }


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of a checkpoint (eval mode, CPU) and its metadata (features, scales, ...):
    an :class:`InteractionNetwork`, :class:`~acts_gnn.nn.filter.EdgeFilter` or
    :class:`~acts_gnn.nn.embedding.EmbeddingNet`, as the checkpoint says."""
    checkpoint = load_checkpoint(path)
    name = checkpoint.get("model", "InteractionNetwork")
    builders = _builders()
    if name not in builders:
        raise ValueError(f"{path}: unknown model {name!r} in the checkpoint")
    model = builders[name](checkpoint["model_config"])
    model.load_state_dict(checkpoint["model_state"])
    return model.eval(), dict(checkpoint.get("metadata", {}))


def export_checkpoint(
    checkpoint: str | Path,
    onnx_path: str | Path | None = None,
    torchscript_path: str | Path | None = None,
    n_chunks: int = 1,
    opset: int = 17,
    metadata: dict[str, Any] | None = None,
) -> list[Path]:
    """Export a checkpoint's model to ONNX and / or TorchScript; returns the paths written.
    ``metadata`` replaces recorded values (e.g. an embedding's ``r`` and ``k``); a key the
    checkpoint does not record is an error."""
    model, recorded = model_from_checkpoint(checkpoint)
    unknown = sorted(set(metadata or {}) - set(recorded))
    if unknown:
        raise ValueError(
            f"metadata keys {unknown} are not recorded in {checkpoint}; known: {sorted(recorded)}"
        )
    metadata = {**recorded, **(metadata or {})}
    if type(model).__name__ == "EmbeddingNet":  # node -> embedding I/O
        from acts_gnn.train.export_embedding import export_embedding

        return export_embedding(model, onnx_path, torchscript_path, opset=opset, metadata=metadata)
    written = []
    if onnx_path is not None:
        written.append(
            export_onnx(model, onnx_path, opset=opset, n_chunks=n_chunks, metadata=metadata)
        )
    if torchscript_path is not None:
        written.append(export_torchscript(model, torchscript_path, metadata=metadata))
    return written

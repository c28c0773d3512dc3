"""Export trained models to ONNX and TorchScript with the upstream ACTS conventions.

Edge classifiers (GNN, edge filter) take ``x`` float32 [N, F], ``edge_index`` int64 [2, E]
and, for models trained with edge features, ``edge_attr`` float32 [E, D], and return one tensor
of logits [E] (no sigmoid), so they load in the upstream ACTS ``OnnxEdgeClassifier`` /
``TorchEdgeClassifier`` as well as in :mod:`acts_gnn.chain.classify`. Embedding networks take
``x`` float32 [N, F] (the selected, scaled node features) and return the embeddings float32
[N, D], the upstream ``TorchMetricLearning`` I/O (:mod:`acts_gnn.graph.metric_learning`).

ONNX: legacy (TorchScript-based) exporter, opset >= 17, dynamic node and edge counts, input
names ``x``, ``edge_index``, ``edge_attr``, output ``output``; metadata (features, scales,
architecture; for an embedding also its dimension and the radius and k chosen in training) in
the model's ``metadata_props``. TorchScript: ``torch.jit.script`` of the module (for an edge
classifier ``forward(x, edge_index, edge_attr=None)`` plus the exact chunked
``forward_chunked``), metadata in the extra file ``acts_gnn.json``. The file formats, and
their reading, are :mod:`acts_gnn.nn.files`.

Every export is verified: the exported model is run on random inputs of several sizes (for an
edge classifier graphs of :data:`VERIFY_SIZES`, with repeated target nodes and with zero
edges; for an embedding :data:`VERIFY_NODES` nodes, zero and one included) and compared with
the torch model.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acts_gnn.nn.files import (
    INPUT_NAMES,
    OUTPUT_NAME,
    load_torchscript,
    model_from_checkpoint,
    random_graph,
    write_onnx,
    write_torchscript,
)
from acts_gnn.nn.interaction_network import InteractionNetwork

log = logging.getLogger(__name__)

#: Graph sizes (nodes, edges) used to verify every edge-classifier export.
VERIFY_SIZES = ((5, 0), (7, 1), (40, 37), (300, 5000))
#: Node counts used to verify every embedding export.
VERIFY_NODES = (0, 1, 37, 2000)


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


def _info(model: torch.nn.Module, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata written with an export: ``metadata`` plus the model's name and config."""
    info = dict(metadata or {})
    info.update(model=type(model).__name__, model_config=getattr(model, "config", {}))
    return info


def check_agreement(path: str | Path, worst: float, atol: float, runtime: str) -> float:
    """``worst`` (max |torch - runtime| of an export's verification) if within ``atol``,
    else :class:`ExportError`."""
    if worst > atol:
        raise ExportError(f"{path}: {runtime} differs from torch by {worst:.2e} > {atol}")
    log.info("verified %s: max |torch - %s| = %.2e", path, runtime, worst)
    return worst


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
    info = _info(model, metadata)
    info.update(n_chunks=n_chunks, message_passing=isinstance(model, InteractionNetwork))
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
    write_torchscript(model, path, _info(model, metadata))
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


# ---------------------------------------------------------------------------------------------
# embedding networks
# ---------------------------------------------------------------------------------------------


def _embedding_inputs(model: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """Random node features [n, F] for the embedding ``model``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, int(getattr(model, "node_features")), generator=g)  # noqa: B009


def export_embedding_onnx(
    model: torch.nn.Module,
    path: str | Path,
    *,
    opset: int = 17,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Write the embedding ``model`` as ONNX (``x`` [N, F] -> ``output`` [N, D])."""
    path = Path(path)
    model = _prepare(model)
    write_onnx(
        model,
        (_embedding_inputs(model, 16, 0),),
        path,
        ["x"],
        {"x": {0: "n_nodes"}, OUTPUT_NAME: {0: "n_nodes"}},
        _info(model, metadata),
        opset,
    )
    if verify:
        verify_embedding_onnx(model, path, atol=atol)
    return path


def verify_embedding_onnx(model: torch.nn.Module, path: str | Path, atol: float = 1e-4) -> float:
    """Max |torch - onnxruntime| over :data:`VERIFY_NODES`; :class:`ExportError` if > atol."""
    from acts_gnn.extras import onnxruntime

    model = _prepare(model)
    session = onnxruntime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed, n in enumerate(VERIFY_NODES):
        x = _embedding_inputs(model, n, seed)
        (out,) = session.run(None, {"x": x.numpy()})
        with torch.no_grad():
            ref = model(x).numpy()
        if out.shape != ref.shape:
            raise ExportError(f"{path}: output shape {out.shape} for {n} nodes, not {ref.shape}")
        if n:
            worst = max(worst, float(np.abs(out - ref).max()))
    return check_agreement(path, worst, atol, "onnxruntime")


def export_embedding_torchscript(
    model: torch.nn.Module,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    verify: bool = True,
    atol: float = 1e-5,
) -> Path:
    """Write the embedding ``model`` as TorchScript (``forward(x [N, F]) -> [N, D]``)."""
    path = Path(path)
    model = _prepare(model)
    write_torchscript(model, path, _info(model, metadata))
    if verify:
        loaded = load_torchscript(path)
        worst = 0.0
        with torch.no_grad():
            for seed, n in enumerate(VERIFY_NODES):
                x = _embedding_inputs(model, n, seed)
                out, ref = loaded(x), model(x)
                if out.shape != ref.shape:
                    raise ExportError(f"{path}: output shape {tuple(out.shape)} for {n} nodes")
                if n:
                    worst = max(worst, float((out - ref).abs().max()))
        check_agreement(path, worst, atol, "TorchScript")
    return path


def export_embedding(
    model: torch.nn.Module,
    onnx_path: str | Path | None = None,
    torchscript_path: str | Path | None = None,
    *,
    opset: int = 17,
    metadata: dict[str, Any] | None = None,
) -> list[Path]:
    """Export an embedding network to ONNX and / or TorchScript (both verified); returns the
    paths written."""
    written = []
    if onnx_path is not None:
        written.append(export_embedding_onnx(model, onnx_path, opset=opset, metadata=metadata))
    if torchscript_path is not None:
        written.append(export_embedding_torchscript(model, torchscript_path, metadata=metadata))
    return written


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


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
    checkpoint does not record is an error. A vertexing pair network goes through
    :func:`acts_gnn.train.vertexing.export_vertex_pairs` (inputs ``x`` [N, 10], ``edge_index``
    [2, P], output logits [P])."""
    model, recorded = model_from_checkpoint(checkpoint)
    unknown = sorted(set(metadata or {}) - set(recorded))
    if unknown:
        raise ValueError(
            f"metadata keys {unknown} are not recorded in {checkpoint}; known: {sorted(recorded)}"
        )
    metadata = {**recorded, **(metadata or {})}
    if type(model).__name__ == "EmbeddingNet":  # node -> embedding I/O
        return export_embedding(model, onnx_path, torchscript_path, opset=opset, metadata=metadata)
    if type(model).__name__ == "VertexPairNet":  # track pairs -> logits I/O, verified
        from acts_gnn.train.vertexing import export_vertex_pairs

        export_vertex_pairs(model, onnx_path, torchscript_path, metadata=metadata, opset=opset)
        return [Path(p) for p in (onnx_path, torchscript_path) if p is not None]
    written = []
    if onnx_path is not None:
        written.append(
            export_onnx(model, onnx_path, opset=opset, n_chunks=n_chunks, metadata=metadata)
        )
    if torchscript_path is not None:
        written.append(export_torchscript(model, torchscript_path, metadata=metadata))
    return written

"""Export a trained embedding network with the upstream ACTS ``TorchMetricLearning`` I/O.

Both files take ``x`` float32 [N, F] (the selected, scaled node features) and return the
embeddings float32 [N, D]. ONNX: legacy (TorchScript-based) exporter, opset >= 17, dynamic N,
input ``x``, output ``output``, metadata (features, scales, embedding dimension, the radius
and k chosen in training) in ``metadata_props["acts_gnn"]``. TorchScript: ``torch.jit.script``
with the metadata in the extra file ``acts_gnn.json``; upstream ACTS loads it as
``TorchMetricLearning(modelPath=...)``.

Every export is verified against the torch model on inputs of :data:`VERIFY_NODES` nodes
(zero and one node included).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acts_gnn.train.export import (
    OUTPUT_NAME,
    ExportError,
    check_agreement,
    load_torchscript,
    write_onnx,
    write_torchscript,
)

log = logging.getLogger(__name__)

#: Node counts used to verify every export.
VERIFY_NODES = (0, 1, 37, 2000)


def _prepare(model: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(model).cpu().eval()


def _inputs(model: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, int(getattr(model, "node_features")), generator=g)  # noqa: B009


def _info(model: torch.nn.Module, metadata: dict[str, Any] | None) -> dict[str, Any]:
    info = dict(metadata or {})
    info.update(model=type(model).__name__, model_config=getattr(model, "config", {}))
    return info


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
        (_inputs(model, 16, 0),),
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
        x = _inputs(model, n, seed)
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
                x = _inputs(model, n, seed)
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
    """Export to ONNX and / or TorchScript (both verified); returns the paths written."""
    written = []
    if onnx_path is not None:
        written.append(export_embedding_onnx(model, onnx_path, opset=opset, metadata=metadata))
    if torchscript_path is not None:
        written.append(export_embedding_torchscript(model, torchscript_path, metadata=metadata))
    return written

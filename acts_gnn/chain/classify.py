"""Edge-classifier stages: score every edge of a graph and keep those above a cut.

:class:`TorchEdgeClassifier` (TorchScript file, training checkpoint or ``nn.Module``; CPU or
CUDA) and :class:`OnnxEdgeClassifier` (ONNX Runtime; the CUDA provider when onnxruntime has
it) mirror the upstream ACTS ``Plugins/Gnn`` stages of the same names and knobs:

* the model takes ``(x [N, F] float32, edge_index [2, E] int64[, edge_attr [E, D]])`` and
  returns logits ([E] or [E, 1]); the stage applies the sigmoid and keeps edges with
  ``score > cut`` (strictly, as upstream);
* ``selectedFeatures`` picks node-feature columns first, ``featureScales`` then divides them
  (upstream ``OnnxEdgeClassifier`` convention; default: use x as given;
  :func:`acts_gnn.graph.features.select_and_scale`);
* ``undirected``: the model runs on the edges plus their reverses (upstream: ``cat(edge_index,
  edge_index.flip(0))``) and the score of each input edge is the one of its first copy;
* ``useEdgeFeatures``: pass ``edge_attr`` to the model, after ``selectedEdgeFeatures``
  (columns) and ``edgeFeatureScales`` (divisors), the edge-feature twins of the node knobs.
  The kept ``edge_attr`` handed on is the unscaled input.

``nChunks`` differs from upstream on purpose. Upstream TorchEdgeClassifier splits the *edges*
into chunks and runs the whole model on each chunk: exact for per-edge models (filter MLPs),
but for a message-passing GNN every chunk becomes a separate, smaller graph, so the scores
change (upstream notes "for GNN use 1"). Here, for models with ``forward_chunked`` (our
:class:`~acts_gnn.nn.InteractionNetwork`, eager or TorchScript), message passing always sees the
whole graph and only the per-edge MLPs run chunk by chunk: the scores are identical to
``nChunks=1`` while the peak memory of the edge MLPs drops by about ``nChunks``. Other Torch
models get the upstream behaviour (with a warning). ONNX models are fixed graphs: exact
chunking is baked in at export (``acts-gnn export gnn --chunks K``); a runtime ``nChunks > 1``
runs the upstream scheme for per-edge models and is refused for message-passing models
exported here (it would silently change the scores).

A graph with zero edges gives empty outputs (upstream throws ``NoEdgesError``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acts_gnn.graph.features import select_and_scale

log = logging.getLogger(__name__)

ArrayLike = Any  # numpy array or torch tensor


@dataclass
class EdgeClassification:
    """Everything an edge-classifier stage computes for one graph.

    scores float32 [E] (sigmoid of the logits, every input edge); mask bool [E] (score > cut);
    edge_index int64 [2, K] and kept_scores [K] (the edges that pass); edge_attr [K, D] (the
    kept rows of the input edge features, None if none were given).
    """

    scores: torch.Tensor
    mask: torch.Tensor
    edge_index: torch.Tensor
    kept_scores: torch.Tensor
    edge_attr: torch.Tensor | None = None


def _as_tensor(value: ArrayLike, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    return torch.as_tensor(value).to(device=device, dtype=dtype)


class _EdgeClassifier(abc.ABC):
    """Shared input preparation, undirected handling, sigmoid and cut."""

    def __init__(
        self,
        cut: float,
        nChunks: int,
        undirected: bool,
        useEdgeFeatures: bool,
        selectedFeatures: Sequence[int],
        featureScales: Sequence[float],
        selectedEdgeFeatures: Sequence[int] = (),
        edgeFeatureScales: Sequence[float] = (),
    ) -> None:
        if nChunks < 1:
            raise ValueError(f"nChunks must be >= 1, got {nChunks}")
        if any(s == 0 for s in [*featureScales, *edgeFeatureScales]):
            raise ValueError("featureScales / edgeFeatureScales contain zero: division by zero")
        self.cut = float(cut)
        self.nChunks = int(nChunks)
        self.undirected = bool(undirected)
        self.useEdgeFeatures = bool(useEdgeFeatures)
        self.selectedFeatures = list(selectedFeatures)
        self.featureScales = list(featureScales)
        self.selectedEdgeFeatures = list(selectedEdgeFeatures)
        self.edgeFeatureScales = list(edgeFeatureScales)
        self.device = torch.device("cpu")

    def _node_features(self, x: torch.Tensor) -> torch.Tensor:
        return select_and_scale(x, self.selectedFeatures, self.featureScales)

    def _edge_features(self, edge_attr: torch.Tensor) -> torch.Tensor:
        knobs = ("selectedEdgeFeatures", "edgeFeatureScales")
        return select_and_scale(edge_attr, self.selectedEdgeFeatures, self.edgeFeatureScales, knobs)

    @abc.abstractmethod
    def _logits(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor | None
    ) -> torch.Tensor:
        """The model's logits [E] (or [E, 1]) for prepared inputs (backend-specific)."""

    def classify(
        self, x: ArrayLike, edge_index: ArrayLike, edge_attr: ArrayLike | None = None
    ) -> EdgeClassification:
        """Score the graph: x [N, F], edge_index [2, E] int64, edge_attr [E, D] (optional)."""
        x_t = _as_tensor(x, torch.float32, self.device)
        ei = _as_tensor(edge_index, torch.int64, self.device)
        if x_t.dim() != 2 or ei.dim() != 2 or ei.shape[0] != 2:
            raise ValueError(
                f"need x [N, F] and edge_index [2, E], got {tuple(x_t.shape)}, {tuple(ei.shape)}"
            )
        ea = None if edge_attr is None else _as_tensor(edge_attr, torch.float32, self.device)
        if ea is not None and ea.shape[0] != ei.shape[1]:
            raise ValueError(f"edge_attr has {ea.shape[0]} rows for {ei.shape[1]} edges")
        if self.useEdgeFeatures and ea is None:
            raise ValueError("useEdgeFeatures is set but no edge_attr was given")
        n_edges = ei.shape[1]
        if n_edges == 0:
            scores = torch.zeros(0, dtype=torch.float32, device=self.device)
        else:
            model_ea = self._edge_features(ea) if ea is not None and self.useEdgeFeatures else None
            model_ei = ei
            if self.undirected:
                if model_ea is not None:
                    raise ValueError(
                        "undirected with edge features is not supported: the features of the "
                        "reversed edges are not defined"
                    )
                model_ei = torch.cat([ei, ei.flip(0)], dim=1)
            with torch.inference_mode():
                logits = self._logits(self._node_features(x_t), model_ei, model_ea)
            logits = logits.reshape(-1).float()
            if logits.shape[0] != model_ei.shape[1]:
                raise ValueError(
                    f"the model returned {logits.shape[0]} values for {model_ei.shape[1]} edges"
                )
            scores = torch.sigmoid(logits[:n_edges])
        mask = scores > self.cut
        return EdgeClassification(
            scores=scores,
            mask=mask,
            edge_index=ei[:, mask],
            kept_scores=scores[mask],
            edge_attr=None if ea is None else ea[mask],
        )

    def __call__(
        self, x: ArrayLike, edge_index: ArrayLike, edge_attr: ArrayLike | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(scores [E], kept edge_index [2, K], kept scores [K]) as torch tensors."""
        result = self.classify(x, edge_index, edge_attr)
        return result.scores, result.edge_index, result.kept_scores


def _upstream_chunks(
    run: Any, x: Any, edge_index: torch.Tensor, edge_attr: torch.Tensor | None, n: int
) -> torch.Tensor:
    """Upstream nChunks: the model on each edge chunk separately (approximate for a GNN)."""
    parts = []
    for idx in torch.arange(edge_index.shape[1], device=edge_index.device).chunk(n):
        ea = None if edge_attr is None else edge_attr[idx]
        parts.append(run(x, edge_index[:, idx], ea).reshape(-1))
    return torch.cat(parts)


class TorchEdgeClassifier(_EdgeClassifier):
    """Edge classification with torch on CPU or CUDA.

    ``modelPath``: a TorchScript file (as exported by ``acts-gnn export gnn`` or any upstream
    ACTS model), a training checkpoint (``.pt`` from ``acts-gnn train gnn``), or an
    ``nn.Module``. See the module docstring for the knobs.
    """

    def __init__(
        self,
        modelPath: str | Path | torch.nn.Module,
        cut: float = 0.5,
        nChunks: int = 1,
        undirected: bool = False,
        device: str | torch.device = "cpu",
        useEdgeFeatures: bool = False,
        selectedFeatures: Sequence[int] = (),
        featureScales: Sequence[float] = (),
        selectedEdgeFeatures: Sequence[int] = (),
        edgeFeatureScales: Sequence[float] = (),
    ) -> None:
        super().__init__(
            cut,
            nChunks,
            undirected,
            useEdgeFeatures,
            selectedFeatures,
            featureScales,
            selectedEdgeFeatures,
            edgeFeatureScales,
        )
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA device requested but CUDA is not available")
        self.model = self._load(modelPath).to(self.device).eval()
        self.exact_chunks = hasattr(self.model, "forward_chunked")
        self._warm_up()
        if self.nChunks > 1 and not self.exact_chunks:
            log.warning(
                "TorchEdgeClassifier: this model has no forward_chunked; nChunks=%d runs it on "
                "separate edge chunks (upstream behaviour), exact only for per-edge models",
                self.nChunks,
            )

    def _warm_up(self) -> None:
        """TorchScript's profiling executor specialises a model on its first two calls, which
        take several times longer: make them here, on a small random graph, so that the
        first events do not pay for it (models that declare their feature counts only)."""
        if not isinstance(self.model, torch.jit.ScriptModule):
            return
        n_node = getattr(self.model, "node_features", None)
        n_edge = getattr(self.model, "edge_features", 0)
        if not isinstance(n_node, int) or not isinstance(n_edge, int):
            return
        from acts_gnn.nn.files import random_graph

        x, edge_index, edge_attr = random_graph(64, 128, n_node, n_edge)
        with torch.inference_mode():
            for _ in range(2):
                ea = None if edge_attr is None else edge_attr.to(self.device)
                args = (x.to(self.device), edge_index.to(self.device))
                self.model(*args) if ea is None else self.model(*args, ea)

    @staticmethod
    def _load(model: str | Path | torch.nn.Module) -> torch.nn.Module:
        if isinstance(model, torch.nn.Module):
            return model
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"edge-classifier model {path} does not exist")
        from acts_gnn.nn.files import load_torchscript, model_from_checkpoint

        try:
            return load_torchscript(path)
        except RuntimeError:
            return model_from_checkpoint(path)[0]

    def _logits(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor | None
    ) -> torch.Tensor:
        def run(x: Any, ei: torch.Tensor, ea: torch.Tensor | None) -> torch.Tensor:
            return self.model(x, ei) if ea is None else self.model(x, ei, ea)

        if self.nChunks == 1:
            return run(x, edge_index, edge_attr)
        if self.exact_chunks:
            chunked = getattr(self.model, "forward_chunked")  # noqa: B009 (ScriptModule too)
            return chunked(x, edge_index, edge_attr, self.nChunks)
        return _upstream_chunks(run, x, edge_index, edge_attr, self.nChunks)


def onnx_providers(providers: Sequence[str] | None = None) -> list[str]:
    """The ONNX Runtime providers to use: CUDA first when this onnxruntime has it."""
    from acts_gnn.extras import onnxruntime

    if providers:
        return list(providers)
    available = onnxruntime().get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*chosen, "CPUExecutionProvider"]


class OnnxEdgeClassifier(_EdgeClassifier):
    """Edge classification with ONNX Runtime (CPU; the CUDA provider when available).

    The model needs 2 inputs (x, edge_index) or 3 (x, edge_index, edge_attr) and exactly one
    output, as upstream. See the module docstring for the knobs and for ``nChunks``.
    """

    def __init__(
        self,
        modelPath: str | Path,
        cut: float = 0.5,
        nChunks: int = 1,
        undirected: bool = False,
        useEdgeFeatures: bool = False,
        selectedFeatures: Sequence[int] = (),
        featureScales: Sequence[float] = (),
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        selectedEdgeFeatures: Sequence[int] = (),
        edgeFeatureScales: Sequence[float] = (),
    ) -> None:
        from acts_gnn.extras import onnxruntime

        super().__init__(
            cut,
            nChunks,
            undirected,
            useEdgeFeatures,
            selectedFeatures,
            featureScales,
            selectedEdgeFeatures,
            edgeFeatureScales,
        )
        ort = onnxruntime()
        path = Path(modelPath)
        if not path.is_file():
            raise FileNotFoundError(f"edge-classifier model {path} does not exist")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.providers = onnx_providers(providers)
        self.session = ort.InferenceSession(str(path), options, providers=self.providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        if not 2 <= len(self.input_names) <= 3:
            raise ValueError(f"{path}: an ONNX edge classifier needs 2 or 3 inputs")
        if len(self.session.get_outputs()) != 1:
            raise ValueError(f"{path}: an ONNX edge classifier needs exactly one output")
        if len(self.input_names) == 3 and not useEdgeFeatures:
            raise ValueError(f"{path}: the model takes edge features: set useEdgeFeatures=True")
        if len(self.input_names) == 2 and useEdgeFeatures:
            raise ValueError(f"{path}: the model takes no edge features (2 inputs)")
        from acts_gnn.nn.files import read_onnx_metadata

        self.metadata = read_onnx_metadata(path)
        if self.nChunks > 1 and self.metadata.get("message_passing"):
            raise ValueError(
                f"{path}: nChunks={self.nChunks} would split the graph of a message-passing "
                "model and change its scores; export it with exact chunking instead "
                "(acts-gnn export gnn --chunks K) and use nChunks=1"
            )

    def _logits(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor | None
    ) -> torch.Tensor:
        def run(x: torch.Tensor, ei: torch.Tensor, ea: torch.Tensor | None) -> torch.Tensor:
            feed = [x.cpu().numpy(), ei.cpu().numpy()]
            if ea is not None:
                feed.append(ea.cpu().numpy())
            (out,) = self.session.run(None, dict(zip(self.input_names, feed)))
            return torch.from_numpy(np.asarray(out, np.float32))

        if self.nChunks == 1:
            return run(x, edge_index, edge_attr)
        return _upstream_chunks(run, x, edge_index, edge_attr, self.nChunks)

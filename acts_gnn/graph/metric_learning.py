"""Metric-learning graph construction: embed every hit, join hits close in the embedding.

:class:`MetricLearning` mirrors the upstream ACTS ``TorchMetricLearning`` stage and its knobs:

* ``modelPath``: the embedding model, ``x [N, F] -> [N, embeddingDim]``: a TorchScript file
  (as exported by ``acts-gnn export embedding`` or any upstream model), an ONNX file (run
  with ONNX Runtime), a training checkpoint, or an ``nn.Module``;
* ``selectedFeatures`` picks columns of the input features, ``featureScales`` then divides
  them (:func:`acts_gnn.graph.features.select_and_scale`, as the edge classifiers of
  :mod:`acts_gnn.chain.classify`; default: the input is used as given);
* ``rVal``, ``knnVal``: radius and maximum neighbours per hit of the search in the embedding
  space (:mod:`acts_gnn.graph.knn`); ``None`` takes the values the model was exported with
  (its metadata), else the upstream defaults 1.6 and 500;
* ``device``: ``cpu`` or ``cuda[:N]``; the embedding, the search and the outputs live there.

Differences from upstream, on purpose: ``knnVal`` caps the neighbours on the CPU too
(upstream's CPU KD-tree ignores it); ``backend`` chooses the neighbour search (``grid``
default, ``faiss``, ``kdtree``; the same edges from each); edges are oriented inner -> outer
(``orientation="radius"``: the source is the hit nearer the origin) when hit positions are
given, which is what the truth graph, the edge features and the GNN expect; upstream's
``(min, max)`` index order is ``orientation="index"``. With positions, the standard six edge
features (:data:`acts_gnn.graph.features.EDGE_FEATURES`: dr, dphi, dz, deta, phi_slope,
rphi_slope in mm, rad, 1/mm) come with the graph.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.graph.features import edge_features, node_features, select_and_scale
from acts_gnn.graph.knn import pairs_to_edges, radius_neighbours, resolve_backend

#: Upstream TorchMetricLearning defaults.
DEFAULT_R = 1.6
DEFAULT_K = 500


@dataclass
class MetricLearningGraph:
    """One event's graph from :class:`MetricLearning`, on the stage's device.

    x float32 [N, F] (the model input); embedding float32 [N, D]; edge_index int64 [2, E];
    edge_features float32 [E, 6] (EDGE_FEATURES) or None; timing: seconds per step.
    """

    x: Tensor
    embedding: Tensor
    edge_index: Tensor
    edge_features: Tensor | None = None
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])


def load_embedding_model(
    model: str | Path | torch.nn.Module, device: torch.device
) -> tuple[Any, dict[str, Any], bool]:
    """(callable model, metadata, is_onnx) from a module, TorchScript, checkpoint or ONNX file."""
    if isinstance(model, torch.nn.Module):
        return model.to(device).eval(), {}, False
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"embedding model {path} does not exist")
    if path.suffix == ".onnx":
        from acts_gnn.chain.classify import onnx_providers
        from acts_gnn.extras import onnxruntime
        from acts_gnn.nn.files import read_onnx_metadata

        providers = onnx_providers() if device.type == "cuda" else ["CPUExecutionProvider"]
        session = onnxruntime().InferenceSession(str(path), providers=providers)
        return session, read_onnx_metadata(path), True
    from acts_gnn.nn.files import METADATA_FILE, load_torchscript, model_from_checkpoint

    try:
        files = {METADATA_FILE: ""}
        scripted = load_torchscript(path, device, extra_files=files)
        meta = json.loads(files[METADATA_FILE]) if files[METADATA_FILE] else {}
        return scripted.eval(), meta, False
    except (RuntimeError, InputDataError):  # not TorchScript: a training checkpoint?
        module, meta = model_from_checkpoint(path)
        return module.to(device).eval(), meta, False


class MetricLearning:
    """Graph construction in a learned embedding space (see the module docstring)."""

    def __init__(
        self,
        modelPath: str | Path | torch.nn.Module,
        embeddingDim: int | None = None,
        rVal: float | None = None,
        knnVal: int | None = None,
        selectedFeatures: Sequence[int] = (),
        featureScales: Sequence[float] = (),
        device: str | torch.device = "cpu",
        backend: str = "auto",
        orientation: str = "radius",
        undirected: bool = False,
        edgeFeatures: bool = True,
        maxPairs: int = 1 << 21,
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA device requested but CUDA is not available")
        if orientation not in ("radius", "index"):
            raise ValueError(f"orientation must be 'radius' or 'index', got {orientation!r}")
        if any(s == 0 for s in featureScales):
            raise ValueError("featureScales contains zero: division by zero")
        self.model, self.metadata, self.is_onnx = load_embedding_model(modelPath, self.device)
        self.embeddingDim = embeddingDim
        self.rVal = float(rVal if rVal is not None else self.metadata.get("r", DEFAULT_R))
        self.knnVal = int(knnVal if knnVal is not None else self.metadata.get("k", DEFAULT_K))
        if self.rVal <= 0 or self.knnVal < 1:
            raise ValueError(f"rVal must be > 0 and knnVal >= 1, got {self.rVal}, {self.knnVal}")
        self.selectedFeatures = list(selectedFeatures)
        self.featureScales = list(featureScales)
        self.backend = resolve_backend(backend, self.device)
        self.orientation = orientation
        self.undirected = bool(undirected)
        self.edgeFeatures = bool(edgeFeatures)
        self.maxPairs = int(maxPairs)

    # -- steps -------------------------------------------------------------------------------
    def _input(self, x: Any) -> Tensor:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        x = torch.as_tensor(x).to(device=self.device, dtype=torch.float32)
        if x.dim() != 2:
            raise ValueError(f"node features must be [N, F], got {tuple(x.shape)}")
        return select_and_scale(x, self.selectedFeatures, self.featureScales)

    @torch.inference_mode()
    def _embed(self, x: Tensor) -> Tensor:
        if self.is_onnx:
            (out,) = self.model.run(None, {"x": x.cpu().numpy()})
            emb = torch.from_numpy(np.asarray(out, np.float32)).to(self.device)
        else:
            emb = self.model(x).float()
        if emb.dim() != 2 or emb.shape[0] != x.shape[0]:
            raise ValueError(
                f"the embedding model returned {tuple(emb.shape)} for {x.shape[0]} hits"
            )
        if self.embeddingDim is not None and emb.shape[1] != self.embeddingDim:
            raise ValueError(
                f"the embedding model returned dimension {emb.shape[1]}, "
                f"embeddingDim is {self.embeddingDim}"
            )
        return emb

    def embed(self, x: Any) -> Tensor:
        """Embeddings [N, D] of node features x [N, F] (selectedFeatures, featureScales applied)."""
        return self._embed(self._input(x))

    def edges(self, embedding: Tensor, positions: Tensor | None = None) -> Tensor:
        """Edges [2, E] of the radius graph of ``embedding`` [N, D]; oriented inner -> outer by
        ``positions`` [N, 3] (mm) if given and ``orientation="radius"``."""
        found = radius_neighbours(
            embedding,
            self.rVal,
            self.knnVal,
            backend=self.backend,
            max_pairs=self.maxPairs,
            ordered=False,
        )
        n = embedding.shape[0]
        edges = pairs_to_edges(found.query, found.neighbour, n, self.undirected)
        if self.orientation == "radius" and positions is not None and not self.undirected:
            edges = orient_outwards(edges, positions)
        return edges

    def __call__(self, x: Any, positions: Any | None = None) -> MetricLearningGraph:
        """The graph of one event: node features x [N, F], hit positions [N, 3] in mm
        (optional: orientation and edge features need them)."""
        t0 = time.perf_counter()
        model_input = self._input(x)
        return self._build(model_input, positions, t0)

    def for_event(self, event: Event) -> MetricLearningGraph:
        """The graph of an event, with the node features and scales the model was trained
        with (from its metadata; the stage's featureScales override the scales)."""
        names = self.metadata.get("node_features")
        if not names:
            raise ValueError("the embedding model has no node_features metadata: call the stage")
        scales = self.featureScales or self.metadata.get("feature_scales") or [1.0] * len(names)
        t0 = time.perf_counter()
        x = torch.from_numpy(node_features(event, names, scales)).to(self.device)
        return self._build(x, event.positions(), t0)

    def _build(self, model_input: Tensor, positions: Any | None, t0: float) -> MetricLearningGraph:
        timing: dict[str, float] = {}
        emb = self._embed(model_input)
        _sync(self.device)
        t1 = time.perf_counter()
        timing["embedding"] = t1 - t0
        pos = None
        if positions is not None:
            pos = torch.as_tensor(np.asarray(positions, np.float64), device=self.device)
            if pos.shape != (emb.shape[0], 3):
                raise ValueError(f"positions must be [N, 3], got {tuple(pos.shape)}")
        edges = self.edges(emb, pos)
        _sync(self.device)
        t2 = time.perf_counter()
        timing["neighbours"] = t2 - t1
        feats = None
        if self.edgeFeatures and pos is not None:
            feats = edge_features_tensor(pos, edges)
            timing["edge_features"] = time.perf_counter() - t2
        return MetricLearningGraph(model_input, emb, edges, feats, timing)


def orient_outwards(edge_index: Tensor, positions: Tensor) -> Tensor:
    """Edges [2, E] with the source the hit nearer the origin (3D distance; ties: lower
    index); ``positions`` [N, 3] mm."""
    if edge_index.shape[1] == 0:
        return edge_index
    dist = positions.double().square().sum(1)
    a, b = edge_index[0], edge_index[1]
    da, db = dist[a], dist[b]
    flip = (db < da) | ((db == da) & (b < a))
    return torch.stack([torch.where(flip, b, a), torch.where(flip, a, b)])


def edge_features_tensor(positions: Tensor, edge_index: Tensor) -> Tensor:
    """The standard six edge features [E, 6] float32 (C++ core on the CPU), on the edges'
    device; ``positions`` [N, 3] mm."""
    pos: npt.NDArray[np.float64] = positions.detach().double().cpu().numpy()
    feats = edge_features(pos, edge_index.cpu().numpy())
    return torch.from_numpy(feats).to(edge_index.device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

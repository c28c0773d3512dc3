"""Upstream ACTS GNN stage names, knobs, defaults and semantics on top of the acts-gnn chain.

An upstream script (``Examples/Scripts/Python/gnn.py``, ``gnn_module_map_odd.py``) imports
these names from ``acts.gnn`` / ``acts.examples.gnn``; here they come from ``acts_gnn``:

* :class:`Device` (``Device.Cpu()``, ``Device.Cuda(index)``) and :class:`NodeFeature`
  (``NodeFeature.R``, ...); the members that need cluster information raise
  :class:`NodeFeatureError` naming what is missing;
* :class:`TorchMetricLearning` (upstream defaults ``embeddingDim=8``, ``rVal=1.6``,
  ``knnVal=500``, ``device=Device.Cuda()``; edges as upstream orders them: no self loops,
  unique ``(min, max)`` index pairs sorted by (source, target), ``shuffleDirections`` flips a
  random half and puts them after the kept ones; no edge features, as upstream);
* :class:`ModuleMapCuda` (``moduleMapPath``: the ModuleMapGraph prefix or any module-map file;
  ``rScale``, ``phiScale``, ``zScale``, ``etaScale``; runs on ``cuda:gpuDevice``; its edge
  features are upstream's, :func:`acts_edge_features`);
* :class:`BoostTrackBuilding` and :class:`CudaTrackBuilding` (``useOneBlockImplementation``,
  ``doJunctionRemoval``, ``minCandidateSize``): both take every edge they are given, as
  upstream (the edge classifiers' ``cut`` already chose them); no cut of their own.

The edge classifiers keep their names (:class:`~acts_gnn.chain.classify.TorchEdgeClassifier`,
:class:`~acts_gnn.chain.classify.OnnxEdgeClassifier`). Every stage here takes ``level=`` (an
``acts.logging`` level or a Python one; it sets the level of the stage's logger) and exposes
``.config``, an instance of its ``Config`` dataclass with the upstream field names.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn.chain.classify import as_torch_device
from acts_gnn.chain.tracks import (
    ConnectedComponentsTrackBuilding,
    JunctionRemovalTrackBuilding,
)
from acts_gnn.graph.features import edge_features
from acts_gnn.graph.metric_learning import MetricLearning
from acts_gnn.nn.files import ACTS_EDGE_FEATURES, INNER_TO_OUTER, RAW_EDGE_FEATURES

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Device and NodeFeature
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """Where a stage runs: ``Device.Cpu()`` or ``Device.Cuda(index)`` (upstream's struct)."""

    type: str = "cpu"  # "cpu" or "cuda"
    index: int = 0

    @staticmethod
    def Cpu() -> Device:
        return Device("cpu", 0)

    @staticmethod
    def Cuda(index: int = 0) -> Device:
        return Device("cuda", int(index))

    def isCpu(self) -> bool:
        return self.type == "cpu"

    def isCuda(self) -> bool:
        return self.type == "cuda"

    def torch(self) -> torch.device:
        """The torch device."""
        return as_torch_device(self)

    def __str__(self) -> str:
        return "cpu" if self.isCpu() else f"cuda:{self.index}"


class NodeFeatureError(ValueError):
    """A :class:`NodeFeature` the acts-gnn chain cannot compute (names what is missing)."""


#: NodeFeature member -> our node-feature name (:data:`acts_gnn.graph.features.NODE_FEATURE_FUNCTIONS`).
_POSITION_FEATURES = {"R": "r", "Phi": "phi", "Z": "z", "X": "x", "Y": "y", "Eta": "eta"}


class NodeFeature(enum.Enum):
    """Upstream's node features (``TrackFindingAlgorithmGnn::NodeFeature``, same member names).

    R, Phi, Z, X, Y, Eta are computed from the space point (mm, rad); every other member needs
    the cells of each measurement's cluster and raises :class:`NodeFeatureError` in
    :func:`node_feature_names`."""

    R = enum.auto()
    Phi = enum.auto()
    Z = enum.auto()
    X = enum.auto()
    Y = enum.auto()
    Eta = enum.auto()
    ClusterX = enum.auto()
    ClusterY = enum.auto()
    CellCount = enum.auto()
    ChargeSum = enum.auto()
    Cluster1X = enum.auto()
    Cluster1Y = enum.auto()
    Cluster1Z = enum.auto()
    Cluster1R = enum.auto()
    Cluster1Phi = enum.auto()
    Cluster1Eta = enum.auto()
    CellCount1 = enum.auto()
    ChargeSum1 = enum.auto()
    LocEta1 = enum.auto()
    LocPhi1 = enum.auto()
    LocDir01 = enum.auto()
    LocDir11 = enum.auto()
    LocDir21 = enum.auto()
    LengthDir01 = enum.auto()
    LengthDir11 = enum.auto()
    LengthDir21 = enum.auto()
    GlobEta1 = enum.auto()
    GlobPhi1 = enum.auto()
    EtaAngle1 = enum.auto()
    PhiAngle1 = enum.auto()
    Cluster2X = enum.auto()
    Cluster2Y = enum.auto()
    Cluster2Z = enum.auto()
    Cluster2R = enum.auto()
    Cluster2Phi = enum.auto()
    Cluster2Eta = enum.auto()
    CellCount2 = enum.auto()
    ChargeSum2 = enum.auto()
    LocEta2 = enum.auto()
    LocPhi2 = enum.auto()
    LocDir02 = enum.auto()
    LocDir12 = enum.auto()
    LocDir22 = enum.auto()
    LengthDir02 = enum.auto()
    LengthDir12 = enum.auto()
    LengthDir22 = enum.auto()
    GlobEta2 = enum.auto()
    GlobPhi2 = enum.auto()
    EtaAngle2 = enum.auto()
    PhiAngle2 = enum.auto()


#: The members that need cluster information.
_CLUSTER_FEATURES = frozenset(m.name for m in NodeFeature if m.name not in _POSITION_FEATURES)


def node_feature_names(features: Sequence[Any]) -> list[str]:
    """Our node-feature names for upstream :class:`NodeFeature` members (names pass through);
    :class:`NodeFeatureError` for a member that needs cluster information."""
    names = []
    for f in features:
        if isinstance(f, str):
            names.append(f)
            continue
        member = getattr(f, "name", None)
        if member in _POSITION_FEATURES:
            names.append(_POSITION_FEATURES[member])
        elif member in _CLUSTER_FEATURES:
            raise NodeFeatureError(
                f"NodeFeature.{member} needs cluster information (the cells of each "
                "measurement's cluster: inputClusters and a digitization that keeps cells), "
                "which the acts-gnn chain does not compute; use R, Phi, Z, X, Y or Eta"
            )
        else:
            raise NodeFeatureError(f"not a node feature: {f!r}")
    return names


# ---------------------------------------------------------------------------------------------
# shared: level and config
# ---------------------------------------------------------------------------------------------


def _python_level(level: Any) -> int | None:
    """A Python logging level for an ``acts.logging`` level, a Python level or a name."""
    if level is None:
        return None
    if isinstance(level, int):
        return level
    name = getattr(level, "name", str(level)).upper()
    table = {"VERBOSE": 5, "DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "FATAL": 50}
    if name not in table:
        raise ValueError(f"unknown logging level {level!r}")
    return table[name]


class _UpstreamStage:
    """``level`` and ``.config`` for the stages of this module."""

    Config: ClassVar[type]
    level: Any = None

    def _set_level(self, level: Any) -> None:
        self.level = level
        python_level = _python_level(level)
        if python_level is not None:
            logging.getLogger(f"acts_gnn.{type(self).__name__}").setLevel(python_level)

    @property
    def config(self) -> Any:
        """The upstream ``Config`` of this stage (a copy: changing it changes nothing)."""
        return self.Config(**{f.name: getattr(self, f.name) for f in fields(self.Config)})


# ---------------------------------------------------------------------------------------------
# edge features as upstream computes them
# ---------------------------------------------------------------------------------------------


def acts_edge_features(
    positions: npt.ArrayLike,
    edge_index: npt.ArrayLike,
    scales: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
) -> npt.NDArray[np.float32]:
    """Upstream ``ModuleMapCuda``'s edge features [E, 6] float32 of ``edge_index`` [2, E].

    From the scaled node features r / rScale, phi / phiScale, z / zScale, eta / etaScale
    (``scales``; hit ``positions`` [N, 3] in mm), as upstream's ``makeEdgeFeatures`` does:
    dr, dphi = wrap(pi * dphi_scaled) / pi, dz, deta (target minus source), phi_slope =
    dphi / dr clamped to [-100, 100] (0 where dr == 0), rphi_slope = mean r * phi_slope.
    """
    pos = np.asarray(positions, np.float64)
    ei = np.asarray(edge_index, np.int64)
    r = np.hypot(pos[:, 0], pos[:, 1])
    node = np.stack(
        [
            r / scales[0],
            np.arctan2(pos[:, 1], pos[:, 0]) / scales[1],
            pos[:, 2] / scales[2],
            np.arcsinh(pos[:, 2] / np.maximum(r, 1e-12)) / scales[3],
        ],
        axis=1,
    ).astype(np.float32)
    src, dst = node[ei[0]], node[ei[1]]
    pi = np.float32(math.pi)
    d = dst - src
    dphi = (np.remainder(pi * d[:, 1] + pi, 2 * pi) - pi) / pi
    dr = d[:, 0]
    nonzero = dr != 0
    safe = np.where(nonzero, dr, np.float32(1))
    phi_slope = np.where(nonzero, np.clip(dphi / safe, -100, 100), 0).astype(np.float32)
    rphi_slope = (np.float32(0.5) * (dst[:, 0] + src[:, 0]) * phi_slope).astype(np.float32)
    return np.stack([dr, dphi, d[:, 2], d[:, 3], phi_slope, rphi_slope], axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# graph construction
# ---------------------------------------------------------------------------------------------


@dataclass
class _TorchMetricLearningConfig:
    modelPath: str = ""
    selectedFeatures: list[int] = field(default_factory=list)
    embeddingDim: int = 8
    rVal: float = 1.6
    knnVal: int = 500
    shuffleDirections: bool = False
    device: Device = field(default_factory=Device.Cuda)
    phiScale: float = math.pi


class TorchMetricLearning(_UpstreamStage, MetricLearning):
    """Upstream's ``TorchMetricLearning``: embed, radius + kNN search, upstream edge order.

    Runs on ``device`` (default ``Device.Cuda()``, as upstream). Edges: unique ``(min, max)``
    node-index pairs without self loops, sorted; ``shuffleDirections`` flips a random half
    (``shuffleSeed``, ours, seeds it) and appends them after the others, as upstream. No edge
    features come with the graph (upstream gives none); a following classifier that uses edge
    features gets ours (raw, :data:`~acts_gnn.nn.files.RAW_EDGE_FEATURES`). Before a model
    trained on inner -> outer edges (ours record it, ``edgeOrientation``) the pipeline orients
    the pairs inner -> outer (:func:`~acts_gnn.chain.pipeline.settle_edge_orientation`); a
    model without our metadata gets upstream's order. ``phiScale`` is kept for the config only:
    upstream's stage does not use it either.
    """

    Config = _TorchMetricLearningConfig
    edgeFeatureConvention = RAW_EDGE_FEATURES

    def __init__(
        self,
        modelPath: str | Path | torch.nn.Module = "",
        selectedFeatures: Sequence[int] = (),
        embeddingDim: int = 8,
        rVal: float = 1.6,
        knnVal: int = 500,
        shuffleDirections: bool = False,
        device: Any = None,
        phiScale: float = math.pi,
        *,
        level: Any = None,
        shuffleSeed: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.modelPath = modelPath
        self.shuffleDirections = bool(shuffleDirections)
        self.phiScale = float(phiScale)
        self.upstreamDevice = Device.Cuda() if device is None else device
        self._generator = torch.Generator()
        if shuffleSeed is not None:
            self._generator.manual_seed(int(shuffleSeed))
        else:
            self._generator.seed()
        MetricLearning.__init__(
            self,
            modelPath,
            embeddingDim=embeddingDim,
            rVal=rVal,
            knnVal=knnVal,
            selectedFeatures=selectedFeatures,
            device=as_torch_device(self.upstreamDevice),
            backend=backend,
            orientation="index",
            edgeFeatures=False,
        )
        self.embeddingDim = int(embeddingDim)
        self._set_level(level)

    @property
    def config(self) -> Any:
        cfg = super().config
        cfg.device = self.upstreamDevice
        cfg.modelPath = str(self.modelPath)
        return cfg

    def edges(self, embedding: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Upstream's edge order (see the class docstring)."""
        edges = super().edges(embedding, None)
        edges = edges[:, edges[0] != edges[1]]
        if self.shuffleDirections and edges.shape[1]:
            flip = torch.randint(2, (edges.shape[1],), generator=self._generator).bool()
            flip = flip.to(edges.device)
            edges = torch.cat([edges[:, ~flip], edges[:, flip].flip(0)], dim=1)
        return edges

    def construct_graph(self, data: Any) -> tuple[torch.Tensor, None]:
        """The pipeline protocol: (edge_index [2, E], no edge features)."""
        return self(data.x).edge_index, None


@dataclass
class _ModuleMapCudaConfig:
    moduleMapPath: str = ""
    rScale: float = 1.0
    phiScale: float = 1.0
    zScale: float = 1.0
    etaScale: float = 1.0
    gpuDevice: int = 0
    gpuBlocks: int = 512
    epsilon: float = 1e-8


class ModuleMapCuda(_UpstreamStage):
    """Upstream's ``ModuleMapCuda``: module-map graph construction on the GPU ``gpuDevice``.

    Runs :class:`~acts_gnn.graph.module_map.torch_builder.TorchModuleMapGraphBuilder` on
    ``cuda:gpuDevice`` (a RuntimeError where CUDA is missing; ``device="cpu"``, ours, runs the
    same code on the CPU). ``moduleMapPath``: the ModuleMapGraph prefix (``<prefix>.triplets
    .root`` + ``.doublets.root``) or any file :func:`~acts_gnn.graph.module_map.formats.
    load_module_map` reads. Edges inner -> outer (module 1 -> module 2), as upstream. The edge
    features are upstream's (:func:`acts_edge_features` with ``rScale``, ``phiScale``,
    ``zScale``, ``etaScale``, convention :data:`~acts_gnn.nn.files.ACTS_EDGE_FEATURES`): the
    features an upstream-trained model expects. Followed by a model of ours (raw features,
    recorded in its metadata), ``TrackFindingAlgorithmGnn`` switches it to ours
    (``edgeFeatureConvention = "raw"``), computed exactly from the same hit positions. ``gpuBlocks`` and ``epsilon`` tune upstream's
    CUDA kernels and have no counterpart here (kept in the config).
    """

    Config = _ModuleMapCudaConfig
    edgeFeatureConvention = ACTS_EDGE_FEATURES
    edgeOrientation = INNER_TO_OUTER
    #: both computed exactly from the hit positions; the algorithm picks the model's
    supportedEdgeFeatureConventions = (ACTS_EDGE_FEATURES, RAW_EDGE_FEATURES)

    def __init__(
        self,
        moduleMapPath: str | Path = "",
        rScale: float = 1.0,
        phiScale: float = 1.0,
        zScale: float = 1.0,
        etaScale: float = 1.0,
        gpuDevice: int = 0,
        gpuBlocks: int = 512,
        epsilon: float = 1e-8,
        *,
        level: Any = None,
        device: Any = None,
        maxPairs: int = 1 << 24,
    ) -> None:
        from acts_gnn.graph.module_map.formats import load_module_map
        from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder

        self.moduleMapPath = str(moduleMapPath)
        self.rScale, self.phiScale = float(rScale), float(phiScale)
        self.zScale, self.etaScale = float(zScale), float(etaScale)
        if 0.0 in (self.rScale, self.phiScale, self.zScale, self.etaScale):
            raise ValueError("rScale, phiScale, zScale and etaScale must not be zero")
        self.gpuDevice, self.gpuBlocks, self.epsilon = int(gpuDevice), int(gpuBlocks), epsilon
        chosen = torch.device("cuda", self.gpuDevice) if device is None else as_torch_device(device)
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"ModuleMapCuda runs on cuda:{self.gpuDevice} but CUDA is not available; "
                "pass device='cpu' to run it on the CPU (or use ModuleMapGraphBuilder)"
            )
        self.device = chosen
        self.module_map = load_module_map(self.moduleMapPath)
        self.builder = TorchModuleMapGraphBuilder(self.module_map, chosen, max_pairs=maxPairs)
        self.unknown_module_hits = 0
        self._set_level(level)

    def construct_graph(self, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The pipeline protocol: (edge_index [2, E], upstream edge features [E, 6])."""
        self.unknown_module_hits += int(
            np.count_nonzero(self.module_map.module_index(data.geometry_ids) < 0)
        )
        edge_index, _ = self.builder(data.positions, data.geometry_ids)
        ei = edge_index.cpu().numpy()
        if self.edgeFeatureConvention == RAW_EDGE_FEATURES:
            feats = edge_features(data.positions, ei)
        else:
            scales = (self.rScale, self.phiScale, self.zScale, self.etaScale)
            feats = acts_edge_features(data.positions, ei, scales)
        return edge_index, torch.from_numpy(feats).to(edge_index.device)


# ---------------------------------------------------------------------------------------------
# track building
# ---------------------------------------------------------------------------------------------


@dataclass
class _BoostTrackBuildingConfig:
    pass


class BoostTrackBuilding(_UpstreamStage, ConnectedComponentsTrackBuilding):
    """Upstream's ``BoostTrackBuilding``: weakly connected components of every edge given
    (no cut of its own), on the CPU (or where the edge tensors are)."""

    Config = _BoostTrackBuildingConfig

    def __init__(self, *, level: Any = None, minMeasurementsPerTrack: int = 1) -> None:
        ConnectedComponentsTrackBuilding.__init__(
            self, cut=None, minMeasurementsPerTrack=minMeasurementsPerTrack
        )
        self._set_level(level)


@dataclass
class _CudaTrackBuildingConfig:
    useOneBlockImplementation: bool = True
    doJunctionRemoval: bool = False
    minCandidateSize: int = 3


class CudaTrackBuilding(_UpstreamStage):
    """Upstream's ``CudaTrackBuilding``: connected components (``doJunctionRemoval``: after
    junction removal) of every edge given, candidates of at least ``minCandidateSize`` hits.

    Runs where the edge tensors are, which is the pipeline's ``device`` (upstream: its
    execution context's device, CUDA): torch / cugraph on CUDA, the C++ core on the CPU; the
    same candidates either way. ``useOneBlockImplementation`` picks a CUDA kernel variant
    upstream; the result does not depend on it (kept in the config).
    """

    Config = _CudaTrackBuildingConfig

    def __init__(
        self,
        useOneBlockImplementation: bool = True,
        doJunctionRemoval: bool = False,
        minCandidateSize: int = 3,
        *,
        level: Any = None,
    ) -> None:
        if minCandidateSize < 1:
            raise ValueError(f"minCandidateSize must be >= 1, got {minCandidateSize}")
        self.useOneBlockImplementation = bool(useOneBlockImplementation)
        self.doJunctionRemoval = bool(doJunctionRemoval)
        self.minCandidateSize = int(minCandidateSize)
        self._builder: Any = (
            JunctionRemovalTrackBuilding(cut=-math.inf, minMeasurementsPerTrack=minCandidateSize)
            if self.doJunctionRemoval
            else ConnectedComponentsTrackBuilding(
                cut=None, minMeasurementsPerTrack=minCandidateSize
            )
        )
        self._set_level(level)

    @property
    def minMeasurementsPerTrack(self) -> int:
        """The larger of ``minCandidateSize`` and the algorithm's minimum (both apply)."""
        return int(self._builder.minMeasurementsPerTrack)

    @minMeasurementsPerTrack.setter
    def minMeasurementsPerTrack(self, value: int) -> None:
        self._builder.minMeasurementsPerTrack = max(int(value), self.minCandidateSize)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Track candidates, as :class:`~acts_gnn.chain.tracks.ConnectedComponentsTrackBuilding`."""
        return self._builder(*args, **kwargs)

    def labels(self, *args: Any, **kwargs: Any) -> Any:
        return self._builder.labels(*args, **kwargs)


for _stage in (TorchMetricLearning, ModuleMapCuda, BoostTrackBuilding, CudaTrackBuilding):
    _stage.Config.__name__ = "Config"
    _stage.Config.__qualname__ = f"{_stage.__name__}.Config"

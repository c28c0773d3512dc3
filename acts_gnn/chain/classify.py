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
  edge_index.flip(0))``) and the score of each input edge is the one of its first copy. With
  edge features, the reversed edges get the exact reversed features (dr, dphi, dz, deta change
  sign, the two slopes do not: :data:`REVERSED_EDGE_FEATURE_SIGNS`), in either convention;
* ``useEdgeFeatures``: pass ``edge_attr`` to the model, after ``selectedEdgeFeatures``
  (columns) and ``edgeFeatureScales`` (divisors), the edge-feature twins of the node knobs.
  The kept ``edge_attr`` handed on is the unscaled input. Left empty, the two knobs take the
  values the model's metadata records (``edge_features``, ``edge_feature_scales``); given and
  different from those, the stage refuses to load. ONNX: ``useEdgeFeatures`` is inferred from
  the model's inputs (3 inputs: yes), as upstream.
* ``edgeFeatureConvention`` (:mod:`acts_gnn.nn.files`): the edge features the model was
  trained on, ours (raw, ``"raw"``) or upstream's (``"acts-scaled"``, what upstream
  ``ModuleMapCuda`` computes from the scaled node features). Default: the model's metadata;
  for a model without our metadata (upstream, acorn) upstream's.
  :func:`check_edge_feature_conventions` switches a graph constructor that can compute both
  (``ModuleMapCuda``) to the model's convention, and refuses one that cannot, naming both.
* ``edgeOrientation`` (attribute, from the model's metadata, :func:`acts_gnn.nn.files.
  edge_orientation`): the orientation of the edges the model was trained on, ours
  (``"inner-to-outer"``) or upstream's (``"as-constructed"``: the graph constructor's order;
  the default for a model without our metadata). :class:`~acts_gnn.chain.pipeline.GnnPipeline`
  orients the edges of a constructor that gives another order (``TorchMetricLearning``'s
  ``(min, max)`` pairs) before such a model, exactly, from the hit positions.

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

``engine`` and ``precision`` (ours, :class:`TorchEdgeClassifier`): what computes the logits
(:data:`acts_gnn.nn.engines.ENGINES`; by default an Interaction Network runs on CPU through
the C++ core's :class:`~acts_gnn.nn.core_inference.CoreInference`, the same scores up to float32
rounding, one GIL-free call per graph) and in which arithmetic (``fp32``, or ``bf16`` with a
fused engine); see docs/gnn.md, "CPU inference".

A graph with zero edges gives empty outputs (upstream throws ``NoEdgesError``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from acts_gnn.graph.features import EDGE_FEATURES, select_and_scale
from acts_gnn.nn.files import (
    ACTS_EDGE_FEATURES,
    AS_CONSTRUCTED,
    EDGE_FEATURE_CONVENTIONS,
    RAW_EDGE_FEATURES,
    edge_feature_convention,
    edge_orientation,
)

log = logging.getLogger(__name__)

ArrayLike = Any  # numpy array or torch tensor

#: The sign each edge feature (:data:`~acts_gnn.graph.features.EDGE_FEATURES`, either
#: convention) takes when the edge is reversed: differences flip, slopes (ratios of two
#: differences, and the mean r times one) do not.
REVERSED_EDGE_FEATURE_SIGNS: dict[str, float] = {
    "dr": -1.0,
    "dphi": -1.0,
    "dz": -1.0,
    "deta": -1.0,
    "phi_slope": 1.0,
    "rphi_slope": 1.0,
}


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

    Config: ClassVar[type]

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
        self.metadata: dict[str, Any] = {}
        self.edgeFeatureConvention: str | None = None
        self.edgeOrientation: str = AS_CONSTRUCTED

    def _model_edge_knobs(self, source: str, convention: str | None) -> None:
        """Settle the edge-feature knobs against the model's metadata (:attr:`metadata`):
        the convention, and for our raw models the recorded columns and scales (see the
        module docstring); ``source`` names the model in errors."""
        recorded = edge_feature_convention(self.metadata)
        if convention is not None and convention not in EDGE_FEATURE_CONVENTIONS:
            raise ValueError(
                f"unknown edgeFeatureConvention {convention!r}; "
                f"known: {sorted(EDGE_FEATURE_CONVENTIONS)}"
            )
        if convention is not None and recorded is not None and convention != recorded:
            raise ValueError(
                f"{source}: edgeFeatureConvention={convention!r} but the model was trained on "
                f"{EDGE_FEATURE_CONVENTIONS[recorded]} ({recorded!r})"
            )
        self.edgeFeatureConvention = convention or recorded
        self.edgeOrientation = edge_orientation(self.metadata)
        if self.edgeFeatureConvention is None and self.useEdgeFeatures:
            self.edgeFeatureConvention = ACTS_EDGE_FEATURES  # a foreign model: upstream's
        if not self.useEdgeFeatures or self.edgeFeatureConvention != RAW_EDGE_FEATURES:
            return
        names = list(self.metadata.get("edge_features") or [])
        unknown = [n for n in names if n not in EDGE_FEATURES]
        if unknown:
            raise ValueError(f"{source}: unknown edge features {unknown} in the model metadata")
        columns = [EDGE_FEATURES.index(n) for n in names]
        scales = [float(v) for v in self.metadata.get("edge_feature_scales") or []]
        for knob, given, model in (
            ("selectedEdgeFeatures", self.selectedEdgeFeatures, columns),
            ("edgeFeatureScales", [float(v) for v in self.edgeFeatureScales], scales),
        ):
            if given and model and given != model:
                raise ValueError(
                    f"{source}: {knob}={given} but the model was trained with {model} "
                    f"(its metadata); leave {knob} empty to use the model's values"
                )
        self.selectedEdgeFeatures = self.selectedEdgeFeatures or columns
        self.edgeFeatureScales = list(self.edgeFeatureScales) or scales

    def _reversed_edge_features(self, edge_attr: torch.Tensor) -> torch.Tensor:
        """The features [E, 6] of the reversed edges (exact, see the module docstring)."""
        if edge_attr.shape[1] != len(EDGE_FEATURES):
            raise ValueError(
                f"undirected with edge features needs the {len(EDGE_FEATURES)} standard edge "
                f"features {EDGE_FEATURES}, got {edge_attr.shape[1]} columns"
            )
        signs = [REVERSED_EDGE_FEATURE_SIGNS[n] for n in EDGE_FEATURES]
        return edge_attr * torch.tensor(signs, dtype=edge_attr.dtype, device=edge_attr.device)

    @property
    def config(self) -> Any:
        """The upstream ``Config`` of this stage (a copy: changing it changes nothing)."""
        cfg = _config_of(self)
        cfg.device = getattr(self, "upstreamDevice", cfg.device)
        return cfg

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
            use_ea = ea is not None and self.useEdgeFeatures
            model_ea = None
            model_ei = ei
            if self.undirected:
                model_ei = torch.cat([ei, ei.flip(0)], dim=1)
                if use_ea:
                    assert ea is not None
                    both = torch.cat([ea, self._reversed_edge_features(ea)], dim=0)
                    model_ea = self._edge_features(both)
            elif use_ea:
                assert ea is not None
                model_ea = self._edge_features(ea)
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


@dataclass
class _TorchEdgeClassifierConfig:
    """Upstream ``TorchEdgeClassifier::Config`` fields (a snapshot: ``stage.config``)."""

    modelPath: str = ""
    selectedFeatures: list[int] = field(default_factory=list)
    cut: float = 0.5
    nChunks: int = 1
    undirected: bool = False
    deviceID: int = 0
    useEdgeFeatures: bool = False
    device: Any = None  # ours: None runs where the pipeline runs, as upstream
    engine: str = "auto"  # ours: acts_gnn.nn.engines.ENGINES
    precision: str = "fp32"  # ours: acts_gnn.nn.fused.PRECISIONS


@dataclass
class _OnnxEdgeClassifierConfig:
    """Upstream ``OnnxEdgeClassifier::Config`` fields (a snapshot: ``stage.config``)."""

    modelPath: str = ""
    selectedFeatures: list[int] = field(default_factory=list)
    featureScales: list[float] = field(default_factory=list)
    cut: float = 0.5
    device: Any = None


def _config_of(stage: Any) -> Any:
    """``stage.Config`` filled from the stage's attributes of the same names."""
    return stage.Config(**{f.name: getattr(stage, f.name) for f in fields(stage.Config)})


class TorchEdgeClassifier(_EdgeClassifier):
    """Edge classification with torch on CPU or CUDA.

    ``modelPath``: a TorchScript file (as exported by ``acts-gnn export gnn`` or any upstream
    ACTS model), a training checkpoint (``.pt`` from ``acts-gnn train gnn``), or an
    ``nn.Module``. See the module docstring for the knobs. ``level`` (an ``acts.logging``
    level) is accepted as upstream; ``.config`` is the upstream ``Config`` of the stage.

    Device, as upstream: the stage has no device of its own (upstream's ``Config`` has only
    ``deviceID``) and runs where its pipeline runs (upstream: the execution context's device;
    here :class:`~acts_gnn.chain.pipeline.GnnPipeline`'s ``device``, i.e. the
    ``TrackFindingAlgorithmGnn`` / ``addGnn`` ``device``), on ``cuda:deviceID`` when that is
    CUDA; called outside a pipeline it runs on the CPU. ``device`` (ours) pins it instead:
    ``"cpu"``, ``"cuda:1"``, ``Device.Cuda(1)``.

    ``engine`` (:data:`acts_gnn.nn.engines.ENGINES`, default ``auto``) and ``precision``
    (``fp32`` default, or ``bf16``: needs a fused engine), ours: see the module docstring;
    :attr:`fused` is the :class:`~acts_gnn.nn.core_inference.CoreInference`,
    :class:`~acts_gnn.nn.fused.FusedInference` or :class:`~acts_gnn.nn.fused.FusedEdgeFilter`
    in use (None: the model).
    """

    Config = _TorchEdgeClassifierConfig

    def __init__(
        self,
        modelPath: str | Path | torch.nn.Module,
        cut: float = 0.5,
        nChunks: int = 1,
        undirected: bool = False,
        device: Any = None,
        useEdgeFeatures: bool = False,
        selectedFeatures: Sequence[int] = (),
        featureScales: Sequence[float] = (),
        selectedEdgeFeatures: Sequence[int] = (),
        edgeFeatureScales: Sequence[float] = (),
        *,
        deviceID: int = 0,
        edgeFeatureConvention: str | None = None,
        level: Any = None,
        engine: str = "auto",
        precision: str = "fp32",
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
        self.engine = engine  # checked by _setup_engine
        self.precision = precision
        self.device = as_torch_device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA device requested but CUDA is not available")
        self.level = level
        self.modelPath = modelPath if isinstance(modelPath, torch.nn.Module) else str(modelPath)
        self.upstreamDevice = device
        self.deviceID = int(deviceID)
        #: no device of its own: :meth:`place` puts it where the pipeline runs
        self.followsPipelineDevice = device is None
        model, self.metadata = self._load(modelPath)
        self.model = model.to(self.device).eval()
        self._model_edge_knobs(str(modelPath), edgeFeatureConvention)
        self.exact_chunks = hasattr(self.model, "forward_chunked")
        #: the fused engine in use (:func:`acts_gnn.nn.engines.choose_engine`), or None
        self.fused: Any = None
        self._setup_engine()
        self._warm_up()
        if self.nChunks > 1 and not self.exact_chunks:
            log.warning(
                "TorchEdgeClassifier: this model has no forward_chunked; nChunks=%d runs it on "
                "separate edge chunks (upstream behaviour), exact only for per-edge models",
                self.nChunks,
            )

    def place(self, device: torch.device) -> None:
        """Run where a pipeline on ``device`` runs (``cuda:deviceID`` for CUDA), unless the
        stage was given a ``device`` of its own (then nothing changes)."""
        if not self.followsPipelineDevice:
            return
        target = (
            torch.device("cuda", self.deviceID) if device.type == "cuda" else torch.device("cpu")
        )
        if target.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA device requested but CUDA is not available")
        if target != self.device:
            self.device = target
            self.model = self.model.to(target)
            self._setup_engine()
            self._warm_up()

    def _setup_engine(self) -> None:
        """Choose what computes the logits (:func:`acts_gnn.nn.engines.choose_engine`)."""
        from acts_gnn.nn.engines import choose_engine

        self.fused = choose_engine(
            self.model, self.metadata, self.engine, self.precision, self.device, str(self.modelPath)
        )

    def _warm_up(self) -> None:
        """TorchScript's profiling executor specialises a model on its first two calls, which
        take several times longer: make them here, on a small random graph, so that the
        first events do not pay for it (models that declare their feature counts only)."""
        if self.fused is not None or not isinstance(self.model, torch.jit.ScriptModule):
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
    def _load(model: str | Path | torch.nn.Module) -> tuple[torch.nn.Module, dict[str, Any]]:
        """(the model, its metadata: {} for a module or a file without ours)."""
        if isinstance(model, torch.nn.Module):
            return model, {}
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"edge-classifier model {path} does not exist")
        import json

        from acts_gnn.errors import InputDataError
        from acts_gnn.nn.files import METADATA_FILE, load_torchscript, model_from_checkpoint

        files = {METADATA_FILE: ""}
        try:
            scripted = load_torchscript(path, extra_files=files)
        except (RuntimeError, InputDataError):  # not TorchScript: a training checkpoint?
            return model_from_checkpoint(path)
        return scripted, json.loads(files[METADATA_FILE]) if files[METADATA_FILE] else {}

    def _logits(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor | None
    ) -> torch.Tensor:
        def run(x: Any, ei: torch.Tensor, ea: torch.Tensor | None) -> torch.Tensor:
            return self.model(x, ei) if ea is None else self.model(x, ei, ea)

        if self.fused is not None:  # exact for any nChunks: it slices the edge MLPs itself
            return self.fused(x, edge_index, edge_attr)
        if self.nChunks == 1:
            return run(x, edge_index, edge_attr)
        if self.exact_chunks:
            chunked = getattr(self.model, "forward_chunked")  # noqa: B009 (ScriptModule too)
            return chunked(x, edge_index, edge_attr, self.nChunks)
        return _upstream_chunks(run, x, edge_index, edge_attr, self.nChunks)


def as_torch_device(device: Any) -> torch.device:
    """A torch device from ``"cpu"``/``"cuda:1"``, a ``torch.device`` or an upstream-style
    :class:`~acts_gnn.chain.upstream.Device` (``Device.Cpu()``, ``Device.Cuda(index)``)."""
    if device is None:
        return torch.device("cpu")
    if hasattr(device, "isCuda"):
        return torch.device("cuda", int(device.index)) if device.isCuda() else torch.device("cpu")
    return torch.device(device)


def check_edge_feature_conventions(graph_constructor: Any, classifiers: Sequence[Any]) -> None:
    """Make the edge features ``graph_constructor`` produces those the classifiers' models
    were trained on, or refuse (ValueError naming both).

    The constructor's ``edgeFeatureConvention`` (ours produce raw features) is what it gives;
    one that lists several in ``supportedEdgeFeatureConventions`` (``ModuleMapCuda`` computes
    either from the hit positions, exactly) is switched to the one the classifiers want.
    Classifiers that use no edge features never conflict."""
    produced = getattr(graph_constructor, "edgeFeatureConvention", RAW_EDGE_FEATURES)
    supported = tuple(getattr(graph_constructor, "supportedEdgeFeatureConventions", (produced,)))
    wanted: dict[str, str] = {}
    for k, stage in enumerate(classifiers):
        convention = getattr(stage, "edgeFeatureConvention", None)
        if getattr(stage, "useEdgeFeatures", False) and convention is not None:
            wanted.setdefault(convention, f"edge classifier {k} ({type(stage).__name__})")
    if len(wanted) > 1:
        raise ValueError(
            "the edge classifiers' models were trained on different edge features: "
            + "; ".join(
                f"{who}: {EDGE_FEATURE_CONVENTIONS[c]} ({c!r})" for c, who in wanted.items()
            )
        )
    if not wanted:
        return
    ((convention, who),) = wanted.items()
    if convention == produced:
        return
    if convention in supported:
        graph_constructor.edgeFeatureConvention = convention
        log.info("%s gives %s, as %s expects", type(graph_constructor).__name__, convention, who)
        return
    hint = (
        "ModuleMapCuda for upstream's"
        if convention == ACTS_EDGE_FEATURES
        else "ModuleMapGraphBuilder, TorchModuleMapGraphBuilder, MetricLearning or ModuleMapCuda "
        "for ours"
    )
    raise ValueError(
        f"{who} runs a model trained on {EDGE_FEATURE_CONVENTIONS[convention]} "
        f"({convention!r}), but the graph constructor {type(graph_constructor).__name__} "
        f"produces {EDGE_FEATURE_CONVENTIONS[produced]} ({produced!r}); use a graph "
        f"constructor of the model's convention ({hint})"
    )


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
    ``device``: upstream's knob (``Device.Cuda()`` needs the CUDA provider), ``providers``
    ours; ``level`` is accepted as upstream; ``.config`` is the upstream ``Config``.
    """

    Config = _OnnxEdgeClassifierConfig

    def __init__(
        self,
        modelPath: str | Path,
        cut: float = 0.5,
        nChunks: int = 1,
        undirected: bool = False,
        useEdgeFeatures: bool | None = None,
        selectedFeatures: Sequence[int] = (),
        featureScales: Sequence[float] = (),
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        selectedEdgeFeatures: Sequence[int] = (),
        edgeFeatureScales: Sequence[float] = (),
        *,
        device: Any = None,
        edgeFeatureConvention: str | None = None,
        level: Any = None,
    ) -> None:
        from acts_gnn.extras import onnxruntime

        super().__init__(
            cut,
            nChunks,
            undirected,
            bool(useEdgeFeatures),
            selectedFeatures,
            featureScales,
            selectedEdgeFeatures,
            edgeFeatureScales,
        )
        ort = onnxruntime()
        path = Path(modelPath)
        self.modelPath = str(path)
        self.upstreamDevice = device
        if not path.is_file():
            raise FileNotFoundError(f"edge-classifier model {path} does not exist")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.level = level
        if device is not None and providers is None:
            chosen = as_torch_device(device)
            if chosen.type == "cuda":
                if "CUDAExecutionProvider" not in ort.get_available_providers():
                    raise RuntimeError(
                        f"{path}: device {device} asks for CUDA but this onnxruntime has no "
                        "CUDAExecutionProvider (install onnxruntime-gpu)"
                    )
                providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
            else:
                providers = ["CPUExecutionProvider"]
        self.providers = onnx_providers(providers)
        self.session = ort.InferenceSession(str(path), options, providers=self.providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        if not 2 <= len(self.input_names) <= 3:
            raise ValueError(f"{path}: an ONNX edge classifier needs 2 or 3 inputs")
        if len(self.session.get_outputs()) != 1:
            raise ValueError(f"{path}: an ONNX edge classifier needs exactly one output")
        takes_edges = len(self.input_names) == 3
        if useEdgeFeatures is not None and bool(useEdgeFeatures) != takes_edges:
            raise ValueError(
                f"{path}: useEdgeFeatures={useEdgeFeatures} but the model has "
                f"{len(self.input_names)} inputs {self.input_names}; leave useEdgeFeatures "
                "unset to infer it from the model's inputs"
            )
        self.useEdgeFeatures = takes_edges
        from acts_gnn.nn.files import read_onnx_metadata

        self.metadata = read_onnx_metadata(path)
        self._model_edge_knobs(str(path), edgeFeatureConvention)
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


for _stage in (TorchEdgeClassifier, OnnxEdgeClassifier):
    _stage.Config.__name__ = "Config"
    _stage.Config.__qualname__ = f"{_stage.__name__}.Config"

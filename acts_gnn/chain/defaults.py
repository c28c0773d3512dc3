"""The shipped defaults and the stage factories that read a trained model's metadata.

Shipped files live in ``geometry/<detector>/`` (installed as ``acts_gnn/geometry/<detector>``,
found by :func:`acts_gnn.detector.generic.geometry_dir`):

* ``module-map.npz``: the module map (compact encoding, ranges rounded outwards);
* ``models/gnn.onnx`` and ``models/gnn.pt``: the GNN edge classifier (ONNX, TorchScript);
* ``models/embedding.*`` and ``models/filter.*``: the metric-learning stages, and
  ``models/gnn-metric-learning.*``: the GNN trained on their (filtered) graphs;
* ``models/vertex-pairs.*``: the vertexing track-pair network (docs/vertexing.md);
* ``module-map-lowpt.npz`` and ``models/gnn-lowpt.*``: the ``lowpt`` operating point's map
  and GNN (:data:`OPERATING_POINTS`).

:func:`edge_classifier` and :func:`pipeline_features` turn paths (or the defaults) into
configured stages whose node features, scales and edge features are the ones the model was
trained with (read from the model's metadata), so a user never has to copy them by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acts_gnn.detector.generic import geometry_dir

#: the node features and scales every model trained here uses unless its metadata says else
DEFAULT_NODE_FEATURES = ("r", "phi", "z", "eta")
DEFAULT_FEATURE_SCALES = (1000.0, math.pi, 1000.0, 1.0)

#: the choices of the GNN chain (``acts-gnn compare`` / ``demo``)
GRAPHS = ("module-map", "metric-learning")
BACKENDS = ("onnx", "torch")
BUILDERS = ("walkthrough", "junction-removal", "connected-components")


@dataclass(frozen=True)
class OperatingPoint:
    """A shipped module map and the GNN trained on its graphs, for one pT range (GeV); named
    by its key in :data:`OPERATING_POINTS`."""

    #: the module map's file in the detector's geometry folder
    module_map: str
    #: the GNN's file name without suffix in ``models/`` (``.pt`` TorchScript, ``.onnx``)
    gnn: str
    #: the pT [GeV] above which the GNN's target edges lie (docs/gnn.md, "Operating points")
    target_min_pt: float
    #: whether the chain cleans its candidates (:mod:`acts_gnn.chain.cleaning`) by default
    track_cleaning: bool = False
    #: the operating point run first, on every space point, when this one is the second pass
    #: of an iterative chain: this point's map and GNN then see only the space points the
    #: first pass's candidates left (``GnnPipeline(firstPass=...)``); None: one pass
    first_pass: str | None = None


#: The module-map chain's shipped operating points (``acts-gnn compare --operating-point``,
#: ``CompareConfig.operating_point``, ``default_files().operating_point(name)``):
#: ``default`` for pT > 1 GeV; ``lowpt`` for pT > 0.5 GeV, two passes: ``default`` first,
#: then the low-pT map and GNN on the space points it left; ``lowpt-one-pass``, the low-pT
#: map and GNN alone on every space point (issue 22; docs/results.md, "The low-pT operating
#: point").
OPERATING_POINTS = {
    "default": OperatingPoint("module-map.npz", "gnn", 1.0),
    "lowpt": OperatingPoint(
        "module-map-lowpt.npz", "gnn-lowpt", 0.5, track_cleaning=True, first_pass="default"
    ),
    "lowpt-one-pass": OperatingPoint("module-map-lowpt.npz", "gnn-lowpt", 0.5, track_cleaning=True),
}


@dataclass(frozen=True)
class DefaultFiles:
    """Paths of the shipped files of one detector (they may not all exist)."""

    module_map: Path
    gnn_onnx: Path
    gnn_torchscript: Path
    embedding: Path
    filter: Path

    def gnn(self, graph: str = "module-map", backend: str = "torch") -> Path:
        """The shipped GNN trained on ``graph``'s graphs (one of :data:`GRAPHS`), as ONNX for
        ``backend="onnx"``, else TorchScript."""
        if graph not in GRAPHS:
            raise ValueError(f"graph must be one of {GRAPHS}, got {graph!r}")
        path = self.gnn_onnx if backend == "onnx" else self.gnn_torchscript
        if graph == "metric-learning":
            path = path.with_name(f"gnn-metric-learning{path.suffix}")
        return path

    def vertex_pairs(self, backend: str = "onnx") -> Path:
        """The shipped vertexing pair network (:mod:`acts_gnn.nn.vertex_pairs`), as ONNX for
        ``backend="onnx"``, else TorchScript; beside the GNN files."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        return self.gnn_onnx.with_name(
            "vertex-pairs.onnx" if backend == "onnx" else "vertex-pairs.pt"
        )

    def gnn_small(self, backend: str = "torch") -> Path:
        """The shipped hidden-32 GNN of the module-map chain (issue 21; 2.2x faster on CPU,
        docs/results.md, "A smaller GNN"), as ONNX for ``backend="onnx"``, else TorchScript;
        pass it as ``--model`` / ``gnnModel``."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        return self.gnn_onnx.with_name("gnn-small.onnx" if backend == "onnx" else "gnn-small.pt")

    def module_map_lowpt(self) -> Path:
        """The shipped pT > 0.5 GeV module map (issue 22; docs/module-map.md, "The shipped
        low-pT map"), beside the default map: the ``lowpt`` operating point's."""
        return self.operating_point("lowpt")[0]

    def operating_point(self, name: str = "default", backend: str = "torch") -> tuple[Path, Path]:
        """(module map, GNN) of the operating point ``name`` (:data:`OPERATING_POINTS`), the
        GNN as ONNX for ``backend="onnx"``, else TorchScript: the ``moduleMapPath`` and
        ``gnnModel`` of the module-map chain (``addGnn``'s stages, the examples)."""
        point = OPERATING_POINTS.get(name)
        if point is None:
            raise ValueError(
                f"operating point must be one of {tuple(OPERATING_POINTS)}, got {name!r}"
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        suffix = ".onnx" if backend == "onnx" else ".pt"
        return (
            self.module_map.with_name(point.module_map),
            self.gnn_onnx.with_name(point.gnn + suffix),
        )

    def require(self, path: Path, what: str) -> Path:
        if not path.is_file():
            raise FileNotFoundError(
                f"no shipped {what} at {path}; pass a file of your own (see docs/results.md, "
                "'Shipped defaults') or rebuild the defaults with `make defaults`"
            )
        return path


def default_files(detector: str = "generic") -> DefaultFiles:
    """The shipped files of ``detector``."""
    root = geometry_dir(detector)
    return DefaultFiles(
        module_map=root / "module-map.npz",
        gnn_onnx=root / "models" / "gnn.onnx",
        gnn_torchscript=root / "models" / "gnn.pt",
        embedding=root / "models" / "embedding.pt",
        filter=root / "models" / "filter.pt",
    )


def model_metadata(path: str | Path) -> dict[str, Any]:
    """The training metadata stored in an exported model (ONNX or TorchScript; {} if none).
    A damaged file raises :class:`~acts_gnn.errors.InputDataError` naming it."""
    from acts_gnn.nn.files import read_onnx_metadata, read_torchscript_metadata

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model {path} does not exist")
    if path.suffix == ".onnx":
        return read_onnx_metadata(path)
    return read_torchscript_metadata(path)


#: What each model class of the package is, for messages.
MODEL_ROLES = {
    "InteractionNetwork": "a GNN edge classifier (Interaction Network)",
    "EdgeFilter": "an edge filter (the metric-learning graph's first edge classifier)",
    "EmbeddingNet": "an embedding network (metric-learning graph construction)",
}
#: The model classes that classify edges (take x, edge_index[, edge_attr]).
EDGE_CLASSIFIER_MODELS = ("InteractionNetwork", "EdgeFilter")


def check_model_kind(path: str | Path, meta: dict[str, Any], expected: tuple[str, ...]) -> None:
    """Refuse the model at ``path`` if its metadata (``meta["model"]``, written by every
    export here) names a model class not in ``expected``. Files without that entry (exported
    elsewhere) pass: nothing tells what they are."""
    from acts_gnn.errors import InputDataError

    name = meta.get("model")
    if name is None or name in expected:
        return
    what = MODEL_ROLES.get(str(name), f"a {name}")
    wanted = " or ".join(MODEL_ROLES.get(e, e) for e in expected)
    raise InputDataError(
        f"this model is {what} (its metadata says {name!r}); {wanted} is needed here",
        file=path,
        field="model",
    )


def edge_classifier(
    path: str | Path,
    cut: float | None = None,
    device: str = "cpu",
    node_features: tuple[str, ...] = DEFAULT_NODE_FEATURES,
    n_chunks: int = 1,
    expected: tuple[str, ...] = EDGE_CLASSIFIER_MODELS,
    feature_scales: tuple[float, ...] | None = None,
    precision: str = "fp32",
) -> Any:
    """An edge-classifier stage for the model at ``path`` (``.onnx``: ONNX Runtime, else
    TorchScript with torch on ``device``), set up for a pipeline whose node features are
    ``node_features`` (already scaled by the pipeline): the model's own feature columns are
    selected from them and its edge features selected and scaled as in training.
    ``expected``: the model classes accepted (:func:`check_model_kind`; e.g.
    ``("InteractionNetwork",)`` for the GNN stage); an embedding is never an edge classifier.
    ``feature_scales``: the pipeline's scale of each of ``node_features``; when given, a model
    trained with other scales for the features it takes is refused (it would see features
    scaled differently from training). ``precision``: the TorchScript stage's arithmetic
    (:class:`~acts_gnn.chain.classify.TorchEdgeClassifier`; ``bf16`` needs its fused engine,
    refused for ONNX)."""
    from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier
    from acts_gnn.graph.features import EDGE_FEATURES

    meta = model_metadata(path)
    check_model_kind(path, meta, expected)
    wanted = list(meta.get("node_features") or node_features)
    missing = [n for n in wanted if n not in node_features]
    if missing:
        raise ValueError(f"{path}: the model needs node features {missing} the pipeline lacks")
    selected = [node_features.index(n) for n in wanted]
    trained_scales = meta.get("feature_scales")
    if feature_scales is not None and trained_scales:
        pipeline = [float(feature_scales[k]) for k in selected]
        if len(trained_scales) != len(wanted) or not all(
            math.isclose(float(a), b, rel_tol=1e-6) for a, b in zip(trained_scales, pipeline)
        ):
            from acts_gnn.errors import InputDataError

            raise InputDataError(
                f"the model was trained with node features {wanted} scaled by "
                f"{[float(v) for v in trained_scales]}, the pipeline scales them by {pipeline}",
                file=path,
                field="feature_scales",
            )
    edge_names = list(meta.get("edge_features") or [])
    knobs: dict[str, Any] = {
        "cut": float(meta.get("score_cut", 0.5)) if cut is None else cut,
        "nChunks": n_chunks,
        "selectedFeatures": selected if selected != list(range(len(node_features))) else [],
        "useEdgeFeatures": bool(edge_names),
        "selectedEdgeFeatures": [EDGE_FEATURES.index(n) for n in edge_names],
        "edgeFeatureScales": list(meta.get("edge_feature_scales") or []),
    }
    if Path(path).suffix == ".onnx":
        if precision != "fp32":
            raise ValueError(f"{path}: precision={precision!r} needs the torch backend")
        providers = ["CPUExecutionProvider"] if device == "cpu" else None
        return OnnxEdgeClassifier(str(path), providers=providers, **knobs)
    return TorchEdgeClassifier(str(path), device=device, precision=precision, **knobs)


def pipeline_features(path: str | Path) -> tuple[list[str], list[float]]:
    """(nodeFeatures, featureScales) a pipeline should use for the model at ``path``."""
    meta = model_metadata(path)
    names = list(meta.get("node_features") or DEFAULT_NODE_FEATURES)
    scales = [float(s) for s in (meta.get("feature_scales") or DEFAULT_FEATURE_SCALES)]
    return names, scales

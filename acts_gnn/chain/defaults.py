"""The shipped defaults and the stage factories that read a trained model's metadata.

Shipped files live in ``geometry/<detector>/`` (installed as ``acts_gnn/geometry/<detector>``,
found by :func:`acts_gnn.detector.generic.geometry_dir`):

* ``module-map.npz``: the module map (compact encoding, ranges rounded outwards);
* ``models/gnn.onnx`` and ``models/gnn.pt``: the GNN edge classifier (ONNX, TorchScript);
* ``models/embedding.*`` and ``models/filter.*``: the metric-learning stages, and
  ``models/gnn-metric-learning.*``: the GNN trained on their (filtered) graphs.

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
    """The training metadata stored in an exported model (ONNX or TorchScript; {} if none)."""
    from acts_gnn.nn.files import read_onnx_metadata, read_torchscript_metadata

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model {path} does not exist")
    if path.suffix == ".onnx":
        return read_onnx_metadata(path)
    return read_torchscript_metadata(path)


def edge_classifier(
    path: str | Path,
    cut: float | None = None,
    device: str = "cpu",
    node_features: tuple[str, ...] = DEFAULT_NODE_FEATURES,
    n_chunks: int = 1,
) -> Any:
    """An edge-classifier stage for the model at ``path`` (``.onnx``: ONNX Runtime, else
    TorchScript with torch on ``device``), set up for a pipeline whose node features are
    ``node_features`` (already scaled by the pipeline): the model's own feature columns are
    selected from them and its edge features selected and scaled as in training."""
    from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier
    from acts_gnn.graph.features import EDGE_FEATURES

    meta = model_metadata(path)
    wanted = list(meta.get("node_features") or node_features)
    missing = [n for n in wanted if n not in node_features]
    if missing:
        raise ValueError(f"{path}: the model needs node features {missing} the pipeline lacks")
    selected = [node_features.index(n) for n in wanted]
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
        providers = ["CPUExecutionProvider"] if device == "cpu" else None
        return OnnxEdgeClassifier(str(path), providers=providers, **knobs)
    return TorchEdgeClassifier(str(path), device=device, **knobs)


def pipeline_features(path: str | Path) -> tuple[list[str], list[float]]:
    """(nodeFeatures, featureScales) a pipeline should use for the model at ``path``."""
    meta = model_metadata(path)
    names = list(meta.get("node_features") or DEFAULT_NODE_FEATURES)
    scales = [float(s) for s in (meta.get("feature_scales") or DEFAULT_FEATURE_SCALES)]
    return names, scales

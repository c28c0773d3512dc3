"""Model files: TorchScript and ONNX files and training checkpoints, read and written.

Exported files (written by :mod:`acts_gnn.train.export`, read by the inference stages of
:mod:`acts_gnn.chain` and :mod:`acts_gnn.graph.metric_learning`, and by upstream ACTS):

* **ONNX**: legacy (TorchScript-based) exporter, inputs named :data:`INPUT_NAMES` (``x``
  float32 [N, F], ``edge_index`` int64 [2, E], ``edge_attr`` float32 [E, D]; an embedding
  model takes ``x`` only), one output :data:`OUTPUT_NAME`; the metadata (features, scales,
  architecture, ...) as JSON in ``metadata_props["acts_gnn"]`` (:func:`read_onnx_metadata`);
* **TorchScript**: ``torch.jit.script`` of the module, the metadata as JSON in the extra file
  :data:`METADATA_FILE` (:func:`read_torchscript_metadata`).

Every exported model that takes edge features records their convention,
:data:`EDGE_FEATURE_CONVENTION_KEY` (:data:`RAW_EDGE_FEATURES` or :data:`ACTS_EDGE_FEATURES`,
see :data:`EDGE_FEATURE_CONVENTIONS`), read back by :func:`edge_feature_convention`; the
edge-classifier stages refuse a graph builder whose edge features follow another one.

Both are written atomically (:mod:`acts_gnn.io.atomic`). Training checkpoints
(``torch.save`` of a dict with ``format`` :data:`CHECKPOINT_FORMAT`, written by
:mod:`acts_gnn.train.loop`) hold the model's name, config and weights:
:func:`model_from_checkpoint` rebuilds the model from them.
"""

from __future__ import annotations

import contextlib
import json
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from acts_gnn.errors import InputDataError
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

#: Metadata key of the edge-feature convention a model was trained with.
EDGE_FEATURE_CONVENTION_KEY = "edge_feature_convention"
#: Ours: :data:`acts_gnn.graph.features.EDGE_FEATURES` from the hit positions (mm, rad, 1/mm),
#: the columns named by the metadata's ``edge_features``, divided by its ``edge_feature_scales``.
RAW_EDGE_FEATURES = "raw"
#: Upstream ACTS ``ModuleMapCuda``'s: dr, dphi, dz, deta, phi_slope, rphi_slope computed from
#: the *scaled* node features r, phi, z, eta in columns 0-3 (dphi wrapped as pi * dphi / pi,
#: phi_slope clamped to [-100, 100]); see :func:`acts_gnn.chain.upstream.acts_edge_features`.
ACTS_EDGE_FEATURES = "acts-scaled"
#: convention -> what it means (for messages).
EDGE_FEATURE_CONVENTIONS: dict[str, str] = {
    RAW_EDGE_FEATURES: "acts-gnn raw edge features (mm, rad from the hit positions, divided by "
    "the model's edge_feature_scales)",
    ACTS_EDGE_FEATURES: "upstream ACTS edge features (ModuleMapCuda: differences of the scaled "
    "node features r, phi, z, eta)",
}


#: Metadata key of the orientation of the edges an edge classifier was trained on.
EDGE_ORIENTATION_KEY = "edge_orientation"
#: Ours: every edge from the hit nearer the origin to the farther one (metric learning: 3D
#: distance, ties by index; module map: module 1 -> module 2, i.e. inner -> outer).
INNER_TO_OUTER = "inner-to-outer"
#: Upstream's: the model takes the edges as its graph constructor orders them (for
#: ``TorchMetricLearning`` unique ``(min, max)`` index pairs, for ``ModuleMapCuda`` inner ->
#: outer); what a model without our metadata is assumed to expect.
AS_CONSTRUCTED = "as-constructed"
#: orientation -> what it means (for messages).
EDGE_ORIENTATIONS: dict[str, str] = {
    INNER_TO_OUTER: "edges inner -> outer (source the hit nearer the origin)",
    AS_CONSTRUCTED: "edges in the graph constructor's order (upstream ACTS)",
}


def edge_orientation(metadata: dict[str, Any]) -> str:
    """The edge orientation an edge classifier was trained on, from its metadata: the recorded
    one; :data:`INNER_TO_OUTER` for a file of ours written before it was recorded (its metadata
    names ``node_features`` or ``model``); :data:`AS_CONSTRUCTED` (upstream's) for a file
    without our metadata."""
    if EDGE_ORIENTATION_KEY in metadata:
        value = str(metadata[EDGE_ORIENTATION_KEY])
        if value not in EDGE_ORIENTATIONS:
            raise ValueError(
                f"unknown edge orientation {value!r} in the model metadata; "
                f"known: {sorted(EDGE_ORIENTATIONS)}"
            )
        return value
    if metadata.get("node_features") or metadata.get("model"):
        return INNER_TO_OUTER
    return AS_CONSTRUCTED


def with_edge_feature_convention(info: dict[str, Any], takes_edges: bool = False) -> dict[str, Any]:
    """``info`` with :data:`EDGE_FEATURE_CONVENTION_KEY` set (:data:`RAW_EDGE_FEATURES` unless
    given) when the model takes edge features (``takes_edges`` or ``info["edge_features"]``
    non-empty); raises ValueError for an unknown convention."""
    out = dict(info)
    if takes_edges or out.get("edge_features") or EDGE_FEATURE_CONVENTION_KEY in out:
        convention = out.setdefault(EDGE_FEATURE_CONVENTION_KEY, RAW_EDGE_FEATURES)
        if convention not in EDGE_FEATURE_CONVENTIONS:
            raise ValueError(
                f"unknown edge-feature convention {convention!r}; "
                f"known: {sorted(EDGE_FEATURE_CONVENTIONS)}"
            )
    return out


def edge_feature_convention(metadata: dict[str, Any]) -> str | None:
    """The edge-feature convention of a model from its metadata: the recorded one; ours
    (:data:`RAW_EDGE_FEATURES`) for a file of ours written before it was recorded (its
    metadata names ``edge_features``); None for a file without our metadata (an upstream or
    acorn model: the caller decides)."""
    if EDGE_FEATURE_CONVENTION_KEY in metadata:
        value = str(metadata[EDGE_FEATURE_CONVENTION_KEY])
        if value not in EDGE_FEATURE_CONVENTIONS:
            raise ValueError(f"unknown edge-feature convention {value!r} in the model metadata")
        return value
    if metadata.get("edge_features"):
        return RAW_EDGE_FEATURES
    return None


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
    """``torch.jit.load`` without the deprecation notices; ``extra_files`` filled in place.
    A missing, truncated or corrupted file raises :class:`~acts_gnn.errors.InputDataError`
    naming it."""
    _require_file(path, "TorchScript model")
    check_archive(path, "TorchScript model")
    try:
        with _quiet_jit():
            if extra_files is None:
                return torch.jit.load(str(path), map_location=device)
            return torch.jit.load(str(path), map_location=device, _extra_files=extra_files)
    except (RuntimeError, ValueError, OSError, EOFError) as err:
        raise InputDataError(
            f"not a readable TorchScript model (truncated or corrupted?): {_first_line(err)}",
            file=path,
        ) from err


def _require_file(path: str | Path, what: str) -> None:
    """InputDataError unless ``path`` is an existing file."""
    if not Path(path).is_file():
        raise InputDataError(f"{what} does not exist", file=path)


def check_archive(path: str | Path, what: str = "model file") -> None:
    """InputDataError unless ``path`` is a zip archive (TorchScript files and checkpoints are)
    whose every member matches its CRC-32: torch's reader checks no CRC, so a flipped byte
    in the weights would otherwise load as a silently different model."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as err:
        raise InputDataError(
            f"not a readable {what} (truncated or corrupted?): {_first_line(err)}", file=path
        ) from err
    if bad is not None:
        raise InputDataError(
            f"corrupted {what}: member {bad!r} does not match its checksum", file=path
        )


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message (torch's run to pages of C++ frames)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def write_torchscript(model: torch.nn.Module, path: Path, info: dict[str, Any]) -> None:
    """``torch.jit.script(model)`` with ``info`` in the extra file :data:`METADATA_FILE`,
    written atomically to ``path``."""
    n_edge = getattr(model, "edge_features", 0)
    info = with_edge_feature_convention(info, isinstance(n_edge, int) and n_edge > 0)
    if isinstance(n_edge, int):  # an edge classifier (it declares its edge-feature count)
        info.setdefault(EDGE_ORIENTATION_KEY, INNER_TO_OUTER)
    with atomic_path(path) as partial, _quiet_jit():
        scripted = torch.jit.script(model)
        torch.jit.save(scripted, str(partial), _extra_files={METADATA_FILE: json.dumps(info)})


def read_torchscript_metadata(path: str | Path) -> dict[str, Any]:
    """The ``acts_gnn.json`` metadata of a TorchScript file written here ({} if none)."""
    files = {METADATA_FILE: ""}
    load_torchscript(path, extra_files=files)
    return _parse_metadata(files[METADATA_FILE], path) if files[METADATA_FILE] else {}


def _parse_metadata(text: str | bytes, path: str | Path) -> dict[str, Any]:
    """A model file's metadata JSON as a dict; InputDataError naming ``path`` if it is not."""
    try:
        info = json.loads(text)
    except ValueError as err:
        raise InputDataError(f"unreadable model metadata: {err}", file=path) from err
    if not isinstance(info, dict):
        raise InputDataError("model metadata is not a JSON object", file=path)
    return info


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

    info = with_edge_feature_convention(info, INPUT_NAMES[2] in input_names)
    if INPUT_NAMES[1] in input_names:  # an edge classifier
        info.setdefault(EDGE_ORIENTATION_KEY, INNER_TO_OUTER)
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
    from google.protobuf.message import DecodeError

    _require_file(path, "ONNX model")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as err:
        raise InputDataError(
            f"not a readable ONNX model (truncated or corrupted?): {_first_line(err)}", file=path
        ) from err
    if not proto.graph.node:
        raise InputDataError("not an ONNX model: the file holds no graph", file=path)
    for entry in proto.metadata_props:
        if entry.key == "acts_gnn":
            return _parse_metadata(entry.value, path)
    return {}


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by :mod:`acts_gnn.train.loop` (on the CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    check_archive(path, "checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # zip, pickle, EOF errors of torch.load: a damaged file
        raise InputDataError(
            f"not a readable checkpoint (truncated or corrupted?): {_first_line(err)}", file=path
        ) from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an acts-gnn training checkpoint")
    return checkpoint


def _builders() -> dict[str, Callable[[dict[str, Any]], torch.nn.Module]]:
    """Model name (a checkpoint's ``model``) -> builder from its ``model_config``."""
    from acts_gnn.nn.embedding import build_embedding_net
    from acts_gnn.nn.filter import build_edge_filter
    from acts_gnn.nn.interaction_network import build_interaction_network
    from acts_gnn.nn.triplet_classifier import build_triplet_classifier
    from acts_gnn.nn.vertex_pairs import build_vertex_pair_net

    return {
        "InteractionNetwork": build_interaction_network,
        "EdgeFilter": build_edge_filter,
        "EmbeddingNet": build_embedding_net,
        "VertexPairNet": build_vertex_pair_net,
        "TripletClassifier": build_triplet_classifier,
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

"""Bad model files: truncated or corrupted ONNX, TorchScript and checkpoint files, and models
of the wrong kind or trained with other feature scales, are refused with an
:class:`InputDataError` naming the file (no protobuf, zlib or torch traceback)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from acts_gnn.chain.defaults import edge_classifier, model_metadata
from acts_gnn.errors import InputDataError
from acts_gnn.nn import InteractionNetwork
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.nn.files import load_checkpoint, load_torchscript
from acts_gnn.nn.filter import EdgeFilter
from acts_gnn.train.export import export_embedding_torchscript, export_onnx, export_torchscript

METADATA = {
    "node_features": ["r", "phi", "z", "eta"],
    "feature_scales": [1000.0, math.pi, 1000.0, 1.0],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    gnn = InteractionNetwork(4, 0, hidden=8, n_iterations=1).eval()
    flt = EdgeFilter(4, 0, hidden=8, n_layers=1).eval()
    emb = EmbeddingNet(4, embedding_dim=3, hidden=8, n_layers=1).eval()
    return {
        "gnn.onnx": export_onnx(gnn, directory / "gnn.onnx", metadata=METADATA),
        "gnn.pt": export_torchscript(gnn, directory / "gnn.pt", metadata=METADATA),
        "filter.pt": export_torchscript(flt, directory / "filter.pt", metadata=METADATA),
        "filter-unscaled.pt": export_torchscript(
            flt,
            directory / "filter-unscaled.pt",
            metadata={**METADATA, "feature_scales": [1.0, 1.0, 1.0, 1.0]},
        ),
        "embedding.pt": export_embedding_torchscript(
            emb, directory / "embedding.pt", metadata=METADATA
        ),
    }


def _damaged(source: Path, target: Path, how: str) -> Path:
    data = bytearray(source.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "random":
        data = bytearray(torch.randint(0, 256, (4000,), generator=torch.Generator()).tolist())
    else:  # flipped bytes in the middle
        for k in range(len(data) // 2, len(data) // 2 + 64):
            data[k] ^= 0x5A
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("name", ["gnn.onnx", "gnn.pt"])
@pytest.mark.parametrize("how", ["truncated", "random"])
def test_damaged_model_file(name: str, how: str, models: dict[str, Path], tmp_path: Path) -> None:
    path = _damaged(models[name], tmp_path / name, how)
    with pytest.raises(InputDataError, match="model") as err:
        model_metadata(path)
    assert err.value.file == str(path)


def test_flipped_bytes_in_torchscript_weights(models: dict[str, Path], tmp_path: Path) -> None:
    """torch's zip reader checks no CRC: without our check this loads different weights."""
    import zipfile

    data = bytearray(models["gnn.pt"].read_bytes())
    with zipfile.ZipFile(models["gnn.pt"]) as archive:
        stored = [i for i in archive.infolist() if i.compress_type == zipfile.ZIP_STORED]
        weights = max(stored, key=lambda info: info.file_size)  # a tensor, not compressed
    local = weights.header_offset
    start = local + 30 + int.from_bytes(data[local + 26 : local + 28], "little")
    start += int.from_bytes(data[local + 28 : local + 30], "little")
    for k in range(start + 8, start + 16):  # inside the stored (uncompressed) weights
        data[k] ^= 0x5A
    path = tmp_path / "gnn.pt"
    path.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match="does not match its checksum") as err:
        model_metadata(path)
    assert err.value.file == str(path)
    assert weights.filename in str(err.value)


def test_truncated_torchscript_load(models: dict[str, Path], tmp_path: Path) -> None:
    path = _damaged(models["gnn.pt"], tmp_path / "gnn.pt", "truncated")
    with pytest.raises(InputDataError, match="not a readable TorchScript model") as err:
        load_torchscript(path)
    assert err.value.file == str(path)


def test_empty_onnx_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(InputDataError, match="holds no graph"):
        model_metadata(path)


def test_damaged_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save({"format": "acts-gnn-checkpoint", "weights": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputDataError, match="not a readable checkpoint") as err:
        load_checkpoint(path)
    assert err.value.file == str(path)


def test_filter_passed_as_the_gnn(models: dict[str, Path]) -> None:
    with pytest.raises(InputDataError, match="is an edge filter") as err:
        edge_classifier(models["filter.pt"], expected=("InteractionNetwork",))
    assert err.value.file == str(models["filter.pt"])
    assert "'EdgeFilter'" in str(err.value)
    assert edge_classifier(models["filter.pt"], expected=("EdgeFilter",)).cut == 0.5


def test_embedding_is_never_an_edge_classifier(models: dict[str, Path]) -> None:
    with pytest.raises(InputDataError, match="is an embedding network") as err:
        edge_classifier(models["embedding.pt"])
    assert err.value.field == "model"


def test_the_gnn_passes(models: dict[str, Path]) -> None:
    for name in ("gnn.onnx", "gnn.pt"):
        stage = edge_classifier(
            models[name],
            expected=("InteractionNetwork",),
            feature_scales=tuple(METADATA["feature_scales"]),
        )
        assert stage.cut == 0.5


def test_filter_trained_with_other_scales(models: dict[str, Path]) -> None:
    """A filter beside a GNN whose pipeline scales the node features differently."""
    with pytest.raises(InputDataError, match="scaled by") as err:
        edge_classifier(
            models["filter-unscaled.pt"],
            expected=("EdgeFilter",),
            feature_scales=tuple(METADATA["feature_scales"]),
        )
    assert err.value.field == "feature_scales"

"""CUDA paths give the CPU answers (run with ``-m gpu`` on a machine with a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier, onnx_providers
from acts_gnn.nn import InteractionNetwork
from acts_gnn.nn.files import random_graph
from acts_gnn.train.export import export_onnx

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def model() -> InteractionNetwork:
    torch.manual_seed(2)
    return InteractionNetwork(4, 2, hidden=32, n_iterations=4, aggregation="sum_mean").eval()


def test_cuda_model_equals_cpu() -> None:
    m = model()
    x, ei, ea = random_graph(2000, 20000, 4, 2)
    with torch.no_grad():
        cpu = m(x, ei, ea)
        gpu = m.cuda()(x.cuda(), ei.cuda(), ea.cuda()).cpu()
        chunked = m.forward_chunked(x.cuda(), ei.cuda(), ea.cuda(), 7).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(chunked, cpu, atol=1e-4, rtol=1e-4)


def test_cuda_classifier_equals_cpu(tmp_path: Path) -> None:
    m = model()
    x, ei, ea = random_graph(500, 4000, 4, 2)
    cpu = TorchEdgeClassifier(m, useEdgeFeatures=True)(x, ei, ea)[0]
    gpu = TorchEdgeClassifier(m, useEdgeFeatures=True, device="cuda", nChunks=3)(x, ei, ea)
    assert gpu[0].device.type == "cuda"
    torch.testing.assert_close(gpu[0].cpu(), cpu, atol=1e-5, rtol=1e-5)
    path = export_onnx(m, tmp_path / "m.onnx")
    onnx = OnnxEdgeClassifier(path, useEdgeFeatures=True)
    if "CUDAExecutionProvider" in onnx_providers():
        assert onnx.providers[0] == "CUDAExecutionProvider"
    torch.testing.assert_close(onnx(x, ei, ea)[0], cpu, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_training_mixed_precision(tmp_path: Path, precision: str) -> None:
    from acts_gnn.train.config import config_from_dict
    from acts_gnn.train.loop import train_gnn

    config = config_from_dict(
        {
            "output": str(tmp_path),
            "device": "cuda",
            "data": {"source": "synthetic", "synthetic": {"n_events": 3}, "val_events": 1},
            "model": {"hidden": 16, "n_iterations": 2},
            "training": {
                "epochs": 2,
                "mixed_precision": precision,
                "gradient_checkpointing": True,
                "progress": False,
                "export": True,
            },
        }
    )
    result = train_gnn(config)
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert result.history[-1]["train_loss"] < 1.0

"""The MetricLearning graph-construction stage: model formats, backends, knobs, conventions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.graph.features import edge_features, node_features
from acts_gnn.graph.knn import exact_dist2
from acts_gnn.graph.metric_learning import DEFAULT_K, DEFAULT_R, MetricLearning
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.train.config import SyntheticConfig
from acts_gnn.train.export import export_embedding
from acts_gnn.train.synthetic import synthetic_event

NAMES = ["r", "phi", "z", "eta"]
SCALES = [1000.0, math.pi, 1000.0, 1.0]


@pytest.fixture(scope="module")
def event():  # type: ignore[no-untyped-def]
    return synthetic_event(SyntheticConfig(n_particles=40, noise_hits=30), 0)


@pytest.fixture(scope="module")
def model() -> EmbeddingNet:
    torch.manual_seed(0)
    return EmbeddingNet(4, embedding_dim=6, hidden=16, n_layers=2).eval()


def safe_radius(model: EmbeddingNet, event, quantile: float = 0.02) -> float:  # type: ignore[no-untyped-def]
    """A radius near the given pair-distance quantile, far (> 1e-4) from every distance, so
    that float differences between model formats cannot move an edge across it."""
    x = torch.from_numpy(node_features(event, NAMES, SCALES))
    with torch.no_grad():
        emb = model(x)
    n = emb.shape[0]
    a, b = torch.triu_indices(n, n, 1)
    d = exact_dist2(emb, a, b).sqrt().sort().values
    i = int(quantile * len(d))
    gaps = d[i + 1 : i + 2000] - d[i : i + 1999]
    j = i + int(torch.nonzero(gaps > 2e-4)[0])
    return float(0.5 * (d[j] + d[j + 1]))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, model: EmbeddingNet, event) -> dict:  # type: ignore[no-untyped-def]
    r = safe_radius(model, event)
    meta = {"node_features": NAMES, "feature_scales": SCALES, "r": r, "k": 12}
    folder = tmp_path_factory.mktemp("embedding")
    onnx, script = folder / "embedding.onnx", folder / "embedding.pt"
    export_embedding(model, onnx, script, metadata=meta)
    checkpoint = folder / "last.pt"
    torch.save(
        {
            "format": "acts-gnn-checkpoint",
            "model": "EmbeddingNet",
            "model_config": model.config,
            "model_state": model.state_dict(),
            "metadata": meta,
        },
        checkpoint,
    )
    return {"onnx": onnx, "torchscript": script, "checkpoint": checkpoint, "r": r}


def test_model_formats_and_backends_give_the_same_graph(model, event, files) -> None:  # type: ignore[no-untyped-def]
    r = files["r"]
    reference = MetricLearning(model, rVal=r, knnVal=12, featureScales=SCALES)
    x_raw = np.stack([event.hits[n] for n in NAMES], axis=1)
    ref = reference(x_raw, event.positions())
    assert ref.n_edges > 50
    assert ref.embedding.shape == (event.n_hits, 6)
    for source in ("onnx", "torchscript", "checkpoint"):
        stage = MetricLearning(files[source])  # r, k, features and scales from the metadata
        assert stage.rVal == pytest.approx(r)
        assert stage.knnVal == 12
        graph = stage.for_event(event)
        assert torch.equal(graph.edge_index, ref.edge_index), source
    for backend in ("grid", "faiss", "kdtree", "brute"):
        graph = MetricLearning(files["torchscript"], backend=backend).for_event(event)
        assert torch.equal(graph.edge_index, ref.edge_index), backend
    assert set(ref.timing) == {"embedding", "neighbours", "edge_features"}


def test_orientation_features_and_knobs(model, event, files) -> None:  # type: ignore[no-untyped-def]
    stage = MetricLearning(files["torchscript"], embeddingDim=6)
    graph = stage.for_event(event)
    pos = event.positions()
    src, dst = graph.edge_index.numpy()
    assert np.all(np.linalg.norm(pos[src], axis=1) <= np.linalg.norm(pos[dst], axis=1))
    assert graph.edge_features is not None
    np.testing.assert_array_equal(
        graph.edge_features.numpy(), edge_features(pos, graph.edge_index.numpy())
    )
    # upstream conventions: (min, max) index order; selected columns, then scales
    index_order = MetricLearning(files["torchscript"], orientation="index").for_event(event)
    assert bool((index_order.edge_index[0] < index_order.edge_index[1]).all())
    same_set = {tuple(sorted(e)) for e in graph.edge_index.T.tolist()}
    assert same_set == {tuple(e) for e in index_order.edge_index.T.tolist()}
    extra = np.stack([event.hits[c] for c in ["x", "r", "phi", "z", "eta"]], axis=1)
    selected = MetricLearning(
        files["torchscript"], selectedFeatures=[1, 2, 3, 4], featureScales=SCALES
    )
    assert torch.equal(selected(extra, pos).edge_index, graph.edge_index)
    # no positions: index order, no edge features
    bare = selected(extra)
    assert bare.edge_features is None
    assert torch.equal(bare.edge_index, index_order.edge_index)
    # k caps neighbours per hit: fewer edges with a smaller k
    assert MetricLearning(files["torchscript"], knnVal=2).for_event(event).n_edges < graph.n_edges


def test_defaults_and_errors(model, files) -> None:  # type: ignore[no-untyped-def]
    plain = MetricLearning(model)
    assert (plain.rVal, plain.knnVal) == (DEFAULT_R, DEFAULT_K)
    for n in (0, 1):
        graph = plain(torch.zeros(n, 4), torch.zeros(n, 3))
        assert graph.edge_index.shape == (2, 0)
        assert graph.embedding.shape == (n, 6)
        assert graph.edge_features is not None
        assert graph.edge_features.shape == (0, 6)
    with pytest.raises(ValueError, match="embeddingDim"):
        MetricLearning(model, embeddingDim=8)(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="selectedFeatures"):
        MetricLearning(model, selectedFeatures=[7])(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="node_features metadata"):
        plain.for_event(synthetic_event(SyntheticConfig(n_particles=2), 0))
    with pytest.raises(FileNotFoundError):
        MetricLearning(Path(files["onnx"]).with_name("missing.pt"))
    with pytest.raises(ValueError, match="backend"):
        MetricLearning(model, backend="hnsw")


@pytest.mark.gpu
def test_cuda_stage_equals_cpu(files, event) -> None:  # type: ignore[no-untyped-def]
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    cpu = MetricLearning(files["torchscript"]).for_event(event)
    gpu = MetricLearning(files["torchscript"], device="cuda").for_event(event)
    assert gpu.edge_index.is_cuda
    assert torch.equal(gpu.edge_index.cpu(), cpu.edge_index)
    torch.testing.assert_close(gpu.edge_features.cpu(), cpu.edge_features)

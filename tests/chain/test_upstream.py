"""Upstream ACTS names, knobs and semantics (``acts_gnn.chain.upstream``), and the
edge-feature convention trap: models record their convention, stages that disagree are refused.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import acts_gnn
from acts_gnn.chain.classify import (
    OnnxEdgeClassifier,
    TorchEdgeClassifier,
    check_edge_feature_conventions,
)
from acts_gnn.chain.upstream import (
    BoostTrackBuilding,
    CudaTrackBuilding,
    Device,
    ModuleMapCuda,
    NodeFeature,
    NodeFeatureError,
    TorchMetricLearning,
    acts_edge_features,
    node_feature_names,
)
from acts_gnn.graph.features import edge_features
from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.nn.files import (
    ACTS_EDGE_FEATURES,
    EDGE_FEATURE_CONVENTION_KEY,
    RAW_EDGE_FEATURES,
    read_onnx_metadata,
    read_torchscript_metadata,
)
from acts_gnn.nn.interaction_network import InteractionNetwork
from acts_gnn.train.export import export_onnx, export_torchscript
from tests.graph.module_map.synthetic import synthetic_event, synthetic_map

RAW_META = {
    "node_features": ["r", "phi", "z"],
    "edge_features": ["dr", "dphi", "dz", "deta"],
    "edge_feature_scales": [100.0, 0.1, 200.0, 0.5],
}


def _positions(n: int = 40, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.uniform(30, 1000, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    return np.stack([r * np.cos(phi), r * np.sin(phi), rng.uniform(-1000, 1000, n)], axis=1)


def _gnn(edge_features_: int = 4) -> InteractionNetwork:
    torch.manual_seed(2)
    return InteractionNetwork(3, edge_features_, hidden=8, n_iterations=1).eval()


# ---------------------------------------------------------------------------------------------
# edge-feature convention (silent trap 1)
# ---------------------------------------------------------------------------------------------


def test_exported_models_record_their_edge_feature_convention(tmp_path: Path) -> None:
    ts = export_torchscript(_gnn(), tmp_path / "gnn.pt", metadata=RAW_META, verify=False)
    onnx = export_onnx(_gnn(), tmp_path / "gnn.onnx", metadata=RAW_META, verify=False)
    assert read_torchscript_metadata(ts)[EDGE_FEATURE_CONVENTION_KEY] == RAW_EDGE_FEATURES
    assert read_onnx_metadata(onnx)[EDGE_FEATURE_CONVENTION_KEY] == RAW_EDGE_FEATURES
    # a model without edge features records none
    plain = export_onnx(
        _gnn(0), tmp_path / "plain.onnx", metadata={"node_features": ["r"]}, verify=False
    )
    assert EDGE_FEATURE_CONVENTION_KEY not in read_onnx_metadata(plain)
    # an upstream-convention export is recorded as such
    acts_meta = {**RAW_META, EDGE_FEATURE_CONVENTION_KEY: ACTS_EDGE_FEATURES}
    up = export_torchscript(_gnn(), tmp_path / "up.pt", metadata=acts_meta, verify=False)
    assert read_torchscript_metadata(up)[EDGE_FEATURE_CONVENTION_KEY] == ACTS_EDGE_FEATURES


def test_model_bound_edge_knobs_come_from_the_metadata(tmp_path: Path) -> None:
    """The 0.103-vs-0.940 trap: upstream's knobs (no edgeFeatureScales) on our model must give
    the scores of the model's own columns and scales, not raw mm/rad."""
    model = _gnn()
    path = export_onnx(model, tmp_path / "gnn.onnx", metadata=RAW_META, verify=False)
    pos = _positions()
    ei = torch.from_numpy(np.stack([np.arange(0, 39), np.arange(1, 40)]))
    raw = torch.from_numpy(edge_features(pos, ei.numpy()))
    x = torch.randn(40, 3)
    upstream_knobs = OnnxEdgeClassifier(path, cut=0.5)  # useEdgeFeatures inferred
    assert upstream_knobs.useEdgeFeatures
    assert upstream_knobs.selectedEdgeFeatures == [0, 1, 2, 3]
    assert upstream_knobs.edgeFeatureScales == RAW_META["edge_feature_scales"]
    expected = torch.sigmoid(
        model(x, ei, raw[:, :4] / torch.tensor(RAW_META["edge_feature_scales"]))
    )
    torch.testing.assert_close(upstream_knobs(x, ei, raw)[0], expected.detach(), atol=1e-5, rtol=0)
    ts = export_torchscript(model, tmp_path / "gnn.pt", metadata=RAW_META)
    torch_clf = TorchEdgeClassifier(ts, useEdgeFeatures=True)
    torch.testing.assert_close(torch_clf(x, ei, raw)[0], expected.detach(), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"edgeFeatureScales=\[1.0, 1.0, 1.0, 1.0\] but the model"):
        TorchEdgeClassifier(ts, useEdgeFeatures=True, edgeFeatureScales=[1.0] * 4)


def test_disagreeing_builder_and_model_are_refused_naming_both(tmp_path: Path) -> None:
    ours = export_torchscript(_gnn(), tmp_path / "gnn.pt", metadata=RAW_META, verify=False)
    raw_clf = TorchEdgeClassifier(ours, useEdgeFeatures=True)
    assert raw_clf.edgeFeatureConvention == RAW_EDGE_FEATURES
    foreign = TorchEdgeClassifier(_gnn(6), useEdgeFeatures=True)  # no metadata: upstream's
    assert foreign.edgeFeatureConvention == ACTS_EDGE_FEATURES
    ours_builder = ModuleMapGraphBuilder(synthetic_map())
    with pytest.raises(
        ValueError, match=r"TorchEdgeClassifier.*'acts-scaled'.*ModuleMapGraphBuilder.*'raw'"
    ):
        check_edge_feature_conventions(ours_builder, [foreign])
    # ModuleMapCuda computes either convention from the positions: it follows the model
    module_map_cuda = ModuleMapCuda.__new__(ModuleMapCuda)
    check_edge_feature_conventions(module_map_cuda, [raw_clf])
    assert module_map_cuda.edgeFeatureConvention == RAW_EDGE_FEATURES
    check_edge_feature_conventions(module_map_cuda, [foreign])
    assert module_map_cuda.edgeFeatureConvention == ACTS_EDGE_FEATURES
    with pytest.raises(ValueError, match="trained on different edge features"):
        check_edge_feature_conventions(module_map_cuda, [raw_clf, foreign])
    check_edge_feature_conventions(ours_builder, [raw_clf])
    # a classifier that does not use edge features never conflicts
    check_edge_feature_conventions(module_map_cuda, [TorchEdgeClassifier(_gnn(0))])
    with pytest.raises(ValueError, match="but the model was trained on"):
        TorchEdgeClassifier(ours, useEdgeFeatures=True, edgeFeatureConvention=ACTS_EDGE_FEATURES)


def test_acts_edge_features_follow_upstream_formula() -> None:
    # two hits across the phi = +-pi line, and one pair with dr = 0
    pos = np.array(
        [
            [100 * math.cos(3.1), 100 * math.sin(3.1), 10.0],
            [200 * math.cos(-3.1), 200 * math.sin(-3.1), 50.0],
            [200 * math.cos(-3.0), 200 * math.sin(-3.0), -50.0],
        ]
    )
    ei = np.array([[0, 1], [1, 2]])
    scales = (1000.0, math.pi, 1000.0, 2.0)
    got = acts_edge_features(pos, ei, scales)
    r = np.hypot(pos[:, 0], pos[:, 1]) / 1000.0
    eta = np.arcsinh(pos[:, 2] / np.hypot(pos[:, 0], pos[:, 1])) / 2.0
    dphi0 = (2 * math.pi - 6.2) / math.pi  # -6.2 rad wrapped, over pi
    assert got[0, 0] == pytest.approx(r[1] - r[0], rel=1e-6)
    assert got[0, 1] == pytest.approx(dphi0, rel=1e-5)
    assert got[0, 2] == pytest.approx(0.04, rel=1e-5)
    assert got[0, 3] == pytest.approx(eta[1] - eta[0], rel=1e-5)
    assert got[0, 4] == pytest.approx(dphi0 / (r[1] - r[0]), rel=1e-5)
    assert got[0, 5] == pytest.approx(0.5 * (r[0] + r[1]) * dphi0 / (r[1] - r[0]), rel=1e-5)
    assert got[1, 0] == 0
    assert got[1, 4] == 0
    assert got[1, 5] == 0
    # the clamp of phi_slope at 100
    near = np.array([[100.0, 0.0, 0.0], [100.0001, 5.0, 0.0]])
    assert acts_edge_features(near, np.array([[0], [1]]), scales)[0, 4] == 100.0


def test_undirected_with_edge_features_reverses_them_exactly() -> None:
    pos = _positions()
    ei = np.stack([np.arange(0, 39), np.arange(1, 40)])
    feats = torch.from_numpy(edge_features(pos, ei))
    model = _gnn(6)
    x = torch.randn(40, 3)
    got = TorchEdgeClassifier(model, undirected=True, useEdgeFeatures=True)(x, ei, feats)[0]
    both = np.concatenate([ei, ei[::-1]], axis=1)
    reference = model(x, torch.from_numpy(both.copy()), torch.from_numpy(edge_features(pos, both)))
    torch.testing.assert_close(got, torch.sigmoid(reference[:39]).detach(), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------------
# names, knobs, defaults
# ---------------------------------------------------------------------------------------------


def test_upstream_names_at_the_top_level() -> None:
    for name in (
        "TorchMetricLearning",
        "ModuleMapCuda",
        "BoostTrackBuilding",
        "CudaTrackBuilding",
        "Device",
        "NodeFeature",
        "TorchEdgeClassifier",
        "OnnxEdgeClassifier",
    ):
        assert name in acts_gnn.__all__
        assert getattr(acts_gnn, name) is not None
    assert acts_gnn.Device is Device


def test_device_and_node_features() -> None:
    assert Device.Cpu().isCpu()
    assert Device.Cuda(1).isCuda()
    assert Device.Cuda(1).index == 1
    assert str(Device.Cuda(1)) == "cuda:1"
    assert Device.Cpu().torch() == torch.device("cpu")
    assert node_feature_names([NodeFeature.R, NodeFeature.Phi, NodeFeature.Z, "eta"]) == [
        "r",
        "phi",
        "z",
        "eta",
    ]
    for member in (NodeFeature.ClusterX, NodeFeature.CellCount1, NodeFeature.Cluster2Phi):
        with pytest.raises(NodeFeatureError, match=f"NodeFeature.{member.name} needs cluster"):
            node_feature_names([NodeFeature.R, member])


def test_torch_metric_learning_upstream_defaults_and_edge_order() -> None:
    torch.manual_seed(0)
    net = EmbeddingNet(3, 2, hidden=8, n_layers=1).eval()
    if torch.cuda.is_available():
        assert TorchMetricLearning(net).device == torch.device("cuda", 0)
    else:
        with pytest.raises(RuntimeError, match="CUDA"):
            TorchMetricLearning(net)  # upstream's default device is Device.Cuda()
    stage = TorchMetricLearning(net, rVal=0.8, knnVal=50, device=Device.Cpu(), level="INFO")
    cfg = stage.config
    assert (cfg.embeddingDim, cfg.rVal, cfg.knnVal, cfg.shuffleDirections) == (8, 0.8, 50, False)
    assert cfg.phiScale == pytest.approx(math.pi)
    assert cfg.device == Device.Cpu()
    assert type(cfg).__qualname__ == "TorchMetricLearning.Config"
    stage.embeddingDim = None  # the toy net embeds in 2 dimensions
    x = torch.randn(300, 3)
    edges = stage(x).edge_index
    assert edges.shape[1] > 50
    assert torch.all(edges[0] < edges[1])  # (min, max), no self loops
    keys = edges[0] * 300 + edges[1]
    assert torch.all(keys[1:] > keys[:-1])  # sorted, unique
    shuffled = TorchMetricLearning(
        net, rVal=0.8, knnVal=50, device="cpu", shuffleDirections=True, shuffleSeed=4
    )
    shuffled.embeddingDim = None
    flipped_edges = shuffled(x).edge_index
    lo = torch.minimum(flipped_edges[0], flipped_edges[1])
    hi = torch.maximum(flipped_edges[0], flipped_edges[1])
    assert torch.equal(torch.sort(lo * 300 + hi).values, keys)  # same undirected edges
    n_flipped = int((flipped_edges[0] > flipped_edges[1]).sum())
    assert 0.35 < n_flipped / edges.shape[1] < 0.65
    # kept ones first, then the flipped ones
    assert torch.all(flipped_edges[0, -n_flipped:] > flipped_edges[1, -n_flipped:])


def test_track_builders_use_every_edge_given() -> None:
    ei = np.array([[0, 1, 2, 5, 6], [1, 2, 3, 6, 7]])
    low = np.full(5, 0.01)  # far below the old 0.5 cut
    boost = BoostTrackBuilding(level="INFO")
    assert sorted(map(len, boost(ei, low, 8))) == [3, 4]
    cuda = CudaTrackBuilding(minCandidateSize=4)
    assert [len(c) for c in cuda(ei, low, 8)] == [4]
    assert cuda.config.minCandidateSize == 4
    assert cuda.config.doJunctionRemoval is False
    # junction removal: node 1 has two out-edges; the better one survives whatever its score
    ej = np.array([[0, 1, 1, 2], [1, 2, 4, 3]])
    scores = np.array([0.02, 0.03, 0.01, 0.02])
    jr = CudaTrackBuilding(doJunctionRemoval=True, minCandidateSize=2)
    assert [c.tolist() for c in jr(ej, scores, 5)] == [[0, 1, 2, 3]]
    # the algorithm's minimum and minCandidateSize both apply
    jr.minMeasurementsPerTrack = 1
    assert jr.minMeasurementsPerTrack == 2


def test_module_map_cuda_runs_where_its_knobs_say(tmp_path: Path) -> None:
    from acts_gnn.chain.pipeline import GraphData
    from acts_gnn.graph.module_map.mmg_root import write_mmg_root

    mm = synthetic_map()
    write_mmg_root(mm, tmp_path / "mm")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="ModuleMapCuda runs on cuda:0"):
            ModuleMapCuda(str(tmp_path / "mm"))
    scales = (1000.0, math.pi, 1000.0, 1.0)
    stage = ModuleMapCuda(str(tmp_path / "mm"), *scales, level="INFO", device="cpu")
    assert stage.config.rScale == 1000.0
    assert stage.config.gpuBlocks == 512
    positions, modules = synthetic_event(1)
    data = GraphData(
        torch.zeros(len(positions), 1),
        positions,
        modules,
        np.arange(len(modules)),
        np.arange(len(modules)),
    )
    edge_index, feats = stage.construct_graph(data)
    reference = ModuleMapGraphBuilder(stage.module_map)(positions, modules)
    assert edge_index.shape[1] > 0
    assert sorted(map(tuple, edge_index.numpy().T)) == sorted(map(tuple, reference.edge_index.T))
    np.testing.assert_array_equal(
        feats.numpy(), acts_edge_features(positions, edge_index.numpy(), scales)
    )
    assert stage.unknown_module_hits == 1
    stage.edgeFeatureConvention = RAW_EDGE_FEATURES  # what a model of ours gets
    edge_index, feats = stage.construct_graph(data)
    np.testing.assert_array_equal(feats.numpy(), edge_features(positions, edge_index.numpy()))


def test_onnx_classifier_device_knob(tmp_path: Path) -> None:
    import onnxruntime

    path = export_onnx(_gnn(0), tmp_path / "gnn.onnx")
    onnx_stage = OnnxEdgeClassifier(path, cut=0.3, device=Device.Cpu(), level="INFO")
    assert onnx_stage.providers == ["CPUExecutionProvider"]
    cfg = onnx_stage.config
    assert type(cfg).__qualname__ == "OnnxEdgeClassifier.Config"
    assert (cfg.modelPath, cfg.cut, cfg.device) == (str(path), 0.3, Device.Cpu())
    torch_cfg = TorchEdgeClassifier(_gnn(0), cut=0.2, nChunks=2, undirected=True).config
    assert (torch_cfg.cut, torch_cfg.nChunks, torch_cfg.undirected) == (0.2, 2, True)
    assert torch_cfg.useEdgeFeatures is False
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(RuntimeError, match="no CUDAExecutionProvider"):
            OnnxEdgeClassifier(path, device=Device.Cuda())


# ---------------------------------------------------------------------------------------------
# one place for every caller: the pipeline settles conventions and orientation
# ---------------------------------------------------------------------------------------------


class _Spy(TorchEdgeClassifier):
    """A TorchEdgeClassifier that records the graph it is given."""

    seen: list[tuple[torch.Tensor, torch.Tensor | None]]

    def classify(self, x, edge_index, edge_attr=None):  # type: ignore[no-untyped-def]
        self.seen.append((edge_index.clone(), None if edge_attr is None else edge_attr.clone()))
        return super().classify(x, edge_index, edge_attr)


def _spy(model: object) -> _Spy:
    spy = _Spy(model, useEdgeFeatures=True, cut=0.0, edgeFeatureConvention=RAW_EDGE_FEATURES)  # type: ignore[arg-type]
    spy.seen = []
    return spy


def test_pipeline_used_directly_checks_edge_feature_conventions(tmp_path: Path) -> None:
    from acts_gnn.chain.pipeline import GnnPipeline

    ours = export_torchscript(_gnn(), tmp_path / "gnn.pt", metadata=RAW_META, verify=False)
    foreign = TorchEdgeClassifier(_gnn(6), useEdgeFeatures=True)  # no metadata: upstream's
    with pytest.raises(ValueError, match=r"'acts-scaled'.*ModuleMapGraphBuilder.*'raw'"):
        GnnPipeline(ModuleMapGraphBuilder(synthetic_map()), [foreign], BoostTrackBuilding())
    module_map_cuda = ModuleMapCuda.__new__(ModuleMapCuda)
    GnnPipeline(
        module_map_cuda, [TorchEdgeClassifier(ours, useEdgeFeatures=True)], BoostTrackBuilding()
    )
    assert module_map_cuda.edgeFeatureConvention == RAW_EDGE_FEATURES  # switched by the pipeline


def test_pipeline_orients_index_pairs_for_inner_to_outer_models(tmp_path: Path) -> None:
    from acts_gnn.chain.pipeline import GnnPipeline
    from acts_gnn.graph.metric_learning import MetricLearning
    from acts_gnn.nn.files import AS_CONSTRUCTED, EDGE_ORIENTATION_KEY, INNER_TO_OUTER

    ours = export_torchscript(_gnn(6), tmp_path / "gnn.pt", metadata={"node_features": ["r"]})
    assert read_torchscript_metadata(ours)[EDGE_ORIENTATION_KEY] == INNER_TO_OUTER
    onnx = export_onnx(_gnn(6), tmp_path / "gnn.onnx", metadata={"node_features": ["r"]})
    assert read_onnx_metadata(onnx)[EDGE_ORIENTATION_KEY] == INNER_TO_OUTER
    torch.manual_seed(0)
    net = EmbeddingNet(3, 2, hidden=8, n_layers=1).eval()
    positions = _positions(200, seed=5)
    scales = [1000.0, math.pi, 1000.0]

    def run(model: object) -> tuple[torch.Tensor, torch.Tensor]:
        graph = TorchMetricLearning(net, rVal=0.8, knnVal=20, device="cpu")
        graph.embeddingDim = None
        spy = _spy(model)
        pipe = GnnPipeline(graph, [spy], BoostTrackBuilding(), ["r", "phi", "z"], scales)
        pipe(positions, np.zeros(len(positions), np.uint64))
        ((edge_index, edge_attr),) = spy.seen
        assert edge_attr is not None
        return edge_index, edge_attr

    # our model (inner -> outer recorded): every source is the hit nearer the origin and the
    # features are those of the oriented edges, exactly
    edges, feats = run(ours)
    assert edges.shape[1] > 100
    dist = np.linalg.norm(positions, axis=1)
    assert np.all(dist[edges[0].numpy()] <= dist[edges[1].numpy()])
    np.testing.assert_array_equal(feats.numpy(), edge_features(positions, edges.numpy()))
    # an upstream model (no metadata) gets upstream's (min, max) pairs, the same edges
    assert TorchEdgeClassifier(_gnn(6), useEdgeFeatures=True).edgeOrientation == AS_CONSTRUCTED
    up_edges, _ = run(_gnn(6))
    assert torch.all(up_edges[0] < up_edges[1])
    key = lambda e: sorted(map(tuple, torch.sort(e, 0).values.numpy().T))  # noqa: E731
    assert key(up_edges) == key(edges)
    assert int((edges[0] > edges[1]).sum()) > 0  # some pairs were flipped
    # a constructor that gives every edge twice cannot be oriented: refused, naming both
    both = MetricLearning(net, rVal=0.8, knnVal=20, undirected=True)
    with pytest.raises(ValueError, match=r"TorchEdgeClassifier.*'inner-to-outer'.*MetricLearning"):
        GnnPipeline(both, [TorchEdgeClassifier(ours, useEdgeFeatures=True)], BoostTrackBuilding())


def test_torch_edge_classifier_runs_where_its_pipeline_runs() -> None:
    """Upstream's TorchEdgeClassifier has no device knob (only deviceID): it runs on the
    execution context's device. Here: the pipeline's device, cuda:deviceID for CUDA."""
    from acts_gnn.chain.pipeline import GnnPipeline

    builder = ModuleMapGraphBuilder(synthetic_map())
    follower = TorchEdgeClassifier(_gnn(0), deviceID=0)
    assert follower.device == torch.device("cpu")  # outside a pipeline: the CPU
    assert (follower.config.deviceID, follower.config.device) == (0, None)
    GnnPipeline(builder, [follower], BoostTrackBuilding(), device="cpu")
    assert follower.device == torch.device("cpu")
    pinned = TorchEdgeClassifier(_gnn(0), device="cpu")  # ours: a device of its own
    GnnPipeline(builder, [pinned], BoostTrackBuilding(), device="cuda")
    assert pinned.device == torch.device("cpu")
    if torch.cuda.is_available():
        GnnPipeline(builder, [follower], BoostTrackBuilding(), device="cuda")
        assert follower.device == torch.device("cuda", 0)
        assert next(follower.model.parameters()).device == torch.device("cuda", 0)
    else:
        with pytest.raises(RuntimeError, match="CUDA"):
            GnnPipeline(builder, [follower], BoostTrackBuilding(), device="cuda")

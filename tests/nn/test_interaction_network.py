"""The Interaction Network: shapes, aggregation, chunking, TorchScript and ONNX parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.nn import InteractionNetwork, make_mlp, scatter_sum
from acts_gnn.nn.files import random_graph, read_onnx_metadata, read_torchscript_metadata
from acts_gnn.train.export import ExportError, export_onnx, export_torchscript

ort = pytest.importorskip("onnxruntime")


def small_model(edge_features: int = 0, **kwargs: object) -> InteractionNetwork:
    torch.manual_seed(3)
    options: dict[str, object] = dict(hidden=16, n_iterations=3)
    options.update(kwargs)
    return InteractionNetwork(4, edge_features, **options).eval()  # type: ignore[arg-type]


def test_make_mlp_layers() -> None:
    mlp = make_mlp(3, [8, 8, 1], "Tanh", None, layer_norm=True)
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "LayerNorm", "Tanh", "Linear", "LayerNorm", "Tanh", "Linear"]
    assert mlp(torch.zeros(5, 3)).shape == (5, 1)
    with pytest.raises(ValueError, match="unknown activation"):
        make_mlp(3, [4], "Nope")


@pytest.mark.parametrize("aggregation", ["sum", "mean", "sum_mean"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_output_shapes(aggregation: str, recurrent: bool) -> None:
    model = small_model(aggregation=aggregation, recurrent=recurrent)
    for n, e in [(10, 25), (3, 0), (0, 0), (1, 1)]:
        x, edge_index, _ = random_graph(n, e, 4, 0) if n else (torch.zeros(0, 4), None, None)
        if edge_index is None:
            edge_index = torch.zeros(2, 0, dtype=torch.int64)
        out = model(x, edge_index)
        assert out.shape == (e,)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()
    if recurrent:  # one shared pair of nets
        assert len({id(s) for s in model.steps}) == 1


def test_edge_features_required_and_refused() -> None:
    x, edge_index, edge_attr = random_graph(10, 20, 4, 6)
    with pytest.raises(ValueError, match="needs edge_attr"):
        small_model(6)(x, edge_index)
    with pytest.raises(ValueError, match="without edge features"):
        small_model(0)(x, edge_index, edge_attr)
    assert small_model(6)(x, edge_index, edge_attr).shape == (20,)


def test_scatter_sum_accumulates_repeated_indices() -> None:
    src = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    index = torch.tensor([0, 0, 0, 2, 2, 1])
    out = scatter_sum(src, index, 4)
    expected = torch.zeros(4, 2).index_add_(0, index, src)
    assert torch.equal(out, expected)
    assert out[3].abs().sum() == 0


def test_messages_reach_both_endpoints() -> None:
    """Changing the features of an edge's source changes its target's other edges' scores
    and vice versa (undirected message passing)."""
    model = small_model(n_iterations=1)
    x = torch.randn(4, 4)
    edge_index = torch.tensor([[0, 2], [1, 1]])  # 0 -> 1 <- 2 : node 1 is shared as target
    edge_index_out = torch.tensor([[1, 1], [0, 3]])  # 1 -> 0, 1 -> 3 : shared as source
    for ei in (edge_index, edge_index_out):
        base = model(x, ei)
        x2 = x.clone()
        x2[ei[0, 0] if ei is edge_index else ei[1, 0]] += 1.0  # touch the first edge's far node
        changed = model(x2, ei)
        assert not torch.allclose(base[1], changed[1])


def test_chunked_equals_unchunked() -> None:
    model = small_model(6, aggregation="sum_mean")
    for e in (0, 1, 5, 37, 200):
        x, edge_index, edge_attr = random_graph(30, e, 4, 6, seed=e)
        full = model(x, edge_index, edge_attr)
        for chunks in (2, 3, 7, 64):
            chunked = model.forward_chunked(x, edge_index, edge_attr, chunks)
            torch.testing.assert_close(chunked, full, atol=1e-6, rtol=1e-6)
            with torch.inference_mode():  # the in-place path (no autograd)
                chunked = model.forward_chunked(x, edge_index, edge_attr, chunks)
            torch.testing.assert_close(chunked, full.detach(), atol=1e-6, rtol=1e-6)


def test_reset_parameters_and_seed() -> None:
    a, b = small_model(), small_model()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    before = [p.clone() for p in a.parameters()]
    a.reset_parameters()
    assert any(not torch.equal(p, q) for p, q in zip(before, a.parameters()))


def test_gradient_checkpointing_same_gradients() -> None:
    x, edge_index, _ = random_graph(40, 120, 4, 0)
    grads = []
    for checkpointing in (False, True):
        model = small_model(gradient_checkpointing=checkpointing).train()
        model.zero_grad()
        model(x, edge_index).square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for g0, g1 in zip(*grads):
        torch.testing.assert_close(g0, g1, atol=1e-6, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_torchscript_same_output(tmp_path: Path) -> None:
    model = small_model(6)
    path = export_torchscript(model, tmp_path / "model.pt", metadata={"node_features": ["r"]})
    loaded = torch.jit.load(str(path))
    for e in (0, 1, 37, 500):
        x, edge_index, edge_attr = random_graph(50, e, 4, 6, seed=e)
        torch.testing.assert_close(
            loaded(x, edge_index, edge_attr), model(x, edge_index, edge_attr), atol=0, rtol=0
        )
        torch.testing.assert_close(
            loaded.forward_chunked(x, edge_index, edge_attr, 3),
            model(x, edge_index, edge_attr),
            atol=1e-6,
            rtol=1e-6,
        )
    assert read_torchscript_metadata(path)["node_features"] == ["r"]


def _ort_run(path: Path, x: torch.Tensor, ei: torch.Tensor, ea: torch.Tensor | None) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"x": x.numpy(), "edge_index": ei.numpy()}
    if ea is not None:
        feed["edge_attr"] = ea.numpy()
    return session.run(None, feed)[0]


@pytest.mark.parametrize("edge_features", [0, 6])
@pytest.mark.parametrize("n_chunks", [1, 4])
def test_onnx_parity(tmp_path: Path, edge_features: int, n_chunks: int) -> None:
    model = small_model(edge_features, aggregation="sum_mean")
    path = export_onnx(model, tmp_path / "model.onnx", n_chunks=n_chunks)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == ["x", "edge_index", "edge_attr"][: 3 if edge_features else 2]
    assert [o.name for o in session.get_outputs()] == ["output"]
    for n, e in [(6, 0), (6, 1), (20, 37), (400, 5000)]:
        x, edge_index, edge_attr = random_graph(n, e, 4, edge_features, seed=e)
        # many edges on few target nodes: a scatter that overwrote would be far off
        edge_index[1, : e // 2] = edge_index[1, : e // 2] % 3
        out = _ort_run(path, x, edge_index, edge_attr)
        assert out.shape == (e,)
        with torch.no_grad():
            ref = model(x, edge_index, edge_attr).numpy()
        np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-5)
    meta = read_onnx_metadata(path)
    assert meta["message_passing"] is True
    assert meta["n_chunks"] == n_chunks


def test_onnx_graph_has_no_overwriting_scatter(tmp_path: Path) -> None:
    import onnx

    path = export_onnx(small_model(), tmp_path / "model.onnx")
    graph = onnx.load(str(path)).graph
    ops = {node.op_type for node in graph.node}
    assert "ScatterND" not in ops
    assert not ops & {"ReduceMax", "Max"}
    scatters = [node for node in graph.node if node.op_type == "ScatterElements"]
    assert scatters
    for node in scatters:
        reduction = {a.name: a.s.decode() for a in node.attribute if a.name == "reduction"}
        assert reduction == {"reduction": "add"}


def test_export_refuses_mismatched_edge_features(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="with_edge_features"):
        export_onnx(small_model(0), tmp_path / "m.onnx", with_edge_features=True)
    assert not (tmp_path / "m.onnx").exists()


def test_verification_catches_a_wrong_file(tmp_path: Path) -> None:
    from acts_gnn.train.export import verify_onnx

    path = export_onnx(small_model(), tmp_path / "model.onnx")
    other = small_model()
    other.reset_parameters()
    with pytest.raises(ExportError, match="differs"):
        verify_onnx(other, path)


# -- fused inference (acts_gnn.nn.interaction_network.FusedInference) -------------------------


def _awkward_graph(n: int, e: int, seed: int = 5) -> torch.Tensor:
    """Edges over nodes [0, n) with repeats, self loops and nodes without edges."""
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n // 2, (2, e), generator=g)  # half the nodes get no edge
    edge_index[:, :3] = torch.tensor([[0, 0, 1], [0, 0, 1]])  # a repeated edge, self loops
    return edge_index


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"aggregation": "mean"},
        {"aggregation": "sum_mean", "recurrent": True},
        {"layer_norm": False, "activation": "Tanh", "n_node_layers": 3, "n_decoder_layers": 1},
        {"n_iterations": 0},
    ],
)
@pytest.mark.parametrize("edge_features", [0, 6])
def test_fused_fp32_matches_forward(options: dict[str, object], edge_features: int) -> None:
    """fp32 fused inference gives the model's logits (tolerance 1e-5 absolute on logits of
    order 1: only the order of summation differs), for every chunk size."""
    from acts_gnn.nn.fused import FusedInference

    model = small_model(edge_features, **options)
    x = torch.randn(60, 4)
    edge_index = _awkward_graph(60, 150)
    edge_attr = torch.randn(150, edge_features) if edge_features else None
    with torch.no_grad():
        reference = model(x, edge_index, edge_attr)
    for chunk in (1, 7, 4096):
        out = FusedInference(model, "fp32", chunk)(x, edge_index, edge_attr)
        assert out.dtype == torch.float32
        assert out.shape == (150,)
        torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)


def test_fused_bf16_close_to_fp32() -> None:
    """bf16 fused inference on a hidden-64, 8-step network (the shipped size): scores within
    0.05 of fp32 (mean |difference| < 0.005)."""
    from acts_gnn.nn.fused import FusedInference

    torch.manual_seed(2)
    model = InteractionNetwork(4, 6, hidden=64, n_iterations=8).eval()
    x, edge_index, edge_attr = random_graph(2000, 4000, 4, 6)
    with torch.no_grad():
        reference = torch.sigmoid(model(x, edge_index, edge_attr))
    scores = torch.sigmoid(FusedInference(model, "bf16", 512)(x, edge_index, edge_attr))
    difference = (scores - reference).abs()
    assert float(difference.max()) < 0.05
    assert float(difference.mean()) < 0.005
    assert not torch.equal(scores, reference)  # it did run in bf16


def test_fused_edge_cases_and_checks() -> None:
    from acts_gnn.nn.fused import FusedInference

    model = small_model(0)
    fused = FusedInference(model)
    assert fused(torch.zeros(5, 4), torch.zeros(2, 0, dtype=torch.int64)).shape == (0,)
    one = torch.tensor([[2], [3]])
    x = torch.randn(9, 4)  # seven of the nine nodes have no edge: dropped, the same logit
    with torch.no_grad():
        torch.testing.assert_close(fused(x, one), model(x, one), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="without edge features"):
        fused(torch.zeros(5, 4), one, torch.zeros(1, 6))
    with pytest.raises(ValueError, match="precision"):
        FusedInference(model, "fp16")
    with pytest.raises(ValueError, match="x must have shape"):
        fused(torch.zeros(5, 3), one)

"""Fused inference of the edge filter (acts_gnn.nn.fused.FusedEdgeFilter): the model's scores,
every chunk size, the engine an edge-classifier stage picks, and the checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from acts_gnn.nn.filter import EdgeFilter


def _graph(n: int, e: int, edge_features: int, seed: int = 3) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    edge_index = torch.randint(0, n, (2, e), generator=g)
    edge_index[:, :2] = torch.tensor([[0, 1], [0, 1]])  # self loops
    edge_attr = torch.randn(e, edge_features, generator=g) if edge_features else None
    return x, edge_index, edge_attr  # type: ignore[return-value]


@pytest.mark.parametrize("vector_tanh", [False, True])
def test_tanh_identity_is_tanh(vector_tanh: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of the fused engines' Tanh (the sigmoid identity, torch's own) are tanh."""
    from acts_gnn.nn import fused

    monkeypatch.setattr(fused, "_VECTOR_TANH", vector_tanh)
    z = torch.linspace(-12.0, 12.0, 200001)
    expected = torch.tanh(z)
    got = fused._tanh(z.clone())
    assert float((got - expected).abs().max()) < 2e-7
    assert torch.equal(got, expected) == vector_tanh
    small = torch.tensor([1e-9, -1e-9, 0.0])
    assert float(fused._tanh(small.clone()).abs().max()) < 1e-7  # absolute, not relative


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"activation": "SiLU"},
        {"activation": "ReLU", "layer_norm": False},
        {"n_layers": 1, "hidden": 16},
    ],
)
@pytest.mark.parametrize("edge_features", [0, 6])
def test_fused_filter_matches_forward(options: dict[str, Any], edge_features: int) -> None:
    """The model's logits (tolerance 1e-5 on logits of order 1) for every chunk size,
    including slices that end mid-graph."""
    from acts_gnn.nn.fused import FusedEdgeFilter

    torch.manual_seed(4)
    model = EdgeFilter(4, edge_features, **{"hidden": 32, **options}).eval()
    x, edge_index, edge_attr = _graph(50, 301, edge_features)
    with torch.no_grad():
        reference = model(x, edge_index, edge_attr)
    for chunk in (1, 7, 4096):
        out = FusedEdgeFilter(model, chunk_size=chunk)(x, edge_index, edge_attr)
        assert out.dtype == torch.float32
        assert out.shape == (301,)
        torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)
    # bf16: the hidden [H, H] products take bfloat16 inputs (8-bit mantissa), the rest stays
    # float32; a one-layer filter has no hidden product and gives the fp32 logits
    bf16 = FusedEdgeFilter(model, "bf16", chunk_size=7)
    assert bf16.low is not None
    hidden = [w is not None for w in bf16.low]
    assert hidden == [0 < i < len(bf16.layers) - 1 for i in range(len(bf16.layers))]
    assert all(w.dtype == torch.bfloat16 for w in bf16.low if w is not None)
    out = bf16(x, edge_index, edge_attr)
    assert out.dtype == torch.float32
    if any(hidden):
        assert not torch.equal(out, reference)
        torch.testing.assert_close(out, reference, atol=5e-2, rtol=2e-2)
    else:
        torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)


def test_fused_filter_edge_cases_and_checks() -> None:
    from acts_gnn.nn.fused import FusedEdgeFilter

    fused = FusedEdgeFilter(EdgeFilter(4, 6, hidden=8).eval())
    empty = torch.zeros(2, 0, dtype=torch.int64)
    assert fused(torch.zeros(5, 4), empty, torch.zeros(0, 6)).shape == (0,)
    one = torch.tensor([[2], [3]])
    with pytest.raises(ValueError, match="needs edge_attr"):
        fused(torch.zeros(5, 4), one)
    with pytest.raises(ValueError, match="x must have shape"):
        fused(torch.zeros(5, 3), one, torch.zeros(1, 6))
    with pytest.raises(ValueError, match="edge_index must have shape"):
        fused(torch.zeros(5, 4), one.reshape(-1), torch.zeros(1, 6))
    with pytest.raises(ValueError, match="chunk_size"):
        FusedEdgeFilter(EdgeFilter(4, 0, hidden=8), chunk_size=0)
    with pytest.raises(ValueError, match="precision"):
        FusedEdgeFilter(EdgeFilter(4, 0, hidden=8), "fp16")


def test_stage_engine_for_an_exported_filter(tmp_path: Path) -> None:
    """A filter file exported here runs in the core kernel on CPU by default (rebuilt from its
    metadata), in the torch fused engine with engine='fused', as itself with engine='model',
    with the same kept edges; bf16 runs in a fused engine only."""
    from acts_gnn import _core
    from acts_gnn.chain.classify import TorchEdgeClassifier
    from acts_gnn.nn.core_inference import CoreEdgeFilter
    from acts_gnn.nn.engines import choose_engine
    from acts_gnn.nn.fused import FusedEdgeFilter, FusedInference
    from acts_gnn.train.export import export_torchscript

    torch.manual_seed(5)
    model = EdgeFilter(4, 0, hidden=16).eval()
    path = export_torchscript(model, tmp_path / "filter.pt", metadata={"score_cut": 0.5})
    x, edge_index, _ = _graph(80, 500, 0)
    stages = {
        engine: TorchEdgeClassifier(path, cut=0.5, device="cpu", engine=engine)
        for engine in ("auto", "fused", "core", "model")
    }
    assert isinstance(stages["auto"].fused, CoreEdgeFilter)
    assert isinstance(stages["core"].fused, CoreEdgeFilter)
    assert isinstance(stages["fused"].fused, FusedEdgeFilter)
    assert stages["model"].fused is None
    reference = stages["model"].classify(x, edge_index)
    for engine in ("auto", "fused", "core"):
        result = stages[engine].classify(x, edge_index)
        torch.testing.assert_close(result.scores, reference.scores, atol=1e-6, rtol=1e-6)
        assert torch.equal(result.edge_index, reference.edge_index)
    cpu = torch.device("cpu")
    assert not isinstance(choose_engine(model, {}, "fused", "fp32", cpu, "m"), FusedInference)
    assert choose_engine(model, {}, "auto", "fp32", torch.device("cuda"), "m") is None
    bf16 = choose_engine(model, {}, "auto", "bf16", cpu, "m")
    assert isinstance(bf16, CoreEdgeFilter if _core.has_bf16_products() else FusedEdgeFilter)
    assert bf16.precision == "bf16"
    with pytest.raises(ValueError, match="precision='bf16' needs the fused engine"):
        choose_engine(model, {}, "model", "bf16", cpu, "m")
    with pytest.raises(ValueError, match="InteractionNetwork or EdgeFilter"):
        choose_engine(torch.nn.Linear(2, 2), {}, "fused", "fp32", cpu, "m")
    with pytest.raises(ValueError, match="engine='core' needs an InteractionNetwork or EdgeFilter"):
        choose_engine(EdgeFilter(4, 0, hidden=8, activation="GELU"), {}, "core", "fp32", cpu, "m")


@pytest.mark.parametrize("options", [{}, {"activation": "SiLU", "layer_norm": False}])
@pytest.mark.parametrize("edge_features", [0, 6])
def test_core_filter_matches_forward(options: dict[str, Any], edge_features: int) -> None:
    """The core kernel's filter: the model's logits within 2e-5 (hidden 128, the shipped
    shape, and a width that is no multiple of 8), on 1 and 3 threads; bf16 within 0.05 in
    score where the CPU has it."""
    from acts_gnn import _core
    from acts_gnn.nn.core_inference import CoreEdgeFilter

    for hidden in (128, 20):
        torch.manual_seed(7)
        model = EdgeFilter(4, edge_features, hidden=hidden, **options).eval()
        x, edge_index, edge_attr = _graph(300, 2000, edge_features)
        with torch.no_grad():
            reference = model(x, edge_index, edge_attr)
        for threads in (1, 3):
            out = CoreEdgeFilter(model, threads=threads)(x, edge_index, edge_attr)
            assert out.dtype == torch.float32
            torch.testing.assert_close(out, reference, atol=2e-5, rtol=2e-5)
        if _core.has_bf16_products():
            low = torch.sigmoid(CoreEdgeFilter(model, "bf16")(x, edge_index, edge_attr))
            assert float((low - torch.sigmoid(reference)).abs().max()) < 0.05
    core = CoreEdgeFilter(EdgeFilter(4, 0, hidden=8).eval())
    assert core(torch.zeros(3, 4), torch.zeros(2, 0, dtype=torch.int64)).shape == (0,)
    with pytest.raises(IndexError, match="edge_index holds 3, outside"):
        core(torch.zeros(3, 4), torch.tensor([[0], [3]]))
    with pytest.raises(ValueError, match="without edge features"):
        core(torch.zeros(3, 4), torch.tensor([[0], [1]]), torch.zeros(1, 6))


@pytest.mark.acts
def test_shipped_filter_fused_on_a_simulated_event(prepared_events: list[Any]) -> None:
    """The shipped embedding's graph of a simulated event, filtered by the shipped filter with
    each engine (the core kernel, the default; the torch fused engine; the file itself): the
    same scores within 1e-5 and the same kept edges up to a handful at the cut."""
    from acts_gnn.chain.classify import TorchEdgeClassifier
    from acts_gnn.chain.defaults import default_files, model_metadata
    from acts_gnn.graph.features import node_features
    from acts_gnn.graph.metric_learning import MetricLearning
    from acts_gnn.nn.core_inference import CoreEdgeFilter
    from acts_gnn.nn.fused import FusedEdgeFilter

    files = default_files()
    event = prepared_events[0]
    graph = MetricLearning(str(files.embedding)).for_event(event)
    meta = model_metadata(files.filter)
    x = torch.from_numpy(node_features(event, meta["node_features"], meta["feature_scales"]))
    stages = {
        engine: TorchEdgeClassifier(files.filter, useEdgeFeatures=True, engine=engine)
        for engine in ("auto", "fused", "model")
    }
    assert isinstance(stages["auto"].fused, CoreEdgeFilter)
    assert isinstance(stages["fused"].fused, FusedEdgeFilter)
    scores = {
        engine: stage.classify(x, graph.edge_index, graph.edge_features).scores
        for engine, stage in stages.items()
    }
    assert graph.edge_index.shape[1] > 10_000
    cut = stages["auto"].cut
    for engine in ("auto", "fused"):
        torch.testing.assert_close(scores[engine], scores["model"], atol=1e-5, rtol=0)
        flipped = int(((scores[engine] > cut) != (scores["model"] > cut)).sum())
        assert flipped <= 5

"""The C++ core's Interaction Network kernel (acts_gnn.nn.core_inference.CoreInference): the
model's logits on synthetic graphs for every architecture option it takes, its checks, and
which engine a stage picks (acts_gnn.nn.engines)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acts_gnn import _core
from acts_gnn.nn import InteractionNetwork
from acts_gnn.nn.core_inference import CoreInference
from acts_gnn.nn.engines import choose_engine
from acts_gnn.nn.files import random_graph
from acts_gnn.nn.fused import FusedInference


def _model(edge_features: int = 0, **options: object) -> InteractionNetwork:
    torch.manual_seed(11)
    config: dict[str, object] = dict(hidden=16, n_iterations=3)
    config.update(options)
    return InteractionNetwork(4, edge_features, **config).eval()  # type: ignore[arg-type]


def _graph(n: int, e: int, edge_features: int, seed: int = 3):
    """Edges over the first half of [0, n) (the rest have none), with a repeated edge and
    self loops."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    edge_index = torch.randint(0, n // 2, (2, e), generator=g)
    edge_index[:, :3] = torch.tensor([[0, 0, 1], [0, 0, 1]])
    edge_attr = torch.randn(e, edge_features, generator=g) if edge_features else None
    return x, edge_index, edge_attr


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"aggregation": "mean"},
        {"aggregation": "sum_mean", "recurrent": True},
        {"layer_norm": False, "activation": "Tanh", "n_node_layers": 3, "n_decoder_layers": 1},
        {"activation": "ReLU", "hidden": 12},  # a width that is no multiple of 8: the tails
        {"activation": "Sigmoid", "hidden": 32},
        {"hidden": 64, "n_iterations": 2},
        {"hidden": 128, "n_iterations": 1},
        {"n_iterations": 0},
        {"n_decoder_layers": 0, "n_edge_layers": 1, "n_node_layers": 1},  # one Linear each
    ],
)
@pytest.mark.parametrize("edge_features", [0, 6])
def test_core_matches_forward(options: dict[str, object], edge_features: int) -> None:
    """The kernel gives the model's logits within 3e-5 on logits of order 1 (the order of
    summation and exp's ~2 ulp differ), on 1 and on 3 threads (more threads than 64-row
    blocks of nodes here: the split must still cover every row once)."""
    model = _model(edge_features, **options)
    x, edge_index, edge_attr = _graph(300, 700, edge_features)
    with torch.no_grad():
        reference = model(x, edge_index, edge_attr)
    for threads in (1, 3):
        out = CoreInference(model, threads=threads)(x, edge_index, edge_attr)
        assert out.dtype == torch.float32
        assert out.shape == (700,)
        torch.testing.assert_close(out, reference, atol=3e-5, rtol=3e-5)


def test_core_on_a_large_graph_with_threads() -> None:
    """The shipped size (hidden 64, 8 steps, 6 edge features) on 20k edges: 1, 2 and 4
    threads agree with the model (thread-private message sums, reduced afterwards)."""
    torch.manual_seed(2)
    model = InteractionNetwork(4, 6, hidden=64, n_iterations=8).eval()
    x, edge_index, edge_attr = random_graph(8000, 20000, 4, 6)
    with torch.no_grad():
        reference = model(x, edge_index, edge_attr)
    for threads in (1, 2, 4):
        out = CoreInference(model, threads=threads)(x, edge_index, edge_attr)
        torch.testing.assert_close(out, reference, atol=1e-4, rtol=1e-4)


def test_core_portable_products_match_forward(tmp_path: Path) -> None:
    """The 8-wide products (what CPUs without AVX-512 run; forced here by
    ACTS_GNN_CORE_NO_AVX512 in a fresh process) give the model's logits too."""
    import os
    import subprocess
    import sys

    code = """
import torch
from acts_gnn.nn import InteractionNetwork
from acts_gnn.nn.files import random_graph
from acts_gnn.nn.core_inference import CoreInference
torch.manual_seed(4)
for hidden in (32, 64, 128, 12):
    model = InteractionNetwork(4, 6, hidden=hidden, n_iterations=2).eval()
    x, edge_index, edge_attr = random_graph(500, 1500, 4, 6)
    with torch.no_grad():
        reference = model(x, edge_index, edge_attr)
    out = CoreInference(model, threads=2)(x, edge_index, edge_attr)
    torch.testing.assert_close(out, reference, atol=3e-5, rtol=3e-5)
print("ok")
"""
    env = {**os.environ, "ACTS_GNN_CORE_NO_AVX512": "1"}
    done = subprocess.run(  # outside the checkout: the installed package, not the sources
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_core_edge_cases_and_checks() -> None:
    model = _model(0)
    core = CoreInference(model)
    assert core(torch.zeros(5, 4), torch.zeros(2, 0, dtype=torch.int64)).shape == (0,)
    one = torch.tensor([[2], [3]])
    x = torch.randn(9, 4)  # seven of the nine nodes have no edge: dropped, the same logit
    with torch.no_grad():
        torch.testing.assert_close(core(x, one), model(x, one), atol=1e-5, rtol=1e-5)
    with pytest.raises(IndexError, match="edge_index holds 9, outside"):
        core(x, torch.tensor([[2], [9]]))
    with pytest.raises(IndexError, match="edge_index holds -1"):
        core(x, torch.tensor([[-1], [3]]))
    with pytest.raises(ValueError, match="without edge features"):
        core(x, one, torch.zeros(1, 6))
    with pytest.raises(ValueError, match="x must have shape"):
        core(torch.zeros(5, 3), one)
    with_features = CoreInference(_model(6))
    with pytest.raises(ValueError, match="needs edge_attr"):
        with_features(x, one)
    with pytest.raises(ValueError, match=r"edge_attr must have shape \[E, 6\]"):
        with_features.kernel.logits(x.numpy(), one.numpy(), torch.zeros(2, 6).numpy(), 1)
    with pytest.raises(ValueError, match="does not evaluate GELU"):
        CoreInference(_model(0, activation="GELU"))
    with pytest.raises(ValueError, match="CPU only"):
        core.to(torch.device("cuda"))


def test_kernel_rejects_weights_that_do_not_chain() -> None:
    h = 8

    def layer(n_in: int, n_out: int) -> tuple[object, ...]:
        return (torch.zeros(n_in, n_out).numpy(), torch.zeros(n_out).numpy(), None, None, 1e-5, "")

    good = dict(
        node_encoder=[layer(4, h)],
        edge_encoder=[layer(2 * h, h)],
        steps=[([layer(3 * h, h)], [layer(3 * h, h)])],
        decoder=[layer(3 * h, 1)],
    )
    _core.InteractionNetworkKernel(4, 0, h, True, False, **good)
    with pytest.raises(ValueError, match=r"decoder maps 24 -> 2 values, expected 24 -> 1"):
        _core.InteractionNetworkKernel(4, 0, h, True, False, **{**good, "decoder": [layer(24, 2)]})
    with pytest.raises(ValueError, match="edge encoder maps 16"):
        _core.InteractionNetworkKernel(4, 3, h, True, False, **good)  # 2H + D inputs expected
    bad_step = [([layer(3 * h, h)], [layer(3 * h, h), layer(4, h)])]
    with pytest.raises(ValueError, match="step 0 edge net: layer 1 has inconsistent sizes"):
        _core.InteractionNetworkKernel(4, 0, h, True, False, **{**good, "steps": bad_step})
    bad = [(*layer(4, h)[:5], "GELU")]
    with pytest.raises(ValueError, match="no activation GELU"):
        _core.InteractionNetworkKernel(4, 0, h, True, False, **{**good, "node_encoder": bad})


needs_bf16 = pytest.mark.skipif(
    not _core.has_bf16_products(), reason="this CPU has no AVX-512 BF16"
)


@needs_bf16
@pytest.mark.parametrize("hidden", [32, 64])
def test_core_bf16_close_to_fp32(hidden: int) -> None:
    """bf16 products on the shipped sizes (hidden 32 and 64, 8 steps): scores within 0.05 of
    the model's (mean |difference| < 0.003: latents and sums stay float32), not equal to
    them, and the same on 1 and 2 threads up to the order of the message sums (which moves
    their bfloat16 rounding)."""
    torch.manual_seed(2)
    model = InteractionNetwork(4, 6, hidden=hidden, n_iterations=8).eval()
    x, edge_index, edge_attr = random_graph(2000, 4000, 4, 6)
    with torch.no_grad():
        reference = torch.sigmoid(model(x, edge_index, edge_attr))
    scores = torch.sigmoid(CoreInference(model, "bf16", threads=1)(x, edge_index, edge_attr))
    difference = (scores - reference).abs()
    assert float(difference.max()) < 0.05
    assert float(difference.mean()) < 0.003
    assert not torch.equal(scores, reference)  # it did run in bf16
    two = torch.sigmoid(CoreInference(model, "bf16", threads=2)(x, edge_index, edge_attr))
    torch.testing.assert_close(two, scores, atol=2e-3, rtol=0)  # sums rounded to bf16 anew


def test_core_bf16_refused_without_the_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CPU without AVX-512 BF16 the kernel refuses bf16, ``auto`` falls back to the
    torch fused engine and ``core`` says why."""
    monkeypatch.setattr(_core, "has_bf16_products", lambda: False)
    model = _model(0)
    with pytest.raises(ValueError, match="needs a CPU with AVX-512 BF16"):
        CoreInference(model, "bf16")
    cpu = torch.device("cpu")
    assert isinstance(choose_engine(model, {}, "auto", "bf16", cpu, "m"), FusedInference)
    with pytest.raises(ValueError, match="needs a CPU with AVX-512 BF16"):
        choose_engine(model, {}, "core", "bf16", cpu, "m")


def test_engine_choice() -> None:
    """``auto`` on CPU: the core kernel (bf16 where the CPU has it), the torch fused engine
    for an activation the kernel lacks; ``core`` is refused off the CPU and for such a
    model."""
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    model = _model(0)
    assert isinstance(choose_engine(model, {}, "auto", "fp32", cpu, "m"), CoreInference)
    assert isinstance(choose_engine(model, {}, "core", "fp32", cpu, "m"), CoreInference)
    bf16 = choose_engine(model, {}, "auto", "bf16", cpu, "m")
    expected = CoreInference if _core.has_bf16_products() else FusedInference
    assert isinstance(bf16, expected)
    assert bf16.precision == "bf16"
    assert isinstance(choose_engine(model, {}, "fused", "fp32", cpu, "m"), FusedInference)
    gelu = _model(0, activation="GELU")
    assert isinstance(choose_engine(gelu, {}, "auto", "fp32", cpu, "m"), FusedInference)
    with pytest.raises(ValueError, match="m: engine='core' runs on CPU only"):
        choose_engine(model, {}, "core", "fp32", cuda, "m")
    with pytest.raises(ValueError, match="engine='core' needs an InteractionNetwork"):
        choose_engine(gelu, {}, "core", "fp32", cpu, "m")

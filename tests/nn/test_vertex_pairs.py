"""The vertexing pair network: exact pair symmetry, invariances, shapes, TorchScript."""

from __future__ import annotations

import pytest
import torch

from acts_gnn.nn.files import model_from_checkpoint
from acts_gnn.nn.vertex_pairs import VertexPairNet, build_vertex_pair_net
from acts_gnn.train.vertexing import verify_inputs


@pytest.fixture
def model() -> VertexPairNet:
    torch.manual_seed(0)
    return VertexPairNet(hidden=16, embedding=8).eval()


def test_the_logit_is_exactly_symmetric_in_the_pair(model: VertexPairNet) -> None:
    x, pairs = verify_inputs(50, 300, 1)
    with torch.no_grad():
        forward, backward = model(x, pairs), model(x, pairs.flip(0))
    assert forward.shape == (300,)
    assert torch.equal(forward, backward)


def test_the_logit_does_not_depend_on_where_the_pair_sits(model: VertexPairNet) -> None:
    x, pairs = verify_inputs(40, 200, 2)
    x[:, 1] = torch.rand(40) * 2.0  # candidate pairs are close in z0
    shifted = x.clone()
    shifted[:, 1] += 25.0  # both tracks moved along z
    shifted[:, 2] = torch.remainder(shifted[:, 2] + 1.0 + torch.pi, 2 * torch.pi) - torch.pi
    with torch.no_grad():
        torch.testing.assert_close(model(shifted, pairs), model(x, pairs), atol=2e-4, rtol=0)
        # but it does depend on the distance in z of the two tracks
        apart = x.clone()
        apart[:20, 1] += 0.5
        one_moved = (pairs[0] < 20) != (pairs[1] < 20)
        change = (model(apart, pairs) - model(x, pairs)).abs()
        assert change[one_moved].min() > 1e-4
        assert change[~one_moved].max() < 2e-4


def test_shapes_zero_pairs_and_bad_input(model: VertexPairNet) -> None:
    x, _ = verify_inputs(5, 0, 0)
    assert model(x, torch.zeros(2, 0, dtype=torch.long)).shape == (0,)
    with pytest.raises(ValueError, match=r"\[N, 10\]"):
        model(x[:, :9], torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[2, P\]"):
        model(x, torch.zeros(3, 1, dtype=torch.long))


def test_scripted_equals_eager_and_config_rebuilds(model: VertexPairNet, tmp_path) -> None:
    x, pairs = verify_inputs(30, 90, 3)
    scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x, pairs), model(x, pairs), atol=1e-6, rtol=0)
    rebuilt = build_vertex_pair_net(model.config)
    rebuilt.load_state_dict(model.state_dict())
    path = tmp_path / "last.pt"
    torch.save(
        {
            "format": "acts-gnn-checkpoint",
            "model": "VertexPairNet",
            "model_config": model.config,
            "model_state": model.state_dict(),
            "metadata": {"window": 3.0},
        },
        path,
    )
    loaded, metadata = model_from_checkpoint(path)
    assert metadata == {"window": 3.0}
    with torch.no_grad():
        assert torch.equal(loaded(x, pairs), model(x, pairs))

"""EmbeddingNet's Fourier input encoding."""

from __future__ import annotations

import math

import pytest
import torch

from acts_gnn.nn.embedding import EmbeddingNet, build_embedding_net


def test_fourier_encoding_columns_and_periodicity() -> None:
    torch.manual_seed(0)
    model = EmbeddingNet(3, 4, hidden=16, n_layers=2, fourier_octaves=3, periodic_features=[1])
    x = torch.tensor([[0.2, 0.25, -0.7]])
    encoded = model.encode(x)
    # raw r and z, then sin and cos of 2^j pi x for (feature, j) in feature-major order
    assert encoded.shape == (1, 2 + 2 * 3 * 3)
    torch.testing.assert_close(encoded[0, :2], torch.tensor([0.2, -0.7]))
    phase = torch.tensor([0.2 * math.pi * 2**j for j in range(3)])
    torch.testing.assert_close(encoded[0, 2:5], torch.sin(phase))
    torch.testing.assert_close(encoded[0, 11:14], torch.cos(phase))
    # phi / pi = +1 and -1 are the same angle: the same embedding
    a, b = x.clone(), x.clone()
    a[0, 1], b[0, 1] = 1.0, -1.0
    with torch.no_grad():
        torch.testing.assert_close(model(a), model(b), atol=1e-5, rtol=0)
    # without the encoding, the raw features go straight in
    plain = EmbeddingNet(3, 4, hidden=16, n_layers=2)
    assert torch.equal(plain.encode(x), x)


def test_fourier_config_round_trip_and_validation() -> None:
    model = EmbeddingNet(4, 8, hidden=8, n_layers=1, fourier_octaves=2, periodic_features=[1])
    rebuilt = build_embedding_net(model.config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(7, 4)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))
    with pytest.raises(ValueError, match="fourier_octaves >= 1"):
        EmbeddingNet(4, 8, periodic_features=[1])
    with pytest.raises(ValueError, match="below node_features"):
        EmbeddingNet(4, 8, fourier_octaves=2, periodic_features=[4])

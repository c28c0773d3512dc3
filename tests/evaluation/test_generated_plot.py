"""The generated-distributions plot: what it counts, and that it draws two samples."""

from __future__ import annotations

import numpy as np

from acts_gnn.evaluation.plots import generated_distributions, plot_generated_distributions


def _table(rng, vertices, decays):
    """``vertices`` interactions of 10 charged pions at the origin, plus ``decays`` photon
    pairs from a displaced vertex at r = 10 mm in interaction 1."""
    n = 10 * vertices
    t = {
        "pdg": np.full(n, 211),
        "q": np.ones(n),
        "px": rng.normal(0, 1, n),
        "py": rng.normal(0, 1, n),
        "pz": rng.normal(0, 1, n),
        "vx": np.zeros(n),
        "vy": np.zeros(n),
        "vertex_primary": np.repeat(np.arange(1, vertices + 1), 10).astype(np.uint32),
        "vertex_secondary": np.zeros(n, dtype=np.uint32),
    }
    extra = {
        "pdg": np.full(2 * decays, 22),
        "q": np.zeros(2 * decays),
        "px": np.ones(2 * decays),
        "py": np.ones(2 * decays),
        "pz": np.ones(2 * decays),
        "vx": np.full(2 * decays, 6.0),
        "vy": np.full(2 * decays, 8.0),
        "vertex_primary": np.ones(2 * decays, dtype=np.uint32),
        "vertex_secondary": np.ones(2 * decays, dtype=np.uint32),
    }
    return {c: np.concatenate([t[c], extra[c]]) for c in t}


def test_generated_distributions_counts_and_plot(tmp_path):
    rng = np.random.default_rng(0)
    sample = [_table(rng, 3, 2), _table(rng, 5, 0)]
    d = generated_distributions(sample)
    np.testing.assert_array_equal(d["multiplicity_per_vertex"], [10] * 8)
    np.testing.assert_array_equal(d["particles_per_event"], [30, 50])
    np.testing.assert_array_equal(d["interactions_per_event"], [3, 5])
    np.testing.assert_allclose(d["r_decay"], [10.0] * 4)  # photons: not charged, still decays
    assert len(d["pt"]) == 80  # charged particles of the primary vertices only
    assert np.count_nonzero(d["species"] == 22) == 4
    assert len(d["r_fatras"]) == 0
    out = plot_generated_distributions(
        sample, tmp_path / "g.png", [_table(rng, 2, 1)], labels=("a", "b")
    )
    assert out.stat().st_size > 10_000

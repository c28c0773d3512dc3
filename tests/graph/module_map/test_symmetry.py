"""Detector symmetries (``symmetry.py``): mirror partners, augmented hits on their modules, and
a symmetric map containing the plain one.
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.graph.truth import TruthSelection


@pytest.mark.acts
def test_mirror_partners(symmetry) -> None:
    mirror = symmetry.mirror
    has = np.flatnonzero(mirror >= 0)
    assert len(has) > 0.5 * len(mirror)
    np.testing.assert_array_equal(mirror[mirror[has]], has)
    np.testing.assert_allclose(
        symmetry.centers[mirror[has]], symmetry.centers[has] * [1.0, 1.0, -1.0], atol=1e-6
    )
    assert np.all(symmetry.ring_size >= 1)


@pytest.mark.acts
def test_augmented_hits_lie_on_their_modules(tiny_events, symmetry, detector) -> None:
    """Copies made by the symmetries put every hit exactly on the plane of its new module."""
    from acts_gnn.graph.module_map.builder import truth_triplets
    from acts_gnn.graph.truth import truth_graph

    surfaces = detector.surfaces()
    e = tiny_events[0]
    rows = truth_triplets(truth_graph(e, TruthSelection(min_hits=3)))
    ids = e.hits["geometry_id"]
    # exact (float64) positions on the modules, from the local measurement coordinates
    on_plane = surfaces.local_to_global(
        ids, e.hits["loc0"].astype(np.float64), e.hits["loc1"].astype(np.float64)
    )
    positions, modules = on_plane[rows], ids[rows]
    assert np.abs(surfaces.global_to_local(ids, on_plane)[:, 2]).max() < 1e-6
    for mirror_z, rotate_phi in ((True, False), (False, True), (True, True)):
        new_pos, new_mod = symmetry.augment(positions, modules, mirror_z, rotate_phi)
        assert len(new_mod) > (len(modules) if rotate_phi else len(modules) // 4)
        local = surfaces.global_to_local(new_mod.reshape(-1), new_pos.reshape(-1, 3))
        assert np.abs(local[:, 2]).max() < 1e-6
        # the copies are new module triplets or the same ones (never unknown modules)
        assert np.all(np.isin(new_mod, symmetry.geometry_ids))
    # mirroring only: every copy is an input triplet with z negated
    mirrored, _ = symmetry.augment(positions, modules, True, False)
    inputs = {tuple(p.ravel()) for p in positions}
    assert all(tuple((p * [1.0, 1.0, -1.0]).ravel()) in inputs for p in mirrored)


@pytest.mark.acts
def test_symmetric_map_contains_plain_map(tiny_map, tiny_map_symmetric) -> None:
    plain, augmented = tiny_map, tiny_map_symmetric
    assert augmented.n_triplets > plain.n_triplets
    index = {
        tuple(int(augmented.modules[i]) for i in row): t for t, row in enumerate(augmented.triplets)
    }
    for t, row in enumerate(plain.triplets):
        key = tuple(int(plain.modules[i]) for i in row)
        assert key in index
        u = index[key]
        assert augmented.occurrence[u] >= plain.occurrence[t]
        for name in ("cuts12", "cuts23", "diff_dzdr", "diff_dydx"):
            mine, theirs = getattr(plain, name)[t], getattr(augmented, name)[u]
            assert np.all(theirs[..., 0] <= mine[..., 0])
            assert np.all(theirs[..., 1] >= mine[..., 1])

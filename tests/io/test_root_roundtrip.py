"""particles.root / hits.root written by simulate(), read back by ACTS's own uproot readers.

ACTS's ``UprootParticleReader`` / ``UprootSimHitReader`` (acts.examples.uproot) are the
readers a user of the files would run; every particle and hit they put on the whiteboard is
recorded by a small Python algorithm and compared with the arrays uproot reads from the files.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import uproot

from acts_gnn.io.root_writer import METADATA_KEY
from acts_gnn.io.schemas import HIT_BRANCHES, PARTICLE_BRANCHES, barcode_hash
from acts_gnn.simulation import simulate
from acts_gnn.simulation.fatras import RUN_INFO_FILE

pytestmark = pytest.mark.acts


def _run_acts_readers(directory, events: int) -> dict[str, dict[int, Any]]:
    """Run a Sequencer with ACTS's uproot readers and record what they provide."""
    import acts
    import acts.examples
    from acts.examples.uproot import UprootParticleReader, UprootSimHitReader

    level = acts.logging.WARNING
    seen: dict[str, dict[int, Any]] = {"particles": {}, "hits": {}}

    class Recorder(acts.examples.IAlgorithm):
        def __init__(self) -> None:
            super().__init__("TestRecorder", level)
            self.particles = acts.examples.ReadDataHandle(
                self, acts.examples.SimParticleContainer, "InputParticles"
            )
            self.particles.initialize("particles")
            self.hits = acts.examples.ReadDataHandle(
                self, acts.examples.SimHitContainer, "InputSimHits"
            )
            self.hits.initialize("simhits")

        def execute(self, context: Any) -> Any:
            rows = []
            for p in self.particles(context.eventStore):
                b = p.particleId
                rows.append(
                    (
                        b.vertexPrimary,
                        b.vertexSecondary,
                        b.particle,
                        b.generation,
                        b.subParticle,
                        int(p.pdg),
                        *np.asarray(p.direction) * p.absoluteMomentum,
                        *np.asarray(p.fourPosition),
                    )
                )
            seen["particles"][context.eventNumber] = np.array(rows, dtype=np.float64).reshape(
                -1, 13
            )
            rows = []
            for h in self.hits(context.eventStore):
                b = h.particleId
                rows.append(
                    (
                        h.geometryId.value,
                        b.vertexPrimary,
                        b.vertexSecondary,
                        b.particle,
                        b.generation,
                        b.subParticle,
                        *np.asarray(h.fourPosition)[:3],
                        h.index,
                    )
                )
            seen["hits"][context.eventNumber] = rows
            return acts.examples.ProcessCode.SUCCESS

    sequencer = acts.examples.Sequencer(
        events=events, numThreads=1, logLevel=level, trackFpes=False
    )
    sequencer.addReader(
        UprootParticleReader(
            filePath=str(directory / "particles.root"), outputParticles="particles", level=level
        )
    )
    sequencer.addReader(
        UprootSimHitReader(
            filePath=str(directory / "hits.root"), outputSimHits="simhits", level=level
        )
    )
    sequencer.addAlgorithm(Recorder())
    sequencer.run()
    return seen


@pytest.fixture(scope="module")
def acts_view(sim_sample):
    return _run_acts_readers(sim_sample.directory, sim_sample.events)


@pytest.fixture(scope="module")
def root_view(sim_sample):
    with uproot.open(sim_sample.particles_file) as f:
        particles = f["particles"].arrays(library="np")
    with uproot.open(sim_sample.hits_file) as f:
        hits = f["hits"].arrays(library="np")
    return particles, hits


def test_event_counts(sim_sample, acts_view, root_view):
    particles, hits = root_view
    assert sorted(acts_view["particles"]) == list(range(sim_sample.events))
    assert sorted(acts_view["hits"]) == list(range(sim_sample.events))
    np.testing.assert_array_equal(particles["event_id"], np.arange(sim_sample.events))
    for event in range(sim_sample.events):
        n_particles = len(particles["particle_type"][event])
        n_hits = int(np.sum(hits["event_id"] == event))
        assert n_particles > 0
        assert n_hits > 0
        assert len(acts_view["particles"][event]) == n_particles
        assert len(acts_view["hits"][event]) == n_hits
        assert sim_sample.result.particles_per_event[event] == n_particles
        assert sim_sample.result.hits_per_event[event] == n_hits


def test_particles_equal(sim_sample, acts_view, root_view):
    particles, _ = root_view
    for event in range(sim_sample.events):
        ours = acts_view["particles"][event]
        ids = np.stack(
            [
                particles[c][event]
                for c in (
                    "vertex_primary",
                    "vertex_secondary",
                    "particle",
                    "generation",
                    "sub_particle",
                )
            ],
            axis=1,
        ).astype(np.int64)
        # match rows by barcode (the ACTS container is ordered by barcode)
        order_root = np.lexsort(ids.T[::-1])
        order_acts = np.lexsort(ours[:, :5].T[::-1])
        np.testing.assert_array_equal(ours[order_acts, :5], ids[order_root])
        np.testing.assert_array_equal(
            ours[order_acts, 5], particles["particle_type"][event][order_root]
        )
        momentum = np.stack([particles[c][event] for c in ("px", "py", "pz")], axis=1)
        np.testing.assert_allclose(
            ours[order_acts, 6:9], momentum[order_root], rtol=2e-6, atol=1e-6
        )
        vertex = np.stack([particles[c][event] for c in ("vx", "vy", "vz", "vt")], axis=1)
        np.testing.assert_allclose(ours[order_acts, 9:13], vertex[order_root], rtol=1e-6, atol=1e-6)
        # particle_hash is the documented hash of the barcode
        expected_hash = barcode_hash(*(ids[:, k] for k in range(5)))
        np.testing.assert_array_equal(particles["particle_hash"][event], expected_hash)


def test_hits_equal(sim_sample, acts_view, root_view):
    _, hits = root_view
    for event in range(sim_sample.events):
        sel = hits["event_id"] == event
        root = np.stack(
            [
                hits[c][sel].astype(np.float64)
                for c in (
                    "barcode_vertex_primary",
                    "barcode_vertex_secondary",
                    "barcode_particle",
                    "barcode_generation",
                    "barcode_sub_particle",
                    "tx",
                    "ty",
                    "tz",
                    "index",
                )
            ],
            axis=1,
        )
        root_gid = hits["geometry_id"][sel]
        rows = acts_view["hits"][event]
        acts_gid = np.array([r[0] for r in rows], dtype=np.uint64)
        ours = np.array([r[1:] for r in rows], dtype=np.float64)
        key_root = np.lexsort((root[:, 8], *root[:, :5].T[::-1], root_gid))
        key_acts = np.lexsort((ours[:, 8], *ours[:, :5].T[::-1], acts_gid))
        np.testing.assert_array_equal(acts_gid[key_acts], root_gid[key_root])
        np.testing.assert_array_equal(ours[key_acts][:, :5], root[key_root][:, :5])
        np.testing.assert_array_equal(ours[key_acts][:, 8], root[key_root][:, 8])
        np.testing.assert_allclose(
            ours[key_acts][:, 5:8], root[key_root][:, 5:8], rtol=1e-6, atol=1e-4
        )


def test_hit_branches_are_consistent(sim_sample, root_view):
    particles, hits = root_view
    # the geometry-id fields are those of the packed id
    gid = hits["geometry_id"]
    np.testing.assert_array_equal(hits["volume_id"], (gid >> np.uint64(56)) & np.uint64(0xFF))
    np.testing.assert_array_equal(hits["layer_id"], (gid >> np.uint64(36)) & np.uint64(0xFFF))
    np.testing.assert_array_equal(hits["sensitive_id"], (gid >> np.uint64(8)) & np.uint64(0xFFFFF))
    assert set(np.unique(hits["volume_id"])) <= {7, 8, 9, 12, 13, 14, 16, 17, 18}
    # hits grouped by event, and each hit's barcode is a particle of its event
    assert np.all(np.diff(hits["event_id"].astype(np.int64)) >= 0)
    for event in range(sim_sample.events):
        sel = hits["event_id"] == event
        hit_hash = barcode_hash(
            hits["barcode_vertex_primary"][sel],
            hits["barcode_vertex_secondary"][sel],
            hits["barcode_particle"][sel],
            hits["barcode_generation"][sel],
            hits["barcode_sub_particle"][sel],
        )
        assert np.isin(hit_hash, particles["particle_hash"][event]).all()
        # a hard-scatter event: some simulated particles above 10 GeV
        assert particles["pt"][event].max() > 10.0


def test_branch_types_follow_the_acts_schema(sim_sample):
    with uproot.open(sim_sample.particles_file) as f:
        tree = f["particles"]
        for name, dtype in PARTICLE_BRANCHES.items():
            interpretation = tree[name].interpretation
            got = getattr(interpretation, "content", interpretation).to_dtype
            assert np.dtype(got) == dtype, name
    with uproot.open(sim_sample.hits_file) as f:
        tree = f["hits"]
        for name, dtype in HIT_BRANCHES.items():
            assert np.dtype(tree[name].interpretation.to_dtype) == dtype, name


def test_run_info_records_seed(sim_sample, tiny_config):
    info = json.loads((sim_sample.directory / RUN_INFO_FILE).read_text())
    assert info["seed"] == sim_sample.seed
    assert info["events"] == sim_sample.events
    assert info["generator"]["pileup"] == tiny_config.pileup
    assert info["generator"]["generator"] == "pythia8"
    assert "Top:qqbar2ttbar = on" in info["generator"]["hard_process"]
    assert info["detector"] == "generic"
    # the ACTS version as a version number, not an object's repr
    assert info["acts_version"].split(".")[0] == "48", info["acts_version"]
    # the same settings are stored inside each ROOT file
    for name in ("particles.root", "hits.root"):
        with uproot.open(sim_sample.directory / name) as f:
            assert json.loads(str(f[METADATA_KEY])) == info


def _all_branches(directory) -> dict[str, Any]:
    out = {}
    with uproot.open(directory / "particles.root") as f:
        for name, values in f["particles"].arrays(library="np").items():
            out[f"particles/{name}"] = values
    with uproot.open(directory / "hits.root") as f:
        for name, values in f["hits"].arrays(library="np").items():
            out[f"hits/{name}"] = values
    return out


def _equal(a, b) -> bool:
    if a.dtype == object:
        return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b)


def test_same_seed_gives_identical_files_and_other_seed_differs(
    tmp_path, sim_sample, tiny_config, detector
):
    reference = _all_branches(sim_sample.directory)
    again = tmp_path / "again"
    simulate(
        again,
        events=sim_sample.events,
        generator=tiny_config,
        seed=sim_sample.seed,
        detector=detector,
        progress=False,
    )
    repeat = _all_branches(again)
    assert repeat.keys() == reference.keys()
    for name in reference:
        assert _equal(repeat[name], reference[name]), name

    other = tmp_path / "other"
    simulate(
        other,
        events=sim_sample.events,
        generator=tiny_config,
        seed=sim_sample.seed + 1,
        detector=detector,
        progress=False,
    )
    different = _all_branches(other)
    assert json.loads((other / RUN_INFO_FILE).read_text())["seed"] == sim_sample.seed + 1
    assert not _equal(different["hits/tx"], reference["hits/tx"])
    assert not _equal(different["particles/px"], reference["particles/px"])


def test_no_partial_files_left(sim_sample):
    names = sorted(p.name for p in sim_sample.directory.iterdir())
    assert names == ["hits.root", "particles.root", RUN_INFO_FILE]


def test_zero_events_rejected(tmp_path, tiny_config):
    with pytest.raises(ValueError, match="events"):
        simulate(tmp_path / "none", events=0, generator=tiny_config, progress=False)

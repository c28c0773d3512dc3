"""prepare(): ROOT simulation -> ACTS digitization -> Parquet event tables, on the tiny sample.

The prepared tables are checked against an independent ACTS chain (ACTS's own uproot readers,
``DigitizationAlgorithm`` with the same seed, ``SpacePointMaker``) and against the simulated
hits they came from.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import uproot

from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS
from acts_gnn.graph import truth_graph
from acts_gnn.io.event_store import (
    DATASET_FILE,
    PreparedDataset,
    list_events,
    read_dataset_info,
    read_event,
)
from acts_gnn.io.root_reader import SimulationFiles, make_root_reader
from acts_gnn.io.schemas import barcode_hash, decode_geometry_id
from acts_gnn.simulation.prepare import prepare

pytestmark = pytest.mark.acts

#: Digitization sigma (loc0, loc1) [mm] per volume, from geometry/generic/make_configs.py.
SIGMA = {
    7: (0.015, 0.015),
    8: (0.015, 0.015),
    9: (0.015, 0.015),
    12: (0.025, 0.35),
    13: (0.025, 0.35),
    14: (0.025, 0.35),
    16: (0.035, 1.0),
    17: (0.035, 1.0),
    18: (0.035, 1.0),
}
PIXEL = (7, 8, 9)


def _acts_space_points(sim_dir, events: int, detector, seed: int) -> dict[int, dict[str, Any]]:
    """A second chain: reader + ACTS digitization + ACTS SpacePointMaker.

    The reader is the package's (one reader, like prepare): ACTS derives the digitization's
    random stream from the seed *and* the algorithm's place in the sequence, so a chain with
    ACTS's two uproot readers smears differently (the sim hits themselves are identical, see
    tests/io/test_root_roundtrip.py).
    """
    import acts
    import acts.examples
    import acts.examples.json
    from acts.examples.simulation import addDigitization

    level = acts.logging.WARNING
    seen: dict[int, dict[str, Any]] = {}
    sequencer = acts.examples.Sequencer(
        events=events, numThreads=1, logLevel=level, trackFpes=False
    )
    for decorator in detector.decorators:
        sequencer.addContextDecorator(decorator)
    sequencer.addReader(make_root_reader(SimulationFiles.from_dir(sim_dir), level))
    addDigitization(
        sequencer,
        detector.tracking_geometry,
        detector.field,
        digiConfigFile=detector.digi_config_file,
        rnd=acts.examples.RandomNumbers(seed=seed),
        logLevel=level,
    )
    sequencer.addAlgorithm(
        acts.examples.SpacePointMaker(
            level=level,
            inputMeasurements="measurement_subset",
            outputSpacePoints="spacepoints",
            trackingGeometry=detector.tracking_geometry,
            geometrySelection=acts.examples.json.readJsonGeometryList(
                str(detector.spacepoint_selection_file)
            ),
        )
    )

    class Recorder(acts.examples.IAlgorithm):
        def __init__(self) -> None:
            super().__init__("TestSpacePointRecorder", level)
            self.measurements = acts.examples.ReadDataHandle(
                self, acts.examples.MeasurementContainer, "InputMeasurements"
            )
            self.measurements.initialize("measurements")
            self.space_points = acts.examples.ReadDataHandle(
                self, acts.SpacePointContainer, "InputSpacePoints"
            )
            self.space_points.initialize("spacepoints")

        def execute(self, context: Any) -> Any:
            measurements = self.measurements(context.eventStore)
            sps = self.space_points(context.eventStore)
            index = []
            for sp in sps:
                links = list(sp.sourceLinks)
                assert len(links) == 1
                link = acts.examples.IndexSourceLink.fromSourceLink(links[0])
                index.append(link.index() if callable(link.index) else link.index)
            seen[context.eventNumber] = {
                "n_measurements": len(measurements),
                "geometry_id": np.array([m.geometryId.value for m in measurements], np.uint64),
                "local": np.array(
                    [(m.fullParameters[0], m.fullParameters[1]) for m in measurements]
                ).reshape(-1, 2),
                "index": np.array(index, dtype=np.int64),
                "xyz": np.stack(
                    [np.asarray(sps.x), np.asarray(sps.y), np.asarray(sps.z)], axis=1
                ).astype(np.float64),
            }
            return acts.examples.ProcessCode.SUCCESS

    sequencer.addAlgorithm(Recorder())
    sequencer.run()
    return seen


@pytest.fixture(scope="module")
def acts_chain(prepared_sample, detector):
    info = read_dataset_info(prepared_sample.directory)
    sim = prepared_sample.simulation
    return _acts_space_points(sim.directory, sim.events, detector, info["digitization_seed"])


@pytest.fixture(scope="module")
def events(prepared_events):
    return prepared_events


@pytest.fixture(scope="module")
def sim_hits(prepared_sample):
    with uproot.open(prepared_sample.simulation.hits_file) as f:
        return f["hits"].arrays(library="np")


def test_report_and_dataset_info(prepared_sample):
    report = prepared_sample.report
    n = prepared_sample.simulation.events
    assert report.written == list(range(n))
    assert report.skipped == {}
    assert report.hits_without_particle == 0
    assert len(report.seconds_per_event) == n
    assert "events written: 2" in report.summary()
    info = read_dataset_info(prepared_sample.directory)
    assert info["events"] == list(range(n))
    assert info["skipped"] == {}
    assert info["detector"] == "generic"
    assert info["measurements_without_particle"] == 0
    # no sim hit lost by digitization in a clean sample (counted where there are: see
    # tests/io/test_mismatched_inputs.py)
    assert info["simhits_without_measurement"] == 0
    assert info["simhits_without_measurement_per_event"] == {}
    assert report.simhits_dropped == {}
    assert "sim hits dropped" not in report.summary()
    assert info["input"] == str(prepared_sample.simulation.directory.resolve())
    assert isinstance(info["digitization_seed"], int)
    assert json.loads((prepared_sample.directory / DATASET_FILE).read_text()) == info


def test_files_and_dataset(prepared_sample, events):
    directory = prepared_sample.directory
    assert list_events(directory) == [0, 1]
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        DATASET_FILE,
        "event000000000-hits.parquet",
        "event000000000-particles.parquet",
        "event000000001-hits.parquet",
        "event000000001-particles.parquet",
    ]
    dataset = PreparedDataset(directory)
    assert len(dataset) == 2
    assert [e.event_id for e in events] == [0, 1]
    assert dataset[1].n_hits == events[1].n_hits
    for event in events:
        assert set(event.hits) == set(HIT_COLUMNS)
        assert set(event.particles) == set(PARTICLE_COLUMNS)
        for column, dtype in HIT_COLUMNS.items():
            assert event.hits[column].dtype == dtype, column
        for column, dtype in PARTICLE_COLUMNS.items():
            assert event.particles[column].dtype == dtype, column
        assert event.n_hits > 100


def test_hit_count_equals_acts_measurements(events, acts_chain, prepared_sample):
    for event in events:
        acts_event = acts_chain[event.event_id]
        assert event.n_hits == acts_event["n_measurements"]
        np.testing.assert_array_equal(event.hits["measurement_id"], np.arange(event.n_hits))
        np.testing.assert_array_equal(event.hits["geometry_id"], acts_event["geometry_id"])
    # no simulated hit is lost on the way (smearing digitization: one measurement per hit)
    # but those whose smeared position leaves the module and those ACTS merges into another
    # hit's measurement on the same module (two crossings of one module), which are counted
    report = prepared_sample.report
    lost = [
        report.simhits_dropped.get(e.event_id, 0) + report.simhits_merged.get(e.event_id, 0)
        for e in events
    ]
    assert [e.n_hits + n for e, n in zip(events, lost, strict=True)] == (
        prepared_sample.simulation.result.hits_per_event
    )
    assert sum(report.simhits_merged.values()) > 0  # Pythia8 events have some
    assert report.simhits_merged_other_particle <= sum(report.simhits_merged.values())
    assert "merged by ACTS digitization" in report.summary()


def test_surface_transforms_agree_with_acts_space_points(acts_chain, detector):
    # independent of any randomness: ACTS's space point of a measurement = our transform of it
    for acts_event in acts_chain.values():
        index = acts_event["index"]
        assert len(index) == acts_event["n_measurements"]  # one space point per measurement
        assert len(np.unique(index)) == len(index)
        local = acts_event["local"][index]
        ours = detector.surfaces().local_to_global(
            acts_event["geometry_id"][index], local[:, 0], local[:, 1]
        )
        # ACTS stores space points in float32: ~1e-4 mm at 1 m
        np.testing.assert_allclose(ours, acts_event["xyz"], rtol=1e-6, atol=5e-4)


def test_positions_agree_with_acts_space_points(events, acts_chain):
    for event in events:
        acts_event = acts_chain[event.event_id]
        assert len(acts_event["index"]) == event.n_hits
        ours = event.positions()[acts_event["index"]]
        # same seed, same sequence layout: the same smeared measurements, float32 on both sides
        np.testing.assert_allclose(ours, acts_event["xyz"], rtol=1e-6, atol=5e-4)
        np.testing.assert_allclose(
            np.stack([event.hits["loc0"], event.hits["loc1"]], axis=1),
            acts_event["local"],
            atol=1e-5,
        )


def test_every_hit_has_a_particle(events):
    for event in events:
        pid = event.hits["particle_id"]
        assert np.all(pid >= 0)
        assert np.all(pid < event.n_particles)
        np.testing.assert_array_equal(event.particles["particle_id"], np.arange(event.n_particles))


def test_n_measurements_consistent(events):
    for event in events:
        counts = np.bincount(event.hits["particle_id"], minlength=event.n_particles)
        np.testing.assert_array_equal(event.particles["n_measurements"], counts)
        # truth graph: hits - 1 edges per particle with hits
        n = event.particles["n_measurements"].astype(np.int64)
        assert truth_graph(event).shape[1] == int(np.sum(np.maximum(n - 1, 0)))


def test_hit_columns_are_consistent(events, detector):
    for event in events:
        h = event.hits
        x, y, z = (h[c].astype(np.float64) for c in ("x", "y", "z"))
        r = np.hypot(x, y)
        np.testing.assert_allclose(h["r"], r, rtol=1e-5)
        np.testing.assert_allclose(h["phi"], np.arctan2(y, x), atol=1e-5)
        np.testing.assert_allclose(h["eta"], np.arcsinh(z / r), atol=1e-5)
        np.testing.assert_array_equal(
            h["volume_id"], decode_geometry_id(h["geometry_id"], "volume")
        )
        np.testing.assert_array_equal(h["layer_id"], decode_geometry_id(h["geometry_id"], "layer"))
        assert set(np.unique(h["volume_id"])) <= set(SIGMA)
        # the global position is the local measurement on its surface
        local = detector.surfaces().global_to_local(h["geometry_id"], event.positions())
        np.testing.assert_allclose(local[:, 0], h["loc0"], atol=2e-3)
        np.testing.assert_allclose(local[:, 1], h["loc1"], atol=2e-3)
        # measurement variances are the configured smearing
        for volume, (s0, s1) in SIGMA.items():
            sel = h["volume_id"] == volume
            np.testing.assert_allclose(h["var_loc0"][sel], s0**2, rtol=1e-5)
            np.testing.assert_allclose(h["var_loc1"][sel], s1**2, rtol=1e-5)


def test_particle_table_matches_particles_root(events, prepared_sample):
    with uproot.open(prepared_sample.simulation.particles_file) as f:
        root = f["particles"].arrays(library="np")
    for event in events:
        p = event.particles
        k = event.event_id
        np.testing.assert_array_equal(p["pdg"], root["particle_type"][k])
        np.testing.assert_array_equal(p["vertex_primary"], root["vertex_primary"][k])
        np.testing.assert_array_equal(p["particle"], root["particle"][k])
        np.testing.assert_array_equal(p["generation"], root["generation"][k])
        np.testing.assert_allclose(p["px"], root["px"][k], rtol=1e-6)
        np.testing.assert_allclose(p["vz"], root["vz"][k], rtol=1e-6)
        np.testing.assert_allclose(p["pt"], np.hypot(root["px"][k], root["py"][k]), rtol=1e-5)
        np.testing.assert_allclose(p["eta"], root["eta"][k], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(
            p["is_primary"],
            (root["generation"][k] == 0) & (root["vertex_secondary"][k] == 0),
        )
        # Fatras secondaries exist and are flagged
        assert p["is_primary"].any()


def _matched_residuals(event, sim_hits, detector):
    """Local residuals (measurement - sim hit) for hits whose (module, particle) is unique."""
    sel = sim_hits["event_id"] == event.event_id
    sim_hash = barcode_hash(
        *(
            sim_hits[f"barcode_{c}"][sel]
            for c in (
                "vertex_primary",
                "vertex_secondary",
                "particle",
                "generation",
                "sub_particle",
            )
        )
    )
    sim_gid = sim_hits["geometry_id"][sel]
    sim_xyz = np.stack([sim_hits[c][sel] for c in ("tx", "ty", "tz")], axis=1).astype(float)
    p = event.particles
    part_hash = barcode_hash(
        p["vertex_primary"],
        p["vertex_secondary"],
        p["particle"],
        p["generation"],
        p["sub_particle"],
    )
    hit_hash = part_hash[event.hits["particle_id"]]
    hit_gid = event.hits["geometry_id"]

    sim_keys = {}
    for k, key in enumerate(zip(sim_gid.tolist(), sim_hash.tolist())):
        sim_keys.setdefault(key, []).append(k)
    rows, sim_rows = [], []
    for row, key in enumerate(zip(hit_gid.tolist(), hit_hash.tolist())):
        match = sim_keys.get(key, [])
        if len(match) == 1:
            rows.append(row)
            sim_rows.append(match[0])
    rows = np.array(rows)
    sim_rows = np.array(sim_rows)
    sim_local = detector.surfaces().global_to_local(hit_gid[rows], sim_xyz[sim_rows])
    residual0 = event.hits["loc0"][rows] - sim_local[:, 0]
    residual1 = event.hits["loc1"][rows] - sim_local[:, 1]
    distance = np.linalg.norm(event.positions()[rows] - sim_xyz[sim_rows], axis=1)
    return rows, residual0, residual1, distance


def test_residuals_are_the_digitization_smearing(events, sim_hits, detector):
    volume, r0, r1, distance = [], [], [], []
    for event in events:
        rows, a, b, d = _matched_residuals(event, sim_hits, detector)
        # nearly every measurement has exactly one sim hit of its particle on its module
        assert len(rows) > 0.95 * event.n_hits
        volume.append(event.hits["volume_id"][rows])
        r0.append(a)
        r1.append(b)
        distance.append(d)
    volume = np.concatenate(volume)
    r0, r1, distance = np.concatenate(r0), np.concatenate(r1), np.concatenate(distance)

    pixel = np.isin(volume, PIXEL)
    assert pixel.sum() > 300
    # pixel: 15 um in loc0 and loc1 (statistical precision of the std ~ 1/sqrt(2N) < 5 %)
    assert np.std(r0[pixel]) == pytest.approx(0.015, rel=0.15)
    assert np.std(r1[pixel]) == pytest.approx(0.015, rel=0.15)
    assert abs(np.mean(r0[pixel])) < 0.003
    # pixel hits are moved by ~sqrt(2) * 15 um in space, never by millimetres
    assert np.median(distance[pixel]) < 0.05
    assert np.max(distance[pixel]) < 0.2
    # strips: loc0 precise, loc1 (along the strip) coarse
    for volumes, (s0, s1) in (((12, 13, 14), SIGMA[13]), ((16, 17, 18), SIGMA[17])):
        sel = np.isin(volume, volumes)
        if sel.sum() < 100:
            continue
        assert np.std(r0[sel]) == pytest.approx(s0, rel=0.25)
        assert np.std(r1[sel]) == pytest.approx(s1, rel=0.25)


def test_same_seed_gives_same_tables(prepared_sample, tmp_path, detector, events):
    info = read_dataset_info(prepared_sample.directory)
    again = tmp_path / "again"
    prepare(
        prepared_sample.simulation.directory,
        again,
        detector=detector,
        seed=info["digitization_seed"],
        progress=False,
    )
    other = tmp_path / "other"
    other_report = prepare(
        prepared_sample.simulation.directory,
        other,
        detector=detector,
        seed=info["digitization_seed"] + 1,
        events=1,
        progress=False,
    )
    for event in events:
        repeat = read_event(again, event.event_id)
        for column in HIT_COLUMNS:
            np.testing.assert_array_equal(repeat.hits[column], event.hits[column], column)
        for column in PARTICLE_COLUMNS:
            np.testing.assert_array_equal(repeat.particles[column], event.particles[column])
    # a different digitization seed smears differently; events=1 writes only the first event
    assert list_events(other) == [0]
    changed = read_event(other, 0)

    # (the same sim hits: only those smeared outside their module differ, and are counted)
    def lost(report):
        return report.simhits_dropped.get(0, 0) + report.simhits_merged.get(0, 0)

    assert changed.n_hits + lost(other_report) == events[0].n_hits + lost(prepared_sample.report)
    assert not np.array_equal(changed.hits["loc0"], events[0].hits["loc0"])
    # the same modules, but for the few hits the other smearing keeps and this one drops
    extra = np.setdiff1d(changed.hits["geometry_id"], events[0].hits["geometry_id"])
    assert len(extra) <= prepared_sample.report.simhits_dropped.get(0, 0)

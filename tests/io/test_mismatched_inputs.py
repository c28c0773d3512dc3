"""Files that are each fine but do not belong together, and inputs that used to give silent
wrong results, hangs or deep tracebacks (issue 20, reading and prepare half).

Each test makes its bad input from the shared tiny sample (2 events) with uproot. Every case
ends in an InputDataError naming file, event and field, or in a counted, reported skip.
"""

from __future__ import annotations

import json
import logging
import os
import time

import awkward as ak
import numpy as np
import pytest
import uproot

from acts_gnn.cli import main
from acts_gnn.errors import InputDataError
from acts_gnn.io.event_store import (
    DATASET_FILE,
    PreparedDataset,
    event_files,
    list_events,
    merge_prepared,
    read_dataset_info,
    read_event,
    write_dataset_info,
    write_event,
)
from acts_gnn.io.root_reader import ENTRY_COLUMN, SimulationFiles
from acts_gnn.io.root_writer import METADATA_KEY
from acts_gnn.io.schemas import decode_geometry_id
from acts_gnn.io.sim_checks import check_event
from tests.io.test_event_store import random_event


def _prepare(*args, **kwargs):
    from acts_gnn.simulation.prepare import prepare

    return prepare(*args, progress=False, **kwargs)


# -- 1. particles.root of another run with the same event ids ------------------------------


def _swap_particle_events(directory, read_tree, write_tree) -> None:
    """particles.root whose event 0 holds event 1's particles and vice versa: the same ids,
    overlapping barcodes (small vertex and particle numbers), other particles."""
    particles = read_tree(directory / "particles.root", "particles")
    swapped = {k: (v if k == "event_id" else v[::-1]) for k, v in particles.items()}
    write_tree(directory / "particles.root", "particles", swapped)


def test_particles_of_another_run_are_refused(sample_copy, read_tree, write_tree):
    good = SimulationFiles.from_dir(sample_copy)
    for event_id in good.event_ids:  # the true pair passes all three tests
        good.event(event_id)
    _swap_particle_events(sample_copy, read_tree, write_tree)
    files = SimulationFiles.from_dir(sample_copy)  # ids agree: nothing to see up front
    with pytest.raises(InputDataError, match="do not belong together") as info:
        files.event(0)
    assert info.value.file == str(sample_copy / "particles.root")
    assert info.value.event == 0
    assert info.value.field in ("barcode_particle", "px", "number_of_hits")
    assert "more momentum than their particle" in str(info.value)


def test_a_few_orphan_hits_are_tolerated(sample_copy):
    # a particle file without some secondaries is still the right file: 2 % orphans pass
    files = SimulationFiles.from_dir(sample_copy)
    particles, hits = files.particles(0), files.hits(0)
    hits = {k: v.copy() for k, v in hits.items()}
    n = len(hits["geometry_id"])
    few = np.arange(0, n, 50)
    hits["barcode_particle"][few] = 999_999
    check_event(0, particles, hits)
    many = np.arange(0, n, 2)  # half the hits: refused
    hits["barcode_particle"][many] = 999_999
    with pytest.raises(InputDataError, match="not among the event's particles") as info:
        check_event(0, particles, hits, "p.root")
    assert (info.value.event, info.value.field) == (0, "barcode_particle")


@pytest.mark.acts
def test_particles_of_another_run_through_prepare(sample_copy, read_tree, write_tree, tmp_path):
    _swap_particle_events(sample_copy, read_tree, write_tree)
    with pytest.raises(InputDataError, match="do not belong together") as info:
        _prepare(sample_copy, tmp_path / "out")
    assert info.value.event == 0
    assert "particles.root" in str(info.value)
    assert not event_files(tmp_path / "out")  # nothing left behind
    assert not (tmp_path / "out" / DATASET_FILE).exists()


@pytest.mark.acts
def test_particles_of_another_run_through_the_sequencer_reader(sample_copy, read_tree, write_tree):
    # the reader of compare / addRootSimulationInput refuses the event, it does not serve it
    import acts
    import acts.examples

    from acts_gnn.io.root_reader import make_root_reader

    _swap_particle_events(sample_copy, read_tree, write_tree)
    level = acts.logging.FATAL
    sequencer = acts.examples.Sequencer(numThreads=1, logLevel=level, trackFpes=False)
    reader = make_root_reader(SimulationFiles.from_dir(sample_copy), level)
    sequencer.addReader(reader)
    with pytest.raises(InputDataError, match="do not belong together") as info:
        sequencer.run()
    assert info.value.event == 0


def _with_metadata(path, tree_name, metadata: dict) -> None:
    """Rewrite a file with the same tree and another run-metadata string."""
    with uproot.open(path) as f:
        tree = f[tree_name]
        keys = tree.keys()
        names = [k for k in keys if not (k.startswith("n") and k[1:] in keys)]
        columns = {k: tree[k].array(library="ak") for k in names}
    types = {
        k: (f"var * {ak.flatten(v).type.content}" if v.ndim > 1 else str(v.type.content))
        for k, v in columns.items()
    }
    with uproot.recreate(path) as f:
        f[METADATA_KEY] = json.dumps(metadata, sort_keys=True)
        f.mktree(tree_name, types)
        f[tree_name].extend(columns)


def test_run_metadata_of_the_two_files_must_agree(sample_copy):
    files = SimulationFiles.from_dir(sample_copy)
    assert files.metadata is not None
    assert files.metadata["seed"] == 1234  # written by simulate
    other = dict(files.metadata, seed=99)
    _with_metadata(sample_copy / "particles.root", "particles", other)
    with pytest.raises(InputDataError, match="come from different runs") as info:
        SimulationFiles.from_dir(sample_copy)
    assert info.value.field == f"{METADATA_KEY}.seed"
    assert "seed: 99 vs 1234" in str(info.value)
    assert info.value.file == str(sample_copy / "particles.root")


# -- 2. every event id twice ---------------------------------------------------------------


def test_event_id_twice_in_particles_is_refused(sample_copy, read_tree, write_tree):
    particles = read_tree(sample_copy / "particles.root", "particles")
    doubled = {
        k: (np.concatenate([v, v]) if k == "event_id" else ak.concatenate([v, v]))
        for k, v in particles.items()
    }
    write_tree(sample_copy / "particles.root", "particles", doubled)
    with pytest.raises(InputDataError, match="more than one entry") as info:
        SimulationFiles.from_dir(sample_copy)
    assert (info.value.event, info.value.field) == (0, "event_id")
    assert "entries [0, 2]" in str(info.value)
    assert info.value.file == str(sample_copy / "particles.root")


# -- 3. hits in another order within a module ----------------------------------------------


def _reorder_hits(directory, read_tree, write_tree, how: str) -> None:
    hits = read_tree(directory / "hits.root", "hits")
    n = len(hits["event_id"])
    if how == "shuffled":
        key = np.random.default_rng(3).random(n)
    else:  # particle by particle, as a writer looping over particles would
        key = hits["barcode_vertex_primary"] * 1e6 + hits["barcode_particle"] + hits["index"] / 1e3
    order = np.lexsort((key, hits["event_id"]))  # still grouped by event
    # Hits on one module at exactly the same (float32) time, e.g. the two legs of a photon
    # conversion, are ordered by file entry by ACTS's reader and by ours alike: the one
    # thing another file order may change. Keep those ties in their original relative order.
    rows = np.arange(n)
    _, tie = np.unique(
        np.stack([hits["event_id"], hits["geometry_id"], hits["tt"].view(np.uint32)], axis=1),
        axis=0,
        return_inverse=True,
    )
    position = np.empty(n, np.int64)
    position[order] = rows
    by_row = np.lexsort((rows, tie))
    by_position = np.lexsort((position, tie))
    position[by_row] = position[by_position].copy()
    order = np.argsort(position)
    write_tree(directory / "hits.root", "hits", {k: v[order] for k, v in hits.items()})


@pytest.mark.parametrize("how", ["shuffled", "by-particle"])
def test_hit_rows_come_in_container_order_whatever_the_file_order(
    sample_copy, sim_sample, read_tree, write_tree, how
):
    reference = SimulationFiles.from_dir(sim_sample.directory).hits(1)
    _reorder_hits(sample_copy, read_tree, write_tree, how)
    hits = SimulationFiles.from_dir(sample_copy).hits(1)
    assert not np.array_equal(hits[ENTRY_COLUMN], reference[ENTRY_COLUMN])  # file differs
    for name in ("geometry_id", "barcode_particle", "tx", "tt", "index"):
        np.testing.assert_array_equal(hits[name], reference[name], name)


@pytest.mark.acts
@pytest.mark.parametrize("how", ["shuffled", "by-particle"])
def test_prepare_labels_do_not_depend_on_hit_order(
    sample_copy, prepared_sample, read_tree, write_tree, tmp_path, how
):
    _reorder_hits(sample_copy, read_tree, write_tree, how)
    _prepare(sample_copy, tmp_path / "out")
    for event_id in (0, 1):
        got = read_event(tmp_path / "out", event_id)
        want = read_event(prepared_sample.directory, event_id)
        # the same measurements, the same smearing, and every label the same
        np.testing.assert_array_equal(got.hits["particle_id"], want.hits["particle_id"])
        np.testing.assert_array_equal(got.hits["geometry_id"], want.hits["geometry_id"])
        np.testing.assert_array_equal(got.hits["loc0"], want.hits["loc0"])


# -- 4. event ids with huge gaps -----------------------------------------------------------


def _renumber(directory, read_tree, write_tree, new_ids) -> None:
    hits = read_tree(directory / "hits.root", "hits")
    mapping = dict(zip((0, 1), new_ids))
    hits["event_id"] = np.array([mapping[int(e)] for e in hits["event_id"]], dtype=np.uint32)
    write_tree(directory / "hits.root", "hits", hits)
    particles = read_tree(directory / "particles.root", "particles")
    particles["event_id"] = np.array(new_ids, dtype=np.uint32)
    write_tree(directory / "particles.root", "particles", particles)


@pytest.mark.acts
def test_prepare_cost_is_per_event_not_per_id_range(sample_copy, read_tree, write_tree, tmp_path):
    high = 4_000_000_000  # near the top of uint32: the id range used to be iterated
    n_hits = [len(SimulationFiles.from_dir(sample_copy).hits(e)["tx"]) for e in (0, 1)]
    _renumber(sample_copy, read_tree, write_tree, (7, high))
    start = time.perf_counter()
    report = _prepare(sample_copy, tmp_path / "out")
    assert time.perf_counter() - start < 60
    assert report.written == [7, high]
    assert list_events(tmp_path / "out") == [7, high]
    # the high-id event is the real one, not an empty stand-in
    # but for the sim hits digitization drops or merges, which are counted
    lost = report.simhits_dropped.get(high, 0) + report.simhits_merged.get(high, 0)
    assert read_event(tmp_path / "out", high).n_hits + lost == n_hits[1] > 0
    assert np.all(read_event(tmp_path / "out", high).hits["particle_id"] >= 0)


@pytest.mark.acts
def test_sequencer_reader_serves_events_present(sample_copy, read_tree, write_tree):
    # the reader compare and addRootSimulationInput use: event number k is the k-th event
    import acts
    import acts.examples

    from acts_gnn.io.acts_edm import data_handle
    from acts_gnn.io.root_reader import make_root_reader

    _renumber(sample_copy, read_tree, write_tree, (0, 4_000_000_000))
    files = SimulationFiles.from_dir(sample_copy)
    level = acts.logging.WARNING
    seen: dict[int, int] = {}

    class Count(acts.examples.IAlgorithm):
        def __init__(self) -> None:
            super().__init__("CountSimHits", level)
            self.hits = data_handle(self, "read", acts.examples.SimHitContainer, "In", "simhits")

        def execute(self, context):
            seen[context.eventNumber] = len(self.hits(context.eventStore))
            return acts.examples.ProcessCode.SUCCESS

    sequencer = acts.examples.Sequencer(numThreads=1, logLevel=level, trackFpes=False)
    reader = make_root_reader(files, level)
    counter = Count()
    sequencer.addReader(reader)
    sequencer.addAlgorithm(counter)
    sequencer.run()
    assert seen == {k: len(files.hits(e)["tx"]) for k, e in enumerate(files.event_ids)}
    assert seen[1] > 0


# -- 6. prepared folders holding other events ----------------------------------------------


def test_readers_use_the_events_dataset_json_lists(tmp_path, caplog):
    for event_id in range(5):
        write_event(tmp_path, random_event(event_id, seed=event_id))
    write_dataset_info(tmp_path, {"events": [1, 3]})
    with caplog.at_level(logging.WARNING):
        assert list_events(tmp_path) == [1, 3]
        assert [e.event_id for e in PreparedDataset(tmp_path)] == [1, 3]
    assert "3 event file(s) not listed in dataset.json are ignored" in caplog.text
    assert "ids 0, 2, 4" in caplog.text
    assert event_files(tmp_path) == [0, 1, 2, 3, 4]
    # a listed event whose file is gone is an error naming the file
    (tmp_path / "event000000003-particles.parquet").unlink()
    with pytest.raises(InputDataError, match="lists event 3 but its file is missing") as info:
        list_events(tmp_path)
    assert info.value.event == 3


def test_folder_of_an_interrupted_prepare_is_refused(tmp_path, capsys):
    for event_id in range(3):
        write_event(tmp_path, random_event(event_id, seed=event_id))
    with pytest.raises(InputDataError, match=r"3 event file\(s\) .* but no dataset\.json"):
        PreparedDataset(tmp_path)
    assert main(["inspect", "-i", str(tmp_path)]) == 2
    assert "an interrupted `acts-gnn prepare`" in capsys.readouterr().err
    out = tmp_path / "map.npz"
    assert main(["module-map", "build", "-q", "-i", str(tmp_path), "-o", str(out)]) == 2
    assert not out.exists()


@pytest.mark.acts
def test_prepare_refuses_or_replaces_foreign_events(sim_sample, tmp_path):
    out = tmp_path / "out"
    for event_id in range(10):
        write_event(out, random_event(event_id, seed=event_id))
    write_dataset_info(out, {"events": list(range(10)), "input": "/elsewhere/run-b"})
    with pytest.raises(InputDataError, match="already holds 10 prepared event") as info:
        _prepare(sim_sample.directory, out)
    assert "prepared from /elsewhere/run-b" in str(info.value)
    assert "--overwrite" in str(info.value)
    assert event_files(out) == list(range(10))  # untouched

    report = _prepare(sim_sample.directory, out, overwrite=True)
    assert report.replaced == list(range(10))
    assert event_files(out) == list_events(out) == [0, 1]
    # a rerun of the same input replaces its own events without being asked
    again = _prepare(sim_sample.directory, out)
    assert again.replaced == [0, 1]
    assert event_files(out) == [0, 1]


# -- 9. --events -1 ------------------------------------------------------------------------


@pytest.mark.parametrize("events", [-1, 0])
def test_prepare_events_must_be_positive(sim_sample, tmp_path, capsys, events):
    args = ["prepare", "-q", "-i", str(sim_sample.directory), "-o", str(tmp_path / "n")]
    assert main([*args, "--events", str(events)]) == 2
    assert f"--events must be a positive number of events, got {events}" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()


# -- deep tracebacks -----------------------------------------------------------------------


def _read_everything(directory) -> None:
    files = SimulationFiles.from_dir(directory)
    for event_id in files.event_ids:
        files.event(event_id)


def test_truncated_hits_file(sample_copy):
    path = sample_copy / "hits.root"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputDataError, match=r"truncated or corrupted|not a readable") as info:
        _read_everything(sample_copy)
    assert info.value.file == str(path)


@pytest.mark.acts
def test_bad_last_event_is_found_before_any_work(sample_copy, read_tree, write_tree, tmp_path):
    hits = read_tree(sample_copy / "hits.root", "hits")
    hits["tx"] = hits["tx"].copy()
    hits["tx"][np.flatnonzero(hits["event_id"] == 1)[0]] = np.nan
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="non-finite") as info:
        _prepare(sample_copy, tmp_path / "out")
    assert info.value.event == 1
    assert event_files(tmp_path / "out") == []
    assert not (tmp_path / "out" / DATASET_FILE).exists()


@pytest.mark.acts
def test_failed_prepare_leaves_no_events(sim_sample, tmp_path, monkeypatch):
    # the run fails after writing event 0 (disk full, say): event 0 is removed again
    import acts_gnn.simulation.prepare as module

    written = []

    def write_then_fail(directory, event, stamp=None):
        if event.event_id == 1:
            raise OSError(28, "No space left on device")
        write_event(directory, event, stamp)
        written.append(event.event_id)

    monkeypatch.setattr(module, "write_event", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        _prepare(sim_sample.directory, tmp_path / "out")
    assert written == [0]
    assert event_files(tmp_path / "out") == []
    assert not (tmp_path / "out" / DATASET_FILE).exists()


@pytest.mark.acts
def test_module_of_another_geometry(sample_copy, read_tree, write_tree, tmp_path):
    hits = read_tree(sample_copy / "hits.root", "hits")
    gid = hits["geometry_id"].copy()
    entry = int(np.flatnonzero(hits["event_id"] == 1)[4])
    gid[entry] = (np.uint64(99) << np.uint64(56)) | (gid[entry] & np.uint64((1 << 56) - 1))
    hits["geometry_id"] = gid
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="modules this detector does not have") as info:
        _prepare(sample_copy, tmp_path / "out")
    assert (info.value.event, info.value.field) == (1, "geometry_id")
    assert f"hit entry {entry}" in str(info.value)
    assert "volume=99" in str(info.value)
    assert info.value.file == str(sample_copy / "hits.root")
    assert not (tmp_path / "out" / DATASET_FILE).exists()


def test_hits_with_one_jagged_entry_per_event(sample_copy, read_tree, write_tree):
    hits = read_tree(sample_copy / "hits.root", "hits")
    counts = np.bincount(hits["event_id"].astype(np.int64))
    per_event = {
        k: (np.arange(len(counts), dtype=np.uint32) if k == "event_id" else ak.unflatten(v, counts))
        for k, v in hits.items()
    }
    write_tree(sample_copy / "hits.root", "hits", per_event)
    with pytest.raises(InputDataError, match="one entry per hit") as info:
        SimulationFiles.from_dir(sample_copy)
    assert info.value.field == "geometry_id"
    assert info.value.file == str(sample_copy / "hits.root")


def test_particle_event_ids_that_do_not_overlap_the_hits(sample_copy, read_tree, write_tree):
    particles = read_tree(sample_copy / "particles.root", "particles")
    particles["event_id"] = particles["event_id"] + np.uint32(100)
    write_tree(sample_copy / "particles.root", "particles", particles)
    with pytest.raises(InputDataError, match="do not belong together") as info:
        SimulationFiles.from_dir(sample_copy)
    assert "ids 0..1" in str(info.value)
    assert "ids 100..101" in str(info.value)
    assert info.value.field == "event_id"


@pytest.mark.acts
def test_output_folder_under_a_file_is_refused_up_front(sim_sample, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputDataError, match="a-file is a file, not a folder") as info:
        _prepare(sim_sample.directory, tmp_path / "a-file" / "out")
    assert "lies above the output" in str(info.value)
    assert info.value.file == str(tmp_path / "a-file" / "out")
    with pytest.raises(InputDataError, match="is a file, not a folder"):
        _prepare(sim_sample.directory, tmp_path / "a-file")


@pytest.mark.acts
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_output_folder_not_writable_is_refused_up_front(sim_sample, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(InputDataError, match="not writable"):
            _prepare(sim_sample.directory, out)
    finally:
        out.chmod(0o700)


# -- quietly lost data: now counted --------------------------------------------------------


@pytest.mark.acts
def test_hits_dropped_by_digitization_are_counted(
    sample_copy, prepared_sample, read_tree, write_tree, tmp_path
):
    # on top of those the shared sample's smearing already pushes outside their module
    natural = prepared_sample.report.simhits_dropped
    assert prepared_sample.report.simhits_not_on_sensitive == 0
    hits = read_tree(sample_copy / "hits.root", "hits")
    rows = np.flatnonzero(hits["event_id"] == 1)
    gid = hits["geometry_id"].copy()
    gid[rows[:6]] &= ~np.uint64(0xFFFFF << 8)  # a passive surface: sensitive number 0
    hits["geometry_id"] = gid
    hits["tx"] = hits["tx"].copy()
    hits["tx"][rows[10:14]] += 500.0  # far outside its module
    write_tree(sample_copy / "hits.root", "hits", hits)
    assert np.sum(decode_geometry_id(gid, "sensitive") == 0) == 6

    report = _prepare(sample_copy, tmp_path / "out")
    expected = {e: n for e, n in natural.items() if n} | {1: natural.get(1, 0) + 10}
    total = sum(expected.values())
    assert report.simhits_dropped == expected
    assert report.simhits_not_on_sensitive == 6
    assert (
        f"sim hits dropped by ACTS digitization (no measurement): {total} (6 not on a sensitive "
        f"surface, {total - 6} outside their module's bounds)" in report.summary()
    )
    info = read_dataset_info(tmp_path / "out")
    assert info["simhits_without_measurement"] == total
    assert info["simhits_without_measurement_per_event"] == {str(e): n for e, n in expected.items()}
    assert info["simhits_not_on_sensitive_surface"] == 6
    merged = report.simhits_merged.get(1, 0)
    assert read_event(tmp_path / "out", 1).n_hits == len(rows) - expected[1] - merged


# -- more pairs that must agree ------------------------------------------------------------


def test_merge_refuses_folders_of_different_digitization(tmp_path):
    for name, digest in (("a", "1" * 64), ("b", "2" * 64)):
        write_event(tmp_path / name, random_event(0))
        write_dataset_info(
            tmp_path / name,
            {"events": [0], "detector": "generic", "digitization_config_sha256": digest},
        )
    with pytest.raises(InputDataError, match="cannot merge") as info:
        merge_prepared(tmp_path / "m", [tmp_path / "a", tmp_path / "b"])
    assert info.value.field == "digitization_config_sha256"
    assert not event_files(tmp_path / "m")
    merged = merge_prepared(tmp_path / "m", [tmp_path / "a", tmp_path / "a"])
    assert merged == [0, 1]
    assert read_dataset_info(tmp_path / "m")["digitization_config_sha256"] == "1" * 64


def test_event_of_another_digitization_in_a_folder_is_refused(tmp_path):
    ours = {"detector": "generic", "digitization_config_sha256": "a" * 64}
    write_event(tmp_path, random_event(0, seed=0), ours)
    write_event(tmp_path, random_event(1, seed=1), dict(ours, digitization_config_sha256="b" * 64))
    write_dataset_info(tmp_path, {"events": [0, 1], **ours})
    dataset = PreparedDataset(tmp_path)
    assert dataset[0].event_id == 0
    with pytest.raises(InputDataError, match="event made with digitization_config_sha256") as info:
        list(dataset)
    assert (info.value.event, info.value.field) == (1, "digitization_config_sha256")
    assert info.value.file.endswith("event000000001-hits.parquet")


@pytest.mark.acts
def test_prepared_events_carry_their_stamp(prepared_sample):
    import pyarrow.parquet as pq

    info = read_dataset_info(prepared_sample.directory)
    path = prepared_sample.directory / "event000000000-hits.parquet"
    stamp = json.loads(pq.read_schema(path).metadata[b"acts_gnn.stamp"])
    assert stamp == {
        "detector": info["detector"],
        "digitization_config_sha256": info["digitization_config_sha256"],
    }
    assert len(stamp["digitization_config_sha256"]) == 64


@pytest.mark.acts
def test_wrong_sim_hit_rows_within_a_module_are_caught(sim_sample, tmp_path, monkeypatch):
    # a guard for ACTS changing its container order: rows in the wrong order within each
    # module (latest hit first) put measurements far from "their" sim hits, and prepare stops
    import acts_gnn.simulation.prepare as module

    original = module.measurements_to_event

    def latest_first(event_id, measurements, links, hits, particles, surfaces):
        order = np.lexsort((-hits[ENTRY_COLUMN], -hits["tt"], hits["geometry_id"]))
        wrong = {k: v[order] for k, v in hits.items()}
        return original(event_id, measurements, links, wrong, particles, surfaces)

    monkeypatch.setattr(module, "measurements_to_event", latest_first)
    with pytest.raises(RuntimeError, match="sigma from their sim hit in event 0"):
        _prepare(sim_sample.directory, tmp_path / "out")
    assert event_files(tmp_path / "out") == []


@pytest.mark.acts
def test_rerun_on_bad_input_keeps_the_earlier_events(sample_copy, read_tree, write_tree, tmp_path):
    out = tmp_path / "out"
    _prepare(sample_copy, out)
    before = read_dataset_info(out)
    hits = read_tree(sample_copy / "hits.root", "hits")
    hits["ty"] = hits["ty"].copy()
    hits["ty"][-1] = np.inf
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="non-finite"):
        _prepare(sample_copy, out)  # same input, so it would replace: but the input is bad
    assert read_dataset_info(out) == before
    assert list_events(out) == [0, 1]


def test_hits_written_twice_are_refused(sample_copy, read_tree, write_tree):
    # a writer that appended each event's hits twice: ids still grouped, barcodes all found,
    # but every particle now has twice its number_of_hits
    hits = read_tree(sample_copy / "hits.root", "hits")
    order = np.argsort(np.concatenate([hits["event_id"]] * 2), kind="stable")
    write_tree(
        sample_copy / "hits.root",
        "hits",
        {k: np.concatenate([v, v])[order] for k, v in hits.items()},
    )
    files = SimulationFiles.from_dir(sample_copy)
    with pytest.raises(InputDataError, match="more hits than their number_of_hits") as info:
        files.event(0)
    assert (info.value.event, info.value.field) == (0, "number_of_hits")

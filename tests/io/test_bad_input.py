"""Bad simulation files: each gives an InputDataError naming file / event / field, or a counted
skip, never a silent drop or a crash deep inside ACTS.

Bad files are made by reading the shared good sample with uproot and writing modified copies.
"""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.graph import truth_graph
from acts_gnn.io.event_store import DATASET_FILE, list_events, read_dataset_info, read_event
from acts_gnn.io.root_reader import SimulationFiles
from acts_gnn.simulation.prepare import prepare


def _files(directory) -> SimulationFiles:
    return SimulationFiles.from_dir(directory)


# -- missing files and trees ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["particles.root", "hits.root"])
def test_missing_file(sample_copy, name):
    (sample_copy / name).unlink()
    with pytest.raises(InputDataError, match="does not exist") as info:
        _files(sample_copy)
    assert info.value.file == str(sample_copy / name)
    assert name in str(info.value)


@pytest.mark.acts
def test_missing_file_through_prepare(sample_copy, tmp_path):
    (sample_copy / "hits.root").unlink()
    with pytest.raises(InputDataError, match=r"hits\.root"):
        prepare(sample_copy, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / DATASET_FILE).exists()


def test_missing_folder(tmp_path):
    with pytest.raises(InputDataError, match="does not exist") as info:
        SimulationFiles.from_dir(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


def test_not_a_root_file(sample_copy):
    (sample_copy / "particles.root").write_bytes(b"this is not ROOT\n" * 100)
    with pytest.raises(InputDataError, match="not a readable ROOT file") as info:
        _files(sample_copy)
    assert info.value.file == str(sample_copy / "particles.root")


def test_missing_tree(sample_copy, read_tree, write_tree):
    hits = read_tree(sample_copy / "hits.root", "hits")
    write_tree(sample_copy / "hits.root", "simhits", hits)  # right content, wrong tree name
    with pytest.raises(InputDataError, match="no tree 'hits'") as info:
        _files(sample_copy)
    assert info.value.field == "hits"
    assert "simhits" in str(info.value)  # says what the file holds instead
    assert "hits.root" in str(info.value)


# -- missing branches, wrong types ---------------------------------------------------------


@pytest.mark.parametrize("branch", ["tx", "geometry_id", "barcode_particle", "event_id"])
def test_missing_hit_branch(sample_copy, read_tree, write_tree, branch):
    hits = read_tree(sample_copy / "hits.root", "hits")
    del hits[branch]
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="missing branch") as info:
        _files(sample_copy)
    assert info.value.field == branch
    assert info.value.file == str(sample_copy / "hits.root")
    assert repr(branch) in str(info.value)


@pytest.mark.acts
def test_missing_hit_branch_through_prepare(sample_copy, read_tree, write_tree, tmp_path):
    hits = read_tree(sample_copy / "hits.root", "hits")
    del hits["tx"]
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="'tx'") as info:
        prepare(sample_copy, tmp_path / "out", progress=False)
    assert "hits.root" in str(info.value)


@pytest.mark.parametrize("branch", ["vz", "particle_type", "sub_particle"])
def test_missing_particle_branch(sample_copy, read_tree, write_tree, branch):
    particles = read_tree(sample_copy / "particles.root", "particles")
    del particles[branch]
    write_tree(sample_copy / "particles.root", "particles", particles)
    with pytest.raises(InputDataError, match="missing branch") as info:
        _files(sample_copy)
    assert info.value.field == branch
    assert info.value.file == str(sample_copy / "particles.root")


def test_optional_branches_may_be_missing(sample_copy, read_tree, write_tree):
    # 'te', 'deltae' and the decoded ids are informative: a file without them is still usable
    hits = read_tree(sample_copy / "hits.root", "hits")
    for name in ("te", "deltae", "volume_id", "layer_id"):
        del hits[name]
    write_tree(sample_copy / "hits.root", "hits", hits)
    files = _files(sample_copy)
    columns = files.hits(files.event_ids[0])
    assert "te" not in columns
    assert len(columns["tx"]) > 0


@pytest.mark.parametrize(
    ("branch", "values"),
    [
        ("tx", lambda v: v > 0),  # bool instead of float
        ("tx", lambda v: v.astype(np.int32)),  # integer instead of float
        ("geometry_id", lambda v: v.astype(np.float64)),  # float instead of an integer id
        ("barcode_particle", lambda v: v.astype(np.float32)),
    ],
)
def test_hit_branch_of_wrong_type(sample_copy, read_tree, write_tree, branch, values):
    hits = read_tree(sample_copy / "hits.root", "hits")
    hits[branch] = values(hits[branch])
    write_tree(sample_copy / "hits.root", "hits", hits)
    with pytest.raises(InputDataError, match="expected") as info:
        _files(sample_copy)
    assert info.value.field == branch
    assert info.value.file == str(sample_copy / "hits.root")


def test_particle_branch_of_wrong_type(sample_copy, read_tree, write_tree):
    particles = read_tree(sample_copy / "particles.root", "particles")
    particles["particle_type"] = ak.values_astype(particles["particle_type"], np.float32)
    write_tree(sample_copy / "particles.root", "particles", particles)
    with pytest.raises(InputDataError, match="expected int32") as info:
        _files(sample_copy)
    assert info.value.field == "particle_type"


def test_wider_types_are_accepted(sample_copy, read_tree, write_tree):
    # float64 positions and int64 ids are the same kind of data: accepted, values kept
    hits = read_tree(sample_copy / "hits.root", "hits")
    tx = hits["tx"].copy()
    hits["tx"] = hits["tx"].astype(np.float64)
    hits["barcode_particle"] = hits["barcode_particle"].astype(np.int64)
    write_tree(sample_copy / "hits.root", "hits", hits)
    files = _files(sample_copy)
    got = np.concatenate([files.hits(e)["tx"] for e in files.event_ids])
    np.testing.assert_array_equal(got, tx)


# -- bad values ----------------------------------------------------------------------------


def _with_nan_tx(directory, read_tree, write_tree) -> tuple[int, int]:
    """Put a NaN into 'tx' of one hit of the last event; returns (event, hit entry)."""
    hits = read_tree(directory / "hits.root", "hits")
    event = int(hits["event_id"].max())
    entry = int(np.flatnonzero(hits["event_id"] == event)[3])
    hits["tx"] = hits["tx"].copy()
    hits["tx"][entry] = np.nan
    write_tree(directory / "hits.root", "hits", hits)
    return event, entry


def test_nan_position(sample_copy, read_tree, write_tree):
    event, entry = _with_nan_tx(sample_copy, read_tree, write_tree)
    files = _files(sample_copy)
    # the other event is fine
    assert len(files.hits(0)["tx"]) > 0
    with pytest.raises(InputDataError, match="non-finite") as info:
        files.hits(event)
    assert info.value.file == str(sample_copy / "hits.root")
    assert info.value.event == event
    assert info.value.field == "tx"
    message = str(info.value)
    assert "hits.root" in message
    assert f"event {event}" in message
    assert "'tx'" in message
    assert str(entry) in message


@pytest.mark.acts
def test_nan_position_through_prepare(sample_copy, read_tree, write_tree, tmp_path):
    event, _ = _with_nan_tx(sample_copy, read_tree, write_tree)
    with pytest.raises(InputDataError) as info:
        prepare(sample_copy, tmp_path / "out", progress=False)
    assert info.value.event == event
    assert info.value.field == "tx"
    assert "hits.root" in str(info.value)


def test_inf_particle_vertex(sample_copy, read_tree, write_tree):
    particles = read_tree(sample_copy / "particles.root", "particles")
    vx = ak.to_list(particles["vx"])
    vx[1][0] = float("inf")
    particles["vx"] = ak.values_astype(ak.Array(vx), np.float32)
    write_tree(sample_copy / "particles.root", "particles", particles)
    files = _files(sample_copy)
    files.particles(0)
    with pytest.raises(InputDataError) as info:
        files.particles(1)
    assert (info.value.event, info.value.field) == (1, "vx")
    assert info.value.file == str(sample_copy / "particles.root")


def test_hits_not_grouped_by_event(sample_copy, read_tree, write_tree):
    hits = read_tree(sample_copy / "hits.root", "hits")
    order = np.argsort(-hits["event_id"].astype(np.int64), kind="stable")  # last event first
    write_tree(sample_copy / "hits.root", "hits", {k: v[order] for k, v in hits.items()})
    with pytest.raises(InputDataError, match="grouped") as info:
        _files(sample_copy)
    assert info.value.field == "event_id"


# -- empty events: counted skips -----------------------------------------------------------


@pytest.mark.acts
def test_event_without_hits_is_skipped_and_reported(sample_copy, read_tree, write_tree, tmp_path):
    hits = read_tree(sample_copy / "hits.root", "hits")
    keep = hits["event_id"] != 0
    write_tree(sample_copy / "hits.root", "hits", {k: v[keep] for k, v in hits.items()})
    files = _files(sample_copy)
    assert files.event_ids == [0, 1]
    assert len(files.hits(0)["tx"]) == 0

    out = tmp_path / "out"
    report = prepare(sample_copy, out, progress=False)
    assert report.written == [1]
    assert list(report.skipped) == [0]
    assert "no measurements" in report.skipped[0]
    assert "event 0" in report.summary()
    assert list_events(out) == [1]
    info = read_dataset_info(out)
    assert info["events"] == [1]
    assert info["skipped"] == {"0": report.skipped[0]}
    assert json.loads((out / DATASET_FILE).read_text())["skipped"].keys() == {"0"}


@pytest.mark.acts
def test_event_without_particles_or_hits(sample_copy, read_tree, write_tree, tmp_path):
    # a third event whose particle entry is empty and that has no hits at all
    particles = read_tree(sample_copy / "particles.root", "particles")
    extended = {}
    for name, values in particles.items():
        if name == "event_id":
            extended[name] = np.append(values, np.uint32(2))
        else:
            extended[name] = ak.concatenate([values, ak.Array([values[0][:0]])])
    write_tree(sample_copy / "particles.root", "particles", extended)
    files = _files(sample_copy)
    assert files.event_ids == [0, 1, 2]
    assert len(files.particles(2)["px"]) == 0

    report = prepare(sample_copy, tmp_path / "out", progress=False)
    assert report.written == [0, 1]
    assert list(report.skipped) == [2]
    assert read_dataset_info(tmp_path / "out")["skipped"] == {"2": report.skipped[2]}


@pytest.mark.acts
def test_hits_without_particles_are_counted(sample_copy, read_tree, write_tree, tmp_path):
    # particles.root lacks event 1: its measurements have no particle, which is counted
    particles = read_tree(sample_copy / "particles.root", "particles")
    first = {k: v[:1] for k, v in particles.items()}
    write_tree(sample_copy / "particles.root", "particles", first)
    report = prepare(sample_copy, tmp_path / "out", progress=False)
    assert report.written == [0, 1]
    event = read_event(tmp_path / "out", 1)
    assert event.n_particles == 0
    assert np.all(event.hits["particle_id"] == -1)
    assert report.hits_without_particle == event.n_hits > 0
    assert read_dataset_info(tmp_path / "out")["measurements_without_particle"] == event.n_hits
    assert "without a particle" in report.summary()
    assert truth_graph(event).shape == (2, 0)  # usable downstream, no crash
    # the good event is unaffected
    assert np.all(read_event(tmp_path / "out", 0).hits["particle_id"] >= 0)


@pytest.mark.acts
def test_event_ids_with_gaps_are_all_prepared(sample_copy, read_tree, write_tree, tmp_path):
    # events 0 and 5 (renumbered from 0 and 1): nothing may be dropped silently
    hits = read_tree(sample_copy / "hits.root", "hits")
    n_hits = [int(np.sum(hits["event_id"] == e)) for e in (0, 1)]
    hits["event_id"] = np.where(hits["event_id"] == 1, 5, hits["event_id"]).astype(np.uint32)
    write_tree(sample_copy / "hits.root", "hits", hits)
    particles = read_tree(sample_copy / "particles.root", "particles")
    particles["event_id"] = np.array([0, 5], dtype=np.uint32)
    write_tree(sample_copy / "particles.root", "particles", particles)
    assert _files(sample_copy).event_ids == [0, 5]

    report = prepare(sample_copy, tmp_path / "out", progress=False)
    assert report.written == [0, 5]
    assert report.skipped == {}
    assert list_events(tmp_path / "out") == [0, 5]
    # every sim hit is a prepared hit, or one ACTS digitization dropped or merged into another
    # hit's measurement (both counted per event)
    kept = [read_event(tmp_path / "out", e).n_hits for e in (0, 5)]
    lost = [report.simhits_dropped.get(e, 0) + report.simhits_merged.get(e, 0) for e in (0, 5)]
    assert [k + d for k, d in zip(kept, lost, strict=True)] == n_hits
    assert np.all(read_event(tmp_path / "out", 5).hits["particle_id"] >= 0)
    # events=1 takes the first id only
    first = prepare(sample_copy, tmp_path / "first", events=1, progress=False)
    assert first.written == [0]

"""The prepared-event store (Parquet per event + dataset.json) on hand-made events."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.io.event_store import (
    DATASET_FILE,
    PreparedDataset,
    event_stem,
    list_events,
    merge_prepared,
    read_dataset_info,
    read_event,
    write_dataset_info,
    write_event,
)


def random_event(event_id: int, n_hits: int = 50, n_particles: int = 7, seed: int = 0) -> Event:
    rng = np.random.default_rng(seed)
    hits = {}
    for column, dtype in HIT_COLUMNS.items():
        if np.issubdtype(dtype, np.floating):
            hits[column] = rng.normal(size=n_hits)
        else:
            hits[column] = rng.integers(0, 1000, n_hits)
    hits["geometry_id"] = rng.integers(0, 2**63, n_hits, dtype=np.uint64) * np.uint64(2)
    hits["particle_id"] = rng.integers(-1, n_particles, n_hits)
    particles = {}
    for column, dtype in PARTICLE_COLUMNS.items():
        if np.issubdtype(dtype, np.floating):
            particles[column] = rng.normal(size=n_particles)
        elif dtype is np.bool_:
            particles[column] = rng.random(n_particles) < 0.5
        else:
            particles[column] = rng.integers(-300, 300, n_particles)
    particles["particle_id"] = np.arange(n_particles)
    particles["vertex_primary"] = rng.integers(0, 100, n_particles)
    return Event(event_id, hits, particles)


def test_round_trip_keeps_values_and_types(tmp_path):
    event = random_event(42)
    write_event(tmp_path, event)
    assert (tmp_path / f"{event_stem(42)}-hits.parquet").is_file()
    assert event_stem(42) == "event000000042"
    back = read_event(tmp_path, 42)
    assert back.event_id == 42
    for column, dtype in HIT_COLUMNS.items():
        assert back.hits[column].dtype == dtype
        np.testing.assert_array_equal(back.hits[column], event.hits[column], column)
    for column, dtype in PARTICLE_COLUMNS.items():
        assert back.particles[column].dtype == dtype
        np.testing.assert_array_equal(back.particles[column], event.particles[column], column)
    # no temporary files are left behind
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_dataset_listing_and_iteration(tmp_path):
    for event_id in (7, 3, 12):
        write_event(tmp_path, random_event(event_id, seed=event_id))
    (tmp_path / "notes.txt").write_text("not an event")
    write_dataset_info(tmp_path, {"events": [12, 3, 7]})
    assert list_events(tmp_path) == [3, 7, 12]
    dataset = PreparedDataset(tmp_path)
    assert len(dataset) == 3
    assert [e.event_id for e in dataset] == [3, 7, 12]
    assert dataset[2].event_id == 12
    np.testing.assert_array_equal(dataset[0].hits["x"], random_event(3, seed=3).hits["x"])
    subset = PreparedDataset(tmp_path, events=[12])
    assert len(subset) == 1


def test_dataset_info_round_trip(tmp_path):
    info = {"events": [1, 2], "skipped": {"3": "empty"}}
    write_dataset_info(tmp_path, info)
    assert read_dataset_info(tmp_path) == info
    assert (tmp_path / DATASET_FILE).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_missing_things_raise(tmp_path):
    with pytest.raises(InputDataError, match="does not exist"):
        list_events(tmp_path / "nowhere")
    with pytest.raises(InputDataError, match="not a prepared-event folder"):
        PreparedDataset(tmp_path)
    write_dataset_info(tmp_path, {"events": []})
    with pytest.raises(InputDataError, match="no prepared events"):
        PreparedDataset(tmp_path)
    (tmp_path / DATASET_FILE).unlink()
    with pytest.raises(InputDataError, match=r"dataset\.json"):
        read_dataset_info(tmp_path)
    with pytest.raises(InputDataError, match="does not exist") as info:
        read_event(tmp_path, 5)
    assert "event000000005" in str(info.value)


def test_missing_column_raises_naming_it(tmp_path):
    event = random_event(1)
    write_event(tmp_path, event)
    path = tmp_path / "event000000001-hits.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop(["loc1"]), path)
    with pytest.raises(InputDataError, match="loc1") as info:
        read_event(tmp_path, 1)
    assert info.value.field == "loc1"
    assert info.value.file == str(path)
    # extra columns are fine
    pq.write_table(table.append_column("extra", pa.array(np.zeros(table.num_rows))), path)
    assert read_event(tmp_path, 1).n_hits == event.n_hits


def test_merge_renumbers_and_links(tmp_path):
    for folder, ids, seed in (("a", [3, 7], 1), ("b", [3], 2)):
        for event_id in ids:
            write_event(tmp_path / folder, random_event(event_id, seed=seed + event_id))
        write_dataset_info(tmp_path / folder, {"events": ids})
    ids = merge_prepared(tmp_path / "m", [tmp_path / "a", tmp_path / "b"])
    assert ids == list_events(tmp_path / "m") == [0, 1, 2]
    merged = read_event(tmp_path / "m", 2)
    original = read_event(tmp_path / "b", 3)
    np.testing.assert_array_equal(merged.hits["x"], original.hits["x"])
    assert (tmp_path / "m" / f"{event_stem(0)}-hits.parquet").is_symlink()
    info = read_dataset_info(tmp_path / "m")
    assert info["merged_from"][0]["events"] == {"0": 3, "1": 7}
    with pytest.raises(InputDataError, match="already holds events"):
        merge_prepared(tmp_path / "m", [tmp_path / "a"])
    with pytest.raises(InputDataError, match=r"dataset\.json"):
        merge_prepared(tmp_path / "n", [tmp_path / "missing"])

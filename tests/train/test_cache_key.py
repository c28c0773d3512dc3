"""The graph cache of GNN training is keyed by its inputs: a changed module map or another data
set with the same event ids rebuilds the cached graphs, and ``--resume`` refuses a checkpoint
trained on other data (prepared folders of toy events, no ACTS)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acts_gnn.graph.module_map.build import build_module_map
from acts_gnn.graph.module_map.map import ModuleMap
from acts_gnn.graph.store import CachedGraphs, ModuleMapGraphs, event_digest, graph_path
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.io.event_store import PreparedDataset, write_dataset_info, write_event
from acts_gnn.train.config import ConfigError, SyntheticConfig, config_from_dict
from acts_gnn.train.data import build_datasets
from acts_gnn.train.loop import train_gnn
from acts_gnn.train.synthetic import SyntheticEvents

N_EVENTS = 4


def _prepared(directory: Path, seed: int) -> Path:
    """A prepared folder of ``N_EVENTS`` toy events (ids 0 .. 3) made with ``seed``."""
    toy = SyntheticConfig(n_events=N_EVENTS, n_particles=25, noise_hits=10, seed=seed)
    directory.mkdir(parents=True)
    for event in SyntheticEvents(toy):
        write_event(directory, event)
    write_dataset_info(directory, {"events": list(range(N_EVENTS)), "seed": seed})
    return directory


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two data sets with the same event ids, and two different maps of the first."""
    root = tmp_path_factory.mktemp("cache-key")
    a = _prepared(root / "a", seed=1)
    b = _prepared(root / "b", seed=2)
    full = build_module_map(PreparedDataset(a), TruthSelection(min_pt=0.0, min_hits=3))
    pruned = full.pruned(2)
    assert pruned.n_triplets < full.n_triplets
    return {
        "a": a,
        "b": b,
        "map_a": full.save(root / "map-a.npz"),
        "map_b": pruned.save(root / "map-b.npz"),
    }


def _config(output: Path, input: Path, module_map: Path, epochs: int = 1) -> Any:
    return config_from_dict(
        {
            "output": str(output),
            "seed": 3,
            "data": {
                "input": str(input),
                "module_map": str(module_map),
                "train_events": 3,
                "val_events": 1,
            },
            "model": {"hidden": 8, "n_iterations": 1},
            "training": {"epochs": epochs, "batch_size": 2, "export": False, "progress": False},
        }
    )


def _graphs(module_map: Path, events: PreparedDataset) -> list[np.ndarray]:
    source = ModuleMapGraphs(ModuleMap.load(module_map))
    return [source(event)[0] for event in events]


def test_a_changed_map_rebuilds_the_cached_graphs(
    inputs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = PreparedDataset(inputs["a"])
    first = CachedGraphs(ModuleMapGraphs(ModuleMap.load(inputs["map_a"])), tmp_path)
    for event in events:
        first(event)
    again = CachedGraphs(ModuleMapGraphs(ModuleMap.load(inputs["map_a"])), tmp_path)
    for event in events:
        again(event)
    assert again.rebuilt == []  # same map, same events: read from the cache

    with caplog.at_level(logging.WARNING, logger="acts_gnn.graph.store"):
        other = CachedGraphs(ModuleMapGraphs(ModuleMap.load(inputs["map_b"])), tmp_path)
        got = [other(event)[0] for event in events]
    assert other.rebuilt == list(range(N_EVENTS))
    assert "built from other inputs" in caplog.text
    expected = _graphs(inputs["map_b"], events)
    stale = _graphs(inputs["map_a"], events)
    assert sum(e.shape[1] for e in expected) < sum(s.shape[1] for s in stale)
    for g, e in zip(got, expected):
        assert np.array_equal(g, e)
    # and the rebuilt files now carry map B's key: a third pass reads them
    third = CachedGraphs(ModuleMapGraphs(ModuleMap.load(inputs["map_b"])), tmp_path)
    assert np.array_equal(third(events[0])[0], expected[0])
    assert third.rebuilt == []


def test_same_ids_other_data_set_rebuilds(inputs: dict[str, Path], tmp_path: Path) -> None:
    """A rerun into the same output with another ``data.input``, whose event ids are the
    same: the first run's graphs (left by a run killed before its first checkpoint) are not
    used."""
    output = tmp_path / "run"
    train, _ = build_datasets(_config(output, inputs["a"], inputs["map_a"]))
    train[0]
    assert graph_path(output / "graphs", 0).is_file()
    a0, b0 = PreparedDataset(inputs["a"])[0], PreparedDataset(inputs["b"])[0]
    assert event_digest(a0) != event_digest(b0)

    train_b, _ = build_datasets(_config(output, inputs["b"], inputs["map_a"]))
    sample = train_b[0]
    cache = train_b.graphs
    assert isinstance(cache, CachedGraphs)
    assert cache.rebuilt == [0]
    expected = _graphs(inputs["map_a"], PreparedDataset(inputs["b"], [0]))[0]
    assert np.array_equal(sample.edge_index.numpy(), expected)


@pytest.mark.parametrize(
    ("change", "named"),
    [("map", "graph_source"), ("input", "input")],
)
def test_resume_refuses_other_data(
    change: str, named: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    output = tmp_path / "run"
    train_gnn(_config(output, inputs["a"], inputs["map_a"]))
    input_ = inputs["b"] if change == "input" else inputs["a"]
    module_map = inputs["map_b"] if change == "map" else inputs["map_a"]
    with pytest.raises(ConfigError, match="trained on other data") as err:
        train_gnn(_config(output, input_, module_map, epochs=2), resume=True)
    assert f"{named}: checkpoint" in str(err.value)


def test_resume_accepts_the_same_data(inputs: dict[str, Path], tmp_path: Path) -> None:
    """The same map under another name (a copy) is the same data: resume goes on."""
    output = tmp_path / "run"
    train_gnn(_config(output, inputs["a"], inputs["map_a"]))
    copy = tmp_path / "copy-of-map-a.npz"
    copy.write_bytes(inputs["map_a"].read_bytes())
    result = train_gnn(_config(output, inputs["a"], copy, epochs=2), resume=True)
    assert len(result.history) == 2


def test_output_under_a_file_is_refused_first(inputs: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        train_gnn(_config(blocker / "run", inputs["a"], inputs["map_a"]))


def test_graph_files_of_another_data_set(inputs: dict[str, Path], tmp_path: Path) -> None:
    """``acts-gnn graphs`` rerun into the same folder with another data set of the same event
    ids rebuilds the files (it kept them before); a graphs folder read for the wrong data set
    (``data.graphs``) is refused instead of giving another event's edges."""
    from acts_gnn.errors import InputDataError
    from acts_gnn.graph.store import StoredGraphs
    from acts_gnn.train.graph_files import write_graph_files

    source = ModuleMapGraphs(ModuleMap.load(inputs["map_a"]))
    builder = {"graph": "module-map", "module_map": str(inputs["map_a"])}
    first = write_graph_files(PreparedDataset(inputs["a"]), source, tmp_path, builder)
    assert first.rebuilt_stale == []
    again = write_graph_files(PreparedDataset(inputs["a"]), source, tmp_path, builder)
    assert again.skipped_existing == list(range(N_EVENTS))

    stored = StoredGraphs(tmp_path)
    assert np.array_equal(
        stored(PreparedDataset(inputs["a"])[1])[0],
        _graphs(inputs["map_a"], PreparedDataset(inputs["a"], [1]))[0],
    )
    with pytest.raises(InputDataError, match="built from other hits") as err:
        stored(PreparedDataset(inputs["b"])[1])
    assert err.value.event == 1

    other = write_graph_files(PreparedDataset(inputs["b"]), source, tmp_path, builder)
    assert other.rebuilt_stale == list(range(N_EVENTS))
    assert other.skipped_existing == []
    event = PreparedDataset(inputs["b"])[2]
    assert np.array_equal(stored(event)[0], source(event)[0])

"""``prepare --workers 2``: the per-event input checks run in the tasks, not in the client.

The shared tiny sample (2 events), one event per task, on the local cluster of 2 processes that
``get_client`` keeps for the whole test process. A bad event in the later chunk fails the run
with its file, event and field named and no ``dataset.json``; the client itself validates no
event (its ``SimulationFiles.validate`` may not be called) and the tables are the serial ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acts_gnn.cli import main
from acts_gnn.io.event_store import DATASET_FILE, event_files

pytestmark = pytest.mark.acts

PARALLEL = ["--workers", "2", "--chunk-events", "1", "-q"]


@pytest.fixture(scope="module", autouse=True)
def _cluster() -> Iterator[None]:
    from acts_gnn.distributed.executor import close_clients

    yield
    close_clients()


def test_bad_event_in_a_later_chunk_is_named_and_nothing_is_complete(
    sample_copy: Path, read_tree: Any, write_tree: Any, tmp_path: Path, capsys: Any
) -> None:
    hits = read_tree(sample_copy / "hits.root", "hits")
    hits["tx"] = hits["tx"].copy()
    entry = int(np.flatnonzero(hits["event_id"] == 1)[3])  # event 1: the second chunk
    hits["tx"][entry] = np.nan
    write_tree(sample_copy / "hits.root", "hits", hits)
    out = tmp_path / "out"
    assert main(["prepare", "-i", str(sample_copy), "-o", str(out), *PARALLEL]) == 2
    err = capsys.readouterr().err
    assert "prepare event 1: InputDataError" in err  # the chunk
    assert f"first at hit entry {entry}" in err
    assert f"file {sample_copy / 'hits.root'}, event 1, field 'tx'" in err
    assert not (out / DATASET_FILE).exists()
    assert 1 not in event_files(out)  # the bad chunk wrote nothing


def test_the_client_validates_no_event(
    sim_sample: Any, prepared_sample: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acts_gnn.distributed.executor import ParallelOptions
    from acts_gnn.distributed.prepare import prepare_parallel
    from acts_gnn.io.root_reader import SimulationFiles

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the client validated events: that is the tasks' work")

    monkeypatch.setattr(SimulationFiles, "validate", refuse)  # this process only
    out = tmp_path / "out"
    options = ParallelOptions(workers=2, chunk_events=1, quiet=True)
    report = prepare_parallel(sim_sample.directory, out, options, progress=False)
    assert report.written == [0, 1]
    serial = prepared_sample.directory
    names = sorted(p.name for p in serial.glob("*.parquet"))
    assert names == sorted(p.name for p in out.glob("*.parquet"))
    for name in names:
        assert (serial / name).read_bytes() == (out / name).read_bytes(), name
    assert json.loads((out / DATASET_FILE).read_text()) == json.loads(
        (serial / DATASET_FILE).read_text()
    )

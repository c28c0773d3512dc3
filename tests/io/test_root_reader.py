"""SimulationFiles' up-front checks (what they read, that they run once) and the vectorised
conversion of ROOT columns to ACTS objects (one barcode object per distinct barcode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import acts_gnn.io.root_reader as root_reader
from acts_gnn.errors import InputDataError
from acts_gnn.io.root_reader import (
    CHECKED_HIT_BRANCHES,
    ENTRY_COLUMN,
    SimulationFiles,
    sim_barcodes,
)


def test_validate_checks_each_event_once(sim_sample: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    original = root_reader.check_event

    def counting(event_id: int, *args: Any) -> None:
        checked.append(event_id)
        original(event_id, *args)

    monkeypatch.setattr(root_reader, "check_event", counting)
    files = SimulationFiles.from_dir(sim_sample.directory)
    assert not files.is_validated(0)
    files.validate(files.event_ids)
    assert checked == [0, 1]
    assert files.is_validated(0)
    assert files.is_validated(1)
    particles, hits = files.event(1)  # read in full, not checked again
    assert checked == [0, 1]
    assert ENTRY_COLUMN in hits
    assert "deltae" in hits
    assert "vt" in particles


def test_validate_reads_only_the_checked_branches(
    sim_sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = SimulationFiles.from_dir(sim_sample.directory)
    read: list[list[str]] = []
    for tree in (files.hit_tree, files.particle_tree):
        original = tree.arrays

        def recording(branches: list[str], *args: Any, _read: Any = original, **kw: Any) -> Any:
            read.append(list(branches))
            return _read(branches, *args, **kw)

        monkeypatch.setattr(tree, "arrays", recording)
    files.validate([0])
    hit_read, particle_read = read
    assert set(hit_read) <= set(CHECKED_HIT_BRANCHES)
    assert {"tx", "geometry_id", "barcode_particle"} <= set(hit_read)
    assert "deltae" not in hit_read
    assert "tt" not in hit_read
    assert {"px", "vx", "particle"} <= set(particle_read)
    assert "vt" not in particle_read


def test_validate_and_check_modules_name_the_same_hit(
    sample_copy: Path, read_tree: Any, write_tree: Any, detector: Any
) -> None:
    # validate reads in file order, check_modules in container order: the same entry named
    hits = read_tree(sample_copy / "hits.root", "hits")
    gid = hits["geometry_id"].copy()
    entry = int(np.flatnonzero(hits["event_id"] == 1)[7])
    gid[entry] = (np.uint64(77) << np.uint64(56)) | (gid[entry] & np.uint64((1 << 56) - 1))
    hits["geometry_id"] = gid
    write_tree(sample_copy / "hits.root", "hits", hits)
    modules = detector.surfaces().geometry_ids
    messages = []
    for check in (
        lambda f: f.validate(f.event_ids, modules),
        lambda f: f.check_modules(modules, f.event_ids),
    ):
        with pytest.raises(InputDataError, match="modules this detector does not have") as info:
            check(SimulationFiles.from_dir(sample_copy))
        assert (info.value.event, info.value.field) == (1, "geometry_id")
        assert info.value.file == str(sample_copy / "hits.root")
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert f"first at hit entry {entry}:" in messages[0]
    assert "volume=77" in messages[0]


@pytest.mark.acts
def test_sim_barcodes_one_object_per_distinct_barcode() -> None:
    # rows 0, 2 and 4 are one barcode; row 1 differs from it in the last component only,
    # row 3 in the first only: lexsort grouping must tell all of them apart
    columns = [
        np.array([1, 1, 1, 2, 1], np.uint32),
        np.array([0, 0, 0, 0, 0], np.uint32),
        np.array([5, 5, 5, 5, 5], np.uint32),
        np.array([0, 0, 0, 0, 0], np.uint32),
        np.array([0, 1, 0, 0, 0], np.uint32),
    ]
    barcodes = sim_barcodes(columns)
    assert barcodes[0] is barcodes[2] is barcodes[4]
    assert len({id(b) for b in barcodes}) == 3
    got = [
        (b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
        for b in barcodes
    ]
    assert got == [tuple(int(c[k]) for c in columns) for k in range(5)]
    assert sim_barcodes([np.zeros(0, np.uint32)] * 5) == []

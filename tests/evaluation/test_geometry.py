"""Geometry validation (acts_gnn.evaluation.geometry, ``acts-gnn geometry``).

Tiny hand-made detectors, hit tables and module maps; only the last tests load the generic
detector (geometry only, no sequencer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.evaluation.geometry import (
    GeometrySelector,
    build_report,
    check_coverage,
    digitized_mask,
    module_coverage,
    module_map_connectivity,
    read_digi_config,
    read_spacepoint_selection,
    selected_mask,
    write_report,
)
from acts_gnn.graph.module_map.core import ModuleMap


def gid(volume: int, layer: int = 0, sensitive: int = 0) -> int:
    return GeometrySelector(volume=volume, layer=layer, sensitive=sensitive).value()


#: A toy detector: volumes 1 (layers 2, 4) and 2 (layer 2), three modules per layer.
MODULES = np.array(
    sorted(gid(v, lay, s) for v, lay in ((1, 2), (1, 4), (2, 2)) for s in (1, 2, 3)),
    dtype=np.uint64,
)


def digi_json(path: Path, entries: list[dict]) -> Path:
    smear = [{"index": 0, "mean": 0.0, "stddev": 0.01, "type": "Gauss"}]
    for e in entries:
        e.setdefault("value", {"smearing": smear})
    path.write_text(
        json.dumps(
            {
                "acts-geometry-hierarchy-map": {
                    "format-version": 0,
                    "value-identifier": "digitization-configuration",
                },
                "entries": entries,
            }
        )
    )
    return path


def selection_json(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def tiny_hits() -> dict[str, np.ndarray]:
    """Two hits on each of the first two modules of every layer."""
    ids = np.repeat(MODULES.reshape(3, 3)[:, :2].ravel(), 2)
    n = len(ids)
    rng = np.random.default_rng(1)
    volume = (ids >> np.uint64(56)).astype(np.uint32)
    layer = ((ids >> np.uint64(36)) & np.uint64(0xFFF)).astype(np.uint32)
    r = 30.0 * layer + 100.0 * (volume - 1) + rng.uniform(0, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    z = np.where(volume == 1, rng.uniform(-100, 100, n), rng.uniform(200, 300, n))
    return {
        "x": (r * np.cos(phi)).astype(np.float32),
        "y": (r * np.sin(phi)).astype(np.float32),
        "z": z.astype(np.float32),
        "r": r.astype(np.float32),
        "geometry_id": ids,
        "volume_id": volume,
        "layer_id": layer,
    }


def tiny_map() -> ModuleMap:
    """Triplets 1:2 -> 1:4 -> 2:2 through modules 1 and 2 of each layer; module 3 unused."""
    index = {int(m): k for k, m in enumerate(MODULES)}
    triplets = [
        [index[gid(1, 2, s)], index[gid(1, 4, s)], index[gid(2, 2, s2)]]
        for s in (1, 2)
        for s2 in (1, 2)
    ]
    t = len(triplets)
    return ModuleMap(
        MODULES,
        np.array(triplets),
        np.ones(t, dtype=np.int64),
        np.zeros((t, 4, 2)),
        np.zeros((t, 4, 2)),
        np.zeros((t, 2)),
        np.zeros((t, 2)),
    )


# -- geometry-id matching -----------------------------------------------------------------------
def test_selector_matching_follows_acts_hierarchy():
    assert GeometrySelector().matches(MODULES).all()
    assert GeometrySelector(volume=1).matches(MODULES).sum() == 6
    assert GeometrySelector(volume=1, layer=4).matches(MODULES).sum() == 3
    assert GeometrySelector(volume=1, layer=4, sensitive=2).matches(MODULES).sum() == 1
    # ACTS compares every level down to the deepest one set: layer 0 must then match too
    assert not GeometrySelector(volume=1, sensitive=2).matches(MODULES).any()
    assert GeometrySelector(volume=1, layer=2).describe() == "volume 1, layer 2"


def test_digitization_uses_the_most_specific_entry(tmp_path):
    path = digi_json(
        tmp_path / "digi.json",
        [{"volume": 1}, {"volume": 1, "layer": 4, "value": {}}, {"volume": 2, "layer": 2}],
    )
    entries = read_digi_config(path)
    assert [e.digitizes for e in entries] == [True, False, True]
    mask = digitized_mask(entries, MODULES)
    expected = GeometrySelector(volume=1, layer=2).matches(MODULES) | (
        GeometrySelector(volume=2).matches(MODULES)
    )
    np.testing.assert_array_equal(mask, expected)


def test_malformed_configs_are_input_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputDataError, match="not valid JSON"):
        read_digi_config(tmp_path / "bad.json")
    with pytest.raises(InputDataError, match="entries"):
        read_digi_config(selection_json(tmp_path / "sel.json", [{"volume": 1}]))
    with pytest.raises(InputDataError, match="list"):
        read_spacepoint_selection(digi_json(tmp_path / "digi.json", [{"volume": 1}]))
    with pytest.raises(InputDataError, match="non-negative"):
        read_spacepoint_selection(selection_json(tmp_path / "neg.json", [{"volume": -1}]))
    with pytest.raises(InputDataError, match="does not exist"):
        read_digi_config(tmp_path / "missing.json")


# -- coverage -----------------------------------------------------------------------------------
def test_coverage_ok(tmp_path):
    report = check_coverage(
        MODULES,
        digi_json(tmp_path / "d.json", [{"volume": 1}, {"volume": 2}]),
        selection_json(tmp_path / "s.json", [{"volume": 1}, {"volume": 2}]),
        tiny_hits()["geometry_id"],
    )
    assert report.ok
    assert report.volumes_with_measurements == [1, 2]
    assert report.failure_message() == ""
    assert any("OK" in line for line in report.lines())


def test_coverage_names_uncovered_volumes_and_layers(tmp_path):
    report = check_coverage(
        MODULES,
        digi_json(tmp_path / "d.json", [{"volume": 1, "layer": 2}, {"volume": 2}]),
        selection_json(tmp_path / "s.json", [{"volume": 1}]),
        tiny_hits()["geometry_id"],
    )
    assert not report.ok
    (digi,) = report.digi_uncovered
    assert (digi.volume, digi.n_modules, digi.n_uncovered, digi.layers) == (1, 6, 3, [4])
    assert digi.hits == 4  # two hits on each of two modules of layer 1:4
    (sp,) = report.spacepoint_uncovered
    assert (sp.volume, sp.n_uncovered, sp.hits) == (2, 3, 4)
    assert "whole volume" in sp.describe()
    message = report.failure_message()
    assert "misses sensitive modules of volume(s) 1" in message
    assert "misses volume(s) 2" in message


def test_selection_must_cover_volumes_with_hits_even_if_not_digitized(tmp_path):
    # volume 2 is not digitized by this config, but the events have hits there
    report = check_coverage(
        MODULES,
        digi_json(tmp_path / "d.json", [{"volume": 1}]),
        selection_json(tmp_path / "s.json", [{"volume": 1}]),
        tiny_hits()["geometry_id"],
    )
    assert [u.volume for u in report.digi_uncovered] == [2]
    assert [u.volume for u in report.spacepoint_uncovered] == [2]
    assert report.spacepoint_uncovered[0].n_uncovered == 2  # the two modules with hits
    assert selected_mask(read_spacepoint_selection(tmp_path / "s.json"), MODULES).sum() == 6


def test_invalid_selection_entries_are_problems(tmp_path):
    report = check_coverage(
        MODULES,
        digi_json(tmp_path / "d.json", [{}]),
        selection_json(tmp_path / "s.json", [{"volume": 1, "approach": 1}, {"volume": 2}]),
    )
    assert report.digi_uncovered == []  # the all-zero entry digitizes everything
    assert not report.ok
    assert "approach" in report.problems[0]


# -- module map -----------------------------------------------------------------------------
def test_connectivity_of_a_tiny_map():
    conn = module_map_connectivity(tiny_map(), layers=[(3, 2)])
    assert conn.layers == [(1, 2), (1, 4), (2, 2), (3, 2)]
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 1] = 2  # (1:2 s, 1:4 s) for s = 1, 2
    expected[1, 2] = 4  # (1:4 s, 2:2 s2)
    np.testing.assert_array_equal(conn.doublets, expected)
    assert conn.triplets[0, 1] == 4
    assert conn.triplets[1, 2] == 4
    assert conn.layer_triplets == {((1, 2), (1, 4), (2, 2)): 4}
    assert conn.pair_lines()[1].split() == ["1:2", "1:4", "2", "4"]
    assert conn.triplet_lines()[1].split() == ["1:2", "1:4", "2:2", "4"]


def test_module_coverage_counts_missing_modules_and_their_hits():
    hits = tiny_hits()
    extra = np.array([gid(2, 2, 3)] * 5, dtype=np.uint64)  # 5 hits on an unmapped module
    cov = module_coverage(MODULES, tiny_map(), np.concatenate([hits["geometry_id"], extra]))
    assert [(v.volume, v.n_modules, v.n_in_map, v.n_missing) for v in cov.volumes] == [
        (1, 6, 4, 2),
        (2, 3, 2, 1),
    ]
    assert [(v.hits, v.hits_on_missing) for v in cov.volumes] == [(8, 0), (9, 5)]
    assert len(cov.missing_ids) == 3
    assert len(cov.foreign_ids) == 0
    # a map of another geometry: its modules are not detector modules
    cov = module_coverage(MODULES[:6], tiny_map())
    assert len(cov.foreign_ids) == 3
    assert "PROBLEM" in cov.lines()[-1]


def test_full_report_text_and_plots(tmp_path):
    hits = tiny_hits()
    hits["geometry_id"] = np.append(hits["geometry_id"], np.uint64(gid(9, 2, 1)))
    for c in ("x", "y", "z", "r"):
        hits[c] = np.append(hits[c], np.float32(1.0))
    hits["volume_id"] = np.append(hits["volume_id"], np.uint32(9))
    hits["layer_id"] = np.append(hits["layer_id"], np.uint32(4))  # disagrees with the id
    report = build_report(
        MODULES,
        digi_json(tmp_path / "d.json", [{"volume": 1}, {"volume": 2}]),
        selection_json(tmp_path / "s.json", [{"volume": 1}, {"volume": 2}, {"volume": 9}]),
        hits,
        tiny_map(),
        detector="toy",
        volume_names={1: "inner", 2: "outer"},
        events=1,
        module_map_name="tiny.npz",
    )
    assert report.hits is not None
    assert [v.volume for v in report.hits] == [1, 2, 9]
    assert report.hits_on_unknown_modules == 1
    assert report.hit_id_mismatches == 1
    assert not report.ok  # the hit on a module that is not in the detector
    centres = np.zeros((len(MODULES), 3))
    centres[:, 0] = np.arange(len(MODULES))
    path = write_report(report, tmp_path / "out", hits, MODULES, centres)
    text = path.read_text()
    for piece in ("configuration coverage", "inner", "module map tiny.npz", "layer triplets"):
        assert piece in text
    assert "RESULT: FAILED" in text
    assert "not sensitive modules of the toy detector" in text
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "hitmap.png",
        "hitmap_density.png",
        "layer_connectivity.png",
        "module_coverage.png",
        "report.txt",
    ]
    assert len(report.summary()) == 3


# -- the generic detector -------------------------------------------------------------------
@pytest.mark.acts
def test_generic_detector_configs_cover_it(detector):
    report = check_coverage(
        detector.surfaces().geometry_ids,
        detector.digi_config_file,
        detector.spacepoint_selection_file,
        acts_check=True,
    )
    assert report.ok, report.failure_message()
    assert report.volumes_with_measurements == [7, 8, 9, 12, 13, 14, 16, 17, 18]


@pytest.mark.acts
def test_truncated_digi_config_fails_naming_the_volumes(detector, tmp_path, capsys):
    from acts_gnn.cli import main

    config = json.loads(Path(detector.digi_config_file).read_text())
    config["entries"] = [e for e in config["entries"] if e["volume"] < 16]
    truncated = tmp_path / "digi-truncated.json"
    truncated.write_text(json.dumps(config))
    report = check_coverage(
        detector.surfaces().geometry_ids, truncated, detector.spacepoint_selection_file
    )
    assert [u.volume for u in report.digi_uncovered] == [16, 17, 18]
    assert all(u.n_uncovered == u.n_modules for u in report.digi_uncovered)
    assert report.spacepoint_uncovered == []
    assert "volume(s) 16, 17, 18" in report.failure_message()

    out = tmp_path / "out"
    code = main(["geometry", "--output", str(out), "--digi-config", str(truncated), "--no-plots"])
    assert code == 1
    captured = capsys.readouterr()
    assert "volume(s) 16, 17, 18" in captured.out + captured.err
    assert "RESULT: FAILED" in (out / "report.txt").read_text()

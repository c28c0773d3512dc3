"""Geometry validation report and command (acts_gnn.evaluation.geometry, ``acts-gnn geometry``).

The whole report on the toy detector of :mod:`geometry_toys`; the last tests load the generic
detector (geometry only, no sequencer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.evaluation.geometry import build_report, write_report
from acts_gnn.evaluation.geometry_configs import check_coverage
from tests.evaluation.geometry_toys import (
    MODULES,
    digi_json,
    gid,
    selection_json,
    tiny_hits,
    tiny_map,
)


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

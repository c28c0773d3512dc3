"""Config coverage of the geometry validation (acts_gnn.evaluation.geometry_configs).

Geometry-id matching and the coverage checks on the toy detector of :mod:`geometry_toys`.
"""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.evaluation.geometry_configs import (
    GeometrySelector,
    check_coverage,
    digitized_mask,
    read_digi_config,
    read_spacepoint_selection,
    selected_mask,
)
from tests.evaluation.geometry_toys import MODULES, digi_json, selection_json, tiny_hits


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

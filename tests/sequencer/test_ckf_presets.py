"""The CKF operating points: provenance values, selection, validation, per-preset timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.acts


def test_presets_hold_the_upstream_values() -> None:
    import acts

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.sequencer.ckf import CKF_PRESETS, CkfSettings, ckf_preset

    u = acts.UnitConstants
    assert set(CKF_PRESETS) == {"fast", "upstream", "tuned"}
    assert ckf_preset("fast") == CkfSettings()
    # tuned: fast with Delta r <= 300 mm and 5 seeds per middle space point (the scan)
    assert ckf_preset("tuned") == CkfSettings(
        delta_r=(1 * u.mm, 300 * u.mm), max_seeds_per_middle=5
    )
    up = ckf_preset("upstream")
    assert up.delta_r == (1 * u.mm, 300 * u.mm)
    assert (up.max_abs_eta, up.loc0, up.max_holes, up.max_outliers) == (3.0, (-4.0, 4.0), 2, 2)
    assert (up.initial_sigma_qop, up.initial_sigma_qop_pt) == (0.0, pytest.approx(0.1 / u.GeV))
    assert (up.max_shared_hits, up.ambiguity_iterations) == (3, 1000000)
    # generic-seeding-config.json: barrel layers 2-8 and the four innermost disks per side
    detector = load_generic_detector()
    assert up.seeding_selection is not None
    selection = json.loads(
        (detector.seeding_selection_file.parent / up.seeding_selection).read_text()
    )
    assert sorted((e["volume"], e["layer"]) for e in selection) == sorted(
        [(8, k) for k in (2, 4, 6, 8)]
        + [(9, k) for k in (2, 4, 6, 8)]
        + [(7, k) for k in (8, 10, 12, 14)]
    )
    cuts = up.track_selector()
    assert (cuts.absEtaMax, cuts.loc0Min, cuts.loc0Max) == (3.0, -4.0, 4.0)
    assert (cuts.maxHoles, cuts.maxOutliers, cuts.minMeasurements) == (2, 2, 7)
    fast = CkfSettings().track_selector()
    assert fast.maxHoles > 1000
    assert fast.absEtaMax > 1e6
    with pytest.raises(ValueError, match=r"unknown CKF preset 'nope'.*fast"):
        ckf_preset("nope")


def test_track_min_pt_is_every_presets_threshold(tmp_path: Path) -> None:
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser
    from acts_gnn.sequencer.ckf import ckf_preset
    from acts_gnn.sequencer.compare import CompareConfig

    config = CompareConfig(
        input=tmp_path, output=tmp_path / "out", ckf_presets=("fast", "tuned"), track_min_pt=0.45
    )
    for preset in config.ckf_presets:
        settings = config.ckf_settings(preset)
        assert settings.min_pt == pytest.approx(0.45)  # seeding and selection
        assert settings.track_selector().ptMin == pytest.approx(0.45)
    assert config.ckf.track_selector().ptMin == pytest.approx(0.45)  # the GNN tracks' too
    assert config.ckf_settings("tuned").max_seeds_per_middle == 5  # the rest of the preset
    assert CompareConfig(input=tmp_path, output=tmp_path).ckf_settings("tuned") == ckf_preset(
        "tuned"
    )
    for command in ("compare", "demo"):
        argv = [command] + (
            ["-i", str(tmp_path), "-o", str(tmp_path)] if command == "compare" else []
        )
        args = build_parser().parse_args([*argv, "--track-min-pt", "0.45"])
        assert _compare_config(args, tmp_path, tmp_path / "o").track_min_pt == 0.45
        args = build_parser().parse_args(argv)
        assert _compare_config(args, tmp_path, tmp_path / "o").track_min_pt is None


def test_compare_config_checks_the_presets(tmp_path: Path) -> None:
    from acts_gnn.sequencer.compare import CompareConfig

    for presets, message in (
        (("fast", "nope"), "unknown CKF preset"),
        (("fast", "fast"), "distinct"),
        ((), "distinct"),
    ):
        with pytest.raises(ValueError, match=message):
            CompareConfig(input=tmp_path, output=tmp_path / "out", ckf_presets=presets).validate()
    config = CompareConfig(
        input=tmp_path, output=tmp_path / "out", ckf_presets=("upstream", "fast")
    )
    assert config.ckf_chains() == [("ckf", "upstream"), ("ckf_fast", "fast")]
    assert config.ckf.max_abs_eta == 3.0  # the first preset's selection applies to the GNN too


def test_stage_times_split_by_preset(tmp_path: Path) -> None:
    from acts_gnn.sequencer.compare import stage_times

    rows = [
        ("Algorithm:SpacePointMaker", 0.1),
        ("Algorithm:TrackFindingAlgorithmGnn", 2.0),
        ("Algorithm:ProtoTracksToParameters", 0.25),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.125),  # the GNN chain's start covariance
        ("Algorithm:TrackFittingAlgorithm", 0.3),
        ("Algorithm:SpacePointMaker", 0.01),
        ("Algorithm:GridTripletSeedingAlgorithm", 0.2),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.5),
        ("Algorithm:TrackFindingAlgorithm", 5.0),
        ("Algorithm:GreedyAmbiguityResolutionAlgorithm", 0.04),
        ("Algorithm:SpacePointMaker", 0.02),
        ("Algorithm:GridTripletSeedingAlgorithm", 0.5),
        ("Algorithm:TrackFindingAlgorithm", 9.0),
        ("Algorithm:CandidateAccounting", 7.0),
    ]
    path = tmp_path / "timing.csv"
    path.write_text("identifier,time_perevent_s\n" + "".join(f"{n},{t}\n" for n, t in rows))
    times = stage_times(path, ("ckf", "ckf_upstream"))
    assert times["gnn"] == {
        "space points": 0.1,
        "GNN track finding": 2.0,
        "track parameters": 0.375,
        "Kalman fit": 0.3,
    }
    assert times["ckf"] == {
        "space points": 0.01,
        "seeding": 0.2,
        "track parameters": 0.5,
        "CKF": 5.0,
        "ambiguity resolution": 0.04,
    }
    assert times["ckf_upstream"] == {"space points": 0.02, "seeding": 0.5, "CKF": 9.0}

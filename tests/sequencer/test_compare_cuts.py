"""The GNN chain at several edge cuts (acts_gnn.sequencer.gnn_cuts) by hand: builder copies,
the multi-cut builder on a hand-made graph, and each cut's time from a timing.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.acts  # gnn_cuts defines Sequencer algorithms (imports acts)


def test_labels_and_builder_copies() -> None:
    from acts_gnn.chain.tracks import ConnectedComponentsTrackBuilding, WalkthroughTrackBuilding
    from acts_gnn.sequencer.gnn_cuts import builder_at_cut, builder_cut, cut_label

    assert cut_label(0.8) == "gnn_cut0p8"
    assert cut_label(0.95) == "gnn_cut0p95"
    walk = WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=3)
    high = builder_at_cut(walk, 0.9)
    assert (builder_cut(walk), builder_cut(high)) == (0.5, 0.9)
    assert high.cut_low == 0.1
    assert high.minMeasurementsPerTrack == 3
    with pytest.raises(ValueError, match="low cut"):
        builder_at_cut(walk, 0.05)
    cc = ConnectedComponentsTrackBuilding(cut=0.5, minMeasurementsPerTrack=2)
    assert builder_cut(builder_at_cut(cc, 0.7)) == 0.7
    assert builder_cut(cc) == 0.5


def test_cleaned_builder_copies_at_another_cut() -> None:
    from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval, chain_cleaner
    from acts_gnn.chain.tracks import WalkthroughTrackBuilding
    from acts_gnn.sequencer.gnn_cuts import MultiCutTrackBuilding, builder_at_cut, builder_cut

    walk = WalkthroughTrackBuilding(cut_high=0.5, cut_low=0.1, minMeasurementsPerTrack=7)
    cleaned = CleanedTrackBuilding(walk, HelixOutlierRemoval(tolLongitudinal=4.0))
    high = builder_at_cut(cleaned, 0.8)
    assert isinstance(high, CleanedTrackBuilding)
    assert (builder_cut(cleaned), builder_cut(high), walk.cut_high) == (0.5, 0.8, 0.5)
    assert high.cleaner.tolLongitudinal == 4.0
    assert high.cleaner is not cleaned.cleaner
    multi = MultiCutTrackBuilding(cleaned, [0.8])
    assert chain_cleaner(multi) is cleaned.cleaner
    assert chain_cleaner(cleaned) is cleaned.cleaner
    assert chain_cleaner(walk) is None


def test_multi_cut_builder_on_a_hand_made_graph() -> None:
    """A chain 0-1-2-3-4 whose middle edge scores 0.6: at cut 0.5 one candidate of five
    hits, at 0.7 two of two and three (minimum two hits)."""
    from acts_gnn.chain.tracks import ConnectedComponentsTrackBuilding
    from acts_gnn.sequencer.gnn_cuts import MultiCutTrackBuilding

    edges = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    scores = torch.tensor([0.9, 0.6, 0.9, 0.95])
    positions = np.stack([np.arange(5) * 30.0 + 30, np.zeros(5), np.zeros(5)], axis=1)
    builder = MultiCutTrackBuilding(
        ConnectedComponentsTrackBuilding(cut=0.5, minMeasurementsPerTrack=1), [0.7, 0.92]
    )
    builder.minMeasurementsPerTrack = 2  # as GnnPipeline sets it: every cut's builder
    assert [b.minMeasurementsPerTrack for b in builder.builders] == [2, 2, 2]
    first = builder(edges, scores, 5, positions=positions)
    assert [c.tolist() for c in first] == [[0, 1, 2, 3, 4]]
    at_07, at_092 = builder.extra
    assert sorted(c.tolist() for c in at_07) == [[0, 1], [2, 3, 4]]
    assert [c.tolist() for c in at_092] == [[3, 4]]
    assert builder.cuts == [0.5, 0.7, 0.92]
    assert len(builder.seconds) == 3
    with pytest.raises(ValueError, match="distinct"):
        MultiCutTrackBuilding(ConnectedComponentsTrackBuilding(cut=0.5), [0.5])


def test_each_cut_gets_its_own_time(tmp_path: Path) -> None:
    """timing.csv rows in the order run_comparison adds them: the first cut's fit, then a
    marker and the fit of each further cut, then the CKF chain."""
    from acts_gnn.sequencer.compare import split_cut_times, stage_times

    rows = [
        ("Algorithm:SpacePointMaker", 0.1),
        ("Algorithm:TrackFindingAlgorithmGnn", 2.0),
        ("Algorithm:CutProtoTracks", 0.001),
        ("Algorithm:ProtoTracksToParameters", 0.25),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.125),
        ("Algorithm:TrackFittingAlgorithm", 0.5),
        ("Algorithm:GnnCut_gnn_cut0p8", 0.0),
        ("Algorithm:ProtoTracksToParameters", 0.0625),
        ("Algorithm:TrackFittingAlgorithm", 0.25),
        ("Algorithm:TrackMerge", 0.125),
        ("Algorithm:SpacePointMaker", 0.01),
        ("Algorithm:GridTripletSeedingAlgorithm", 0.2),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.5),
        ("Algorithm:TrackFindingAlgorithm", 5.0),
    ]
    path = tmp_path / "timing.csv"
    path.write_text("identifier,time_perevent_s\n" + "".join(f"{n},{t}\n" for n, t in rows))
    labels = ("gnn", "gnn_cut0p8")
    times = stage_times(path, ("ckf",), labels[1:])
    assert times["gnn"] == {
        "space points": 0.1,
        "GNN track finding": 2.0,
        "track parameters": 0.375,
        "Kalman fit": 0.5,
    }
    assert times["gnn_cut0p8"] == {"track parameters": 0.0625, "Kalman fit": 0.375}
    assert times["ckf"] == {
        "space points": 0.01,
        "seeding": 0.2,
        "track parameters": 0.5,
        "CKF": 5.0,
    }
    # the GNN algorithm's 2 s hold both builders (0.25 s and 0.5 s): 1.25 s shared
    split_cut_times(times, labels, [0.25, 0.5])
    assert times["gnn"]["GNN track finding"] == pytest.approx(1.5)
    assert times["gnn_cut0p8"] == {
        "space points": 0.1,
        "GNN track finding": pytest.approx(1.75),
        "track parameters": 0.0625,
        "Kalman fit": 0.375,
    }


def test_config_checks_the_cuts(tmp_path: Path) -> None:
    from acts_gnn.sequencer.compare import CompareConfig

    config = CompareConfig(input=tmp_path, output=tmp_path / "out", gnn_cuts=(0.7, 0.9))
    assert config.gnn_chains() == [("gnn", 0.5), ("gnn_cut0p7", 0.7), ("gnn_cut0p9", 0.9)]
    config.validate()
    for cuts, message in (((0.5,), "distinct"), ((1.5,), r"\[0, 1\]"), ((0.05,), "low cut")):
        with pytest.raises(ValueError, match=message):
            CompareConfig(input=tmp_path, output=tmp_path / "out", gnn_cuts=cuts).validate()


def test_cli_gnn_cuts(tmp_path: Path) -> None:
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser

    args = build_parser().parse_args(
        ["compare", "-i", str(tmp_path), "-o", str(tmp_path / "o"), "--gnn-cuts", "0.6", "0.8"]
    )
    config = _compare_config(args, args.input, args.output)
    assert (config.edge_cut, config.gnn_cuts) == (0.6, (0.8,))
    args = build_parser().parse_args(["compare", "-i", str(tmp_path), "-o", str(tmp_path)])
    assert _compare_config(args, args.input, args.output).gnn_cuts == ()

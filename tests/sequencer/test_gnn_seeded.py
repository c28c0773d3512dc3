"""The GNN-seeded CKF's seed conversion: proto-tracks of three measurements -> ACTS seeds whose
space points are the same hits in the same (bottom, middle, top) order; the chain's time
accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.acts


def _triplet_algorithms(level: Any, space_points: str) -> tuple[Any, Any]:
    import acts
    import acts.examples

    from acts_gnn.io.acts_edm import data_handle
    from acts_gnn.sequencer.algorithm import space_point_columns

    class HandMadeTriplets(acts.examples.IAlgorithm):  # type: ignore[misc]
        """Proto-tracks of three space points each, inner -> outer in radius."""

        def __init__(self) -> None:
            super().__init__("HandMadeTriplets", level)
            self._sp = data_handle(self, "read", acts.SpacePointContainer, "In", space_points)
            self._out = data_handle(
                self, "write", acts.examples.ProtoTrackContainer, "Out", "hand_triplets"
            )
            self.triplets: list[np.ndarray] = []  # measurement indices per event

        def execute(self, context: Any) -> Any:
            positions, _, measurements = space_point_columns(self._sp(context.eventStore))
            order = np.argsort(np.hypot(positions[:, 0], positions[:, 1]), kind="stable")
            n = len(order) // 3
            rows = np.stack([order[:n], order[n : 2 * n], order[2 * n : 3 * n]], axis=1)[:50]
            triplets = measurements[rows]
            out = acts.examples.ProtoTrackContainer()
            for t in triplets:
                out.append(acts.examples.ProtoTrack([int(m) for m in t]))
            self._out(context, out)
            self.triplets.append(triplets)
            return acts.examples.ProcessCode.SUCCESS

    class ReadSeeds(acts.examples.IAlgorithm):  # type: ignore[misc]
        """The measurement indices of every seed's space points, in seed order."""

        def __init__(self) -> None:
            super().__init__("ReadSeeds", level)
            self._sp = data_handle(self, "read", acts.SpacePointContainer, "In", space_points)
            self._seeds = data_handle(self, "read", acts.SeedContainer, "Seeds", "hand_seeds")
            self.seeds: list[np.ndarray] = []

        def execute(self, context: Any) -> Any:
            _, _, measurements = space_point_columns(self._sp(context.eventStore))
            seeds = self._seeds(context.eventStore)
            rows = [list(seed.spacePointIndices) for seed in seeds]
            self.seeds.append(measurements[np.asarray(rows, dtype=np.int64).reshape(-1, 3)])
            return acts.examples.ProcessCode.SUCCESS

    return HandMadeTriplets(), ReadSeeds()


def test_proto_tracks_to_seeds_keep_the_order(sim_sample: Any, detector: Any, tmp_path: Path):
    import acts
    import acts.examples

    from acts_gnn.sequencer.reconstruction import addRootSimulationInput, addSpacePoints

    level = acts.logging.WARNING
    s = acts.examples.Sequencer(
        events=1, numThreads=1, logLevel=level, trackFpes=False, outputDir=str(tmp_path)
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, sim_sample.directory, detector, logLevel=level)
    sp = addSpacePoints(s, detector, detector.spacepoint_selection_file, "sp", level)
    make, read = _triplet_algorithms(level, sp)
    s.addAlgorithm(make)
    s.addAlgorithm(
        acts.examples.ProtoTracksToSeeds(
            level=level,
            inputProtoTracks="hand_triplets",
            inputSpacePoints=sp,
            outputSeeds="hand_seeds",
            outputProtoTracks="hand_seed_prototracks",
        )
    )
    s.addAlgorithm(read)
    s.run()
    made, got = make.triplets[0], read.seeds[0]
    assert len(made) > 5
    np.testing.assert_array_equal(got, made)  # same hits, same bottom-middle-top order


def test_move_seeded_times(tmp_path: Path):
    from acts_gnn.sequencer.gnn_seeded import SEEDING_NAME, move_seeded_times

    rows = [
        ("Algorithm:TrackFindingAlgorithmGnn", 2.0),
        ("Algorithm:SpacePointMaker", 0.1),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.01),
        ("Algorithm:TrackFindingAlgorithm", 1.0),
        ("Algorithm:GreedyAmbiguityResolutionAlgorithm", 0.05),
        (f"Algorithm:{SEEDING_NAME}", 3.0),
        ("Algorithm:ProtoTracksToSeeds", 0.02),
        ("Algorithm:TrackParamsEstimationAlgorithm", 0.03),
        ("Algorithm:TrackFindingAlgorithm", 0.5),
        ("Algorithm:GreedyAmbiguityResolutionAlgorithm", 0.04),
    ]
    path = tmp_path / "timing.csv"
    path.write_text(
        "identifier,time_total_s,time_perevent_s\n" + "".join(f"{n},{t},{t}\n" for n, t in rows)
    )
    # what stage_times gave: every CKF-stage row after the CKF's space points to "ckf"
    times = {
        "gnn": {"GNN track finding": 2.0},
        "ckf": {"track parameters": 0.04, "CKF": 1.5, "ambiguity resolution": 0.09},
    }
    move_seeded_times(times, path, "gnn_seeded", {"ckf": "ckf"})
    assert times["gnn_seeded"] == pytest.approx(
        {
            "GNN triplet seeding": 3.0,
            "track parameters": 0.05,
            "CKF": 0.5,
            "ambiguity resolution": 0.04,
        }
    )
    assert times["ckf"] == pytest.approx(
        {"track parameters": 0.01, "CKF": 1.0, "ambiguity resolution": 0.05}
    )
    assert times["gnn"] == {"GNN track finding": 2.0}


def test_cli_gnn_seeded(tmp_path: Path):
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser
    from acts_gnn.sequencer.compare_report import chain_titles

    base = ["compare", "-i", str(tmp_path), "-o", str(tmp_path / "o")]
    args = build_parser().parse_args(base)
    assert _compare_config(args, args.input, args.output).triplet_model is None
    args = build_parser().parse_args([*base, "--gnn-seeded"])
    shipped = _compare_config(args, args.input, args.output).triplet_model
    assert shipped is not None
    assert shipped.name == "triplet.pt"
    assert shipped.is_file()  # the shipped model
    args = build_parser().parse_args([*base, "--gnn-seeded", str(tmp_path / "m.pt")])
    assert _compare_config(args, args.input, args.output).triplet_model == tmp_path / "m.pt"
    titles = dict(chain_titles({"gnn": {}, "ckf": {}, "gnn_seeded": {}}))
    assert titles["gnn_seeded"] == "GNN triplet seeds + CKF"

"""The GNN-seeded CKF's seed conversion: proto-tracks of three measurements -> ACTS seeds whose
space points are the same hits in the same (bottom, middle, top) order; why a seed must not
hold two hits of one layer, and that the chain's seed cuts keep such seeds out; the chain's
time accounting."""

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


def _helix(radii: list[float], pt: float = 2.0, q: float = 1.0, cot_theta: float = 0.5) -> Any:
    """Points [n, 3] mm at ``radii`` of a helix from the origin (azimuth 0.3) in 2 T."""
    big_r = pt / (0.3 * 2.0) * 1000.0
    phi0 = 0.3
    centre = q * big_r * np.array([np.sin(phi0), -np.cos(phi0)])
    turn = 2 * np.arcsin(np.asarray(radii) / (2 * big_r))
    c, s = np.cos(-q * turn), np.sin(-q * turn)
    x = centre[0] - c * centre[0] + s * centre[1]
    y = centre[1] - s * centre[0] - c * centre[1]
    return np.stack([x, y, turn * big_r * cot_theta], axis=1)


def _estimated_qop_ratio(points: Any, shift: float) -> float:
    """ACTS's three-point q/p estimate over the true q/p, with the middle point moved by
    ``shift`` mm across its radius (in the transverse plane)."""
    import acts

    u = acts.UnitConstants
    p = points.copy()
    phi = np.arctan2(p[1, 1], p[1, 0])
    p[1, :2] += shift * np.array([-np.sin(phi), np.cos(phi)])
    v = [acts.Vector3(*row) for row in p]
    free, _ = acts.estimateTrackParamsFromSeed(v[0], 0.0, v[1], v[2], acts.Vector3(0, 0, 2 * u.T))
    return float(free[7] * u.GeV * 2.0 * np.hypot(1.0, 0.5))  # true |p| = pT * hypot(1, cot)


def test_seed_with_two_hits_on_one_layer_has_no_q_over_p():
    """The cause of the chain's lost particles (docs/triplet-seeds.md): with two seed hits on
    one layer (an overlap of two modules, 2 mm apart in radius), a 1-sigma pixel error (15 um)
    on the middle hit flips the sign of the estimated q/p or doubles it; on three layers it
    moves q/p by ~6 %."""
    overlap = _helix([32.0, 34.0, 72.0])
    layers = _helix([32.0, 72.0, 116.0])
    assert _estimated_qop_ratio(overlap, 0.0) == pytest.approx(1.0, abs=0.01)
    assert _estimated_qop_ratio(overlap, -0.015) < 0.0  # wrong charge
    assert _estimated_qop_ratio(overlap, 0.015) > 2.0
    for shift in (-0.015, 0.015):
        assert _estimated_qop_ratio(layers, shift) == pytest.approx(1.0, abs=0.1)


def test_chain_seed_cuts_skip_overlap_hits(tmp_path: Path):
    """The chain's seed cuts (:func:`seed_cuts` defaults) on a track through a module overlap
    of the innermost layer: its seeds start after the overlap, two per chain (before the fix
    the one seed was the overlap triplet 0-1-2)."""
    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.nn.triplet_classifier import TripletClassifier
    from acts_gnn.sequencer.gnn_seeded import MIN_SEED_DELTA_R, seed_cuts
    from acts_gnn.train.export import export_torchscript
    from tests.graph.test_triplets import overlap_chain

    path = export_torchscript(
        TripletClassifier(hidden=8, n_iterations=1), tmp_path / "t.pt", metadata={}
    )
    cuts = seed_cuts()
    assert cuts["minSeedDeltaR"] == MIN_SEED_DELTA_R == 4.0
    assert cuts["maxSeedR"] is None
    assert cuts["minPt"] == 0.5
    event, edges, scores = overlap_chain()
    stage = TripletSeeding(path, cut=0.0, **cuts)
    seeds = sorted(tuple(s.tolist()) for s in stage(edges, scores, 5, None, event.positions()))
    assert seeds == [(1, 2, 3), (2, 3, 4)]
    assert seed_cuts(max_seed_r=200.0, seeds_per_chain=1)["maxSeedR"] == 200.0


@pytest.mark.slow
def test_chain_efficiency_with_and_without_the_seed_cuts(
    sim_sample: Any, detector: Any, tmp_path: Path
):
    """The whole chain on the shared sample, with its seed cuts and with the seeds of before
    the fix (innermost only, bottom hit in the pixels, no Delta r cut), side by side on the
    same events: the chain's seeds hold no two hits closer than 4 mm in radius, and it finds
    more target particles."""
    import acts
    import acts.examples

    from acts_gnn.chain.defaults import default_files
    from acts_gnn.sequencer.algorithm import space_point_columns
    from acts_gnn.sequencer.gnn_seeded import addGnnSeededCkf
    from acts_gnn.sequencer.reconstruction import (
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackPerformance,
    )

    files = default_files()
    triplet = files.gnn_torchscript.with_name("triplet.pt")
    if not triplet.is_file():
        pytest.skip("no shipped triplet model")
    level = acts.logging.WARNING
    s = acts.examples.Sequencer(
        events=sim_sample.events,
        numThreads=1,
        logLevel=level,
        trackFpes=False,
        outputDir=str(tmp_path),
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, sim_sample.directory, detector, logLevel=level)
    addParticleSelection(s, logLevel=level)
    sp = addSpacePoints(s, detector, detector.spacepoint_selection_file, "sp", level)
    before = {"max_seed_r": 200.0, "min_delta_r": None, "seeds_per_chain": 1}
    writers, gaps = {}, {}
    for label, cuts in (("now", None), ("before", before)):
        tracks = addGnnSeededCkf(
            s, detector, triplet, sp, prefix=f"{label}_", logLevel=level, seedCuts=cuts
        )
        writers[label] = addTrackPerformance(s, tracks, label, logLevel=level)

    class SeedGaps(acts.examples.IAlgorithm):  # type: ignore[misc]
        """The smallest radial gap between consecutive hits of each seed of ``label``."""

        def __init__(self, label: str) -> None:
            from acts_gnn.io.acts_edm import data_handle

            super().__init__(f"SeedGaps_{label}", level)
            self._sp = data_handle(self, "read", acts.SpacePointContainer, "Sp", sp)
            self._seeds = data_handle(
                self, "read", acts.examples.ProtoTrackContainer, "S", f"{label}_prototracks"
            )
            self.gaps: list[float] = []

        def execute(self, context: Any) -> Any:
            positions, _, measurements = space_point_columns(self._sp(context.eventStore))
            row = {int(m): k for k, m in enumerate(measurements)}
            r = np.hypot(positions[:, 0], positions[:, 1])
            for seed in self._seeds(context.eventStore):
                radii = r[[row[int(m)] for m in seed]]
                self.gaps.append(float(np.abs(np.diff(radii)).min()))
            return acts.examples.ProcessCode.SUCCESS

    for label in ("now", "before"):
        gaps[label] = SeedGaps(label)
        s.addAlgorithm(gaps[label])
    s.run()
    assert min(gaps["now"].gaps) >= 4.0
    assert min(gaps["before"].gaps) < 4.0  # the old seeds hold overlap pairs
    now, old = (writers[k].stats()["efficiencyParticles"] for k in ("now", "before"))
    assert now > old  # on this sample: 1.0 against 0.91 (98 of the 216 old seeds overlap)
    assert now >= 0.95


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

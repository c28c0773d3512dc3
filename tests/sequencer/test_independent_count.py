"""The independent count (acts_gnn.metrics.tracks) against ACTS's TrackTruthMatcher + writer on
realistic events: Fatras, pile-up 50 (default suite) and 200 (slow), hard scatter included;
and the accounting of the candidates ProtoTracksToParameters skips, on the same events.

Two track collections per event: the CKF reference chain's tracks, and "messy" proto-tracks
made from the truth so that every ACTS category is well populated for selected and unselected
particles alike (whole particles, halves, copies missing one hit, particles merged with a
neighbour). The counts must agree exactly; means to rounding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.acts

COUNTS = (
    "nTotalTracks",
    "nTotalUnmatchedTracks",
    "nTotalMatchedTracks",
    "nTotalFakeTracks",
    "nTotalDuplicateTracks",
    "nTotalParticles",
    "nTotalMatchedParticles",
    "nTotalDuplicateParticles",
    "nTotalFakeParticles",
    "nTotalQualityTracks",
)


def _messy_algorithm(level: Any) -> Any:
    import acts
    import acts.examples

    from acts_gnn.io.acts_edm import data_handle

    class MessyProtoTracks(acts.examples.IAlgorithm):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__("MessyProtoTracks", level)
            self._map = data_handle(
                self,
                "read",
                acts.examples.MeasurementParticlesMap,
                "InputMeasurementParticlesMap",
                "measurement_particles_map",
            )
            self._out = data_handle(
                self, "write", acts.examples.ProtoTrackContainer, "Out", "messy_prototracks"
            )

        def execute(self, context: Any) -> Any:
            by_particle: dict[tuple[int, ...], list[int]] = {}
            for m, b in self._map(context.eventStore):
                key = (b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle)
                by_particle.setdefault(key, []).append(int(m))
            rng = np.random.default_rng(context.eventNumber)
            groups = [sorted(set(v)) for v in by_particle.values() if len(v) >= 3]
            out = acts.examples.ProtoTrackContainer()
            for k, g in enumerate(groups):
                r = rng.random()
                if r < 0.5:
                    pieces = [g]
                elif r < 0.7:
                    pieces = [g[: len(g) // 2], g[len(g) // 2 :]]
                elif r < 0.85:
                    pieces = [g, g[1:]]
                else:
                    other = groups[(k + 1) % len(groups)]
                    pieces = [g[: max(1, len(g) // 2)] + other[: len(other) // 2 + 1]]
                for piece in pieces:
                    out.append(acts.examples.ProtoTrack(piece))
            self._out(context, out)
            return acts.examples.ProcessCode.SUCCESS

    return MessyProtoTracks()


def _both_counts(simulation: Path, events: int, output: Path) -> dict[str, Any]:
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.metrics.tracks import ParticleSelection
    from acts_gnn.sequencer.performance import TrackMetricsAlgorithm
    from acts_gnn.sequencer.reconstruction import (
        addCkfReference,
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackPerformance,
    )

    detector = load_generic_detector()
    level = acts.logging.WARNING
    s = acts.examples.Sequencer(
        events=events, numThreads=1, logLevel=level, trackFpes=False, outputDir=str(output)
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, simulation, detector, logLevel=level)
    addParticleSelection(s, logLevel=level)  # pT > 1 GeV, |eta| < 2.5, >= 7 measurements
    addSpacePoints(s, detector, detector.spacepoint_selection_file, "all_spacepoints", level)
    addCkfReference(s, detector, logLevel=level)
    s.addAlgorithm(_messy_algorithm(level))
    s.addAlgorithm(
        acts.examples.ProtoTracksToTracks(
            level=level,
            inputProtoTracks="messy_prototracks",
            inputMeasurements="measurement_subset",
            outputTracks="messy_tracks",
        )
    )
    writers = {
        "ckf": addTrackPerformance(s, "ckf_tracks", "ckf", logLevel=level),
        "messy": addTrackPerformance(s, "messy_tracks", "messy", logLevel=level),
    }
    s.addAlgorithm(
        acts.examples.TracksToTrajectories(
            level=level, inputTracks="ckf_tracks", outputTrajectories="ckf_trajectories"
        )
    )
    s.addAlgorithm(
        acts.examples.TrajectoriesToProtoTracks(
            level=level, inputTrajectories="ckf_trajectories", outputProtoTracks="ckf_hits"
        )
    )
    ours = TrackMetricsAlgorithm(
        {"ckf": "ckf_hits", "messy": "messy_prototracks"},
        "all_spacepoints",
        ParticleSelection(min_pt=1.0, max_abs_eta=2.5, min_hits=7),
        level=level,
    )
    s.addAlgorithm(ours)
    s.run()
    return {
        label: (writer.stats(), ours.metrics[label].acts_stats(), ours.n_shared)
        for label, writer in writers.items()
    }


def _simulate(directory: Path, pileup: float, events: int) -> Path:
    from acts_gnn.simulation import simulate
    from acts_gnn.simulation.pythia8 import Pythia8Config

    simulate(
        directory,
        events=events,
        generator=Pythia8Config(pileup=pileup),  # ttbar + Poisson(pileup) minimum bias
        seed=11,
        progress=False,
    )
    return directory


@pytest.fixture(scope="module")
def mu50_simulation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("mu50"), 50.0, 2)


@pytest.fixture(scope="module")
def mu50(tmp_path_factory: pytest.TempPathFactory, mu50_simulation: Path) -> dict[str, Any]:
    return _both_counts(mu50_simulation, 2, tmp_path_factory.mktemp("mu50_sequencer"))


def _assert_equal(counts: dict[str, Any], label: str, check_purity: bool) -> None:
    acts_stats, ours, _ = counts[label]
    assert {k: acts_stats[k] for k in COUNTS} == {k: ours[k] for k in COUNTS}, label
    for key in ("efficiencyParticles", "fakeRatioTracks", "duplicateRatioTracks"):
        mine = {"efficiencyParticles": "efficiency", "fakeRatioTracks": "fakeRatio"}.get(
            key, "duplicateRatio"
        )
        assert ours[mine] == acts_stats[key], (label, key)
    assert ours["meanCompleteness"] == pytest.approx(acts_stats["meanCompleteness"], rel=1e-12)
    if check_purity:  # proto tracks have no outliers; fitted tracks' purity differs (docs)
        assert ours["meanPurity"] == pytest.approx(acts_stats["meanPurity"], rel=1e-12)


def test_counts_equal_acts_at_pileup_50(mu50: dict[str, Any]) -> None:
    _assert_equal(mu50, "ckf", check_purity=False)
    _assert_equal(mu50, "messy", check_purity=True)
    messy = mu50["messy"][0]
    # the sample exercises what the count must get right: many fakes and duplicates, most
    # of them of particles outside the selection (tracks >> selected particles)
    assert messy["nTotalFakeTracks"] > 100
    assert messy["nTotalDuplicateTracks"] > 500
    assert messy["nTotalTracks"] > 10 * messy["nTotalParticles"]
    assert mu50["ckf"][0]["nTotalMatchedParticles"] > 0.9 * mu50["ckf"][0]["nTotalParticles"]


@pytest.mark.slow
def test_counts_equal_acts_at_pileup_200(tmp_path: Path) -> None:
    counts = _both_counts(_simulate(tmp_path / "sim", 200.0, 1), 1, tmp_path / "sequencer")
    _assert_equal(counts, "ckf", check_purity=False)
    _assert_equal(counts, "messy", check_purity=True)
    assert counts["ckf"][0]["nTotalFakeTracks"] > 0  # CKF fakes at MU = 200 (of all particles)


def test_skip_reasons_by_hand() -> None:
    from acts_gnn.sequencer.parameters import SKIP_REASONS, skip_reason

    barrel = np.array([[30.0, 0.0, 0.0], [70.0, 1.0, 0.0], [120.0, 3.0, 0.0]])
    assert skip_reason(barrel[:2], np.array([1, 2]), 10.0) == SKIP_REASONS[0]
    assert skip_reason(barrel, np.array([1, 1, 2]), 10.0) == SKIP_REASONS[1]
    # three barrel layers far apart: only the estimate itself can fail
    assert skip_reason(barrel, np.array([1, 2, 3]), 10.0) == SKIP_REASONS[3]
    # a steep forward track through three disks at nearly the same (x, y)
    disks = np.array([[100.0, 0.0, 600.0], [104.0, 0.0, 700.0], [108.0, 0.0, 820.0]])
    assert skip_reason(disks, np.array([7, 8, 9]), 10.0) == SKIP_REASONS[2]
    assert skip_reason(disks, np.array([7, 8, 9]), 5.0) == SKIP_REASONS[2]
    assert skip_reason(disks, np.array([7, 8, 9]), 4.0) == SKIP_REASONS[3]
    # a fourth disk far enough from the first two rescues the triplet
    four = np.vstack([disks[:2], [[130.0, 0.0, 950.0]], disks[2:]])
    assert skip_reason(four[:3], np.array([7, 8, 10]), 10.0) == SKIP_REASONS[2]
    spread = np.array([[100.0, 0.0, 600.0], [115.0, 0.0, 700.0], [130.0, 0.0, 950.0]])
    assert skip_reason(spread, np.array([7, 8, 10]), 10.0) == SKIP_REASONS[3]


def test_every_candidate_reaches_the_fit_or_is_counted(
    mu50_simulation: Path, tmp_path: Path
) -> None:
    """ProtoTracksToParameters on the messy candidates at 10 mm and 0 mm: in = out + skipped,
    and the diagnosis agrees with ACTS: at 0 mm exactly the distance-skipped ones come back;
    the fallback pass on the skipped candidates (as addGnn runs it) recovers just those."""
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.sequencer.parameters import SKIP_REASONS, CandidateAccounting
    from acts_gnn.sequencer.reconstruction import addRootSimulationInput, addSpacePoints

    detector = load_generic_detector()
    level = acts.logging.ERROR
    s = acts.examples.Sequencer(
        events=2, numThreads=1, logLevel=level, trackFpes=False, outputDir=str(tmp_path)
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, mu50_simulation, detector, logLevel=level)
    addSpacePoints(s, detector, detector.spacepoint_selection_file, "sp", level)
    s.addAlgorithm(_messy_algorithm(level))

    def parameters(candidates: str, distance: float, tag: str) -> None:
        s.addAlgorithm(
            acts.examples.ProtoTracksToParameters(
                level=level,
                inputProtoTracks=candidates,
                inputSpacePoints="sp",
                outputSeeds=f"seeds_{tag}",
                outputParameters=f"parameters_{tag}",
                outputProtoTracks=f"seeded_{tag}",
                geometry=detector.tracking_geometry,
                magneticField=detector.field,
                minTransverseDistance=distance,
            )
        )

    parameters("messy_prototracks", 10.0, "far")
    far_accounting = CandidateAccounting(
        "messy_prototracks", "seeded_far", "sp", 10.0, "skipped_far", level=level
    )
    s.addAlgorithm(far_accounting)
    parameters("skipped_far", 0.0, "fallback")
    far_accounting.fallback = CandidateAccounting(
        "skipped_far", "seeded_fallback", "sp", 0.0, level=level
    )
    s.addAlgorithm(far_accounting.fallback)
    parameters("messy_prototracks", 0.0, "near")
    near_accounting = CandidateAccounting("messy_prototracks", "seeded_near", "sp", 0.0)
    s.addAlgorithm(near_accounting)
    s.run()
    far, near = far_accounting.summary(), near_accounting.summary()
    for summary in (far, near):
        assert summary["candidates"] == summary["with_parameters"] + summary["skipped"]
        assert sum(summary["skipped_by_reason"].values()) == summary["skipped"]
    assert far["candidates"] > 5000
    by_reason = far["skipped_by_reason"]
    assert by_reason.get(SKIP_REASONS[0], 0) > 0
    assert by_reason.get(SKIP_REASONS[1], 0) > 0
    assert by_reason[SKIP_REASONS[2]] > 50  # steep forward candidates at 10 mm
    assert SKIP_REASONS[2] not in near["skipped_by_reason"]
    assert near["skipped"] == far["skipped"] - by_reason[SKIP_REASONS[2]]
    # the fallback recovers exactly the distance-skipped candidates; the rest are lost
    assert far["recovered_by_fallback"] == by_reason[SKIP_REASONS[2]]
    assert far["lost"] == near["skipped"]
    assert far["lost_by_reason"] == near["skipped_by_reason"]


def test_track_merge_joins_collections(mu50_simulation: Path, tmp_path: Path) -> None:
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.sequencer.parameters import TrackMerge
    from acts_gnn.sequencer.reconstruction import (
        addCkfReference,
        addParticleSelection,
        addRootSimulationInput,
        addTrackPerformance,
    )

    detector = load_generic_detector()
    level = acts.logging.ERROR
    s = acts.examples.Sequencer(
        events=1, numThreads=1, logLevel=level, trackFpes=False, outputDir=str(tmp_path)
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, mu50_simulation, detector, logLevel=level)
    addParticleSelection(s, logLevel=level)
    addCkfReference(s, detector, logLevel=level)
    s.addAlgorithm(TrackMerge(["ckf_tracks", "ckf_tracks"], "twice", level))
    once = addTrackPerformance(s, "ckf_tracks", "once", logLevel=level)
    twice = addTrackPerformance(s, "twice", "twice", logLevel=level)
    s.run()
    a, b = once.stats(), twice.stats()
    assert a["nTotalTracks"] > 300
    assert b["nTotalTracks"] == 2 * a["nTotalTracks"]
    assert b["nTotalMeasurements"] == 2 * a["nTotalMeasurements"]  # track states copied
    assert b["nTotalMatchedParticles"] == a["nTotalMatchedParticles"]
    # every matched track (of any particle) comes twice: one copy more per matched track
    matched = a["nTotalTracks"] - a["nTotalFakeTracks"] - a["nTotalUnmatchedTracks"]
    assert b["nTotalDuplicateTracks"] == a["nTotalDuplicateTracks"] + matched
    assert b["nTotalFakeTracks"] == 2 * a["nTotalFakeTracks"]


def test_disjoint_tracks_keep_each_hit_once() -> None:
    from acts_gnn.sequencer.performance import disjoint_tracks

    tracks = [np.array([4, 5, 6]), np.array([1, 2, 3, 2, 5]), np.array([7])]
    # the longest track keeps its hits (its repeated hit 2 once), the next loses the shared 5
    out = disjoint_tracks(tracks)
    assert [t.tolist() for t in out] == [[4, 6], [1, 2, 3, 5], [7]]

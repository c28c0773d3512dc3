"""The GNN chain's start parameters and Kalman fit (acts_gnn.sequencer.fitting) on the shared
tiny Pythia8 sample: truth proto-tracks as the candidates, pulls against the truth perigee.

ProtoTracksToParameters gives every candidate a fixed covariance far tighter than its
three-point estimate; fitted from it, the pulls of d0, z0, phi and theta were 4-6. The
chain re-estimates the start parameters from the same seeds with the CKF chain's start
covariance: the pulls must be ~1 (and the control, ProtoTracksToParameters' own parameters
fitted as before, must still show the old, wide pulls)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.acts

ANGLES_AND_IMPACT = ("d0", "z0", "phi", "theta")


@pytest.fixture(scope="module")
def fitted(sim_sample: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.detector.generic import SOLENOID_FIELD_TESLA
    from acts_gnn.io.acts_edm import data_handle
    from acts_gnn.metrics.tracks import ParticleSelection
    from acts_gnn.sequencer.ckf import CkfSettings
    from acts_gnn.sequencer.fitting import (
        addCandidateFit,
        addKalmanFit,
        fitted_track_collections,
    )
    from acts_gnn.sequencer.performance import TrackMetricsAlgorithm
    from acts_gnn.sequencer.reconstruction import (
        ForwardTrackSelection,
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackQualitySelection,
    )

    detector = load_generic_detector()
    level = acts.logging.ERROR
    s = acts.examples.Sequencer(
        events=sim_sample.events,
        numThreads=1,
        logLevel=level,
        trackFpes=False,
        outputDir=str(tmp_path_factory.mktemp("fit")),
    )
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, sim_sample.directory, detector, logLevel=level)
    addParticleSelection(s, logLevel=level)  # pT > 1 GeV, |eta| < 2.5, >= 7 measurements
    addSpacePoints(s, detector, detector.spacepoint_selection_file, "sp", level)
    s.addAlgorithm(
        acts.examples.TruthTrackFinder(
            level=level,
            inputParticles="particles_selected",
            inputParticleMeasurementsMap="particle_measurements_map",
            inputMeasurements="measurements",
            inputSimHits="simhits",
            inputMeasurementSimHitsMap="measurement_simhits_map",
            outputProtoTracks="truth_candidates",
        )
    )
    accounting = addCandidateFit(s, detector, "truth_candidates", "sp", prefix="chain")
    # the control: ProtoTracksToParameters' own parameters and covariance, fitted directly
    addKalmanFit(
        s, detector, "chain_estimate_prototracks", "chain_estimate_parameters", "old", level
    )
    # the forward selection: all tracks (no pT or measurement cut but its own) in and out
    loose = CkfSettings(min_pt=0.0, min_measurements=1)
    addTrackQualitySelection(s, "chain_tracks", "all", loose, level)
    addTrackQualitySelection(
        s, "chain_tracks", "fwd", loose, level, forward=ForwardTrackSelection(2.0, 12)
    )
    # at 250 mm some candidates need the fallback: the fits joined, and without the joined
    # copy (each fit selected on its own, then joined)
    far = addCandidateFit(s, detector, "truth_candidates", "sp", 250.0, prefix="far")
    addCandidateFit(s, detector, "truth_candidates", "sp", 250.0, prefix="split", merge=False)
    split = fitted_track_collections("split", 250.0, merge=False)
    for name, source in (("all_far", "far_tracks"), ("all_split", split)):
        addTrackQualitySelection(s, source, name, loose, level)
    for name, source in (("fwd_far", "far_tracks"), ("fwd_split", split)):
        addTrackQualitySelection(
            s, source, name, loose, level, forward=ForwardTrackSelection(2.0, 12)
        )

    class Columns(acts.examples.IAlgorithm):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__("Columns", level)
            self.handles = {
                n: data_handle(self, "read", acts.examples.ConstTrackContainer, n, n)
                for n in ("all", "fwd", "all_far", "fwd_far", "all_split", "fwd_split")
            }
            self.rows: dict[str, list[tuple[float, int]]] = {n: [] for n in self.handles}
            self.parameters: dict[str, list[list[float]]] = {n: [] for n in self.handles}

        def execute(self, context: Any) -> Any:
            for name, handle in self.handles.items():
                tracks = handle(context.eventStore)
                theta = np.asarray(tracks.parameters).reshape(len(tracks), -1)[:, 3]
                eta = -np.log(np.tan(theta / 2))
                self.rows[name] += list(zip(eta.tolist(), np.asarray(tracks.nMeasurements)))
                self.parameters[name] += (
                    np.asarray(tracks.parameters).reshape(len(tracks), -1).tolist()
                )
            return acts.examples.ProcessCode.SUCCESS

    columns = Columns()
    s.addAlgorithm(columns)
    tracks = {"chain": "chain_tracks", "old": "old"}
    for label, name in tracks.items():
        s.addAlgorithm(
            acts.examples.TracksToTrajectories(
                level=level, inputTracks=name, outputTrajectories=f"{label}_trajectories"
            )
        )
        s.addAlgorithm(
            acts.examples.TrajectoriesToProtoTracks(
                level=level,
                inputTrajectories=f"{label}_trajectories",
                outputProtoTracks=f"{label}_hits",
            )
        )
    ours = TrackMetricsAlgorithm(
        {label: f"{label}_hits" for label in tracks},
        "sp",
        ParticleSelection(min_pt=1.0, max_abs_eta=2.5, min_hits=7),
        level=level,
        inputTracks=tracks,
        bzTesla=SOLENOID_FIELD_TESLA,
    )
    s.addAlgorithm(ours)
    s.run()
    return {
        "columns": columns.rows,
        "parameters": columns.parameters,
        "accounting": accounting.summary(),
        "far_accounting": far.summary(),
        **{label: ours.resolutions[label].summary(min_pt=1.0) for label in tracks},
    }


def test_pulls_are_one(fitted: dict[str, Any]) -> None:
    chain = fitted["chain"]
    assert chain["tracks"] > 60  # 100 on the shared sample: widths known to ~10 %
    for name in (*ANGLES_AND_IMPACT, "qop"):
        assert 0.7 < chain[name]["pull_width68"] < 1.5, (name, chain[name]["pull_width68"])
        assert abs(chain[name]["pull_mean"]) < 0.5, name


def test_the_old_start_covariance_gave_wide_pulls(fitted: dict[str, Any]) -> None:
    old, chain = fitted["old"], fitted["chain"]
    assert old["tracks"] == chain["tracks"]
    for name in ANGLES_AND_IMPACT:
        assert old[name]["pull_width68"] > 2.5, name  # 3.7-5.6 on the shared sample
        # the tight prior also made the fit itself worse, not only its covariance
        assert old[name]["width68"] > chain[name]["width68"], name


def test_every_truth_candidate_is_fitted(fitted: dict[str, Any]) -> None:
    a = fitted["accounting"]
    assert a["candidates"] > 60
    assert a["lost"] == 0
    assert a["with_parameters"] + a["recovered_by_fallback"] == a["candidates"]


def test_start_sigmas_are_the_ckf_chains() -> None:
    import acts

    from acts_gnn.sequencer.parameters import START_SIGMA_QOP_PT, START_SIGMAS

    u = acts.UnitConstants
    assert START_SIGMAS[:4] == (1 * u.mm, 1 * u.mm, 1 * u.degree, 1 * u.degree)
    assert pytest.approx(0.1 / u.GeV) == START_SIGMA_QOP_PT


def test_forward_selection_needs_more_measurements_beyond_the_edge(
    fitted: dict[str, Any],
) -> None:
    """With the edge at |eta| 2 and 12 measurements beyond it: exactly the tracks at
    |eta| >= 2 with fewer than 12 measurements go."""
    every, kept = fitted["columns"]["all"], fitted["columns"]["fwd"]
    expected = [r for r in every if abs(r[0]) < 2.0] + [
        r for r in every if abs(r[0]) >= 2.0 and r[1] >= 12
    ]
    assert sorted(kept) == sorted(expected)
    assert len(expected) < len(every)  # the sample has such tracks
    assert any(abs(eta) >= 2.0 for eta, _ in kept)  # and long ones beyond the edge too


def test_selecting_each_fit_then_joining_gives_the_same_tracks(fitted: dict[str, Any]) -> None:
    """``merge=False`` + a selection of both fits (what compare runs, without the copy of
    every fitted track) gives the same tracks, parameters bit for bit, in the same order
    as the selection of the joined fits, with and without the forward rule."""
    for joined, split in (("all_far", "all_split"), ("fwd_far", "fwd_split")):
        assert fitted["columns"][split] == fitted["columns"][joined]
        assert fitted["parameters"][split] == fitted["parameters"][joined]
    assert len(fitted["columns"]["fwd_far"]) > 50
    assert fitted["far_accounting"]["recovered_by_fallback"] >= 5  # both fits hold tracks


def test_fitted_track_collections() -> None:
    from acts_gnn.sequencer.fitting import fitted_track_collections

    assert fitted_track_collections("gnn", 10.0, merge=True) == ["gnn_tracks"]
    assert fitted_track_collections("gnn", 0.0, merge=False) == ["gnn_tracks"]
    assert fitted_track_collections("x", 10.0, merge=False) == [
        "x_fitted_tracks",
        "x_fallback_fitted_tracks",
    ]

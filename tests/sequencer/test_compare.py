"""Both chains in one ACTS Sequencer on the shared tiny sample: GNN (module map + GNN + KF)
and seeding + CKF, scored by ACTS's matcher and writer, checked against our own count."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from acts_gnn.graph.module_map.build import build_module_map
from acts_gnn.graph.truth import TruthSelection
from acts_gnn.io.event_store import PreparedDataset
from acts_gnn.nn import InteractionNetwork
from acts_gnn.train.export import export_onnx

pytestmark = pytest.mark.acts

METADATA = {
    "node_features": ["r", "phi", "z", "eta"],
    "feature_scales": [1000.0, math.pi, 1000.0, 1.0],
    "edge_features": ["dr", "dphi", "dz", "deta"],
    "edge_feature_scales": [100.0, 0.1, 100.0, 1.0],
}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory, prepared_sample: Any) -> dict[str, Any]:
    """The comparison with a map built from the sample itself and an untrained tiny GNN
    (with edge features, to exercise their selection and scaling)."""
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison, write_report

    directory = tmp_path_factory.mktemp("compare")
    events = PreparedDataset(prepared_sample.directory)
    module_map = build_module_map(events, TruthSelection(min_pt=0.9, min_hits=3))
    map_path = module_map.save(directory / "map.npz")
    torch.manual_seed(3)
    model = InteractionNetwork(4, 4, hidden=8, n_iterations=1)
    model_path = export_onnx(model.eval(), directory / "gnn.onnx", metadata=METADATA)
    config = CompareConfig(
        input=prepared_sample.simulation.directory,
        output=directory / "report",
        module_map=map_path,
        model=model_path,
        truth_metrics=True,
        ckf_presets=("fast", "upstream"),
        gnn_cuts=(0.8,),
    )
    summary = run_comparison(config, progress=False)
    write_report(summary, config.output)
    return summary


def test_summary_has_both_chains(comparison: dict[str, Any]) -> None:
    from acts_gnn.sequencer.compare import headline_table

    report = Path(comparison["config"]["output"])
    on_disk = json.loads((report / "summary.json").read_text())
    assert on_disk["events"] == 2
    for chain in ("gnn", "ckf"):
        entry = on_disk[chain]
        for key in ("efficiency", "fake_ratio", "duplicate_ratio", "trackml_score"):
            assert 0.0 <= entry[key] <= 1.0, (chain, key)
        assert entry["selection"] == {
            "min_pt_GeV": 1.0,
            "max_abs_eta": 2.5,
            "min_measurements": 7,
            "primaries_only": False,
        }
        assert entry["time_per_event"]["total"] > 0
        assert entry["measurements"] > 0
    assert set(on_disk["gnn"]["time_per_event"]) >= {"GNN track finding", "Kalman fit"}
    assert set(on_disk["ckf"]["time_per_event"]) >= {"seeding", "CKF", "ambiguity resolution"}
    for name in (
        "efficiency_vs_pt",
        "efficiency_vs_eta",
        "fake_ratio_vs_eta",
        "time_per_stage",
        "efficiency_vs_time",
        "turn_on_efficiency_vs_pt",
        "count_efficiency_vs_phi",
        "count_efficiency_vs_vr",
        "count_fake_ratio_vs_pt",
        "count_duplicate_ratio_vs_eta",
    ):
        assert (report / f"{name}.png").stat().st_size > 1000
    assert "ACTS seeding + CKF" in (report / "summary.md").read_text()
    assert "| GNN (module map + GNN + KF), edge cut 0.5 |" in headline_table(comparison)


def test_acts_numbers_equal_an_independent_count(comparison: dict[str, Any]) -> None:
    counters = ("nTotalTracks", "nTotalFakeTracks", "nTotalDuplicateTracks", "nTotalParticles")
    for chain in ("gnn", "gnn_cut0p8", "gnn_prefit", "ckf", "ckf_upstream"):
        entry, ours = comparison[chain], comparison[chain]["independent_count"]
        assert entry["acts_stats"]["nTotalParticles"] > 0
        for key in ("efficiency", "fake_ratio", "duplicate_ratio"):
            assert ours[key] == entry[key], (chain, key)
        for key in counters:
            assert ours["counts"][key] == entry["acts_stats"][key], (chain, key)


def test_two_particle_selections_side_by_side(comparison: dict[str, Any]) -> None:
    from acts_gnn.sequencer.compare import headline_table

    for chain in ("gnn", "gnn_prefit", "ckf", "ckf_upstream"):
        entry = comparison[chain]
        assert list(entry["selections"]) == ["pt>1GeV", "pt>0.5GeV"]
        high, low = entry["selections"]["pt>1GeV"], entry["selections"]["pt>0.5GeV"]
        assert high["efficiency"] == entry["efficiency"]
        assert low["selection"]["min_pt_GeV"] == 0.5
        assert low["selection"]["max_abs_eta"] == 2.5
        n_high, n_low = (x["acts_stats"]["nTotalParticles"] for x in (high, low))
        assert n_low > n_high > 0  # the looser cut holds strictly more particles here
        for sel in (high, low):  # ACTS's second writer and our second count agree
            ours = sel["independent_count"]
            for key in ("efficiency", "fake_ratio", "duplicate_ratio"):
                assert ours[key] == sel[key], (chain, key)
            for key in ("nTotalParticles", "nTotalMatchedParticles", "nTotalTracks"):
                assert ours["counts"][key] == sel["acts_stats"][key], (chain, key)
    # the turn-on: our count with no pT cut reaches below 1 GeV; the 1 GeV count does not
    turn_on = comparison["gnn"]["distributions"]["efficiency_vs_pt"]
    edges, total = turn_on["edges"], turn_on["total"]
    assert sum(t for lo, t in zip(edges, total) if lo < 0.9) > 0
    assert (
        sum(total) > comparison["gnn"]["selections"]["pt>0.5GeV"]["acts_stats"]["nTotalParticles"]
    )
    ckf, counts = comparison["ckf"]["distributions"], comparison["ckf"]["acts_stats"]
    for name in ("efficiency_vs_eta", "efficiency_vs_phi", "efficiency_vs_vr"):  # pT > 1 GeV
        assert sum(ckf[name]["total"]) == counts["nTotalParticles"], name
        assert sum(ckf[name]["accepted"]) == counts["nTotalMatchedParticles"], name
    for name in ("fake_ratio_vs_pt", "fake_ratio_vs_eta"):  # tracks with a majority particle
        assert sum(ckf[name]["accepted"]) <= counts["nTotalFakeTracks"]
        assert sum(ckf[name]["total"]) <= counts["nTotalTracks"]
    assert sum(ckf["duplicate_ratio_vs_eta"]["accepted"]) == counts["nTotalDuplicateTracks"]
    header = headline_table(comparison).splitlines()[0]
    assert "efficiency (pT > 1 GeV) | efficiency (pT > 0.5 GeV)" in header


def test_ckf_presets_side_by_side(comparison: dict[str, Any]) -> None:
    from acts_gnn.sequencer.compare import headline_table

    assert comparison["ckf"]["ckf_preset"] == "fast"
    assert comparison["ckf_upstream"]["ckf_preset"] == "upstream"
    assert comparison["ckf_upstream"]["tracks"] == "ckf_upstream_tracks"
    table = headline_table(comparison)
    assert "| ACTS seeding + CKF (fast) |" in table
    assert "| ACTS seeding + CKF (upstream) |" in table
    for chain in ("ckf", "ckf_upstream"):  # each preset its own stages and time
        times = comparison[chain]["time_per_event"]
        assert set(times) >= {"space points", "seeding", "CKF", "ambiguity resolution"}
        assert times["total"] > 0
    # the upstream preset's tracks pass |eta| < 3 and |loc0| < 4 mm, the fast one's need not
    assert comparison["ckf_upstream"]["efficiency"] > 0.8
    candidates = comparison["gnn"]["gnn_candidates"]
    assert candidates["candidates"] == candidates["with_parameters"] + candidates["skipped"]
    assert candidates["skipped"] == candidates["recovered_by_fallback"] + candidates["lost"]
    assert sum(candidates["lost_by_reason"].values()) == candidates["lost"]
    assert candidates["candidates"] == comparison["gnn_prefit"]["acts_stats"]["nTotalTracks"]
    summary_md = (Path(comparison["config"]["output"]) / "summary.md").read_text()
    assert "GNN candidates: " in summary_md


def test_gnn_cuts_side_by_side(comparison: dict[str, Any]) -> None:
    """One graph and classification, track building + fit per edge cut: each cut its own
    row, time, candidates and numbers; a higher cut keeps fewer edges, so its candidates
    hold fewer hits in all and its own track building is no part of the first's time."""
    from acts_gnn.sequencer.compare import headline_table

    low, high = comparison["gnn"], comparison["gnn_cut0p8"]
    assert (low["gnn_edge_cut"], high["gnn_edge_cut"]) == (0.5, 0.8)
    assert high["tracks"] == "gnn_cut0p8_selected_tracks"
    table = headline_table(comparison)
    assert "| GNN (module map + GNN + KF), edge cut 0.8 |" in table
    for entry in (low, high):
        times = entry["time_per_event"]
        assert set(times) >= {"space points", "GNN track finding", "track parameters"}
        assert times["Kalman fit"] > 0
        assert times["total"] == pytest.approx(sum(v for k, v in times.items() if k != "total"))
        c = entry["gnn_candidates"]
        assert c["candidates"] == c["with_parameters"] + c["skipped"] > 0
        assert set(entry["selections"]) == {"pt>1GeV", "pt>0.5GeV"}
        assert entry["resolutions"]["tracks"] > 0
    # the shared stages are the same for both: their totals differ by their own stages only
    assert high["time_per_event"]["space points"] == low["time_per_event"]["space points"]
    assert high["gnn_candidates"]["candidates"] != low["gnn_candidates"]["candidates"]
    summary_md = (Path(comparison["config"]["output"]) / "summary.md").read_text()
    assert summary_md.count("edge cut 0.8") >= 3  # headline, stage times, independent count


def test_ckf_reference_works_on_this_detector(comparison: dict[str, Any]) -> None:
    # at pile-up 3 the standard chain must find nearly every particle, with no fakes
    assert comparison["ckf"]["efficiency"] > 0.9
    assert comparison["ckf"]["fake_ratio"] < 0.05


def test_truth_hook_sees_a_complete_graph(comparison: dict[str, Any]) -> None:
    # the map was built from these very events: graph construction loses no truth edge
    metrics = comparison["gnn"]["gnn_edge_metrics"]
    assert metrics["graph construction"]["efficiency"] == 1.0
    assert 0 < metrics["graph construction"]["purity"] < 1
    assert set(comparison["gnn"]["gnn_substages"]) >= {"graph construction", "track building"}


def test_example_script_gives_the_same_numbers(comparison: dict[str, Any]) -> None:
    import runpy

    example = Path(__file__).parents[2] / "examples" / "full_chain_generic.py"
    run = runpy.run_path(str(example))["runFullChainGeneric"]
    c = comparison["config"]
    sequencer, writers = run(Path(c["input"]), Path(c["module_map"]), Path(c["model"]))
    sequencer.run()
    for chain in ("gnn", "ckf"):
        stats = writers[chain].stats()
        assert stats["efficiencyParticles"] == comparison[chain]["efficiency"]
        assert stats["fakeRatioTracks"] == comparison[chain]["fake_ratio"]
        assert stats["nTotalTracks"] == comparison[chain]["acts_stats"]["nTotalTracks"]


def test_ckf_seeded_from_gnn_tracks_runs(comparison: dict[str, Any]) -> None:
    import acts
    import acts.examples

    from acts_gnn.detector import load_generic_detector
    from acts_gnn.sequencer.compare import CompareConfig, gnn_stages
    from acts_gnn.sequencer.reconstruction import (
        addGnn,
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackPerformance,
    )

    c = comparison["config"]
    config = CompareConfig(
        input=Path(c["input"]),
        output=Path(c["output"]),
        module_map=Path(c["module_map"]),
        model=Path(c["model"]),
    )
    detector = load_generic_detector()
    s = acts.examples.Sequencer(events=2, numThreads=1, logLevel=acts.logging.WARNING)
    for decorator in detector.decorators:
        s.addContextDecorator(decorator)
    addRootSimulationInput(s, config.input, detector)
    addParticleSelection(s)
    spacepoints = addSpacePoints(s, detector, detector.spacepoint_selection_file, "gnn_spacepoints")
    addGnn(
        s,
        **gnn_stages(config),
        inputSpacePoints=spacepoints,
        device="cpu",
        detector=detector,
        matchTracks=False,
        ckfFromGnn=True,
    )
    writer = addTrackPerformance(s, "gnn_ckf_tracks", "gnn_ckf")
    s.run()
    stats = writer.stats()
    # every CKF track starts from a GNN candidate's parameters; with the CKF chain's start
    # covariance a seed may branch into a few tracks, not many
    n_candidates = comparison["gnn_prefit"]["acts_stats"]["nTotalTracks"]
    assert 0.5 * n_candidates < stats["nTotalTracks"] <= 1.5 * n_candidates


def test_track_min_pt_moves_both_chains_selection(
    comparison: dict[str, Any], tmp_path: Path
) -> None:
    """``track_min_pt`` is the pT threshold of both chains (the GNN's selection, the CKF's
    seeding and selection): at 2 GeV neither keeps a track of a particle well below it, and
    the report says so."""
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison, write_report

    c = comparison["config"]
    config = CompareConfig(
        input=Path(c["input"]),
        output=tmp_path / "report",
        module_map=Path(c["module_map"]),
        model=Path(c["model"]),
        track_min_pt=2.0,
        also_min_pt=(),
    )
    summary = run_comparison(config, progress=False)
    write_report(summary, config.output)
    assert summary["track_selection"] == {"min_pt_GeV": 2.0, "min_measurements": 7}
    assert comparison["track_selection"] == {"min_pt_GeV": 0.5, "min_measurements": 7}
    for chain in ("gnn", "ckf"):
        turn_on = summary[chain]["distributions"]["efficiency_vs_pt"]
        edges, accepted = turn_on["edges"], turn_on["accepted"]
        below = [a for lo, hi, a in zip(edges, edges[1:], accepted) if hi <= 1.5]
        assert sum(below) == 0, chain  # no track of a particle under 1.5 GeV is kept
        before = comparison[chain]["distributions"]["efficiency_vs_pt"]
        assert sum(a for hi, a in zip(before["edges"][1:], before["accepted"]) if hi <= 1.5) > 0
        assert (
            summary[chain]["acts_stats"]["nTotalTracks"]
            < (comparison[chain]["acts_stats"]["nTotalTracks"])
        )
    # the pre-fit candidates are not selected: the cut does not touch them
    assert (
        summary["gnn_prefit"]["acts_stats"]["nTotalTracks"]
        == (comparison["gnn_prefit"]["acts_stats"]["nTotalTracks"])
    )
    report = (config.output / "summary.md").read_text()
    assert (
        "Tracks of both chains: reconstructed pT > 2 GeV (set for the run, the CKF seeding"
        in report
    )
    assert (
        "Tracks of both chains: reconstructed pT > 0.5 GeV, >= 7"
        in (Path(c["output"]) / "summary.md").read_text()
    )
    with pytest.raises(ValueError, match="track_min_pt must be a pT >= 0 GeV"):
        CompareConfig(input=config.input, output=tmp_path / "x", track_min_pt=-1.0).validate()


def test_metric_learning_graph_in_the_chain(comparison: dict[str, Any], tmp_path: Path) -> None:
    from acts_gnn.nn.embedding import EmbeddingNet
    from acts_gnn.sequencer.compare import CompareConfig, headline_table, run_comparison
    from acts_gnn.train.export import export_embedding_torchscript

    torch.manual_seed(5)
    embedding = export_embedding_torchscript(
        EmbeddingNet(4, 3, hidden=8, n_layers=1).eval(),
        tmp_path / "embedding.pt",
        metadata={**METADATA, "r": 0.05, "k": 8},
    )
    c = comparison["config"]
    config = CompareConfig(
        input=Path(c["input"]),
        output=tmp_path / "report",
        graph="metric-learning",
        embedding=embedding,
        model=Path(c["model"]),
        events=1,
        truth_metrics=True,
    )
    summary = run_comparison(config, progress=False)
    assert "| GNN (metric learning + filter + GNN + KF) |" in headline_table(summary)
    metrics = summary["gnn"]["gnn_edge_metrics"]["graph construction"]
    assert 0 <= metrics["efficiency"] <= 1
    assert summary["gnn"]["gnn_counts"]["graph construction edges"] > 0
    for key in ("efficiency", "fake_ratio"):
        # the untrained GNN on a random graph may leave no fitted track: NaN ratios agree too
        ours = summary["gnn"]["independent_count"][key]
        assert ours == pytest.approx(summary["gnn"][key], nan_ok=True)
    bad = {**METADATA, "feature_scales": [1.0, 1.0, 1.0, 1.0]}
    export_embedding_torchscript(
        EmbeddingNet(4, 3, hidden=8, n_layers=1).eval(), tmp_path / "bad.pt", metadata=bad
    )
    config.embedding = tmp_path / "bad.pt"
    with pytest.raises(ValueError, match="trained on node features"):
        run_comparison(config, progress=False)


def test_resolutions_of_fitted_tracks(comparison: dict[str, Any]) -> None:
    for chain in ("gnn", "ckf", "ckf_upstream"):
        res = comparison[chain]["resolutions"]
        assert res["tracks"] > 0
        assert res["skipped_no_reference_surface"] == 0
        assert res["tracks"] <= comparison[chain]["acts_stats"]["nTotalMatchedTracks"]
        # a few-GeV track in this detector: tens of microns in d0, mrad in phi
        assert 0.002 < res["d0"]["width68"] < 0.5, chain
        assert 0.002 < res["z0"]["width68"] < 1.0, chain
        assert res["phi"]["width68"] < 0.01, chain
        assert res["theta"]["width68"] < 0.01, chain
        for name in ("d0", "z0", "phi", "theta", "qop"):
            pull = res[name]["pull_width68"]
            if chain.startswith("ckf"):
                # the CKF's clean tracks: pulls of one check our truth perigee against ACTS's
                # fitted parameters and covariance (a sign or phi error would blow them up)
                assert 0.8 < pull < 1.35, (chain, name)  # ~100 tracks: +- 0.1
            else:  # the untrained GNN's tracks carry wrong hits: wider, but finite
                assert 0.3 < pull < 10.0, (chain, name)
        assert sum(res["d0"]["vs_pt"]["tracks"]) >= res["tracks"]
    assert (Path(comparison["config"]["output"]) / "resolution_d0_vs_eta.png").is_file()


def test_the_run_uses_the_configured_torch_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's default (a thread per core) oversubscribed a busy machine: the classifier took
    33-135 s instead of 5 s. The run sets ``threads`` and restores the caller's setting, also
    when it fails."""
    from acts_gnn.sequencer import compare

    (tmp_path / "sim").mkdir()
    config = compare.CompareConfig(input=tmp_path / "sim", output=tmp_path / "report", threads=1)

    seen: list[int] = []

    def fake_run(config: Any, progress: Any) -> Any:
        seen.append(torch.get_num_threads())
        raise RuntimeError("stop here")

    monkeypatch.setattr(compare, "_run_chains", fake_run)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="stop here"):
            compare.run_chains(config)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

"""``compare`` on realistic events with the shipped module map and GNN (slow): 3 Pythia8
ttbar + pile-up 50 events (the demo's, seed 2026).

On these events the independent count once selected 672 particles where ACTS selected 674
(it counted a particle's measurements without the ones it shares with another particle), and
the GNN chain's fit had pulls of 4-6 (ProtoTracksToParameters' start covariance). Every ACTS
counter must equal ours for every chain, edge cut and selection, and the GNN chain's pulls
must be ~1 like the CKF's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sequencer.test_independent_count import COUNTS as INDEPENDENT_COUNTS

pytestmark = [pytest.mark.acts, pytest.mark.slow]

#: ACTS's writer counters the independent count reproduces, quality tracks aside
COUNTS = tuple(k for k in INDEPENDENT_COUNTS if k != "nTotalQualityTracks")


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison
    from acts_gnn.simulation import simulate
    from acts_gnn.simulation.pythia8 import Pythia8Config

    directory = tmp_path_factory.mktemp("p8mu50")
    simulate(directory / "sim", 3, Pythia8Config(pileup=50), seed=2026, progress=False)
    config = CompareConfig(input=directory / "sim", output=directory / "report", gnn_cuts=(0.8,))
    return run_comparison(config, progress=False)


def test_every_counter_equals_acts(summary: dict[str, Any]) -> None:
    for chain in ("gnn", "gnn_cut0p8", "gnn_prefit", "ckf"):
        for key, sel in summary[chain]["selections"].items():
            acts_stats, ours = sel["acts_stats"], sel["independent_count"]["counts"]
            assert {k: ours[k] for k in COUNTS} == {k: acts_stats[k] for k in COUNTS}, (chain, key)
            for name in ("efficiency", "fake_ratio", "duplicate_ratio"):
                assert sel["independent_count"][name] == sel[name], (chain, key, name)
    # a realistic sample: hundreds of selected particles, fakes of unselected particles
    high = summary["gnn"]["selections"]["pt>1GeV"]["acts_stats"]
    assert high["nTotalParticles"] > 500
    assert summary["gnn"]["acts_stats"]["nTotalFakeTracks"] > 0


def test_gnn_pulls_are_one(summary: dict[str, Any]) -> None:
    for chain in ("gnn", "gnn_cut0p8", "ckf"):
        res = summary[chain]["resolutions"]
        assert res["tracks"] > 500, chain
        for name in ("d0", "z0", "phi", "theta", "qop"):
            assert 0.8 < res[name]["pull_width68"] < 1.25, (chain, name)
    # and the GNN chain's resolutions are within 30 % of the CKF's
    for name in ("d0", "z0", "phi", "theta"):
        gnn, ckf = (summary[c]["resolutions"][name]["width68"] for c in ("gnn", "ckf"))
        assert gnn < 1.3 * ckf, name


def test_cuts_share_the_graph(summary: dict[str, Any]) -> None:
    low, high = summary["gnn"], summary["gnn_cut0p8"]
    assert high["gnn_edge_cut"] == 0.8
    # same space points and classification; the higher cut keeps fewer edges in the tracks
    assert high["time_per_event"]["space points"] == low["time_per_event"]["space points"]
    assert high["acts_stats"]["nTotalMeasurements"] != low["acts_stats"]["nTotalMeasurements"]
    assert Path(summary["config"]["output"]).name == "report"

"""The module-map chain's operating points (``default``: pT > 1 GeV, ``lowpt``: pT > 0.5 GeV in
two passes, ``lowpt-one-pass``):
chosen by ``--operating-point`` / ``CompareConfig.operating_point``, their shipped files in the
GNN stages, refused where they do not apply, named in the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.acts


def _config(tmp_path: Path, **changes: Any) -> Any:
    from acts_gnn.sequencer.compare import CompareConfig

    (tmp_path / "sim").mkdir(exist_ok=True)
    return CompareConfig(**{"input": tmp_path / "sim", "output": tmp_path / "report", **changes})


def test_cli_option_reaches_the_config(tmp_path: Path) -> None:
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser

    for command in (["compare", "-i", str(tmp_path), "-o", str(tmp_path / "o")], ["demo"]):
        args = build_parser().parse_args(command)
        assert _compare_config(args, tmp_path, tmp_path / "o").operating_point == "default"
        args = build_parser().parse_args([*command, "--operating-point", "lowpt"])
        assert _compare_config(args, tmp_path, tmp_path / "o").operating_point == "lowpt"


def test_cli_refuses_an_unknown_operating_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from acts_gnn.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "-i", str(tmp_path), "-o", str(tmp_path / "r"), "--operating-point", "x"])
    assert "invalid choice: 'x'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"operating_point": "ultralow"}, "operating_point must be one of"),
        ({"operating_point": "lowpt", "graph": "metric-learning"}, "needs graph='module-map'"),
    ],
)
def test_bad_operating_point(changes: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        _config(tmp_path, **changes).validate()


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("point", ["lowpt", "lowpt-one-pass"])
def test_lowpt_stages_read_the_lowpt_files(
    point: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acts_gnn.chain.defaults import default_files
    from acts_gnn.graph.module_map import formats
    from acts_gnn.sequencer.compare import gnn_stages

    loaded: list[Path] = []
    load = formats.load_module_map

    def recording_load(path: Any, *args: Any, **kwargs: Any) -> Any:
        loaded.append(Path(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(formats, "load_module_map", recording_load)
    files = default_files()
    map_path, model = files.operating_point(point, backend)
    stages = gnn_stages(_config(tmp_path, operating_point=point, backend=backend))
    assert stages["edgeClassifiers"][-1].modelPath == str(model)
    assert map_path.name == "module-map-lowpt.npz"
    first = stages["firstPass"]
    if point == "lowpt-one-pass":
        assert first is None
        assert loaded == [map_path]
        return
    # lowpt: the default point's map and GNN first, on every space point
    first_map, first_model = files.operating_point("default", backend)
    assert loaded == [map_path, first_map]
    assert first.edgeClassifiers[-1].modelPath == str(first_model)
    assert first.shrinkNodes
    assert first.firstPass is None
    assert first.trackBuilder.builder.minMeasurementsPerTrack == 7


def test_files_given_replace_the_operating_points(tmp_path: Path) -> None:
    from acts_gnn.chain.defaults import default_files
    from acts_gnn.sequencer.compare import gnn_stages

    files = default_files()
    stages = gnn_stages(_config(tmp_path, operating_point="lowpt", model=files.gnn_small()))
    assert stages["edgeClassifiers"][-1].modelPath == str(files.gnn_small())


def test_report_names_the_operating_point() -> None:
    from acts_gnn.sequencer.compare_report import chain_titles

    summary: dict[str, Any] = {"gnn": {}, "ckf": {"ckf_preset": "tuned"}}
    assert dict(chain_titles(summary))["gnn"] == "GNN (module map + GNN + KF)"
    summary["config"] = {"graph": "module-map", "operating_point": "lowpt"}
    titles = dict(chain_titles(summary))
    assert titles["gnn"] == "GNN (module map + GNN + KF), lowpt (default first)"
    assert titles["ckf"] == "ACTS seeding + CKF (tuned)"
    summary["config"]["operating_point"] = "lowpt-one-pass"
    assert dict(chain_titles(summary))["gnn"] == "GNN (module map + GNN + KF), lowpt-one-pass"


def test_track_cleaning_follows_the_operating_point_unless_set(tmp_path: Path) -> None:
    from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval
    from acts_gnn.chain.tracks import WalkthroughTrackBuilding
    from acts_gnn.sequencer.compare import gnn_stages

    def builder(**changes: Any) -> Any:
        return gnn_stages(_config(tmp_path, **changes))["trackBuilder"]

    assert isinstance(builder(), WalkthroughTrackBuilding)
    cleaned = builder(operating_point="lowpt")
    assert isinstance(cleaned, CleanedTrackBuilding)
    assert isinstance(cleaned.builder, WalkthroughTrackBuilding)
    assert cleaned.builder.minMeasurementsPerTrack == 7
    assert isinstance(
        builder(operating_point="lowpt", track_cleaning=False), WalkthroughTrackBuilding
    )
    # the first pass of lowpt cleans as the chain does
    first = gnn_stages(_config(tmp_path, operating_point="lowpt"))["firstPass"]
    assert isinstance(first.trackBuilder, CleanedTrackBuilding)
    plain = gnn_stages(_config(tmp_path, operating_point="lowpt", track_cleaning=False))
    assert isinstance(plain["firstPass"].trackBuilder, WalkthroughTrackBuilding)
    settings = HelixOutlierRemoval(tolTransverse=2.0, maxRemoved=1)
    mine = builder(track_cleaning=True, cleaner=settings)
    assert isinstance(mine, CleanedTrackBuilding)
    assert (mine.cleaner.tolTransverse, mine.cleaner.maxRemoved) == (2.0, 1)
    assert mine.cleaner is not settings  # each run counts on its own


def test_cli_track_cleaning_flag(tmp_path: Path) -> None:
    from acts_gnn.cli.commands import _compare_config
    from acts_gnn.cli.parser import build_parser

    base = ["compare", "-i", str(tmp_path), "-o", str(tmp_path / "o")]
    for flags, wanted in (
        ([], None),
        (["--track-cleaning"], True),
        (["--no-track-cleaning"], False),
    ):
        args = build_parser().parse_args([*base, *flags])
        assert _compare_config(args, tmp_path, tmp_path / "o").track_cleaning is wanted


def test_report_names_the_track_cleaning() -> None:
    from acts_gnn.sequencer.compare_report import chain_titles

    summary: dict[str, Any] = {"gnn": {"gnn_cleaning": {"hits_removed_per_event": 1.0}}}
    summary["config"] = {"graph": "module-map", "operating_point": "lowpt"}
    assert (
        dict(chain_titles(summary))["gnn"]
        == "GNN (module map + GNN + cleaning + KF), lowpt (default first)"
    )


@pytest.fixture(scope="module")
def lowpt_comparison(tmp_path_factory: pytest.TempPathFactory, prepared_sample: Any) -> Any:
    """``compare --operating-point lowpt`` (two passes) on the shared tiny sample, with the
    per-stage truth and an extra edge cut."""
    from acts_gnn.sequencer.compare import CompareConfig, run_comparison

    config = CompareConfig(
        input=prepared_sample.simulation.directory,
        output=tmp_path_factory.mktemp("lowpt") / "report",
        operating_point="lowpt",
        backend="onnx",
        truth_metrics=True,
        gnn_cuts=(0.9,),
    )
    return run_comparison(config, progress=False)


def test_lowpt_runs_two_passes_in_the_sequencer(lowpt_comparison: Any) -> None:
    from acts_gnn.sequencer.compare_report import chain_titles

    gnn, high = lowpt_comparison["gnn"], lowpt_comparison["gnn_cut0p9"]
    metrics = gnn["gnn_edge_metrics"]
    assert {"first pass: graph construction", "graph construction"} <= set(metrics)
    counts = gnn["gnn_counts"]
    # the second pass sees the space points the first pass's candidates left
    assert counts["first pass: nodes"] > counts["nodes"] > 0
    assert 0 < counts["first pass: candidates"] < counts["candidates"]
    # the extra cut is the second pass's: the first pass's candidates lead it too
    assert high["gnn_candidates"]["candidates"] >= counts["first pass: candidates"]
    # both passes' cleaning, per event
    cleaning = gnn["gnn_cleaning"]
    assert cleaning["events"] == lowpt_comparison["events"]
    assert cleaning["candidates_per_event"] == pytest.approx(counts["candidates"])
    assert "lowpt (default first)" in dict(chain_titles(lowpt_comparison))["gnn"]


def test_example_script_runs_lowpt_in_two_passes(lowpt_comparison: Any) -> None:
    """``examples/full_chain_generic.py --operating-point lowpt`` builds the same chain."""
    import runpy

    example = Path(__file__).parents[2] / "examples" / "full_chain_generic.py"
    run = runpy.run_path(str(example))["runFullChainGeneric"]
    c = lowpt_comparison["config"]
    sequencer, writers = run(Path(c["input"]), operatingPoint="lowpt")
    sequencer.run()
    stats = writers["gnn"].stats()
    assert stats["efficiencyParticles"] == lowpt_comparison["gnn"]["efficiency"]
    assert stats["nTotalTracks"] == lowpt_comparison["gnn"]["acts_stats"]["nTotalTracks"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_reaches_filter_and_gnn(tmp_path: Path, precision: str) -> None:
    """``precision`` sets the metric-learning chain's filter and its GNN, both fused on CPU
    (by the core kernels; in bf16 by the torch fused engines on a CPU without AVX-512
    BF16)."""
    from acts_gnn import _core
    from acts_gnn.nn.core_inference import CoreEdgeFilter, CoreInference
    from acts_gnn.nn.fused import FusedEdgeFilter, FusedInference
    from acts_gnn.sequencer.compare import gnn_stages

    stages = gnn_stages(_config(tmp_path, graph="metric-learning", precision=precision))
    flt, gnn = stages["edgeClassifiers"]
    core = precision == "fp32" or _core.has_bf16_products()
    assert isinstance(flt.fused, CoreEdgeFilter if core else FusedEdgeFilter)
    assert isinstance(gnn.fused, CoreInference if core else FusedInference)
    assert flt.fused.precision == precision
    assert gnn.fused.precision == precision

"""HepMC3 in and out, pile-up mixing, bad HepMC3 input, reproducible Pythia8 simulation files,
and the message when Pythia8 is missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputDataError
from acts_gnn.simulation.hepmc import END, HepMC3EventWriter, HepMC3Input, check_hepmc3_file

GENERATED = ("particle_type", "px", "py", "pz", "vx", "vy", "vz", "vertex_primary")


def _write_minimum_bias(path: Path, events: int) -> Path:
    """``events`` single non-diffractive collisions at the origin, as HepMC3."""
    from acts_gnn.simulation.fatras import event_rng
    from acts_gnn.simulation.pythia8 import BeamSpot, Pythia8Config, Pythia8Generator

    generator = Pythia8Generator(
        Pythia8Config(
            pileup=0,
            hard_process=("SoftQCD:nonDiffractive = on",),
            beam_spot=BeamSpot(0, 0, 0, 0),
            selection=None,
        )
    )
    writer = HepMC3EventWriter(path)
    for k in range(events):
        generator.generate(event_rng(99, k))
        record = {
            c: np.concatenate([t[c] for t in generator.last_interactions])
            for c in generator.last_interactions[0]
        }
        writer.write(k, record)
    writer.close()
    return path


def _generated(directory: Path) -> list[dict[str, np.ndarray]]:
    from acts_gnn.io.root_reader import SimulationFiles

    files = SimulationFiles(directory / "particles.root", directory / "hits.root")
    out = []
    for event_id in files.event_ids:
        p = files.particles(event_id)
        gen = np.asarray(p["generation"]) == 0
        order = np.lexsort([np.asarray(p[c])[gen] for c in ("pz", "py", "px")])
        out.append({c: np.asarray(p[c])[gen][order] for c in GENERATED})
    return out


# -- bad input (no ACTS) -----------------------------------------------------------------------


def test_missing_wrong_format_and_truncated_files(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        check_hepmc3_file(tmp_path / "nope.hepmc3")
    hepmc2 = tmp_path / "old.hepmc"
    hepmc2.write_text("HepMC::Version 2.06.09\nHepMC::IO_GenEvent-START_EVENT_LISTING\nE 0 1\n")
    with pytest.raises(InputDataError, match=r"HepMC2 \(IO_GenEvent\) format"):
        check_hepmc3_file(hepmc2)
    lhe = tmp_path / "events.lhe"
    lhe.write_text('<LesHouchesEvents version="3.0">\n<event>\n')
    with pytest.raises(InputDataError, match="not an ASCII HepMC3 file"):
        check_hepmc3_file(lhe)
    empty = tmp_path / "empty.hepmc3"
    empty.write_text("")
    with pytest.raises(InputDataError, match="no HepMC3 events"):
        check_hepmc3_file(empty)


@pytest.mark.acts
def test_written_file_checks_and_truncations_are_caught(tmp_path):
    pytest.importorskip("pythia8mc")
    path = _write_minimum_bias(tmp_path / "mb.hepmc3", 3)
    assert check_hepmc3_file(path) == 3
    text = path.read_text()
    # cut inside the last event: its E line announces more particles than the file holds
    cut = tmp_path / "cut.hepmc3"
    cut.write_text(text[: int(len(text) * 0.9)])
    with pytest.raises(InputDataError, match=r"event 2 .*truncated|truncated after event 2"):
        check_hepmc3_file(cut)
    # complete events but no end-of-listing line (a writer that crashed)
    no_end = tmp_path / "noend.hepmc3"
    no_end.write_text(text.replace(END + "\n", ""))
    with pytest.raises(InputDataError, match="END_EVENT_LISTING' line is missing"):
        check_hepmc3_file(no_end)


# -- simulation through ACTS's HepMC3 reader ---------------------------------------------------


@pytest.fixture(scope="module")
def pythia8_runs(tmp_path_factory, detector):
    """The same Pythia8 ttbar + MU = 3 event simulated twice (seed 5), once writing HepMC3."""
    pytest.importorskip("pythia8mc")
    from acts_gnn.simulation import simulate
    from acts_gnn.simulation.pythia8 import Pythia8Config

    root = tmp_path_factory.mktemp("pythia8_runs")
    config = Pythia8Config(pileup=3)
    kwargs = {"seed": 5, "detector": detector, "progress": False}
    simulate(root / "a", 1, config, write_hepmc=root / "a" / "hepmc", **kwargs)
    simulate(root / "b", 1, config, **kwargs)
    return root


@pytest.mark.acts
def test_same_seed_same_files(pythia8_runs):
    import uproot

    for name, tree in (("particles.root", "particles"), ("hits.root", "hits")):
        a = uproot.open(pythia8_runs / "a" / name)[tree].arrays(library="np")
        b = uproot.open(pythia8_runs / "b" / name)[tree].arrays(library="np")
        assert set(a) == set(b)
        for branch in a:
            for x, y in zip(np.atleast_1d(a[branch]), np.atleast_1d(b[branch])):
                np.testing.assert_array_equal(x, y, err_msg=f"{name}:{branch}")
    info = json.loads((pythia8_runs / "a" / "simulation.json").read_text())
    seeds = info["per_event"]["0"]
    assert set(seeds) == {"hard_process_seed", "pileup_seed", "pileup_interactions"}
    assert info["generator"]["generator"] == "pythia8"
    from acts_gnn.io.root_writer import METADATA_KEY

    with uproot.open(pythia8_runs / "a" / "particles.root") as f:  # seeds inside the file too
        assert json.loads(str(f[METADATA_KEY])) == info


@pytest.mark.acts
def test_hepmc_round_trip_gives_the_same_generated_particles(pythia8_runs, detector):
    import gzip
    import shutil

    from acts_gnn.simulation import simulate

    written = pythia8_runs / "a" / "hepmc" / "events.hepmc3"
    compressed = pythia8_runs / "copy.hepmc3.gz"
    with open(written, "rb") as f, gzip.open(compressed, "wb") as g:
        shutil.copyfileobj(f, g)
    # two files (the second gzipped) read one after the other: the same event twice
    source = HepMC3Input(files=(written, compressed), smear_vertices=False)
    simulate(pythia8_runs / "c", 2, source, seed=5, detector=detector, progress=False)
    (a,), c = _generated(pythia8_runs / "a"), _generated(pythia8_runs / "c")
    assert len(a["px"]) > 100
    assert len(c) == 2
    for event in c:
        for column in GENERATED:
            np.testing.assert_allclose(event[column], a[column], rtol=1e-5, atol=1e-6)


@pytest.mark.acts
def test_pileup_mixing_from_hepmc_and_from_pythia8(pythia8_runs, detector, tmp_path):
    from acts_gnn.simulation import simulate

    hard = pythia8_runs / "a" / "hepmc" / "events.hepmc3"
    (base,) = _generated(pythia8_runs / "a")
    n_base = len(np.unique(base["vertex_primary"]))
    pileup = _write_minimum_bias(tmp_path / "pileup.hepmc3", 12)
    from_file = HepMC3Input(files=(hard,), pileup=2, pileup_file=pileup, smear_vertices=False)
    simulate(tmp_path / "f", 1, from_file, seed=8, detector=detector, progress=False)
    from_pythia = HepMC3Input(files=(hard,), pileup=4, pileup_from_pythia8=True)
    simulate(tmp_path / "p", 1, from_pythia, seed=8, detector=detector, progress=False)
    info = json.loads((tmp_path / "p" / "simulation.json").read_text())
    n_pythia = info["per_event"]["0"]["pileup_interactions"]
    (f,), (p,) = _generated(tmp_path / "f"), _generated(tmp_path / "p")
    # the hard-scatter file's particles are all there, plus those of the mixed-in collisions
    assert len(f["px"]) >= len(base["px"])
    assert len(p["px"]) >= len(base["px"])
    assert len(np.unique(p["vertex_primary"])) <= n_base + n_pythia
    if n_pythia:
        assert len(p["px"]) > len(base["px"])
    assert len(np.unique(f["vertex_primary"])) >= n_base
    # too few pile-up events for the requested MU: refused before ACTS runs
    short = HepMC3Input(files=(hard,), pileup=50, pileup_file=pileup)
    with pytest.raises(InputDataError, match="pile-up events"):
        simulate(tmp_path / "s", 1, short, seed=8, detector=detector, progress=False)
    with pytest.raises(InputDataError, match="1 events, 3 requested"):
        simulate(tmp_path / "t", 3, HepMC3Input(files=(hard,)), detector=detector)


# -- the CLI without Pythia8 -------------------------------------------------------------------


def test_simulate_without_pythia8_names_the_way_out(monkeypatch, capsys, tmp_path):
    import acts_gnn.extras
    from acts_gnn.cli import main

    real = acts_gnn.extras.available
    monkeypatch.setattr(
        acts_gnn.extras, "available", lambda m: False if m == "pythia8mc" else real(m)
    )
    assert main(["simulate", "-n", "1", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "pythia8mc" in err
    assert "--generator parametric" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.acts
def test_simulate_reports_bad_hepmc_input(capsys, tmp_path):
    from acts_gnn.cli import main

    bad = tmp_path / "bad.hepmc3"
    bad.write_text("this is not HepMC\n")
    code = main(["simulate", "-n", "1", "-o", str(tmp_path / "y"), "--hepmc", str(bad)])
    assert code == 2
    assert "not an ASCII HepMC3 file" in capsys.readouterr().err

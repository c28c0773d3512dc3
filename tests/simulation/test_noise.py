"""Noise hits and conditioned simulations (:mod:`acts_gnn.simulation.noise`): counts per module
match the rate within statistics, the hits lie on their module inside its bounds, carry no
particle (ACTS particle 0; ``particle_id = -1`` once prepared), are reproducible per
(seed, event), and the conditioned folder that ``compare`` reads holds exactly the hits that
``prepare`` digitizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.acts


@pytest.fixture(scope="module")
def areas(detector: Any) -> Any:
    from acts_gnn.simulation.noise import ModuleAreas

    return ModuleAreas.from_detector(detector)


def test_cell_areas_follow_the_smearing(areas: Any) -> None:
    from acts_gnn.io.schemas import decode_geometry_id

    volume = decode_geometry_id(areas.surfaces.geometry_ids, "volume")
    expected = {7: 0.015 * 0.015, 8: 0.015**2, 13: 0.025 * 0.35, 17: 0.035 * 1.0}
    for v, sigma2 in expected.items():
        np.testing.assert_allclose(areas.cell_area[volume == v], 12 * sigma2)
    # pixel barrel modules: 16.8 mm x 72 mm
    np.testing.assert_allclose(areas.area[volume == 8], 16.8 * 72.0)
    cells = (areas.area / areas.cell_area).sum()
    assert cells == pytest.approx(2.379e9, rel=1e-3)


def test_noise_counts_match_the_rate(areas: Any) -> None:
    from acts_gnn.simulation.noise import NoiseSettings, noise_hits

    rate = 1e-4  # ~45 noise hits per pixel module
    hits = noise_hits(7, NoiseSettings(rate, seed=3), areas)
    rows = areas.surfaces.index_of(hits["geometry_id"])
    counts = np.bincount(rows, minlength=len(areas.surfaces))
    expected = areas.expected_noise(rate)
    assert counts.sum() == pytest.approx(expected.sum(), abs=5 * np.sqrt(expected.sum()))
    big = expected > 20
    assert big.sum() > 3000
    pull = (counts[big] - expected[big]) / np.sqrt(expected[big])
    assert abs(pull.mean()) < 0.1
    assert pull.std() == pytest.approx(1.0, abs=0.1)  # Poisson per module
    # no particle: the all-zero barcode
    for part in ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle"):
        assert not np.any(hits[f"barcode_{part}"])


def test_noise_hits_lie_on_their_module_inside_its_bounds(areas: Any) -> None:
    from acts_gnn.simulation.noise import RECTANGLE, NoiseSettings, noise_hits

    hits = noise_hits(1, NoiseSettings(2e-5, seed=1), areas)
    gid = hits["geometry_id"]
    xyz = np.stack([hits["tx"], hits["ty"], hits["tz"]], 1)
    local = areas.surfaces.global_to_local(gid, xyz)
    assert np.abs(local[:, 2]).max() < 1e-3  # float32 positions, on the plane
    rows = areas.surfaces.index_of(gid)
    b, rect = areas.bounds[rows], areas.kind[rows] == RECTANGLE
    eps = 1e-3
    assert np.all(local[rect, 0] >= b[rect, 0] - eps)
    assert np.all(local[rect, 0] <= b[rect, 2] + eps)
    assert np.all(local[rect, 1] >= b[rect, 1] - eps)
    assert np.all(local[rect, 1] <= b[rect, 3] + eps)
    t = ~rect
    assert t.sum() > 1000
    frac = (local[t, 1] + b[t, 2]) / (2 * b[t, 2])
    half_x = b[t, 0] + (b[t, 1] - b[t, 0]) * frac
    assert np.all(np.abs(local[t, 1]) <= b[t, 2] + eps)
    assert np.all(np.abs(local[t, 0]) <= half_x + eps)
    # uniform over the trapezoid: the mean y leans to the wide side by hy (b - a) / 3 (a + b)
    lean = b[t, 2] * (b[t, 1] - b[t, 0]) / (3 * (b[t, 0] + b[t, 1]))
    spread = (2 * b[t, 2]) / np.sqrt(12)
    assert np.mean((local[t, 1] - lean) / spread) == pytest.approx(0.0, abs=0.05)
    # and over a rectangle: variance (width)^2 / 12
    width = b[rect, 2] - b[rect, 0]
    assert np.mean((local[rect, 0] / width) ** 2) == pytest.approx(1 / 12, rel=0.05)


def test_noise_is_reproducible_per_seed_and_event(areas: Any) -> None:
    from acts_gnn.simulation.noise import NoiseSettings, noise_hits

    a = noise_hits(5, NoiseSettings(1e-6, seed=9), areas)
    b = noise_hits(5, NoiseSettings(1e-6, seed=9), areas)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    other_event = noise_hits(6, NoiseSettings(1e-6, seed=9), areas)
    other_seed = noise_hits(5, NoiseSettings(1e-6, seed=10), areas)
    assert not np.array_equal(a["tx"][:10], other_event["tx"][:10])
    assert not np.array_equal(a["tx"][:10], other_seed["tx"][:10])
    assert len(noise_hits(5, NoiseSettings(0.0), areas)["tx"]) == 0


def test_conditioned_simulation_feeds_prepare_and_compare_the_same_hits(
    tmp_path: Path, sim_sample: Any, prepared_events: list[Any], detector: Any
) -> None:
    from acts_gnn.detector.misalignment import MisalignmentSettings
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.io.root_reader import ENTRY_COLUMN, SimulationFiles
    from acts_gnn.simulation.noise import (
        ConditionedSimulationFiles,
        DetectorConditions,
        NoiseSettings,
        write_conditioned_simulation,
    )
    from acts_gnn.simulation.prepare import prepare

    conditions = DetectorConditions(
        NoiseSettings(1e-7, seed=2), MisalignmentSettings(20.0, 0.2, "module", seed=2)
    )
    record = write_conditioned_simulation(
        sim_sample.directory, tmp_path / "sim", conditions, detector
    )
    on_the_fly = ConditionedSimulationFiles.from_dir_with(
        sim_sample.directory, conditions, detector
    )
    written = SimulationFiles.from_dir(tmp_path / "sim")  # what compare's reader opens
    assert written.metadata["conditions"]["noise_rate_per_cell"] == 1e-7
    for event_id in written.event_ids:
        a, b = on_the_fly.hits(event_id), written.hits(event_id)
        n_noise = record["per_event"][str(event_id)]["noise_sim_hits"]
        assert n_noise == int(np.sum(a[ENTRY_COLUMN] < 0)) > 50
        for key in ("geometry_id", "tx", "ty", "tz", "barcode_particle"):
            np.testing.assert_array_equal(a[key], b[key])
    report = prepare(tmp_path / "sim", tmp_path / "prepared", detector=detector, progress=False)
    events = {e.event_id: e for e in PreparedDataset(tmp_path / "prepared")}
    for nominal in prepared_events:
        event = events[nominal.event_id]
        n_noise = record["per_event"][str(nominal.event_id)]["noise_sim_hits"]
        no_particle = int(np.sum(event.hits["particle_id"] < 0))
        before = int(np.sum(nominal.hits["particle_id"] < 0))
        # every noise sim hit makes one measurement of no particle (a few may merge or fall
        # off the module edge after smearing)
        assert n_noise - 5 <= no_particle - before <= n_noise
        # misaligned: same particles' hits, moved by up to a few hundred um
        assert abs(event.n_hits - nominal.n_hits - n_noise) <= 0.02 * nominal.n_hits
    assert (
        report.hits_without_particle
        >= sum(v["noise_sim_hits"] for v in record["per_event"].values()) - 10
    )


def test_misaligned_measurements_move_as_their_sim_hits(
    tmp_path: Path, sim_sample: Any, prepared_events: list[Any], detector: Any
) -> None:
    """The prepared measurements of a misaligned simulation are displaced in each module's
    frame exactly as :meth:`Misalignment.apply` moved the sim hits (same smearing)."""
    from acts_gnn.detector.misalignment import MisalignmentSettings
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.simulation.noise import DetectorConditions, write_conditioned_simulation
    from acts_gnn.simulation.prepare import prepare

    conditions = DetectorConditions(misalignment=MisalignmentSettings(50.0, 0.5, seed=4))
    write_conditioned_simulation(sim_sample.directory, tmp_path / "sim", conditions, detector)
    prepare(tmp_path / "sim", tmp_path / "prepared", detector=detector, progress=False)
    events = {e.event_id: e for e in PreparedDataset(tmp_path / "prepared")}
    raw, moved = (
        SimulationFiles.from_dir(sim_sample.directory),
        SimulationFiles.from_dir(tmp_path / "sim"),
    )
    surfaces = detector.surfaces()
    checked, shifts = 0, []
    for nominal in prepared_events:
        event = events[nominal.event_id]
        a, b = raw.hits(nominal.event_id), moved.hits(nominal.event_id)
        np.testing.assert_array_equal(a["geometry_id"], b["geometry_id"])  # no hit lost
        sim_delta = surfaces.global_to_local(
            b["geometry_id"], np.stack([b[c] for c in ("tx", "ty", "tz")], 1)
        ) - surfaces.global_to_local(
            a["geometry_id"], np.stack([a[c] for c in ("tx", "ty", "tz")], 1)
        )
        for gid in np.unique(nominal.hits["geometry_id"])[:200]:
            m_nom = nominal.hits["geometry_id"] == gid
            m_mis = event.hits["geometry_id"] == gid
            s = a["geometry_id"] == gid
            if not (m_nom.sum() == m_mis.sum() == s.sum()):
                continue  # a merged or dropped hit: no one-to-one match
            for k, column in enumerate(("loc0", "loc1")):
                meas_delta = event.hits[column][m_mis].astype(float) - nominal.hits[column][
                    m_nom
                ].astype(float)
                np.testing.assert_allclose(meas_delta, sim_delta[s, k], atol=2e-4)
            shifts.append(np.abs(sim_delta[s, :2]).mean())
            checked += 1
    assert checked > 100
    assert 0.02 < float(np.mean(shifts)) < 0.1  # ~ sigma 50 um (plus the rotation's share)


def test_noise_hits_are_not_orphans_of_the_particle_check(sim_sample: Any) -> None:
    """Hits of the all-zero barcode (noise) do not count against the orphan tolerance of
    :func:`acts_gnn.io.sim_checks.check_event`; other unknown barcodes still do."""
    from acts_gnn.errors import InputDataError
    from acts_gnn.io.root_reader import SimulationFiles
    from acts_gnn.io.sim_checks import check_event

    files = SimulationFiles.from_dir(sim_sample.directory)
    particles, hits = files.particles(0), {k: v.copy() for k, v in files.hits(0).items()}
    half = np.arange(0, len(hits["geometry_id"]), 2)
    for part in ("vertex_primary", "vertex_secondary", "particle", "generation", "sub_particle"):
        hits[f"barcode_{part}"][half] = 0
    check_event(0, particles, hits)  # half the hits are noise: accepted
    hits["barcode_particle"][half] = 999_999
    with pytest.raises(InputDataError, match="not among the event's particles"):
        check_event(0, particles, hits)


def test_prepare_noise_option_writes_the_conditioned_simulation(
    tmp_path: Path, sim_sample: Any, prepared_events: list[Any]
) -> None:
    """``acts-gnn prepare --noise RATE`` prepares a conditioned copy (which compare can read)."""
    from acts_gnn.cli.parser import build_parser
    from acts_gnn.io.event_store import PreparedDataset, read_dataset_info

    out = tmp_path / "prepared"
    argv = ["prepare", "-i", str(sim_sample.directory), "-o", str(out), "--events", "1"]
    args = build_parser().parse_args([*argv, "--noise", "2e-7", "--quiet"])
    assert args.func(args) == 0
    sim = out / "conditioned-simulation"
    conditions = json.loads((sim / "conditions.json").read_text())
    assert conditions["noise_rate_per_cell"] == 2e-7
    assert conditions["events"] == [0]
    assert read_dataset_info(out)["input"] == str(sim.resolve())
    (event,) = list(PreparedDataset(out))
    n_noise = conditions["per_event"]["0"]["noise_sim_hits"]
    before = int(np.sum(prepared_events[0].hits["particle_id"] < 0))
    assert n_noise > 200
    assert n_noise - 5 <= int(np.sum(event.hits["particle_id"] < 0)) - before <= n_noise

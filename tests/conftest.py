"""Shared fixtures: one tiny simulated sample (and its prepared tables) per test session.

The sample is deliberately small (2 events, pile-up 3 plus a hard scatter) so that the whole
default suite runs in well under a minute of ACTS time on two cores.

The ``acts`` marker: every test that runs ACTS (the generic detector, Fatras, digitization, a
Sequencer, the ACTS fitters, anything from ``acts.examples``) carries it, so that
``pytest -m "not acts"`` runs without ever importing ``acts``. Two things keep that true:

* tests using an ACTS-backed fixture (:data:`ACTS_FIXTURES`) are marked automatically, and
  modules that call ACTS themselves say ``pytestmark = pytest.mark.acts``;
* a test *without* the marker that imports ``acts`` (in its setup or its body) fails, with a
  message naming it (:func:`pytest_runtest_setup` / :func:`pytest_runtest_call`). The guard
  sees only the first import of ``acts`` in the process: it bites in ``-m "not acts"`` runs,
  and only while no test module imports ACTS at collection (module-level imports of
  ``acts`` or ``acts_gnn.sequencer`` belong inside the tests or fixtures that need them).

Torch runs single-threaded for the whole session (:func:`_one_torch_thread`): the tensors are
tiny, and OpenMP threads spinning on shared cores only slow the suite down.

ROOT helpers (``read_tree`` / ``write_tree``) are fixtures returning functions. Helpers shared by
the test modules of one folder live in plain modules there (e.g.
``tests/graph/module_map/synthetic.py``), imported as ``tests.<folder>.<module>``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

#: Seed of the shared simulated sample.
SIM_SEED = 1234
SIM_EVENTS = 2


@dataclass
class SimulatedSample:
    """The shared simulation: its folder, seed and :class:`SimulationResult`."""

    directory: Path
    seed: int
    events: int
    result: Any  # acts_gnn.simulation.SimulationResult

    @property
    def particles_file(self) -> Path:
        return self.directory / "particles.root"

    @property
    def hits_file(self) -> Path:
        return self.directory / "hits.root"


@dataclass
class PreparedSample:
    """The shared sample after :func:`acts_gnn.simulation.prepare.prepare`."""

    directory: Path
    report: Any  # acts_gnn.simulation.prepare.PrepareReport
    simulation: SimulatedSample


def tiny_generator_config() -> Any:
    """Pythia8 ttbar + Poisson(3) minimum-bias pile-up: the default generator, tiny."""
    from acts_gnn.simulation.pythia8 import Pythia8Config

    return Pythia8Config(pileup=3)


#: Fixtures that build the ACTS geometry or run ACTS (Fatras, digitization) when first used.
ACTS_FIXTURES = frozenset(
    {"detector", "sim_sample", "prepared_sample", "prepared_events", "sample_copy"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses an ACTS-backed fixture ``acts`` (so ``-m 'not acts'`` works)."""
    for item in items:
        if ACTS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.acts)


def _guard_acts_import(item: pytest.Item, phase: str) -> Generator[None, None, None]:
    """Fail ``item`` if it imported ``acts`` during ``phase`` without the ``acts`` marker."""
    already = "acts" in sys.modules
    yield
    if not already and "acts" in sys.modules and item.get_closest_marker("acts") is None:
        pytest.fail(
            f"{item.nodeid} imported 'acts' during {phase} but is not marked 'acts': add "
            "@pytest.mark.acts (or pytestmark = pytest.mark.acts in its module)",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Fixtures of an unmarked test must not import ``acts``."""
    yield from _guard_acts_import(item, "setup")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """The body of an unmarked test must not import ``acts``."""
    yield from _guard_acts_import(item, "the test")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread for the whole session (session scope: before any module fixture)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_config() -> Any:
    """The generator settings of the shared sample (tests re-simulate with them)."""
    return tiny_generator_config()


@pytest.fixture(scope="session")
def detector() -> Any:
    """The generic detector (built once per process by the package itself)."""
    from acts_gnn.detector import load_generic_detector

    return load_generic_detector()


@pytest.fixture(scope="session")
def sim_sample(tmp_path_factory: pytest.TempPathFactory, detector: Any) -> SimulatedSample:
    """Two Pythia8 events (ttbar + pile-up 3) simulated with Fatras, written to ROOT."""
    from acts_gnn.simulation import simulate

    directory = tmp_path_factory.mktemp("sim")
    result = simulate(
        directory,
        events=SIM_EVENTS,
        generator=tiny_generator_config(),
        seed=SIM_SEED,
        detector=detector,
        progress=False,
    )
    return SimulatedSample(directory, SIM_SEED, SIM_EVENTS, result)


@pytest.fixture(scope="session")
def prepared_sample(
    tmp_path_factory: pytest.TempPathFactory, sim_sample: SimulatedSample, detector: Any
) -> PreparedSample:
    """The shared simulation digitized and written as prepared Parquet events."""
    from acts_gnn.simulation.prepare import prepare

    directory = tmp_path_factory.mktemp("prepared")
    report = prepare(sim_sample.directory, directory, detector=detector, progress=False)
    return PreparedSample(directory, report, sim_sample)


@pytest.fixture(scope="session")
def prepared_events(prepared_sample: PreparedSample) -> list[Any]:
    """The shared sample's prepared events, read once (``acts_gnn.event.Event`` objects)."""
    from acts_gnn.io.event_store import PreparedDataset

    events = list(PreparedDataset(prepared_sample.directory))
    assert len(events) == SIM_EVENTS
    return events


# -- ROOT file helpers ---------------------------------------------------------------------


def _read_tree(path: str | Path, tree: str) -> dict[str, Any]:
    """All data branches of a tree (counter branches ``n<name>`` left out).

    Flat branches come back as numpy arrays, jagged ones as awkward arrays.
    """
    with uproot.open(path) as handle:
        t = handle[tree]
        keys = t.keys()
        names = [k for k in keys if not (k.startswith("n") and k[1:] in keys)]
        out: dict[str, Any] = {}
        for name in names:
            values = t[name].array(library="ak")
            if values.ndim == 1:
                out[name] = ak.to_numpy(values)
            else:
                out[name] = values
        return out


def _write_tree(path: str | Path, tree: str, columns: dict[str, Any]) -> None:
    """Write ``columns`` as the only tree of a new ROOT file (jagged columns as var-length)."""
    types = {}
    for name, values in columns.items():
        if isinstance(values, ak.Array) and values.ndim > 1:
            types[name] = f"var * {ak.to_numpy(ak.flatten(values)).dtype.name}"
        else:
            types[name] = np.asarray(values).dtype
    with uproot.recreate(path) as handle:
        handle.mktree(tree, types)
        handle[tree].extend(columns)


@pytest.fixture(scope="session")
def read_tree() -> Callable[[str | Path, str], dict[str, Any]]:
    return _read_tree


@pytest.fixture(scope="session")
def write_tree() -> Callable[[str | Path, str, dict[str, Any]], None]:
    return _write_tree


@pytest.fixture
def sample_copy(tmp_path: Path, sim_sample: SimulatedSample) -> Path:
    """A private copy of the shared sample's ROOT files, free to modify."""
    directory = tmp_path / "sim"
    directory.mkdir()
    for name in ("particles.root", "hits.root"):
        shutil.copy(sim_sample.directory / name, directory / name)
    return directory

"""Pythia8 events for Fatras: Poisson(MU) minimum-bias pile-up plus an optional hard process.

The sample every ACTS tracking study uses (ACTS's ``full_chain_odd.py``), made with the
``pythia8mc`` wheel from PyPI (pyacts has no Pythia8 plugin). Units are ACTS units: mm for
positions and times (c = 1), GeV for momenta and masses, e for charge.

How an event is made (the conventions of ACTS's ``Pythia8Generator`` + ``EventGenerator``):

* interactions: the hard process (``ttbar``: ``Top:gg2ttbar`` and ``Top:qqbar2ttbar``, the
  full LO ttbar cross-section; ``full_chain_odd.py`` switches on only ``qqbar2ttbar``, 10 % of
  it at 14 TeV, with the same top kinematics) once, when configured, then ``Poisson(pileup)``
  ``SoftQCD:all`` collisions (elastic and diffractive included, as in ACTS), 14 TeV;
* each interaction is shifted to a vertex drawn from the Gaussian beam spot (sigma = 12.5 um,
  12.5 um, 55.5 mm, 5 ns by default) and gets its own primary-vertex number (1-based, the
  hard process first): ``vertex_primary`` of the barcode;
* its final-state, visible particles (Pythia's ``isFinal`` and ``isVisible``: no neutrinos)
  are kept, with Pythia's production vertex, nominal mass (``m0``) and charge. A particle
  produced more than ``vertex_threshold`` (1 um) from the interaction point comes from a
  displaced decay (K0S, Lambda, b and c hadrons, ...): production points closer than the
  threshold to each other form one secondary vertex, numbered 1, 2, ... inside its
  interaction (``vertex_secondary`` of the barcode); the others have ``vertex_secondary = 0``.
  Every particle of a vertex starts at the vertex's position (the interaction point, or the
  first production point of the secondary vertex), as after ACTS's HepMC3 conversion.
  ``particle`` numbers the kept particles of an interaction from 1; ``generation`` is 0;
* generator-level selection before Fatras, as in ``full_chain_odd.py``: production point
  rho < 24 mm and |z| < 1 m (inside the beam pipe: the decay products of K0S and Lambda that
  decay further out are dropped, as in ACTS, which does not transport them to their decay
  either), pT > 150 MeV, and |eta| < 4.0, the acceptance of the generic detector (the
  parametric generator's ``eta_max``; ``full_chain_odd.py`` uses 3.0, the ODD's). Neutral
  particles are kept (photons convert in Fatras).

Reproducibility: an event is fixed by (seed, event number) alone. Its number of interactions
and beam-spot positions come from ``event_rng(seed, event)``; Pythia's random engine is
re-initialised for every event with seeds drawn from that stream (``last_seeds``; the
simulation records them per event in ``simulation.json``), so that the same seed gives identical files whatever the order or
number of events generated before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.io.atomic import atomic_path
from acts_gnn.simulation.generator import PARTICLE_COLUMNS

#: The hard processes ``--hard-process`` knows by name (Pythia settings strings).
HARD_PROCESSES: dict[str, tuple[str, ...]] = {
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "none": (),
}
#: Pythia settings of one pile-up (minimum-bias) collision.
MINIMUM_BIAS: tuple[str, ...] = ("SoftQCD:all = on",)
#: mm per ns (ACTS measures time in mm, c = 1).
MM_PER_NS = 299.792458
#: Columns of a Pythia8 particle table: the generator columns plus the secondary vertex and
#: the nominal c*tau [mm] of the particle's mother (0 for hadronisation products of no
#: long-lived mother), which tells experimental "primary" particles apart.
PYTHIA8_COLUMNS = (*PARTICLE_COLUMNS, "vertex_secondary", "parent_ctau")
#: The decaying particle (PDG id, four-momentum [GeV]) of each row, for the HepMC3 record.
PARENT_COLUMNS = ("parent_pdg", "parent_px", "parent_py", "parent_pz", "parent_e")


@dataclass(frozen=True)
class BeamSpot:
    """Gaussian luminous region: widths in mm (x, y, z) and ns (t), centred at 0."""

    sigma_x: float = 0.0125
    sigma_y: float = 0.0125
    sigma_z: float = 55.5
    sigma_t_ns: float = 5.0

    def __post_init__(self) -> None:
        widths = (self.sigma_x, self.sigma_y, self.sigma_z, self.sigma_t_ns)
        if not all(np.isfinite(w) and w >= 0 for w in widths):
            raise ValueError(f"beam-spot widths must be finite and >= 0, got {widths}")

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        """``n`` vertex positions [n, 4]: x, y, z, t in mm."""
        sigma = np.array([self.sigma_x, self.sigma_y, self.sigma_z, self.sigma_t_ns * MM_PER_NS])
        return rng.normal(size=(n, 4)) * sigma


@dataclass(frozen=True)
class ParticleSelection:
    """Generator-level selection before Fatras (ACTS's ``addGenParticleSelection``)."""

    rho_max: float = 24.0  # mm, production point
    abs_z_max: float = 1000.0  # mm, production point
    pt_min: float = 0.15  # GeV
    eta_max: float = 4.0

    def mask(self, table: dict[str, npt.NDArray]) -> npt.NDArray[np.bool_]:
        """Which rows of a particle table pass."""
        pt = np.hypot(table["px"], table["py"])
        eta = np.arcsinh(table["pz"] / np.where(pt > 0, pt, 1e-12))
        return (
            (np.hypot(table["vx"], table["vy"]) < self.rho_max)
            & (np.abs(table["vz"]) < self.abs_z_max)
            & (pt > self.pt_min)
            & (np.abs(eta) < self.eta_max)
        )


@dataclass(frozen=True)
class Pythia8Config:
    """Configuration of :class:`Pythia8Generator` (energies in GeV, lengths in mm)."""

    pileup: float = 50.0
    hard_process: tuple[str, ...] = HARD_PROCESSES["ttbar"]
    pileup_process: tuple[str, ...] = MINIMUM_BIAS
    cms_energy: float = 14000.0
    settings: tuple[str, ...] = ()  # extra settings for every Pythia instance (tunes, ...)
    beam_spot: BeamSpot = field(default_factory=BeamSpot)
    selection: ParticleSelection | None = field(default_factory=ParticleSelection)
    vertex_threshold: float = 0.001

    def __post_init__(self) -> None:
        if self.pileup < 0 or not np.isfinite(self.pileup):
            raise ValueError(f"pileup must be a finite number >= 0, got {self.pileup}")
        if self.pileup == 0 and not self.hard_process:
            raise ValueError("pileup is 0 and there is no hard process: events would be empty")
        if self.cms_energy <= 0:
            raise ValueError(f"cms_energy must be > 0 GeV, got {self.cms_energy}")

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable copy (recorded next to the simulated files)."""
        out = asdict(self)
        out["generator"] = "pythia8"
        return out


def hard_process_settings(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"ttbar"`` / ``"none"`` or a list of Pythia settings strings -> settings strings."""
    if isinstance(spec, str):
        spec = [spec]
    spec = list(spec)
    if len(spec) == 1 and spec[0] in HARD_PROCESSES:
        return HARD_PROCESSES[spec[0]]
    bad = [s for s in spec if ":" not in s or "=" not in s]
    if bad:
        raise ValueError(
            f"hard process {bad[0]!r}: give one of {sorted(HARD_PROCESSES)} or Pythia settings "
            "strings such as 'Top:gg2ttbar = on'"
        )
    return tuple(spec)


def import_pythia8() -> Any:
    """The ``pythia8mc`` module, or a :class:`~acts_gnn.extras.MissingDependencyError` that
    names ``--generator parametric`` as the way out."""
    from acts_gnn.extras import require

    return require("pythia8mc")


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence Pythia's C++ banner and init tables (written to fd 1, not sys.stdout)."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _cache_dir() -> Path:
    """Where Pythia's multiparton-interaction initialisation tables are kept
    (``$ACTS_GNN_CACHE`` or ``$XDG_CACHE_HOME/acts-gnn``, default ``~/.cache/acts-gnn``)."""
    root = os.environ.get("ACTS_GNN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "acts-gnn"
    )
    return Path(root) / "pythia8"


class _Instance:
    """One initialised Pythia and the particle-data lookups of the ids it produced.

    Pythia's multiparton-interaction initialisation (seconds for ``SoftQCD:all``, whose
    diffractive systems each need one) is computed once per set of settings and read back
    from a cache file by every instance, the first one included, so that every run starts
    from the same tables (the file stores them rounded; a fresh and a read initialisation
    differ in the 7th digit of the momenta).
    """

    def __init__(self, settings: Sequence[str], cms_energy: float) -> None:
        pythia8 = import_pythia8()
        full = (
            "Print:quiet = on",
            *settings,
            "Beams:idA = 2212",
            "Beams:idB = 2212",
            "Beams:frameType = 1",
            f"Beams:eCM = {cms_energy}",
        )
        key = hashlib.sha256("\n".join((pythia8.__name__, *full)).encode()).hexdigest()[:16]
        cache = _cache_dir() / f"mpi-{key}.dat"
        if not cache.exists():
            with atomic_path(cache) as partial:
                self._init(pythia8, (*full, *_reuse(1, partial)))
                if not partial.exists():  # no MPI in these processes: an empty marker
                    partial.write_text("")
        use_cache = cache.stat().st_size > 0
        self.pythia = self._init(pythia8, (*full, *_reuse(2, cache)) if use_cache else full)
        self._data: dict[int, tuple[float, float, float, bool]] = {}

    @staticmethod
    def _init(pythia8: Any, settings: Sequence[str]) -> Any:
        with _quiet_stdout():
            pythia = pythia8.Pythia("", False)
            for setting in settings:
                if not pythia.readString(setting):
                    raise ValueError(f"Pythia8 does not accept the setting {setting!r}")
            ok = pythia.init()
        if not ok:
            raise RuntimeError(f"Pythia8 failed to initialise with settings {list(settings)}")
        return pythia

    def _lookup(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """[len(ids), 4]: charge [e], m0 [GeV], c*tau0 [mm], visible (0/1) of each id."""
        pd = self.pythia.particleData
        unique, inverse = np.unique(ids, return_inverse=True)
        for pdg in unique.tolist():
            if pdg not in self._data:
                self._data[pdg] = (
                    pd.charge(pdg),
                    pd.m0(pdg),
                    pd.tau0(pdg),
                    bool(pd.isVisible(pdg)),
                )
        table = np.array([self._data[p] for p in unique.tolist()], dtype=np.float64)
        return table.reshape(len(unique), 4)[inverse.reshape(-1)]

    def generate(self, n: int, seed: int) -> list[dict[str, npt.NDArray]]:
        """``n`` interactions with Pythia's engine seeded by ``seed``: one table per
        interaction (final visible particles in the interaction's own frame)."""
        import awkward as ak

        self.pythia.rndm.init(int(seed))
        batches: list[Any] = []
        made = 0
        for _attempt in range(10):
            if made >= n:
                break
            with _quiet_stdout():
                batch = self.pythia.nextBatch(n - made)
            batches.append(batch.prt)
            made += len(batch)
        if made < n:
            raise RuntimeError(f"Pythia8 made {made} of {n} events (10 attempts)")
        events = ak.concatenate(batches) if len(batches) > 1 else batches[0]
        counts = ak.to_numpy(ak.num(events)).astype(np.int64)
        prt = ak.flatten(events)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        owner = np.repeat(np.arange(n), counts)
        ids = ak.to_numpy(prt.id).astype(np.int64)
        lookup = self._lookup(ids)
        keep = (ak.to_numpy(prt.status) > 0) & (lookup[:, 3] > 0)
        idx = np.flatnonzero(keep)
        position = np.zeros((len(idx), 4))
        vprod = prt.vProd[keep]
        has = ~ak.to_numpy(ak.is_none(vprod))
        if has.any():
            v = vprod[has]
            position[has] = np.stack([ak.to_numpy(v[c]) for c in ("px", "py", "pz", "e")], 1)
        momentum = prt.p[keep]
        mother = ak.to_numpy(prt.mother1).astype(np.int64)[idx] + offsets[owner[idx]]
        columns = {
            "pdg": ids[idx].astype(np.int32),
            "q": lookup[idx, 0],
            "m": lookup[idx, 1],
            "vx": position[:, 0],
            "vy": position[:, 1],
            "vz": position[:, 2],
            "vt": position[:, 3],
            "px": ak.to_numpy(momentum.px),
            "py": ak.to_numpy(momentum.py),
            "pz": ak.to_numpy(momentum.pz),
            "parent_ctau": lookup[mother, 2],
            # the decaying particle, for the HepMC3 record of displaced vertices
            "parent_pdg": ids[mother].astype(np.int32),
            "parent_px": ak.to_numpy(prt.p.px)[mother],
            "parent_py": ak.to_numpy(prt.p.py)[mother],
            "parent_pz": ak.to_numpy(prt.p.pz)[mother],
            "parent_e": ak.to_numpy(prt.p.e)[mother],
        }
        cuts = np.cumsum(np.bincount(owner[idx], minlength=n))[:-1]
        split = {c: np.split(v, cuts) for c, v in columns.items()}
        return [{c: split[c][k] for c in columns} for k in range(n)]


def _reuse(mode: int, path: Path) -> tuple[str, str]:
    """Settings that write (1) or read (2) the MPI initialisation file ``path``."""
    return (
        f"MultipartonInteractions:reuseInit = {mode}",
        f"MultipartonInteractions:initFile = {path}",
    )


def secondary_vertices(positions: npt.NDArray[np.float64], threshold: float) -> npt.NDArray:
    """Secondary-vertex number of each production point [n, 3] (mm) of one interaction:
    0 within ``threshold`` of the interaction point, else 1, 2, ... with points closer than
    ``threshold`` to a vertex's first point sharing it (in order of first appearance)."""
    out = np.zeros(len(positions), dtype=np.uint32)
    displaced = np.flatnonzero(np.linalg.norm(positions, axis=1) >= threshold)
    if len(displaced) == 0:
        return out
    unique, first, inverse = np.unique(
        positions[displaced], axis=0, return_index=True, return_inverse=True
    )
    order = np.argsort(first)  # number vertices in order of first appearance
    seeds = np.empty_like(unique)
    n_seeds = 0
    label = np.zeros(len(unique), dtype=np.uint32)
    for u in order.tolist():
        if n_seeds:
            close = np.flatnonzero(((seeds[:n_seeds] - unique[u]) ** 2).sum(axis=1) < threshold**2)
            if len(close):
                label[u] = close[0] + 1
                continue
        seeds[n_seeds] = unique[u]
        n_seeds += 1
        label[u] = n_seeds
    out[displaced] = label[inverse.reshape(-1)]
    return out


class Pythia8Generator:
    """Generates one event's particles as a column table (``PYTHIA8_COLUMNS``); Pythia is
    initialised on first use (a few seconds per process)."""

    def __init__(self, config: Pythia8Config) -> None:
        self.config = config
        self._hard: _Instance | None = None
        self._pileup: _Instance | None = None
        #: Of the last event: Pythia seeds of the hard process and the pile-up, and the
        #: number of pile-up interactions.
        self.last_seeds: dict[str, int] = {}
        #: Of the last event: each interaction's table at its vertex, before the selection
        #: (with the ``parent_*`` columns of the decaying particles), for the HepMC3 record.
        self.last_interactions: list[dict[str, npt.NDArray]] = []

    def _instances(self) -> tuple[_Instance | None, _Instance | None]:
        cfg = self.config
        if cfg.hard_process and self._hard is None:
            self._hard = _Instance((*cfg.settings, *cfg.hard_process), cfg.cms_energy)
        if cfg.pileup > 0 and self._pileup is None:
            self._pileup = _Instance((*cfg.settings, *cfg.pileup_process), cfg.cms_energy)
        return self._hard, self._pileup

    def interactions(self, rng: np.random.Generator) -> list[dict[str, npt.NDArray]]:
        """One event's interactions, hard process first, each in its own frame (no beam
        spot, no selection): the tables of :meth:`_Instance.generate`."""
        hard, pileup = self._instances()
        self.last_seeds = self.draw_seeds(rng)
        n_pileup = self.last_seeds["pileup_interactions"]
        out: list[dict[str, npt.NDArray]] = []
        if hard is not None:
            out.extend(hard.generate(1, self.last_seeds["hard_process_seed"]))
        if pileup is not None and n_pileup:
            out.extend(pileup.generate(n_pileup, self.last_seeds["pileup_seed"]))
        return out

    def draw_seeds(self, rng: np.random.Generator) -> dict[str, int]:
        """The first draws of an event from ``rng``: its number of pile-up interactions and
        the seeds of its Pythia engines (also called alone, to record them in advance)."""
        n_pileup = int(rng.poisson(self.config.pileup)) if self.config.pileup > 0 else 0
        seeds = rng.integers(1, 900_000_000, size=2)
        out = {"pileup_seed": int(seeds[1]), "pileup_interactions": n_pileup}
        if self.config.hard_process:
            out["hard_process_seed"] = int(seeds[0])
        return out

    def generate(self, rng: np.random.Generator) -> dict[str, npt.NDArray]:
        """One event: interactions at beam-spot vertices, barcodes, selection applied."""
        cfg = self.config
        interactions = self.interactions(rng)
        vertices = cfg.beam_spot.sample(rng, len(interactions))
        blocks = []
        self.last_interactions = []
        for number, (table, vertex) in enumerate(zip(interactions, vertices), start=1):
            n = len(table["pdg"])
            local = np.stack([table["vx"], table["vy"], table["vz"]], axis=1)
            block = dict(table)
            block["vertex_primary"] = np.full(n, number, dtype=np.uint32)
            labels = secondary_vertices(local, cfg.vertex_threshold)
            block["vertex_secondary"] = labels
            block["particle"] = np.arange(1, n + 1, dtype=np.uint32)
            # every particle of a vertex starts at the vertex: the interaction point, or the
            # first production point of a secondary vertex (as ACTS's HepMC3 conversion does)
            four = np.stack([table[c] for c in ("vx", "vy", "vz", "vt")], axis=1)
            _, first = np.unique(labels, return_index=True)
            snapped = four[first][np.searchsorted(np.unique(labels), labels)]
            snapped[labels == 0] = 0.0
            for k, c in enumerate(("vx", "vy", "vz", "vt")):
                block[c] = snapped[:, k] + vertex[k]
            self.last_interactions.append(block)
            if cfg.selection is not None:
                keep = cfg.selection.mask(block)
                block = {c: v[keep] for c, v in block.items()}
            blocks.append(block)
        return concatenate_tables(blocks)


def concatenate_tables(
    blocks: list[dict[str, npt.NDArray]], extra: Sequence[str] = ()
) -> dict[str, npt.NDArray]:
    """Rows of several particle tables in one table: ``PYTHIA8_COLUMNS`` and ``extra``."""
    dtypes: dict[str, type] = {
        "vertex_primary": np.uint32,
        "particle": np.uint32,
        "vertex_secondary": np.uint32,
        "pdg": np.int32,
        "parent_pdg": np.int32,
    }
    columns = (*PYTHIA8_COLUMNS, *extra)
    if not blocks:
        return {c: np.zeros(0, dtype=dtypes.get(c, np.float64)) for c in columns}
    return {
        c: np.concatenate([b[c] for b in blocks]).astype(dtypes.get(c, np.float64)) for c in columns
    }

"""HL-LHC-like event generator: Poisson pile-up of minimum-bias vertices plus an optional
ttbar-like hard scatter, in numpy.

Units are ACTS units: mm for positions, GeV for momenta and masses, e for charge.

The model (documented in docs/data.md and checked by tests/simulation):

* pile-up: ``Poisson(pileup)`` vertices, each at (x, y, z) ~ N(0, sigma_xy), N(0, sigma_xy),
  N(0, sigma_z) with sigma_z = 50 mm;
* per vertex the charged multiplicity in ``|eta| < eta_max`` follows a negative binomial
  distribution with mean ``dnch_deta * 2 * eta_max`` (about 6 charged particles per unit of
  eta) and shape ``k = 2`` (the broad multiplicity distribution of minimum-bias collisions);
* eta is uniform in ``[-eta_max, eta_max]`` (the minimum-bias plateau), phi uniform;
* pT follows a Tsallis (Hagedorn) spectrum ``dN/dpT ~ pT (1 + pT / (n T))^-n`` with
  T = 0.13 GeV and n = 7, truncated to ``[pt_min, pt_max]``: most particles are below 1 GeV
  with a power-law tail to several GeV;
* alternatively (``pt_spectrum="flat-curvature"``) pT is drawn uniformly in 1/pT on
  ``[1/pt_max, 1/pt_min]``: as many straight as curved tracks, for building module maps,
  whose cut ranges must cover every curvature, not the minimum-bias mix;
* species: 80 % pions, 12 % kaons, 8 % protons, each with a random charge sign;
* hard scatter (optional): one more vertex with ``n_jets`` collimated jets (jet pT 30-200 GeV,
  ``|eta| < 2.5``) whose charged constituents share the jet momentum with a soft fragmentation
  function and sit within Delta R ~ 0.1 of the axis, plus two isolated muons (pT 20-80 GeV),
  and an underlying event of the same density as one pile-up vertex.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt

#: (pdg, mass in GeV, relative abundance) of the charged hadrons produced.
HADRON_SPECIES: tuple[tuple[int, float, float], ...] = (
    (211, 0.13957, 0.80),
    (321, 0.49368, 0.12),
    (2212, 0.93827, 0.08),
)
MUON = (13, 0.10566)
PT_SPECTRA = ("tsallis", "flat-curvature")

#: Columns of a generated particle table, all 1-D arrays of one length.
PARTICLE_COLUMNS = (
    "vertex_primary",  # uint32, 1-based vertex number (hard scatter first when present)
    "particle",  # uint32, 1-based particle number inside its vertex
    "pdg",  # int32, signed PDG id
    "q",  # float64, charge [e]
    "m",  # float64, mass [GeV]
    "vx",
    "vy",
    "vz",
    "vt",  # float64, production vertex [mm]
    "px",
    "py",
    "pz",  # float64, momentum [GeV]
)


@dataclass(frozen=True)
class GeneratorConfig:
    """Configuration of :class:`EventGenerator`; every number in ACTS units (mm, GeV)."""

    pileup: float = 50.0
    hard_scatter: bool = False
    eta_max: float = 4.0
    pt_min: float = 0.1
    pt_max: float = 100.0
    dnch_deta: float = 6.0
    multiplicity_shape_k: float = 2.0
    pt_spectrum: str = "tsallis"  # "tsallis" (minimum bias) or "flat-curvature" (map building)
    tsallis_temperature: float = 0.13
    tsallis_n: float = 7.0
    sigma_z: float = 50.0
    sigma_xy: float = 0.0125
    n_jets: int = 4
    jet_pt_range: tuple[float, float] = (30.0, 200.0)
    jet_eta_max: float = 2.5
    jet_cone: float = 0.1
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pileup < 0 or not np.isfinite(self.pileup):
            raise ValueError(f"pileup must be a finite number >= 0, got {self.pileup}")
        if not (0 < self.pt_min < self.pt_max):
            raise ValueError(f"need 0 < pt_min < pt_max, got {self.pt_min}, {self.pt_max}")
        if self.pt_spectrum not in PT_SPECTRA:
            raise ValueError(f"pt_spectrum must be one of {PT_SPECTRA}, got {self.pt_spectrum!r}")
        if self.eta_max <= 0:
            raise ValueError(f"eta_max must be > 0, got {self.eta_max}")
        if self.pileup == 0 and not self.hard_scatter:
            raise ValueError("pileup is 0 and there is no hard scatter: events would be empty")

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable copy (recorded next to the simulated files)."""
        return asdict(self)


class EventGenerator:
    """Generates one event's primary particles as a column table (see PARTICLE_COLUMNS)."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self._pt_grid, self._pt_cdf = _tsallis_cdf(
            config.pt_min, config.pt_max, config.tsallis_temperature, config.tsallis_n
        )

    def generate(self, rng: np.random.Generator) -> dict[str, npt.NDArray]:
        """Generate one event with the random generator ``rng``."""
        cfg = self.config
        blocks: list[dict[str, npt.NDArray]] = []
        vertex = 1
        if cfg.hard_scatter:
            position = self._vertex_position(rng)
            blocks.append(self._hard_scatter(rng, vertex, position))
            vertex += 1
        for _ in range(int(rng.poisson(cfg.pileup)) if cfg.pileup > 0 else 0):
            blocks.append(self._minimum_bias(rng, vertex, self._vertex_position(rng)))
            vertex += 1
        blocks = [b for b in blocks if len(b["pdg"])]
        if not blocks:
            return {c: np.zeros(0, dtype=_dtype(c)) for c in PARTICLE_COLUMNS}
        return {
            c: np.concatenate([b[c] for b in blocks]).astype(_dtype(c)) for c in PARTICLE_COLUMNS
        }

    # -- pieces -----------------------------------------------------------------------------
    def _vertex_position(self, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        cfg = self.config
        return np.array(
            [rng.normal(0, cfg.sigma_xy), rng.normal(0, cfg.sigma_xy), rng.normal(0, cfg.sigma_z)]
        )

    def _sample_pt(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        if self.config.pt_spectrum == "flat-curvature":
            return 1.0 / rng.uniform(1.0 / self.config.pt_max, 1.0 / self.config.pt_min, n)
        return np.interp(rng.random(n), self._pt_cdf, self._pt_grid)

    def _minimum_bias(
        self, rng: np.random.Generator, vertex: int, position: npt.NDArray[np.float64]
    ) -> dict[str, npt.NDArray]:
        cfg = self.config
        mean = cfg.dnch_deta * 2 * cfg.eta_max
        k = cfg.multiplicity_shape_k
        n = int(rng.negative_binomial(k, k / (k + mean)))
        eta = rng.uniform(-cfg.eta_max, cfg.eta_max, n)
        phi = rng.uniform(-np.pi, np.pi, n)
        pt = self._sample_pt(rng, n)
        pdg, mass = _sample_species(rng, n)
        charge = rng.choice([-1.0, 1.0], n)
        return _table(vertex, position, pdg * charge.astype(np.int32), charge, mass, pt, eta, phi)

    def _hard_scatter(
        self, rng: np.random.Generator, vertex: int, position: npt.NDArray[np.float64]
    ) -> dict[str, npt.NDArray]:
        cfg = self.config
        pts, etas, phis, pdgs, charges, masses = [], [], [], [], [], []
        for _ in range(cfg.n_jets):
            jet_pt = np.exp(rng.uniform(*np.log(cfg.jet_pt_range)))
            jet_eta = rng.uniform(-cfg.jet_eta_max, cfg.jet_eta_max)
            jet_phi = rng.uniform(-np.pi, np.pi)
            n = max(2, int(rng.poisson(4 + 2 * np.log(jet_pt))))
            # Soft fragmentation: momentum fractions from a Dirichlet with alpha < 1 (a few
            # leading particles, many soft ones); charged particles carry ~60 % of the jet.
            fractions = rng.dirichlet(np.full(n, 0.6)) * 0.6
            pt = np.maximum(fractions * jet_pt, cfg.pt_min * 1.01)
            eta = jet_eta + rng.normal(0, cfg.jet_cone / 2, n)
            phi = jet_phi + rng.normal(0, cfg.jet_cone / 2, n)
            pdg, mass = _sample_species(rng, n)
            pts.append(pt)
            etas.append(eta)
            phis.append(phi)
            pdgs.append(pdg)
            masses.append(mass)
            charges.append(rng.choice([-1.0, 1.0], n))
        for sign in (-1.0, 1.0):  # two isolated muons, one of each charge (W decays)
            pts.append(np.array([rng.uniform(20.0, 80.0)]))
            etas.append(np.array([rng.uniform(-cfg.jet_eta_max, cfg.jet_eta_max)]))
            phis.append(np.array([rng.uniform(-np.pi, np.pi)]))
            pdgs.append(np.array([MUON[0]], dtype=np.int32))
            masses.append(np.array([MUON[1]]))
            charges.append(np.array([sign]))
        underlying = self._minimum_bias(rng, vertex, position)
        # Muons: PDG 13 is the negative muon, so the sign convention is flipped for leptons.
        pdg = np.concatenate(pdgs)
        charge = np.concatenate(charges)
        signed_pdg = np.where(pdg == MUON[0], -pdg * charge, pdg * charge).astype(np.int32)
        hard = _table(
            vertex,
            position,
            signed_pdg,
            charge,
            np.concatenate(masses),
            np.concatenate(pts),
            np.concatenate(etas),
            np.angle(np.exp(1j * np.concatenate(phis))),
        )
        merged = {c: np.concatenate([hard[c], underlying[c]]) for c in PARTICLE_COLUMNS}
        merged["particle"] = np.arange(1, len(merged["pdg"]) + 1, dtype=np.uint32)
        keep = np.abs(_eta_of(merged)) < cfg.eta_max
        out = {c: v[keep] for c, v in merged.items()}
        out["particle"] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint32)
        return out


def _dtype(column: str) -> type:
    if column in ("vertex_primary", "particle"):
        return np.uint32
    if column == "pdg":
        return np.int32
    return np.float64


def _eta_of(table: dict[str, npt.NDArray]) -> npt.NDArray[np.float64]:
    pt = np.hypot(table["px"], table["py"])
    return np.arcsinh(table["pz"] / pt)


def _sample_species(rng: np.random.Generator, n: int) -> tuple[npt.NDArray, npt.NDArray]:
    probabilities = np.array([s[2] for s in HADRON_SPECIES])
    choice = rng.choice(len(HADRON_SPECIES), n, p=probabilities / probabilities.sum())
    pdg = np.array([s[0] for s in HADRON_SPECIES], dtype=np.int32)[choice]
    mass = np.array([s[1] for s in HADRON_SPECIES])[choice]
    return pdg, mass


def _table(
    vertex: int,
    position: npt.NDArray[np.float64],
    pdg: npt.NDArray,
    charge: npt.NDArray,
    mass: npt.NDArray,
    pt: npt.NDArray,
    eta: npt.NDArray,
    phi: npt.NDArray,
) -> dict[str, npt.NDArray]:
    n = len(pt)
    return {
        "vertex_primary": np.full(n, vertex, dtype=np.uint32),
        "particle": np.arange(1, n + 1, dtype=np.uint32),
        "pdg": np.asarray(pdg, dtype=np.int32),
        "q": np.asarray(charge, dtype=np.float64),
        "m": np.asarray(mass, dtype=np.float64),
        "vx": np.full(n, position[0]),
        "vy": np.full(n, position[1]),
        "vz": np.full(n, position[2]),
        "vt": np.zeros(n),
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pt * np.sinh(eta),
    }


def _tsallis_cdf(
    pt_min: float, pt_max: float, temperature: float, n: float, points: int = 4096
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Tabulated inverse-CDF of dN/dpT ~ pT (1 + pT/(n T))^-n on [pt_min, pt_max]."""
    grid = np.geomspace(pt_min, pt_max, points)
    density = grid * (1.0 + grid / (n * temperature)) ** (-n)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    return grid, cdf / cdf[-1]

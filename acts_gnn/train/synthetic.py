"""Toy events for tests and smoke runs: helices from the beam line through barrel layers.

Charged particles (pT from ``min_pt`` up, |eta| < ``max_eta``) start at the origin with a
small z spread and curve in a 2 T solenoid; each crossing of a cylindrical layer (radii
``layers`` in mm, |z| < ``half_length``) gives a hit smeared by 50 um. Noise hits are added at
random. The graph joins hits on adjacent layers whose phi difference and z0 (the doublet's
intercept with the beam line) pass loose cuts, so it has true edges and many fakes, as a real
graph builder would. Everything is deterministic for a given seed and event index.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from acts_gnn.event import HIT_COLUMNS, PARTICLE_COLUMNS, Event
from acts_gnn.train.config import SyntheticConfig

B_FIELD_TESLA = 2.0


def synthetic_event(config: SyntheticConfig, index: int) -> Event:
    """The toy event number ``index`` (see the module docstring)."""
    rng = np.random.default_rng([config.seed, index])
    n = config.n_particles
    pt = config.min_pt + rng.exponential(1.5, n)
    eta = rng.uniform(-config.max_eta, config.max_eta, n)
    phi0 = rng.uniform(-np.pi, np.pi, n)
    q = rng.choice([-1.0, 1.0], n)
    vz = rng.normal(0.0, 30.0, n)
    radius = pt / (0.3 * B_FIELD_TESLA) * 1000.0  # helix radius [mm]

    layers = np.asarray(config.layers, float)
    xs, ys, zs, lay, pids = [], [], [], [], []
    for k, r in enumerate(layers):
        reach = r < 2 * radius
        arc = np.where(reach, 2 * radius * np.arcsin(np.minimum(r / (2 * radius), 1.0)), np.inf)
        z = vz + arc * np.sinh(eta)
        ok = reach & (np.abs(z) < config.half_length)
        phi = phi0 - q * np.arcsin(np.minimum(r / (2 * radius), 1.0))
        rphi_smear = rng.normal(0.0, 0.05, n) / r
        phi = phi + rphi_smear
        xs.append(r * np.cos(phi[ok]))
        ys.append(r * np.sin(phi[ok]))
        zs.append(z[ok] + rng.normal(0.0, 0.05, ok.sum()))
        lay.append(np.full(ok.sum(), k))
        pids.append(np.flatnonzero(ok))
    # noise
    m = config.noise_hits
    noise_layer = rng.integers(0, len(layers), m)
    noise_phi = rng.uniform(-np.pi, np.pi, m)
    xs.append(layers[noise_layer] * np.cos(noise_phi))
    ys.append(layers[noise_layer] * np.sin(noise_phi))
    zs.append(rng.uniform(-config.half_length, config.half_length, m))
    lay.append(noise_layer)
    pids.append(np.full(m, -1))

    x, y, z = np.concatenate(xs), np.concatenate(ys), np.concatenate(zs)
    layer = np.concatenate(lay).astype(np.int64)
    pid = np.concatenate(pids).astype(np.int64)
    r = np.hypot(x, y)
    sector = ((np.arctan2(y, x) + np.pi) / (2 * np.pi) * 16).astype(np.int64) % 16
    hits = {
        "measurement_id": np.arange(len(x)),
        "x": x,
        "y": y,
        "z": z,
        "r": r,
        "phi": np.arctan2(y, x),
        "eta": np.arcsinh(z / r),
        "geometry_id": ((layer + 1) * 100 + sector).astype(np.uint64),
        "volume_id": np.full(len(x), 1),
        "layer_id": layer + 1,
        "loc0": np.zeros(len(x)),
        "loc1": z,
        "var_loc0": np.full(len(x), 0.05**2),
        "var_loc1": np.full(len(x), 0.05**2),
        "particle_id": pid,
    }
    counts = np.bincount(pid[pid >= 0], minlength=n)
    theta = 2 * np.arctan(np.exp(-eta))
    p = pt / np.sin(theta)
    particles: dict[str, npt.NDArray] = {c: np.zeros(n) for c in PARTICLE_COLUMNS}
    particles.update(
        particle_id=np.arange(n),
        vertex_primary=np.ones(n),
        particle=np.arange(n) + 1,
        pdg=np.where(q > 0, 211, -211),
        q=q,
        px=pt * np.cos(phi0),
        py=pt * np.sin(phi0),
        pz=pt * np.sinh(eta),
        pt=pt,
        p=p,
        eta=eta,
        phi=phi0,
        vz=vz,
        n_measurements=counts,
        is_primary=np.ones(n, dtype=bool),
    )
    assert set(hits) == set(HIT_COLUMNS)
    return Event(event_id=index, hits=hits, particles=particles)


def synthetic_graph(event: Event, config: SyntheticConfig) -> npt.NDArray[np.int64]:
    """Edges [2, E] (inner -> outer) between hits on adjacent layers passing dphi and z0 cuts."""
    h = event.hits
    layer = h["layer_id"].astype(np.int64)
    r, phi, z = (h[c].astype(np.float64) for c in ("r", "phi", "z"))
    edges = []
    for k in range(int(layer.min(initial=0)), int(layer.max(initial=0))):
        a = np.flatnonzero(layer == k)
        b = np.flatnonzero(layer == k + 1)
        if not len(a) or not len(b):
            continue
        dphi = np.angle(np.exp(1j * (phi[b][None, :] - phi[a][:, None])))
        dr = r[b][None, :] - r[a][:, None]
        z0 = z[a][:, None] - r[a][:, None] * (z[b][None, :] - z[a][:, None]) / dr
        ia, ib = np.nonzero((np.abs(dphi) < config.max_dphi) & (np.abs(z0) < config.max_z0))
        edges.append(np.stack([a[ia], b[ib]]))
    if not edges:
        return np.zeros((2, 0), dtype=np.int64)
    return np.concatenate(edges, axis=1).astype(np.int64)


class SyntheticEvents:
    """Toy events ``events`` (default: 0 .. n_events - 1) as a sequence (like PreparedDataset)."""

    def __init__(self, config: SyntheticConfig, events: list[int] | None = None) -> None:
        self.config = config
        self.event_ids = list(range(config.n_events)) if events is None else list(events)

    def __len__(self) -> int:
        return len(self.event_ids)

    def __getitem__(self, index: int) -> Event:
        return synthetic_event(self.config, self.event_ids[index])

    def __iter__(self) -> Iterator[Event]:
        for i in range(len(self)):
            yield self[i]

"""Resolutions and pulls of fitted track parameters against the truth at the perigee.

Parameters (ACTS's bound parameters on a perigee surface, ACTS units): ``d0`` [mm], ``z0``
[mm], ``phi`` [rad], ``theta`` [rad], ``qop`` = q/p [e/GeV]. Residual = fitted - truth (``phi``
wrapped to (-pi, pi]); pull = residual / sqrt(fitted covariance diagonal).

Truth perigee of a particle produced at ``v`` with momentum ``p`` and charge ``q`` in a uniform
field ``B`` along z (:func:`truth_perigee`): the transverse path is a circle of radius
``R = pT / (0.299792458e-3 |q| B)`` [mm, GeV, T]. With ``h = sign(q B)`` the centre is
``c = v_T + h R (p_y, -p_x) / pT`` (the Lorentz force ``q v x B`` points there). The point of
closest approach to the beam line (the z axis through the reference point) is
``P = c (1 - R / |c|)``; the direction of motion there is ``u = h (b, -a)`` with
``(a, b) = (P - c) / R``, so ``phi = atan2(u_y, u_x)``; ``d0 = P . (-sin phi, cos phi)`` (ACTS's
sign: the perigee's position is ``d0 (-sin phi, cos phi)``). The momentum turns by
``dphi = wrap(phi - phi_v)`` from the vertex to P, a transverse arc length ``s = -h R dphi``,
so ``z0 = v_z + s p_z / pT``. ``theta`` and ``q/p`` do not change along the helix (no energy
loss for the truth). Neutral particles (no curvature) use the straight line.

:class:`ResolutionCollector` sums the residuals and pulls of matched tracks over events; its
:meth:`~ResolutionCollector.summary` gives per parameter the RMS, the 68 % half width
(half the 15.87-84.13 % quantile range, robust to tails), the same for the pull, and the 68 %
widths in bins of the truth eta and pT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: The fitted parameters, in ACTS's bound order (loc0 = d0, loc1 = z0, phi, theta, q/p).
PARAMETERS = ("d0", "z0", "phi", "theta", "qop")

#: Units of :data:`PARAMETERS` (ACTS units).
UNITS = {"d0": "mm", "z0": "mm", "phi": "rad", "theta": "rad", "qop": "e/GeV"}

#: c in GeV / (T mm): pT [GeV] = C_LIGHT |q| B [T] R [mm].
C_LIGHT = 0.299792458e-3

#: Bins of the binned widths: |eta| and pT [GeV].
ETA_EDGES = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
PT_EDGES = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0)

#: A bin with fewer tracks has no width (NaN): a quantile of a handful of tracks is noise.
MIN_BIN_TRACKS = 10

FloatArray = npt.NDArray[np.float64]


def wrap_angle(a: npt.ArrayLike) -> FloatArray:
    """Angles [rad] mapped to (-pi, pi]."""
    x = np.asarray(a, dtype=np.float64)
    return np.pi - np.mod(np.pi - x, 2 * np.pi)


def truth_perigee(
    vertex: npt.ArrayLike,
    momentum: npt.ArrayLike,
    charge: npt.ArrayLike,
    bz_tesla: float,
    reference: npt.ArrayLike = (0.0, 0.0, 0.0),
) -> dict[str, FloatArray]:
    """The perigee parameters (:data:`PARAMETERS`, module docstring) of particles.

    vertex: [N, 3] production points [mm]; momentum: [N, 3] at production [GeV]; charge: [N]
    [e]; bz_tesla: the field along z [T]; reference: the perigee surface's point [mm] (the
    beam line is the z axis through it). Returns arrays [N] per parameter.
    """
    v = np.atleast_2d(np.asarray(vertex, dtype=np.float64)) - np.asarray(reference, np.float64)
    p = np.atleast_2d(np.asarray(momentum, dtype=np.float64))
    q = np.atleast_1d(np.asarray(charge, dtype=np.float64))
    pt = np.hypot(p[:, 0], p[:, 1])
    if np.any(pt <= 0):
        raise ValueError("truth_perigee: a particle has zero transverse momentum")
    ux, uy = p[:, 0] / pt, p[:, 1] / pt
    phi_v = np.arctan2(uy, ux)
    curved = (q != 0) & (bz_tesla != 0)
    h = np.sign(q * bz_tesla)
    radius = np.where(curved, pt / (C_LIGHT * np.abs(q) * abs(bz_tesla) + ~curved), np.inf)
    # straight line (neutral or no field): PCA along the direction, no turning
    d0 = v[:, 1] * ux - v[:, 0] * uy
    phi = phi_v.copy()
    s = -(v[:, 0] * ux + v[:, 1] * uy)
    if np.any(curved):
        k = curved
        r = radius[k]
        cx = v[k, 0] + h[k] * r * uy[k]
        cy = v[k, 1] - h[k] * r * ux[k]
        dist = np.hypot(cx, cy)
        px_, py_ = cx * (1 - r / dist), cy * (1 - r / dist)
        a, b = (px_ - cx) / r, (py_ - cy) / r
        phi[k] = np.arctan2(-h[k] * a, h[k] * b)
        d0[k] = -px_ * np.sin(phi[k]) + py_ * np.cos(phi[k])
        s[k] = -h[k] * r * wrap_angle(phi[k] - phi_v[k])
    z0 = v[:, 2] + s * p[:, 2] / pt
    theta = np.arctan2(pt, p[:, 2])
    with np.errstate(divide="ignore"):
        qop = q / np.linalg.norm(p, axis=1)
    return {"d0": d0, "z0": z0, "phi": phi, "theta": theta, "qop": qop}


def residuals(fitted: npt.ArrayLike, truth: dict[str, FloatArray]) -> FloatArray:
    """fitted [N, 5] (:data:`PARAMETERS` order) - truth, phi wrapped; [N, 5]."""
    f = np.atleast_2d(np.asarray(fitted, dtype=np.float64))
    t = np.stack([truth[name] for name in PARAMETERS], axis=1)
    r = f - t
    r[:, 2] = wrap_angle(r[:, 2])
    return r


def width68(x: npt.ArrayLike) -> float:
    """Half the 15.87-84.13 % quantile range (sigma for a Gaussian); NaN when empty."""
    a = np.asarray(x, dtype=np.float64)
    a = a[np.isfinite(a)]
    if not len(a):
        return float("nan")
    lo, hi = np.quantile(a, [0.158655, 0.841345])
    return float(0.5 * (hi - lo))


def _rms(x: FloatArray) -> float:
    a = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(a**2))) if len(a) else float("nan")


@dataclass
class ResolutionCollector:
    """Residuals and pulls of matched fitted tracks, summed over events (module docstring)."""

    residual: list[FloatArray] = field(default_factory=list)  # [N, 5] per add
    pull: list[FloatArray] = field(default_factory=list)
    pt: list[FloatArray] = field(default_factory=list)  # truth pT [GeV]
    eta: list[FloatArray] = field(default_factory=list)  # truth eta

    def add(
        self,
        fitted: npt.ArrayLike,
        covariance: npt.ArrayLike,
        truth: dict[str, FloatArray],
        pt: npt.ArrayLike,
        eta: npt.ArrayLike,
    ) -> None:
        """One event's tracks: fitted [N, 5], covariance [N, 5, 5] (ACTS's bound covariance),
        truth (:func:`truth_perigee`), truth pt [N] [GeV] and eta [N]."""
        r = residuals(fitted, truth)
        cov = np.asarray(covariance, dtype=np.float64).reshape(len(r), 5, 5)
        sigma = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            pull = np.where(sigma > 0, r / sigma, np.nan)
        self.residual.append(r)
        self.pull.append(pull)
        self.pt.append(np.asarray(pt, dtype=np.float64).reshape(-1))
        self.eta.append(np.asarray(eta, dtype=np.float64).reshape(-1))

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(residual [N, 5], pull [N, 5], pt [N], eta [N]) of every track added."""
        if not self.residual:
            z = np.zeros((0, 5))
            return z, z, np.zeros(0), np.zeros(0)
        return (
            np.concatenate(self.residual),
            np.concatenate(self.pull),
            np.concatenate(self.pt),
            np.concatenate(self.eta),
        )

    def summary(self, min_pt: float = 0.0) -> dict[str, Any]:
        """``tracks``, ``min_pt_GeV`` and, per parameter: ``unit``, ``mean``, ``rms``,
        ``width68`` of the residual, ``pull_mean``, ``pull_width68``, ``pull_rms`` and
        ``vs_abs_eta`` (all over the tracks with truth pT > ``min_pt`` [GeV]), and ``vs_pt``
        (every track); each binned entry has ``edges``, ``width68``, ``pull_width68`` and
        ``tracks`` per bin (NaN widths in bins with fewer than :data:`MIN_BIN_TRACKS`)."""
        nan = float("nan")
        r_all, pull_all, pt_all, eta_all = self.arrays()
        above = pt_all > min_pt
        r, pull, eta = r_all[above], pull_all[above], eta_all[above]
        out: dict[str, Any] = {"tracks": len(r), "min_pt_GeV": min_pt}
        for k, name in enumerate(PARAMETERS):
            entry: dict[str, Any] = {
                "unit": UNITS[name],
                "mean": float(np.nanmean(r[:, k])) if len(r) else float("nan"),
                "rms": _rms(r[:, k]),
                "width68": width68(r[:, k]),
                "pull_mean": float(np.nanmean(pull[:, k])) if len(r) else float("nan"),
                "pull_rms": _rms(pull[:, k]),
                "pull_width68": width68(pull[:, k]),
            }
            for key, values, edges, res, pul in (
                ("vs_abs_eta", np.abs(eta), ETA_EDGES, r, pull),
                ("vs_pt", pt_all, PT_EDGES, r_all, pull_all),
            ):
                which = np.digitize(values, edges) - 1
                bins = range(len(edges) - 1)
                few = [int(np.sum(which == b)) < MIN_BIN_TRACKS for b in bins]
                entry[key] = {
                    "edges": list(edges),
                    "width68": [nan if few[b] else width68(res[which == b, k]) for b in bins],
                    "pull_width68": [nan if few[b] else width68(pul[which == b, k]) for b in bins],
                    "tracks": [int(np.sum(which == b)) for b in bins],
                }
            out[name] = entry
        return out


__all__ = [
    "C_LIGHT",
    "ETA_EDGES",
    "MIN_BIN_TRACKS",
    "PARAMETERS",
    "PT_EDGES",
    "UNITS",
    "ResolutionCollector",
    "residuals",
    "truth_perigee",
    "width68",
    "wrap_angle",
]

"""Vertex-level metrics: efficiency, merge, split and fake rates, the hard-scatter vertex.

Inputs per event: the reconstructed vertex of every track (``track_vertex`` [N], -1 for
none; vertex 0 is the hard-scatter candidate, the highest sum of pT^2 -- the ordering of
:class:`~acts_gnn.chain.vertexing.Vertices` and of ACTS's finders), the truth vertex of every
track (``track_truth`` [N]: the ``vertex_primary`` of its matched particle, 1-based; 0 or -1
for a fake or unmatched track), the reconstructed z [V] and the truth vertices' z (by id).
Definitions (every report states these; ``match_fraction`` default 0.5):

* c(R, T): tracks of reconstructed vertex R from truth vertex T; a truth vertex is
  *reconstructable* when >= ``min_tracks`` (2) input tracks come from it;
* R is *fake* when its majority truth vertex T* is none or not reconstructable, or
  c(R, T*) / |R| < ``match_fraction``; otherwise R is *matched* to T*;
* of several vertices matched to one T, the one with the largest c(R, T) is its match, the
  others are *split* vertices;
* a matched R is *merged* when it also holds >= 2 tracks and at least half of the input
  tracks of another reconstructable truth vertex (that vertex was swallowed);
* efficiency = reconstructable truth vertices with a matched vertex / reconstructable truth
  vertices; merge, split and fake rates = merged, split, fake vertices / reconstructed
  vertices;
* the hard scatter (truth id ``hard_scatter``, 1) is *reconstructed* when it has a matched
  vertex and *identified* when vertex 0 is its (non-split) match; its z residual
  z(vertex 0) - z(truth) [mm] is recorded when identified.

Per truth vertex the number of its tracks, its z and the local pile-up density (truth
vertices per mm within +- ``density_window`` mm, itself excluded) are kept, to bin efficiency
and merging in them (:func:`efficiency_vs`); per reconstructed vertex its number of tracks,
whether it is merged, split or fake, and (matched ones, with ``reco_z``) its z residual to its
truth vertex, to bin the rates (:func:`rates_vs`) and measure the z resolution of all vertices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class VertexEventMetrics:
    """One event's counts (see the module docstring) and per-truth-vertex arrays."""

    n_reco: int
    n_reconstructable: int
    n_found: int
    n_fake: int
    n_split: int
    n_merged: int
    hs_reconstructable: bool
    hs_reconstructed: bool
    hs_identified: bool
    hs_dz: float | None
    truth_n_tracks: npt.NDArray[np.int64] = field(repr=False)
    truth_density: npt.NDArray[np.float64] = field(repr=False)
    truth_found: npt.NDArray[np.bool_] = field(repr=False)
    truth_merged: npt.NDArray[np.bool_] = field(repr=False)
    #: z [mm] of every reconstructable truth vertex (the order of ``truth_n_tracks``)
    truth_zpos: npt.NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros(0))
    #: per reconstructed vertex [V]: tracks, merged / split / fake flags, z residual [mm]
    #: to its truth vertex (NaN if fake or without ``reco_z``)
    reco_n_tracks: npt.NDArray[np.int64] = field(
        repr=False, default_factory=lambda: np.zeros(0, np.int64)
    )
    reco_merged: npt.NDArray[np.bool_] = field(
        repr=False, default_factory=lambda: np.zeros(0, bool)
    )
    reco_split: npt.NDArray[np.bool_] = field(repr=False, default_factory=lambda: np.zeros(0, bool))
    reco_fake: npt.NDArray[np.bool_] = field(repr=False, default_factory=lambda: np.zeros(0, bool))
    reco_dz: npt.NDArray[np.float64] = field(repr=False, default_factory=lambda: np.zeros(0))


def event_vertex_metrics(
    track_vertex: npt.ArrayLike,
    track_truth: npt.ArrayLike,
    truth_z: dict[int, float],
    min_tracks: int = 2,
    match_fraction: float = 0.5,
    hard_scatter: int = 1,
    reco_z: npt.ArrayLike | None = None,
    density_window: float = 2.0,
) -> VertexEventMetrics:
    """The metrics of one event (see the module docstring). ``truth_z``: z [mm] of every
    truth vertex id (all of the event's primary vertices, for the density); ``reco_z`` [V]
    the reconstructed z [mm] (needed for the hard-scatter residual)."""
    tv = np.asarray(track_vertex, np.int64)
    tt = np.asarray(track_truth, np.int64)
    if tv.shape != tt.shape:
        raise ValueError(f"track_vertex {tv.shape} and track_truth {tt.shape} differ")
    n_reco = int(tv.max(initial=-1)) + 1
    if reco_z is not None:
        n_reco = max(n_reco, len(np.asarray(reco_z)))
    ids = np.array(sorted(truth_z), np.int64)
    n_truth_id = int(max(ids.max(initial=0), tt.max(initial=0))) + 1
    tracks_per_truth = np.bincount(tt[tt > 0], minlength=n_truth_id)
    reconstructable = tracks_per_truth >= min_tracks
    reconstructable[0] = False
    contribution = np.zeros((max(n_reco, 1), n_truth_id), np.int64)
    assigned = tv >= 0
    np.add.at(contribution, (tv[assigned], np.maximum(tt[assigned], 0)), 1)
    contribution = contribution[:n_reco]
    size = contribution.sum(axis=1)
    real = contribution.copy()
    real[:, 0] = 0
    majority = real.argmax(axis=1) if n_reco else np.zeros(0, np.int64)
    best = real[np.arange(n_reco), majority] if n_reco else np.zeros(0, np.int64)
    matched = (
        (best > 0) & reconstructable[majority] & (best >= match_fraction * np.maximum(size, 1))
    )
    # the match of each truth vertex: its matched vertex with the largest contribution
    match_of = np.full(n_truth_id, -1, np.int64)
    for r in np.flatnonzero(matched)[np.argsort(-best[matched], kind="stable")]:
        if match_of[majority[r]] < 0:
            match_of[majority[r]] = r
    split = matched & (match_of[majority] != np.arange(n_reco))
    swallowed = (real >= 2) & (real * 2 >= tracks_per_truth[None, :]) & reconstructable[None, :]
    swallowed[np.arange(n_reco), majority] = False
    merged = matched & swallowed.any(axis=1)
    truth_merged = swallowed[matched].any(axis=0) & (match_of < 0)
    found = match_of >= 0
    hs_ok = hard_scatter < n_truth_id and bool(reconstructable[hard_scatter])
    hs_reco = hs_ok and bool(found[hard_scatter])
    hs_ident = hs_reco and int(match_of[hard_scatter]) == 0
    dz = None
    if hs_ident and reco_z is not None and hard_scatter in truth_z:
        dz = float(np.asarray(reco_z)[0] - truth_z[hard_scatter])
    rec_ids = np.flatnonzero(reconstructable)
    reco_dz = np.full(n_reco, np.nan)
    if reco_z is not None:
        rz = np.asarray(reco_z, np.float64)[:n_reco]
        for r in np.flatnonzero(matched):
            if int(majority[r]) in truth_z:
                reco_dz[r] = rz[r] - truth_z[int(majority[r])]
    z_all = np.array([truth_z[i] for i in ids], np.float64) if len(ids) else np.zeros(0)
    density = np.array(
        [
            (np.count_nonzero(np.abs(z_all - truth_z[int(i)]) < density_window) - 1)
            / (2 * density_window)
            if i in truth_z
            else np.nan
            for i in rec_ids
        ],
        np.float64,
    )
    return VertexEventMetrics(
        n_reco=n_reco,
        n_reconstructable=len(rec_ids),
        n_found=int(found[rec_ids].sum()),
        n_fake=int(n_reco - matched.sum()),
        n_split=int(split.sum()),
        n_merged=int(merged.sum()),
        hs_reconstructable=hs_ok,
        hs_reconstructed=hs_reco,
        hs_identified=hs_ident,
        hs_dz=dz,
        truth_n_tracks=tracks_per_truth[rec_ids],
        truth_density=density,
        truth_found=found[rec_ids],
        truth_merged=truth_merged[rec_ids],
        truth_zpos=np.array([truth_z.get(int(i), np.nan) for i in rec_ids], np.float64),
        reco_n_tracks=size.astype(np.int64),
        reco_merged=merged,
        reco_split=split,
        reco_fake=~matched,
        reco_dz=reco_dz,
    )


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def summarise_vertex_metrics(events: list[VertexEventMetrics]) -> dict[str, Any]:
    """Totals over events: efficiency, merge / split / fake rates, hard-scatter rates, the
    hard-scatter z residual's RMS and 68 % half-width [mm] (identified events only), the
    residuals themselves (``hs_dz``; ``hs_dz_by_event``: one per event, None where the hard
    scatter is not identified) and the 68 % half-width of the z residual of every matched
    vertex (``matched_dz_68`` [mm])."""
    total = {
        k: sum(int(getattr(e, k)) for e in events)
        for k in ("n_reco", "n_reconstructable", "n_found", "n_fake", "n_split", "n_merged")
    }
    hs_events = sum(e.hs_reconstructable for e in events)
    dz = np.array([e.hs_dz for e in events if e.hs_dz is not None], np.float64)
    all_dz = np.concatenate([e.reco_dz for e in events]) if events else np.zeros(0)
    all_dz = np.abs(all_dz[np.isfinite(all_dz)])
    return {
        "events": len(events),
        **total,
        "efficiency": _ratio(total["n_found"], total["n_reconstructable"]),
        "merge_rate": _ratio(total["n_merged"], total["n_reco"]),
        "split_rate": _ratio(total["n_split"], total["n_reco"]),
        "fake_rate": _ratio(total["n_fake"], total["n_reco"]),
        "hs_reconstruction_rate": _ratio(sum(e.hs_reconstructed for e in events), hs_events),
        "hs_identification_rate": _ratio(sum(e.hs_identified for e in events), hs_events),
        "hs_dz_rms": float(np.sqrt(np.mean(dz**2))) if len(dz) else float("nan"),
        "hs_dz_68": float(np.quantile(np.abs(dz), 0.68)) if len(dz) else float("nan"),
        "hs_dz": dz.tolist(),
        "hs_dz_by_event": [e.hs_dz for e in events],
        "matched_dz_68": float(np.quantile(all_dz, 0.68)) if len(all_dz) else float("nan"),
    }


def efficiency_vs(
    events: list[VertexEventMetrics], quantity: str, edges: npt.ArrayLike
) -> dict[str, list[float]]:
    """Efficiency and truth-merge fraction of reconstructable truth vertices in bins of
    ``quantity`` (``"n_tracks"``, ``"density"`` [vertices / mm] or ``"z"`` [mm]) with bin
    ``edges``."""
    key = {"n_tracks": "truth_n_tracks", "density": "truth_density", "z": "truth_zpos"}[quantity]
    values = np.concatenate([getattr(e, key) for e in events]) if events else np.zeros(0)
    found = np.concatenate([e.truth_found for e in events]) if events else np.zeros(0, bool)
    merged = np.concatenate([e.truth_merged for e in events]) if events else np.zeros(0, bool)
    edges = np.asarray(edges, np.float64)
    b = np.digitize(values, edges) - 1
    inside = (b >= 0) & (b < len(edges) - 1)
    n = np.bincount(b[inside], minlength=len(edges) - 1)
    nf = np.bincount(b[inside], found[inside].astype(float), minlength=len(edges) - 1)
    nm = np.bincount(b[inside], merged[inside].astype(float), minlength=len(edges) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "edges": edges.tolist(),
            "n": n.tolist(),
            "efficiency": (nf / n).tolist(),
            "merged": (nm / n).tolist(),
        }


def rates_vs(events: list[VertexEventMetrics], edges: npt.ArrayLike) -> dict[str, list[float]]:
    """Merge, split and fake rates of reconstructed vertices in bins of their number of
    tracks (bin ``edges``): ``{"edges", "n", "merge_rate", "split_rate", "fake_rate"}``."""
    edges = np.asarray(edges, np.float64)

    def values(key: str, dtype: Any) -> npt.NDArray[Any]:
        return np.concatenate([getattr(e, key) for e in events]) if events else np.zeros(0, dtype)

    b = np.digitize(values("reco_n_tracks", np.int64), edges) - 1
    inside = (b >= 0) & (b < len(edges) - 1)
    n = np.bincount(b[inside], minlength=len(edges) - 1)
    out: dict[str, list[float]] = {"edges": edges.tolist(), "n": n.tolist()}
    flags = {"merge_rate": "reco_merged", "split_rate": "reco_split", "fake_rate": "reco_fake"}
    for name, key in flags.items():
        flag = values(key, bool)
        k = np.bincount(b[inside], flag[inside].astype(float), minlength=len(edges) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = (k / n).tolist()
    return out


def common_hard_scatter(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The hard-scatter z residuals of two finders' summaries (:func:`summarise_vertex_metrics`
    of the same events) on the events where both identify it: ``{"events", "a_68", "b_68",
    "a_rms", "b_rms"}`` [mm] (NaN without such events)."""
    pairs = [
        (x, y)
        for x, y in zip(a["hs_dz_by_event"], b["hs_dz_by_event"], strict=True)
        if x is not None and y is not None
    ]
    da = np.array([p[0] for p in pairs], np.float64)
    db = np.array([p[1] for p in pairs], np.float64)

    def q68(d: npt.NDArray[np.float64]) -> float:
        return float(np.quantile(np.abs(d), 0.68)) if len(d) else float("nan")

    def rms(d: npt.NDArray[np.float64]) -> float:
        return float(np.sqrt(np.mean(d**2))) if len(d) else float("nan")

    return {
        "events": len(pairs),
        "a_68": q68(da),
        "b_68": q68(db),
        "a_rms": rms(da),
        "b_rms": rms(db),
    }

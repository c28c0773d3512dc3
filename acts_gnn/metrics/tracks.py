"""Track-level metrics of track candidates against the truth (docs/design.md, "Metrics").

Tracks are sequences of hit rows of an :class:`~acts_gnn.event.Event` (what the track
builders of :mod:`acts_gnn.chain.tracks` return; for prepared events hit rows are ACTS measurement
indices). A particle's hits are all hits of the event's hit
table with its ``particle_id``; hits with ``particle_id == -1`` (noise) count in a track's
length but belong to no particle. Three families of numbers, each labelled by its name:

**Exa.TrkX** (EPJ C 81, 876 (2021), section 4.1.1). A track and a particle *match* when more
than half of the track's hits are the particle's and the track holds more than half of the
particle's hits (double majority, strict). Physics efficiency = selected particles matched by
at least one track / selected particles; technical efficiency = the same over selected
particles that are *reconstructable* (at least ``reconstructable_hits`` = 5 hits); purity =
tracks matching a selected particle / all tracks given (after the builder's minimum-hits
cut; the paper's fake rate is 1 - purity).

**ACTS** (what ``TrackTruthMatcher`` + ``TrackFinderPerformanceWriter`` /
``PatternRecognitionPerformanceCollector`` of the ACTS Examples count, with the matcher fed
*all* particles and the writer the *selected* ones, as ACTS's own scripts and
:func:`acts_gnn.sequencer.reconstruction.addTrackPerformance` do; defaults of
``TrackTruthMatcher.Config``: ``matchingRatio=0.5``, ``doubleMatching=True``). The track's
*majority particle* is the particle with the most hits on it (noise hits do not count; of
tied particles, the one met first walking the track from its last hit backwards, which is
what upstream's count from the last track state and its sort give). A track with no
truth hit gets no classification (UNCLASSIFIED, upstream "unmatched"): it counts in
``nTotalTracks`` only. Every other track is classified, whether or not its majority particle
is selected: *matched* when majority hits / track hits >= ``matchingRatio`` (and, with double
matching, majority hits / particle hits >= ``matchingRatio``; ">= 50 %", not the strict
majority of Exa.TrkX), else *fake*. Of the tracks matched to one particle, the one with the
most hits (the first such in track order) stays *matched*, the others are *duplicates*
(upstream also prefers a smaller chi2, which proto tracks do not have; this picks which
track is the duplicate, never how many there are). Then: fake ratio = fake tracks / all
tracks and duplicate ratio = duplicate tracks / all tracks, over **all** tracks and the
tracks of **all** particles (the "with tracks" ratios of ``logSummary``); efficiency =
**selected** particles with a matched track / selected particles; ``nTotalMatchedTracks``,
the per-particle fake and duplicate ratios (:meth:`TrackMetrics.acts_stats`) and the mean
completeness (majority hits / particle hits) and purity (majority hits / track hits) of
matched and duplicate tracks count the selected particles only, as the writer loops over its
own (selected) particle collection. A measurement made by several particles counts for each
of them when ``shared`` lists the further ones (the hit table holds the first; the
Sequencer's :class:`~acts_gnn.sequencer.performance.TrackMetricsAlgorithm` passes them).
Purity here divides by the hits given; upstream divides fitted tracks' majority hits by
measurements + outliers, so the two means differ for tracks with outliers.

**TrackML score** (Amrouche et al., arXiv:1904.06778): every hit gets a weight, the product
of an order weight (from its rank along its particle's trajectory and the particle's number
of hits: the profile 10, 8, 6, 5, 3, 3, 3, 5, 6 stretched over the hits and normalised to 1
per particle; 0 for particles with fewer than 4 hits, rank 20 and beyond 0) and a pT weight
(0.2 up to 0.5 GeV, rising linearly to 1 at 3 GeV, 1 above; 0 below 50 MeV as in the
reference library), normalised to 1 per event. A track scores the weights of its majority
particle's hits on it if the double-majority match holds; the event score is the sum, the
score of many events the mean. Hits are ranked by 3D distance from the particle's production
vertex (the order of our truth graph); ``order="dz"`` ranks by |z - vz| as the reference
library does. Tracks must not share hits (the challenge scores a partition).

Particle selection: :class:`ParticleSelection` (pT [GeV], |eta|, min measurements,
primaries), the same class as the truth-graph selection; the measurements it counts are the
particle's hits including the measurements it shares with other particles (``shared``), as
ACTS's ``ParticleSelector`` counts the particle -> measurements map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn.event import Event
from acts_gnn.graph.truth import TruthSelection

#: The particle selection (pT [GeV], |eta|, min measurements, primaries only).
ParticleSelection = TruthSelection

Tracks = Sequence[npt.ArrayLike]

#: ACTS track classifications (``TrackMatchClassification``; UNCLASSIFIED: no entry).
MATCHED, DUPLICATE, FAKE, UNCLASSIFIED = 0, 1, 2, 3


@dataclass
class TrackMatching:
    """Truth matching of one event's tracks. T tracks, P particles (rows of the particle table).

    Per track: ``n_hits``; ``particle`` (majority particle row, -1: no hit has a particle);
    ``particle_hits`` (its hits on the track); ``double_majority`` (Exa.TrkX/TrackML match
    with ``particle``); ``acts`` (ACTS classification: MATCHED, DUPLICATE, FAKE, UNCLASSIFIED).
    Per particle (every particle, selected or not): ``particle_n_hits``; ``selected``;
    ``n_acts_matched`` (matched + duplicate tracks); ``n_acts_fake`` (fake tracks with this
    majority particle); ``exatrkx_matched``.
    """

    n_hits: npt.NDArray[np.int64]
    particle: npt.NDArray[np.int64]
    particle_hits: npt.NDArray[np.int64]
    double_majority: npt.NDArray[np.bool_]
    acts: npt.NDArray[np.int8]
    particle_n_hits: npt.NDArray[np.int64]
    selected: npt.NDArray[np.bool_]
    n_acts_matched: npt.NDArray[np.int64]
    n_acts_fake: npt.NDArray[np.int64]
    exatrkx_matched: npt.NDArray[np.bool_]


def _flatten(tracks: Tracks, n_hits: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(track index, hit row) of every entry of every track."""
    arrays = [np.asarray(t, dtype=np.int64).reshape(-1) for t in tracks]
    rows = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    which = np.repeat(np.arange(len(arrays)), [len(a) for a in arrays])
    if len(rows) and (rows.min() < 0 or rows.max() >= n_hits):
        raise ValueError(f"tracks hold hit rows outside [0, {n_hits})")
    return which, rows


def match_tracks(
    event: Event,
    tracks: Tracks,
    selection: ParticleSelection | None = None,
    matchingRatio: float = 0.5,
    doubleMatching: bool = True,
    shared: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> TrackMatching:
    """Match tracks (sequences of hit rows) to the event's particles; see the module docstring.

    The ACTS classification (``acts``) uses every particle of the event, as ACTS's matcher
    does when given all particles; ``selection`` only fills ``selected`` (the particles the
    efficiency counts). ``shared``: (hit rows, particle rows) [S] of the further particles of
    hits made by several particles (the hit table holds the first); each counts for the track
    and the particle's hits as the first does."""
    selection = selection or ParticleSelection()
    n_tracks, n_particles = len(tracks), event.n_particles
    which, rows = _flatten(tracks, event.n_hits)
    hit_pid = event.hits["particle_id"]
    particle_n_hits = np.bincount(hit_pid[hit_pid >= 0], minlength=n_particles).astype(np.int64)
    n_hits = np.bincount(which, minlength=n_tracks).astype(np.int64)

    # (track, particle) hit counts; majority = most hits
    pid = hit_pid[rows]
    truth = pid >= 0
    # entry position along the track, doubled: walking back from the track's end, a
    # measurement's first particle is met before its further ones (``shared``), as upstream
    # counts them in the map's order
    pair_which, pair_pid_all, position = which[truth], pid[truth], 2 * np.flatnonzero(truth) + 1
    shared_rows, shared_pid = (
        (np.asarray(a, dtype=np.int64).reshape(-1) for a in shared)
        if shared is not None
        else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )
    if len(shared_rows):
        particle_n_hits += np.bincount(shared_pid, minlength=n_particles)
        by_row: dict[int, list[int]] = {}
        for r, q in zip(shared_rows.tolist(), shared_pid.tolist(), strict=True):
            by_row.setdefault(r, []).append(q)
        entries = [
            (which[k], q, 2 * k)
            for k in np.flatnonzero(np.isin(rows, shared_rows)).tolist()
            for q in by_row[int(rows[k])]
        ]
        if entries:
            e = np.asarray(entries, dtype=np.int64)
            pair_which = np.concatenate([pair_which, e[:, 0]])
            pair_pid_all = np.concatenate([pair_pid_all, e[:, 1]])
            position = np.concatenate([position, e[:, 2]])
    keys, inverse, counts = np.unique(
        pair_which * (n_particles + 1) + pair_pid_all, return_inverse=True, return_counts=True
    )
    pair_track, pair_pid = keys // (n_particles + 1), keys % (n_particles + 1)
    # ties go to the particle met first walking the track from its end (upstream counts
    # particles from the last track state backwards and sorts stably by count)
    last = np.full(len(keys), -1, dtype=np.int64)
    np.maximum.at(last, inverse.reshape(-1), position)
    order = np.lexsort((-last, -counts, pair_track))
    first = order[np.unique(pair_track[order], return_index=True)[1]]
    particle = np.full(n_tracks, -1, dtype=np.int64)
    particle_hits = np.zeros(n_tracks, dtype=np.int64)
    particle[pair_track[first]] = pair_pid[first]
    particle_hits[pair_track[first]] = counts[first]

    has = particle >= 0
    p_hits = np.where(has, particle_n_hits[np.maximum(particle, 0)], 1)
    double_majority = has & (2 * particle_hits > n_hits) & (2 * particle_hits > p_hits)

    # the measurement count of the selection includes the shared measurements, as ACTS's
    # ParticleSelector counts the particle -> measurements map (the hit table's
    # ``n_measurements`` holds the first particle of each measurement only)
    selected = replace(selection, min_hits=0).particle_mask(event)
    selected &= particle_n_hits >= selection.min_hits
    classified = has  # every particle: fakes and duplicates of unselected particles count
    with np.errstate(invalid="ignore", divide="ignore"):
        reco_ok = particle_hits / np.maximum(n_hits, 1) >= matchingRatio
        truth_ok = particle_hits / p_hits >= matchingRatio
    matched = classified & reco_ok & (truth_ok if doubleMatching else True)
    acts = np.full(n_tracks, UNCLASSIFIED, dtype=np.int8)
    acts[classified] = FAKE
    acts[matched] = DUPLICATE
    # per particle, the first of its matched tracks with the most hits stays MATCHED
    m = np.flatnonzero(matched)
    best = m[np.lexsort((m, -n_hits[m], particle[m]))]
    acts[best[np.unique(particle[best], return_index=True)[1]]] = MATCHED

    n_acts_matched = np.bincount(particle[matched], minlength=n_particles).astype(np.int64)
    fake = acts == FAKE
    n_acts_fake = np.bincount(particle[fake], minlength=n_particles).astype(np.int64)
    exatrkx_matched = np.zeros(n_particles, dtype=bool)
    exatrkx_matched[particle[double_majority]] = True
    return TrackMatching(
        n_hits=n_hits,
        particle=particle,
        particle_hits=particle_hits,
        double_majority=double_majority,
        acts=acts,
        particle_n_hits=particle_n_hits,
        selected=selected,
        n_acts_matched=n_acts_matched,
        n_acts_fake=n_acts_fake,
        exatrkx_matched=exatrkx_matched,
    )


# -- TrackML score -------------------------------------------------------------------------

_ORDER_PROFILE = np.array([10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0])
_ORDER_MIN_HITS, _ORDER_MAX_HITS = 4, 20


def _order_weight_table() -> npt.NDArray[np.float64]:
    """table[n, i]: order weight of the i-th hit of a particle with n hits (n <= 20)."""
    table = np.zeros((_ORDER_MAX_HITS + 1, _ORDER_MAX_HITS))
    for n in range(_ORDER_MIN_HITS, _ORDER_MAX_HITS + 1):
        # the profile's nodes spread evenly over the hit indices 0 .. n-1
        nodes = np.linspace(0.0, n - 1, len(_ORDER_PROFILE))
        w = np.interp(np.arange(n), nodes, _ORDER_PROFILE)
        table[n, :n] = w / w.sum()
    return table


_ORDER_TABLE = _order_weight_table()


def trackml_pt_weight(pt: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The TrackML pT weight: 0.2 up to 0.5 GeV, linear to 1 at 3 GeV; 0 below 0.05 GeV."""
    return np.interp(np.asarray(pt, float), [0.05, 0.5, 3.0], [0.2, 0.2, 1.0], left=0.0, right=1.0)


def trackml_weights(event: Event, order: str = "distance") -> npt.NDArray[np.float64]:
    """Per-hit TrackML weights (float64 [N], sum 1 unless every weight is 0; noise: 0).

    order: ``"distance"`` ranks a particle's hits by 3D distance from its production vertex,
    ``"dz"`` by |z - vz| (the reference library).
    """
    pid = event.hits["particle_id"]
    rows = np.flatnonzero(pid >= 0)
    p = event.particles
    hp = pid[rows]
    if order == "distance":
        vertex = np.stack([p["vx"], p["vy"], p["vz"]], axis=1).astype(np.float64)[hp]
        key = np.linalg.norm(event.positions()[rows] - vertex, axis=1)
    elif order == "dz":
        key = np.abs(event.hits["z"][rows].astype(np.float64) - p["vz"][hp])
    else:
        raise ValueError(f"order must be 'distance' or 'dz', got {order!r}")
    sort = np.lexsort((key, hp))
    n = np.bincount(hp, minlength=event.n_particles)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    rank = np.empty(len(rows), dtype=np.int64)
    rank[sort] = np.arange(len(rows)) - start[hp[sort]]
    n_hits = np.minimum(n[hp], _ORDER_MAX_HITS)
    in_table = rank < _ORDER_MAX_HITS
    w_order = np.where(in_table, _ORDER_TABLE[n_hits, np.minimum(rank, _ORDER_MAX_HITS - 1)], 0.0)
    weights = np.zeros(event.n_hits)
    weights[rows] = w_order * trackml_pt_weight(p["pt"][hp])
    total = weights.sum()
    return weights / total if total > 0 else weights


def trackml_score(
    event: Event,
    tracks: Tracks,
    weights: npt.NDArray[np.float64] | None = None,
    matching: TrackMatching | None = None,
) -> float:
    """The TrackML score of one event (module docstring); tracks must not share hits."""
    which, rows = _flatten(tracks, event.n_hits)
    if len(np.unique(rows)) != len(rows):
        raise ValueError(
            "the TrackML score needs tracks that share no hit "
            "(use TrackMetrics.add(..., trackml=False) for overlapping tracks)"
        )
    weights = trackml_weights(event) if weights is None else weights
    matching = matching or match_tracks(event, tracks)
    good = matching.double_majority[which]
    mine = event.hits["particle_id"][rows] == matching.particle[which]
    return float(weights[rows[good & mine]].sum())


# -- accumulation over events --------------------------------------------------------------

_PARTICLE_VARS = ("pt", "eta", "phi")


@dataclass
class TrackMetrics:
    """Track metrics summed over events (module docstring for the definitions).

    ``add(event, tracks)`` per event; then the properties, :meth:`summary`,
    :meth:`acts_stats`, and the histograms :meth:`efficiency_hist` / :meth:`fake_hist`.
    """

    selection: ParticleSelection = field(default_factory=ParticleSelection)
    matchingRatio: float = 0.5
    doubleMatching: bool = True
    reconstructable_hits: int = 5
    events: int = 0
    trackml_scores: list[float] = field(default_factory=list)
    # per selected particle: pt, eta, phi, n_hits, reconstructable, acts matched, exatrkx matched
    particles: dict[str, list[npt.NDArray]] = field(default_factory=dict, repr=False)
    # per track: n_hits, acts class, exatrkx matched, majority particle pt, eta, phi (NaN: none)
    tracks: dict[str, list[npt.NDArray]] = field(default_factory=dict, repr=False)
    counts: dict[str, int] = field(default_factory=dict)
    # sums of completeness and purity over the matched tracks of selected particles
    sums: dict[str, float] = field(default_factory=dict)

    def add(
        self,
        event: Event,
        tracks: Tracks,
        trackml: bool = True,
        shared: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    ) -> TrackMatching:
        """Add one event's tracks (hit rows); returns its matching (``shared``: see
        :func:`match_tracks`)."""
        m = match_tracks(
            event, tracks, self.selection, self.matchingRatio, self.doubleMatching, shared
        )
        sel = m.selected
        p = event.particles
        reco = m.particle_n_hits >= self.reconstructable_hits
        for name, values in {
            "pt": p["pt"],
            "eta": p["eta"],
            "phi": p["phi"],
            "vr": np.hypot(p["vx"], p["vy"]),  # production radius [mm]
            "n_hits": m.particle_n_hits,
            "reconstructable": reco,
            "acts": m.n_acts_matched > 0,
            "exatrkx": m.exatrkx_matched,
        }.items():
            self.particles.setdefault(name, []).append(np.asarray(values)[sel])
        has = m.particle >= 0
        exa_track = m.double_majority & sel[np.maximum(m.particle, 0)]
        per_track = {"n_hits": m.n_hits, "acts": m.acts, "exatrkx": exa_track}
        for name, column in per_track.items():
            self.tracks.setdefault(name, []).append(np.asarray(column))
        for var in _PARTICLE_VARS:
            v = np.where(has, p[var][np.maximum(m.particle, 0)].astype(np.float64), np.nan)
            self.tracks.setdefault(var, []).append(v)
        c = self.counts
        good = ((m.acts == MATCHED) | (m.acts == DUPLICATE)) & sel[np.maximum(m.particle, 0)]
        with np.errstate(invalid="ignore", divide="ignore"):
            completeness = m.particle_hits[good] / m.particle_n_hits[m.particle[good]]
            purity = m.particle_hits[good] / m.n_hits[good]
        self.sums["sumCompleteness"] = self.sums.get("sumCompleteness", 0.0) + float(
            completeness.sum()
        )
        self.sums["sumPurity"] = self.sums.get("sumPurity", 0.0) + float(purity.sum())
        stats = {
            "nTotalTracks": len(m.n_hits),
            "nTotalUnmatchedTracks": int((m.acts == UNCLASSIFIED).sum()),
            "nTotalQualityTracks": int(good.sum()),
            "nTotalMatchedTracks": int(m.n_acts_matched[sel].sum()),
            "nTotalFakeTracks": int((m.acts == FAKE).sum()),
            "nTotalDuplicateTracks": int((m.acts == DUPLICATE).sum()),
            "nTotalParticles": int(sel.sum()),
            "nTotalMatchedParticles": int((sel & (m.n_acts_matched > 0)).sum()),
            "nTotalDuplicateParticles": int((sel & (m.n_acts_matched > 1)).sum()),
            "nTotalFakeParticles": int((sel & (m.n_acts_fake > 0)).sum()),
            "exatrkx_selected": int(sel.sum()),
            "exatrkx_matched": int((sel & m.exatrkx_matched).sum()),
            "exatrkx_reconstructable": int((sel & reco).sum()),
            "exatrkx_reconstructable_matched": int((sel & reco & m.exatrkx_matched).sum()),
            "exatrkx_tracks_matched": int(exa_track.sum()),
            "exatrkx_tracks_matched_any": int(m.double_majority.sum()),
        }
        for key, value in stats.items():
            c[key] = c.get(key, 0) + value
        if trackml:
            self.trackml_scores.append(trackml_score(event, tracks, matching=m))
        self.events += 1
        return m

    def _ratio(self, num: str, den: str) -> float:
        d = self.counts.get(den, 0)
        return self.counts.get(num, 0) / d if d else float("nan")

    @property
    def physics_efficiency(self) -> float:
        """Exa.TrkX: selected particles matched / selected particles."""
        return self._ratio("exatrkx_matched", "exatrkx_selected")

    @property
    def technical_efficiency(self) -> float:
        """Exa.TrkX: selected reconstructable particles matched / selected reconstructable."""
        return self._ratio("exatrkx_reconstructable_matched", "exatrkx_reconstructable")

    @property
    def purity(self) -> float:
        """Exa.TrkX: tracks matching a selected particle / all tracks."""
        return self._ratio("exatrkx_tracks_matched", "nTotalTracks")

    @property
    def efficiency(self) -> float:
        """ACTS: selected particles with a matched track / selected particles."""
        return self._ratio("nTotalMatchedParticles", "nTotalParticles")

    @property
    def fake_ratio(self) -> float:
        """ACTS: fake tracks / all tracks."""
        return self._ratio("nTotalFakeTracks", "nTotalTracks")

    @property
    def duplicate_ratio(self) -> float:
        """ACTS: duplicate tracks / all tracks."""
        return self._ratio("nTotalDuplicateTracks", "nTotalTracks")

    @property
    def trackml_score(self) -> float:
        """Mean TrackML score over the events."""
        return float(np.mean(self.trackml_scores)) if self.trackml_scores else float("nan")

    def acts_stats(self) -> dict[str, float]:
        """ACTS ``PatternRecognitionPerformanceCollector::Stats`` counters and ratios."""
        keys = [k for k in self.counts if k.startswith("nTotal")]
        out: dict[str, float] = {k: self.counts[k] for k in keys}
        out["efficiency"] = self.efficiency
        out["fakeRatio"] = self.fake_ratio
        out["duplicateRatio"] = self.duplicate_ratio
        out["efficiencyTracks"] = self._ratio("nTotalMatchedTracks", "nTotalTracks")
        out["fakeRatioParticles"] = self._ratio("nTotalFakeParticles", "nTotalParticles")
        out["duplicateRatioParticles"] = self._ratio("nTotalDuplicateParticles", "nTotalParticles")
        out["meanCompleteness"] = self.mean_completeness
        out["meanPurity"] = self.mean_purity
        return out

    @property
    def mean_completeness(self) -> float:
        """ACTS: mean over matched + duplicate tracks of selected particles of majority hits /
        particle hits."""
        n = self.counts.get("nTotalQualityTracks", 0)
        return self.sums.get("sumCompleteness", 0.0) / n if n else float("nan")

    @property
    def mean_purity(self) -> float:
        """ACTS: mean over matched + duplicate tracks of selected particles of majority hits /
        track hits."""
        n = self.counts.get("nTotalQualityTracks", 0)
        return self.sums.get("sumPurity", 0.0) / n if n else float("nan")

    def summary(self) -> dict[str, float]:
        """Every headline number, each named after its definition."""
        return {
            "Exa.TrkX physics efficiency": self.physics_efficiency,
            "Exa.TrkX technical efficiency": self.technical_efficiency,
            "Exa.TrkX purity": self.purity,
            "ACTS efficiency": self.efficiency,
            "ACTS fake ratio": self.fake_ratio,
            "ACTS duplicate ratio": self.duplicate_ratio,
            "TrackML score": self.trackml_score,
            "tracks per event": self.counts.get("nTotalTracks", 0) / max(self.events, 1),
        }

    def _column(self, table: dict[str, list[npt.NDArray]], name: str) -> npt.NDArray:
        values = table.get(name, [])
        return np.concatenate(values) if values else np.zeros(0)

    def efficiency_hist(self, variable: str, definition: str = "acts", axis: Any = None) -> Any:
        """Histogram (``hist.Hist``) of selected particles vs ``variable`` (pt, eta, phi,
        n_hits) and a boolean ``matched`` axis; efficiency = h[:, True] / h.project(0).

        definition: ``"acts"``, ``"physics"`` (Exa.TrkX) or ``"technical"`` (Exa.TrkX, only
        reconstructable particles).
        """
        import hist

        flag = {"acts": "acts", "physics": "exatrkx", "technical": "exatrkx"}.get(definition)
        if flag is None:
            raise ValueError(f"definition must be acts, physics or technical, not {definition!r}")
        values = self._column(self.particles, variable)
        passed = self._column(self.particles, flag).astype(bool)
        if definition == "technical":
            keep = self._column(self.particles, "reconstructable").astype(bool)
            values, passed = values[keep], passed[keep]
        h: Any = hist.Hist(
            default_axis(variable) if axis is None else axis, hist.axis.Boolean(name="matched")
        )
        h.fill(values, passed)
        return h

    def histograms(self) -> dict[str, dict[str, list[float]]]:
        """The binned ratios of the comparison report (:func:`default_axis` binning), each
        ``{"edges", "accepted", "total"}``: ``efficiency_vs_<pt|eta|phi|vr>`` over the
        selected particles (production radius ``vr`` [mm]); ``fake_ratio_vs_<pt|eta>`` and
        ``duplicate_ratio_vs_<pt|eta>`` over the tracks with a majority particle, binned in
        that particle's pT / eta (ACTS FAKE / DUPLICATE)."""
        out: dict[str, dict[str, list[float]]] = {}
        hists = {f"efficiency_vs_{v}": self.efficiency_hist(v) for v in ("pt", "eta", "phi", "vr")}
        for v in ("pt", "eta"):
            hists[f"fake_ratio_vs_{v}"] = self.fake_hist(v)
            hists[f"duplicate_ratio_vs_{v}"] = self.fake_hist(v, "duplicate")
        for key, h in hists.items():
            values = h.values()
            out[key] = {
                "edges": h.axes[0].edges.tolist(),
                "accepted": values[:, 1].tolist(),
                "total": values.sum(axis=1).tolist(),
            }
        return out

    def fake_hist(self, variable: str, definition: str = "acts", axis: Any = None) -> Any:
        """Histogram (``hist.Hist``) of tracks vs ``variable`` and a boolean ``fake`` axis.

        variable: ``n_hits`` (the track's hits; all tracks) or pt, eta, phi of the track's
        majority particle (tracks with one; proto tracks have no fitted parameters).
        definition: ``"acts"`` (ACTS FAKE), ``"duplicate"`` (ACTS DUPLICATE: the ``fake``
        axis then flags duplicates) or ``"exatrkx"`` (no match to a selected particle, i.e.
        1 - purity).
        """
        import hist

        values = self._column(self.tracks, variable).astype(np.float64)
        if definition == "acts":
            fake = self._column(self.tracks, "acts") == FAKE
        elif definition == "duplicate":
            fake = self._column(self.tracks, "acts") == DUPLICATE
        elif definition == "exatrkx":
            fake = ~self._column(self.tracks, "exatrkx").astype(bool)
        else:
            raise ValueError(f"definition must be acts, duplicate or exatrkx, not {definition!r}")
        keep = ~np.isnan(values)
        h: Any = hist.Hist(
            default_axis(variable) if axis is None else axis, hist.axis.Boolean(name="fake")
        )
        h.fill(values[keep], fake[keep])
        return h


def default_axis(variable: str) -> Any:
    """The default binning of ``variable`` (pt [GeV], eta, phi [rad], n_hits, production
    radius vr [mm])."""
    import hist

    axes = {
        "pt": hist.axis.Variable(
            [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0],
            name="pt",
            label=r"$p_\mathrm{T}$ [GeV]",
        ),
        "eta": hist.axis.Regular(32, -4.0, 4.0, name="eta", label=r"$\eta$"),
        "phi": hist.axis.Regular(24, -np.pi, np.pi, name="phi", label=r"$\phi$ [rad]"),
        "n_hits": hist.axis.Regular(25, -0.5, 24.5, name="n_hits", label="hits"),
        "vr": hist.axis.Variable(
            [0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0],
            name="vr",
            label="production radius [mm]",
        ),
    }
    if variable not in axes:
        raise ValueError(f"no default axis for {variable!r}: use one of {sorted(axes)}")
    return axes[variable]


def ratio_with_errors(h: Any) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray, npt.NDArray]:
    """(bin edges, ratio, lower error, upper error) of a [variable, Boolean] histogram.

    The ratio is passed / all per bin; errors are 68% Clopper-Pearson intervals.
    """
    from scipy.stats import beta

    passed = h.values()[:, 1]
    total = passed + h.values()[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = passed / total
    low = np.where(passed > 0, beta.ppf(0.16, passed, total - passed + 1), 0.0)
    high = np.where(passed < total, beta.ppf(0.84, passed + 1, total - passed), 1.0)
    empty = total == 0
    low[empty] = high[empty] = np.nan
    return h.axes[0].edges, ratio, ratio - low, high - ratio


__all__ = [
    "DUPLICATE",
    "FAKE",
    "MATCHED",
    "UNCLASSIFIED",
    "ParticleSelection",
    "TrackMatching",
    "TrackMetrics",
    "default_axis",
    "match_tracks",
    "ratio_with_errors",
    "trackml_pt_weight",
    "trackml_score",
    "trackml_weights",
]

"""Track cleaning: removing the hits of a track candidate that do not lie on its helix.

A wrong hit among a candidate's innermost hits does the most harm: ACTS's
``ProtoTracksToParameters`` (our fitting chain's start, :mod:`acts_gnn.sequencer.fitting`)
seeds the Kalman fit from the candidate's space points nearest the beam line, so one wrong
hit there gives wrong start parameters and the fit fails or follows another particle. At the
``lowpt`` operating point about 17 % of the pT > 0.5 GeV candidates carry a wrong hit, 14 %
among their three innermost (docs/results.md, "Track cleaning").

:class:`HelixOutlierRemoval` checks every hit against a helix fitted to the candidate's other
hits, leaving each out in turn (the C++ core, :func:`acts_gnn._core.helix_outliers`): a circle
in the transverse plane (Kåsa's algebraic fit) and a straight line in (transverse arc length,
z). The hit whose removal leaves the most consistent others (the least sum of their squared
distances from their own circle and line, over the tolerances in mm) is removed if its own
distance from them exceeds a tolerance; then the fits are redone, at most ``maxRemoved``
hits per candidate and never below ``minKept`` hits. The longitudinal distance is measured
perpendicular to the line, so endcap hits (z known, r not) and barrel hits (r known, z not)
are treated alike.

:class:`CleanedTrackBuilding` puts it behind any track builder of :mod:`acts_gnn.chain.tracks`
and is called as they are, so the pipeline, the Sequencer algorithm and the extra edge cuts
(:mod:`acts_gnn.sequencer.gnn_cuts`) take it unchanged. Upstream ACTS's GNN plugin has no such
stage; ACTS's CKF gets the same protection from its seed filter and its per-measurement chi2
cut.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.chain.tracks import Candidates


@dataclass
class HelixOutlierRemoval:
    """Removes each candidate's hits that lie off the helix of its other hits (module
    docstring).

    tolTransverse: mm, the largest distance of a hit from the circle of the others;
    tolLongitudinal: mm, the largest distance from their (arc length, z) line; maxRemoved: the
    most hits removed from one candidate; minKept: never fewer hits left (at least 4, the
    fewest a left-out circle can be judged with); nThreads: C++ threads over candidates.
    Over its calls (one per event), :attr:`calls`, :attr:`removed` (hits removed),
    :attr:`cleaned` (candidates changed), :attr:`candidates` (candidates seen) and
    :attr:`seconds` (wall time) add up.
    """

    tolTransverse: float = 2.0
    tolLongitudinal: float = 2.0
    maxRemoved: int = 2
    minKept: int = 7
    nThreads: int = 1

    def __post_init__(self) -> None:
        if not (self.tolTransverse > 0 and self.tolLongitudinal > 0):
            raise ValueError(
                f"tolerances must be > 0 mm, got tolTransverse={self.tolTransverse}, "
                f"tolLongitudinal={self.tolLongitudinal}"
            )
        if self.maxRemoved < 0 or self.minKept < 1:
            raise ValueError(
                f"need maxRemoved >= 0 and minKept >= 1, got {self.maxRemoved}, {self.minKept}"
            )
        self.calls = 0
        self.candidates = 0
        self.removed = 0
        self.cleaned = 0
        self.seconds = 0.0

    def add(self, other: HelixOutlierRemoval) -> None:
        """Adds ``other``'s sums (calls, candidates, cleaned, removed, seconds) to these: one
        cleaner's record of the events of both."""
        for name in ("calls", "candidates", "cleaned", "removed", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, float]:
        """Per event (mean over the calls): candidates seen, candidates changed, hits removed,
        seconds; and the settings."""
        per = 1.0 / max(self.calls, 1)
        return {
            "events": self.calls,
            "candidates_per_event": self.candidates * per,
            "cleaned_per_event": self.cleaned * per,
            "hits_removed_per_event": self.removed * per,
            "seconds_per_event": self.seconds * per,
            **{k: getattr(self, k) for k in SETTINGS},
        }

    def keep_masks(
        self, candidates: Sequence[npt.ArrayLike], positions: npt.ArrayLike
    ) -> list[npt.NDArray[np.bool_]]:
        """Per candidate (int64 hit rows into ``positions`` [N, 3], mm), a bool mask of the
        hits it keeps, in the candidate's order. ValueError for a row with a non-finite
        position, IndexError for a row outside ``positions``."""
        pos = np.asarray(positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3:
            raise ValueError(f"positions must have shape [N, 3], got {pos.shape}")
        start = time.perf_counter()
        self.calls += 1
        arrays = [np.asarray(c, dtype=np.int64) for c in candidates]
        if not arrays:
            return []
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        keep = _core.helix_outliers(
            np.ascontiguousarray(pos[:, 0]),
            np.ascontiguousarray(pos[:, 1]),
            np.ascontiguousarray(pos[:, 2]),
            offsets,
            np.concatenate(arrays),
            self.tolTransverse,
            self.tolLongitudinal,
            self.maxRemoved,
            self.minKept,
            self.nThreads,
        )
        masks = np.split(keep, offsets[1:-1])
        self.candidates += len(arrays)
        self.removed += int(len(keep) - keep.sum())
        self.cleaned += int(sum(not m.all() for m in masks))
        self.seconds += time.perf_counter() - start
        return masks

    def __call__(self, candidates: Sequence[npt.ArrayLike], positions: npt.ArrayLike) -> Candidates:
        """The candidates (int64 hit rows into ``positions`` [N, 3], mm) without their
        outliers, in the same order."""
        masks = self.keep_masks(candidates, positions)
        return [np.asarray(c, dtype=np.int64)[m] for c, m in zip(candidates, masks, strict=True)]


#: the settings of :class:`HelixOutlierRemoval` (its dataclass fields)
SETTINGS = tuple(f.name for f in fields(HelixOutlierRemoval))


def chain_cleaner(builder: Any) -> HelixOutlierRemoval | None:
    """The cleaner of a pipeline's track builder (of its first builder if it builds at
    several cuts, :class:`~acts_gnn.sequencer.gnn_cuts.MultiCutTrackBuilding`); None if it
    does not clean."""
    builders = getattr(builder, "builders", None)
    first = builders[0] if builders else builder
    return first.cleaner if isinstance(first, CleanedTrackBuilding) else None


class CleanedTrackBuilding:
    """A track builder followed by a cleaner (:class:`HelixOutlierRemoval`), called as the
    builders of :mod:`acts_gnn.chain.tracks` are; it needs the hit ``positions``.

    ``minMeasurementsPerTrack`` is the builder's; :mod:`acts_gnn.sequencer.gnn_cuts` reads and
    sets the edge-score cut of :attr:`builder`.
    """

    def __init__(self, builder: Any, cleaner: HelixOutlierRemoval) -> None:
        self.builder = builder
        self.cleaner = cleaner

    @property
    def minMeasurementsPerTrack(self) -> int:
        return int(self.builder.minMeasurementsPerTrack)

    @minMeasurementsPerTrack.setter
    def minMeasurementsPerTrack(self, value: int) -> None:
        self.builder.minMeasurementsPerTrack = int(value)

    def __call__(
        self,
        edge_index: Any,
        scores: Any = None,
        n_nodes: int | None = None,
        *,
        spacePointIds: Any = None,
        positions: Any = None,
    ) -> Candidates:
        """The builder's candidates, cleaned (arguments and result as the builders'; the
        cleaner works on hit rows, then rows become ``spacePointIds``)."""
        if positions is None:
            raise ValueError("track cleaning needs the hits' positions [N, 3] (mm)")
        rows = self.builder(edge_index, scores, n_nodes, positions=positions)
        cleaned = self.cleaner(rows, positions)
        if spacePointIds is None:
            return cleaned
        ids = np.asarray(spacePointIds, dtype=np.int64)
        return [ids[c] for c in cleaned]

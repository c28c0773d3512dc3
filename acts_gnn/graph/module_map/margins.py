"""Range margins: widening each module triplet's cut ranges by what its few samples miss.

A map stores, per module triplet, the [min, max] of each cut quantity over the ``n`` truth
triplets it saw. For ``n`` samples of a quantity spread evenly over a true interval of width
``W``, the sample range covers on average ``W (n - 1) / (n + 1)`` of it, so the span
estimated from the samples is ``w (n + 1) / (n - 1)``: each side extended by ``w / (n - 1)``
(``w`` the stored width). :func:`widen_ranges` extends each side by ``margin * w / (n - 1)``:
``margin = 1`` is that correction, larger margins cover tails as well. Triplets seen many
times keep their ranges (the extension falls as 1 / n); triplets seen once have no width and
are left as they are.

Where the map is statistics-limited (low-pT maps, whose module triplets are many and each seen
rarely: docs/module-map.md, "Range margins"), most of the truth triplets it misses fall
outside the ranges of a triplet it knows, not on an unknown triplet, and the margin recovers
them for far fewer extra edges than the events it would take otherwise.

A widened map is for graph building only: its ranges are no longer sample ranges, so merging
it (:class:`~acts_gnn.graph.module_map.builder.ModuleMapBuilder.add_map`) or widening it again
is refused. Widen the merged map of raw maps instead.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from acts_gnn.graph.module_map.map import ModuleMap

#: The metadata key that marks a widened map (its value: the margin).
RANGE_MARGIN_KEY = "range_margin"


def widen_ranges(module_map: ModuleMap, margin: float) -> ModuleMap:
    """A copy of ``module_map`` whose ranges are extended on each side by
    ``margin * width / (occurrence - 1)`` (triplets seen once unchanged); ``margin`` >= 0,
    recorded in the metadata as ``range_margin``."""
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"the range margin must be a finite number >= 0, got {margin}")
    if RANGE_MARGIN_KEY in module_map.metadata:
        raise ValueError(
            f"this map is already widened (range_margin {module_map.metadata[RANGE_MARGIN_KEY]}): "
            "widen the raw map"
        )
    seen = module_map.occurrence.astype(np.float64)
    scale = np.where(seen > 1, margin / np.maximum(seen - 1, 1), 0.0)

    def widened(ranges: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lo, hi = ranges[..., 0], ranges[..., 1]
        extra = (hi - lo) * scale.reshape((-1,) + (1,) * (lo.ndim - 1))
        return np.stack([lo - extra, hi + extra], axis=-1)

    return ModuleMap(
        module_map.modules,
        module_map.triplets,
        module_map.occurrence,
        widened(module_map.cuts12),
        widened(module_map.cuts23),
        widened(module_map.diff_dzdr),
        widened(module_map.diff_dydx),
        dict(module_map.metadata, **{RANGE_MARGIN_KEY: float(margin)}),
    )


__all__ = ["RANGE_MARGIN_KEY", "widen_ranges"]

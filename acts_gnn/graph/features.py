"""Node and edge features: the one definition used by graph building, training and inference.

Node features (each divided by its *scale*, the upstream ACTS ``featureScales`` convention:
``r`` with scale 1000 enters a network as r / 1000 mm) come from one of two places:

* :func:`node_feature_matrix` computes them from hit positions [N, 3] (mm), with
  :data:`NODE_FEATURE_FUNCTIONS` (x, y, z, r, phi, eta, theta): what the tracking chain has at
  inference time (space points, no hit table);
* :func:`node_features` reads them from the columns of a prepared event's hit table
  (:data:`acts_gnn.event.HIT_COLUMNS`): what training and evaluation have. The hit table
  stores x, y, z, r, phi and eta as float32, computed in float64 from the same positions
  (:func:`acts_gnn.io.acts_edm.hit_columns`), so for these six names the two functions agree
  to float32 rounding of the stored column (the chain divides the float64 value, training the
  float32 one). Only the hit table has the local coordinates (loc0, loc1, var_loc0, var_loc1),
  only the positions give theta.

Both divide and stack with one helper, then return float32; the chain divides its float64
position features, training the hit-table columns converted to float64.

Edge features are the six columns of :data:`EDGE_FEATURES` (mm, rad, 1/mm) of
:func:`edge_features`, from the C++ core's doublet features; a model's ``edge_features``
metadata names the columns it takes, ``edge_feature_scales`` their divisors.

Parity tables (:data:`NODE_FEATURE_PARITY`, :data:`EDGE_FEATURE_PARITY`): the sign each
feature takes under the reflection phi -> -phi (y -> -y): +1 unchanged, -1 sign flip, 0 not
known (a training with phi reflection refuses such a feature).

:func:`select_and_scale` is the column selection and scaling of the upstream edge-classifier
and metric-learning stages (``selectedFeatures`` / ``featureScales`` and their edge twins).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from acts_gnn import _core
from acts_gnn.errors import InputDataError

if TYPE_CHECKING:
    import torch

    from acts_gnn.event import Event

# ---------------------------------------------------------------------------------------------
# node features
# ---------------------------------------------------------------------------------------------

#: Node features computed from the hit positions [N, 3] (units: mm, rad, none).
NODE_FEATURE_FUNCTIONS: dict[str, Callable[[npt.NDArray[np.float64]], npt.NDArray]] = {
    "x": lambda p: p[:, 0],
    "y": lambda p: p[:, 1],
    "z": lambda p: p[:, 2],
    "r": lambda p: np.hypot(p[:, 0], p[:, 1]),
    "phi": lambda p: np.arctan2(p[:, 1], p[:, 0]),
    "eta": lambda p: np.arcsinh(p[:, 2] / np.maximum(np.hypot(p[:, 0], p[:, 1]), 1e-12)),
    "theta": lambda p: np.arctan2(np.hypot(p[:, 0], p[:, 1]), p[:, 2]),
}

#: Hit-table columns that can be node features (training), and their sign under phi -> -phi.
NODE_FEATURE_PARITY: dict[str, int] = {
    "x": 1,
    "y": -1,
    "z": 1,
    "r": 1,
    "phi": -1,
    "eta": 1,
    "loc0": 0,
    "loc1": 0,
    "var_loc0": 1,
    "var_loc1": 1,
}


def _scaled_columns(
    columns: Sequence[npt.NDArray[np.floating]], scales: Sequence[float], n_rows: int
) -> npt.NDArray[np.floating]:
    """[n_rows, F]: column k ([n_rows], divided in its own dtype) divided by ``scales[k]``;
    [n_rows, 0] when there are no columns."""
    if not columns:
        return np.zeros((n_rows, 0), np.float64)
    return np.stack([c / s for c, s in zip(columns, scales)], axis=1)


def node_feature_matrix(
    positions: npt.NDArray[np.float64], names: Sequence[str], scales: Sequence[float]
) -> npt.NDArray[np.float32]:
    """Node features [N, F] float32: ``names`` (keys of :data:`NODE_FEATURE_FUNCTIONS`) of the
    hits at ``positions`` [N, 3] (mm), each divided by its scale."""
    if len(names) != len(scales):
        raise ValueError(f"{len(names)} node features but {len(scales)} feature scales")
    unknown = [n for n in names if n not in NODE_FEATURE_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown node features {unknown}; known: {list(NODE_FEATURE_FUNCTIONS)}")
    if any(s == 0 for s in scales):
        raise ValueError("featureScales contains zero: division by zero")
    columns = [NODE_FEATURE_FUNCTIONS[n](positions) for n in names]
    return _scaled_columns(columns, scales, len(positions)).astype(np.float32)


def node_features(
    event: Event, names: Sequence[str], scales: Sequence[float]
) -> npt.NDArray[np.float32]:
    """Node features [N, F] float32: the hit-table columns ``names`` of ``event`` divided by
    ``scales``; :class:`~acts_gnn.errors.InputDataError` for a missing column or a
    non-finite value."""
    for name in names:
        if name not in event.hits:
            raise InputDataError(
                "node feature is not a hit-table column", event=event.event_id, field=name
            )
    columns = [event.hits[n].astype(np.float64) for n in names]
    x = _scaled_columns(columns, scales, event.n_hits)
    if not np.all(np.isfinite(x)):
        bad = names[int(np.flatnonzero(~np.isfinite(x).all(axis=0))[0])]
        raise InputDataError("non-finite node feature", event=event.event_id, field=bad)
    return x.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# edge features
# ---------------------------------------------------------------------------------------------

#: The raw edge features, in column order, of :func:`edge_features` (mm, rad, 1/mm): the first
#: six columns of ``_core.doublet_features``.
EDGE_FEATURES = ("dr", "dphi", "dz", "deta", "phi_slope", "rphi_slope")

#: Edge features (:data:`EDGE_FEATURES`) and their sign under phi -> -phi.
EDGE_FEATURE_PARITY: dict[str, int] = {
    "dr": 1,
    "dphi": -1,
    "dz": 1,
    "deta": 1,
    "phi_slope": -1,
    "rphi_slope": -1,
}


def edge_features(
    positions: npt.NDArray[np.float64], edge_index: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """The standard edge features [E, 6] (EDGE_FEATURES: mm, rad, 1/mm) of ``edge_index``
    [2, E] (rows of ``positions`` [N, 3], mm)."""
    x, y, z = (np.ascontiguousarray(positions[:, k], dtype=np.float64) for k in range(3))
    return _core.edge_features(x, y, z, edge_index[0], edge_index[1])


def raw_edge_features(
    event: Event,
    edge_index: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32] | None,
) -> npt.NDArray[np.float32]:
    """The raw edge features [E, 6] of a graph source's output: ``features`` as given, or
    computed from the event's hit positions when the graph (file) carries none."""
    if features is None:
        return edge_features(event.positions(), edge_index)
    return features


# ---------------------------------------------------------------------------------------------
# selection and scaling (inference stages)
# ---------------------------------------------------------------------------------------------


def select_and_scale(
    features: torch.Tensor,
    selected: Sequence[int],
    scales: Sequence[float],
    knobs: tuple[str, str] = ("selectedFeatures", "featureScales"),
) -> torch.Tensor:
    """Columns ``selected`` of ``features`` [N, F] (all if empty), divided by ``scales`` (none
    if empty): the selection and scaling knobs of the upstream stages, named in errors by
    ``knobs``."""
    import torch  # here, so that the feature tables import without torch

    if selected:
        if max(selected) >= features.shape[1] or min(selected) < 0:
            raise ValueError(
                f"{knobs[0]} {list(selected)} outside the {features.shape[1]} features"
            )
        features = features[:, list(selected)]
    if scales:
        if len(scales) != features.shape[1]:
            raise ValueError(f"{knobs[1]} size must match the number of features")
        features = features / torch.tensor(scales, dtype=features.dtype, device=features.device)
    return features.contiguous()

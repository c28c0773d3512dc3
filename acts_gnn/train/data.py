"""GNN training data: one :class:`GraphSample` per event (graph, features, labels, weights).

For every event (a prepared event, or a toy event from :mod:`acts_gnn.train.synthetic`):

* **graph**: edges [2, E] from a graph source (:mod:`acts_gnn.graph.store`: a module map, a
  folder of graph files, or either cached in such a folder), or a toy graph
  (:class:`SyntheticGraphs`);
* **node features** x [N, F]: hit-table columns (``node_features``) divided by
  ``feature_scales`` (e.g. r / 1000 mm, phi / pi, z / 1000 mm, eta;
  :func:`acts_gnn.graph.features.node_features`);
* **edge features** [E, D] (optional): columns of
  :data:`~acts_gnn.graph.features.EDGE_FEATURES` divided by their scales;
* **labels** y [E]: the edge joins consecutive hits of *any* particle
  (:func:`acts_gnn.metrics.edges.edge_truth_mask` with :func:`acts_gnn.graph.truth.truth_graph`);
* **target** [E]: the edge is a truth edge of a particle passing the target selection
  (default pT > 1 GeV, >= 3 hits); **weights** [E] from :func:`acts_gnn.train.weights.edge_weights`
  (optionally times TrackML hit weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from acts_gnn.errors import InputDataError
from acts_gnn.event import Event
from acts_gnn.graph.features import (
    EDGE_FEATURE_PARITY,
    EDGE_FEATURES,
    NODE_FEATURE_PARITY,
    node_features,
    raw_edge_features,
)
from acts_gnn.graph.store import CachedGraphs, GraphSource, ModuleMapGraphs, StoredGraphs
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.metrics.edges import edge_truth_mask
from acts_gnn.train.config import DataConfig, LossConfig, TrainingConfigLike
from acts_gnn.train.weights import edge_weights, target_pt_factors, trackml_hit_weights


@dataclass
class GraphSample:
    """One event's graph as tensors.

    x float32 [N, F] (scaled node features); edge_index int64 [2, E]; edge_attr float32 [E, D]
    or None; y float32 [E] (1: truth edge of any particle); target bool [E] (truth edge of a
    target particle); weight float32 [E] (loss weight); phi float32 [N] (azimuth of each hit
    in rad, for phi-sector training) or None.
    """

    event_id: int
    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor
    edge_attr: torch.Tensor | None = None
    phi: torch.Tensor | None = None

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def to(self, device: torch.device | str) -> GraphSample:
        """A copy on ``device``."""
        return replace(
            self,
            x=self.x.to(device),
            edge_index=self.edge_index.to(device),
            y=self.y.to(device),
            target=self.target.to(device),
            weight=self.weight.to(device),
            edge_attr=None if self.edge_attr is None else self.edge_attr.to(device),
            phi=None if self.phi is None else self.phi.to(device),
        )

    def phi_sector(self, start: float, width: float) -> GraphSample:
        """The subgraph of hits with azimuth in [start, start + width) (rad, modulo 2 pi) and
        of the edges with both ends among them; nodes renumbered in their original order."""
        if self.phi is None:
            raise ValueError("phi-sector sampling needs the hits' phi (GraphSample.phi)")
        offset = torch.remainder(self.phi.double() - start, 2 * np.pi)
        keep = offset < width
        new_index = torch.cumsum(keep, 0) - 1
        src, dst = self.edge_index
        edges = keep[src] & keep[dst]
        return replace(
            self,
            x=self.x[keep],
            edge_index=new_index[self.edge_index[:, edges]],
            y=self.y[edges],
            target=self.target[edges],
            weight=self.weight[edges],
            edge_attr=None if self.edge_attr is None else self.edge_attr[edges],
            phi=self.phi[keep],
        )

    def reflected(self, node_sign: torch.Tensor, edge_sign: torch.Tensor | None) -> GraphSample:
        """The mirror image under phi -> -phi (y -> -y): columns multiplied by their sign
        (+1 or -1 per feature, from the parity tables of :mod:`acts_gnn.graph.features`)."""
        edge_attr = self.edge_attr
        if edge_attr is not None and edge_sign is not None:
            edge_attr = edge_attr * edge_sign.to(edge_attr)
        return replace(self, x=self.x * node_sign.to(self.x), edge_attr=edge_attr)


def feature_signs(config: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign of each node feature [F] and edge feature [D] under phi -> -phi."""
    node = torch.tensor([float(NODE_FEATURE_PARITY[n]) for n in config.node_features])
    edge = torch.tensor([float(EDGE_FEATURE_PARITY[n]) for n in config.edge_features])
    return node, edge


# ---------------------------------------------------------------------------------------------
# graph sources
# ---------------------------------------------------------------------------------------------


class SyntheticGraphs:
    """Graphs of toy events (:func:`acts_gnn.train.synthetic.synthetic_graph`)."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def __call__(self, event: Event) -> tuple[npt.NDArray[np.int64], None]:
        from acts_gnn.train.synthetic import synthetic_graph

        return synthetic_graph(event, self.config), None


# ---------------------------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------------------------


def make_sample(
    event: Event,
    edge_index: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32] | None,
    data: DataConfig,
    loss: LossConfig,
) -> GraphSample:
    """Features, labels and weights of one event's graph (see the module docstring)."""
    n = event.n_hits
    x = node_features(event, data.node_features, data.feature_scales)
    edge_attr = None
    if data.edge_features:
        features = raw_edge_features(event, edge_index, features)
        columns = [EDGE_FEATURES.index(name) for name in data.edge_features]
        scales = np.asarray(data.edge_feature_scales, np.float64)
        edge_attr = (features[:, columns].astype(np.float64) / scales).astype(np.float32)
        if not np.all(np.isfinite(edge_attr)):
            raise InputDataError(
                "non-finite edge features", event=event.event_id, field="edge_features"
            )
    all_truth = truth_graph(event, TruthSelection())
    t = data.target
    selection = TruthSelection(
        min_pt=t.min_pt,
        min_hits=t.min_hits,
        primaries_only=t.primaries_only,
        max_abs_eta=np.inf if t.max_abs_eta is None else t.max_abs_eta,
    )
    y = edge_truth_mask(edge_index, all_truth, n)
    target = edge_truth_mask(edge_index, truth_graph(event, selection), n)
    weight = edge_weights(y, target, loss.pos_weight, loss.non_target_weight, loss.fake_weight)
    if loss.hit_weights == "trackml" and edge_index.shape[1]:
        hit_w = trackml_hit_weights(event)
        edge_hit_w = 0.5 * (hit_w[edge_index[0]] + hit_w[edge_index[1]])
        weight = np.where(y, weight * edge_hit_w, weight).astype(np.float32)
    if loss.target_pt_weights:
        weight = weight * target_pt_factors(event, edge_index, target, loss.target_pt_weights)
    return GraphSample(
        event_id=event.event_id,
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index, dtype=np.int64)),
        y=torch.from_numpy(y.astype(np.float32)),
        target=torch.from_numpy(target),
        weight=torch.from_numpy(np.asarray(weight, np.float32)),
        edge_attr=None if edge_attr is None else torch.from_numpy(edge_attr),
        phi=torch.from_numpy(np.array(event.hits["phi"], np.float32)),
    )


class GnnDataset:
    """Events -> :class:`GraphSample` (``len``, indexing); samples kept in memory if asked.

    ``events``: a sequence of events with ``event_ids`` (:class:`PreparedDataset`,
    :class:`~acts_gnn.train.synthetic.SyntheticEvents`); ``graphs``: a :class:`GraphSource`.
    """

    def __init__(
        self,
        events: Any,
        graphs: GraphSource | Callable[[Event], Any],
        data: DataConfig,
        loss: LossConfig,
        in_memory: bool = True,
    ) -> None:
        self.events = events
        self.graphs = graphs
        self.data = data
        self.loss = loss
        self.in_memory = in_memory
        self._cache: dict[int, GraphSample] = {}

    @property
    def event_ids(self) -> list[int]:
        return list(self.events.event_ids)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> GraphSample:
        if index in self._cache:
            return self._cache[index]
        event = self.events[index]
        edge_index, feats = self.graphs(event)
        sample = make_sample(event, edge_index, feats, self.data, self.loss)
        if self.in_memory:
            self._cache[index] = sample
        return sample


def split_events(d: DataConfig) -> tuple[Any, Any]:
    """The training and validation events of a data section (first events train, next
    validate), each a sequence of :class:`Event` with ``event_ids``."""
    if d.source == "synthetic":
        from acts_gnn.train.synthetic import SyntheticEvents

        ids = list(range(d.synthetic.n_events))

        def events(subset: list[int]) -> Any:
            return SyntheticEvents(d.synthetic, subset)

    else:
        from acts_gnn.io.event_store import PreparedDataset, list_events

        assert d.input is not None
        ids = list_events(d.input)

        def events(subset: list[int]) -> Any:
            return PreparedDataset(d.input, subset)  # type: ignore[arg-type]

    n_train = d.train_events if d.train_events is not None else len(ids) - d.val_events
    if n_train < 1 or n_train + d.val_events > len(ids):
        raise InputDataError(
            f"{len(ids)} events cannot give {n_train} training + {d.val_events} validation events",
            file=d.input,
        )
    val_ids = ids[n_train : n_train + d.val_events]
    return events(ids[:n_train]), events(val_ids) if val_ids else _Empty()


def build_datasets(
    config: TrainingConfigLike, graphs: GraphSource | None = None
) -> tuple[GnnDataset, GnnDataset]:
    """The training and validation datasets of a config (first events train, next validate).

    ``config`` needs ``data``, ``loss`` (:class:`LossConfig`) and ``output``. Graphs: from
    ``graphs`` if given, else toy graphs (synthetic events), a graphs folder or a module map.
    """
    d = config.data
    loss: LossConfig = config.loss  # type: ignore[attr-defined]
    source: GraphSource
    if graphs is not None:
        source = graphs
    elif d.source == "synthetic":
        source = SyntheticGraphs(d.synthetic)
    elif d.graphs:
        source = StoredGraphs(d.graphs)
    else:
        from acts_gnn.graph.module_map.formats import load_module_map

        assert d.module_map is not None  # (validated)
        source = ModuleMapGraphs(load_module_map(d.module_map), d.graph_threads)
        if d.cache_graphs:
            source = CachedGraphs(source, Path(config.output) / "graphs")
    train_events, val_events = split_events(d)
    train = GnnDataset(train_events, source, d, loss, d.in_memory)
    val = GnnDataset(val_events, source, d, loss, d.in_memory)
    return train, val


class _Empty:
    event_ids: list[int] = []  # noqa: RUF012

    def __len__(self) -> int:
        return 0

    def __getitem__(self, index: int) -> Event:
        raise IndexError(index)

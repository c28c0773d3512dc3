"""Training the edge filter on metric-learning graphs (Exa.TrkX, EPJ C 81 (2021) 876, 5.2).

Input graphs: every event's radius graph in the embedding space, built with the trained
embedding model (:class:`acts_gnn.graph.metric_learning.MetricLearning`, ``graph`` section)
and cached as ``<output>/graphs/event*-graph.npz`` (or read from ``data.graphs``). Labels,
targets and weights are those of the GNN (:func:`acts_gnn.train.data.make_sample`): an edge
is true when it joins consecutive hits of a particle, a target when that particle passes the
target selection (default pT > 1 GeV).

Balanced batches (``sampling``): the graphs are ~98% fake and most fakes are easy, so each
event's step uses all its true edges (weight > 0), ``hard_negatives`` times as many of the
fakes the current filter scores highest, and ``easy_negatives`` times as many random fakes;
loss: weighted BCE (``loss`` section, as the GNN). The hard negatives are mined among all
fakes, or among ``hard_pool`` times as many random ones (cheaper on large graphs). With
``training.phi_sectors`` = S > 1 each step takes one azimuthal wedge of an event (as the GNN):
S times more, smaller optimizer steps per epoch, which a per-edge MLP needs.

Validation (every epoch): loss over all edges, efficiency / purity at ``training.score_cut``,
and the largest cut keeping ``cut.target_efficiency`` of the target edges
(``val_cut_target``) with its purity; that cut is recorded in the exported model
(``<output>/filter.onnx``, ``filter.pt``), which takes ``(x, edge_index[, edge_attr])`` and
returns logits like every edge classifier (it runs in :class:`acts_gnn.chain.classify.TorchEdgeClassifier`
and :class:`~acts_gnn.chain.classify.OnnxEdgeClassifier`, upstream's included).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from acts_gnn.event import Event
from acts_gnn.graph.metric_learning import MetricLearning
from acts_gnn.graph.store import CachedGraphs, GraphSource, StoredGraphs, file_sha256
from acts_gnn.nn.filter import EdgeFilter
from acts_gnn.train.config import GnnTrainingConfig
from acts_gnn.train.data import GraphSample, build_datasets
from acts_gnn.train.graph_config import FilterTrainingConfig
from acts_gnn.train.loop import EdgeCounts, GnnTrainer, TrainingResult, weighted_bce

log = logging.getLogger(__name__)

#: Edges per forward pass when scoring whole graphs (the filter is per-edge: exact).
SCORE_CHUNK = 1 << 19
#: Cut values scanned for the target efficiency: sigmoid of a fine logit grid, plus 0.
CUT_GRID = torch.cat([torch.zeros(1), torch.sigmoid(torch.linspace(-12.0, 12.0, 4801))]).double()


class EmbeddingGraphs:
    """A graph source (:class:`acts_gnn.graph.store.GraphSource`): each event's metric-learning
    graph (edges inner -> outer, the six standard edge features)."""

    def __init__(self, stage: MetricLearning) -> None:
        self.stage = stage

    def __call__(self, event: Event) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        graph = self.stage.for_event(event)
        assert graph.edge_features is not None
        return graph.edge_index.cpu().numpy(), graph.edge_features.cpu().numpy()


@torch.no_grad()
def score_edges(
    model: nn.Module, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None
) -> Tensor:
    """Logits [E] of a per-edge model, in chunks of :data:`SCORE_CHUNK` edges."""
    parts = []
    for lo in range(0, edge_index.shape[1], SCORE_CHUNK):
        ea = None if edge_attr is None else edge_attr[lo : lo + SCORE_CHUNK]
        parts.append(model(x, edge_index[:, lo : lo + SCORE_CHUNK], ea).float())
    return torch.cat(parts) if parts else torch.zeros(0, device=x.device)


class FilterTrainer(GnnTrainer):
    """Trains an :class:`EdgeFilter` as described in the module docstring."""

    def __init__(
        self,
        config: FilterTrainingConfig,
        train_set: Any = None,
        val_set: Any = None,
        *,
        resume: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.cfg = config
        self.chosen_cut = config.training.score_cut
        self.graph_info: dict[str, Any] = {}
        super().__init__(
            cast(GnnTrainingConfig, config), train_set, val_set, resume=resume, progress=progress
        )

    # -- the loop's hooks --------------------------------------------------------------------
    def _build_model(self) -> nn.Module:
        m, d = self.cfg.model, self.cfg.data
        return EdgeFilter(
            len(d.node_features),
            len(d.edge_features),
            hidden=m.hidden,
            n_layers=m.n_layers,
            layer_norm=m.layer_norm,
            activation=m.activation,
        )

    def graph_source(self) -> GraphSource:
        """The stored graphs of ``data.graphs``, else the embedding's graphs (cached)."""
        d, g = self.cfg.data, self.cfg.graph
        if d.graphs:
            return StoredGraphs(d.graphs)
        assert g.embedding is not None  # (validated)
        stage = MetricLearning(
            g.embedding, rVal=g.r, knnVal=g.k, device=self.device, backend=g.backend
        )
        self.graph_info = {"embedding": g.embedding, "r": stage.rVal, "k": stage.knnVal}
        source: GraphSource = EmbeddingGraphs(stage)
        if d.cache_graphs:
            # the key of the cache: the embedding file's content and the search knobs
            identity = (
                f"embedding sha256:{file_sha256(g.embedding)} r {stage.rVal!r} "
                f"k {stage.knnVal} backend {g.backend}"
            )
            source = CachedGraphs(source, Path(self.cfg.output) / "graphs", identity)
        return source

    def _build_datasets(self) -> tuple[Any, Any]:
        return build_datasets(self.cfg, graphs=self.graph_source())

    def _metadata(self) -> dict[str, Any]:
        d = self.cfg.data
        return {
            "node_features": list(d.node_features),
            "feature_scales": list(d.feature_scales),
            "edge_features": list(d.edge_features),
            "edge_feature_scales": list(d.edge_feature_scales),
            "score_cut": float(self.chosen_cut),
            "target_efficiency": self.cfg.cut.target_efficiency,
            "graph": dict(self.graph_info),
            "target": {
                "min_pt": d.target.min_pt,
                "min_hits": d.target.min_hits,
                "primaries_only": d.target.primaries_only,
            },
        }

    # -- balanced batches --------------------------------------------------------------------
    def balanced_edges(self, sample: GraphSample, epoch: int, index: int) -> Tensor:
        """Indices of the edges of one event's step: all true edges (weight > 0), the hardest
        and random fakes (see the module docstring)."""
        s = self.cfg.sampling
        dev = sample.x.device
        weighted = sample.weight > 0
        true = (sample.y > 0.5) & weighted
        fake = torch.nonzero((sample.y <= 0.5) & weighted).squeeze(1)
        positives = torch.nonzero(true).squeeze(1)
        if not s.balanced:
            return torch.nonzero(weighted).squeeze(1)
        g = torch.Generator().manual_seed(
            int(np.random.default_rng([self.cfg.seed, 15485863, epoch, index]).integers(2**62))
        )
        n_ref = max(int(positives.numel()), 1)
        n_hard = min(round(s.hard_negatives * n_ref), fake.numel())
        n_easy = min(round(s.easy_negatives * n_ref), fake.numel())
        parts = [positives]
        if n_hard:
            pool = fake
            if s.hard_pool and s.hard_pool * n_ref < fake.numel():
                pool = fake[
                    torch.randperm(fake.numel(), generator=g)[: int(s.hard_pool * n_ref)].to(dev)
                ]
            self.model.eval()
            ea = None if sample.edge_attr is None else sample.edge_attr[pool]
            scores = score_edges(self.model, sample.x, sample.edge_index[:, pool], ea)
            self.model.train()
            hard = pool[torch.topk(scores, min(n_hard, pool.numel())).indices]
            parts.append(hard)
        if n_easy:
            parts.append(fake[torch.randperm(fake.numel(), generator=g)[:n_easy].to(dev)])
        return torch.unique(torch.cat(parts))  # (a random fake may also be a hard one)

    def sample_loss(self, index: int | None, epoch: int) -> torch.Tensor:
        """The weighted BCE of training graph ``index`` on its balanced edge set (None: an
        empty graph)."""
        sample = self.step_sample(index, epoch)
        if index is None:
            chosen = torch.zeros(0, dtype=torch.int64, device=self.device)
        else:
            chosen = self.balanced_edges(sample, epoch, index)
        ea = None if sample.edge_attr is None else sample.edge_attr[chosen]
        with self._autocast():
            logits = self.ddp(sample.x, sample.edge_index[:, chosen], ea)
        return weighted_bce(logits, sample.y[chosen], sample.weight[chosen])

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, dataset: Any = None) -> dict[str, float]:
        """Loss over all edges; efficiency (target edges kept / target edges of the graphs),
        purity, truth-edge efficiency at ``training.score_cut``; the largest cut keeping
        ``cut.target_efficiency`` of the target edges, and the purity and kept edges per
        graph edge there."""
        dataset = self.val_set if dataset is None else dataset
        self.model.eval()
        cut = self.config.training.score_cut
        counts = EdgeCounts()
        grid = CUT_GRID.to(self.device)
        n_grid = grid.numel()
        scan = torch.zeros(3, n_grid, dtype=torch.float64, device=self.device)
        for index in range(self.context.rank, len(dataset), self.context.world_size):
            s = dataset[index].to(self.device)
            with self._autocast():
                logits = score_edges(self.model, s.x, s.edge_index, s.edge_attr)
            counts.loss += float(weighted_bce(logits, s.y, s.weight))
            scores = torch.sigmoid(logits.float()).double()
            kept = scores > cut
            true = s.y > 0.5
            counts.events += 1
            counts.edges += s.n_edges
            counts.true += int(true.sum())
            counts.target += int(s.target.sum())
            counts.kept += int(kept.sum())
            counts.kept_true += int((kept & true).sum())
            counts.kept_target += int((kept & s.target).sum())
            for row, mask in enumerate((None, true, s.target)):
                values = scores if mask is None else scores[mask]
                # edges with score > grid[i]: len - (number <= grid[i])
                below = torch.searchsorted(torch.sort(values).values, grid, right=True)
                scan[row] += values.numel() - below.double()
        reduced = self.context.all_reduce_sum(
            counts.values() + scan.reshape(-1).tolist(), self.device
        )
        n_counts = len(counts.values())
        totals = EdgeCounts(*reduced[:n_counts])
        result = totals.metrics()
        kept_all, kept_true, kept_target = np.asarray(reduced[n_counts:]).reshape(3, n_grid)
        passing = np.flatnonzero(kept_target >= self.cfg.cut.target_efficiency * totals.target)
        result["cut_target"] = float("nan")
        if totals.target and passing.size:
            i = int(passing[-1])  # the grid rises: the last passing cut is the largest
            self.chosen_cut = float(CUT_GRID[i])
            result["cut_target"] = self.chosen_cut
            result["purity_at_cut_target"] = (
                kept_true[i] / kept_all[i] if kept_all[i] else float("nan")
            )
            result["kept_fraction_at_cut_target"] = kept_all[i] / max(totals.edges, 1.0)
        return result

    # -- outputs -----------------------------------------------------------------------------
    def export(self) -> list[Path]:
        """``<output>/filter.onnx`` and ``filter.pt`` (TorchScript), verified against torch."""
        from acts_gnn.train.export import export_onnx, export_torchscript

        metadata = {**self._metadata(), **self.provenance}
        return [
            export_onnx(self.model, self.output / "filter.onnx", metadata=metadata),
            export_torchscript(self.model, self.output / "filter.pt", metadata=metadata),
        ]


def train_filter(
    config: FilterTrainingConfig,
    *,
    resume: bool = False,
    progress: bool | None = None,
    train_set: Any = None,
    val_set: Any = None,
) -> TrainingResult:
    """Train the edge filter of ``config`` (see the module docstring)."""
    trainer = FilterTrainer(config, train_set, val_set, resume=resume, progress=progress)
    try:
        return trainer.fit()
    finally:
        trainer.context.close()

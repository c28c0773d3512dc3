r"""Training the metric-learning embedding (Exa.TrkX, EPJ C 81 (2021) 876, section 5.2).

Per event (``training.batch_size`` events per optimizer step), pairs of hits enter a hinge
loss on their squared embedding distance :math:`d^2` (:class:`HingeLossConfig`):

* **truth pairs**: every edge of the truth graph (consecutive hits of one particle; weight 1
  for target particles, e.g. pT > 1 GeV, ``non_target_weight`` for the others), loss
  :math:`d^2`;
* **random pairs**: ``mining.random_pairs`` pairs of uniformly drawn hits;
* **hard negatives** (from epoch ``mining.hnm_start_epoch``): around ``mining.sources``
  random hits, their ``mining.knn`` nearest hits within the margin in the current embedding
  (:func:`acts_gnn.graph.knn.radius_neighbours`: the pairs that still give a gradient).

Random and mined pairs that are truth edges are dropped (the truth pairs hold them); the rest
are negatives, loss :math:`\max(0, m^2 - d^2)`, weight 1, or ``same_particle_weight`` for two
hits of one particle that are not consecutive. The event loss is the weighted mean over the
negatives plus ``pos_weight`` times the weighted mean over the positives. The embeddings are
computed without gradients for the mining and again, with gradients, only for the hits that
appear in a pair.

Validation (every epoch): the radius graph of each validation event at ``graph.r`` with at
most ``graph.k`` neighbours: edge efficiency (target truth edges found / target truth edges),
purity (edges that are truth edges of any particle / edges), edges per hit, and the smallest
radius of ``graph.radii`` reaching ``graph.target_efficiency`` with its purity. The exported
model (``<output>/embedding.onnx``, ``embedding.pt``) records that radius and k.

Everything else (checkpoints and resume, LR schedule, seeds, progress bars, devices, DDP) is
the GNN's training loop (:class:`acts_gnn.train.loop.GnnTrainer`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from acts_gnn.event import Event
from acts_gnn.graph.features import node_features
from acts_gnn.graph.knn import Neighbours, radius_neighbours
from acts_gnn.graph.truth import TruthSelection, truth_graph
from acts_gnn.io.atomic import write_json
from acts_gnn.nn.embedding import EmbeddingNet
from acts_gnn.train.config import DataConfig, GnnTrainingConfig
from acts_gnn.train.data import split_events
from acts_gnn.train.graph_config import EmbeddingTrainingConfig, HingeLossConfig
from acts_gnn.train.loop import GnnTrainer, TrainingResult

log = logging.getLogger(__name__)


@dataclass
class EmbeddingSample:
    """One event for the embedding: x float32 [N, F] (scaled node features); truth int64
    [2, T] (truth graph of every particle); truth_weight float32 [T]; target bool [T] (edge of
    a target particle); particle int64 [N] (particle row of each hit, -1 for none); phi
    float32 [N] (hit azimuth [rad], for phi sectors)."""

    event_id: int
    x: Tensor
    truth: Tensor
    truth_weight: Tensor
    target: Tensor
    particle: Tensor
    phi: Tensor

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> EmbeddingSample:
        return replace(
            self,
            x=self.x.to(device),
            truth=self.truth.to(device),
            truth_weight=self.truth_weight.to(device),
            target=self.target.to(device),
            particle=self.particle.to(device),
            phi=self.phi.to(device),
        )

    def sector(self, start: float, width: float) -> EmbeddingSample:
        """The hits with azimuth in [start, start + width) rad (wrapping around), and the
        truth pairs between them (re-indexed)."""
        keep = torch.remainder(self.phi.double() - start, 2 * math.pi) < width
        new_index = torch.cumsum(keep.long(), 0) - 1
        inside = keep[self.truth[0]] & keep[self.truth[1]]
        return EmbeddingSample(
            event_id=self.event_id,
            x=self.x[keep],
            truth=new_index[self.truth[:, inside]],
            truth_weight=self.truth_weight[inside],
            target=self.target[inside],
            particle=self.particle[keep],
            phi=self.phi[keep],
        )

    def reflected(self, node_sign: Tensor, edge_sign: Tensor | None = None) -> EmbeddingSample:
        """The mirror image under phi -> -phi (features times their parity sign)."""
        return replace(self, x=self.x * node_sign.to(self.x))


def _target_selection(data: DataConfig) -> TruthSelection:
    t = data.target
    return TruthSelection(
        min_pt=t.min_pt,
        min_hits=t.min_hits,
        primaries_only=t.primaries_only,
        max_abs_eta=np.inf if t.max_abs_eta is None else t.max_abs_eta,
    )


def undirected_keys(edges: Tensor, n_nodes: int) -> Tensor:
    """min * N + max for every edge of ``edges`` [2, E] (int64 [E])."""
    lo = torch.minimum(edges[0], edges[1])
    hi = torch.maximum(edges[0], edges[1])
    return lo * max(n_nodes, 1) + hi


def make_embedding_sample(event: Event, data: DataConfig, loss: HingeLossConfig) -> EmbeddingSample:
    """Features, truth pairs, their weights and the hits' particles of one event."""
    x = node_features(event, data.node_features, data.feature_scales)
    truth = truth_graph(event, TruthSelection())
    n = event.n_hits
    truth_t = torch.from_numpy(np.ascontiguousarray(truth, dtype=np.int64))
    target_keys = undirected_keys(torch.from_numpy(truth_graph(event, _target_selection(data))), n)
    target = torch.isin(undirected_keys(truth_t, n), target_keys)
    weight = torch.where(target, 1.0, float(loss.non_target_weight)).float()
    return EmbeddingSample(
        event_id=event.event_id,
        x=torch.from_numpy(x),
        truth=truth_t,
        truth_weight=weight,
        target=target,
        particle=torch.from_numpy(event.hits["particle_id"].astype(np.int64)),
        phi=torch.from_numpy(event.hits["phi"].astype(np.float32)),
    )


class EmbeddingDataset:
    """Events -> :class:`EmbeddingSample` (kept in memory if ``in_memory``)."""

    graphs = None  # (no graph source: the training loop asks for module-map statistics)

    def __init__(
        self, events: Any, data: DataConfig, loss: HingeLossConfig, in_memory: bool
    ) -> None:
        self.events = events
        self.data = data
        self.loss = loss
        self.in_memory = in_memory
        self._cache: dict[int, EmbeddingSample] = {}

    @property
    def event_ids(self) -> list[int]:
        return list(self.events.event_ids)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> EmbeddingSample:
        if index in self._cache:
            return self._cache[index]
        sample = make_embedding_sample(self.events[index], self.data, self.loss)
        if self.in_memory:
            self._cache[index] = sample
        return sample


@dataclass
class PairBatch:
    """Training pairs of one event: positives (a, b, weight), negatives (a, b, weight)."""

    pos_a: Tensor
    pos_b: Tensor
    pos_w: Tensor
    neg_a: Tensor
    neg_b: Tensor
    neg_w: Tensor


def hinge_loss(
    embedding: Tensor,
    pairs: PairBatch,
    margin: float,
    pos_weight: float,
    index: Tensor | None = None,
    negatives: str = "squared",
) -> Tensor:
    """``mean_w(h(d) over negatives) + pos_weight * mean_w(d^2 over positives)`` with
    h(d) = max(0, margin^2 - d^2) (``negatives="squared"``, the paper's) or max(0, margin -
    d)^2 (``"linear"``, the contrastive loss: its push does not vanish as d -> 0);
    ``embedding`` [M, D] holds the hits ``index`` (sorted; None: all hits)."""

    def rows(i: Tensor) -> Tensor:
        return i if index is None else torch.searchsorted(index, i)

    def d2(a: Tensor, b: Tensor) -> Tensor:
        return (embedding[rows(a)].float() - embedding[rows(b)].float()).square().sum(1)

    loss = embedding.sum() * 0.0  # keeps every parameter in the graph (DDP) when empty
    if pairs.neg_a.numel():
        dist2 = d2(pairs.neg_a, pairs.neg_b)
        if negatives == "linear":
            hinge = torch.relu(margin - torch.sqrt(dist2 + 1e-12)).square()
        else:
            hinge = torch.relu(margin * margin - dist2)
        loss = loss + (pairs.neg_w * hinge).sum() / pairs.neg_w.sum().clamp(min=1e-12)
    if pairs.pos_a.numel():
        pos = d2(pairs.pos_a, pairs.pos_b)
        loss = loss + pos_weight * (pairs.pos_w * pos).sum() / pairs.pos_w.sum().clamp(min=1e-12)
    return loss


@dataclass
class RadiusCounts:
    """Sums over validation events of the radius graph at one radius."""

    edges: float = 0.0
    true_edges: float = 0.0
    target_found: float = 0.0
    target: float = 0.0
    nodes: float = 0.0

    def metrics(self) -> dict[str, float]:
        def ratio(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {
            "efficiency": ratio(self.target_found, self.target),
            "purity": ratio(self.true_edges, self.edges),
            "edges_per_hit": ratio(self.edges, self.nodes),
        }


def radius_graph_counts(
    found: Neighbours, sample: EmbeddingSample, radii: list[float]
) -> list[RadiusCounts]:
    """Edge counts of the radius graph at each of ``radii`` (all <= the search radius of
    ``found``): edges, truth edges among them, target truth edges found.

    Both directions of a pair have the same distance, so an undirected edge is in the graph at
    radius r exactly when its distance is <= r: one pass over the pairs serves every radius.
    """
    n = sample.n_nodes
    truth_keys = undirected_keys(sample.truth, n)
    target_keys = truth_keys[sample.target]
    keys, inverse = torch.unique(
        undirected_keys(torch.stack([found.query, found.neighbour]), n), return_inverse=True
    )
    d2 = torch.zeros(keys.shape[0], dtype=torch.float64, device=keys.device)
    d2 = d2.scatter(0, inverse, found.dist2)
    true = torch.isin(keys, truth_keys)
    where = torch.searchsorted(keys, target_keys).clamp(max=max(keys.numel() - 1, 0))
    present = (
        keys[where] == target_keys
        if keys.numel()
        else torch.zeros_like(target_keys, dtype=torch.bool)
    )
    target_d2 = torch.where(present, d2[where] if keys.numel() else 0.0, float("inf"))
    out = []
    for r in radii:
        inside = d2 <= float(r) ** 2
        out.append(
            RadiusCounts(
                edges=float(inside.sum()),
                true_edges=float((inside & true).sum()),
                target_found=float((target_d2 <= float(r) ** 2).sum()),
                target=float(target_keys.numel()),
                nodes=float(n),
            )
        )
    return out


class EmbeddingTrainer(GnnTrainer):
    """Trains an :class:`EmbeddingNet` as described in the module docstring."""

    def __init__(
        self,
        config: EmbeddingTrainingConfig,
        train_set: EmbeddingDataset | None = None,
        val_set: EmbeddingDataset | None = None,
        *,
        resume: bool = False,
        progress: bool | None = None,
    ) -> None:
        self.cfg = config
        self.chosen_r = config.graph.r
        self.radius_scan: list[dict[str, float]] = []
        # the loop's shared machinery reads only the sections all configs have
        super().__init__(
            cast(GnnTrainingConfig, config),
            cast(Any, train_set),
            cast(Any, val_set),
            resume=resume,
            progress=progress,
        )

    # -- the loop's hooks --------------------------------------------------------------------
    def _build_model(self) -> nn.Module:
        m = self.cfg.model
        return EmbeddingNet(
            len(self.cfg.data.node_features),
            embedding_dim=m.embedding_dim,
            hidden=m.hidden,
            n_layers=m.n_layers,
            layer_norm=m.layer_norm,
            activation=m.activation,
            normalize=m.normalize,
            fourier_octaves=m.fourier_octaves,
            periodic_features=m.periodic_features,
        )

    def _build_datasets(self) -> tuple[Any, Any]:
        d = self.cfg.data
        train, val = split_events(d)
        return (
            EmbeddingDataset(train, d, self.cfg.loss, d.in_memory),
            EmbeddingDataset(val, d, self.cfg.loss, d.in_memory),
        )

    def _metadata(self) -> dict[str, Any]:
        d, g = self.cfg.data, self.cfg.graph
        return {
            "node_features": list(d.node_features),
            "feature_scales": list(d.feature_scales),
            "embedding_dim": self.cfg.model.embedding_dim,
            "r": float(self.chosen_r),
            "k": int(g.k),
            "target_efficiency": g.target_efficiency,
            "target": {
                "min_pt": d.target.min_pt,
                "min_hits": d.target.min_hits,
                "primaries_only": d.target.primaries_only,
            },
        }

    def _empty_sample(self) -> Any:
        f = len(self.cfg.data.node_features)
        none = torch.zeros(0, dtype=torch.int64)
        return EmbeddingSample(
            -1,
            torch.zeros(0, f),
            torch.zeros(2, 0, dtype=torch.int64),
            torch.zeros(0),
            torch.zeros(0, dtype=torch.bool),
            none,
            torch.zeros(0),
        )

    # -- pairs -------------------------------------------------------------------------------
    def _generator(self, *key: int) -> torch.Generator:
        seed = int(
            np.random.default_rng([self.cfg.seed, 104729, *(k + 1 for k in key)]).integers(2**62)
        )
        return torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def make_pairs(self, sample: EmbeddingSample, epoch: int, index: int, mine: bool) -> PairBatch:
        """The training pairs of one event (see the module docstring); deterministic in
        (seed, epoch, index) and the current weights."""
        cfg, dev = self.cfg, sample.x.device
        n = sample.n_nodes
        g = self._generator(epoch, index)
        keep_truth = sample.truth_weight > 0
        pos_a, pos_b = sample.truth[0][keep_truth], sample.truth[1][keep_truth]
        pos_w = sample.truth_weight[keep_truth]
        cand_a, cand_b = [], []
        if cfg.mining.random_pairs and n > 1:
            r = cfg.mining.random_pairs
            cand_a.append(torch.randint(n, (r,), generator=g).to(dev))
            cand_b.append(torch.randint(n, (r,), generator=g).to(dev))
        if mine and n > 1:
            self.model.eval()
            emb = self.model(sample.x)
            self.model.train()
            s = cfg.mining.sources
            sources = torch.randperm(n, generator=g)[:s] if s and s < n else torch.arange(n)
            found = radius_neighbours(
                emb,
                cfg.loss.margin,
                cfg.mining.knn,
                sources.to(dev),
                backend=cfg.mining.backend,
                ordered=False,
            )
            cand_a.append(found.query)
            cand_b.append(found.neighbour)
        if cand_a:
            a, b = torch.cat(cand_a), torch.cat(cand_b)
            keys = undirected_keys(torch.stack([a, b]), n)
            keep = (a != b) & ~torch.isin(keys, undirected_keys(sample.truth, n))
            a, b = a[keep], b[keep]
            pa, pb = sample.particle[a], sample.particle[b]
            same = (pa == pb) & (pa >= 0)
            w = torch.where(same, float(cfg.loss.same_particle_weight), 1.0).float()
            keep = w > 0
            neg_a, neg_b, neg_w = a[keep], b[keep], w[keep]
        else:
            neg_a = neg_b = torch.zeros(0, dtype=torch.int64, device=dev)
            neg_w = torch.zeros(0, device=dev)
        return PairBatch(pos_a, pos_b, pos_w, neg_a, neg_b, neg_w)

    def pair_loss(self, model: nn.Module, sample: EmbeddingSample, pairs: PairBatch) -> Tensor:
        """The hinge loss of ``pairs``, embedding (with gradients) only the hits in them."""
        nodes = torch.unique(torch.cat([pairs.pos_a, pairs.pos_b, pairs.neg_a, pairs.neg_b]))
        with self._autocast():
            emb = model(sample.x[nodes])
        lo = self.cfg.loss
        return hinge_loss(emb, pairs, lo.margin, lo.pos_weight, nodes, lo.negatives)

    # -- one step ----------------------------------------------------------------------------
    def sample_loss(self, index: int | None, epoch: int) -> Tensor:
        """The hinge loss of training event ``index`` (a random phi sector of it with
        ``mining.phi_slices`` > 1; None: an empty event), on its truth, random and (from
        ``mining.hnm_start_epoch``) mined pairs."""
        mine = epoch >= self.cfg.mining.hnm_start_epoch
        if index is None:
            sample = self._empty_sample().to(self.device)
        else:
            sample = cast(EmbeddingSample, self._augment(self.train_set[index], epoch, index))
            slices = self.cfg.mining.phi_slices
            if slices > 1:  # a random phi sector of the event
                start = float(torch.rand(1, generator=self._generator(epoch, index, 1)))
                sample = sample.sector(2 * math.pi * start, 2 * math.pi / slices)
            sample = sample.to(self.device)
        pairs = self.make_pairs(sample, epoch, -1 if index is None else index, mine)
        return self.pair_loss(self.ddp, sample, pairs)

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, dataset: Any = None) -> dict[str, float]:
        """Loss (truth, random and mined pairs drawn with a fixed seed), and the radius
        graph's efficiency, purity and edges per hit at ``graph.r``; the smallest radius of
        ``graph.radii`` with efficiency >= ``graph.target_efficiency`` and its purity."""
        dataset = self.val_set if dataset is None else dataset
        g = self.cfg.graph
        radii = sorted({*g.radii, g.r})
        self.model.eval()
        loss, events = 0.0, 0.0
        sums = np.zeros((len(radii), 5))
        for index in range(self.context.rank, len(dataset), self.context.world_size):
            sample = dataset[index]
            if g.val_phi_slices > 1:  # a fixed phi sector of each event
                width = 2 * math.pi / g.val_phi_slices
                sample = sample.sector(-math.pi + (index % g.val_phi_slices) * width, width)
            sample = sample.to(self.device)
            pairs = self.make_pairs(sample, -1, index, mine=True)
            loss += float(self.pair_loss(self.model, sample, pairs))
            events += 1
            emb = self.model(sample.x).float()
            found = radius_neighbours(emb, radii[-1], g.k, backend=g.backend, ordered=False)
            for i, c in enumerate(radius_graph_counts(found, sample, radii)):
                sums[i] += [c.edges, c.true_edges, c.target_found, c.target, c.nodes]
        flat = self.context.all_reduce_sum([loss, events, *sums.reshape(-1).tolist()], self.device)
        loss, events = flat[0], flat[1]
        sums = np.asarray(flat[2:]).reshape(len(radii), 5)
        scan = [RadiusCounts(*row).metrics() | {"r": r} for r, row in zip(radii, sums)]
        self.radius_scan = scan
        at_r = scan[radii.index(g.r)]
        reaching = [s for s in scan if s["efficiency"] >= g.target_efficiency]
        best = reaching[0] if reaching else None
        if best is not None:
            self.chosen_r = best["r"]
        return {
            "loss": loss / events if events else float("nan"),
            "efficiency": at_r["efficiency"],
            "purity": at_r["purity"],
            "edges_per_hit": at_r["edges_per_hit"],
            "r_target": best["r"] if best else float("nan"),
            "purity_at_r_target": best["purity"] if best else float("nan"),
        }

    # -- outputs -----------------------------------------------------------------------------
    def export(self) -> list[Path]:
        """``<output>/embedding.onnx`` and ``embedding.pt`` (TorchScript), verified, and the
        last radius scan as ``<output>/radius_scan.json``."""
        from acts_gnn.train.export import export_embedding

        if self.radius_scan:
            write_json(self.output / "radius_scan.json", self.radius_scan)
        return export_embedding(
            self.model,
            self.output / "embedding.onnx",
            self.output / "embedding.pt",
            metadata={**self._metadata(), **self.provenance},
        )


def train_embedding(
    config: EmbeddingTrainingConfig,
    *,
    resume: bool = False,
    progress: bool | None = None,
    train_set: EmbeddingDataset | None = None,
    val_set: EmbeddingDataset | None = None,
) -> TrainingResult:
    """Train the embedding network of ``config`` (see the module docstring)."""
    trainer = EmbeddingTrainer(config, train_set, val_set, resume=resume, progress=progress)
    try:
        result = trainer.fit()
    finally:
        trainer.context.close()
    if trainer.context.main:
        log.info("radius scan: %s", json.dumps(trainer.radius_scan))
    return result


__all__ = [
    "EmbeddingDataset",
    "EmbeddingSample",
    "EmbeddingTrainer",
    "hinge_loss",
    "make_embedding_sample",
    "train_embedding",
]

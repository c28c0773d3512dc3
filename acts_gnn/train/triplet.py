"""Training of the triplet classifier (``acts-gnn train triplet``, ``configs/triplet.yaml``).

Data: prepared events (``train`` and ``val`` folders, the first ``train_events`` /
``val_events`` of each). Every event's module-map graph is scored by the doublet GNN
(:class:`~acts_gnn.train.triplet_seeds.DoubletScorer`, cached under ``<output>/doublets``), the
doublets above ``doublet_cut`` become the triplet graph (:mod:`acts_gnn.graph.triplets`) with
its truth (a triplet is true when both doublets join consecutive hits of one particle).

Loss: binary cross-entropy on the triplet logits, positives weighted by ``pos_weight`` (0:
fakes / trues of the training triplets). Each epoch visits the training events in a seeded
random order, one event per step; Adam, the learning rate falling from ``lr`` to 0 as a
cosine of the epoch (a function of the epoch alone, so a resumed run continues exactly). Validation every epoch:
loss, triplet efficiency and purity at 0.5, and the seed metrics
(:mod:`acts_gnn.train.triplet_seeds`) over :data:`~acts_gnn.train.triplet_seeds.SEED_CUTS`;
the exported ``score_cut`` is the largest cut keeping ``target_efficiency`` of the target
particles seeded on the validation events.

Outputs in ``output``: ``config.yaml``, ``history.json``, ``checkpoints/last.pt`` (every epoch,
the ``acts-gnn-checkpoint`` format with the optimizer state: ``resume`` continues
from it; :func:`acts_gnn.nn.files.model_from_checkpoint` rebuilds the model) and, with
``export``, ``triplet.pt`` (TorchScript) and ``triplet.onnx``, with the metadata (feature names
and scales, doublet cut, score cut, the GNN and module map used), each verified against torch
(:func:`acts_gnn.train.export.export_onnx`, :func:`~acts_gnn.train.export.export_torchscript`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from acts_gnn.graph.triplets import (
    DOUBLET_FEATURES,
    TRIPLET_FEATURES,
    TripletGraph,
    build_triplet_graph,
    triplet_truth,
)
from acts_gnn.io.atomic import atomic_path, write_json, write_text
from acts_gnn.nn.files import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_checkpoint
from acts_gnn.nn.triplet_classifier import TripletClassifier
from acts_gnn.train.config import ConfigError, load_config
from acts_gnn.train.triplet_seeds import (
    SEED_CUTS,
    SEED_TARGET,
    DoubletScorer,
    SeedCounts,
    add_event_seeds,
    best_cut,
    seed_table,
)

log = logging.getLogger(__name__)


@dataclass
class TripletTrainingConfig:
    """``acts-gnn train triplet`` (see the module docstring and ``configs/triplet.yaml``)."""

    train: str = ""
    val: str = ""
    train_events: int = 4
    val_events: int = 2
    output: str = "output/triplet"
    module_map: str = ""
    gnn: str = ""
    doublet_cut: float = 0.05
    seed: int = 42
    device: str = "cpu"
    epochs: int = 20
    lr: float = 2e-3
    pos_weight: float = 0.0
    target_efficiency: float = 0.99
    model: dict[str, Any] = field(default_factory=dict)
    export: bool = True
    progress: bool = True

    def validate(self, origin: str = "config") -> None:
        def bad(key: str, message: str) -> ConfigError:
            return ConfigError(f"{origin}: {key}: {message}")

        if not self.train:
            raise bad("train", "a folder of prepared events is needed")
        if self.train_events < 1 or self.val_events < 0:
            raise bad("train_events", "need >= 1 training and >= 0 validation events")
        if self.val_events and not self.val:
            raise bad("val", "val_events > 0 needs a folder of prepared events")
        if not 0.0 <= self.doublet_cut < 1.0:
            raise bad("doublet_cut", "must be in [0, 1)")
        if self.epochs < 1 or self.lr <= 0 or self.pos_weight < 0:
            raise bad("epochs", "epochs and lr must be positive, pos_weight >= 0")
        if not 0.0 < self.target_efficiency <= 1.0:
            raise bad("target_efficiency", "must be in (0, 1]")
        try:
            TripletClassifier(**self.model)
        except TypeError as err:
            raise bad("model", str(err)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_triplet_config(path: str | Path) -> TripletTrainingConfig:
    """Read and validate a ``train triplet`` YAML config."""
    config: TripletTrainingConfig = load_config(path, TripletTrainingConfig)  # type: ignore[type-var]
    return config


@dataclass
class TripletSample:
    """One event's triplet graph as tensors, with the event (for the seed metrics)."""

    graph: TripletGraph
    event: Any
    x: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    y: torch.Tensor


def load_samples(
    folder: str, n_events: int, scorer: DoubletScorer, doublet_cut: float, tag: str
) -> list[TripletSample]:
    """The first ``n_events`` prepared events of ``folder`` as triplet samples."""
    from acts_gnn.io.event_store import PreparedDataset

    dataset = PreparedDataset(folder)
    if len(dataset) < n_events:
        raise ConfigError(f"{folder}: {len(dataset)} prepared events, {n_events} needed")
    out = []
    for k in range(n_events):
        event = dataset[k]
        edge_index, scores = scorer(event, tag)
        graph = triplet_truth(
            build_triplet_graph(event.positions(), edge_index, scores, doublet_cut), event
        )
        assert graph.y is not None
        out.append(
            TripletSample(
                graph,
                event,
                torch.from_numpy(graph.x),
                torch.from_numpy(graph.index),
                torch.from_numpy(graph.edge_attr),
                torch.from_numpy(graph.y),
            )
        )
        log.info(
            "%s event %d: %d doublets, %d triplets (%.3f true)",
            folder,
            event.event_id,
            graph.x.shape[0],
            graph.index.shape[1],
            float(graph.y.mean()) if len(graph.y) else math.nan,
        )
    return out


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, samples: list[TripletSample], loss_fn: torch.nn.Module
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(loss, triplet efficiency / purity at 0.5; seed-metric rows over ``SEED_CUTS``)."""
    model.eval()
    losses, tp, pos, sel = [], 0, 0, 0
    counts = {c: SeedCounts() for c in SEED_CUTS}
    for s in samples:
        logits = model(s.x, s.edge_index, s.edge_attr)
        losses.append(float(loss_fn(logits, s.y)) if len(s.y) else 0.0)
        scores = torch.sigmoid(logits).numpy()
        keep, true = scores > 0.5, s.y.numpy() > 0.5
        tp, pos, sel = tp + int((keep & true).sum()), pos + int(true.sum()), sel + int(keep.sum())
        add_event_seeds(counts, s.event, s.graph.hits, s.graph.index, scores, SEED_TARGET)
    metrics = {
        "loss": float(np.mean(losses)) if losses else math.nan,
        "efficiency": tp / pos if pos else math.nan,
        "purity": tp / sel if sel else math.nan,
    }
    return metrics, seed_table(counts)


def _checkpoint(
    model: TripletClassifier,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    history: list[dict[str, Any]],
    config: TripletTrainingConfig,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": "TripletClassifier",
        "model_config": model.config,
        "model_state": {k: v.cpu() for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "epoch": epoch,
        "history": history,
        "config": config.to_dict(),
        "metadata": metadata,
    }


def triplet_metadata(config: TripletTrainingConfig, scorer: DoubletScorer) -> dict[str, Any]:
    """The metadata every triplet export records (the score cut is added after training)."""
    return {
        "kind": "triplet-classifier",
        "node_features": [n for n, _ in DOUBLET_FEATURES],
        "feature_scales": [s for _, s in DOUBLET_FEATURES],
        "triplet_features": [n for n, _ in TRIPLET_FEATURES],
        "triplet_feature_scales": [s for _, s in TRIPLET_FEATURES],
        "doublet_cut": config.doublet_cut,
        "score_cut": 0.5,
        "doublet_gnn": scorer.gnn.name,
        "module_map": scorer.module_map.name,
        "target": {
            "min_pt": SEED_TARGET.min_pt,
            "min_hits": SEED_TARGET.min_hits,
            "max_abs_eta": SEED_TARGET.max_abs_eta,
        },
        "target_efficiency": config.target_efficiency,
        "training_events": {"train": config.train, "n_train": config.train_events},
    }


def train_triplet(
    config: TripletTrainingConfig, resume: bool = False, progress: bool | None = None
) -> Path:
    """Train (see the module docstring); returns the output folder."""
    from acts_gnn.progress import progress_bar

    output = Path(config.output)
    scorer = DoubletScorer(config.module_map or None, config.gnn or None, output / "doublets")
    train = load_samples(config.train, config.train_events, scorer, config.doublet_cut, "train-")
    val = (
        load_samples(config.val, config.val_events, scorer, config.doublet_cut, "val-")
        if config.val_events
        else []
    )
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = TripletClassifier(**config.model)
    n_pos = sum(float(s.y.sum()) for s in train)
    n_all = sum(len(s.y) for s in train)
    if n_pos == 0 or n_pos == n_all:
        raise ConfigError(f"{config.train}: the training triplets hold only one class")
    pos_weight = (n_all - n_pos) / n_pos if config.pos_weight == 0 else config.pos_weight
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    metadata = {**triplet_metadata(config, scorer), "pos_weight": pos_weight}
    history: list[dict[str, Any]] = []
    start = 0
    last = output / "checkpoints" / "last.pt"
    if resume and last.is_file():
        state = load_checkpoint(last)
        if state.get("model") != "TripletClassifier" or state.get("config") != config.to_dict():
            raise ConfigError(f"{last}: another model or config; not resuming from it")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        start, history = int(state["epoch"]), list(state["history"])
        metadata = dict(state["metadata"])
        for _ in range(start):  # the same event order as an uninterrupted run
            rng.permutation(len(train))
        log.info("resuming %s after epoch %d", last, start)
    elif last.is_file() and not resume:
        raise ConfigError(f"{last} exists: pass resume (--resume) or another output folder")
    last.parent.mkdir(parents=True, exist_ok=True)
    write_text(output / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    show = config.progress if progress is None else progress
    bar = progress_bar(config.epochs - start, "triplet classifier", "epoch", enabled=bool(show))
    for epoch in range(start, config.epochs):
        for group in optimizer.param_groups:  # cosine from lr to 0, a function of the epoch
            group["lr"] = config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
        model.train()
        losses = []
        for i in rng.permutation(len(train)):
            s = train[i]
            loss = loss_fn(model(s.x, s.edge_index, s.edge_attr), s.y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if val:
            metrics, seeds = evaluate(model, val, loss_fn)
            row.update({f"val_{k}": v for k, v in metrics.items()})
            cut = best_cut(seeds, config.target_efficiency)
            chosen = next(r for r in seeds if r["cut"] == cut)
            row.update(
                val_seed_cut=cut,
                val_seed_purity=chosen["purity"],
                val_seed_efficiency=chosen["efficiency"],
            )
            metadata.update(score_cut=cut, validation=row)
        history.append(row)
        log.info("epoch %d: %s", epoch + 1, row)
        with atomic_path(last) as partial:
            torch.save(
                _checkpoint(model, optimizer, epoch + 1, history, config, metadata),
                partial,
            )
        bar.update(1)
    bar.close()
    write_json(output / "history.json", history)
    if config.export:
        export_triplet(model, output / "triplet.onnx", output / "triplet.pt", metadata)
    return output


def export_triplet(
    model: torch.nn.Module,
    onnx_path: str | Path | None,
    torchscript_path: str | Path | None,
    metadata: dict[str, Any],
) -> list[Path]:
    """The triplet classifier as ONNX and / or TorchScript, each verified against torch on
    random graphs (:data:`acts_gnn.train.export.VERIFY_SIZES`: zero edges and repeated
    targets included)."""
    from acts_gnn.train.export import export_onnx, export_torchscript

    written = []
    if onnx_path is not None:
        written.append(export_onnx(model, onnx_path, metadata=metadata))
    if torchscript_path is not None:
        written.append(export_torchscript(model, torchscript_path, metadata=metadata))
    return written


def train_triplet_command(args: Any) -> int:
    """``acts-gnn train triplet``: ``--config``, ``--resume``, ``--output``, ``--epochs``,
    ``--device`` override the config; prints the last epoch's numbers."""
    import json

    config = load_triplet_config(args.config)
    if getattr(args, "device", None) is not None:
        config.device = args.device
    if getattr(args, "output", None) is not None:
        config.output = str(args.output)
    if getattr(args, "epochs", None) is not None:
        config.epochs = args.epochs
    config.validate(str(args.config))
    progress = False if getattr(args, "quiet", False) else None
    output = train_triplet(config, resume=bool(args.resume), progress=progress)
    history = json.loads((output / "history.json").read_text())
    print("last epoch: " + "  ".join(f"{k}={v:.4g}" for k, v in history[-1].items()))
    print(f"outputs in {output} (config.yaml, history.json, checkpoints/last.pt, triplet.*)")
    return 0


def evaluate_seeds(
    model_path: str | Path,
    folder: str | Path,
    n_events: int,
    cache: str | Path | None = None,
    cuts: tuple[float, ...] = SEED_CUTS,
) -> dict[str, Any]:
    """Seed metrics of the exported triplet model (TorchScript) on the first ``n_events``
    prepared events of ``folder``, over ``cuts``, next to the baseline without a triplet
    classifier (each triplet scored by the smaller of its two doublet scores); the model's
    doublet cut, and its score cut's row."""
    from acts_gnn.graph.triplets import TripletSeeding
    from acts_gnn.train.triplet_seeds import scan_seeds

    stage = TripletSeeding(model_path)
    scorer = DoubletScorer(cache=cache)
    samples = load_samples(str(folder), n_events, scorer, stage.doublet_cut, "test-")
    rows = scan_seeds(samples, lambda s: stage.scores(s.graph), cuts)
    baseline = scan_seeds(samples, lambda s: s.graph.edge_attr[:, -1], cuts)
    chosen = [r for r in rows if r["cut"] == stage.cut]
    return {
        "model": str(model_path),
        "events": str(folder),
        "n_events": n_events,
        "doublet_cut": stage.doublet_cut,
        "score_cut": stage.cut,
        "at_score_cut": chosen[0]
        if chosen
        else scan_seeds(samples, lambda s: stage.scores(s.graph), [stage.cut])[0],
        "triplet_classifier": rows,
        "doublet_scores_only": baseline,
        "triplets_per_event": float(np.mean([s.graph.index.shape[1] for s in samples])),
        "doublets_per_event": float(np.mean([s.graph.x.shape[0] for s in samples])),
    }

"""The GNN training loop: seeds, devices, checkpoints and resume, validation, DDP.

One optimizer step takes ``training.batch_size`` events (the *global* batch). Each event is a
separate forward / backward (gradients accumulate), so graphs of any size can be batched
without concatenation. The step's loss is the mean over its events of the per-event weighted
BCE (``sum(w * bce) / sum(w)``).

Distributed data parallel: started with ``torchrun --nproc_per_node=W`` (``WORLD_SIZE`` in the
environment), every process takes a strided share ``batch[rank::W]`` of each global batch and
scales its loss by ``W / len(batch)``; DDP's gradient all-reduce (mean) then gives exactly the
single-process gradient of the same global batch, so the trained weights agree with a
one-process run up to float rounding (tested). Backends: gloo on CPU, nccl on CUDA. A process
with no event in a step (last, short batch) runs an empty graph to join the all-reduce.

Reproducibility: the model is initialised from ``seed``; the event order of epoch k and the
phi-reflection decisions depend only on (seed, k, event), so a run resumed from a checkpoint
gives the same weights as an uninterrupted one. Checkpoints (``<output>/checkpoints/last.pt``,
``epoch-NNN.pt``, ``best.pt`` by validation loss) are written atomically after every epoch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from acts_gnn.io.atomic import atomic_path, require_writable_dir, write_json
from acts_gnn.nn.files import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, check_archive
from acts_gnn.nn.interaction_network import InteractionNetwork
from acts_gnn.progress import progress_bar
from acts_gnn.train.config import ConfigError, GnnTrainingConfig, TrainingConfigLike, save_config
from acts_gnn.train.data import GnnDataset, GraphSample, build_datasets, feature_signs
from acts_gnn.train.init_weights import load_initial_weights

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# processes and devices
# ---------------------------------------------------------------------------------------------


@dataclass
class DistributedContext:
    """This process's place in a (possibly one-process) job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_reduce_sum(self, values: list[float], device: torch.device) -> list[float]:
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def select_device(name: str, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (``cuda:<local_rank>`` under torchrun), ``cuda:N`` or ``auto``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available")
        device = torch.device(name if ":" in name else f"cuda:{local_rank}")
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def init_distributed(device_name: str) -> DistributedContext:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` etc.)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    created = False
    if not dist.is_initialized():
        uses_cuda = device_name.startswith("cuda") or (
            device_name == "auto" and torch.cuda.is_available()
        )
        dist.init_process_group(backend="nccl" if uses_cuda else "gloo")
        created = True
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, created)


# ---------------------------------------------------------------------------------------------
# pieces
# ---------------------------------------------------------------------------------------------


def weighted_bce(logits: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """sum(w * BCE(logits, y)) / sum(w) in float32 (0 when all weights are 0)."""
    losses = F.binary_cross_entropy_with_logits(logits.float(), y.float(), reduction="none")
    return (weight * losses).sum() / weight.sum().clamp(min=1e-12)


def build_model(config: GnnTrainingConfig) -> InteractionNetwork:
    m = config.model
    return InteractionNetwork(
        node_features=len(config.data.node_features),
        edge_features=len(config.data.edge_features),
        hidden=m.hidden,
        n_iterations=m.n_iterations,
        n_node_layers=m.n_node_layers,
        n_edge_layers=m.n_edge_layers,
        n_decoder_layers=m.n_decoder_layers,
        layer_norm=m.layer_norm,
        activation=m.activation,
        aggregation=m.aggregation,
        recurrent=m.recurrent,
        gradient_checkpointing=config.training.gradient_checkpointing,
    )


def lr_factor(config: TrainingConfigLike, epoch: int) -> float:
    """Learning-rate multiplier of ``epoch`` (0-based): linear warm-up, then step / cosine."""
    o = config.optimizer
    if epoch < o.warmup_epochs:
        return (epoch + 1) / (o.warmup_epochs + 1)
    k = epoch - o.warmup_epochs
    if o.scheduler == "step":
        return o.gamma ** (k // max(o.step_size, 1))
    if o.scheduler == "cosine":
        span = max(config.training.epochs - o.warmup_epochs, 1)
        floor = o.min_lr / o.lr if o.lr else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(k, span) / span))
    return 1.0


#: The keys of a config's data section that define the training samples (the other keys:
#: caching, threads, memory, change nothing a model learns from); see
#: :meth:`GnnTrainer._data_identity`.
DATA_IDENTITY_FIELDS = (
    "source",
    "input",
    "module_map",
    "graphs",
    "train_events",
    "val_events",
    "node_features",
    "feature_scales",
    "edge_features",
    "edge_feature_scales",
    "target",
    "synthetic",
)


def model_metadata(config: GnnTrainingConfig) -> dict[str, Any]:
    """What an inference stage needs besides the weights: features and their scales."""
    d = config.data
    return {
        "node_features": list(d.node_features),
        "feature_scales": list(d.feature_scales),
        "edge_features": list(d.edge_features),
        "edge_feature_scales": list(d.edge_feature_scales),
        "score_cut": config.training.score_cut,
        "target": {
            "min_pt": d.target.min_pt,
            "min_hits": d.target.min_hits,
            "primaries_only": d.target.primaries_only,
        },
    }


@dataclass
class EdgeCounts:
    """Validation sums: loss, events, edges by truth and by the score cut."""

    loss: float = 0.0
    events: float = 0.0
    edges: float = 0.0
    true: float = 0.0
    target: float = 0.0
    kept: float = 0.0
    kept_true: float = 0.0
    kept_target: float = 0.0

    def values(self) -> list[float]:
        return [getattr(self, k) for k in self.__dataclass_fields__]

    def metrics(self) -> dict[str, float]:
        def ratio(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return {
            "loss": ratio(self.loss, self.events),
            "efficiency": ratio(self.kept_target, self.target),
            "purity": ratio(self.kept_true, self.kept),
            "true_efficiency": ratio(self.kept_true, self.true),
        }


@dataclass
class TrainingResult:
    """What :func:`train_gnn` returns: the model, per-epoch history and files written."""

    model: nn.Module
    history: list[dict[str, float]]
    output: Path
    files: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------


class GnnTrainer:
    """Trains an :class:`InteractionNetwork` as described in the module docstring."""

    def __init__(
        self,
        config: GnnTrainingConfig,
        train_set: GnnDataset | None = None,
        val_set: GnnDataset | None = None,
        *,
        resume: bool = False,
        progress: bool | None = None,
        context: DistributedContext | None = None,
    ) -> None:
        self.config = config
        self.output = Path(config.output)
        self.checkpoints = self.output / "checkpoints"
        require_writable_dir(self.output)  # before the datasets and the epochs, not after
        self.context = context or init_distributed(config.device)
        self.device = select_device(config.device, self.context.local_rank)
        t = config.training
        if t.threads:
            torch.set_num_threads(t.threads)
        if t.mixed_precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("training.mixed_precision: fp16 needs CUDA; use bf16 on CPU")
        if t.batch_size < self.context.world_size:
            log.warning(
                "batch_size %d < %d processes: some processes idle every step",
                t.batch_size,
                self.context.world_size,
            )
        self.show_progress = (t.progress if progress is None else progress) and self.context.main

        if train_set is None or val_set is None:
            built = self._build_datasets()
            train_set = built[0] if train_set is None else train_set
            val_set = built[1] if val_set is None else val_set
        self.train_set, self.val_set = train_set, val_set
        self.node_sign, self.edge_sign = feature_signs(config.data)

        torch.manual_seed(config.seed)
        random.seed(config.seed)  # (numpy randomness here uses explicitly seeded generators)
        self.model = self._build_model().to(self.device)
        self.ddp: nn.Module = self.model
        if self.context.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        o = config.optimizer
        optimizer_cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
        self.optimizer = optimizer_cls(
            self.model.parameters(), lr=o.lr, weight_decay=o.weight_decay, amsgrad=o.amsgrad
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda epoch: lr_factor(config, epoch)
        )
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=t.mixed_precision == "fp16" and self.device.type == "cuda"
        )
        self.history: list[dict[str, float]] = []
        self.start_epoch = 0
        self.best_loss = math.inf
        self.provenance: dict[str, Any] = {}
        if t.init_from:  # before a resume, which replaces the weights with its own
            self.provenance = load_initial_weights(self.model, t.init_from, self._metadata())
        self._resume_or_refuse(resume)

    # -- what subclasses (embedding, filter trainers) replace ----------------------------------
    def _build_model(self) -> nn.Module:
        return build_model(self.config)

    def _build_datasets(self) -> tuple[Any, Any]:
        return build_datasets(self.config)

    def _metadata(self) -> dict[str, Any]:
        return model_metadata(self.config)

    # -- checkpoints -------------------------------------------------------------------------
    def _resume_or_refuse(self, resume: bool) -> None:
        last = self.checkpoints / "last.pt"
        if not resume:
            if last.exists():
                raise ConfigError(
                    f"{last} exists: pass --resume to continue that run, or choose another output"
                )
            return
        if not last.exists():
            log.warning("no checkpoint in %s: starting from scratch", self.checkpoints)
            return
        check_archive(last, "checkpoint")  # a damaged file: InputDataError naming it
        state = torch.load(last, map_location=self.device, weights_only=False)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(f"{last} is not an acts-gnn checkpoint")
        self._refuse_other_data(last, state)
        if state["model_config"] != self.model.config:
            raise ConfigError(
                f"{last}: the model in the checkpoint ({state['model_config']}) differs from "
                f"the config ({self.model.config}); resume needs the same architecture"
            )
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        self.scheduler.load_state_dict(state["scheduler_state"])
        self.scaler.load_state_dict(state["scaler_state"])
        self.history = list(state["history"])
        self.start_epoch = int(state["epoch"])
        self.best_loss = float(state.get("best_loss", math.inf))
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"].cpu())
        log.info("resumed from %s after epoch %d", last, self.start_epoch)

    def _data_identity(self) -> dict[str, Any]:
        """What the training samples are made of (:data:`DATA_IDENTITY_FIELDS` of the data
        section, paths resolved; the graph source's identity, e.g. the module map's content
        hash, which then stands for the map's path), stored in every checkpoint."""
        data = self.config.to_dict()["data"]
        out: dict[str, Any] = {}
        for key in DATA_IDENTITY_FIELDS:
            value = data.get(key)
            if key in ("input", "module_map", "graphs") and value:
                value = str(Path(value).resolve())
            out[key] = value
        graphs = getattr(self.train_set, "graphs", None)
        identity = getattr(graphs, "identity", None)
        if identity:
            out["graph_source"] = str(identity)
            out.pop("module_map", None)  # the content hash identifies the map, not its path
        return out

    def _refuse_other_data(self, last: Path, state: dict[str, Any]) -> None:
        """ConfigError when the checkpoint ``last`` was trained on other data (another data
        set, module map, graphs folder, event split or features) than this config gives."""
        stored = state.get("data_identity")
        if stored is None:  # a checkpoint of an older version: nothing to compare
            log.warning("%s records no data identity: cannot check the resumed data", last)
            return
        now = self._data_identity()
        differ = sorted(k for k in set(stored) | set(now) if stored.get(k) != now.get(k))
        if differ:
            lines = "; ".join(
                f"{k}: checkpoint {stored.get(k)!r}, now {now.get(k)!r}" for k in differ
            )
            raise ConfigError(
                f"{last} was trained on other data than this config gives ({lines}); resume "
                "needs the same data: restore it, or train into another output"
            )

    def _checkpoint(self, epoch: int) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "epoch": epoch,
            "model": type(self.model).__name__,
            "model_config": self.model.config,
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict(),
            "scaler_state": self.scaler.state_dict(),
            "history": self.history,
            "best_loss": self.best_loss,
            "config": self.config.to_dict(),
            "metadata": self._metadata(),
            "world_size": self.context.world_size,
            "data_identity": self._data_identity(),
            "rng": {"torch": torch.get_rng_state()},
        }

    def _write_checkpoints(self, epoch: int, is_best: bool) -> None:
        state = self._checkpoint(epoch)
        paths = []
        if self.config.training.keep_epoch_checkpoints:
            paths.append(self.checkpoints / f"epoch-{epoch:03d}.pt")
        if is_best:
            paths.append(self.checkpoints / "best.pt")
        paths.append(self.checkpoints / "last.pt")
        for path in paths:
            with atomic_path(path) as partial:
                torch.save(state, partial)
        write_json(self.output / "history.json", self.history)

    # -- one step ----------------------------------------------------------------------------
    def _autocast(self) -> Any:
        mp = self.config.training.mixed_precision
        if mp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if mp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _augment(self, sample: GraphSample, epoch: int, index: int) -> GraphSample:
        p = self.config.training.phi_reflection
        if p <= 0:
            return sample
        draw = np.random.default_rng([self.config.seed, 7919, epoch, index]).random()
        return sample.reflected(self.node_sign, self.edge_sign) if draw < p else sample

    def _training_sample(self, index: int, epoch: int) -> GraphSample:
        """Training sample ``index`` of ``epoch``: event ``index // S``, and with
        ``phi_sectors`` = S > 1 its wedge ``index % S``; the wedges of an event are rotated
        together by an angle drawn from (seed, epoch, event), so each epoch sees every edge
        that does not cross a wedge border once."""
        sectors = self.config.training.phi_sectors
        if sectors == 1:
            return self.train_set[index]
        event, sector = divmod(index, sectors)
        width = 2 * np.pi / sectors
        rotation = np.random.default_rng([self.config.seed, 104729, epoch, event]).random()
        return self.train_set[event].phi_sector((sector + rotation) * width, width)

    def _empty_sample(self) -> GraphSample:
        f, d = len(self.config.data.node_features), len(self.config.data.edge_features)
        return GraphSample(
            event_id=-1,
            x=torch.zeros(0, f),
            edge_index=torch.zeros(2, 0, dtype=torch.int64),
            y=torch.zeros(0),
            target=torch.zeros(0, dtype=torch.bool),
            weight=torch.zeros(0),
            edge_attr=torch.zeros(0, d) if d else None,
        )

    def step_sample(self, index: int | None, epoch: int) -> GraphSample:
        """Training sample ``index`` of ``epoch`` (phi wedge, reflection) on the device; an
        empty sample for None."""
        if index is None:
            return self._empty_sample().to(self.device)
        sample = self._augment(self._training_sample(index, epoch), epoch, index)
        return sample.to(self.device)

    def sample_loss(self, index: int | None, epoch: int) -> torch.Tensor:
        """The loss of training sample ``index`` in ``epoch`` (forward pass included).

        ``None`` stands for an empty sample, used by a process that has no event in a step:
        its zero loss still reaches every parameter, so DDP's gradient reduction matches."""
        sample = self.step_sample(index, epoch)
        with self._autocast():
            logits = self.ddp(sample.x, sample.edge_index, sample.edge_attr)
        return weighted_bce(logits, sample.y, sample.weight)

    def train_step(self, batch: list[int], epoch: int) -> tuple[float, int]:
        """One optimizer step on the global ``batch`` (dataset indices); returns the sum of
        this process's per-sample losses (:meth:`sample_loss`) and its number of samples."""
        ctx = self.context
        local = batch[ctx.rank :: ctx.world_size]
        scale = ctx.world_size / len(batch)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        items: list[int | None] = list(local) if local else [None]
        no_sync = getattr(self.ddp, "no_sync", None)
        for k, index in enumerate(items):
            sync = k == len(items) - 1 or not ctx.distributed
            with contextlib.nullcontext() if sync or no_sync is None else no_sync():
                loss = self.sample_loss(index, epoch)
                self.scaler.scale(loss * scale).backward()
            if index is not None:
                loss_sum += float(loss.detach())
        clip = self.config.optimizer.grad_clip
        if clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss_sum, len(local)

    # -- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, dataset: GnnDataset | None = None) -> dict[str, float]:
        """Loss, target-edge efficiency, purity and truth-edge efficiency at the score cut,
        summed over the (sharded) dataset and all processes."""
        dataset = self.val_set if dataset is None else dataset
        self.model.eval()
        cut = self.config.training.score_cut
        counts = EdgeCounts()
        for index in range(self.context.rank, len(dataset), self.context.world_size):
            s = dataset[index].to(self.device)
            with self._autocast():
                logits = self.model(s.x, s.edge_index, s.edge_attr)
            counts.loss += float(weighted_bce(logits, s.y, s.weight))
            kept = torch.sigmoid(logits.float()) > cut
            true = s.y > 0.5
            counts.events += 1
            counts.edges += s.n_edges
            counts.true += int(true.sum())
            counts.target += int(s.target.sum())
            counts.kept += int(kept.sum())
            counts.kept_true += int((kept & true).sum())
            counts.kept_target += int((kept & s.target).sum())
        summed = self.context.all_reduce_sum(counts.values(), self.device)
        return EdgeCounts(*summed).metrics()

    # -- the loop ----------------------------------------------------------------------------
    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """The global batches of ``epoch``: a permutation seeded by (seed, epoch)."""
        n_samples = len(self.train_set) * self.config.training.phi_sectors
        order = np.random.default_rng([self.config.seed, epoch]).permutation(n_samples)
        b = self.config.training.batch_size
        return [order[i : i + b].tolist() for i in range(0, len(order), b)]

    def fit(self) -> TrainingResult:
        """Train from ``start_epoch`` to ``training.epochs``; returns the result."""
        cfg = self.config
        if self.context.main:
            save_config(cfg, self.output / "config.yaml")
        for epoch in range(self.start_epoch, cfg.training.epochs):
            start = time.perf_counter()
            batches = self.epoch_batches(epoch)
            loss_sum, n_events = 0.0, 0.0
            with progress_bar(
                len(batches), f"epoch {epoch + 1}/{cfg.training.epochs}", "step", self.show_progress
            ) as bar:
                for batch in batches:
                    s, n = self.train_step(batch, epoch)
                    loss_sum, n_events = loss_sum + s, n_events + n
                    bar.set_postfix(
                        loss=f"{loss_sum / max(n_events, 1):.4f}",
                        lr=f"{self.optimizer.param_groups[0]['lr']:.2e}",
                    )
                    bar.update()
                loss_sum, n_events = self.context.all_reduce_sum([loss_sum, n_events], self.device)
                record: dict[str, float] = {
                    "epoch": epoch + 1,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "train_loss": loss_sum / max(n_events, 1),
                }
                if len(self.val_set):
                    record.update({f"val_{k}": v for k, v in self.evaluate().items()})
                record["seconds"] = time.perf_counter() - start
                bar.set_postfix(
                    {k: f"{v:.4g}" for k, v in record.items() if k.startswith(("train", "val"))}
                )
            self._report_unknown_modules()
            self.scheduler.step()
            self.history.append(record)
            monitored = record.get("val_loss", record["train_loss"])
            is_best = monitored < self.best_loss
            self.best_loss = min(self.best_loss, monitored)
            if self.context.main:
                self._write_checkpoints(epoch + 1, is_best)
                log.info("epoch %d: %s", epoch + 1, _format(record))
            self.context.barrier()
        files: list[Path] = []
        if self.context.main and cfg.training.export:
            files = self.export()
        self.context.barrier()
        return TrainingResult(self.model, self.history, self.output, files)

    def _report_unknown_modules(self) -> None:
        """Warn (once per new count) about hits on modules missing from the module map."""
        graphs = self.train_set.graphs
        counted = getattr(getattr(graphs, "source", graphs), "unknown_module_hits", 0)
        (total,) = self.context.all_reduce_sum([float(counted)], self.device)
        if total > getattr(self, "_unknown_reported", 0) and self.context.main:
            log.warning(
                "%d training hits so far lie on modules missing from the module map (no edges)",
                int(total),
            )
        self._unknown_reported = total

    def export(self) -> list[Path]:
        """Write ``<output>/gnn.onnx`` and ``<output>/gnn.pt`` (TorchScript), verified."""
        from acts_gnn.train.export import export_onnx, export_torchscript

        metadata = {**self._metadata(), **self.provenance}
        return [
            export_onnx(self.model, self.output / "gnn.onnx", metadata=metadata),
            export_torchscript(self.model, self.output / "gnn.pt", metadata=metadata),
        ]


def _format(record: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch")


def train_gnn(
    config: GnnTrainingConfig,
    *,
    resume: bool = False,
    progress: bool | None = None,
    train_set: GnnDataset | None = None,
    val_set: GnnDataset | None = None,
) -> TrainingResult:
    """Train the GNN edge classifier of ``config`` (under torchrun: one process of the job)."""
    trainer = GnnTrainer(config, train_set, val_set, resume=resume, progress=progress)
    try:
        return trainer.fit()
    finally:
        trainer.context.close()

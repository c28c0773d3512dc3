"""Training of the vertexing pair network (``acts-gnn train vertex``) and its exports.

Data: track-set files (:mod:`acts_gnn.io.track_sets`), one per event, written by the
Sequencer (:func:`acts_gnn.sequencer.vertexing_compare.run_vertexing_comparison` or
``addMlVertexing(..., outputTrackSets=...)``): fitted tracks with the truth vertex of each
matched track. The first ``train_events`` files train, the next ``val_events`` validate.
Samples: every pair the stage scores (|dz0| < ``window`` mm and < ``max_significance``
sigma, as at inference); target 1
when both tracks come from the same primary vertex (``truth_vertex`` > 0, neither from a
secondary), else 0. Loss: binary cross-entropy on the logits with positives weighted by
``pos_weight`` (0: negatives / positives of the training pairs). Each epoch visits the
training events in a seeded random order, one event's pairs (at most ``max_pairs``, a seeded
random subset) per step. Validation: pair AUC and the vertex metrics of the full stage
(:class:`~acts_gnn.chain.vertexing.VertexFinder` with the model) on the validation events.

Outputs in ``output``: ``config.yaml``, ``history.json``, ``checkpoints/last.pt`` (the
``acts-gnn-checkpoint`` format, so :func:`acts_gnn.nn.files.model_from_checkpoint` rebuilds
it) and, with ``export``, ``vertex-pairs.pt`` (TorchScript) and ``vertex-pairs.onnx`` with
the metadata (window, cut, clustering knobs, the training data), each verified against the
torch model (:func:`export_vertex_pairs`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from acts_gnn.chain.vertexing import TorchPairScorer, TrackSet, VertexFinder, compatible_pairs
from acts_gnn.io.atomic import atomic_path, write_json, write_text
from acts_gnn.io.track_sets import TruthTrackSet, read_track_set, track_set_files
from acts_gnn.metrics.edges import roc_auc
from acts_gnn.metrics.vertices import event_vertex_metrics, summarise_vertex_metrics
from acts_gnn.nn.files import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    load_torchscript,
    write_onnx,
    write_torchscript,
)
from acts_gnn.nn.vertex_pairs import N_TRACK_FEATURES, TRACK_FEATURES, VertexPairNet
from acts_gnn.train.config import ConfigError, load_config

log = logging.getLogger(__name__)

#: Pair counts (tracks, pairs) every export is verified on (zero pairs included).
VERIFY_SIZES = ((3, 0), (5, 1), (60, 200), (2000, 20000))


@dataclass
class VertexTrainingConfig:
    """``acts-gnn train vertex`` (see the module docstring and ``configs/vertex-pairs.yaml``)."""

    tracks: str = ""
    output: str = "output/vertex-pairs"
    train_events: int = 8
    val_events: int = 2
    window: float = 3.0
    max_significance: float = 6.0
    seed: int = 42
    device: str = "cpu"
    epochs: int = 20
    lr: float = 1e-3
    pos_weight: float = 0.0
    max_pairs: int = 200000
    model: dict[str, Any] = field(default_factory=dict)
    finder: dict[str, Any] = field(default_factory=lambda: {"cut": 0.5, "split_ncut": 0.9})
    export: bool = True
    progress: bool = True

    def validate(self, origin: str = "config") -> None:
        def bad(key: str, message: str) -> ConfigError:
            return ConfigError(f"{origin}: {key}: {message}")

        if not self.tracks:
            raise bad("tracks", "a folder of track-set files is needed")
        if self.train_events < 1 or self.val_events < 0:
            raise bad("train_events", "need >= 1 training and >= 0 validation events")
        if self.window <= 0 or self.epochs < 1 or self.lr <= 0 or self.max_pairs < 1:
            raise bad("window", "window, epochs, lr and max_pairs must be positive")
        if self.pos_weight < 0:
            raise bad("pos_weight", "is >= 0 (0: negatives / positives of the training pairs)")
        try:
            VertexPairNet(**self.model)
        except TypeError as err:
            raise bad("model", str(err)) from None
        known = {f.name for f in dataclasses.fields(VertexFinder)}
        known -= {"scorer", "window", "max_significance"}
        unknown = set(self.finder) - known
        if unknown or set(self.finder) & {"scorer", "window", "max_significance"}:
            raise bad("finder", f"not VertexFinder knobs here: {sorted(set(self.finder) - known)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_vertex_config(path: str | Path) -> VertexTrainingConfig:
    """Read and validate a ``train vertex`` YAML config."""
    config: VertexTrainingConfig = load_config(path, VertexTrainingConfig)  # type: ignore[type-var]
    return config


def pair_samples(
    tracks: TruthTrackSet, window: float, max_significance: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features [N, 10] float32, pairs [2, P] int64, targets [P] float32) of one event: the
    pairs the stage scores (:func:`~acts_gnn.chain.vertexing.compatible_pairs`)."""
    ts = TrackSet(tracks.params, tracks.covariance)
    pairs = compatible_pairs(ts, window, max_significance)
    truth = np.where(tracks.secondary, 0, tracks.truth_vertex)
    a, b = truth[pairs[0]], truth[pairs[1]]
    targets = ((a == b) & (a > 0)).astype(np.float32)
    return ts.features(), pairs, targets


def _finder(config: VertexTrainingConfig, model: torch.nn.Module) -> VertexFinder:
    knobs: dict[str, Any] = {"window": config.window, "max_significance": config.max_significance}
    knobs.update(config.finder)
    return VertexFinder(scorer=TorchPairScorer(model, config.device), **knobs)


def evaluate(
    model: torch.nn.Module, events: list[TruthTrackSet], config: VertexTrainingConfig
) -> dict[str, float]:
    """Pair AUC and the stage's vertex metrics (:mod:`acts_gnn.metrics.vertices`) on
    ``events``."""
    model.eval()
    scores, targets, metrics = [], [], []
    finder = _finder(config, model)
    with torch.no_grad():
        for ev in events:
            x, pairs, y = pair_samples(ev, config.window, config.max_significance)
            assert finder.scorer is not None
            scores.append(finder.scorer(x, pairs))
            targets.append(y)
            v = finder(TrackSet(ev.params, ev.covariance))
            metrics.append(
                event_vertex_metrics(
                    v.track_vertex,
                    np.where(ev.secondary, 0, ev.truth_vertex),
                    ev.truth_z,
                    reco_z=v.position[:, 2],
                )
            )
    s, t = np.concatenate(scores), np.concatenate(targets)
    out = {"auc": roc_auc(s, t == 1, t == 0) if 0 < t.sum() < len(t) else float("nan")}
    summary = summarise_vertex_metrics(metrics)
    for key in ("efficiency", "merge_rate", "split_rate", "fake_rate", "hs_identification_rate"):
        out[key] = float(summary[key])
    return out


def train_vertex_pairs(config: VertexTrainingConfig, progress: bool | None = None) -> Path:
    """Train (see the module docstring); returns the output folder."""
    from acts_gnn.progress import progress_bar

    files = track_set_files(config.tracks)
    need = config.train_events + config.val_events
    if len(files) < need:
        raise ConfigError(f"{config.tracks}: {len(files)} track-set files, {need} needed")
    train = [read_track_set(f) for f in files[: config.train_events]]
    val = [read_track_set(f) for f in files[config.train_events : need]]
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(config.device)
    model = VertexPairNet(**config.model).to(device)
    samples = [pair_samples(ev, config.window, config.max_significance) for ev in train]
    n_pos = sum(float(y.sum()) for _, _, y in samples)
    n_all = sum(len(y) for _, _, y in samples)
    if n_pos == 0 or n_pos == n_all:
        raise ConfigError(f"{config.tracks}: the training pairs hold only one class")
    pos_weight = (n_all - n_pos) / n_pos if config.pos_weight == 0 else config.pos_weight
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs)
    output = Path(config.output)
    (output / "checkpoints").mkdir(parents=True, exist_ok=True)
    write_text(output / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    history = []
    show = config.progress if progress is None else progress
    bar = progress_bar(config.epochs, "vertex pairs", "epoch", enabled=bool(show))
    for epoch in range(config.epochs):
        model.train()
        losses = []
        for i in rng.permutation(len(samples)):
            x, pairs, y = samples[i]
            if pairs.shape[1] > config.max_pairs:
                keep = rng.choice(pairs.shape[1], config.max_pairs, replace=False)
                pairs, y = pairs[:, keep], y[keep]
            logits = model(torch.from_numpy(x).to(device), torch.from_numpy(pairs).to(device))
            loss = loss_fn(logits, torch.from_numpy(y).to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        scheduler.step()
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses))}
        if val:
            row.update({f"val_{k}": v for k, v in evaluate(model, val, config).items()})
        history.append(row)
        log.info("epoch %d: %s", epoch + 1, row)
        bar.update(1)
    bar.close()
    metadata = {
        "track_features": list(TRACK_FEATURES),
        "window": config.window,
        "max_significance": config.max_significance,
        **{k: v for k, v in config.finder.items()},
        "training_tracks": config.tracks,
        "pos_weight": pos_weight,
        "validation": history[-1],
    }
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": "VertexPairNet",
        "model_config": model.config,
        "model_state": {k: v.cpu() for k, v in model.state_dict().items()},
        "history": history,
        "config": config.to_dict(),
        "metadata": metadata,
    }
    with atomic_path(output / "checkpoints" / "last.pt") as partial:
        torch.save(checkpoint, partial)
    write_json(output / "history.json", history)
    if config.export:
        export_vertex_pairs(
            model.cpu(), output / "vertex-pairs.onnx", output / "vertex-pairs.pt", metadata
        )
    return output


# ---------------------------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------------------------


def verify_inputs(n_tracks: int, n_pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Realistic random tracks [n_tracks, 10] (positive uncertainties) and pairs [2, n_pairs]
    that repeat tracks (half of them touch 3 hub tracks)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.empty(n_tracks, N_TRACK_FEATURES)
    x[:, 0] = torch.randn(n_tracks, generator=g) * 0.1
    x[:, 1] = torch.randn(n_tracks, generator=g) * 50.0
    x[:, 2] = (torch.rand(n_tracks, generator=g) * 2 - 1) * torch.pi
    x[:, 3] = 0.2 + torch.rand(n_tracks, generator=g) * 2.7
    x[:, 4] = (torch.rand(n_tracks, generator=g) * 2 - 1) * 2.0
    x[:, 5:] = torch.exp(torch.randn(n_tracks, 5, generator=g)) * torch.tensor(
        [0.05, 0.2, 2e-3, 1e-3, 5e-3]
    )
    pairs = torch.randint(0, max(n_tracks, 1), (2, n_pairs), generator=g)
    hubs = torch.randint(0, min(3, max(n_tracks, 1)), (n_pairs,), generator=g)
    pairs[1] = torch.where(torch.arange(n_pairs) % 2 == 0, hubs, pairs[1])
    return x, pairs


def export_vertex_pairs(
    model: torch.nn.Module,
    onnx_path: str | Path | None,
    torchscript_path: str | Path | None,
    metadata: dict[str, Any] | None = None,
    opset: int = 17,
    atol: float = 1e-4,
) -> dict[str, float]:
    """Write the pair network as ONNX (inputs ``x`` [N, 10], ``edge_index`` [2, P]; output
    ``output`` [P] logits) and / or TorchScript, with ``metadata`` (plus ``model`` and
    ``model_config``); verify each on :data:`VERIFY_SIZES` and return max |torch - export|
    per format (raises :class:`~acts_gnn.train.export.ExportError` beyond ``atol``)."""
    from acts_gnn.train.export import ExportError

    model = model.cpu().eval()
    info = {**(metadata or {}), "model": type(model).__name__, "model_config": model.config}
    worst: dict[str, float] = {}
    runners: dict[str, Any] = {}
    if onnx_path is not None:
        from acts_gnn.extras import onnxruntime

        x, pairs = verify_inputs(16, 40, 0)
        axes = {"x": {0: "n_tracks"}, "edge_index": {1: "n_pairs"}, "output": {0: "n_pairs"}}
        write_onnx(model, (x, pairs), Path(onnx_path), ["x", "edge_index"], axes, info, opset)
        session = onnxruntime().InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        runners["onnx"] = lambda x, e: torch.from_numpy(
            session.run(None, {"x": x.numpy(), "edge_index": e.numpy()})[0]
        )
    if torchscript_path is not None:
        write_torchscript(model, Path(torchscript_path), info)
        loaded = load_torchscript(torchscript_path)
        runners["torchscript"] = loaded
    with torch.no_grad():
        for name, run in runners.items():
            worst[name] = 0.0
            for seed, (n, p) in enumerate(VERIFY_SIZES):
                x, pairs = verify_inputs(n, p, seed)
                out, ref = run(x, pairs), model(x, pairs)
                if tuple(out.shape) != tuple(ref.shape):
                    raise ExportError(f"{name}: output shape {tuple(out.shape)} for {p} pairs")
                if p:
                    worst[name] = max(worst[name], float((out - ref).abs().max()))
            if worst[name] > atol:
                raise ExportError(f"{name} export differs from torch by {worst[name]:.2e}")
    log.info("verified vertex-pair exports: %s", json.dumps(worst))
    return worst

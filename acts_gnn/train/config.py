"""Training configuration: dataclasses read from YAML, every hyperparameter in one file.

A config file has the sections of :class:`GnnTrainingConfig` (``data``, ``model``, ``loss``,
``optimizer``, ``training``) plus ``output``, ``seed`` and ``device`` at the top level; see
``configs/gnn.yaml`` for a commented example. Keys that are not fields are rejected with an
error naming the file, the section and the known keys, so a typo never silently falls back to
a default. The resolved config (defaults filled in, command-line overrides applied) is written
as ``<output>/config.yaml`` next to the checkpoints.

Units: momenta in GeV, lengths in mm. Feature scales *divide* the raw column (the upstream ACTS
``featureScales`` convention): ``r`` with scale 1000 enters the network as r / 1000 mm.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

import yaml

from acts_gnn.graph.features import EDGE_FEATURE_PARITY, NODE_FEATURE_PARITY
from acts_gnn.io.atomic import write_text


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file, section and key."""


@dataclass
class SelectionConfig:
    """Particles whose truth edges are training *targets* (units: GeV)."""

    min_pt: float = 1.0
    min_hits: int = 3
    primaries_only: bool = False
    max_abs_eta: float | None = None


@dataclass
class SyntheticConfig:
    """Toy events (helices in a 2 T solenoid through barrel layers), for tests and smoke runs.

    Lengths in mm, momenta in GeV; ``noise_hits`` random hits per event.
    """

    n_events: int = 16
    n_particles: int = 40
    noise_hits: int = 20
    layers: list[float] = field(
        default_factory=lambda: [40.0, 80.0, 130.0, 180.0, 260.0, 360.0, 500.0, 660.0]
    )
    half_length: float = 1000.0
    min_pt: float = 0.3
    max_eta: float = 2.5
    max_dphi: float = 0.15
    max_z0: float = 150.0
    seed: int = 1


@dataclass
class DataConfig:
    """Where events and graphs come from, node / edge features, and the event split.

    ``source``: ``prepared`` (``input`` folder from ``acts-gnn prepare``) or ``synthetic``.
    Graphs: from ``module_map`` (built per event with the C++ module-map builder, cached as
    ``<output>/graphs/event*-graph.npz`` when ``cache_graphs``) or read from ``graphs`` (a
    folder of ``event*-graph.npz`` written by any graph builder). Events: the first
    ``train_events`` for training, the next ``val_events`` for validation (null: all the rest).
    """

    source: str = "prepared"
    input: str | None = None
    module_map: str | None = None
    graphs: str | None = None
    cache_graphs: bool = True
    in_memory: bool = True
    graph_threads: int = 1
    train_events: int | None = None
    val_events: int = 1
    node_features: list[str] = field(default_factory=lambda: ["r", "phi", "z", "eta"])
    feature_scales: list[float] = field(default_factory=lambda: [1000.0, math.pi, 1000.0, 1.0])
    edge_features: list[str] = field(default_factory=list)
    edge_feature_scales: list[float] = field(default_factory=list)
    target: SelectionConfig = field(default_factory=SelectionConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    """Interaction Network architecture (see :class:`acts_gnn.nn.InteractionNetwork`)."""

    hidden: int = 128
    n_iterations: int = 8
    n_node_layers: int = 2
    n_edge_layers: int = 2
    n_decoder_layers: int = 2
    layer_norm: bool = True
    activation: str = "SiLU"
    aggregation: str = "sum"
    recurrent: bool = False


@dataclass
class LossConfig:
    """Weighted binary cross-entropy.

    Edge weights: ``pos_weight`` for target edges (truth edges of target particles),
    ``non_target_weight`` for other truth edges (0: ignored, as in GNN4ITk), ``fake_weight``
    for fake edges. ``hit_weights: trackml`` multiplies the weight of every truth edge by the
    mean TrackML score weight of its two hits (normalised to mean 1 over weighted hits).
    ``target_pt_weights``: knots ``[[pT_GeV, factor], ...]`` (pT increasing, factors >= 0)
    that multiply the weight of every target edge by the factor interpolated linearly at its
    particle's pT (constant beyond the first and last knot; empty: no pT weighting), so that
    the rare high-pT edges keep their share of a low-pT training. The per-event loss is
    sum(w * bce) / sum(w); a batch averages its events.
    """

    pos_weight: float = 1.0
    non_target_weight: float = 0.0
    fake_weight: float = 1.0
    hit_weights: str = "none"
    target_pt_weights: list[list[float]] = field(default_factory=list)


def validate_loss(loss: LossConfig, origin: str) -> None:
    """Checks of a :class:`LossConfig`; raises :class:`ConfigError` naming ``origin``."""
    if loss.hit_weights not in ("none", "trackml"):
        raise ConfigError(f"{origin}: loss.hit_weights: must be none or trackml")
    knots = loss.target_pt_weights
    if any(len(k) != 2 for k in knots):
        raise ConfigError(f"{origin}: loss.target_pt_weights: each knot is [pT_GeV, factor]")
    if not all(math.isfinite(v) for k in knots for v in k):
        raise ConfigError(f"{origin}: loss.target_pt_weights: knots must be finite numbers")
    pts = [k[0] for k in knots]
    if any(b <= a for a, b in itertools.pairwise(pts)):
        raise ConfigError(f"{origin}: loss.target_pt_weights: pT must increase, got {pts}")
    if any(k[1] < 0 for k in knots):
        raise ConfigError(f"{origin}: loss.target_pt_weights: factors must be >= 0")


@dataclass
class OptimizerConfig:
    """Optimizer and learning-rate schedule (stepped once per epoch)."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    amsgrad: bool = True
    scheduler: str = "step"
    step_size: int = 10
    gamma: float = 0.5
    min_lr: float = 0.0
    warmup_epochs: int = 0
    grad_clip: float | None = None


@dataclass
class TrainingConfig:
    """The loop: epochs, (global) batch size in events, precision, memory savers, augmentation.

    ``batch_size`` counts events per optimizer step over all processes (with torchrun, each
    of the W processes takes batch_size / W of them). ``phi_reflection`` is the probability
    of flipping phi -> -phi (y -> -y) of an event's features. ``phi_sectors`` = S > 1 splits
    every training event into S azimuthal wedges (random rotation per epoch; edges crossing a
    wedge border dropped), one optimizer sample each: S times more, S times smaller steps per
    epoch, for large events on CPU. ``mixed_precision``: ``none``,
    ``bf16`` or ``fp16`` (CUDA, with gradient scaling). ``init_from``: start from the weights
    of an exported model or a checkpoint of the same architecture (fine-tuning; see
    :mod:`acts_gnn.train.init_weights`) instead of random ones.
    """

    epochs: int = 20
    batch_size: int = 1
    mixed_precision: str = "none"
    gradient_checkpointing: bool = False
    phi_reflection: float = 0.0
    phi_sectors: int = 1
    score_cut: float = 0.5
    threads: int | None = None
    progress: bool = True
    keep_epoch_checkpoints: bool = True
    export: bool = True
    init_from: str | None = None


@dataclass
class GnnTrainingConfig:
    """Everything ``acts-gnn train gnn`` needs; ``output`` is the folder for all outputs."""

    output: str = "output/gnn"
    seed: int = 42
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self, origin: str = "config") -> None:
        """Check values that YAML types cannot; raises :class:`ConfigError`."""
        d, lo = self.data, self.loss
        validate_common(self, origin)
        if d.source == "prepared" and not d.module_map and not d.graphs:
            raise ConfigError(f"{origin}: data.module_map: give a module map or a graphs folder")
        validate_loss(lo, origin)
        if self.model.aggregation not in ("sum", "mean", "sum_mean"):
            raise ConfigError(f"{origin}: model.aggregation: must be sum, mean or sum_mean")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrainingConfigLike(Protocol):
    """What every training config (GNN, embedding, filter) shares with the training loop."""

    output: str
    seed: int
    device: str
    data: DataConfig
    optimizer: OptimizerConfig
    training: TrainingConfig

    def validate(self, origin: str = "config") -> None: ...

    def to_dict(self) -> dict[str, Any]: ...


def validate_common(config: TrainingConfigLike, origin: str) -> None:
    """Checks of the shared sections (data, optimizer, training, device); raises
    :class:`ConfigError` naming ``origin``, the section and the key."""
    d, t, o = config.data, config.training, config.optimizer

    def bad(section: str, key: str, message: str) -> ConfigError:
        return ConfigError(f"{origin}: {section}.{key}: {message}")

    if d.source not in ("prepared", "synthetic"):
        raise bad("data", "source", f"must be 'prepared' or 'synthetic', got {d.source!r}")
    if d.source == "prepared" and not d.input:
        raise bad("data", "input", "a prepared-event folder is needed")
    if len(d.feature_scales) != len(d.node_features):
        raise bad("data", "feature_scales", "needs one scale per node feature")
    if len(d.edge_feature_scales) != len(d.edge_features):
        raise bad("data", "edge_feature_scales", "needs one scale per edge feature")
    for name in d.node_features:
        if name not in NODE_FEATURE_PARITY:
            raise bad(
                "data",
                "node_features",
                f"unknown column {name!r}; known: {sorted(NODE_FEATURE_PARITY)}",
            )
    for name in d.edge_features:
        if name not in EDGE_FEATURE_PARITY:
            raise bad(
                "data",
                "edge_features",
                f"unknown edge feature {name!r}; known: {list(EDGE_FEATURE_PARITY)}",
            )
    if any(s == 0 for s in [*d.feature_scales, *d.edge_feature_scales]):
        raise bad("data", "feature_scales", "scales divide the features: no zeros")
    if d.val_events < 0 or (d.train_events is not None and d.train_events < 1):
        raise bad("data", "train_events", "need >= 1 training and >= 0 validation events")
    if getattr(t, "phi_sectors", 1) < 1:
        raise bad("training", "phi_sectors", "is a number of wedges >= 1")
    if not 0.0 <= t.phi_reflection <= 1.0:
        raise bad("training", "phi_reflection", "is a probability in [0, 1]")
    if t.phi_reflection > 0:
        unknown = [n for n in d.node_features if NODE_FEATURE_PARITY[n] == 0]
        if unknown:
            raise bad(
                "training",
                "phi_reflection",
                f"node features {unknown} have no known behaviour under phi -> -phi",
            )
    if t.mixed_precision not in ("none", "bf16", "fp16"):
        raise bad("training", "mixed_precision", "must be none, bf16 or fp16")
    if t.epochs < 1 or t.batch_size < 1:
        raise bad("training", "epochs", "epochs and batch_size must be >= 1")
    if o.name not in ("adam", "adamw"):
        raise bad("optimizer", "name", f"must be adam or adamw, got {o.name!r}")
    if o.scheduler not in ("step", "cosine", "none"):
        raise bad("optimizer", "scheduler", "must be step, cosine or none")
    device = config.device
    if device not in ("cpu", "cuda", "auto") and not device.startswith("cuda:"):
        raise bad("top level", "device", "must be cpu, cuda, cuda:N or auto")


# ---------------------------------------------------------------------------------------------
# dict <-> dataclass with strict keys and simple type checks
# ---------------------------------------------------------------------------------------------


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a section (mapping), got {value!r}")
        return _from_dict(hint, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):
            value = _parse_float(value, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _parse_float(text: str, where: str) -> float:
    """Numbers YAML 1.1 reads as strings: '1e-3', 'pi', '2*pi', 'pi/2'."""
    t = text.strip().lower().replace(" ", "")
    try:
        return float(t)
    except ValueError:
        pass
    try:
        if t == "pi":
            return math.pi
        if t.endswith("*pi"):
            return float(t[:-3]) * math.pi
        if t.startswith("pi/"):
            return math.pi / float(t[3:])
    except ValueError:
        pass
    raise ConfigError(f"{where}: expected a number, got {text!r}")


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {unknown}; known keys: {names}"
        )
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


ConfigT = TypeVar("ConfigT", bound=TrainingConfigLike)


@overload
def config_from_dict(data: dict[str, Any], origin: str = ...) -> GnnTrainingConfig: ...
@overload
def config_from_dict(data: dict[str, Any], origin: str, cls: type[ConfigT]) -> ConfigT: ...
def config_from_dict(
    data: dict[str, Any], origin: str = "config", cls: type[Any] = GnnTrainingConfig
) -> Any:
    """A validated config of class ``cls`` (default: the GNN's) from a dict, as read from
    YAML; ``origin`` names it in errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping")
    config = _from_dict(cls, data, origin)
    config.validate(origin)
    return config


@overload
def load_config(path: str | Path) -> GnnTrainingConfig: ...
@overload
def load_config(path: str | Path, cls: type[ConfigT]) -> ConfigT: ...
def load_config(path: str | Path, cls: type[Any] = GnnTrainingConfig) -> Any:
    """Read and validate a YAML config file (of class ``cls``, default: the GNN's)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    return config_from_dict(data, str(path), cls)


def dump_config(config: TrainingConfigLike) -> str:
    """The config as YAML text (every key, defaults included)."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)


def save_config(config: TrainingConfigLike, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically); returns the path."""
    return write_text(
        path,
        "# resolved acts-gnn training config (defaults filled in, overrides applied)\n"
        + dump_config(config),
    )

"""Configs of the metric-learning graph stages: the embedding network and the edge filter.

They share the sections ``data`` (:class:`DataConfig`), ``optimizer`` and ``training`` and the
top-level ``output``, ``seed``, ``device`` with the GNN config (:mod:`acts_gnn.train.config`),
are read the same way (unknown keys are errors naming the file, section and key) and written
resolved as ``<output>/config.yaml``. See ``configs/embedding.yaml`` and ``configs/filter.yaml``.

Units: distances in the embedding space are dimensionless (the hinge margin sets their scale);
momenta in GeV, lengths in mm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from acts_gnn.train.config import (
    ConfigError,
    DataConfig,
    LossConfig,
    OptimizerConfig,
    TrainingConfig,
    validate_common,
    validate_loss,
)

KNN_BACKENDS = ("auto", "grid", "faiss", "kdtree", "brute")


def _no_phi_sectors(training: TrainingConfig, origin: str) -> None:
    if training.phi_sectors != 1:
        raise ConfigError(
            f"{origin}: training.phi_sectors: the embedding uses mining.phi_slices instead"
        )


@dataclass
class EmbeddingModelConfig:
    """:class:`acts_gnn.nn.embedding.EmbeddingNet` architecture."""

    embedding_dim: int = 8
    hidden: int = 256
    n_layers: int = 4
    layer_norm: bool = True
    activation: str = "Tanh"
    normalize: bool = False
    fourier_octaves: int = 0
    periodic_features: list[int] = field(default_factory=list)


@dataclass
class HingeLossConfig:
    """Pairwise hinge loss on squared embedding distances d^2 (Exa.TrkX eq. 4, p = 2).

    Positive pairs (consecutive hits of one particle, the truth graph) contribute d^2,
    negative pairs max(0, margin^2 - d^2) (``negatives: squared``, the paper's), or max(0,
    margin - d)^2 (``linear``, the contrastive loss, whose push on a negative pair does not
    vanish as d -> 0: it separates a collapsed embedding faster). The loss is ``mean_w(negatives) + pos_weight *
    mean_w(positives)``, each a weighted mean, so that it does not depend on how many pairs of
    each kind were drawn. Weights: truth pairs of target particles 1, of other particles
    ``non_target_weight``; negatives 1, except pairs of two hits of one particle that are not
    consecutive (``same_particle_weight``; 0 ignores them).
    """

    margin: float = 1.0
    pos_weight: float = 1.0
    non_target_weight: float = 0.3
    same_particle_weight: float = 0.0
    negatives: str = "squared"


@dataclass
class MiningConfig:
    """Training pairs per event: truth pairs, random pairs, hard negatives.

    ``sources``: hits per event whose neighbourhoods are mined (0: every hit); around each,
    up to ``knn`` nearest hits within the margin (the pairs that still give a gradient) join the
    loss, found with the ``backend`` neighbour search on the current embeddings. Hard-negative
    mining starts at epoch ``hnm_start_epoch`` (0-based; before it, random pairs only).
    ``random_pairs``: pairs of uniformly drawn hits per event. ``phi_slices`` > 1: each step
    takes a random azimuthal sector of 2 pi / phi_slices of its event (same hit density, that
    many times cheaper steps; truth pairs crossing the sector edge are left out).
    """

    sources: int = 20000
    knn: int = 50
    random_pairs: int = 100000
    hnm_start_epoch: int = 1
    backend: str = "auto"
    phi_slices: int = 1


@dataclass
class RadiusGraphConfig:
    """The graph built in the embedding space: radius ``r``, at most ``k`` neighbours.

    Validation reports edge efficiency (truth edges of target particles found), purity and
    edges per hit at ``r`` every epoch, and the smallest radius of ``radii`` reaching
    ``target_efficiency``; the exported model records that radius (or ``r`` if none does).
    ``val_phi_slices`` > 1: validate on one azimuthal sector of 2 pi / val_phi_slices per event
    (cheaper; the same hit density).
    """

    r: float = 0.5
    k: int = 500
    radii: list[float] = field(
        default_factory=lambda: [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]
    )
    target_efficiency: float = 0.99
    backend: str = "auto"
    val_phi_slices: int = 1


@dataclass
class EmbeddingTrainingConfig:
    """Everything ``acts-gnn train embedding`` needs; ``output`` is the folder for outputs."""

    output: str = "output/embedding"
    seed: int = 42
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: EmbeddingModelConfig = field(default_factory=EmbeddingModelConfig)
    loss: HingeLossConfig = field(default_factory=HingeLossConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)
    graph: RadiusGraphConfig = field(default_factory=RadiusGraphConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self, origin: str = "config") -> None:
        """Check values that YAML types cannot; raises :class:`ConfigError`."""
        validate_common(self, origin)
        d, m, lo, mi, g = self.data, self.model, self.loss, self.mining, self.graph
        _no_phi_sectors(self.training, origin)
        if d.module_map or d.graphs or d.edge_features:
            raise ConfigError(
                f"{origin}: data: module_map, graphs and edge_features are not used by the "
                "embedding; remove them"
            )
        if m.embedding_dim < 1 or m.hidden < 1 or m.n_layers < 0:
            raise ConfigError(f"{origin}: model: embedding_dim, hidden >= 1, n_layers >= 0")
        if lo.margin <= 0:
            raise ConfigError(f"{origin}: loss.margin: must be > 0")
        if lo.negatives not in ("squared", "linear"):
            raise ConfigError(f"{origin}: loss.negatives: must be squared or linear")
        if min(lo.pos_weight, lo.non_target_weight, lo.same_particle_weight) < 0:
            raise ConfigError(f"{origin}: loss: weights must be >= 0")
        if mi.phi_slices < 1 or g.val_phi_slices < 1:
            raise ConfigError(f"{origin}: mining.phi_slices, graph.val_phi_slices: >= 1")
        if mi.sources < 0 or mi.knn < 1 or mi.random_pairs < 0 or mi.hnm_start_epoch < 0:
            raise ConfigError(
                f"{origin}: mining: sources >= 0, knn >= 1, random_pairs >= 0, hnm_start_epoch >= 0"
            )
        _check_backend(mi.backend, origin, "mining")
        _check_backend(g.backend, origin, "graph")
        if g.r <= 0 or g.k < 1 or any(r <= 0 for r in g.radii):
            raise ConfigError(f"{origin}: graph: r and radii must be > 0, k >= 1")
        if not 0 < g.target_efficiency <= 1:
            raise ConfigError(f"{origin}: graph.target_efficiency: in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FilterModelConfig:
    """:class:`acts_gnn.nn.filter.EdgeFilter` architecture."""

    hidden: int = 256
    n_layers: int = 3
    layer_norm: bool = True
    activation: str = "Tanh"


@dataclass
class FilterGraphConfig:
    """Where the filter's input graphs come from: the embedding model (checkpoint,
    TorchScript or ONNX file) and its radius graph (``r``, ``k``; null: the values recorded
    in the model at export / in the checkpoint). Ignored when ``data.graphs`` names a folder
    of stored graphs. Edges are oriented inner -> outer (by distance from the origin)."""

    embedding: str | None = None
    r: float | None = None
    k: int | None = None
    backend: str = "auto"


@dataclass
class BalanceConfig:
    """Balanced batches (Exa.TrkX 5.2): every true edge of the event, plus ``hard_negatives``
    times as many fake edges with the highest current scores and ``easy_negatives`` times as
    many random fake edges; the hard ones are the highest-scored among all fakes, or among
    ``hard_pool`` times as many random fakes (0: all). ``balanced: false`` trains on every
    edge instead."""

    balanced: bool = True
    hard_negatives: float = 1.0
    easy_negatives: float = 1.0
    hard_pool: float = 0.0


@dataclass
class CutConfig:
    """The score cut recorded with the exported filter: the largest cut that keeps
    ``target_efficiency`` of the target truth edges of the validation graphs."""

    target_efficiency: float = 0.99


@dataclass
class FilterTrainingConfig:
    """Everything ``acts-gnn train filter`` needs; ``output`` is the folder for outputs."""

    output: str = "output/filter"
    seed: int = 42
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    graph: FilterGraphConfig = field(default_factory=FilterGraphConfig)
    model: FilterModelConfig = field(default_factory=FilterModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampling: BalanceConfig = field(default_factory=BalanceConfig)
    cut: CutConfig = field(default_factory=CutConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self, origin: str = "config") -> None:
        """Check values that YAML types cannot; raises :class:`ConfigError`."""
        validate_common(self, origin)
        d, g, s = self.data, self.graph, self.sampling
        if d.module_map:
            raise ConfigError(f"{origin}: data.module_map: the filter runs on embedding graphs")
        if not d.graphs and not g.embedding:
            raise ConfigError(
                f"{origin}: graph.embedding: give the embedding model (or data.graphs, a folder "
                "of stored graphs)"
            )
        if (g.r is not None and g.r <= 0) or (g.k is not None and g.k < 1):
            raise ConfigError(f"{origin}: graph: r must be > 0 and k >= 1")
        _check_backend(g.backend, origin, "graph")
        if min(s.hard_negatives, s.easy_negatives, s.hard_pool) < 0:
            raise ConfigError(f"{origin}: sampling: negative ratios must be >= 0")
        validate_loss(self.loss, origin)
        if not 0 < self.cut.target_efficiency <= 1:
            raise ConfigError(f"{origin}: cut.target_efficiency: in (0, 1]")
        if self.training.gradient_checkpointing:
            raise ConfigError(f"{origin}: training.gradient_checkpointing: not for the filter")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_backend(name: str, origin: str, section: str) -> None:
    if name not in KNN_BACKENDS:
        raise ConfigError(f"{origin}: {section}.backend: must be one of {KNN_BACKENDS}")

"""acts-gnn: graph-neural-network track finding for ACTS, pip-installable, CPU and GPU.

Units are ACTS units everywhere (mm, GeV, ns, e).

Each sub-package has one role; data flows down this list, never up (``train`` on top uses
everything, nothing but ``cli`` uses ``train``):

- :mod:`acts_gnn.io` -- ROOT and Parquet readers and writers, the ACTS event data model, atomic
  file writes (:mod:`acts_gnn.io.atomic`);
- :mod:`acts_gnn.detector` -- the generic detector: geometry, field, digitization configs,
  surface transforms;
- :mod:`acts_gnn.simulation` -- event generation, ACTS fast simulation (Fatras) and
  ``prepare`` (digitization into prepared Parquet events);
- :mod:`acts_gnn.graph` -- graphs over an event's hits: truth graph, node and edge features,
  module maps, metric learning, k-nearest-neighbour search, graph files;
- :mod:`acts_gnn.nn` -- torch modules (MLPs, Interaction Network, embedding, filter) and model
  files (TorchScript, ONNX, checkpoints);
- :mod:`acts_gnn.chain` -- the framework-free chain: graph, edge classifiers, track building;
- :mod:`acts_gnn.sequencer` -- the ACTS integration: ``TrackFindingAlgorithmGnn`` and the
  ``addXxx`` sequencer helpers, GNN vs seeding + CKF comparison (imports ACTS);
- :mod:`acts_gnn.evaluation` -- edge-level GNN evaluation, the geometry report, the plots;
- :mod:`acts_gnn.metrics` -- edge and track metrics;
- :mod:`acts_gnn.train` -- training configs, data sets, loops and model export;
- :mod:`acts_gnn.cli` -- the ``acts-gnn`` command and its subcommands.

The main public names are importable from here (``from acts_gnn import GnnPipeline``). Only
:class:`InputDataError` is imported with the package: every other name is imported on first
use, so ``import acts_gnn`` neither imports ACTS nor torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

try:
    from acts_gnn import _core  # noqa: F401
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "acts_gnn._core (the C++ extension) is missing: install the package with "
        "'pip install .' from a checkout (it is built by scikit-build-core) rather than "
        "importing the source folder directly"
    ) from err

from typing import TYPE_CHECKING, Any

from acts_gnn.errors import InputDataError

if TYPE_CHECKING:
    from acts_gnn.chain.classify import OnnxEdgeClassifier, TorchEdgeClassifier
    from acts_gnn.chain.cleaning import CleanedTrackBuilding, HelixOutlierRemoval
    from acts_gnn.chain.defaults import default_files
    from acts_gnn.chain.pipeline import GnnPipeline
    from acts_gnn.chain.tracks import (
        ConnectedComponentsTrackBuilding,
        JunctionRemovalTrackBuilding,
        WalkthroughTrackBuilding,
    )
    from acts_gnn.chain.upstream import (
        BoostTrackBuilding,
        CudaTrackBuilding,
        Device,
        ModuleMapCuda,
        NodeFeature,
        TorchMetricLearning,
    )
    from acts_gnn.event import Event
    from acts_gnn.graph.metric_learning import MetricLearning
    from acts_gnn.graph.module_map.build import build_module_map
    from acts_gnn.graph.module_map.formats import load_module_map
    from acts_gnn.graph.module_map.graph_builder import ModuleMapGraphBuilder
    from acts_gnn.graph.module_map.map import ModuleMap
    from acts_gnn.graph.module_map.torch_builder import TorchModuleMapGraphBuilder
    from acts_gnn.graph.truth import TruthSelection, truth_graph
    from acts_gnn.io.event_store import PreparedDataset
    from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn
    from acts_gnn.sequencer.reconstruction import (
        CkfSettings,
        ParticleSelectionSettings,
        addCkfReference,
        addGnn,
        addParticleSelection,
        addRootSimulationInput,
        addSpacePoints,
        addTrackPerformance,
        addTrackQualitySelection,
    )

#: Where each lazily imported public name lives (name -> module).
LAZY_NAMES: dict[str, str] = {
    # the event and its prepared files
    "Event": "acts_gnn.event",
    "PreparedDataset": "acts_gnn.io.event_store",
    # graphs
    "TruthSelection": "acts_gnn.graph.truth",
    "truth_graph": "acts_gnn.graph.truth",
    "ModuleMap": "acts_gnn.graph.module_map.map",
    "ModuleMapGraphBuilder": "acts_gnn.graph.module_map.graph_builder",
    "TorchModuleMapGraphBuilder": "acts_gnn.graph.module_map.torch_builder",
    "build_module_map": "acts_gnn.graph.module_map.build",
    "load_module_map": "acts_gnn.graph.module_map.formats",
    "MetricLearning": "acts_gnn.graph.metric_learning",
    # the framework-free chain
    "GnnPipeline": "acts_gnn.chain.pipeline",
    "TorchEdgeClassifier": "acts_gnn.chain.classify",
    "OnnxEdgeClassifier": "acts_gnn.chain.classify",
    "ConnectedComponentsTrackBuilding": "acts_gnn.chain.tracks",
    "JunctionRemovalTrackBuilding": "acts_gnn.chain.tracks",
    "WalkthroughTrackBuilding": "acts_gnn.chain.tracks",
    "HelixOutlierRemoval": "acts_gnn.chain.cleaning",
    "CleanedTrackBuilding": "acts_gnn.chain.cleaning",
    "default_files": "acts_gnn.chain.defaults",
    # upstream ACTS's stage names, knobs and defaults (acts.gnn / acts.examples.gnn)
    "Device": "acts_gnn.chain.upstream",
    "NodeFeature": "acts_gnn.chain.upstream",
    "TorchMetricLearning": "acts_gnn.chain.upstream",
    "ModuleMapCuda": "acts_gnn.chain.upstream",
    "BoostTrackBuilding": "acts_gnn.chain.upstream",
    "CudaTrackBuilding": "acts_gnn.chain.upstream",
    # the ACTS integration (imports ACTS)
    "TrackFindingAlgorithmGnn": "acts_gnn.sequencer.algorithm",
    "addRootSimulationInput": "acts_gnn.sequencer.reconstruction",
    "addSpacePoints": "acts_gnn.sequencer.reconstruction",
    "addGnn": "acts_gnn.sequencer.reconstruction",
    "CkfSettings": "acts_gnn.sequencer.reconstruction",
    "addCkfReference": "acts_gnn.sequencer.reconstruction",
    "addTrackQualitySelection": "acts_gnn.sequencer.reconstruction",
    "ParticleSelectionSettings": "acts_gnn.sequencer.reconstruction",
    "addParticleSelection": "acts_gnn.sequencer.reconstruction",
    "addTrackPerformance": "acts_gnn.sequencer.reconstruction",
}

#: The public names: :class:`InputDataError`, ``__version__`` and every :data:`LAZY_NAMES` key.
__all__ = [
    "BoostTrackBuilding",
    "CkfSettings",
    "CleanedTrackBuilding",
    "ConnectedComponentsTrackBuilding",
    "CudaTrackBuilding",
    "Device",
    "Event",
    "GnnPipeline",
    "HelixOutlierRemoval",
    "InputDataError",
    "JunctionRemovalTrackBuilding",
    "MetricLearning",
    "ModuleMap",
    "ModuleMapCuda",
    "ModuleMapGraphBuilder",
    "NodeFeature",
    "OnnxEdgeClassifier",
    "ParticleSelectionSettings",
    "PreparedDataset",
    "TorchEdgeClassifier",
    "TorchMetricLearning",
    "TorchModuleMapGraphBuilder",
    "TrackFindingAlgorithmGnn",
    "TruthSelection",
    "WalkthroughTrackBuilding",
    "__version__",
    "addCkfReference",
    "addGnn",
    "addParticleSelection",
    "addRootSimulationInput",
    "addSpacePoints",
    "addTrackPerformance",
    "addTrackQualitySelection",
    "build_module_map",
    "default_files",
    "load_module_map",
    "truth_graph",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (see :data:`LAZY_NAMES`)."""
    module = LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'acts_gnn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""acts-gnn: graph-neural-network track finding for ACTS, pip-installable, CPU and GPU.

Units are ACTS units everywhere (mm, GeV, ns, e).
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

from typing import Any

from acts_gnn.errors import InputDataError

__all__ = ["InputDataError", "TrackFindingAlgorithmGnn", "__version__"]


def __getattr__(name: str) -> Any:
    """``acts_gnn.TrackFindingAlgorithmGnn`` without importing ACTS on ``import acts_gnn``."""
    if name == "TrackFindingAlgorithmGnn":
        from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn

        return TrackFindingAlgorithmGnn
    raise AttributeError(f"module 'acts_gnn' has no attribute {name!r}")

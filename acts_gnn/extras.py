"""Every optional import in one place, each with the command that installs it.

The GPU builds replace the CPU builds of the same libraries (they cannot be installed side by
side): ``pip uninstall -y onnxruntime faiss-cpu && pip install "acts-gnn[gpu-cu12]"``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_HINTS = {
    "cugraph": 'pip install "acts-gnn[gpu-cu12]" (needs CUDA 12; replaces nothing on CPU)',
    "faiss": 'pip install faiss-cpu (CPU) or, for CUDA 12: pip uninstall -y faiss-cpu && pip install "acts-gnn[gpu-cu12]"',
    "onnxruntime": 'pip install onnxruntime (CPU) or, for CUDA 12: pip uninstall -y onnxruntime && pip install "acts-gnn[gpu-cu12]"',
    "torch": 'pip install "torch==2.13.*" (CPU wheel) or the CUDA build from pytorch.org',
    "py_spy": "pip install py-spy",
    "pythia8mc": 'pip install "pythia8mc>=8.315,<8.318" (wheels for Linux x86_64, CPython '
    "3.10-3.13), or simulate with --generator parametric",
}


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message says how to install it."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with its install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        hint = _HINTS.get(module.split(".")[0], f"pip install {module.split('.')[0]}")
        raise MissingDependencyError(f"{module} is needed here but not installed: {hint}") from err


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without raising)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def cugraph() -> ModuleType:
    return require("cugraph")


def faiss() -> ModuleType:
    return require("faiss")


def onnxruntime() -> ModuleType:
    return require("onnxruntime")

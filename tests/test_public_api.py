"""The top-level API: every name in ``acts_gnn.__all__`` resolves, and ``import acts_gnn`` is light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import acts_gnn

INIT = Path(acts_gnn.__file__)
#: Names bound when the package is imported (everything else is imported on first use).
EAGER = {"InputDataError", "__version__"}
#: The names the brief of the layout promises at the top level.
PROMISED = {
    "TrackFindingAlgorithmGnn",
    "addGnn",
    "addCkfReference",
    "GnnPipeline",
    "TorchEdgeClassifier",
    "OnnxEdgeClassifier",
    "ModuleMapGraphBuilder",
    "TorchModuleMapGraphBuilder",
    "MetricLearning",
    "ConnectedComponentsTrackBuilding",
    "JunctionRemovalTrackBuilding",
    "WalkthroughTrackBuilding",
    "Event",
    "InputDataError",
    "TruthSelection",
    "load_module_map",
    "default_files",
}


def test_all_is_the_eager_names_and_the_lazy_table() -> None:
    assert len(acts_gnn.__all__) == len(set(acts_gnn.__all__))
    assert set(acts_gnn.__all__) == EAGER | set(acts_gnn.LAZY_NAMES)
    assert set(acts_gnn.__all__) >= PROMISED


def test_type_checking_imports_match_the_lazy_table() -> None:
    """The ``if TYPE_CHECKING:`` imports (types for mypy and editors) name the same modules."""
    tree = ast.parse(INIT.read_text())
    (block,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
        if node.test.id == "TYPE_CHECKING"
    )
    typed = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == acts_gnn.LAZY_NAMES


def test_import_is_light() -> None:
    """``import acts_gnn`` imports neither ACTS nor torch (checked in a fresh interpreter)."""
    code = (
        "import json, sys; import acts_gnn; "
        "print(json.dumps(sorted(m for m in ('acts', 'torch', 'onnxruntime') if m in sys.modules)))"
    )
    root = str(INIT.parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert json.loads(out.stdout) == []


def needs_acts(name: str) -> bool:
    return acts_gnn.LAZY_NAMES.get(name, "").startswith("acts_gnn.sequencer")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.acts] if needs_acts(name) else [])
        for name in sorted(acts_gnn.__all__)
    ],
)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(acts_gnn, name)
    assert value is not None
    module = acts_gnn.LAZY_NAMES.get(name)
    if module is not None:  # the object really comes from the module the table names
        assert value is getattr(sys.modules[module], name)


def test_dir_lists_every_public_name() -> None:
    assert set(acts_gnn.__all__) <= set(dir(acts_gnn))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        acts_gnn.NoSuchThing  # noqa: B018


def test_lazy_framework_free_names_resolve_without_acts() -> None:
    """Names outside acts_gnn.sequencer resolve without importing ACTS (fresh interpreter)."""
    names = sorted(name for name in acts_gnn.LAZY_NAMES if not needs_acts(name))
    code = (
        "import json, sys; import acts_gnn; "
        f"[getattr(acts_gnn, n) for n in {names!r}]; "
        "print(json.dumps('acts' in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(INIT.parents[1]),
    )
    assert json.loads(out.stdout) is False


@pytest.mark.acts
def test_sequencer_names_from_the_top_level() -> None:
    from acts_gnn import TrackFindingAlgorithmGnn, addCkfReference, addGnn
    from acts_gnn.sequencer.algorithm import TrackFindingAlgorithmGnn as algorithm
    from acts_gnn.sequencer.reconstruction import addGnn as add_gnn

    assert TrackFindingAlgorithmGnn is algorithm
    assert addGnn is add_gnn
    assert callable(addCkfReference)

"""The package layout rules, checked by reading the source of ``acts_gnn/`` with :mod:`ast`.

Nothing here imports the package. The rules (one test each):

* the framework-free and ACTS-integration packages never import ``acts_gnn.train``
  (data flows one way: training uses them, never the reverse);
* no import cycles among ``acts_gnn`` modules, counting the imports that run when a module is
  imported (module level, class bodies, ``try``/``if`` blocks; not function bodies, not
  ``if TYPE_CHECKING:``);
* no private name (``_name``) imported from another module, except the C++ extension ``_core``;
* no module over :data:`MAX_LINES` lines;
* one home per concept: the temporary-name-and-rename write lives only in
  :data:`ATOMIC_WRITE_HOME`, the matplotlib backend and the plot style are set only in
  :data:`PLOT_STYLE_HOME`.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "acts_gnn"

#: Sub-packages and top-level modules that must not import ``acts_gnn.train``.
NO_TRAIN_PACKAGES = (
    "chain",
    "graph",
    "nn",
    "sequencer",
    "evaluation",
    "io",
    "metrics",
    "detector",
    "simulation",
    "distributed",
)
NO_TRAIN_MODULES = ("event", "errors", "extras", "progress")

#: The longest a module may be (lines). The aim is about 600; this leaves a little slack.
MAX_LINES = 650

#: The one module allowed to write under a temporary name and rename it into place.
ATOMIC_WRITE_HOME = "acts_gnn/io/atomic.py"
#: The one module allowed to choose the matplotlib backend and set the plot style.
PLOT_STYLE_HOME = "acts_gnn/evaluation/plots.py"

#: Private names that may cross modules: the C++ extension module.
ALLOWED_PRIVATE = frozenset({"_core"})


# -- reading the package ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceModule:
    """One ``.py`` file of the package: its dotted name, path and parsed tree."""

    name: str  # e.g. "acts_gnn.graph.truth"; a package's __init__ is the package's name
    path: Path
    tree: ast.Module
    n_lines: int

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def relpath(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def package_modules() -> Mapping[str, SourceModule]:
    """Every module of ``acts_gnn`` by dotted name."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        name = module_name(path)
        modules[name] = SourceModule(name, path, ast.parse(text, str(path)), len(text.splitlines()))
    assert "acts_gnn.event" in modules, f"no package sources found under {PACKAGE}"
    return modules


@cache
def extension_modules() -> frozenset[str]:
    """Compiled modules of the package (``acts_gnn._core``), by dotted name."""
    found = {f"acts_gnn.{name}" for name in ALLOWED_PRIVATE}
    for path in PACKAGE.rglob("*"):
        if path.suffix in (".so", ".pyd", ".pyi"):
            found.add(module_name(path.with_name(path.name.split(".")[0] + ".py")))
    return frozenset(found)


def resolve_from(module: SourceModule, node: ast.ImportFrom) -> str:
    """The absolute module name a ``from ... import`` statement imports from."""
    if node.level == 0:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


@dataclass(frozen=True)
class ImportedModule:
    """``source`` imports ``target`` (a module name) at ``line``."""

    source: SourceModule
    target: str
    line: int
    names: tuple[str, ...] = ()  # the names of a ``from target import ...``

    @property
    def where(self) -> str:
        return f"{self.source.relpath}:{self.line}"


def imported_modules(module: SourceModule, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names (``from p import m`` names ``p.m`` when ``m`` is a
    module of the package, else ``p``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = resolve_from(module, node)
    known = set(package_modules()) | extension_modules()
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        targets.append(sub if sub in known else base)
    return list(dict.fromkeys(targets))


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported: everything outside function
    bodies (and lambdas), except under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and is_type_checking(child.test):
            yield from import_time_nodes(ast.Module(body=child.orelse, type_ignores=[]))
        else:
            yield from import_time_nodes(child)


def all_import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, wherever it is (function bodies and TYPE_CHECKING included)."""
    for child in ast.walk(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child


def imports_of(module: SourceModule, *, import_time_only: bool) -> list[ImportedModule]:
    nodes = import_time_nodes if import_time_only else all_import_nodes
    out = []
    for node in nodes(module.tree):
        names = tuple(a.name for a in node.names) if isinstance(node, ast.ImportFrom) else ()
        for target in imported_modules(module, node):
            out.append(ImportedModule(module, target, node.lineno, names))
    return out


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        prefix = dotted(node.value)
        return f"{prefix}.{node.attr}" if prefix else None
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in ALLOWED_PRIVATE


# -- import cycles ------------------------------------------------------------------------------


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one.

    ``graph`` maps a node to the nodes it points to; nodes only pointed to need no entry.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm (the graphs here are small)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)

    cycles = []
    for component in components:
        members = set(component)
        start = component[0]
        if len(component) == 1 and start not in graph.get(start, ()):
            continue
        # shortest way from start back to start inside the component
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in previous:
            following = []
            for node in frontier:
                for succ in sorted(graph.get(node, ())):
                    if succ in members and succ not in previous:
                        previous[succ] = node
                        following.append(succ)
            frontier = following
        path = [start]
        node = previous[start]
        while node != start:
            path.append(node)
            node = previous[node]
        cycles.append([start, *reversed(path[1:]), start])
    return cycles


def import_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """The package's import-time import graph and, per edge, where the import is."""
    modules = package_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    where: dict[tuple[str, str], str] = {}
    for module in modules.values():
        for imp in imports_of(module, import_time_only=True):
            if imp.target not in modules or imp.target == module.name:
                continue
            graph[module.name].add(imp.target)
            where.setdefault((module.name, imp.target), imp.where)
    return graph, where


def by_place(sites: list[str]) -> list[str]:
    """``path:line: ...`` strings sorted by path, then line number (duplicates dropped)."""

    def key(site: str) -> tuple[str, int, str]:
        path, _, rest = site.partition(":")
        line, _, what = rest.partition(":")
        return (path, int(line) if line.isdigit() else 0, what)

    return sorted(set(sites), key=key)


def report(offenders: list[str] | list[list[str]], message: str) -> None:
    """Fail with ``message`` (which lists the offenders) when there are any."""
    if offenders:
        pytest.fail(message, pytrace=False)


# -- the rules ------------------------------------------------------------------------------------


def test_cycle_detector_finds_a_synthetic_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    cycles = find_cycles(graph)
    assert sorted(map(tuple, cycles)) == [("a", "b", "c", "a"), ("e", "e")]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_from_import_names_the_submodule_or_the_package() -> None:
    """``from p import m`` depends on ``p.m`` when it is a module (a module's own parent
    package is already being imported when it runs, so that is no cycle), on ``p`` when ``m``
    is a name defined there; ``from acts_gnn import _core`` is the extension, not the package."""
    tree = ast.parse("from acts_gnn.graph import truth, knn_radius\nfrom .. import _core\n")
    module = SourceModule("acts_gnn.graph.knn", PACKAGE / "graph" / "knn.py", tree, 2)
    first, second = (node for node in tree.body if isinstance(node, ast.ImportFrom))
    assert imported_modules(module, first) == ["acts_gnn.graph.truth", "acts_gnn.graph"]
    assert imported_modules(module, second) == ["acts_gnn._core"]


def test_import_time_imports_skip_functions_and_type_checking() -> None:
    tree = ast.parse(
        "import a\n"
        "if TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
        "try:\n    import d\nexcept ImportError:\n    pass\n"
        "def f():\n    import e\n"
        "class K:\n    import g\n    def m(self):\n        import h\n"
    )
    found = [alias.name for node in import_time_nodes(tree) for alias in node.names]
    assert found == ["a", "c", "d", "g"]
    assert len(list(all_import_nodes(tree))) == 7


def test_layers_below_train_do_not_import_train() -> None:
    modules = package_modules()
    scoped = [
        m
        for m in modules.values()
        if m.name.count(".") >= 1
        and m.name.split(".")[1] in (*NO_TRAIN_PACKAGES, *NO_TRAIN_MODULES)
    ]
    assert len(scoped) > len(NO_TRAIN_PACKAGES), "the layered packages were not found"
    offenders = []
    for module in scoped:
        for imp in imports_of(module, import_time_only=False):
            # (`from acts_gnn import train` names the module acts_gnn.train too)
            if imp.target == "acts_gnn.train" or imp.target.startswith("acts_gnn.train."):
                offenders.append(f"{imp.where}: imports {imp.target}")
        for node in ast.walk(module.tree):  # importlib.import_module("acts_gnn.train...")
            if (
                isinstance(node, ast.Call)
                and (dotted(node.func) or "").endswith(("import_module", "__import__"))
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("acts_gnn.train")
            ):
                offenders.append(f"{module.relpath}:{node.lineno}: imports {node.args[0].value}")
    report(
        offenders,
        (
            "acts_gnn.train is the top layer: nothing under "
            f"{', '.join(NO_TRAIN_PACKAGES)} (nor {', '.join(NO_TRAIN_MODULES)}) may import it; "
            "move what they need out of train/:\n  " + "\n  ".join(by_place(offenders))
        ),
    )


def test_no_import_cycles() -> None:
    graph, where = import_graph()
    cycles = find_cycles(graph)
    lines = []
    for cycle in cycles:
        steps = [f"{a} -> {b} ({where[(a, b)]})" for a, b in itertools.pairwise(cycle)]
        lines.append("cycle:\n    " + "\n    ".join(steps))
    report(
        cycles,
        (
            "import cycles among acts_gnn modules (module-level imports; move the shared code "
            "down a layer, or import inside the function that needs it):\n  " + "\n  ".join(lines)
        ),
    )


def private_import_sites(module: SourceModule) -> list[str]:
    """Where ``module`` takes a private name (``_name``) from another ``acts_gnn`` module:
    ``from m import _name``, ``import acts_gnn.x._m``, or ``m._name`` on an imported module."""
    modules = package_modules()
    sites = []
    aliases: dict[str, str] = {}  # local name -> acts_gnn module it is bound to
    for node in all_import_nodes(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("acts_gnn"):
                    continue
                if any(is_private(part) for part in alias.name.split(".")):
                    sites.append(f"{module.relpath}:{node.lineno}: import {alias.name}")
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    aliases["acts_gnn"] = "acts_gnn"
            continue
        base = resolve_from(module, node)
        if base != "acts_gnn" and not base.startswith("acts_gnn."):
            continue
        private_base = any(is_private(part) for part in base.split("."))
        for alias in node.names:
            if private_base or is_private(alias.name):
                sites.append(f"{module.relpath}:{node.lineno}: from {base} import {alias.name}")
            if f"{base}.{alias.name}" in modules:
                aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in ast.walk(module.tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        prefix = dotted(node.value)
        head, _, rest = (prefix or "").partition(".")
        if head not in aliases:
            continue
        target = ".".join(filter(None, [aliases[head], rest]))
        if target in modules and target != module.name:
            sites.append(f"{module.relpath}:{node.lineno}: {prefix}.{node.attr}")
    return sites


def test_private_import_detector() -> None:
    source = (
        "from acts_gnn import _core\nfrom acts_gnn.graph.truth import _hidden, truth_graph\n"
        "from ..graph import truth\nimport acts_gnn.event as ev\n"
        "truth._secret(ev._rows, _core.f, truth.public, self._own)\n"
    )
    module = SourceModule(
        "acts_gnn.chain.fake", PACKAGE / "chain" / "fake.py", ast.parse(source), 5
    )
    assert sorted(site.split(": ", 1)[1] for site in private_import_sites(module)) == [
        "ev._rows",
        "from acts_gnn.graph.truth import _hidden",
        "truth._secret",
    ]


def test_no_private_imports_across_modules() -> None:
    offenders = [site for m in package_modules().values() for site in private_import_sites(m)]
    report(
        offenders,
        (
            "private names (_name) are private to their module (only the C++ extension _core may "
            "be imported); make the name public or move the code that needs it:\n  "
            + "\n  ".join(by_place(offenders))
        ),
    )


def test_modules_are_short() -> None:
    offenders = [
        f"{m.relpath}: {m.n_lines} lines"
        for m in package_modules().values()
        if m.n_lines > MAX_LINES
    ]
    report(
        offenders,
        (
            f"modules over {MAX_LINES} lines (the aim is ~600): split them by role:\n  "
            + "\n  ".join(by_place(offenders))
        ),
    )


def os_aliases(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """Local names bound to the os/shutil modules, and local names of their functions."""
    modules: set[str] = set()
    functions: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("os", "shutil"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil"):
            for alias in node.names:
                functions[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return modules, functions


RENAMES = frozenset({"os.replace", "os.rename", "os.renames", "shutil.move"})


def atomic_write_sites(module: SourceModule) -> list[str]:
    """Where ``module`` renames files into place or makes temporary ``.partial`` names."""
    modules, functions = os_aliases(module.tree)
    sites = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func) or ""
            head, _, attr = name.rpartition(".")
            resolved = (
                f"{'shutil' if head == 'shutil' else 'os'}.{attr}"
                if head in modules
                else functions.get(name, "")
            )
            if resolved in RENAMES:
                sites.append(f"{module.relpath}:{node.lineno}: {name}()")
            elif (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in ("replace", "rename")
                and len(node.args) == 1
                and not node.keywords
            ):  # pathlib.Path.replace / rename (str.replace takes two arguments)
                sites.append(f"{module.relpath}:{node.lineno}: .{node.func.attr}(target)")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and ".partial" in (node.value)
        ):
            sites.append(f"{module.relpath}:{node.lineno}: temporary name {node.value!r}")
    return sites


def strip_docstrings(tree: ast.Module) -> ast.Module:
    """The tree without docstrings (they may mention ``os.replace`` or ``.partial``)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return tree


def test_rename_and_plot_setup_detectors() -> None:
    source = (
        "import os as o\nfrom shutil import move\nimport matplotlib\n"
        "o.replace(a, b)\nmove(a, b)\npartial.replace(target)\ntext.replace('x', 'y')\n"
        "name = f'.{p.name}.partial'\nmatplotlib.use('Agg')\nplt.style.use(style)\n"
    )
    module = SourceModule("acts_gnn.fake", PACKAGE / "fake.py", ast.parse(source), 10)
    lines = [int(site.split(":")[1]) for site in atomic_write_sites(module)]
    assert sorted(lines) == [4, 5, 6, 8]
    assert [int(site.split(":")[1]) for site in plot_setup_sites(module)] == [9, 10]


def test_one_atomic_write_helper() -> None:
    offenders = []
    for module in package_modules().values():
        if module.relpath == ATOMIC_WRITE_HOME:
            continue
        tree = strip_docstrings(ast.parse(module.path.read_text()))
        offenders += atomic_write_sites(SourceModule(module.name, module.path, tree, 0))
    report(
        offenders,
        (
            f"write-to-a-temporary-name-then-rename lives only in {ATOMIC_WRITE_HOME} "
            "(use acts_gnn.io.atomic.atomic_path / write_text / write_json):\n  "
            + "\n  ".join(by_place(offenders))
        ),
    )


def plot_setup_sites(module: SourceModule) -> list[str]:
    """Where ``module`` picks the matplotlib backend or sets a plot style."""
    sites = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func) or ""
            if name.endswith("style.use") or name in ("matplotlib.use", "mpl.use"):
                sites.append(f"{module.relpath}:{node.lineno}: {name}()")
        elif isinstance(node, ast.Constant) and node.value == "MPLBACKEND":
            sites.append(f"{module.relpath}:{node.lineno}: MPLBACKEND")
    return sites


def test_one_plot_style_setup() -> None:
    sites = {m.relpath: plot_setup_sites(m) for m in package_modules().values()}
    offenders = [s for path, found in sites.items() if path != PLOT_STYLE_HOME for s in found]
    report(
        offenders,
        (
            f"the matplotlib backend and the mplhep style are set only in {PLOT_STYLE_HOME} "
            "(plot through acts_gnn.evaluation.plots):\n  " + "\n  ".join(by_place(offenders))
        ),
    )

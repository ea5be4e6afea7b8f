"""The shape of ``src/jwtgate`` (#14): no import cycles, and small modules.

Read from the source with ``ast``, as a reviewer would. Every import that can run
makes an edge, deferred ones inside functions included (a package that imports its
backends lazily while they import the package back is still a cycle); only imports
under ``if TYPE_CHECKING:``, which never run, do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "jwtgate"
MAX_LINES = 500
REASON = "Over 500 lines:"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
SUBMODULE_FILES = {str(path.relative_to(SRC)) for path in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import that can run: at module level or deferred inside a function (a
    cycle through a deferred import is still a cycle), not under ``if TYPE_CHECKING``."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str) -> set[str]:
    """The jwtgate modules ``name`` imports when it is imported."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        target = (base + "." + node.module if node.module else base) if node.level else node.module
        if target is None:
            continue
        for alias in node.names:
            submodule = f"{target}.{alias.name}"
            if submodule in MODULES:
                edges.add(submodule)
            elif target in MODULES:
                edges.add(target)
    edges.discard(name)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walker_sees_a_cycle_when_there_is_one() -> None:
    """The check itself can fail: two modules importing each other are one cycle."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_src() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    assert "jwtgate.gate" in graph["jwtgate"]  # the walker resolves relative imports
    assert "jwtgate.stores.memory" in graph["jwtgate.stores"]  # and deferred ones
    assert cycles(graph) == []


def lines_of(name: str) -> int:
    return MODULES[name].read_text(encoding="utf-8").count("\n")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why(name: str) -> None:
    """About 500 lines at most, or the module's docstring says why it is longer."""
    if lines_of(name) > MAX_LINES:
        docstring = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
        assert REASON in (docstring or ""), f"{name}: {lines_of(name)} lines, no reason given"


def test_names_the_docs_give_by_module_path_import() -> None:
    """A split must not drop a name the docs give by its module path (it happened once:
    jwtgate.stores.redis.deadline_margin)."""
    import importlib
    import re

    docs = Path(__file__).resolve().parent.parent / "docs"
    named = set()
    for page in docs.rglob("*.md"):
        named |= set(
            re.findall(r"`(jwtgate(?:\.[a-z_]+)+)\.([A-Za-z_][A-Za-z0-9_]*)`", page.read_text())
        )
    assert ("jwtgate.stores.redis", "deadline_margin") in named  # the scan sees module paths
    from jwtgate.telemetry import METRICS, SPANS

    telemetry_names = set(METRICS) | set(SPANS)  # OpenTelemetry names, not module paths
    missing = []
    for module, name in sorted(named):
        if f"{module}.{name}" in telemetry_names:
            continue
        try:
            target = importlib.import_module(module)
        except ImportError:  # the last dotted part was an attribute, not a module
            continue
        # A module __getattr__ serves deprecated names (with a warning): not asked here.
        # A name that is itself a submodule (jwtgate.contrib.flask) counts as found.
        submodule = f"{module}.{name}"
        if submodule.replace(".", "/") + ".py" in SUBMODULE_FILES:
            continue
        if name not in vars(target) and "__getattr__" not in vars(target):
            missing.append(f"{module}.{name}")
    assert missing == []

"""The package's import graph: no module imports itself back through others, and the
client side is layered (the client at the bottom, the command line at the top)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pdit_gateway"


def _imported(module: str, tree: ast.AST) -> set[str]:
    """Return the package modules ``tree`` imports anywhere (lazy and TYPE_CHECKING included)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
                if not base.startswith("pdit_gateway"):
                    continue
            elif node.level == 1:
                base = "pdit_gateway" + (f".{node.module}" if node.module else "")
            else:  # pragma: no cover - the package has no subpackages
                raise AssertionError(f"{module}: relative import beyond the package")
            if base == "pdit_gateway":
                found.update(f"pdit_gateway.{alias.name}" for alias in node.names)
            else:
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pdit_gateway."))
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Return module → the package modules it imports, for every module of the package."""
    modules = {f"pdit_gateway.{path.stem}": path for path in package.glob("*.py")}
    modules["pdit_gateway"] = modules.pop("pdit_gateway.__init__")
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = {m for m in _imported(name, tree) if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle (its modules, the first repeated at the end), or None."""
    state: dict[str, str] = {}  # "open" while on the stack, "done" after
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    """Return every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imported_reads_relative_lazy_and_absolute_imports():
    tree = ast.parse(
        "from . import run\nfrom .client import X\nimport pdit_gateway.events\n"
        "def f():\n    from pdit_gateway.notebook import Y\n"
    )
    assert _imported("pdit_gateway.x", tree) == {
        "pdit_gateway.run",
        "pdit_gateway.client",
        "pdit_gateway.events",
        "pdit_gateway.notebook",
    }


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize(
    ("module", "never"),
    [
        # the protocol client is the bottom of the client side
        (
            "pdit_gateway.client",
            {"run", "printer", "notebook", "export", "localgateway", "outputs"},
        ),
        # output accumulation depends on nothing of the gateway
        ("pdit_gateway.outputs", {"client", "run", "notebook", "export", "events", "runner"}),
        # the printer knows events, not connections
        ("pdit_gateway.printer", {"client", "run", "notebook", "export", "localgateway"}),
        # notebooks and pages are written from the client, not the command line
        ("pdit_gateway.notebook", {"run", "printer", "localgateway"}),
        ("pdit_gateway.export", {"run", "printer", "client", "localgateway"}),
        # the test fixtures use the client, not the command line
        ("pdit_gateway.pytest_plugin", {"run", "printer"}),
    ],
)
def test_client_side_layers(module, never):
    graph = import_graph()
    assert module in graph
    reached = {name.removeprefix("pdit_gateway.") for name in reaches(graph, module)}
    assert not reached & never, f"{module} imports {sorted(reached & never)}"

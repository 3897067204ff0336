"""The import graph: layers point one way and nothing imports in a circle.

Every ``import`` and ``from ... import`` in the project's packages counts, inside functions
too; only imports under ``if TYPE_CHECKING:`` are left out (they never run). The layers,
bottom up: ``settings``, ``index``, ``qa``, ``evals``, ``api``, ``cli``: ``api`` does not import
``evals`` (only the command line does). Inside ``api``, the service and the answer log know
nothing of the faces (HTTP, Slack) or of the server that runs them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("settings", "index", "qa", "evals", "api", "cli")
#: a layer may import only the layers listed for it (and itself)
ALLOWED = {
    "settings": set(),
    "index": {"settings"},
    "qa": {"settings", "index"},
    "evals": {"settings", "index", "qa"},
    "api": {"settings", "index", "qa"},
    "cli": {"settings", "index", "qa", "evals", "api"},
}
#: inside ``api``: the sub-packages each may import (and itself; ``api.schemas`` is open to all)
API_ALLOWED = {
    "answer_log": set(),
    "service": {"answer_log"},
    "http": {"answer_log", "service", "slack", "mcp"},
    "slack": {"answer_log", "service", "http"},
    "mcp": {"answer_log", "service", "http"},
    "serving": {"answer_log", "service", "http", "slack"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_graph_sees_the_project(graph: dict[str, set[str]]) -> None:
    assert {"settings", "index.indexer", "qa.answerer", "evals.runner", "api.http.app", "api.slack.bolt_app",
            "cli.main"} <= set(graph)
    assert "qa.generative" in graph["qa.answerer"]
    assert "api.slack.bolt_app" in graph["api.slack.mount"]  # imported inside a function: counted


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_layers_point_one_way(graph: dict[str, set[str]]) -> None:
    upward = [f"{m} imports {d}" for m, deps in sorted(graph.items()) for d in sorted(deps)
              if d.split(".")[0] != m.split(".")[0] and d.split(".")[0] not in ALLOWED[m.split(".")[0]]]
    assert upward == []


def test_api_sub_packages_point_one_way(graph: dict[str, set[str]]) -> None:
    def part(module: str) -> str | None:
        names = module.split(".")
        return names[1] if names[0] == "api" and len(names) > 2 else None

    assert {part(m) for m in graph} - {None} == set(API_ALLOWED)  # every sub-package has its rule
    upward = [f"{m} imports {d}" for m, deps in sorted(graph.items()) if part(m) for d in sorted(deps)
              if part(d) and part(d) != part(m) and part(d) not in API_ALLOWED[part(m)]]
    assert upward == []


def test_private_names_are_not_imported_across_modules(graph: dict[str, set[str]]) -> None:
    offenders = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
                offenders += [f"{name}: from {node.module} import {a.name}" for a in node.names
                              if a.name.startswith("_")]
    assert offenders == []

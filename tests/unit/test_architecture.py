"""The package's shape, read from the source (an AST walk, no list kept by hand): no
import cycle between butler_maint's subpackages and top-level modules, and only the CLI
imports click."""

from __future__ import annotations

import ast
from pathlib import Path

from butler_maint.systems.graph import find_cycle

PACKAGE = Path(__file__).resolve().parents[2] / "butler_maint"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (at any depth, TYPE_CHECKING blocks included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _unit(path: Path) -> str:
    """The subpackage or top-level module a file belongs to (``runs``, ``errors``...)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _graph() -> dict[str, set[str]]:
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__"}
    graph: dict[str, set[str]] = {u: set() for u in units}
    for path in PACKAGE.rglob("*.py"):
        source = _unit(path)
        if source not in graph:
            continue
        for name in _imports(path):
            parts = name.split(".")
            inside = parts[0] == "butler_maint" and len(parts) > 1 and parts[1] in units
            if inside and parts[1] != source:
                graph[source].add(parts[1])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """The first import cycle, by the same search that finds a cycle of systems."""
    return find_cycle({node: sorted(deps) for node, deps in graph.items()})


def test_subpackages_import_each_other_without_cycles() -> None:
    graph = _graph()
    assert {"cli", "runs", "checks", "evidence", "model"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_only_the_cli_imports_click() -> None:
    importers = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if any(n == "click" or n.startswith("click.") for n in _imports(p))
    )
    assert importers, "the CLI imports click"
    assert [p for p in importers if not p.startswith("cli/")] == []


def test_model_and_evidence_import_nothing_above_them() -> None:
    graph = _graph()
    assert graph["model"] <= {"errors"}
    assert graph["evidence"] <= {"errors", "model"}

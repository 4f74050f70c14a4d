"""The dependency graph of systems: a cycle (named), and tiers in dependency order.

``deps`` maps each system to the systems it depends on. A dependency on a system that
does not exist is ignored here (``validate`` names it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, ..., a]`` (its first system repeated), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, ()):
            if nxt not in deps:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(deps):
        if node not in state and (found := visit(node)):
            return found
    return None


def depth(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each system's level: 0 for one depending on nothing, else 1 + its deepest
    dependency's. The graph must have no cycle (``find_cycle``)."""
    levels: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in levels:
            below = [level(d) for d in deps.get(node, ()) if d in deps]
            levels[node] = 1 + max(below) if below else 0
        return levels[node]

    for node in deps:
        level(node)
    return levels


def tiers(
    deps: Mapping[str, Sequence[str]], names: Iterable[str], *, dependents_first: bool = False
) -> list[list[str]]:
    """``names`` in tiers: each system after every system it depends on (dependencies
    first), or, with ``dependents_first``, before them. Names sorted within a tier."""
    levels = depth(deps)
    wanted = sorted(set(names), key=lambda n: (levels.get(n, 0), n))
    found: dict[int, list[str]] = {}
    for name in wanted:
        found.setdefault(levels.get(name, 0), []).append(name)
    ordered = [found[k] for k in sorted(found)]
    return ordered[::-1] if dependents_first else ordered


def upstream(deps: Mapping[str, Sequence[str]], name: str) -> set[str]:
    """Every system ``name`` depends on, directly or not."""
    seen: set[str] = set()
    todo = list(deps.get(name, ()))
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(deps.get(node, ()))
    return seen

"""Centralised diagnosis of a run: its failures grouped by system, and each failing
system placed under the failing systems it depends on, as "probably caused by".

Pure: a report's results, the systems and their hosts in, a :class:`Diagnosis` out. A
failing result is ``fail``, ``error`` or ``unreachable``. A failing system's causes are
the nearest failing systems among those it depends on (directly, or through systems
that did not fail); a failing system without causes is a root, where the operator
starts. Nothing is hidden: every failing result is listed under its system, and the
report itself keeps every result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from butler_maint.evidence.model import FAILING, ChecklistStep, Report, Result
from butler_maint.evidence.summary import explain
from butler_maint.systems.members import Systems

NO_SYSTEM = "(no system)"


@dataclass(frozen=True)
class Failing:
    """A failing result and the report step (1-based) it is in."""

    step: int
    result: Result


@dataclass(frozen=True)
class SystemFailures:
    """A failing system: its failing results and the failing systems that probably
    caused them (empty for a root)."""

    system: str
    failures: list[Failing]
    caused_by: list[str]


@dataclass(frozen=True)
class Diagnosis:
    """The failing systems of a run, their causes, and failures in no system."""

    systems: dict[str, SystemFailures] = field(default_factory=dict)
    unassigned: list[Failing] = field(default_factory=list)

    @property
    def roots(self) -> list[str]:
        """Failing systems no other failing system explains, by name."""
        return sorted(n for n, s in self.systems.items() if not s.caused_by)

    def children(self, name: str) -> list[str]:
        """Failing systems ``name`` probably caused."""
        return sorted(n for n, s in self.systems.items() if name in s.caused_by)

    def __bool__(self) -> bool:
        return bool(self.systems or self.unassigned)

    def to_dict(self) -> dict[str, Any]:
        """A JSON document: roots, then every failing system with its causes and
        failures (webhooks, ``diagnose --format json``)."""
        return {
            "roots": self.roots,
            "systems": {
                name: {
                    "caused_by": s.caused_by,
                    "probably_causes": self.children(name),
                    "failures": [_failure_doc(f) for f in s.failures],
                }
                for name, s in sorted(self.systems.items())
            },
            "unassigned": [_failure_doc(f) for f in self.unassigned],
        }


def _failure_doc(failing: Failing) -> dict[str, Any]:
    r = failing.result
    return {"step": failing.step, "host": r.host, "check": r.check,
            "status": r.status.value, "why": explain(r)}  # fmt: skip


def diagnose(report: Report, systems: Systems) -> Diagnosis:
    """Group ``report``'s failing results by system and find each system's causes."""
    by_system: dict[str, list[Failing]] = {}
    unassigned: list[Failing] = []
    for number, step in enumerate(report.steps, 1):
        checklist = step.checklist if isinstance(step, ChecklistStep) else None
        for result in step.results:
            if result.status not in FAILING:
                continue
            owners = systems.of(result.host, checklist) if systems else []
            for name in owners:
                by_system.setdefault(name, []).append(Failing(number, result))
            if not owners:
                unassigned.append(Failing(number, result))
    deps = systems.deps
    failed = set(by_system)
    return Diagnosis(
        {n: SystemFailures(n, f, _causes(n, deps, failed)) for n, f in by_system.items()},
        unassigned,
    )


def _causes(name: str, deps: dict[str, list[str]], failed: set[str]) -> list[str]:
    """The nearest failing systems ``name`` depends on: walking down its dependencies,
    stop at each failing one; go on through the ones that did not fail."""
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(deps.get(name, ()))
    while todo:
        node = todo.pop()
        if node in seen or node == name:
            continue
        seen.add(node)
        if node in failed:
            found.add(node)
        else:
            todo.extend(deps.get(node, ()))
    return sorted(found)


@dataclass(frozen=True)
class TreeRow:
    """One line of the diagnosis tree: a failing system at a depth (0: a root), its
    causes, its failures; ``repeat`` when it was listed already under another cause."""

    depth: int
    system: str
    caused_by: list[str]
    failures: list[Failing]
    repeat: bool = False


def tree_rows(diagnosis: Diagnosis) -> list[TreeRow]:
    """The failing systems as a tree, roots first, each system's dependents under it
    (a system with several causes is listed in full once, then as a repeat)."""
    rows: list[TreeRow] = []
    shown: set[str] = set()

    def visit(name: str, depth: int) -> None:
        node = diagnosis.systems[name]
        if name in shown:
            rows.append(TreeRow(depth, name, node.caused_by, node.failures, repeat=True))
            return
        shown.add(name)
        rows.append(TreeRow(depth, name, node.caused_by, node.failures))
        for child in diagnosis.children(name):
            visit(child, depth + 1)

    for root in diagnosis.roots:
        visit(root, 0)
    for name in sorted(diagnosis.systems):  # systems in a cycle have no root above them
        if name not in shown:
            visit(name, 0)
    return rows


def diagnosis_lines(diagnosis: Diagnosis) -> list[str]:
    """The diagnosis as text: each root with its failures, the systems it probably
    caused indented under it, then the failures in no system."""
    if not diagnosis:
        return ["diagnosis: no failures"]
    roots = diagnosis.roots
    lines = [
        f"diagnosis: {len(diagnosis.systems)} failing system(s); start at "
        + (", ".join(roots) or "(a dependency cycle: no root)")
    ]
    for row in tree_rows(diagnosis):
        pad = "  " * row.depth
        label = "ROOT" if not row.caused_by else f"probably caused by {', '.join(row.caused_by)}"
        if row.repeat:
            lines.append(f"{pad}{row.system}  {label}  (listed above)")
            continue
        lines.append(f"{pad}{row.system}  {label}  {len(row.failures)} failing")
        lines += [f"{pad}    {result_line(f)}" for f in row.failures]
    if diagnosis.unassigned:
        lines.append(f"{NO_SYSTEM}: {len(diagnosis.unassigned)} failing")
        lines += [f"    {result_line(f)}" for f in diagnosis.unassigned]
    return lines


def result_line(failing: Failing) -> str:
    """A failing result in one line: host, check, status, why, step."""
    r = failing.result
    return f"{r.host}  {r.check}  {r.status.value}  {explain(r)}  (step {failing.step})"

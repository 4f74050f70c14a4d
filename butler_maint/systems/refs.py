"""Cross-references of systems, checked by ``validate``: the checklists, schedules and
systems a system names, and the systems a window's ``tiers`` name."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from butler_maint.errors import Problem
from butler_maint.model.content import Loaded
from butler_maint.model.schedule import Schedule
from butler_maint.model.system import System


def _unknown(field: str, i: int, kind: str, name: str, known: Collection[str]) -> str:
    shown = ", ".join(sorted(known)) or "none"
    return f"{field}[{i}]: no {kind} named {name!r} (known: {shown})"


def system_refs(
    loaded: Loaded[System],
    systems: Collection[str],
    checklists: Collection[str],
    schedules: Collection[str],
) -> list[Problem]:
    """Problems with the names a system refers to."""
    system, problems = loaded.model, []
    lists = (
        ("checklists", "checklist", system.checklists, checklists),
        ("schedules", "schedule", system.schedules, schedules),
        ("depends_on", "system", system.depends_on, systems),
    )
    for field, kind, names, known in lists:
        for i, name in enumerate(names):
            if name not in known:
                msg = _unknown(field, i, kind, name, known)
                problems.append(Problem(loaded.doc.where((field, i)), msg))
    if system.system in system.depends_on:
        i = system.depends_on.index(system.system)
        msg = f"depends_on[{i}]: a system cannot depend on itself"
        problems.append(Problem(loaded.doc.where(("depends_on", i)), msg))
    return problems


def tier_refs(loaded: Loaded[Schedule], systems: Mapping[str, object]) -> list[Problem]:
    """Problems with a window's ``order``/``tiers``: unknown systems, a system named
    twice, an order with no systems to order."""
    schedule, problems = loaded.model, []
    if schedule.order and not systems:
        msg = "order: dependencies needs systems (systems/NAME.yaml); none found"
        problems.append(Problem(loaded.doc.where(("order",)), msg))
    seen: set[str] = set()
    for i, tier in enumerate(schedule.tier_names):
        for name in tier:
            if name not in systems:
                msg = _unknown("tiers", i, "system", name, systems)
                problems.append(Problem(loaded.doc.where(("tiers", i)), msg))
            elif name in seen:
                msg = f"tiers[{i}]: system {name!r} is in an earlier tier already"
                problems.append(Problem(loaded.doc.where(("tiers", i)), msg))
            seen.add(name)
    return problems

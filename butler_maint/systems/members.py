"""Which systems exist (``systems/*.yaml``) and which hosts and results belong to each.

A result belongs to a system when its host is one of the system's hosts and, for a
checklist result, the system names no checklists or names that one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from butler_maint.errors import ContentError, InventoryError, Problem
from butler_maint.inventory import Inventory
from butler_maint.model.content import Loaded, content_files, load_system
from butler_maint.model.schedule import ChecklistStep, Schedule
from butler_maint.model.system import System


@dataclass(frozen=True)
class Systems:
    """The systems of a repository and the hosts of each."""

    systems: Mapping[str, System] = field(default_factory=dict)
    hosts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """System name -> its hosts' names."""

    def __bool__(self) -> bool:
        return bool(self.systems)

    @property
    def deps(self) -> dict[str, list[str]]:
        """System -> the systems it depends on (known ones only)."""
        return {n: [d for d in s.depends_on if d in self.systems] for n, s in self.systems.items()}

    def of(self, host: str, checklist: str | None = None) -> list[str]:
        """The systems a result of ``host`` (from ``checklist``, if one) belongs to."""
        return [
            name
            for name, system in sorted(self.systems.items())
            if host in self.hosts.get(name, ())
            and (checklist is None or not system.checklists or checklist in system.checklists)
        ]

    def of_host(self, host: str) -> list[str]:
        """The systems ``host`` is part of."""
        return [n for n in sorted(self.systems) if host in self.hosts.get(n, ())]


def system_files(root: Path) -> list[Path]:
    """``systems/*.yaml`` of the repository at ``root``."""
    return content_files(root / "systems")


def load_systems(root: Path) -> dict[str, Loaded[System]]:
    """Every system of the repository; raise ContentError naming each bad file."""
    found: dict[str, Loaded[System]] = {}
    problems: list[Problem] = []
    for path in system_files(root):
        try:
            loaded = load_system(path)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        found[loaded.model.system] = loaded
    if problems:
        raise ContentError(problems)
    return found


def membership(systems: Mapping[str, System], inventory: Inventory) -> Systems:
    """``systems`` with the hosts each pattern selects in ``inventory`` (a pattern that
    matches nothing gives no hosts: ``validate`` reports it)."""
    return Systems(dict(systems), {n: _hosts(inventory, s.hosts) for n, s in systems.items()})


def _hosts(inventory: Inventory, pattern: str) -> frozenset[str]:
    try:
        return frozenset(h.name for h in inventory.select(pattern))
    except InventoryError:
        return frozenset()


def project_systems(root: Path, inventory: Inventory) -> Systems:
    """The repository's systems with their hosts in ``inventory``."""
    return membership({n: s.model for n, s in load_systems(root).items()}, inventory)


def system_schedules(system: System, schedules: Sequence[Schedule]) -> list[str]:
    """The schedules that maintain ``system``: those it names, else those running one of
    its checklists."""
    if system.schedules:
        return list(system.schedules)
    mine = set(system.checklists)
    return sorted(s.name for s in schedules if mine & _checklists(s))


def _checklists(schedule: Schedule) -> set[str]:
    names = {s.checklist for s in schedule.steps if isinstance(s, ChecklistStep)}
    return names | ({schedule.checklist} if schedule.checklist else set())

"""Pure rule of a window in dependency order: which hosts go in which tier.

With ``order: dependencies`` the systems whose hosts the window runs on are put in tiers
by their ``depends_on`` (``stop: dependents-last``: a system after the systems it
depends on; ``dependents-first``: before them); with explicit ``tiers`` in the order
written. A host is in the first tier naming one of its systems; hosts in none of the
tiers' systems form a last tier of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from butler_maint.inventory import HostInfo
from butler_maint.model.schedule import Schedule
from butler_maint.systems.graph import tiers
from butler_maint.systems.members import Systems


@dataclass(frozen=True)
class TierPlan:
    """One tier to run: its systems (none: hosts in no system) and its hosts."""

    systems: list[str]
    hosts: list[HostInfo]


def ordered(schedule: Schedule) -> bool:
    """True when the window runs in tiers of systems."""
    return bool(schedule.order or schedule.tiers)


def plan_tiers(schedule: Schedule, systems: Systems, hosts: list[HostInfo]) -> list[TierPlan]:
    """The window's hosts in tiers, first tier first."""
    names = {h.name for h in hosts}
    if schedule.tiers:
        order = schedule.tier_names
    else:
        present = [s for s in systems.systems if systems.hosts.get(s, frozenset()) & names]
        first = schedule.stop == "dependents-first"
        order = tiers(systems.deps, present, dependents_first=first)
    placed: set[str] = set()
    plan: list[TierPlan] = []
    for tier in order:
        members = [
            h
            for h in hosts
            if h.name not in placed
            and any(h.name in systems.hosts.get(s, frozenset()) for s in tier)
        ]
        placed |= {h.name for h in members}
        if members:
            plan.append(TierPlan(list(tier), members))
    rest = [h for h in hosts if h.name not in placed]
    return [*plan, TierPlan([], rest)] if rest else plan


def tier_label(number: int, systems: list[str]) -> str:
    """``tier 2 (shop-app)``, or ``tier 4 (hosts in no system)``."""
    return f"tier {number} ({', '.join(systems) or 'hosts in no system'})"

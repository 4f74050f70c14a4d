"""Check pass rates: passed / judged results (pass, fail, error, unreachable), overall and
grouped by owner, checklist, host, schedule, severity or control. A result with several
controls counts under each (the control rows may add up to more than the total).

Skipped, pending, not-run and waived results are counted but are not in the rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from butler_maint.evidence.model import Status
from butler_maint.kpi.history import JUDGED, Observation, owner_of

GroupBy = Literal["owner", "checklist", "host", "schedule", "severity", "control"]
GROUPS: tuple[GroupBy, ...] = ("owner", "checklist", "host", "schedule", "severity", "control")
NONE = "(none)"
"""The group of results with no owner, schedule, severity or control."""


@dataclass(frozen=True)
class PassRate:
    """Result counts of one group and its pass rate."""

    group: str
    total: int
    passed: int
    failed: int
    """fail + error + unreachable."""
    other: int
    """skipped, pending, not_run and waived: not in the rate."""

    @property
    def judged(self) -> int:
        """Results that count in the rate."""
        return self.passed + self.failed

    @property
    def rate(self) -> float | None:
        """passed / judged, or None when nothing was judged."""
        return self.passed / self.judged if self.judged else None


def pass_rate(obs: Sequence[Observation], group: str = "all") -> PassRate:
    """The pass rate of every observation in ``obs``."""
    passed = sum(o.status is Status.PASS for o in obs)
    judged = sum(o.status in JUDGED for o in obs)
    return PassRate(group, len(obs), passed, judged - passed, len(obs) - judged)


def groups_of(o: Observation, by: GroupBy, owners: Mapping[str, str]) -> list[str]:
    """The groups ``o`` falls in (several for ``control``). ``owners`` maps
    checklist/schedule names to owners."""
    if by == "control":
        return list(dict.fromkeys(o.controls)) or [NONE]
    if by == "host":
        return [o.host]
    if by == "checklist":
        return [o.step]
    if by == "schedule":
        return [o.schedule or NONE]
    if by == "severity":
        return [o.severity or NONE]
    return [owner_of(o, owners) or NONE]


def pass_rates(
    obs: Sequence[Observation], by: GroupBy, owners: Mapping[str, str] | None = None
) -> list[PassRate]:
    """Pass rates per group, sorted by group name."""
    groups: dict[str, list[Observation]] = {}
    for o in obs:
        for name in groups_of(o, by, owners or {}):
            groups.setdefault(name, []).append(o)
    return [pass_rate(groups[name], name) for name in sorted(groups)]

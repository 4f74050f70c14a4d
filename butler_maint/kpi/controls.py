"""The auditor's view: per control, the checks that cover it, each check's latest status
per host and the evidence (report ids) behind it.

Pure: time-ordered observations in, coverage out. A result names its controls since
evidence schema 1.1 (the checklist's, then the check's); results without controls cover
none and are not listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from butler_maint.evidence.model import Status
from butler_maint.kpi.history import Observation


@dataclass(frozen=True)
class HostStatus:
    """The latest result of a check on one host, and the report recording it."""

    host: str
    status: Status
    at: datetime
    report: str


@dataclass(frozen=True)
class CoveringCheck:
    """A check covering a control: latest status per host, every report in the period."""

    checklist: str
    check: str
    title: str | None
    hosts: tuple[HostStatus, ...]
    reports: tuple[str, ...]
    """Report ids of every result of the check in the period, oldest first."""


@dataclass(frozen=True)
class ControlCoverage:
    """One control and the checks covering it."""

    control: str
    checks: tuple[CoveringCheck, ...]


CheckKey = tuple[str, str]
"""(checklist, check)."""


def _covering(key: CheckKey, group: Sequence[Observation]) -> CoveringCheck:
    latest = {o.host: o for o in group}
    return CoveringCheck(
        checklist=key[0],
        check=key[1],
        title=next((o.title for o in reversed(group) if o.title), None),
        hosts=tuple(HostStatus(h, o.status, o.at, o.report) for h, o in sorted(latest.items())),
        reports=tuple(dict.fromkeys(o.report for o in group)),
    )


def control_coverage(obs: Sequence[Observation]) -> list[ControlCoverage]:
    """Every control named by a result in time-ordered ``obs``, sorted by name."""
    checks: dict[str, dict[CheckKey, list[Observation]]] = {}
    for o in obs:
        for control in dict.fromkeys(o.controls):
            checks.setdefault(control, {}).setdefault((o.step, o.check), []).append(o)
    return [
        ControlCoverage(control, tuple(_covering(k, g) for k, g in sorted(checks[control].items())))
        for control in sorted(checks)
    ]

"""Mean time to remediate: from the first failing result of a host+check (fail or error)
to its first pass after that, averaged over every remediation in the period.

A host+check still failing at the end is an open incident, not a remediation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from butler_maint.evidence.model import Status
from butler_maint.kpi.history import FAILED, Observation, by_key


@dataclass(frozen=True)
class Remediation:
    """A host+check that failed, then passed."""

    host: str
    check: str
    failed_at: datetime
    fixed_at: datetime

    @property
    def duration(self) -> timedelta:
        """Time from the first failure to the first pass."""
        return self.fixed_at - self.failed_at


@dataclass(frozen=True)
class Incident:
    """A host+check failing since ``since`` and not passed since."""

    host: str
    check: str
    since: datetime


def _walk(group: Sequence[Observation]) -> tuple[list[Remediation], Incident | None]:
    fixed: list[Remediation] = []
    since: datetime | None = None
    for o in group:
        if o.status in FAILED and since is None:
            since = o.at
        elif o.status is Status.PASS and since is not None:
            fixed.append(Remediation(o.host, o.check, since, o.at))
            since = None
    first = group[0]
    return fixed, Incident(first.host, first.check, since) if since is not None else None


def remediations(obs: Sequence[Observation]) -> list[Remediation]:
    """Every fail-then-pass of time-ordered ``obs``, by time fixed."""
    found = [r for group in by_key(obs).values() for r in _walk(group)[0]]
    return sorted(found, key=lambda r: (r.fixed_at, r.host, r.check))


def open_incidents(obs: Sequence[Observation]) -> list[Incident]:
    """Host+checks whose last failure was not followed by a pass, oldest first."""
    found = [i for group in by_key(obs).values() if (i := _walk(group)[1]) is not None]
    return sorted(found, key=lambda i: (i.since, i.host, i.check))


def mean_time_to_remediate(fixed: Sequence[Remediation]) -> timedelta | None:
    """The mean duration of ``fixed``, or None when nothing was remediated."""
    if not fixed:
        return None
    return sum((r.duration for r in fixed), timedelta()) / len(fixed)

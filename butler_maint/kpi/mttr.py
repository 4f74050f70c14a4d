"""Mean time to remediate, failing-now incidents and availability.

- A **remediation** is a ``fail`` of a host+check followed by its first ``pass``: from
  the first fail of the streak to that pass. An ``error`` or ``unreachable`` result (a
  host-key error, a timeout) says the check could not judge the host: it neither opens
  nor closes an incident, so an error then a pass is no remediation. A ``waived`` result
  leaves an open fail open (the failure was accepted, not fixed).
- An **incident** is a host+check failing now (``history.failing_now``: its latest result
  is fail, error or unreachable; waived never), since the first of its trailing failing
  results. The terminal, the site and the Prometheus file count the same ones.
- **Availability** is the share of judged results that were not error or unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from butler_maint.evidence.model import Status
from butler_maint.kpi.history import (
    FAILED,
    JUDGED,
    Observation,
    by_key,
    failing_now,
    is_failing,
)


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
    """A host+check failing since ``since`` (its latest result is ``status``)."""

    host: str
    check: str
    since: datetime
    status: Status = Status.FAIL
    step: str = ""
    report: str = ""
    """The latest failing result's report."""


@dataclass(frozen=True)
class Availability:
    """Judged results that could not judge their host (error, unreachable)."""

    judged: int
    errors: int
    unreachable: int

    @property
    def rate(self) -> float | None:
        """Share of judged results that were neither error nor unreachable."""
        if not self.judged:
            return None
        return (self.judged - self.errors - self.unreachable) / self.judged


def _walk(group: Sequence[Observation]) -> list[Remediation]:
    fixed: list[Remediation] = []
    since: datetime | None = None
    for o in group:
        if o.status in FAILED and since is None:
            since = o.at
        elif o.status is Status.PASS and since is not None:
            fixed.append(Remediation(o.host, o.check, since, o.at))
            since = None
    return fixed


def remediations(obs: Sequence[Observation]) -> list[Remediation]:
    """Every fail-then-pass of the same host+check in time-ordered ``obs``, by time fixed."""
    found = [r for group in by_key(obs).values() for r in _walk(group)]
    return sorted(found, key=lambda r: (r.fixed_at, r.host, r.check))


def _since(group: Sequence[Observation]) -> datetime:
    """The first of the trailing failing results of ``group``."""
    since = group[-1].at
    for o in reversed(group):
        if not is_failing(o):
            break
        since = o.at
    return since


def open_incidents(obs: Sequence[Observation]) -> list[Incident]:
    """The host+checks failing now (``failing_now``), oldest first."""
    groups = by_key(obs)
    found = [
        Incident(o.host, o.check, _since(groups[o.key]), o.status, o.step, o.report)
        for o in failing_now(obs)
    ]
    return sorted(found, key=lambda i: (i.since, i.host, i.check))


def availability(obs: Sequence[Observation]) -> Availability:
    """Error and unreachable counts among the judged results of ``obs``."""
    return Availability(
        judged=sum(o.status in JUDGED for o in obs),
        errors=sum(o.status is Status.ERROR for o in obs),
        unreachable=sum(o.status is Status.UNREACHABLE for o in obs),
    )


def mean_time_to_remediate(fixed: Sequence[Remediation]) -> timedelta | None:
    """The mean duration of ``fixed``, or None when nothing was remediated."""
    if not fixed:
        return None
    return sum((r.duration for r in fixed), timedelta()) / len(fixed)

"""What the KPIs read: check results flattened out of reports, one ``Observation`` each.

Pure: reports come in, observations come out. Dry runs are left out (they prove
nothing about the fleet). Sub-results are details and are not observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from butler_maint.evidence.model import ChecklistStep, Observed, Report, Status

FAILED = frozenset({Status.FAIL})
"""The status that opens an incident (MTTR): the check ran and found the host wrong."""
UNAVAILABLE = frozenset({Status.ERROR, Status.UNREACHABLE})
"""Statuses that say the check could not judge the host (a host-key error, a timeout):
availability, never a failure nor a remediation."""
FAILING = FAILED | UNAVAILABLE
"""Statuses that make a host+check "failing now" (``waived`` never does)."""
JUDGED = frozenset({Status.PASS, Status.FAIL, Status.ERROR, Status.UNREACHABLE})
"""Statuses that count in a pass rate (skipped, pending, not_run, waived do not)."""

Key = tuple[str, str]
"""(host, check)."""


@dataclass(frozen=True)
class Observation:
    """One result of one run: a check (or playbook task) on a host."""

    at: datetime
    """When the run started (UTC)."""
    report: str
    host: str
    check: str
    status: Status
    observed: Observed
    expected: str | None
    message: str | None
    step: str
    """The checklist name, or the playbook path."""
    schedule: str | None
    """The schedule the run names (``trigger.schedule``), if any."""
    title: str | None = None
    severity: str | None = None
    controls: tuple[str, ...] = ()
    """Control references of the check (schema 1.1; none before)."""

    @property
    def key(self) -> Key:
        """(host, check)."""
        return (self.host, self.check)


def report_observations(report: Report) -> list[Observation]:
    """Every top-level result of ``report`` (none for a dry run)."""
    if report.dry_run:
        return []
    found: list[Observation] = []
    for step in report.steps:
        name = step.checklist if isinstance(step, ChecklistStep) else step.playbook
        found.extend(
            Observation(
                at=report.started,
                report=report.id,
                host=r.host,
                check=r.check,
                status=r.status,
                observed=r.observed,
                expected=r.expected,
                message=r.message,
                step=name,
                schedule=report.trigger.schedule,
                title=r.title,
                severity=r.severity,
                controls=tuple(r.controls or ()),
            )
            for r in step.results
        )
    return found


def observations(reports: Iterable[Report]) -> list[Observation]:
    """Observations of every report, by start time (stable: chain order on ties)."""
    found = [o for report in reports for o in report_observations(report)]
    return sorted(found, key=lambda o: o.at)


def by_key(obs: Iterable[Observation]) -> dict[Key, list[Observation]]:
    """Observations per (host, check), each list in the order given (by time)."""
    groups: dict[Key, list[Observation]] = {}
    for o in obs:
        key = (o.host, o.check)  # o.key, without a call per result
        group = groups.get(key)
        if group is None:
            groups[key] = [o]
        else:
            group.append(o)
    return groups


def latest(obs: Sequence[Observation]) -> dict[Key, Observation]:
    """The latest observation per (host, check) of time-ordered ``obs``."""
    return {key: group[-1] for key, group in by_key(obs).items()}


def pending_items(obs: Sequence[Observation]) -> list[Observation]:
    """(host, check) pairs whose latest result is ``pending`` (manual items not attested)."""
    found = [o for o in latest(obs).values() if o.status is Status.PENDING]
    return sorted(found, key=lambda o: (o.host, o.check))


def is_failing(o: Observation) -> bool:
    """True when ``o`` says its host+check is failing: fail, error or unreachable. A
    waived result never is. The terminal, the site and the Prometheus file all ask this."""
    return o.status in FAILING


def failing_now(obs: Sequence[Observation]) -> list[Observation]:
    """(host, check) pairs whose latest result is failing (``is_failing``)."""
    found = [o for o in latest(obs).values() if is_failing(o)]
    return sorted(found, key=lambda o: (o.host, o.check))


def owner_of(o: Observation, owners: Mapping[str, str]) -> str | None:
    """The owner of ``o``: its checklist's (or playbook's), else its schedule's, if known."""
    return owners.get(o.step) or (owners.get(o.schedule) if o.schedule else None)

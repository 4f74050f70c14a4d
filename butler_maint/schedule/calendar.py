"""The maintenance calendar: every schedule's occurrences in a range, freezes applied,
and the iCalendar events for windows and freeze periods.

``load_schedules`` reads ``schedules/`` (and the freeze files they name); everything
else is pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from butler_maint.errors import ContentError, Problem
from butler_maint.model.content import content_files, load_schedule
from butler_maint.model.schedule import ChecklistStep, Schedule
from butler_maint.schedule.freezes import (
    AnyFreeze,
    FreezePeriod,
    frozen_by,
    periods_in,
    schedule_freezes,
)
from butler_maint.schedule.ics import Event
from butler_maint.schedule.occurrences import Occurrence, occurrences

UID_DOMAIN = "butler-maint"


@dataclass(frozen=True)
class Scheduled:
    """A schedule with its resolved freeze periods and the file it came from."""

    schedule: Schedule
    freezes: tuple[AnyFreeze, ...]
    path: Path


@dataclass(frozen=True)
class Planned:
    """One occurrence on the calendar, with the freeze that stops it (if any)."""

    schedule: Schedule
    occurrence: Occurrence
    frozen: FreezePeriod | None

    @property
    def kind(self) -> str:
        """``routine`` or ``window``."""
        return "routine" if self.schedule.routine is not None else "window"


def load_schedules(root: Path) -> list[Scheduled]:
    """Every schedule of ``schedules/`` with its freezes; ContentError lists all problems."""
    found: list[Scheduled] = []
    problems: list[Problem] = []
    for path in content_files(root / "schedules"):
        try:
            schedule = load_schedule(path).model
            found.append(Scheduled(schedule, tuple(schedule_freezes(root, schedule)), path))
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContentError(problems)
    return found


def plan(scheduled: Sequence[Scheduled], start: datetime, end: datetime) -> list[Planned]:
    """Occurrences of every schedule in ``[start, end)``, by UTC time then name."""
    planned = [
        Planned(s.schedule, occ, frozen_by(s.freezes, occ))
        for s in scheduled
        for occ in occurrences(s.schedule, start, end)
    ]
    return sorted(planned, key=lambda p: (p.occurrence.at, p.schedule.name))


def freezes_in(
    scheduled: Sequence[Scheduled], start: datetime, end: datetime
) -> list[FreezePeriod]:
    """Distinct freeze periods overlapping ``[start, end)``, by start."""
    unique: dict[str, FreezePeriod] = {}
    for s in scheduled:
        for period in periods_in(s.freezes, start, end):
            unique.setdefault(freeze_uid(period), period)
    return sorted(unique.values(), key=lambda p: (p.start, p.reason))


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:20]


def _all_day(period: FreezePeriod) -> tuple[date, date] | None:
    first, last = period.freeze.start, period.freeze.end
    if isinstance(first, datetime) or isinstance(last, datetime):
        return None
    return first, last


def freeze_uid(period: FreezePeriod) -> str:
    """A stable UID: the same freeze gets the same UID in every export."""
    days = _all_day(period)
    span = days if days is not None else (period.start.isoformat(), period.end.isoformat())
    return f"freeze-{_digest(period.source, period.reason, *span)}@{UID_DOMAIN}"


def freeze_event(period: FreezePeriod) -> Event:
    """An event for a freeze: all-day when both bounds are dates, else UTC instants."""
    days = _all_day(period)
    start: date | datetime = days[0] if days else period.start
    end: date | datetime = days[1] + timedelta(days=1) if days else period.end
    return Event(
        uid=freeze_uid(period),
        summary=f"Change freeze: {period.reason}",
        description=f"No maintenance window runs in this period.\nSource: {period.source}",
        start=start,
        end=end,
        categories=("butler-maint", "freeze"),
        transparent=True,
    )


def _steps(schedule: Schedule) -> list[str]:
    lines = []
    for i, step in enumerate(schedule.steps, start=1):
        what = (
            f"checklist {step.checklist}"
            if isinstance(step, ChecklistStep)
            else f"playbook {step.playbook}"
        )
        lines.append(f"  {i}. {what}" + (f" ({step.title})" if step.title else ""))
    return lines


def _description(item: Planned) -> str:
    s, occ = item.schedule, item.occurrence
    lines = [
        f"{item.kind} {s.name}" + (f": {s.title}" if s.title else ""),
        f"local: {occ.local:%Y-%m-%d %H:%M} {occ.zone_abbrev} ({s.timezone})",
        f"duration: {s.duration}",
    ]
    if occ.shifted:
        lines.append(f"{occ.wall:%H:%M} did not exist that day (DST): runs at the next valid time")
    lines += [f"{key}: {value}" for key, value in _details(s) if value]
    if s.steps:
        lines += ["steps:", *_steps(s)]
    if item.frozen is not None:
        lines.append(f"FROZEN: {item.frozen.reason} ({item.frozen.source})")
    return "\n".join(lines)


def _details(s: Schedule) -> list[tuple[str, object]]:
    return [
        ("owner", s.owner),
        ("hosts", s.hosts),
        ("serial", s.serial),
        ("max_fail_percentage", s.max_fail_percentage),
        ("requires approval", "yes" if s.requires_approval else None),
    ]


def occurrence_uid(occurrence: Occurrence) -> str:
    """A stable UID for one occurrence of a schedule."""
    return f"{occurrence.schedule}-{occurrence.at:%Y%m%dT%H%M%SZ}@{UID_DOMAIN}"


def occurrence_event(item: Planned) -> Event:
    """An event for one occurrence (frozen ones say so in their summary)."""
    title = item.schedule.title or item.schedule.name
    summary = f"{title} [{item.schedule.name}]"
    if item.frozen is not None:
        summary = f"FROZEN: {summary} ({item.frozen.reason})"
    return Event(
        uid=occurrence_uid(item.occurrence),
        summary=summary,
        description=_description(item),
        start=item.occurrence.at,
        end=item.occurrence.end,
        categories=("butler-maint", item.kind),
    )


def ics_events(planned: Sequence[Planned], freezes: Sequence[FreezePeriod]) -> list[Event]:
    """Events for the window occurrences of ``planned`` and for ``freezes``."""
    windows = [occurrence_event(p) for p in planned if p.kind == "window"]
    return windows + [freeze_event(f) for f in freezes]

"""Freeze periods of a schedule: inline, from shared freeze files, or from .ics files.

A freeze whose bound is a date covers whole days in the schedule's ``timezone``: from
the first instant of ``from`` to the first instant of the day after ``to`` (dates are
inclusive). A bound that is a date and time with an offset is that instant; one
without an offset is a wall time in the schedule's zone (read as occurrences are, see
``occurrences.local_instant``). A period is ``[start, end)``: a datetime ``to`` is
where the freeze ends.

A window (or routine) occurrence is frozen when its window ``[at, at + duration)``
overlaps a freeze period: a change freeze forbids any part of the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from butler_maint.errors import ContentError, Location
from butler_maint.model.content import load_freeze_file
from butler_maint.model.schedule import Freeze, Schedule
from butler_maint.schedule.ics import freezes_from_ics
from butler_maint.schedule.occurrences import Occurrence, local_instant

INLINE = "inline"
"""``FreezePeriod.source`` of a freeze written in the schedule file itself."""


@dataclass(frozen=True)
class FreezePeriod:
    """A freeze resolved to instants for one schedule's zone."""

    start: datetime
    """First frozen instant (UTC)."""
    end: datetime
    """First instant after the freeze (UTC, exclusive)."""
    reason: str
    source: str
    """``inline`` or the freeze file it came from (relative to the repo root)."""
    freeze: Freeze

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end)`` (or the instant ``start`` if equal) meets the freeze."""
        if start == end:
            return self.start <= start < self.end
        return start < self.end and self.start < end


def _bound(value: date | datetime, zone: ZoneInfo, *, is_end: bool) -> datetime:
    if isinstance(value, datetime):
        if isinstance(value.tzinfo, ZoneInfo):  # a wall time in a named zone: our DST rules
            return local_instant(value.replace(tzinfo=None), value.tzinfo)
        if value.tzinfo is not None and value.utcoffset() is not None:
            return value.astimezone(UTC)
        return local_instant(value, zone)
    day = value + timedelta(days=1) if is_end else value
    return local_instant(datetime.combine(day, time()), zone)


def freeze_periods(freezes: Iterable[Freeze], timezone: str, source: str) -> list[FreezePeriod]:
    """Resolve ``freezes`` to instants in ``timezone``."""
    zone = ZoneInfo(timezone)
    return [
        FreezePeriod(
            _bound(f.start, zone, is_end=False),
            _bound(f.end, zone, is_end=True),
            f.reason,
            source,
            f,
        )
        for f in freezes
    ]


def load_freezes(root: Path, reference: str) -> list[Freeze]:
    """The freezes of a freeze file named in ``freeze_files`` (YAML, or .ics)."""
    path = root / reference
    if not path.is_file():
        raise ContentError.at(Location(reference), "freeze file does not exist")
    if path.suffix.lower() == ".ics":
        return freezes_from_ics(path)
    return list(load_freeze_file(path).model.freezes)


def schedule_freezes(root: Path, schedule: Schedule) -> list[FreezePeriod]:
    """Every freeze period of ``schedule``, inline and from its freeze files, by start."""
    periods = freeze_periods(schedule.freeze, schedule.timezone, INLINE)
    for reference in schedule.freeze_files:
        periods += freeze_periods(load_freezes(root, reference), schedule.timezone, reference)
    return sorted(periods, key=lambda p: (p.start, p.end))


def frozen_during(
    periods: Sequence[FreezePeriod], start: datetime, end: datetime
) -> FreezePeriod | None:
    """The earliest freeze period overlapping ``[start, end)``, if any."""
    return next((p for p in sorted(periods, key=lambda p: p.start) if p.overlaps(start, end)), None)


def frozen_by(periods: Sequence[FreezePeriod], occurrence: Occurrence) -> FreezePeriod | None:
    """The freeze period that stops ``occurrence`` (its window overlaps it), if any."""
    return frozen_during(periods, occurrence.at, occurrence.end)

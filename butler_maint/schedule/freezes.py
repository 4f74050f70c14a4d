"""Freeze periods of a schedule: inline, from shared freeze files, or from .ics files.

A freeze whose bound is a date covers whole days in the schedule's ``timezone``: from
the first instant of ``from`` to the first instant of the day after ``to`` (dates are
inclusive). A bound that is a date and time with an offset is that instant; one
without an offset is a wall time in the schedule's zone (read as occurrences are, see
``occurrences.local_instant``). A period is ``[start, end)``: a datetime ``to`` is
where the freeze ends.

A window (or routine) occurrence is frozen when its window ``[at, at + duration)``
overlaps a freeze period: a change freeze forbids any part of the work.

A recurring freeze (``every:`` in YAML, an RRULE/RDATE event in an .ics file) is a
``FreezeSeries``: it is never expanded as a whole (a rule may have no end), only over
the range a question is about (``periods``), one calendar year at a time, each year
expanded once and kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from butler_maint.errors import ContentError, Location
from butler_maint.model.content import load_freeze_file
from butler_maint.model.schedule import (
    FREEZE_YEARS,
    Freeze,
    RecurringFreeze,
    Schedule,
    freeze_rule_bodies,
)
from butler_maint.schedule.ics import read_ics
from butler_maint.schedule.occurrences import Occurrence, local_instant

FREEZE_FIRST_YEAR, FREEZE_LAST_YEAR = FREEZE_YEARS
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


_MARGIN = timedelta(days=3)  # more than any UTC offset, around a day's bounds


@dataclass(eq=False)
class FreezeSeries:
    """A recurring freeze resolved in one schedule's zone, expanded only where asked."""

    reason: str
    source: str
    zone: ZoneInfo
    expand: Callable[[date, date], list[Freeze]]
    """The occurrences starting on days ``[first, last]`` (as written)."""
    longest: timedelta
    """The longest occurrence: a question looks back this far."""
    _years: dict[int, tuple[FreezePeriod, ...]] = field(default_factory=dict, repr=False)

    def _year(self, year: int) -> tuple[FreezePeriod, ...]:
        if year not in self._years:
            found = self.expand(date(year, 1, 1), date(year, 12, 31))
            self._years[year] = tuple(
                FreezePeriod(
                    _bound(f.start, self.zone, is_end=False),
                    _bound(f.end, self.zone, is_end=True),
                    f.reason,
                    self.source,
                    f,
                )
                for f in found
            )
        return self._years[year]

    def periods(self, start: datetime, end: datetime) -> list[FreezePeriod]:
        """The occurrences overlapping ``[start, end)`` (or the instant, if equal)."""
        try:
            first = (start - self.longest - _MARGIN).year
        except OverflowError:
            first = FREEZE_FIRST_YEAR
        try:
            last = (end + _MARGIN).year
        except OverflowError:
            last = FREEZE_LAST_YEAR
        years = range(max(first, FREEZE_FIRST_YEAR), min(last, FREEZE_LAST_YEAR) + 1)
        return [p for year in years for p in self._year(year) if p.overlaps(start, end)]


AnyFreeze = FreezePeriod | FreezeSeries
"""A freeze of a schedule: one period, or a recurring one."""


def recurring_freezes(spec: RecurringFreeze, first: date, last: date) -> list[Freeze]:
    """The occurrences of a YAML recurring freeze starting on days ``[first, last]``:
    from its start time, ``duration`` later on the local clock (whole days when it
    starts at 00:00 and lasts whole days)."""
    from dateutil.rrule import rruleset, rrulestr

    low = max(first, spec.first) if spec.first else first
    high = min(last, spec.until) if spec.until else last
    if low > high:
        return []
    at = spec.start_time
    anchor = datetime.combine(spec.first or low, at)  # without `from`, rules do not count
    rules = rruleset()
    for body in freeze_rule_bodies(spec.every, spec.on):
        rules.rrule(rrulestr(body, dtstart=anchor))  # type: ignore[arg-type]
    for day in spec.skip:
        rules.exdate(datetime.combine(day, at))
    length = spec.length
    whole_days = spec.at is None and length % timedelta(days=1) == timedelta(0)
    found: list[Freeze] = []
    for moment in rules.between(
        datetime.combine(low, time()), datetime.combine(high, time.max), inc=True
    ):
        start: date | datetime = moment.date() if whole_days else moment
        end: date | datetime = (
            moment.date() + length - timedelta(days=1) if whole_days else (moment + length)
        )
        try:
            found.append(Freeze.model_validate({"from": start, "to": end, "reason": spec.reason}))
        except ValidationError:  # it would end past the last year a freeze may name
            break
    return found


def _ics_series(root: Path, reference: str, zone: ZoneInfo) -> tuple[list[Freeze], list[AnyFreeze]]:
    calendar = read_ics(root / reference)
    if calendar.series is None:
        return calendar.once, []
    series = calendar.series
    return calendar.once, [FreezeSeries(reference, reference, zone, series.freezes, series.longest)]


def _split(
    specs: Iterable[Freeze | RecurringFreeze], zone: ZoneInfo, source: str
) -> tuple[list[Freeze], list[AnyFreeze]]:
    once = [f for f in specs if isinstance(f, Freeze)]
    series: list[AnyFreeze] = [
        FreezeSeries(
            f.reason,
            source,
            zone,
            partial(recurring_freezes, f),
            f.length + timedelta(days=1),
        )
        for f in specs
        if isinstance(f, RecurringFreeze)
    ]
    return once, series


def load_freezes(
    root: Path, reference: str, timezone: str = "UTC"
) -> tuple[list[Freeze], list[AnyFreeze]]:
    """The freezes of a freeze file named in ``freeze_files`` (YAML, or .ics): the
    single periods, and the recurring ones resolved in ``timezone``."""
    path = root / reference
    if not path.is_file():
        raise ContentError.at(Location(reference), "freeze file does not exist")
    zone = ZoneInfo(timezone)
    if path.suffix.lower() == ".ics":
        return _ics_series(root, reference, zone)
    return _split(load_freeze_file(path).model.freezes, zone, reference)


def schedule_freezes(root: Path, schedule: Schedule) -> list[AnyFreeze]:
    """Every freeze of ``schedule``, inline and from its freeze files: the periods by
    start, then the recurring ones."""
    zone = ZoneInfo(schedule.timezone)
    once, series = _split(schedule.freeze, zone, INLINE)
    periods = freeze_periods(once, schedule.timezone, INLINE)
    for reference in schedule.freeze_files:
        file_once, file_series = load_freezes(root, reference, schedule.timezone)
        periods += freeze_periods(file_once, schedule.timezone, reference)
        series += file_series
    return [*sorted(periods, key=lambda p: (p.start, p.end)), *series]


def periods_in(freezes: Iterable[AnyFreeze], start: datetime, end: datetime) -> list[FreezePeriod]:
    """The freeze periods overlapping ``[start, end)``, by start; recurring freezes are
    expanded over that range only."""
    found: list[FreezePeriod] = []
    for item in freezes:
        if isinstance(item, FreezeSeries):
            found += item.periods(start, end)
        elif item.overlaps(start, end):
            found.append(item)
    return sorted(found, key=lambda p: (p.start, p.end))


def frozen_during(
    freezes: Sequence[AnyFreeze], start: datetime, end: datetime
) -> FreezePeriod | None:
    """The earliest freeze period overlapping ``[start, end)``, if any."""
    return next(iter(periods_in(freezes, start, end)), None)


def frozen_by(freezes: Sequence[AnyFreeze], occurrence: Occurrence) -> FreezePeriod | None:
    """The freeze period that stops ``occurrence`` (its window overlaps it), if any."""
    return frozen_during(freezes, occurrence.at, occurrence.end)

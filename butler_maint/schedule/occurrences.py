"""When a schedule fires: its occurrences in UTC, from an RRULE or a cron expression.

Pure: every function takes the instants it works on; nothing reads the clock.

How local times become instants (the same for RRULE and cron):

1. The recurrence is expanded as *wall times* (naive local times) in the schedule's
   ``timezone``: python-dateutil's rrule and croniter both do plain calendar arithmetic
   on naive datetimes, so neither applies any DST logic of its own.
2. Each wall time runs at **the first instant at which the local clock shows that time
   or later**:

   - a wall time that exists once maps to that instant;
   - a wall time skipped by a spring-forward change (02:30 in Europe/Berlin on
     2027-03-28) runs once, at the first valid instant after the gap (03:00 CEST =
     01:00Z); its nominal wall time is kept (``Occurrence.wall``, ``shifted``);
   - a wall time repeated by a fall-back change (02:30 on 2026-10-25) runs once, at
     its first occurrence (02:30 CEST = 00:30Z, ``fold=0``), never twice.

3. Wall times that land on the same instant (02:00 and 02:30 both inside a gap, or a
   shifted 02:30 and a regular 03:00) are one occurrence.

So occurrences are strictly increasing in UTC; none is lost and none doubled. A rule
that fires several times an hour pauses for the repeated hour of a fall-back day.
``duration`` is elapsed time: a 3h window starting 01:00 on a fall-back day ends 3
real hours later.

An RRULE without DTSTART is anchored at 2026-01-01 00:00 in the schedule's zone (the
anchor ``validate`` uses): INTERVAL counts from there, and unset BYHOUR/BYMINUTE mean
00:00. A DTSTART's wall time is read in the schedule's ``timezone`` (a TZID or Z on it
is not a second zone).

Expanding a range costs what the range holds, not what lies before it: dateutil walks
a rule from its DTSTART, so each rule is moved to start a whole number of INTERVAL
periods later (the same occurrences from there on) and to stop at the range's end. A
rule with COUNT is walked from its DTSTART (COUNT is at most ``MAX_COUNT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from butler_maint.model.schedule import (
    Schedule,
    is_rrule,
    parse_rrule,
    rule_fields,
    rule_parts,
)

if TYPE_CHECKING:
    from dateutil.rrule import rrule


_MARGIN = timedelta(days=2)  # more than any UTC offset change (Pacific/Apia skipped 24h)
_FIRST_CHUNK = timedelta(days=1)
DEFAULT_HORIZON = timedelta(days=3660)
"""How far ``next_occurrence``/``previous_occurrence`` look before giving up."""


@dataclass(frozen=True)
class Occurrence:
    """One firing of a schedule: its UTC instant, with the local time kept."""

    schedule: str
    at: datetime
    """The instant it runs, in UTC; what ``trigger.occurrence`` records."""
    local: datetime
    """The same instant in the schedule's zone (aware). Compare ``at``, never ``local``:
    a time in a fall-back fold never equals a time in another zone (PEP 495)."""
    wall: datetime
    """The nominal local wall time the rule asked for (naive)."""
    duration: timedelta

    @property
    def end(self) -> datetime:
        """End of the window (UTC): no new batch starts at or after it."""
        return self.at + self.duration

    @property
    def shifted(self) -> bool:
        """True when the nominal wall time did not exist (a spring-forward gap)."""
        return self.local.replace(tzinfo=None) != self.wall

    @property
    def zone_abbrev(self) -> str:
        """The zone's abbreviation at that instant, e.g. CEST."""
        return self.local.tzname() or self.local.strftime("%z")


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC)


def wall_of(moment: datetime, zone: ZoneInfo) -> datetime:
    """The local wall time (naive) shown in ``zone`` at instant ``moment``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock of ``zone`` shows ``wall`` or later."""
    early = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if wall_of(early, zone) == wall:
        return early  # exists (fold=0 is the first of two on a fall-back day)
    late = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _gap_end(wall, zone, min(early, late), max(early, late))


def _gap_end(wall: datetime, zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The transition instant ending the gap ``wall`` falls in (bisection on seconds)."""
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while lo < hi:
        mid = (lo + hi) // 2
        if wall_of(datetime.fromtimestamp(mid, UTC), zone) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return datetime.fromtimestamp(lo, UTC)


def wall_times(every: str, low: datetime, high: datetime) -> list[datetime]:
    """Nominal wall times (naive) of ``every`` in ``[low, high]``, ascending."""
    return _rrule_walls(every, low, high) if is_rrule(every) else _cron_walls(every, low, high)


def _rrule_walls(every: str, low: datetime, high: datetime) -> list[datetime]:
    from dateutil.rrule import rruleset

    rules, dates, exrules, exdates = rule_parts(parse_rrule(every))
    firsts = [rule_fields(rule)["_dtstart"] for rule in rules] + dates
    if not firsts:
        return []
    tz = firsts[0].tzinfo  # a DTSTART with TZID/Z: keep its wall clock, compare in its zone
    low, high = low.replace(tzinfo=tz), high.replace(tzinfo=tz)
    bounded = rruleset()
    for rule in rules:
        bounded.rrule(_within(rule, low, high))
    for rule in exrules:
        bounded.exrule(_within(rule, low, high))
    for moment in dates:
        bounded.rdate(moment)
    for moment in exdates:
        bounded.exdate(moment)
    return [w.replace(tzinfo=None) for w in bounded.between(low, high, inc=True)]


def _within(rule: rrule, low: datetime, high: datetime) -> rrule:
    """``rule`` walked from shortly before ``low`` and stopped at ``high``."""
    fields = rule_fields(rule)
    if fields["_count"] is not None:
        return rule  # a COUNT counts from DTSTART
    until = high if fields["_until"] is None else min(fields["_until"], high)
    return rule.replace(dtstart=_skip_ahead(fields, low), until=until)


_STEP = {2: timedelta(weeks=1), 3: timedelta(days=1), 4: timedelta(hours=1)}
_STEP.update({5: timedelta(minutes=1), 6: timedelta(seconds=1)})  # dateutil's FREQ values


def _skip_ahead(fields: dict[str, Any], low: datetime) -> datetime:
    """DTSTART moved a whole number of INTERVAL periods on, to two periods before ``low``:
    same time of day, weekday and day of month, so the same occurrences from there."""
    start: datetime = fields["_dtstart"]
    freq, interval = fields["_freq"], fields["_interval"]
    if freq in _STEP:
        step = _STEP[freq] * interval
        periods = (low - start) // step - 2
        return start + step * periods if periods > 0 else start
    if start.day > 28:
        return start  # not every month has that day: walk it from DTSTART (monthly steps)
    months = interval * (12 if freq == 0 else 1)
    periods = ((low.year - start.year) * 12 + low.month - start.month) // months - 2
    if periods <= 0:
        return start
    total = start.month - 1 + periods * months
    return start.replace(year=start.year + total // 12, month=total % 12 + 1)


def _cron_walls(every: str, low: datetime, high: datetime) -> list[datetime]:
    from croniter import croniter

    walls: list[datetime] = []
    it = croniter(every, low - timedelta(minutes=1), ret_type=datetime)
    while (wall := it.get_next(datetime)) <= high:
        walls.append(wall)
    return walls


def occurrences(schedule: Schedule, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of ``schedule`` with ``start <= at < end`` (aware bounds), by time."""
    start, end = _aware(start, "start"), _aware(end, "end")
    zone = ZoneInfo(schedule.timezone)
    walls = wall_times(schedule.every, wall_of(start, zone) - _MARGIN, wall_of(end, zone) + _MARGIN)
    found: list[Occurrence] = []
    last: datetime | None = None
    for wall in walls:
        at = local_instant(wall, zone)
        if at != last and start <= at < end:
            found.append(Occurrence(schedule.name, at, at.astimezone(zone), wall, schedule.length))
        last = at  # the mapping is monotonic, so equal instants are neighbours
    return found


def next_occurrence(
    schedule: Schedule, after: datetime, *, horizon: timedelta = DEFAULT_HORIZON
) -> Occurrence | None:
    """The first occurrence strictly after ``after`` (None within ``horizon``)."""
    after = _aware(after, "after")
    span = _FIRST_CHUNK
    while True:
        found = [o for o in occurrences(schedule, after, after + span) if o.at > after]
        if found or span >= horizon:
            return found[0] if found else None
        span = min(span * 4, horizon)


def previous_occurrence(
    schedule: Schedule, moment: datetime, *, horizon: timedelta = DEFAULT_HORIZON
) -> Occurrence | None:
    """The latest occurrence at or before ``moment`` (None within ``horizon``)."""
    moment = _aware(moment, "moment")
    span = max(_FIRST_CHUNK, schedule.length)
    while True:
        found = occurrences(schedule, moment - span, moment + timedelta(microseconds=1))
        if found or span >= horizon:
            return found[-1] if found else None
        span = min(span * 4, horizon)

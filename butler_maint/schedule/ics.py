"""iCalendar (RFC 5545): writing the maintenance calendar, and reading freeze periods.

Writing needs no library: CRLF line endings, lines folded at 75 octets (never inside a
UTF-8 sequence), TEXT values escaped, times in UTC (``...Z``) or all-day dates
(``VALUE=DATE``).

Reading uses the ``icalendar`` package (parsing, VTIMEZONE blocks) and
``recurring-ical-events`` (RRULE, RDATE, EXDATE, moved and cancelled occurrences).
Each VEVENT becomes a ``Freeze`` with its SUMMARY as the reason: all-day events cover
whole local days of the schedule's zone, floating times are wall times in that zone, a
TZID that names an IANA zone or a Windows/Outlook zone (``W. Europe Standard Time``) is a
wall time in that IANA zone with the DST rules of ``occurrences``, any other TZID uses
the file's own VTIMEZONE block. Recurring events are expanded lazily, only over the days
a caller asks about (``IcsSeries.freezes``). A small line scanner (``events``) finds the
line of each event and property for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from butler_maint.errors import ContentError, Location
from butler_maint.model.schedule import Freeze, check_freeze_rule
from butler_maint.model.yamldoc import MAX_BYTES
from butler_maint.schedule.occurrences import local_instant

if TYPE_CHECKING:  # imported where used: every command starts without them
    from icalendar import Calendar
    from icalendar import Component as VEvent

PRODID = "-//butler-maint//maintenance calendar//EN"
_FOLD_AT = 75
_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}
_UNESCAPES = {"\\": "\\", ";": ";", ",": ",", "n": "\n", "N": "\n"}


@dataclass(frozen=True)
class Event:
    """One VEVENT to write; ``start``/``end`` are UTC instants or all-day dates."""

    uid: str
    summary: str
    description: str
    start: datetime | date
    end: datetime | date
    """Exclusive: the instant it ends, or the day after an all-day event."""
    categories: tuple[str, ...] = ()
    transparent: bool = False


# -- writing -------------------------------------------------------------------


def escape_text(value: str) -> str:
    """Escape a TEXT value (backslash, semicolon, comma, newline)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(_ESCAPES.get(c, c) for c in value)


def fold(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets joined by CRLF + space."""
    chunks: list[str] = []
    current, size, limit = "", 0, _FOLD_AT
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            chunks.append(current)
            current, size, limit = "", 0, _FOLD_AT - 1  # the leading space is an octet
        current += char
        size += width
    chunks.append(current)
    return "\r\n ".join(chunks)


def _when(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return ":" + value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";VALUE=DATE:" + value.strftime("%Y%m%d")


def _event_lines(event: Event, stamp: str) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{stamp}",
        f"DTSTART{_when(event.start)}",
        f"DTEND{_when(event.end)}",
        f"SUMMARY:{escape_text(event.summary)}",
        f"DESCRIPTION:{escape_text(event.description)}",
    ]
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in event.categories))
    lines.append("TRANSP:" + ("TRANSPARENT" if event.transparent else "OPAQUE"))
    lines.append("END:VEVENT")
    return lines


def render_calendar(events: Sequence[Event], *, stamp: datetime, name: str) -> str:
    """A whole VCALENDAR; ``stamp`` (aware) is every event's DTSTAMP."""
    stamp_text = stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines.extend(_event_lines(event, stamp_text))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# -- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """One unfolded content line: name, parameters, raw value, first physical line."""

    name: str
    params: dict[str, str]
    value: str
    line: int


def unescape_text(value: str) -> str:
    """Undo TEXT escaping."""
    out, chars = [], iter(value)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, ""), "\\") if char == "\\" else char)
    return "".join(out)


def _split_outside_quotes(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted and maxsplit != 0:
            parts.append(current)
            current, maxsplit = "", maxsplit - 1
            continue
        current += char
    return [*parts, current]


def content_lines(text: str) -> list[Property]:
    """Unfold ``text`` and split it into properties (blank lines skipped)."""
    logical: list[tuple[int, list[str]]] = []  # parts joined once: unfolding stays linear
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t") and logical:
            logical[-1][1].append(raw[1:])
        elif raw.strip():
            logical.append((number, [raw]))
    return [_property(number, "".join(parts)) for number, parts in logical]


def _property(number: int, line: str) -> Property:
    parts = _split_outside_quotes(line, ":", 1)
    head, value = parts[0], parts[1] if len(parts) > 1 else ""
    name, *raw_params = _split_outside_quotes(head, ";")
    params: dict[str, str] = {}
    for raw in raw_params:
        key, _, val = raw.partition("=")
        params[key.upper()] = val.strip('"')
    return Property(name.upper(), params, value, number)


def events(text: str) -> list[dict[str, Property]]:
    """The properties of each top-level VEVENT by name (``BEGIN`` is its first line);
    nested components such as VALARM are ignored."""
    found: list[dict[str, Property]] = []
    stack: list[str] = []
    for prop in content_lines(text):
        if prop.name == "BEGIN":
            stack.append(prop.value.upper())
            if stack in (["VCALENDAR", "VEVENT"], ["VEVENT"]):
                found.append({"BEGIN": prop})
        elif prop.name == "END":
            if stack:
                stack.pop()
        elif stack[-1:] == ["VEVENT"] and found:
            found[-1].setdefault(prop.name, prop)
    return found


def iana_zone(tzid: str) -> ZoneInfo | None:
    """The IANA zone a TZID names: an IANA name, a Windows/Outlook name (the CLDR
    ``windowsZones`` table icalendar ships: ``W. Europe Standard Time`` is
    ``Europe/Berlin``) or a ``/vendor/Area/City`` id; None for any other name."""
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    name = tzid.strip().strip('"').strip()
    parts = name.strip("/").split("/")
    candidates = [name, WINDOWS_TO_OLSON.get(name, "")]
    if name.startswith("/"):
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in filter(None, candidates):
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            continue
    return None


@dataclass(frozen=True)
class _Source:
    """One VEVENT as the library read it, with the lines the scanner found for it."""

    path: Path
    event: VEvent
    lines: dict[str, Property]
    zones: frozenset[str]
    """TZIDs the calendar defines in VTIMEZONE blocks."""

    def line(self, name: str = "BEGIN") -> int:
        prop = self.lines.get(name) or self.lines.get("BEGIN")
        return prop.line if prop else 1

    def error(self, message: str, name: str = "BEGIN") -> ContentError:
        return ContentError.at(Location(self.path, self.line(name), 1), message)


def _moment(source: _Source, event: VEvent, name: str) -> date | datetime:
    """DTSTART/DTEND of ``event`` as a freeze bound: a date, a wall time (naive: the
    schedule's zone; with an IANA zone: that zone's DST rules) or an aware instant."""
    prop = event.get(name)
    value = getattr(prop, "dt", None)
    if not isinstance(value, date):
        raise source.error(f"{name}: cannot read {event.get(name)!r} as a date or time", name)
    if not isinstance(value, datetime):
        return value
    tzid = prop.params.get("TZID") if prop is not None else None
    if tzid is None:
        return value  # UTC (aware) or floating (naive)
    zone = iana_zone(tzid)
    if zone is not None:
        return value.replace(tzinfo=zone)  # the wall time written, in the IANA zone
    if value.tzinfo is None or tzid not in source.zones:
        raise source.error(
            f"{name}: unknown TZID {tzid!r} (not an IANA or Windows zone name, and the "
            "calendar has no VTIMEZONE block for it)",
            name,
        )
    return value  # the calendar's own VTIMEZONE definition


def _instant(value: datetime) -> datetime:
    if isinstance(value.tzinfo, ZoneInfo):
        return local_instant(value.replace(tzinfo=None), value.tzinfo)
    return value.astimezone(UTC)


def _freeze(source: _Source, event: VEvent) -> Freeze:
    """The freeze one event (or one occurrence of a series) describes."""
    start = _moment(source, event, "DTSTART")
    end: date | datetime
    if "DTEND" in event:
        end = _moment(source, event, "DTEND")
        if not isinstance(end, datetime) and not isinstance(start, datetime):
            end = max(start, end - timedelta(days=1))  # DTEND is exclusive; `to` inclusive
    elif "DURATION" in event:
        length = getattr(event.get("DURATION"), "dt", None)
        if not isinstance(length, timedelta):
            raise source.error(f"DURATION: cannot read {event.get('DURATION')!r}", "DURATION")
        try:
            if isinstance(start, datetime) and start.tzinfo is not None:
                start = _instant(start)
                end = start + length  # elapsed time, whatever DST does
            else:
                end = start + length
                if not isinstance(start, datetime):
                    end = max(start, end - timedelta(days=1))
        except OverflowError:
            raise source.error("DURATION: ends past the year 9999", "DURATION") from None
    else:
        end = start  # RFC 5545: a one-day event, or one without length
    summary = str(event.get("SUMMARY") or "").strip()
    try:
        return Freeze.model_validate(
            {"from": start, "to": end, "reason": summary or source.path.name}
        )
    except ValidationError as exc:
        problems = "; ".join(dict.fromkeys(e["msg"] for e in exc.errors()))
        raise source.error(f"not a freeze period: {problems}", "DTSTART") from None


def _cancelled(event: VEvent) -> bool:
    return str(event.get("STATUS") or "").strip().upper() == "CANCELLED"


_READ = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SUMMARY")


def _check_event(source: _Source) -> None:
    """Refuse what the library could not read in the properties a freeze uses."""
    for name, message in source.event.errors:
        if name is not None and name.upper() in _READ:
            raise source.error(f"{name.upper()}: cannot read it: {message}", name.upper())
    if "DTSTART" not in source.event:
        raise source.error("VEVENT without DTSTART")
    for name in ("EXDATE", "RDATE", "RECURRENCE-ID"):
        values = source.event.get(name)
        for prop in values if isinstance(values, list) else [values] if values else []:
            tzid = prop.params.get("TZID")
            if tzid and iana_zone(tzid) is None and tzid not in source.zones:
                raise source.error(f"{name}: unknown TZID {tzid!r}", name)


def _check_rules(source: _Source) -> None:
    start = _moment(source, source.event, "DTSTART")
    wall = (
        start.replace(tzinfo=None)
        if isinstance(start, datetime)
        else datetime(*start.timetuple()[:3])
    )
    rules = source.event.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules else []:
        try:
            check_freeze_rule(rule.to_ical().decode(), wall)
        except ValueError as exc:
            raise source.error(f"RRULE: {exc}", "RRULE") from None


@dataclass(frozen=True)
class IcsSeries:
    """The recurring events of one .ics file (RRULE/RDATE, with their moved or
    cancelled occurrences), expanded by ``recurring-ical-events`` only over the days
    asked."""

    path: Path
    calendar: Calendar
    sources: dict[str, _Source]
    """By UID: where each series is, for errors."""
    longest: timedelta
    """The longest occurrence (a query looks back this far)."""

    def freezes(self, first: date, last: date) -> list[Freeze]:
        """The occurrences whose start day (as written) lies in ``[first, last]``."""
        import recurring_ical_events

        found: list[Freeze] = []
        try:
            occurrences = recurring_ical_events.of(self.calendar).between(
                first - timedelta(days=2), last + timedelta(days=3)
            )
            for event in occurrences:
                if _cancelled(event):
                    continue
                source = self.sources[str(event.get("UID"))]
                freeze = _freeze(source, event)
                day = freeze.start.date() if isinstance(freeze.start, datetime) else freeze.start
                if first <= day <= last:
                    found.append(freeze)
        except ContentError:
            raise
        except Exception as exc:  # the library's errors on a series it cannot expand
            raise ContentError.at(
                Location(self.path), f"cannot expand the recurring events: {exc}"
            ) from None
        return found


@dataclass(frozen=True)
class IcsCalendar:
    """What an .ics file holds for freezes: single events, and the recurring ones."""

    once: list[Freeze]
    series: IcsSeries | None


def _line_of(text: str, message: str) -> int:
    """The line of the content line a library message quotes ('...'), else 1."""
    quoted = re.search(r"'([^']*)'", message)
    if quoted:
        wanted = quoted.group(1).lower()
        return next((p.line for p in content_lines(text) if wanted in _raw(p).lower()), 1)
    return 1


def _parse(path: Path, text: str) -> Calendar:
    from icalendar import Calendar

    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except ValueError as exc:
        raise ContentError.at(
            Location(path, _line_of(text, str(exc)), 1), f"not a valid calendar: {exc}"
        ) from None
    if len(calendars) != 1:
        raise ContentError.at(
            Location(path, 1, 1), f"expected one VCALENDAR, found {len(calendars)}"
        )
    for component in calendars[0].walk():
        for name, message in component.errors:
            if name is None:  # a line that is no property at all
                line = _line_of(text, message)
                raise ContentError.at(Location(path, line, 1), f"not a valid calendar: {message}")
    return calendars[0]


def _raw(prop: Property) -> str:
    params = "".join(f";{k}={v}" for k, v in prop.params.items())
    return f"{prop.name}{params}:{prop.value}"


def _length(freeze: Freeze) -> timedelta:
    def instant(value: date | datetime) -> datetime:
        if isinstance(value, datetime):
            return _instant(value) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC)

    extra = timedelta(days=0 if isinstance(freeze.end, datetime) else 1)
    return max(timedelta(0), instant(freeze.end) - instant(freeze.start)) + extra


def read_ics(path: Path) -> IcsCalendar:
    """The freezes of an .ics file: each event's SUMMARY is its reason; cancelled
    events and occurrences are skipped; recurring events become an ``IcsSeries``."""
    try:
        data = path.read_bytes()
        if len(data) > MAX_BYTES:
            raise ContentError.at(
                Location(path, 1, 1),
                f"calendar larger than {MAX_BYTES >> 10} KiB; expected a smaller file",
            )
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError.at(Location(path), f"cannot read calendar: {exc}") from None
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        raise ContentError.at(Location(path, 1, 1), "not an iCalendar file (no BEGIN:VCALENDAR)")
    calendar = _parse(path, text)
    zones = frozenset(str(z.get("TZID")) for z in calendar.walk("VTIMEZONE"))
    scanned = events(text)
    vevents = [c for c in calendar.subcomponents if c.name == "VEVENT"]
    if len(scanned) != len(vevents):  # the scanner and the library disagree: no lines
        scanned = [{} for _ in vevents]
    once: list[Freeze] = []
    recurring: dict[str, _Source] = {}
    series_parts: list[VEvent] = []
    longest = timedelta(days=1)
    for event, lines in zip(vevents, scanned, strict=True):
        source = _Source(path, event, lines, zones)
        _check_event(source)
        is_series = any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
        if not is_series:
            if not _cancelled(event):
                once.append(_freeze(source, event))
            continue
        _check_rules(source)
        longest = max(longest, _length(_freeze(source, event)))
        recurring.setdefault(str(event.get("UID")), source)
        series_parts.append(event)
    if not series_parts:
        return IcsCalendar(once, None)
    sub = type(calendar)()
    for part in [*calendar.walk("VTIMEZONE"), *series_parts]:
        sub.add_component(part)
    series = IcsSeries(path, sub, recurring, longest)
    for source in recurring.values():  # expand each series' first year now: errors at load
        start = _freeze(source, source.event).start
        day = start.date() if isinstance(start, datetime) else start
        series.freezes(day, day + timedelta(days=366))
    return IcsCalendar(once, series)

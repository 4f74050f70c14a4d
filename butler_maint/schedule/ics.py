"""iCalendar (RFC 5545) text: writing events, and reading freeze periods from VEVENTs.

No dependency: the subset written and read is small. Writing: CRLF line endings,
lines folded at 75 octets (never inside a UTF-8 sequence), TEXT values escaped, times
in UTC (``...Z``) or all-day dates (``VALUE=DATE``). Reading: unfolded content lines,
VEVENTs with DTSTART and DTEND or DURATION (UTC, TZID, floating or all-day; a TZID
time follows the DST rules of ``occurrences``), SUMMARY as the reason; cancelled
events are skipped, recurring ones (RRULE/RDATE) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from butler_maint.errors import ContentError, Location
from butler_maint.model.schedule import Freeze
from butler_maint.model.yamldoc import MAX_BYTES
from butler_maint.schedule.occurrences import local_instant

PRODID = "-//butler-maint//maintenance calendar//EN"
_FOLD_AT = 75
_ESCAPES = {"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n"}
_UNESCAPES = {"\\": "\\", ";": ";", ",": ",", "n": "\n", "N": "\n"}
_DURATION = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


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


def _parse_time(prop: Property, where: Path) -> date | datetime:
    value = prop.value.strip()
    try:
        if prop.params.get("VALUE", "").upper() == "DATE" or len(value) == 8:
            return datetime.strptime(value, "%Y%m%d").date()
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        moment = datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError:
        raise _error(where, prop, f"{prop.name}: cannot read {value!r} as a date or time") from None
    tzid = prop.params.get("TZID")
    if tzid is None:
        return moment  # floating: a wall time in the schedule's zone
    try:
        zone = ZoneInfo(tzid)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise _error(where, prop, f"unknown TZID {tzid!r} (use an IANA zone name)") from None
    try:
        return local_instant(moment, zone)  # the DST rules of occurrences, as a UTC instant
    except OverflowError:
        raise _error(where, prop, f"{prop.name}: {value!r} is out of range") from None


def parse_duration(prop: Property, where: Path) -> timedelta:
    """A DURATION value (``P1D``, ``PT2H30M``, ``P1W``)."""
    match = _DURATION.match(prop.value.strip())
    if not match or not any(match.groups()[1:]):
        raise _error(where, prop, f"DURATION: cannot read {prop.value!r}")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    try:
        total = timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=int(seconds or 0),
        )
    except OverflowError:
        raise _error(where, prop, f"DURATION: {prop.value!r} is too long") from None
    return -total if sign == "-" else total


def _error(where: Path, prop: Property, message: str) -> ContentError:
    return ContentError.at(Location(where, prop.line, 1), message)


def _end(event: dict[str, Property], start: date | datetime, where: Path) -> date | datetime:
    """The freeze's ``to``: inclusive last day for all-day events, else the end instant."""
    if "DTEND" in event:
        end = _parse_time(event["DTEND"], where)
    elif "DURATION" in event:
        length = parse_duration(event["DURATION"], where)
        try:
            if isinstance(start, datetime) and start.tzinfo is not None:
                end = start.astimezone(UTC) + length  # elapsed time, whatever DST does
            else:
                end = start + length
        except OverflowError:
            raise _error(where, event["DURATION"], "DURATION: ends past the year 9999") from None
    else:
        return start  # RFC 5545: a one-day event, or one without length
    if isinstance(end, datetime) or isinstance(start, datetime):
        return end
    return max(start, end - timedelta(days=1))


def freeze_of(event: dict[str, Property], where: Path) -> Freeze | None:
    """The freeze one VEVENT describes (None when it is cancelled)."""
    status = event.get("STATUS")
    if status is not None and status.value.strip().upper() == "CANCELLED":
        return None
    anchor = event.get("DTSTART") or event["BEGIN"]
    for recurring in ("RRULE", "RDATE"):
        if recurring in event:
            raise _error(where, event[recurring], "recurring events are not supported in freeze")
    if "DTSTART" not in event:
        raise _error(where, anchor, "VEVENT without DTSTART")
    start = _parse_time(event["DTSTART"], where)
    summary = event.get("SUMMARY")
    reason = unescape_text(summary.value).strip() if summary else ""
    try:
        return Freeze.model_validate(
            {"from": start, "to": _end(event, start, where), "reason": reason or where.name}
        )
    except ValidationError as exc:
        problems = "; ".join(e["msg"] for e in exc.errors())
        raise _error(where, anchor, f"not a freeze period: {problems}") from None


def freezes_from_ics(path: Path) -> list[Freeze]:
    """Freeze periods from the VEVENTs of an .ics file (SUMMARY is the reason)."""
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
    return [f for event in events(text) if (f := freeze_of(event, path)) is not None]

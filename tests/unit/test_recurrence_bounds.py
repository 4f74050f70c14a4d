"""Recurrences: at most once a minute, firing at all, and expanded at the cost of the range
asked for (never walked from a DTSTART decades back, never searched up to the year 9999).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from butler_maint.errors import ContentError
from butler_maint.model.content import load_schedule
from butler_maint.model.schedule import (
    MAX_COUNT,
    MAX_DURATION,
    RRULE_ANCHOR,
    Schedule,
    check_recurrence,
    parse_duration,
)
from butler_maint.schedule.ics import read_ics
from butler_maint.schedule.occurrences import next_occurrence, occurrences, previous_occurrence


def schedule(every: str) -> Schedule:
    return Schedule.model_validate({"routine": "r", "checklist": "c", "every": every})


@pytest.mark.parametrize(
    ("every", "reason"),
    [
        ("RRULE:FREQ=SECONDLY", "more than once a minute"),
        ("RRULE:FREQ=SECONDLY;INTERVAL=30", "more than once a minute"),
        ("RRULE:FREQ=MINUTELY;BYSECOND=0,30", "more than once a minute"),
        ("RRULE:FREQ=HOURLY;BYMINUTE=0;BYSECOND=1,2", "more than once a minute"),
        ("RRULE:FREQ=DAILY\nRRULE:FREQ=DAILY;BYSECOND=30", "different seconds of a minute"),
        ("RRULE:FREQ=DAILY\nRDATE:20260101T000030", "different seconds of a minute"),
        ("RRULE:FREQ=MINUTELY;INTERVAL=0", "INTERVAL=0: expected 1 or more"),
        ("RRULE:FREQ=HOURLY;INTERVAL=0", "INTERVAL=0: expected 1 or more"),
        ("RRULE:FREQ=YEARLY;INTERVAL=11", "more than 10 years apart"),
        ("RRULE:FREQ=MINUTELY;INTERVAL=99999999999", "more than 10 years apart"),
        (f"RRULE:FREQ=DAILY;COUNT={MAX_COUNT + 1}", f"expected at most {MAX_COUNT}"),
        ("RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("RRULE:FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31", "never fires"),
        ("RRULE:FREQ=WEEKLY;BYSETPOS=9;BYDAY=MO", "never fires"),
        ("RRULE:FREQ=DAILY;BYHOUR=1;BYSETPOS=2", "never fires"),
        ("RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=TU", "never fires"),
        ("RRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "never fires"),
        ("RRULE:FREQ=DAILY;UNTIL=19990101T000000", "never fires"),
        ("RRULE:FREQ=DAILY\nEXRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("RRULE:FREQ=DAILY;BYHOUR=99", "invalid RRULE"),
        ("RRULE:", "invalid RRULE"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6 *", "never fires"),
        ("* * * * * *", "five-field cron"),
    ],
)
def test_refused_recurrences(every: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_recurrence(every)


@pytest.mark.parametrize(
    "every",
    [
        "* * * * *",
        "RRULE:FREQ=MINUTELY",
        "RRULE:FREQ=SECONDLY;INTERVAL=60",
        "RRULE:FREQ=SECONDLY;INTERVAL=90",
        "RRULE:FREQ=SECONDLY;BYSECOND=15",
        "RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2",
        "RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1",
        "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=TH",
        "RRULE:FREQ=DAILY\nRDATE:20260301T000000\nEXDATE:20260102T000000",
        "DTSTART:19000101T000000\nRRULE:FREQ=MINUTELY",
        "DTSTART:20260104T020000\nRRULE:FREQ=WEEKLY;COUNT=2",
        "0 0 29 2 *",
        "DTSTART;TZID=Nowhere/Land:20260101T000000\nRRULE:FREQ=DAILY",  # the wall time counts
    ],
)
def test_accepted_recurrences(every: str) -> None:
    assert check_recurrence(every) == every


def test_a_refused_schedule_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text('routine: r\nchecklist: c\nevery: "RRULE:FREQ=SECONDLY"\n')
    with pytest.raises(ContentError, match=r"r\.yaml:3:1: every: it can fire more than once"):
        load_schedule(path)


def test_a_time_zone_name_too_long_for_a_file_name(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"routine: r\nchecklist: c\nevery: '0 6 * * *'\ntimezone: {'Z' * 300}\n")
    with pytest.raises(ContentError, match=r"r\.yaml:4:1: timezone: unknown time zone"):
        load_schedule(path)


@pytest.mark.parametrize("when", ["9999-12-31", "0001-01-01"])
def test_a_freeze_at_the_end_of_the_calendar_is_refused(tmp_path: Path, when: str) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "routine: w\nchecklist: c\nevery: '0 6 * * *'\n"
        f"freeze:\n  - {{from: 2026-12-20, to: '{when}', reason: x}}\n"
    )
    with pytest.raises(
        ContentError, match=r"w\.yaml:5:\d+: freeze\[0\]\.(to|from): expected a date"
    ):
        load_schedule(path)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            "DTSTART:20260101T000000Z\nDURATION:P99999999999D",
            "4:1: DURATION: cannot read it: Impractical iCalendar duration: P99999999999D",
        ),
        ("DTSTART:99991231T235959\nDURATION:PT1H", "4:1: DURATION: ends past the year 9999"),
        (
            "DTSTART;TZID=Etc/GMT-14:99991231T235959",
            "3:1: not a freeze period: Value error, expected",
        ),
        ("DTSTART;VALUE=DATE:00010101", "3:1: not a freeze period: Value error, expected a date"),
    ],
)
def test_an_ics_freeze_at_the_end_of_the_calendar(
    tmp_path: Path, lines: str, expected: str
) -> None:
    path = tmp_path / "f.ics"
    path.write_text(f"BEGIN:VCALENDAR\nBEGIN:VEVENT\n{lines}\nEND:VEVENT\nEND:VCALENDAR\n")
    with pytest.raises(ContentError, match=re.escape(f"f.ics:{expected}")):
        read_ics(path)


def test_an_ics_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "f.ics"
    path.write_text("BEGIN:VCALENDAR\n" + "X-PAD:" + "x" * (300 << 10) + "\nEND:VCALENDAR\n")
    with pytest.raises(ContentError, match=r"f\.ics:1:1: calendar larger than 256 KiB"):
        read_ics(path)


@pytest.mark.parametrize("text", ["99999999999999999999h", "0m", f"{MAX_DURATION.days + 1}d"])
def test_durations_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration from 1m to 366d"):
        parse_duration(text)


NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def test_a_rule_from_1900_expands_only_the_range() -> None:
    every = "DTSTART:19000101T000000\nRRULE:FREQ=MINUTELY"
    got = occurrences(schedule(every), NOW, NOW + timedelta(minutes=3))
    assert [o.at.minute for o in got] == [30, 31, 32]
    after = next_occurrence(schedule(every), NOW)
    before = previous_occurrence(schedule(every), NOW)
    assert after is not None and after.at == NOW + timedelta(minutes=1)
    assert before is not None and before.at == NOW


def _naive(every: str, low: datetime, high: datetime) -> list[datetime]:
    """The reference: dateutil walking the rule from its DTSTART."""
    return list(rrulestr(every, dtstart=RRULE_ANCHOR).between(low, high, inc=True))


RULES = st.builds(
    lambda freq, interval, byday, hour, monthday, setpos, end, start: (
        f"DTSTART:{start:%Y%m%dT%H%M%S}\nRRULE:FREQ={freq};INTERVAL={interval}"
        + (f";BYDAY={byday}" if byday else "")
        + (f";BYHOUR={hour}" if hour is not None else "")
        + (f";BYMONTHDAY={monthday}" if monthday else "")
        + (f";BYSETPOS={setpos}" if setpos else "")
        + end
    ),
    st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY"]),
    st.integers(1, 5),
    st.sampled_from(["", "MO", "TU,FR", "SA,SU"]),
    st.none() | st.integers(0, 23),
    st.sampled_from([0, 1, 15, 31, -1]),
    st.sampled_from([0, 1, -1]),
    st.sampled_from(["", "", ";COUNT=40", ";UNTIL=20260801T000000"]),
    st.datetimes(datetime(2024, 1, 1), datetime(2026, 6, 1)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(RULES, st.integers(0, 200), st.integers(1, 72))
def test_a_bounded_expansion_equals_dateutil_walking_from_dtstart(
    every: str, days: int, hours: int
) -> None:
    try:
        check_recurrence(every)
    except ValueError:
        return  # refused rules are never expanded
    low = datetime(2026, 6, 2) + timedelta(days=days)
    high = low + timedelta(hours=hours)
    got = [
        o.wall
        for o in occurrences(schedule(every), low.replace(tzinfo=UTC), high.replace(tzinfo=UTC))
    ]
    want = [
        w
        for w in _naive(every, low - timedelta(days=2), high + timedelta(days=2))
        if low <= w < high
    ]
    assert got == want

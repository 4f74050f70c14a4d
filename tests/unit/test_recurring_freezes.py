"""Recurring freezes: the YAML syntax (every/on/at/duration/from/until/except), .ics
series read with icalendar + recurring-ical-events (Windows TZIDs, VTIMEZONE, EXDATE,
moved occurrences), and expansion bounded to the range asked."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from butler_maint.errors import ContentError
from butler_maint.model.content import load_freeze_file
from butler_maint.model.schedule import Freeze, RecurringFreeze, Schedule
from butler_maint.schedule.freezes import (
    FreezeSeries,
    periods_in,
    recurring_freezes,
    schedule_freezes,
)
from butler_maint.schedule.ics import iana_zone, read_ics

ICS = Path(__file__).parent.parent / "fixtures" / "ics"
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def spec(**fields: object) -> RecurringFreeze:
    return RecurringFreeze.model_validate({"reason": "r", **fields})


def starts(freeze: RecurringFreeze, first: date, last: date) -> list[object]:
    return [f.start for f in recurring_freezes(freeze, first, last)]


def window(**extra: object) -> Schedule:
    return Schedule.model_validate(
        {
            "window": "patch",
            "timezone": "Europe/Berlin",
            "every": "0 2 * * 0",
            "duration": "3h",
            "steps": [{"checklist": "base"}],
            **extra,
        }
    )


# -- the YAML syntax -----------------------------------------------------------------


def test_named_rules_start_on_the_days_they_name() -> None:
    year = (date(2027, 1, 1), date(2027, 12, 31))
    month_end = starts(spec(every="month-end"), *year)
    assert month_end[:3] == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)]
    assert len(month_end) == 12
    assert starts(spec(every="quarter-end"), *year) == [
        date(2027, 3, 31), date(2027, 6, 30), date(2027, 9, 30), date(2027, 12, 31)
    ]  # fmt: skip
    assert starts(spec(every="first monday"), *year)[:2] == [date(2027, 1, 4), date(2027, 2, 1)]
    assert starts(spec(every="Last  Friday"), *year)[-1] == date(2027, 12, 31)
    assert starts(spec(every="month-start"), date(2027, 5, 1), date(2027, 5, 31)) == [
        date(2027, 5, 1)
    ]
    assert len(starts(spec(every="sunday"), *year)) == 52
    assert len(starts(spec(every="day"), *year)) == 365
    holidays = spec(every="year", on=["12-25", "12-26", "01-01", "02-29"])
    assert starts(holidays, date(2027, 1, 1), date(2028, 12, 31)) == [
        date(2027, 1, 1), date(2027, 12, 25), date(2027, 12, 26),
        date(2028, 1, 1), date(2028, 2, 29), date(2028, 12, 25), date(2028, 12, 26),
    ]  # fmt: skip
    easter = spec(every="RRULE:FREQ=YEARLY;BYEASTER=-2")  # dateutil's Good Friday
    assert starts(easter, *year) == [date(2027, 3, 26)]


def test_from_until_and_except_bound_the_days() -> None:
    rule = spec(every="sunday", **{"from": "2027-03-01", "until": "2027-03-31"})
    assert starts(rule, date(2027, 1, 1), date(2027, 12, 31)) == [
        date(2027, 3, 7), date(2027, 3, 14), date(2027, 3, 21), date(2027, 3, 28)
    ]  # fmt: skip
    skipped = spec(every="sunday", **{"except": ["2027-03-14"]})
    assert date(2027, 3, 14) not in starts(skipped, date(2027, 3, 1), date(2027, 3, 31))
    fortnight = spec(every="RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", **{"from": "2027-01-04"})
    assert starts(fortnight, date(2027, 3, 1), date(2027, 3, 31)) == [
        date(2027, 3, 1), date(2027, 3, 15), date(2027, 3, 29)
    ]  # fmt: skip


def test_at_and_duration_count_on_the_local_clock_across_dst() -> None:
    # Saturday 23:00 for 4h on the local clock: ends Sunday 03:00 whatever DST does.
    night = spec(every="saturday", at="23:00", duration="4h")
    sched = window()
    series = FreezeSeries(
        "r", "inline", BERLIN, lambda a, b: recurring_freezes(night, a, b), night.length
    )
    spring = periods_in([series], utc(2027, 3, 27), utc(2027, 3, 29))
    fall = periods_in([series], utc(2026, 10, 24), utc(2026, 10, 26))
    assert [(p.start, p.end) for p in spring] == [(utc(2027, 3, 27, 22), utc(2027, 3, 28, 1))]  # 3h
    assert [(p.start, p.end) for p in fall] == [(utc(2026, 10, 24, 21), utc(2026, 10, 25, 2))]  # 5h
    assert sched.timezone == "Europe/Berlin"


def test_a_whole_day_freeze_is_the_local_day_23_or_25_hours_long() -> None:
    rule = spec(every="last sunday", duration="1d")
    (freeze,) = recurring_freezes(rule, date(2027, 3, 1), date(2027, 3, 31))
    assert (freeze.start, freeze.end) == (date(2027, 3, 28), date(2027, 3, 28))  # all-day
    series = FreezeSeries("r", "x", BERLIN, lambda a, b: recurring_freezes(rule, a, b), rule.length)
    (period,) = periods_in([series], utc(2027, 3, 28, 12), utc(2027, 3, 28, 12))
    assert period.end - period.start == timedelta(hours=23)
    (period,) = periods_in([series], utc(2026, 10, 25, 12), utc(2026, 10, 25, 12))
    assert period.end - period.start == timedelta(hours=25)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"every": "sometimes"}, r"every: expected day, a weekday"),
        ({"every": "year"}, r"every: year needs on:"),
        ({"every": "sunday", "on": ["12-25"]}, r"on: is only for every: year"),
        ({"every": "year", "on": ["13-01"]}, r"on: expected month-day dates"),
        ({"every": "RRULE:FREQ=HOURLY"}, r"FREQ=HOURLY: a freeze recurs at most daily"),
        ({"every": "RRULE:FREQ=DAILY;BYHOUR=3"}, r"BYHOUR is not for a freeze rule"),
        ({"every": "RRULE:FREQ=DAILY;UNTIL=20270101"}, r"UNTIL is not for a freeze rule"),
        ({"every": "RRULE:FREQ=WEEKLY"}, r"add from: YYYY-MM-DD"),
        ({"every": "RRULE:FREQ=DAILY;COUNT=3"}, r"add from: YYYY-MM-DD"),
        ({"every": "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, r"the rule never fires"),
        ({"every": "day", "at": "24:00"}, r"expected a local time HH:MM"),
        ({"every": "day", "duration": "367d"}, r"expected a duration from 1m to 366d"),
        ({"every": "day", "from": "2027-02-01", "until": "2027-01-01"}, r"'from' is after"),
    ],
)
def test_bad_recurring_freezes_are_errors_with_file_and_line(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    path = tmp_path / "f.yaml"
    items = "".join(f"    {k}: {v!r}\n".replace("'", '"') for k, v in fields.items())
    path.write_text(f"freezes:\n  - reason: ok\n    every: day\n  - reason: bad\n{items}")
    with pytest.raises(ContentError, match=rf"f\.yaml:[4-6]:\d+: freezes\[1\].*{message}"):
        load_freeze_file(path)


def test_the_freeze_json_schema_offers_both_kinds() -> None:
    from butler_maint.model.schedule import FreezeFile

    schema = FreezeFile.model_json_schema(by_alias=True)
    assert {"Freeze", "RecurringFreeze"} <= set(schema["$defs"])
    fields = schema["$defs"]["RecurringFreeze"]["properties"]
    assert {"every", "on", "at", "duration", "from", "until", "except", "reason"} == set(fields)


# -- bounded expansion -----------------------------------------------------------------


def test_a_rule_without_end_is_expanded_only_over_the_range_asked() -> None:
    asked: list[tuple[date, date]] = []
    rule = spec(every="day")

    def expand(first: date, last: date) -> list[object]:
        asked.append((first, last))
        return recurring_freezes(rule, first, last)  # type: ignore[return-value]

    series = FreezeSeries("r", "x", BERLIN, expand, rule.length)  # type: ignore[arg-type]
    found = periods_in([series], utc(9000, 6, 1), utc(9000, 6, 3))
    assert [p.start for p in found] == [
        utc(9000, 5, 31, 22),
        utc(9000, 6, 1, 22),
        utc(9000, 6, 2, 22),
    ]
    assert asked == [(date(9000, 1, 1), date(9000, 12, 31))]  # one year, not 7,000
    periods_in([series], utc(9000, 7, 1), utc(9000, 7, 2))
    assert len(asked) == 1  # each year is expanded once
    assert periods_in([series], utc(9998, 12, 31, 12), utc(9998, 12, 31, 12))  # the last year
    two_days = spec(every="day", duration="2d")  # none ends past 9998: the series stops
    assert len(recurring_freezes(two_days, date(9998, 12, 29), date(9998, 12, 31))) == 2


def test_ten_years_of_daily_questions_expand_each_year_once(tmp_path: Path) -> None:
    sched = window(freeze=[{"every": "day", "at": "12:00", "duration": "1h", "reason": "lunch"}])
    (series,) = schedule_freezes(tmp_path, sched)
    assert isinstance(series, FreezeSeries)
    calls: list[date] = []
    expand = series.expand
    series.expand = lambda a, b: calls.append(a) or expand(a, b)  # type: ignore[method-assign]
    began = clock.perf_counter()
    day = timedelta(days=1)
    hits = sum(
        bool(periods_in([series], utc(2026, 1, 1, 10) + d * day, utc(2026, 1, 1, 12) + d * day))
        for d in range(3650)
    )
    elapsed = clock.perf_counter() - began
    assert hits == 3650  # 12:00 local is 11:00Z in winter, 10:00Z in summer
    assert sorted(calls) == [date(y, 1, 1) for y in range(2025, 2037)]  # with the margins
    print(f"3650 freeze questions over 10 years: {elapsed:.2f}s")


# -- .ics series -----------------------------------------------------------------------


def test_windows_tzids_map_to_iana_zones() -> None:
    assert iana_zone("W. Europe Standard Time") == BERLIN
    assert iana_zone('"Eastern Standard Time"') == ZoneInfo("America/New_York")
    assert iana_zone("GMT Standard Time") == ZoneInfo("Europe/London")
    assert iana_zone("/freeassociation.sourceforge.net/Europe/Berlin") == BERLIN
    assert iana_zone("Europe/Berlin") == BERLIN
    assert iana_zone("Custom Zone") is None and iana_zone("../../etc/passwd") is None


def test_the_outlook_series_agrees_with_its_own_vtimezone_block() -> None:
    """The IANA reading of each occurrence equals what the file's VTIMEZONE says."""
    path = ICS / "outlook-change-freezes.ics"
    calendar = read_ics(path)
    assert calendar.series is not None
    ours = calendar.series.freezes(date(2026, 1, 1), date(2026, 12, 31))
    assert [f.start for f in ours] == [
        datetime(2026, 10, d, 22, tzinfo=BERLIN) for d in (3, 10, 17, 31)
    ]  # 24 is the EXDATE; UNTIL stops after the 31st
    vtimezone = icalendar.Calendar.from_ical(path.read_bytes())
    zone = vtimezone.walk("VTIMEZONE")[0].to_tz()
    for freeze in ours:
        assert isinstance(freeze.start, datetime) and isinstance(freeze.end, datetime)
        from_block = freeze.start.replace(tzinfo=zone).astimezone(UTC)
        assert from_block == freeze.start.astimezone(UTC)
        assert freeze.end.replace(tzinfo=zone).astimezone(UTC) == freeze.end.astimezone(UTC)


def test_the_public_exchange_export_reads_with_its_moved_occurrences() -> None:
    calendar = read_ics(ICS / "exchange-2010-export.ics")
    assert calendar.once == [] and calendar.series is not None
    found = calendar.series.freezes(date(2020, 1, 1), date(2020, 12, 31))
    black = [f.start for f in found if f.reason == "Refuse black bin"]
    assert date(2020, 4, 16) not in black and date(2020, 4, 17) in black  # RECURRENCE-ID
    assert black[0] == date(2020, 4, 2) and black[-1] == date(2020, 9, 4)
    blue = [f.start for f in found if f.reason == "Blue Recycle bin"]
    assert len(blue) == 12 and all(isinstance(d, date) for d in blue)
    assert all(f.start == f.end for f in found)  # all-day: one local day each


def test_a_custom_tzid_uses_the_calendars_vtimezone(tmp_path: Path) -> None:
    text = (
        (ICS / "outlook-change-freezes.ics")
        .read_text()
        .replace("W. Europe Standard Time", "Company Time")
    )
    path = tmp_path / "c.ics"
    path.write_text(text)
    calendar = read_ics(path)
    assert calendar.series is not None
    first = calendar.series.freezes(date(2026, 10, 1), date(2026, 11, 1))[-1]
    assert isinstance(first.start, datetime)
    assert first.start.astimezone(UTC) == utc(2026, 10, 31, 21)  # CET, from the block


def test_floating_and_cancelled_occurrences(tmp_path: Path) -> None:
    path = tmp_path / "f.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:s\nDTSTART:20261224T100000\n"
        "DTEND:20261224T120000\nRRULE:FREQ=DAILY;COUNT=3\nSUMMARY:floating\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:s\nRECURRENCE-ID:20261225T100000\nDTSTART:20261225T100000\n"
        "DTEND:20261225T120000\nSTATUS:CANCELLED\nSUMMARY:floating\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    series = read_ics(path).series
    assert series is not None
    got = series.freezes(date(2026, 12, 1), date(2026, 12, 31))
    assert [(f.start, f.end) for f in got] == [
        (datetime(2026, 12, 24, 10), datetime(2026, 12, 24, 12)),
        (datetime(2026, 12, 26, 10), datetime(2026, 12, 26, 12)),
    ]  # wall times in the schedule's zone; the cancelled one is skipped


def test_a_malformed_calendar_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "m.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nthis is no property\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    with pytest.raises(ContentError, match=r"m\.ics:4:1: not a valid calendar"):
        read_ics(path)
    path.write_text("BEGIN:VCALENDAR\nEND:VCALENDAR\nBEGIN:VCALENDAR\nEND:VCALENDAR\n")
    with pytest.raises(ContentError, match=r"m\.ics:1:1: expected one VCALENDAR, found 2"):
        read_ics(path)


def test_the_readme_freeze_file_example_loads_and_means_what_it_says(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    block = readme.split("freezes:                                  # freezes/recurring.yaml")[1]
    path = tmp_path / "recurring.yaml"
    path.write_text("freezes:" + block.split("```")[0])
    once, month_end, payroll, holidays, working = load_freeze_file(path).model.freezes
    assert isinstance(once, Freeze) and isinstance(month_end, RecurringFreeze)
    assert isinstance(working, RecurringFreeze)
    assert isinstance(payroll, RecurringFreeze) and isinstance(holidays, RecurringFreeze)
    (run,) = recurring_freezes(payroll, date(2027, 2, 1), date(2027, 2, 28))
    assert (run.start, run.end) == (datetime(2027, 2, 1, 18), datetime(2027, 2, 2, 8))
    days = starts(holidays, date(2026, 1, 1), date(2026, 12, 31))
    assert date(2026, 10, 3) not in days and date(2026, 12, 26) in days
    assert starts(working, date(2027, 4, 1), date(2027, 4, 30)) == [date(2027, 4, 29)]

"""Freeze periods: resolving dates and times in a zone, overlap, freeze files, .ics import,
and the iCalendar text layer (escaping, folding)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from butler_maint.errors import ContentError
from butler_maint.model.schedule import Freeze, Schedule
from butler_maint.schedule.freezes import (
    INLINE,
    freeze_periods,
    frozen_by,
    frozen_during,
    schedule_freezes,
)
from butler_maint.schedule.ics import (
    Event,
    content_lines,
    escape_text,
    fold,
    read_ics,
    render_calendar,
    unescape_text,
)
from butler_maint.schedule.occurrences import occurrences

FIXTURE = Path(__file__).parent.parent / "fixtures" / "freezes.ics"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def freeze(start: date | datetime, end: date | datetime, reason: str = "r") -> Freeze:
    return Freeze.model_validate({"from": start, "to": end, "reason": reason})


def window(every: str = "0 2 * * 0", **extra: object) -> Schedule:
    return Schedule.model_validate(
        {
            "window": "patch",
            "timezone": "Europe/Berlin",
            "every": every,
            "duration": "3h",
            "steps": [{"checklist": "base"}],
            **extra,
        }
    )


# -- resolving -------------------------------------------------------------------------


def test_dates_cover_whole_days_in_the_zone_inclusive() -> None:
    (period,) = freeze_periods(
        [freeze(date(2026, 11, 27), date(2026, 11, 30))], "Europe/Berlin", INLINE
    )
    assert (period.start, period.end) == (utc(2026, 11, 26, 23), utc(2026, 11, 30, 23))
    (period,) = freeze_periods(
        [freeze(date(2026, 11, 27), date(2026, 11, 30))], "America/New_York", INLINE
    )
    assert (period.start, period.end) == (utc(2026, 11, 27, 5), utc(2026, 12, 1, 5))


def test_a_day_that_starts_in_a_dst_gap_starts_when_the_clock_resumes() -> None:
    # Sao Paulo skipped 2018-11-04 00:00-01:00: that day began at 01:00 -02 (03:00Z).
    (period,) = freeze_periods(
        [freeze(date(2018, 11, 4), date(2018, 11, 4))], "America/Sao_Paulo", INLINE
    )
    assert period.start == utc(2018, 11, 4, 3) and period.end == utc(2018, 11, 5, 2)


def test_times_without_offset_are_wall_times_and_with_offset_instants() -> None:
    wall = freeze(datetime(2026, 12, 18, 10), datetime(2026, 12, 18, 12))
    instant = freeze(
        utc(2026, 12, 18, 10), datetime(2026, 12, 18, 12, tzinfo=ZoneInfo("Asia/Tokyo"))
    )
    first, second = freeze_periods([wall, instant], "Europe/Berlin", "freezes/x.yaml")
    assert (first.start, first.end) == (utc(2026, 12, 18, 9), utc(2026, 12, 18, 11))
    assert (second.start, second.end) == (utc(2026, 12, 18, 10), utc(2026, 12, 18, 3))
    assert first.source == "freezes/x.yaml" and first.reason == "r"


def test_zoned_times_follow_the_occurrence_dst_rules(tmp_path: Path) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    gap = freeze(
        datetime(2027, 3, 28, 2, 30, tzinfo=berlin), datetime(2027, 3, 28, 4, tzinfo=berlin)
    )
    (period,) = freeze_periods([gap], "UTC", INLINE)
    assert period.start == utc(2027, 3, 28, 1)  # 02:30 does not exist: from 03:00 CEST
    path = _ics(tmp_path, "DTSTART;TZID=Europe/Berlin:20261025T023000", "DURATION:PT1H")
    (imported,) = read_ics(path).once
    assert imported.start == utc(2026, 10, 25, 0, 30)  # the first 02:30, CEST


def test_an_occurrence_is_frozen_when_its_window_overlaps_a_freeze() -> None:
    sched = window()  # Sundays 02:00-05:00 Berlin
    (sunday,) = occurrences(sched, utc(2026, 11, 29), utc(2026, 11, 30))  # 01:00Z-04:00Z

    def at(start: datetime, end: datetime) -> bool:
        periods = freeze_periods([freeze(start, end)], "UTC", INLINE)
        return frozen_by(periods, sunday) is not None

    assert at(utc(2026, 11, 29, 3), utc(2026, 11, 29, 6))  # overlaps the end
    assert at(utc(2026, 11, 28), utc(2026, 11, 29, 1, 1))  # overlaps the start
    assert not at(utc(2026, 11, 29, 4), utc(2026, 11, 29, 6))  # starts as the window ends
    assert not at(utc(2026, 11, 28), utc(2026, 11, 29, 1))  # ends as the window starts


def test_frozen_during_an_instant_and_the_earliest_freeze_wins() -> None:
    periods = freeze_periods(
        [
            freeze(date(2026, 12, 20), date(2026, 12, 31), "late"),
            freeze(date(2026, 12, 18), date(2027, 1, 4), "early"),
        ],
        "UTC",
        INLINE,
    )
    hit = frozen_during(periods, utc(2026, 12, 24, 12), utc(2026, 12, 24, 12))
    assert hit is not None and hit.reason == "early"
    assert frozen_during(periods, utc(2027, 1, 5), utc(2027, 1, 5)) is None


@settings(max_examples=200, deadline=None)
@given(
    st.dates(date(2026, 1, 1), date(2030, 12, 31)),
    st.integers(0, 20),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_a_date_freeze_holds_exactly_its_local_days(first: date, days: int, zone_name: str) -> None:
    last = first + timedelta(days=days)
    (period,) = freeze_periods([freeze(first, last)], zone_name, INLINE)
    zone = ZoneInfo(zone_name)
    assert period.start.astimezone(zone).date() == first
    assert (period.start - timedelta(seconds=1)).astimezone(zone).date() < first
    assert (period.end - timedelta(seconds=1)).astimezone(zone).date() == last
    assert period.end.astimezone(zone).date() == last + timedelta(days=1)


# -- freeze files ------------------------------------------------------------------------


def test_schedule_freezes_reads_inline_yaml_and_ics_files(tmp_path: Path) -> None:
    (tmp_path / "freezes").mkdir()
    (tmp_path / "freezes/year-end.yaml").write_text(
        "freezes:\n  - {from: 2026-12-18, to: 2027-01-04, reason: year-end}\n"
    )
    (tmp_path / "freezes/corp.ics").write_bytes(FIXTURE.read_bytes())
    sched = window(
        freeze=[{"from": "2026-11-27", "to": "2026-11-30", "reason": "Black Friday"}],
        freeze_files=["freezes/year-end.yaml", "freezes/corp.ics"],
    )
    periods = schedule_freezes(tmp_path, sched)
    assert [p.start for p in periods] == sorted(p.start for p in periods)
    sources = {p.source for p in periods}
    assert sources == {INLINE, "freezes/year-end.yaml", "freezes/corp.ics"}
    assert len(periods) == 1 + 1 + 5
    christmas = occurrences(sched, utc(2026, 12, 27), utc(2026, 12, 28))[0]
    hit = frozen_by(periods, christmas)
    assert hit is not None and hit.reason in ("year-end", "Year-end change freeze, all teams")


def test_a_missing_freeze_file_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match=r"freezes/nope\.yaml: freeze file does not exist"):
        schedule_freezes(tmp_path, window(freeze_files=["freezes/nope.yaml"]))


def test_a_bad_freeze_file_is_a_content_error_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "freezes:\n  - {from: 2027-01-04, to: 2026-12-18, reason: x}\n"
    )
    with pytest.raises(ContentError, match=r"bad.yaml:2:\d+: .*'from' is after 'to'"):
        schedule_freezes(tmp_path, window(freeze_files=["bad.yaml"]))


# -- .ics import ------------------------------------------------------------------------


def test_freezes_from_ics_reads_every_kind_of_vevent() -> None:
    got = read_ics(FIXTURE).once
    assert [(f.start, f.end, f.reason) for f in got] == [
        (
            date(2026, 12, 18),
            date(2027, 1, 4),
            "Year-end change freeze, all teams",
        ),  # DTEND exclusive
        (utc(2026, 11, 27), utc(2026, 12, 1), "Black Friday; peak trading"),
        (
            utc(2027, 3, 29, 6),  # TZID=Europe/Berlin 08:00 CEST
            utc(2027, 3, 29, 16),  # DURATION PT10H
            "Quarter-end close: finance systems only, no changes to the ledger"
            " or the reporting cluster",
        ),
        (date(2027, 5, 1), date(2027, 5, 1), "Tag der Arbeit \u2013 Feiertag"),  # no DTEND: one day
        (
            datetime(2027, 7, 1, 22),
            datetime(2027, 7, 2, 6),
            "Data-centre move (local night)",
        ),  # floating
    ]  # the cancelled event is skipped; the VALARM and VTIMEZONE are ignored


def _ics(tmp_path: Path, *event_lines: str) -> Path:
    path = tmp_path / "x.ics"
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "UID:1",
        *event_lines,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    path.write_text("\r\n".join(body) + "\r\n")
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["DTSTART;VALUE=DATE:20261201", "RRULE:FREQ=HOURLY"],
            r"x.ics:6:1: RRULE: FREQ=HOURLY: a freeze recurs at most daily",
        ),
        (
            ["DTSTART;VALUE=DATE:20261201", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"],
            r"x.ics:6:1: RRULE: the rule never fires",
        ),
        (
            ["DTSTART;VALUE=DATE:20261201", "RRULE:FREQ=DAILY;BYHOUR=1,2"],
            r"x.ics:6:1: RRULE: BYHOUR=1,2: a freeze starts at most once a day",
        ),
        (["DTSTART;VALUE=DATE:20261201", "RRULE:FREQ=SOMETIMES"], r"x.ics:6:1: RRULE: cannot read"),
        (["DTSTART;TZID=Mars/Olympus:20261201T100000"], r"x.ics:5:1: DTSTART: unknown TZID"),
        (
            ["DTSTART:20261201T100000Z", "RRULE:FREQ=DAILY", "EXDATE;TZID=Nowhere:20261202T100000"],
            r"x.ics:7:1: EXDATE: unknown TZID 'Nowhere'",
        ),
        (["DTSTART:2026-12-01"], r"x.ics:5:1: DTSTART: cannot read"),
        (["SUMMARY:no start"], r"x.ics:3:1: VEVENT without DTSTART"),
        (
            ["DTSTART:20261201T100000Z", "DTEND:20261130T100000Z"],
            r"x.ics:5:1: not a freeze period: .*after",
        ),
        (["DTSTART:20261201T100000Z", "DURATION:soon"], r"x.ics:6:1: DURATION: cannot read"),
    ],
)
def test_bad_events_are_content_errors_with_a_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    with pytest.raises(ContentError, match=message):
        read_ics(_ics(tmp_path, *lines))


def test_a_file_that_is_no_calendar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.ics"
    path.write_text("freezes: []\n")
    with pytest.raises(ContentError, match="not an iCalendar file"):
        read_ics(path)


def test_the_reason_defaults_to_the_file_name(tmp_path: Path) -> None:
    (got,) = read_ics(_ics(tmp_path, "DTSTART;VALUE=DATE:20261201")).once
    assert got.reason == "x.ics"


# -- iCalendar text ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(exclude_categories=["Cs", "Cc"]) | st.sampled_from("\\;,\n"), max_size=300
    )
)
def test_text_escaping_and_folding_round_trip(text: str) -> None:
    line = "SUMMARY:" + escape_text(text)
    folded = fold(line)
    assert all(len(part.encode("utf-8")) <= 75 for part in folded.split("\r\n"))
    assert all(part.startswith(" ") for part in folded.split("\r\n")[1:])
    (prop,) = content_lines(folded + "\r\n")
    assert prop.name == "SUMMARY" and unescape_text(prop.value) == text


def test_render_calendar_writes_crlf_utc_and_all_day_events() -> None:
    events = [
        Event(
            "a@x",
            "Patch, then reboot",
            "line one\nline two",
            utc(2026, 11, 29, 1),
            utc(2026, 11, 29, 4),
        ),
        Event("b@x", "Freeze", "d", date(2026, 12, 18), date(2027, 1, 5), ("freeze",), True),
    ]
    text = render_calendar(events, stamp=utc(2026, 11, 1, 12), name="cal")
    assert text.endswith("END:VCALENDAR\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert "DTSTART:20261129T010000Z" in lines and "DTEND:20261129T040000Z" in lines
    assert "DTSTART;VALUE=DATE:20261218" in lines and "DTEND;VALUE=DATE:20270105" in lines
    assert "SUMMARY:Patch\\, then reboot" in lines and "DESCRIPTION:line one\\nline two" in lines
    assert lines.count("DTSTAMP:20261101T120000Z") == 2 and "TRANSP:TRANSPARENT" in lines


def test_written_freezes_read_back_as_the_same_periods(tmp_path: Path) -> None:
    events = [
        Event("a@x", "Freeze; all", "", date(2026, 12, 18), date(2027, 1, 5)),
        Event("b@x", "Night", "", utc(2026, 11, 29, 1), utc(2026, 11, 29, 4)),
    ]
    path = tmp_path / "out.ics"
    path.write_bytes(render_calendar(events, stamp=utc(2026, 1, 1), name="c").encode())
    got = read_ics(path).once
    assert [(f.start, f.end, f.reason) for f in got] == [
        (date(2026, 12, 18), date(2027, 1, 4), "Freeze; all"),
        (utc(2026, 11, 29, 1), utc(2026, 11, 29, 4), "Night"),
    ]

"""Occurrences of RRULE and cron schedules across DST changes: properties and pinned cases.

The oracle is independent of the implementation: a wall time runs at the first instant
at which the local clock shows it or later, found by trying every UTC offset the zone
uses around it (and by scanning minutes when none matches: a spring-forward gap).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from butler_maint.model.schedule import Schedule
from butler_maint.schedule.occurrences import (
    local_instant,
    next_occurrence,
    occurrences,
    previous_occurrence,
)

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Sao_Paulo",  # DST changes at midnight (until 2019)
    "America/Havana",  # changes at 00:00 and 01:00
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "UTC",
]
CRON_DOW = ["1", "2", "3", "4", "5", "6", "0"]  # python weekday() -> cron
RRULE_DOW = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def schedule(every: str, zone: str = "Europe/Berlin", duration: str = "1h") -> Schedule:
    return Schedule.model_validate(
        {"routine": "r", "checklist": "c", "timezone": zone, "every": every, "duration": duration}
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall_of(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


# -- the oracle ---------------------------------------------------------------------


def expected_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """First instant whose local wall time is ``wall`` or later (brute force)."""
    probe = wall.replace(tzinfo=UTC)
    offsets = {offset(probe + timedelta(hours=h), zone) for h in range(-48, 49, 6)}
    offsets.discard(None)
    candidates = [wall.replace(tzinfo=UTC) - off for off in offsets if off is not None]
    exact = [u for u in candidates if wall_of(u, zone) == wall]
    if exact:
        return min(exact)
    moment = min(candidates)
    while wall_of(moment, zone) < wall:  # inside the gap: step to its end
        moment += timedelta(minutes=1)
    return moment


def offset(moment: datetime, zone: ZoneInfo) -> timedelta | None:
    return moment.astimezone(zone).utcoffset()


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """Instants in ``year`` at which the zone's UTC offset changes (whole minutes)."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = utc(year, 1, 1)
    while moment.year == year:
        step = moment + timedelta(hours=6)
        if offset(moment, zone) != offset(step, zone):
            lo, hi = 0, 6 * 60  # minutes after ``moment``: offset(lo) is the old one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                same = offset(moment + timedelta(minutes=mid), zone) == offset(moment, zone)
                lo, hi = (mid, hi) if same else (lo, mid)
            found.append(moment + timedelta(minutes=hi))
        moment = step
    return tuple(found)


@dataclass(frozen=True)
class Spec:
    """A recurrence given three ways: RRULE text, cron text, and a wall-time generator."""

    rrule: str
    cron: str
    walls: Callable[[datetime, datetime], list[datetime]]


def _days(lo: datetime, hi: datetime) -> list[date]:
    return [lo.date() + timedelta(days=i) for i in range((hi.date() - lo.date()).days + 1)]


def daily(hours: list[int], minute: int, weekday: int | None = None) -> Spec:
    def walls(lo: datetime, hi: datetime) -> list[datetime]:
        return [
            datetime(d.year, d.month, d.day, h, minute)
            for d in _days(lo, hi)
            for h in sorted(hours)
            if weekday is None or d.weekday() == weekday
        ]

    by_day = "" if weekday is None else f";BYDAY={RRULE_DOW[weekday]}"
    freq = "DAILY" if weekday is None else "WEEKLY"
    hour_list = ",".join(map(str, sorted(hours)))
    return Spec(
        f"RRULE:FREQ={freq}{by_day};BYHOUR={hour_list};BYMINUTE={minute}",
        f"{minute} {hour_list} * * {'*' if weekday is None else CRON_DOW[weekday]}",
        walls,
    )


def every_minutes(step: int, offset: int) -> Spec:
    minutes = list(range(offset % step, 60, step))

    def walls(lo: datetime, hi: datetime) -> list[datetime]:
        return [
            datetime(d.year, d.month, d.day, h, m)
            for d in _days(lo, hi)
            for h in range(24)
            for m in minutes
        ]

    listed = ",".join(map(str, minutes))
    return Spec(f"RRULE:FREQ=HOURLY;BYMINUTE={listed}", f"{listed} * * * *", walls)


@dataclass(frozen=True)
class Case:
    """A zone, a recurrence, and a range of time that contains one of the zone's changes."""

    zone: str
    spec: Spec
    start: datetime
    end: datetime
    form: str

    @property
    def schedule(self) -> Schedule:
        every = anchored(self.spec.rrule, self.start) if self.form == "rrule" else self.spec.cron
        return schedule(every, self.zone)


def anchored(rrule: str, start: datetime) -> str:
    """The RRULE with a DTSTART days before ``start`` (keeps the expansion short)."""
    return f"DTSTART:{start - timedelta(days=4):%Y%m%dT000000}\n{rrule}"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Ranges around a DST change, with rules biased to the hours the change touches."""
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    year = draw(st.integers(2011, 2029))
    changes = transitions(zone_name, year)
    pivot = draw(st.sampled_from(changes)) if changes else utc(year, 6, 1)
    before, after = wall_of(pivot - timedelta(minutes=1), zone), wall_of(pivot, zone)
    hour = st.sampled_from(sorted({before.hour, after.hour, (before.hour + 1) % 24}))
    hours = st.one_of(hour, hour, hour, st.integers(0, 23))  # mostly the hours it touches
    weekday = st.sampled_from([before.weekday(), after.weekday()]) | st.integers(0, 6)
    spec = draw(
        st.one_of(
            st.builds(
                lambda h, more, m: daily([h, *more], m),
                hours,
                st.lists(hours, max_size=2),
                st.integers(0, 59),
            ),
            st.builds(
                lambda h, m, w: daily([h], m, w), hours, st.sampled_from([0, 15, 30, 45]), weekday
            ),
            st.builds(every_minutes, st.sampled_from([15, 20, 30, 60]), st.integers(0, 59)),
        )
    )
    span = timedelta(minutes=draw(st.integers(60, 4 * 24 * 60)))
    start = pivot - (span - timedelta(minutes=2)) * draw(st.floats(0, 1)) - timedelta(minutes=1)
    start = start.replace(second=0, microsecond=0)
    return Case(zone_name, spec, start, start + span, draw(st.sampled_from(["rrule", "cron"])))


def oracle(case: Case) -> list[datetime]:
    zone = ZoneInfo(case.zone)
    lo = wall_of(case.start, zone) - timedelta(days=2)
    hi = wall_of(case.end, zone) + timedelta(days=2)
    instants = {expected_instant(w, zone) for w in case.spec.walls(lo, hi)}
    return sorted(i for i in instants if case.start <= i < case.end)


# -- properties ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(cases())
def test_no_occurrence_lost_or_doubled(case: Case) -> None:
    got = occurrences(case.schedule, case.start, case.end)
    assert [o.at for o in got] == oracle(case)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_occurrences_are_strictly_increasing_and_keep_their_wall_time(case: Case) -> None:
    zone = ZoneInfo(case.zone)
    got = occurrences(case.schedule, case.start, case.end)
    assert all(a.at < b.at for a, b in itertools.pairwise(got))
    for occ in got:
        assert occ.at.tzinfo is UTC and case.start <= occ.at < case.end
        assert occ.local.astimezone(UTC) == occ.at  # (== across zones is False in a fold)
        assert wall_of(occ.at, zone) == occ.local.replace(tzinfo=None)
        if occ.shifted:  # the nominal wall time does not exist; it runs at the gap's end
            previous_second = wall_of(occ.at - timedelta(seconds=1), zone)
            assert previous_second < occ.wall < occ.local.replace(tzinfo=None)
        else:
            assert occ.local.replace(tzinfo=None) == occ.wall


@settings(max_examples=200, deadline=None)
@given(cases())
def test_rrule_and_cron_agree(case: Case) -> None:
    by_rrule = occurrences(
        schedule(anchored(case.spec.rrule, case.start), case.zone), case.start, case.end
    )
    by_cron = occurrences(schedule(case.spec.cron, case.zone), case.start, case.end)
    assert [(o.at, o.wall) for o in by_rrule] == [(o.at, o.wall) for o in by_cron]


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(0, 23), st.integers(0, 59))
def test_a_daily_rule_runs_once_per_local_day(case: Case, hour: int, minute: int) -> None:
    zone = ZoneInfo(case.zone)
    spec = daily([hour], minute)
    got = occurrences(
        schedule(spec.cron, case.zone),
        # four days each side: a DST change inside the range moves its local ends by an
        # hour, and the five whole local days asserted below must stay inside it
        case.start - timedelta(days=4),
        case.start + timedelta(days=4),
    )
    nominal_days = [o.wall.date() for o in got]
    assert len(nominal_days) == len(set(nominal_days))  # none doubled
    first = wall_of(case.start, zone).date() - timedelta(days=2)
    days = {first + timedelta(days=i) for i in range(5)}
    assert {d for d in days if _exists(d, zone)} <= set(nominal_days)  # none lost


def _exists(day: date, zone: ZoneInfo) -> bool:
    """Whether a local day happened in ``zone`` (Pacific/Apia skipped 2011-12-30)."""
    noon = datetime.combine(day, time(12), tzinfo=zone)
    return noon.astimezone(UTC).astimezone(zone).date() == day


@settings(max_examples=100, deadline=None)
@given(cases())
def test_next_and_previous_agree_with_the_range(case: Case) -> None:
    sched, start = case.schedule, case.start
    after = next_occurrence(sched, start)
    assert after is not None and after.at > start
    assert occurrences(sched, start + timedelta(microseconds=1), after.at) == []
    before = previous_occurrence(sched, start)
    if before is None:  # an RRULE anchored after the range's start has nothing before
        assert case.form == "rrule"
        return
    assert before.at <= start
    tiny = timedelta(microseconds=1)
    assert occurrences(sched, before.at + tiny, start + tiny) == []


# -- pinned cases ---------------------------------------------------------------------


@pytest.mark.parametrize("every", ["RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "30 2 * * *"])
def test_berlin_spring_forward_runs_once_at_the_next_valid_time(every: str) -> None:
    got = occurrences(schedule(every), utc(2027, 3, 27), utc(2027, 3, 30))
    assert [o.at for o in got] == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1),
        utc(2027, 3, 29, 0, 30),
    ]
    shifted = got[1]
    assert shifted.shifted and shifted.wall == datetime(2027, 3, 28, 2, 30)
    assert f"{shifted.local:%H:%M} {shifted.zone_abbrev}" == "03:00 CEST"
    assert [o.shifted for o in got] == [False, True, False]


@pytest.mark.parametrize("every", ["RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "30 2 * * *"])
def test_berlin_fall_back_runs_once_at_the_first_of_the_two(every: str) -> None:
    got = occurrences(schedule(every), utc(2026, 10, 24), utc(2026, 10, 27))
    assert [o.at for o in got] == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]
    assert [o.zone_abbrev for o in got] == ["CEST", "CEST", "CET"]
    assert not any(o.shifted for o in got)


@pytest.mark.parametrize("every", ["RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "30 2 * * *"])
def test_new_york_spring_forward(every: str) -> None:
    got = occurrences(schedule(every, "America/New_York"), utc(2027, 3, 14), utc(2027, 3, 15))
    assert [o.at for o in got] == [utc(2027, 3, 14, 7)]  # 03:00 EDT
    assert got[0].zone_abbrev == "EDT" and got[0].shifted


@pytest.mark.parametrize("every", ["RRULE:FREQ=DAILY;BYHOUR=1;BYMINUTE=30", "30 1 * * *"])
def test_new_york_fall_back(every: str) -> None:
    got = occurrences(schedule(every, "America/New_York"), utc(2026, 11, 1), utc(2026, 11, 2))
    assert [(o.at, o.zone_abbrev) for o in got] == [(utc(2026, 11, 1, 5, 30), "EDT")]  # not 06:30Z


def test_several_wall_times_in_one_gap_run_once() -> None:
    got = occurrences(schedule("0,30 2,3 * * *"), utc(2027, 3, 28), utc(2027, 3, 28, 12))
    assert [o.at for o in got] == [
        utc(2027, 3, 28, 1),
        utc(2027, 3, 28, 1, 30),
    ]  # 03:00, 03:30 CEST


def test_the_weekly_patching_window_on_a_spring_forward_sunday() -> None:
    got = occurrences(
        schedule("RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", duration="3h"),
        utc(2027, 3, 27),
        utc(2027, 4, 5),
    )
    assert [o.at for o in got] == [utc(2027, 3, 28, 1), utc(2027, 4, 4, 0)]
    assert got[0].end == utc(2027, 3, 28, 4)  # duration is elapsed time


def test_an_hourly_rule_pauses_for_the_repeated_hour() -> None:
    got = occurrences(schedule("0 * * * *"), utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    assert [o.at for o in got] == [
        utc(2026, 10, 24, 23),
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 2),
    ]


def test_lord_howe_half_hour_gap() -> None:
    got = occurrences(
        schedule("15 2 * * *", "Australia/Lord_Howe"), utc(2026, 10, 3, 12), utc(2026, 10, 4, 12)
    )
    assert len(got) == 1 and got[0].shifted and f"{got[0].local:%H:%M}" == "02:30"


def test_a_skipped_day_runs_at_the_next_valid_time() -> None:
    zone = ZoneInfo("Pacific/Apia")  # 2011-12-30 never happened there
    assert local_instant(datetime(2011, 12, 30, 10), zone) == datetime(2011, 12, 30, 10, tzinfo=UTC)
    got = occurrences(
        schedule("DTSTART:20111201T000000\nRRULE:FREQ=DAILY;BYHOUR=10", "Pacific/Apia"),
        utc(2011, 12, 28),
        utc(2011, 12, 31),
    )
    assert [f"{o.local:%m-%d %H:%M}" for o in got] == [
        "12-28 10:00",
        "12-29 10:00",
        "12-31 00:00",
        "12-31 10:00",
    ]


def test_rrule_interval_counts_from_dtstart_or_the_2026_anchor() -> None:
    fortnightly = "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;BYHOUR=2"
    got = occurrences(schedule(fortnightly), utc(2026, 1, 1), utc(2026, 2, 1))
    assert [o.local.day for o in got] == [4, 18]
    got = occurrences(
        schedule(f"DTSTART:20260111T000000\n{fortnightly}"), utc(2026, 1, 1), utc(2026, 2, 1)
    )
    assert [o.local.day for o in got] == [11, 25]


def test_a_dtstart_with_tzid_keeps_its_wall_time() -> None:
    every = "DTSTART;TZID=America/New_York:20260104T020000\nRRULE:FREQ=WEEKLY;BYDAY=SU"
    got = occurrences(schedule(every), utc(2026, 1, 1), utc(2026, 1, 12))
    assert [f"{o.local:%d %H:%M}" for o in got] == ["04 02:00", "11 02:00"]


def test_a_finished_rule_has_no_next_occurrence() -> None:
    sched = schedule("DTSTART:20260104T020000\nRRULE:FREQ=WEEKLY;COUNT=2")
    assert next_occurrence(sched, utc(2026, 1, 11, 12)) is None
    last = previous_occurrence(sched, utc(2026, 6, 1))
    assert last is not None and last.local.day == 11


def test_bounds_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences(schedule("0 2 * * *"), datetime(2026, 1, 1), utc(2026, 1, 2))

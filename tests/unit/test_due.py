"""Due status: open windows, missed occurrences per policy, freezes, and which runs count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from butler_maint.evidence.index import IndexEntry
from butler_maint.model.schedule import Freeze, Schedule
from butler_maint.schedule.due import covered_occurrence, status
from butler_maint.schedule.freezes import INLINE, FreezePeriod, freeze_periods


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def window(missed: str = "skip") -> Schedule:
    """Sundays 02:00 Berlin for 3h: 01:00Z-04:00Z in winter."""
    return Schedule.model_validate(
        {
            "window": "weekly-patching",
            "timezone": "Europe/Berlin",
            "every": "RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0",
            "duration": "3h",
            "missed": missed,
            "steps": [{"checklist": "linux-baseline"}, {"playbook": "playbooks/patch.yml"}],
        }
    )


def routine(missed: str = "run-once") -> Schedule:
    """Daily 06:30 Berlin for 1h: 05:30Z-06:30Z in winter."""
    return Schedule.model_validate(
        {
            "routine": "daily-health",
            "timezone": "Europe/Berlin",
            "every": "30 6 * * *",
            "checklist": "linux-baseline",
            "missed": missed,
        }
    )


def run(
    sched: Schedule,
    started: datetime,
    *,
    by: str = "cron",
    named: bool = True,
    result: str = "pass",
    **extra: Any,
) -> IndexEntry:
    """An index entry of a run of ``sched``."""
    kind = "window" if sched.window else "checklist"
    name = sched.window or sched.checklist
    return IndexEntry.from_json(
        {
            "id": f"{started:%Y%m%dT%H%M%SZ}-{name}",
            "kind": kind,
            "name": name,
            "trigger": by,
            "schedule": sched.name if named else None,
            "started": iso(started),
            "finished": iso(started + timedelta(minutes=30)),
            "result": result,
            "dry_run": False,
            **extra,
        }
    )


def frozen(first: date, last: date, reason: str = "freeze") -> list[FreezePeriod]:
    spec = Freeze.model_validate({"from": first, "to": last, "reason": reason})
    return freeze_periods([spec], "Europe/Berlin", INLINE)


SUN = utc(2026, 11, 22, 1)  # a Sunday window: 01:00Z-04:00Z
NEXT_SUN = SUN + timedelta(days=7)


def test_an_open_window_nobody_ran_is_due_until_its_end() -> None:
    history = [run(window(), SUN - timedelta(days=7, minutes=-1))]
    st = status(window(), history, SUN + timedelta(minutes=30))
    assert st.state == "due" and st.runnable and not st.catch_up
    assert st.due is not None and st.due.at == SUN and st.run_until == SUN + timedelta(hours=3)
    assert st.next is not None and st.next.at == NEXT_SUN


def test_a_window_run_by_cron_is_ok_and_reports_the_run() -> None:
    history = [run(window(), SUN + timedelta(seconds=2), result="fail")]
    st = status(window(), history, SUN + timedelta(hours=1))
    assert st.state == "ok" and not st.runnable and st.covered == SUN
    assert st.last_run is not None and st.last_run.result == "fail" and st.last_run.covers == SUN


def test_a_missed_window_with_skip_is_recorded_and_not_due() -> None:
    history = [run(window(), SUN - timedelta(days=7))]
    st = status(window("skip"), history, SUN + timedelta(days=2))
    assert st.state == "missed" and st.missed_since == SUN and st.due is None


def test_a_missed_window_with_run_once_is_overdue_with_one_catch_up() -> None:
    sched = window("run-once")
    history = [run(sched, SUN - timedelta(days=14))]  # two Sundays missed
    now = SUN + timedelta(days=2)
    st = status(sched, history, now)
    assert st.state == "overdue" and st.catch_up and st.runnable
    assert st.missed_since == SUN - timedelta(days=7)
    assert st.due is not None and st.due.at == SUN  # the latest missed occurrence
    assert st.run_until == now + timedelta(hours=3)
    # the catch-up run (cron, recording the occurrence it ran for) settles it
    catch_up = run(sched, now + timedelta(minutes=1), occurrence=iso(SUN))
    after = status(sched, [*history, catch_up], now + timedelta(hours=2))
    assert after.state == "ok" and after.covered == SUN


def test_a_catch_up_without_a_recorded_occurrence_covers_the_latest_before_it() -> None:
    sched = window("run-once")
    history = [run(sched, SUN - timedelta(days=7)), run(sched, SUN + timedelta(days=1))]
    assert covered_occurrence(sched, history[-1]) == SUN
    assert status(sched, history, SUN + timedelta(days=2)).state == "ok"


def test_a_frozen_window_is_not_missed_and_says_frozen_while_open() -> None:
    sched = window("run-once")
    history = [run(sched, SUN - timedelta(days=7))]
    freezes = frozen(date(2026, 11, 20), date(2026, 11, 23), "Black Friday")
    during = status(sched, history, SUN + timedelta(hours=1), freezes=freezes)
    assert during.state == "frozen" and not during.runnable
    assert during.frozen is not None and during.frozen.reason == "Black Friday"
    assert during.due is not None and during.due.at == SUN  # what --override would run
    after = status(sched, history, SUN + timedelta(days=3), freezes=freezes)
    assert after.state == "ok" and after.due is None


def test_a_catch_up_inside_a_freeze_waits() -> None:
    sched = window("run-once")
    history = [run(sched, SUN - timedelta(days=7))]
    freezes = frozen(date(2026, 11, 24), date(2026, 11, 26))
    st = status(sched, history, utc(2026, 11, 25, 12), freezes=freezes)
    assert st.state == "frozen" and st.catch_up and st.missed_since == SUN and not st.runnable


def test_the_next_occurrence_says_when_it_is_frozen() -> None:
    freezes = frozen(date(2026, 11, 27), date(2026, 11, 30), "peak")
    st = status(window(), [run(window(), SUN)], SUN + timedelta(days=1), freezes=freezes)
    assert st.next is not None and st.next.at == NEXT_SUN
    assert st.next_frozen is not None and st.next_frozen.reason == "peak"


def test_operator_runs_count_inside_the_window_only() -> None:
    sched = window()
    inside = run(sched, SUN + timedelta(hours=2), by="operator", named=False)
    outside = run(sched, SUN + timedelta(hours=5), by="operator", named=False)
    assert covered_occurrence(sched, inside) == SUN
    assert covered_occurrence(sched, outside) is None
    st = status(sched, [outside], SUN + timedelta(days=1))
    assert st.state == "never-run" and st.last_run is not None and st.last_run.covers is None


def test_runs_of_other_things_or_schedules_and_dry_runs_do_not_count() -> None:
    sched = routine()
    now = utc(2026, 11, 24, 5, 45)
    other_schedule = run(sched, now - timedelta(minutes=10), schedule="hourly-baseline")
    other_checklist = run(
        sched, now - timedelta(minutes=10), by="operator", named=False, name="web"
    )
    dry = run(sched, now - timedelta(minutes=10), dry_run=True)
    st = status(sched, [other_schedule, other_checklist, dry], now)
    assert st.state == "due" and st.last_run is None


def test_runs_after_now_are_ignored() -> None:
    sched = window()
    st = status(sched, [run(sched, SUN + timedelta(minutes=5))], SUN + timedelta(minutes=1))
    assert st.state == "due" and st.last_run is None


def test_a_routine_never_run_is_due_once_but_a_window_waits_for_its_slot() -> None:
    now = utc(2026, 11, 24, 12)
    st = status(routine(), [], now)
    assert st.state == "never-run" and st.runnable and st.catch_up
    assert st.due is not None and st.due.at == utc(2026, 11, 24, 5, 30) and st.missed_since is None
    assert status(routine("skip"), [], now).due is None
    st = status(window("run-once"), [], SUN + timedelta(days=2))
    assert st.state == "never-run" and st.due is None


def test_a_routine_with_run_once_stays_due_until_run() -> None:
    sched = routine()
    history = [run(sched, utc(2026, 11, 22, 5, 30))]
    st = status(sched, history, utc(2026, 11, 24, 12))
    assert st.state == "overdue" and st.missed_since == utc(2026, 11, 23, 5, 30)
    assert st.due is not None and st.due.at == utc(2026, 11, 24, 5, 30)


@pytest.mark.parametrize("dst_day", [utc(2027, 3, 28), utc(2026, 10, 25)])
def test_due_across_dst_days(dst_day: datetime) -> None:
    """A daily 02:30 routine: exactly one due occurrence on either change day."""
    sched = Schedule.model_validate(
        {"routine": "r", "timezone": "Europe/Berlin", "every": "30 2 * * *", "checklist": "c"}
    )
    day_before = status(sched, [], dst_day - timedelta(hours=12))
    assert day_before.next is not None
    first = day_before.next.at
    ran = run(sched, first + timedelta(seconds=1))
    after = status(sched, [ran], first + timedelta(minutes=90))
    assert after.state == "ok" and after.next is not None
    assert after.next.at - first >= timedelta(hours=23)  # never a second run that night

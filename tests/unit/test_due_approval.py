"""Due states that depend on approvals and replays: a window that requires approval
awaits it while due, a replayed cron run counts from its occurrence, and ``run-due
--at`` refuses the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from butler_maint.errors import ButlerError, ExitCode
from butler_maint.evidence.index import IndexEntry
from butler_maint.model.schedule import Schedule
from butler_maint.runs.due import AT_SKEW, replay_time
from butler_maint.schedule.due import awaiting_approval, status
from butler_maint.schedule.freezes import INLINE, freeze_periods

SUN = datetime(2026, 11, 22, 1, tzinfo=UTC)  # a Sunday window: 01:00Z-04:00Z


def window(**extra: Any) -> Schedule:
    return Schedule.model_validate(
        {
            "window": "weekly-patching", "timezone": "Europe/Berlin",
            "every": "RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0", "duration": "3h",
            "steps": [{"checklist": "linux-baseline"}], **extra,
        }
    )  # fmt: skip


def cron_run(sched: Schedule, started: datetime, occurrence: datetime | None) -> IndexEntry:
    iso = "%Y-%m-%dT%H:%M:%S.000Z"
    return IndexEntry.from_json(
        {
            "id": f"{started:%Y%m%dT%H%M%SZ}-{sched.name}", "kind": "window",
            "name": sched.name, "trigger": "cron", "schedule": sched.name,
            "occurrence": occurrence.strftime(iso) if occurrence else None,
            "started": started.strftime(iso),
            "finished": (started + timedelta(minutes=5)).strftime(iso), "result": "pass",
        }
    )  # fmt: skip


def test_a_due_window_that_requires_approval_awaits_it_until_approved() -> None:
    sched = window(requires_approval=True)
    st = status(sched, [], SUN + timedelta(minutes=30))
    assert st.state == "due" and st.runnable
    waiting = awaiting_approval(st, sched, set())
    assert waiting.state == "awaiting-approval" and not waiting.runnable
    assert waiting.due == st.due and waiting.run_until == st.run_until
    approved = awaiting_approval(st, sched, {SUN})
    assert approved.state == "due" and approved.runnable
    other = awaiting_approval(st, sched, {SUN + timedelta(days=7)})
    assert other.state == "awaiting-approval"  # approvals are per occurrence


def test_a_catch_up_awaits_approval_of_the_occurrence_it_records() -> None:
    sched = window(requires_approval=True, missed="run-once")
    history = [cron_run(sched, SUN - timedelta(days=7), SUN - timedelta(days=7))]
    st = awaiting_approval(status(sched, history, SUN + timedelta(days=1)), sched, set())
    assert st.state == "awaiting-approval" and st.catch_up and st.due is not None
    assert st.due.at == SUN and st.missed_since == SUN


def test_windows_without_approval_frozen_or_not_due_are_left_as_they_are() -> None:
    plain = window()
    st = status(plain, [], SUN + timedelta(minutes=30))
    assert awaiting_approval(st, plain, set()) == st
    sched = window(requires_approval=True)
    ok = status(sched, [cron_run(sched, SUN, SUN)], SUN + timedelta(hours=1))
    assert ok.state == "ok" and awaiting_approval(ok, sched, set()) == ok
    frozen = window(
        requires_approval=True, freeze=[{"from": "2026-11-21", "to": "2026-11-23", "reason": "x"}]
    )
    periods = freeze_periods(frozen.freeze, frozen.timezone, INLINE)
    st = status(frozen, [], SUN + timedelta(minutes=30), freezes=periods)
    assert st.state == "frozen" and awaiting_approval(st, frozen, set()).state == "frozen"


def test_a_replayed_cron_run_counts_from_its_occurrence_whenever_it_started() -> None:
    """``run-due --at T`` (T past) starts after T; a second replay at T must find it."""
    sched = window()
    at = SUN + timedelta(minutes=30)
    replay = cron_run(sched, SUN + timedelta(days=2), SUN)
    st = status(sched, [replay], at)
    assert st.state == "ok" and st.covered == SUN
    assert st.last_run is not None and st.last_run.id == replay.id
    before = status(sched, [replay], SUN - timedelta(minutes=1))
    assert before.last_run is None  # not before its occurrence
    unrecorded = cron_run(sched, SUN + timedelta(days=2), None)
    assert status(sched, [unrecorded], at).state == "due"  # no occurrence: by its start


def test_run_due_at_refuses_the_future_beyond_the_skew() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    with pytest.raises(ButlerError) as info:
        replay_time(now + timedelta(minutes=10), now)
    assert info.value.exit_code == ExitCode.USAGE
    assert str(info.value).startswith(
        "--at is for replaying the past and for tests; 2026-11-22T12:10:00.000Z is "
        "10 minutes in the future"
    )
    assert replay_time(now + AT_SKEW, now) == now + AT_SKEW
    past = datetime(2026, 11, 1, 3, tzinfo=UTC).astimezone()
    assert replay_time(past, now) == past and replay_time(past, now).tzinfo is UTC

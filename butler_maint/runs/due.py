"""``run-due``: run every due occurrence once, safely from cron every few minutes.

One ``run-due`` at a time: an ``flock`` on ``<evidence>/.run-due.lock`` (released by the
kernel when the holder dies, even by ``kill -9``); a second call exits at once naming
the holder's pid. Idempotent per occurrence: a run records ``trigger.schedule`` and
``trigger.occurrence``, and ``due`` then sees the occurrence covered. A stop ends the
pass after the run it interrupted (that run's report is written, and notified).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from butler_maint.errors import ButlerError
from butler_maint.evidence import EvidenceStore, Trigger, WrittenReport
from butler_maint.evidence.layout import RUN_DUE_LOCK_FILE
from butler_maint.evidence.lock import hold_lock
from butler_maint.notify import notify_run, problems
from butler_maint.runs.check import CheckRequest, run_check
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop
from butler_maint.runs.window import WindowRequest, run_window
from butler_maint.schedule.calendar import Scheduled, load_schedules
from butler_maint.schedule.due import DueStatus, status
from butler_maint.schedule.history import recent_runs


@dataclass(frozen=True)
class DueRun:
    """What ``run-due`` did about one schedule."""

    schedule: str
    occurrence: datetime | None
    result: str  # pass | fail | error | interrupted | frozen | refused
    report_id: str | None = None
    message: str = ""
    notices: tuple[str, ...] = ()
    """Problems notifying about the run (the run itself stands)."""

    @property
    def ok(self) -> bool:
        """Nothing for a person to look at."""
        return self.result in ("pass", "frozen")


def run_due(target: Target, now: datetime, stop: Stop) -> list[DueRun]:
    """Run what is due at ``now`` (under the lock); one DueRun per schedule acted on."""
    store = EvidenceStore.for_project(target.root, target.config.evidence)
    with hold_lock(store.root / RUN_DUE_LOCK_FILE, busy="another run-due is running"):
        history = recent_runs(store, now)
        done = []
        for scheduled in load_schedules(target.root):
            if stop.requested:
                break
            state = status(scheduled.schedule, history, now, freezes=scheduled.freezes)
            if state.due is None:
                continue
            previous = state.last_run.result if state.last_run else None
            run = _one(target, scheduled, state, now, stop)
            done.append(_notified(store, scheduled, run, previous))
        return done


def _notified(
    store: EvidenceStore, scheduled: Scheduled, run: DueRun, previous: str | None
) -> DueRun:
    """``run`` after notifying about it (never raises; a run without a report: no)."""
    if run.report_id is None or not scheduled.schedule.notify:
        return run
    try:
        report = store.load(run.report_id)
    except ButlerError as exc:
        notice = f"notify: {scheduled.schedule.name}: cannot read {run.report_id}: {exc}"
        return _with_notices(run, [notice])
    deliveries = notify_run(scheduled.schedule, report, previous)
    return _with_notices(run, problems(scheduled.schedule.name, deliveries))


def _with_notices(run: DueRun, notices: list[str]) -> DueRun:
    if not notices:
        return run
    return DueRun(
        run.schedule, run.occurrence, run.result, run.report_id, run.message,
        (*run.notices, *notices),
    )  # fmt: skip


def _one(
    target: Target, scheduled: Scheduled, state: DueStatus, now: datetime, stop: Stop
) -> DueRun:
    schedule, occurrence = scheduled.schedule, state.due
    assert occurrence is not None
    if state.frozen is not None:
        return DueRun(schedule.name, occurrence.at, "frozen", message=state.frozen.reason)
    try:
        written = _run(target, scheduled, state, now, stop)
    except ButlerError as exc:
        return DueRun(schedule.name, occurrence.at, "refused", message=exc.render())
    return DueRun(schedule.name, occurrence.at, str(written.result), written.id)


def _run(
    target: Target,
    scheduled: Scheduled,
    state: DueStatus,
    now: datetime,
    stop: Stop,
) -> WrittenReport:
    schedule, occurrence = scheduled.schedule, state.due
    assert occurrence is not None
    trigger = Trigger(by="cron", schedule=schedule.name, occurrence=occurrence.at)
    if schedule.checklist is not None:
        outcome = run_check(CheckRequest(target, schedule.checklist, trigger=trigger), stop)
        if outcome.evidence_error is not None:
            raise outcome.evidence_error
        assert outcome.written is not None
        return outcome.written
    request = WindowRequest(
        target=target, scheduled=scheduled, trigger=trigger, start=max(now, occurrence.at),
        end=state.run_until or occurrence.end, occurrence=occurrence.at,
    )  # fmt: skip
    return run_window(request, stop).written

"""``run-due``: run every due occurrence once, safely from cron every few minutes.

One ``run-due`` at a time: an ``flock`` on ``<evidence>/.run-due.lock`` (released by the
kernel when the holder dies, even by ``kill -9``); a second call exits at once naming
the holder's pid. Idempotent per occurrence: a run records ``trigger.schedule`` and
``trigger.occurrence``, and ``due`` then sees the occurrence covered.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from butler_maint.checks import session
from butler_maint.errors import ButlerError, CannotRunError
from butler_maint.evidence import EvidenceStore, Trigger
from butler_maint.evidence.fsutil import make_dirs
from butler_maint.inventory import Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.model.content import checklist_path
from butler_maint.notify import notify_run
from butler_maint.schedule.calendar import Scheduled, load_schedules
from butler_maint.schedule.due import DueStatus, status
from butler_maint.schedule.history import recent_runs
from butler_maint.windows.playbook_step import playbook_runner
from butler_maint.windows.run import WindowRequest, run_window

LOCK_FILE = ".run-due.lock"


class Interrupted(Exception):
    """A signal stopped run-due; the interrupted run's report was written."""

    def __init__(self, signum: int, report_id: str) -> None:
        super().__init__(f"interrupted by signal {signum}; report {report_id}")
        self.signum = signum
        self.report_id = report_id


@dataclass(frozen=True)
class DueRun:
    """What ``run-due`` did about one schedule."""

    schedule: str
    occurrence: datetime | None
    result: str  # pass | fail | error | interrupted | frozen | refused
    report_id: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Nothing for a person to look at."""
        return self.result in ("pass", "frozen")


@contextlib.contextmanager
def run_due_lock(directory: Path) -> Iterator[None]:
    """Hold the run-due lock, or raise CannotRunError naming the holder's pid."""
    make_dirs(directory)
    path = directory / LOCK_FILE
    handle = path.open("a+", encoding="ascii")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise CannotRunError(
                f"another run-due is running (pid {holder}; lock {path})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


@dataclass(frozen=True)
class DueContext:
    """Everything a run-due pass needs."""

    root: Path
    config: ProjectConfig
    inventory: Inventory
    operator: str


def run_due(ctx: DueContext, now: datetime) -> list[DueRun]:
    """Run what is due at ``now`` (under the lock); one DueRun per schedule acted on."""
    store = EvidenceStore.for_project(ctx.root, ctx.config.evidence)
    with run_due_lock(store.root):
        history = recent_runs(store, now)
        done = []
        for scheduled in load_schedules(ctx.root):
            state = status(scheduled.schedule, history, now, freezes=scheduled.freezes)
            if state.due is None:
                continue
            previous = state.last_run.result if state.last_run else None
            try:
                run = _one(ctx, scheduled, state, now)
            except Interrupted as stop:
                _notify(store, scheduled, stop.report_id, previous)
                raise
            _notify(store, scheduled, run.report_id, previous)
            done.append(run)
        return done


def _notify(
    store: EvidenceStore, scheduled: Scheduled, report_id: str | None, previous: str | None
) -> None:
    """Notify about a run whose report is written (never raises; a run without one: no)."""
    if report_id is None or not scheduled.schedule.notify:
        return
    try:
        report = store.load(report_id)
    except ButlerError as exc:
        click.echo(f"notify: {scheduled.schedule.name}: cannot read {report_id}: {exc}", err=True)
        return
    notify_run(scheduled.schedule, report, previous)


def _one(ctx: DueContext, scheduled: Scheduled, state: DueStatus, now: datetime) -> DueRun:
    schedule, occurrence = scheduled.schedule, state.due
    assert occurrence is not None
    if state.frozen is not None:
        return DueRun(schedule.name, occurrence.at, "frozen", message=state.frozen.reason)
    trigger = Trigger(by="cron", schedule=schedule.name, occurrence=occurrence.at)
    try:
        if schedule.checklist is not None:
            return _routine(ctx, schedule.name, schedule.checklist, trigger, occurrence.at)
        request = WindowRequest(
            root=ctx.root, config=ctx.config, schedule=schedule, freezes=scheduled.freezes,
            inventory=ctx.inventory, operator=ctx.operator, trigger=trigger,
            start=max(now, occurrence.at), end=state.run_until or occurrence.end,
            occurrence=occurrence.at,
        )  # fmt: skip
        play = playbook_runner(ctx.root, ctx.config, ctx.inventory, ctx.operator, trigger)
        outcome = run_window(request, play=play)
    except ButlerError as exc:
        return DueRun(schedule.name, occurrence.at, "refused", message=exc.render())
    if outcome.interrupted_by is not None:
        raise Interrupted(outcome.interrupted_by, outcome.written.id)
    return DueRun(schedule.name, occurrence.at, str(outcome.written.result), outcome.written.id)


def _routine(ctx: DueContext, name: str, checklist: str, trigger: Trigger, at: datetime) -> DueRun:
    request = session.CheckRequest(
        root=ctx.root, config=ctx.config, checklist_file=checklist_path(ctx.root, checklist),
        inventory=ctx.inventory, operator=ctx.operator, trigger=trigger,
    )  # fmt: skip
    outcome = session.run_and_record(request, ask=_never)
    if outcome.evidence_error is not None:
        raise outcome.evidence_error
    assert outcome.written is not None
    if outcome.interrupted_by is not None:
        raise Interrupted(outcome.interrupted_by, outcome.written.id)
    return DueRun(name, at, str(outcome.written.result), outcome.written.id)


def _never(question: str) -> tuple[bool, str]:
    raise AssertionError("run-due never asks questions")  # pragma: no cover

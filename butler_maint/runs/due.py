"""``run-due``: run every due occurrence once, safely from cron every few minutes.

One ``run-due`` at a time: an ``flock`` on ``<evidence>/.run-due.lock`` (released by the
kernel when the holder dies, even by ``kill -9``); a second call exits at once naming
the holder's pid. Several controllers (cron on two machines) sharing a broker claim each
occurrence there first (``Target.claims``): one runs it, the others record nothing and
say ``claimed``. Idempotent per occurrence: a run records ``trigger.schedule`` and
``trigger.occurrence``, and ``due`` then sees the occurrence covered. A stop ends the
pass after the run it interrupted (that run's report is written, and notified).

``--at`` replays a past time (cron was down, a test): the runs record it as
``trigger.at``. A time more than ``AT_SKEW`` ahead of the clock is refused: a run
recorded as started before the occurrence it covers would be false evidence.

A window that requires approval and is due unapproved is reported once per occurrence
(``approvals/<window>/<occurrence>.reported`` notes it), then left quietly until someone
approves it (it runs at the next call) or its window is over.

``--fail-on`` (``runs.verdict``) is the caller's policy: a run whose failures are all
below it is no problem for this call, and its report and notifications stay as they are.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from butler_maint.errors import ButlerError
from butler_maint.evidence import EvidenceStore, Trigger, WrittenReport
from butler_maint.evidence.layout import RUN_DUE_LOCK_FILE
from butler_maint.evidence.lock import hold_lock
from butler_maint.evidence.model import Overall, Report, Severity, iso_z
from butler_maint.evidence.summary import outline
from butler_maint.notify import Delivery, SystemRoute, notify_run, notify_system, problems
from butler_maint.runs.approvals import first_report, with_approval
from butler_maint.runs.check import CheckRequest, run_check
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop
from butler_maint.runs.verdict import report_fails
from butler_maint.runs.window import WindowRequest, run_window
from butler_maint.schedule.calendar import Scheduled, load_schedules
from butler_maint.schedule.due import DueStatus, status
from butler_maint.schedule.history import recent_runs
from butler_maint.systems.diagnose import diagnose
from butler_maint.systems.members import Systems, project_systems, system_files

AT_SKEW = timedelta(seconds=60)
"""How far ahead of the clock ``run-due --at`` may be (clocks of two hosts differ)."""


@dataclass(frozen=True)
class DueRun:
    """What ``run-due`` did about one schedule."""

    schedule: str
    occurrence: datetime | None
    result: str  # pass | fail | error | interrupted | frozen | refused | awaiting-approval
    # | claimed (another controller of the same broker runs or ran it)
    report_id: str | None = None
    message: str = ""
    notices: tuple[str, ...] = ()
    """Problems notifying about the run (the run itself stands)."""
    below_threshold: bool = False
    """The run failed, but only below ``run-due --fail-on`` (``result`` says what happened)."""

    @property
    def ok(self) -> bool:
        """Nothing for a person to look at (at the caller's ``--fail-on``)."""
        return self.result in ("pass", "frozen", "claimed") or self.below_threshold


def replay_time(at: datetime, now: datetime) -> datetime:
    """``at`` (UTC) when ``run-due --at`` may act at it: the past, or up to ``AT_SKEW``
    ahead of ``now``; a later time is refused (exit 2)."""
    ahead = at - now
    if ahead > AT_SKEW:
        minutes = max(1, round(ahead.total_seconds() / 60))
        raise ButlerError(
            f"--at is for replaying the past and for tests; {iso_z(at)} is {minutes} "
            f"minute{'s' if minutes > 1 else ''} in the future (at most "
            f"{AT_SKEW.total_seconds():.0f} s ahead of the clock)"
        )
    return at.astimezone(UTC)


def run_due(
    target: Target, now: datetime, stop: Stop, *, replay: bool = False,
    fail_on: Severity | None = None,
) -> list[DueRun]:  # fmt: skip
    """Run what is due at ``now`` (under the lock); one DueRun per schedule acted on.
    ``replay``: ``now`` is a past time given with ``--at``, recorded as ``trigger.at``;
    ``fail_on``: failures below it are no problem (None: every failure is one)."""
    store = EvidenceStore.for_project(target.root, target.config.evidence)
    with hold_lock(store.root / RUN_DUE_LOCK_FILE, busy="another run-due is running"):
        history = recent_runs(store, now)
        systems = _systems(target)
        done = []
        for scheduled in load_schedules(target.root):
            if stop.requested:
                break
            state = status(scheduled.schedule, history, now, freezes=scheduled.freezes)
            state = with_approval(store, scheduled.schedule, state)
            if state.due is None:
                continue
            if state.state == "awaiting-approval":
                done.extend(_awaiting(store, target.operator, state, now))
                continue
            previous = state.last_run.result if state.last_run else None
            run = _one(target, scheduled, state, now, stop, replay=replay)
            done.append(_reported(store, scheduled, run, previous, fail_on, systems=systems))
        return done


def _awaiting(store: EvidenceStore, operator: str, state: DueStatus, now: datetime) -> list[DueRun]:
    """The first call to meet an occurrence awaiting approval reports it; later ones don't."""
    assert state.due is not None
    name, occurrence = state.schedule, state.due.at
    if not first_report(store, name, occurrence, now):
        return []
    when = iso_z(occurrence)
    message = (
        f"window {name} requires approval for {when}: someone other than {operator} runs "
        f"`butler-maint window approve {name} --occurrence {when}` (reported once; it runs "
        "at the first run-due after the approval, while its window is open)"
    )
    return [DueRun(name, occurrence, "awaiting-approval", message=message)]


def _reported(
    store: EvidenceStore, scheduled: Scheduled, run: DueRun, previous: str | None,
    fail_on: Severity | None, *, systems: Systems,
) -> DueRun:  # fmt: skip
    """``run`` with what its report says went wrong and whether that is below
    ``fail_on``, after notifying about it (never raises; a run without a report: nothing
    to say, nobody to notify; an unreadable one is a problem at any threshold)."""
    if run.report_id is None:
        return run
    try:
        report = store.load(run.report_id)
    except ButlerError as exc:
        notice = f"{scheduled.schedule.name}: cannot read {run.report_id}: {exc}"
        return replace(run, notices=(*run.notices, notice))
    below = report.result is not Overall.PASS and not report_fails(report, fail_on)
    run = replace(run, message=outline(report), below_threshold=below)
    deliveries = _notify(scheduled, report, previous, systems)
    return replace(run, notices=(*run.notices, *problems(scheduled.schedule.name, deliveries)))


def _systems(target: Target) -> Systems:
    """The repository's systems; none when there are none or they do not load (a run
    never fails for them: ``validate`` says what is wrong)."""
    if not system_files(target.root):
        return Systems()
    try:
        return project_systems(target.root, target.inventory)
    except ButlerError:
        return Systems()


def _notify(
    scheduled: Scheduled, report: Report, previous: str | None, systems: Systems
) -> list[Delivery]:
    """The schedule's notifications (with the diagnosis by system), then each system's
    own, for the systems whose hosts the run touched."""
    found = diagnose(report, systems) if systems else None
    document = found.to_dict() if found is not None else None
    name = scheduled.schedule.name
    deliveries = []
    if scheduled.schedule.notify:
        deliveries += notify_run(scheduled.schedule, report, previous, diagnosis=document)
    touched = {r.host for step in report.steps for r in step.results}
    for system_name, system in sorted(systems.systems.items()):
        if not system.notify or not touched & systems.hosts.get(system_name, frozenset()):
            continue
        failing = found is not None and system_name in found.systems
        route = SystemRoute(system_name, system.owner, system.notify, failing)
        deliveries += notify_system(route, name, report, previous, diagnosis=document)
    return deliveries


def _one(
    target: Target, scheduled: Scheduled, state: DueStatus, now: datetime, stop: Stop,
    *, replay: bool,
) -> DueRun:  # fmt: skip
    schedule, occurrence = scheduled.schedule, state.due
    assert occurrence is not None
    if state.frozen is not None:
        return DueRun(schedule.name, occurrence.at, "frozen", message=state.frozen.reason)
    try:
        with (
            target.claims.claim(schedule.name, occurrence.at)
            if target.claims
            else (contextlib.nullcontext()) as other
        ):
            if other is not None:
                return DueRun(schedule.name, occurrence.at, "claimed", message=other)
            written = _run(target, scheduled, state, now, stop, replay=replay)
    except ButlerError as exc:
        return DueRun(schedule.name, occurrence.at, "refused", message=exc.render())
    return DueRun(schedule.name, occurrence.at, str(written.result), written.id)


def _run(
    target: Target,
    scheduled: Scheduled,
    state: DueStatus,
    now: datetime,
    stop: Stop,
    *,
    replay: bool,
) -> WrittenReport:
    """Run the due occurrence; a ``replay`` records ``now`` as ``trigger.at``."""
    schedule, occurrence = scheduled.schedule, state.due
    assert occurrence is not None
    at = now if replay else None
    trigger = Trigger(by="cron", schedule=schedule.name, occurrence=occurrence.at, at=at)
    if schedule.checklist is not None:
        routine = CheckRequest(
            target, schedule.checklist, trigger=trigger, remediate=schedule.remediate
        )
        outcome = run_check(routine, stop)
        if outcome.evidence_error is not None:
            raise outcome.evidence_error
        assert outcome.written is not None
        return outcome.written
    request = WindowRequest(
        target=target, scheduled=scheduled, trigger=trigger, start=max(now, occurrence.at),
        end=state.run_until or occurrence.end, occurrence=occurrence.at,
    )  # fmt: skip
    return run_window(request, stop).written

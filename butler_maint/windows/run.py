"""Run a maintenance window: its steps in order, batch after batch of hosts, as ONE
evidence report.

Each batch of hosts (``serial``) goes through every step (pre-checks, playbooks,
post-checks) before the next batch starts, as Ansible's ``serial`` does for plays. No
batch starts at or after the window's end, nor once the share of failed hosts is above
``max_fail_percentage``; the hosts left are recorded ``not_run`` with the reason. A
host failed when any of its results failed, errored or was unreachable. A frozen
window runs only with an override and its reason; a window that ``requires_approval``
runs only when someone other than the operator approved the occurrence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from butler_maint.checks import session
from butler_maint.checks.record import to_result
from butler_maint.checks.runner import HostRun, Interrupt, run_checklist
from butler_maint.errors import CannotRunError
from butler_maint.evidence import (
    FAILING,
    Approval,
    ChecklistStep,
    EvidenceStore,
    HostStats,
    Kind,
    Override,
    PlaybookStep,
    ReportDraft,
    Result,
    Status,
    Step,
    Trigger,
    WrittenReport,
)
from butler_maint.evidence.provenance import (
    content_provenance,
    inventory_provenance,
    tool_versions,
)
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.model.content import checklist_path, load_checklist
from butler_maint.model.schedule import ChecklistStep as ChecklistStepSpec
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.model.schedule import Schedule
from butler_maint.schedule.freezes import FreezePeriod, frozen_during
from butler_maint.waivers import LoadedWaiver, inventory_matcher, load_waivers, waive_runs
from butler_maint.windows.approvals import approval_for
from butler_maint.windows.batches import batches, exceeded

PlaybookRunner = Callable[[PlaybookStepSpec, list[HostInfo], bool], tuple[PlaybookStep, int | None]]
"""Runs one playbook step on a batch (dry run: check mode): the step, and the signal
that interrupted it, if one did."""


@dataclass(frozen=True)
class WindowRequest:
    """A window to run: which occurrence, by whom, how."""

    root: Path
    config: ProjectConfig
    schedule: Schedule
    freezes: tuple[FreezePeriod, ...]
    inventory: Inventory
    operator: str
    trigger: Trigger
    start: datetime
    """The occurrence's start (or now, for an ad-hoc run)."""
    end: datetime
    """No batch starts at or after it (the occurrence's end; now + duration for a catch-up)."""
    occurrence: datetime | None = None
    """The occurrence this run is for; approvals are given per occurrence."""
    dry_run: bool = False
    override_reason: str | None = None
    limit: str | None = None
    accept_new_host_keys: bool = False


@dataclass
class _Progress:
    steps: list[Step]
    failed: set[str] = field(default_factory=set)
    host_keys: dict[str, str] = field(default_factory=dict)


def check_allowed(
    request: WindowRequest, store: EvidenceStore
) -> tuple[Override | None, Approval | None]:
    """Refuse a frozen window without an override, or an unapproved one."""
    schedule = request.schedule
    frozen = frozen_during(request.freezes, request.start, request.end)
    override = None
    if frozen is not None:
        if not request.override_reason:
            raise CannotRunError(
                f"window {schedule.name} is frozen ({frozen.reason}, {frozen.source}); "
                "run it anyway with --override --reason TEXT"
            )
        override = Override(reason=request.override_reason, by=request.operator)
    approval = None
    if schedule.requires_approval:
        if request.occurrence is None:
            raise CannotRunError(
                f"window {schedule.name} requires approval, which is given per occurrence: "
                "run it in its window or name the approved one with --occurrence"
            )
        approval = approval_for(store, schedule.name, request.occurrence, request.operator)
    return override, approval


@dataclass(frozen=True)
class WindowOutcome:
    """The written report, and the signal that interrupted the run, if one did."""

    written: WrittenReport
    interrupted_by: int | None = None


def run_window(
    request: WindowRequest,
    *,
    play: PlaybookRunner,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_batch: Callable[[int, list[str]], None] | None = None,
) -> WindowOutcome:
    """Run the window's steps batch by batch and write one evidence report."""
    schedule = request.schedule
    store = EvidenceStore.for_project(request.root, request.config.evidence)
    override, approval = check_allowed(request, store)
    hosts = request.inventory.select(schedule.hosts or "all", request.limit)
    end = request.end
    progress = _Progress(steps=[_empty_step(step) for step in schedule.steps])
    started = clock()
    groups = batches(hosts, schedule.serial)
    signum = None
    for number, batch in enumerate(groups, 1):
        stop_reason = _why_stop(clock(), end, progress, len(hosts), schedule)
        if stop_reason:
            _not_run([h for group in groups[number - 1 :] for h in group], progress, stop_reason)
            break
        if on_batch:
            on_batch(number, [h.name for h in batch])
        try:
            _run_batch(request, batch, progress, play)
        except Interrupt as stop:
            signum = stop.signum
            later = [h for group in groups[number:] for h in group]
            _not_run(later, progress, f"the run was interrupted by signal {signum}")
            break
    draft = ReportDraft(
        kind=Kind.WINDOW,
        name=schedule.name,
        trigger=request.trigger,
        operator=request.operator,
        started=started,
        finished=clock(),
        dry_run=request.dry_run,
        interrupted=signum is not None,
        override=override,
        approval=approval,
        tools=tool_versions(),
        content=content_provenance(
            request.root, _content_files(request), exclude=[request.config.evidence.dir]
        ),
        inventory=inventory_provenance(request.root, request.inventory.sources, len(hosts)),
        host_keys=progress.host_keys,
        steps=progress.steps,
    )
    return WindowOutcome(store.write(draft), signum)


def _why_stop(
    now: datetime, end: datetime, progress: _Progress, total: int, schedule: Schedule
) -> str | None:
    if now >= end:
        return f"the window ended at {end.isoformat()} before this batch could start"
    limit = schedule.max_fail_percentage
    if exceeded(len(progress.failed), total, float(limit) if limit is not None else None):
        return (
            f"max_fail_percentage {limit} exceeded: {len(progress.failed)} of {total} hosts "
            f"failed ({', '.join(sorted(progress.failed))})"
        )
    return None


def _empty_step(step: ChecklistStepSpec | PlaybookStepSpec) -> Step:
    if isinstance(step, ChecklistStepSpec):
        return ChecklistStep(checklist=step.checklist)
    return PlaybookStep(playbook=step.playbook)


def _run_batch(
    request: WindowRequest, batch: list[HostInfo], progress: _Progress, play: PlaybookRunner
) -> None:
    for index, step in enumerate(request.schedule.steps):
        if isinstance(step, ChecklistStepSpec):
            try:
                runs = _checklist(request, step, batch)
            except Interrupt as stop:
                _append(
                    progress, index, [to_result(r) for run in stop.partial for r in run.results], {}
                )
                raise
            progress.host_keys.update({r.host: r.host_key for r in runs if r.host_key})
            results = [to_result(r) for run in runs for r in run.results]
            _append(progress, index, results, {})
        else:
            ran, signum = play(step, batch, request.dry_run)
            _append(progress, index, ran.results, ran.hosts)
            progress.failed |= {h for h, s in ran.hosts.items() if s.failed or s.unreachable}
            if signum is not None:
                raise Interrupt(signum)
        progress.failed |= {r.host for r in progress.steps[index].results if r.status in FAILING}


def _append(
    progress: _Progress, index: int, results: list[Result], hosts: dict[str, HostStats]
) -> None:
    step = progress.steps[index]
    update: dict[str, object] = {"results": [*step.results, *results]}
    if isinstance(step, PlaybookStep):
        update["hosts"] = {**step.hosts, **hosts}
    progress.steps[index] = step.model_copy(update=update)


def _checklist(
    request: WindowRequest, step: ChecklistStepSpec, batch: list[HostInfo]
) -> list[HostRun]:
    checklist = load_checklist(checklist_path(request.root, step.checklist)).model
    waivers = load_waivers(request.root)
    options = session.ssh_options(request.config.ssh, request.root, request.accept_new_host_keys)
    ctx = session.context_for(request.root, checklist, batch, options)
    attest = session.Attestation(request.operator, False, lambda q: (False, ""))
    try:
        runs = run_checklist(checklist, batch, ctx=ctx, attest=attest, forks=request.config.forks)
    except Interrupt as stop:
        stop.partial = _waived(request, stop.partial, waivers, checklist.checklist)
        raise
    return _waived(request, runs, waivers, checklist.checklist)


def _waived(
    request: WindowRequest, runs: list[HostRun], waivers: list[LoadedWaiver], checklist: str
) -> list[HostRun]:
    match = inventory_matcher(request.inventory)
    return waive_runs(runs, waivers, datetime.now(UTC), match, checklist)


def _not_run(hosts: list[HostInfo], progress: _Progress, reason: str) -> None:
    for index, step in enumerate(progress.steps):
        name = step.checklist if isinstance(step, ChecklistStep) else step.playbook
        results = [
            Result(host=h.name, check=f"({name})", status=Status.NOT_RUN, message=reason)
            for h in hosts
        ]
        _append(progress, index, results, {})


def _content_files(request: WindowRequest) -> list[Path]:
    files = [request.root / "schedules" / f"{request.schedule.name}.yaml"]
    for step in request.schedule.steps:
        if isinstance(step, ChecklistStepSpec):
            files.append(checklist_path(request.root, step.checklist))
        else:
            files.append(request.root / step.playbook)
    return [*(f for f in files if f.is_file()), *request.inventory.files()]

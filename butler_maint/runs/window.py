"""Run a maintenance window: its steps in order, batch after batch of hosts, as ONE
evidence report.

Each batch of hosts (``serial``) goes through every step (pre-checks, playbooks,
post-checks) before the next batch starts, as Ansible's ``serial`` does for plays. No
batch starts at or after the window's end, nor once the share of failed hosts is above
``max_fail_percentage``; the hosts left are recorded ``not_run`` with the reason. A
host failed when any of its results failed, errored or was unreachable. Checklist
steps gate: a host failing one gets no later step (``not_run``, naming the step and the
checks), unless the step says ``gate: false``; a step with ``remediate: true`` first
runs the remediation playbooks of its failed checks (``runs.remediate``). A stop
(signal) is looked at before every step: the steps and batches left are recorded
``not_run``. A frozen window runs only with an override and its reason; a window that
``requires_approval`` runs only when someone other than the operator approved the
occurrence. Playbook steps (``runs.steps``) are recorded inside the window's report,
their artifacts attached to it.

A window with ``order: dependencies`` or explicit ``tiers`` runs its hosts tier after
tier of systems (``runs.tiers``), each tier in batches as above; a tier that did not
pass (a host failed a gating step or a playbook) stops the tiers after it, recorded
``not_run`` with the reason, and the report's ``tiers`` say when each ran.

Checklist steps run through :func:`runs.checklist.run_checklist_job`, as `check` does,
over the window's :class:`Reach`; playbook steps through a :data:`PlaybookRunner`. Both
are parameters, so the rules above are tested with fakes, without sshd or ansible.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from butler_maint.errors import ButlerError, CannotRunError
from butler_maint.evidence import (
    FAILING,
    Approval,
    ChecklistStep,
    EvidenceStore,
    HostStats,
    Kind,
    Override,
    PlaybookStep,
    Report,
    Result,
    Status,
    Step,
    Tier,
    Trigger,
    WrittenReport,
)
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import HostInfo
from butler_maint.model.checklist import Checklist
from butler_maint.model.schedule import ChecklistStep as ChecklistStepSpec
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.runs.approvals import approval_for
from butler_maint.runs.batches import batches, exceeded
from butler_maint.runs.checklist import (
    Attestation,
    ChecklistJob,
    Reach,
    job_results,
    real_reach,
    refuse_unrenderable,
    run_checklist_job,
)
from butler_maint.runs.identity import trust_policy
from butler_maint.runs.record import Recording, RunMeta, checklist_files
from butler_maint.runs.remediate import Remediations, remediate
from butler_maint.runs.request import Target
from butler_maint.runs.steps import PlaybookSteps
from butler_maint.runs.stop import Stop
from butler_maint.runs.tiers import TierPlan, ordered, plan_tiers, tier_label
from butler_maint.schedule.calendar import Scheduled
from butler_maint.schedule.freezes import frozen_during
from butler_maint.systems.members import project_systems, system_files
from butler_maint.waivers import LoadedWaiver, load_waivers

PlaybookRunner = Callable[[PlaybookStepSpec, list[HostInfo], bool, Stop], PlaybookStep]
"""Runs one playbook step on a batch (dry run: check mode) until done or stopped."""


@dataclass(frozen=True)
class WindowRequest:
    """A window to run: which occurrence, by whom, how."""

    target: Target
    scheduled: Scheduled
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
    rerun: Rerun | None = None
    """Run only the hosts that failed or were not run in an earlier report."""


@dataclass(frozen=True)
class Rerun:
    """A re-run of an earlier window report: its id and the hosts to run again."""

    report: str
    hosts: frozenset[str]


def rerun_of(report: Report) -> Rerun:
    """The hosts of a window report that failed (any failing result or recap) or were
    not run, to run again."""
    if report.kind != Kind.WINDOW:
        raise ButlerError(f"report {report.id} is a {report.kind} run, not a window run")
    hosts = {r.host for step in report.steps for r in step.results if r.status in _RERUN}
    for step in report.steps:
        if isinstance(step, PlaybookStep):
            hosts |= {h for h, s in step.hosts.items() if s.failed or s.unreachable}
    return Rerun(report.id, frozenset(hosts))


_RERUN = frozenset({*FAILING, Status.NOT_RUN})


@dataclass(frozen=True)
class WindowOutcome:
    """The written report, why the window stopped early (if it did) and the signal that
    interrupted the run (if one did)."""

    written: WrittenReport
    interrupted_by: int | None = None
    stop_reason: str | None = None


@dataclass(frozen=True)
class BatchDone:
    """A finished batch: its hosts, and every result in it that was not a pass (failures,
    and the steps gating skipped), with the step each is from."""

    number: int
    hosts: list[str]
    problems: list[tuple[str, Result]]


def check_allowed(
    request: WindowRequest, store: EvidenceStore
) -> tuple[Override | None, Approval | None]:
    """Refuse a frozen window without an override, or an unapproved one."""
    schedule, operator = request.scheduled.schedule, request.target.operator
    frozen = frozen_during(request.scheduled.freezes, request.start, request.end)
    override = None
    if frozen is not None:
        if not request.override_reason:
            raise CannotRunError(
                f"window {schedule.name} is frozen ({frozen.reason}, {frozen.source}); "
                "run it anyway with --override --reason TEXT"
            )
        override = Override(reason=request.override_reason, by=operator)
    approval = None
    if schedule.requires_approval:
        if request.occurrence is None:
            raise CannotRunError(
                f"window {schedule.name} requires approval, which is given per occurrence: "
                "run it in its window or name the approved one with --occurrence"
            )
        approval = approval_for(
            store, schedule.name, request.occurrence, operator,
            operator_key=request.target.signer.fingerprint if request.target.signer else None,
            policy=trust_policy(request.target.root, request.target.config),
        )  # fmt: skip
    return override, approval


def with_retries(checklist: Checklist, step: ChecklistStepSpec) -> Checklist:
    """The checklist with the step's ``retries``/``delay`` given to the checks that set
    neither themselves (a post-reboot step waits for its hosts)."""
    if step.retries is None and step.delay is None:
        return checklist
    update: dict[str, object] = {}
    if step.retries is not None:
        update["retries"] = step.retries
    if step.delay is not None:
        update["delay"] = step.delay
    own = {"retries", "delay"}
    checks = [
        c if c.model_fields_set & own else c.model_copy(update=update) for c in checklist.checks
    ]
    return checklist.model_copy(update={"checks": checks})


def schedule_files(root: Path, scheduled: Scheduled) -> list[Path]:
    """The schedule's file and the freeze files its freezes come from."""
    sources = {f.source for f in scheduled.freezes if f.source != "inline"}
    return [scheduled.path, *(root / s for s in sorted(sources) if (root / s).is_file())]


@dataclass
class _Window:
    """A window in progress: its loaded steps, results so far, failed hosts."""

    request: WindowRequest
    checklists: dict[int, Checklist]
    waivers: list[LoadedWaiver]
    reach: Reach
    play: PlaybookRunner
    stop: Stop
    steps: list[Step] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    host_keys: dict[str, str] = field(default_factory=dict)
    stop_reason: str | None = None
    batches: list[list[str]] = field(default_factory=list)
    remediations: Remediations = field(default_factory=lambda: Remediations(1))
    blocked: set[str] = field(default_factory=set)
    """Hosts that failed a gating step or a playbook: their tier did not pass."""
    tiers: list[Tier] = field(default_factory=list)

    def checked(self, checklist: Checklist, hosts: list[HostInfo]) -> list[Result]:
        """``checklist`` run on ``hosts`` (waivers applied), as evidence results."""
        target = self.request.target
        job = ChecklistJob(
            checklist, hosts, target.inventory, self.waivers, Attestation(target.operator),
            target.config.forks,
        )  # fmt: skip
        runs = run_checklist_job(job, self.reach, self.stop)
        self.host_keys.update({r.host: r.host_key for r in runs if r.host_key})
        return job_results(job, runs)


def run_window(
    request: WindowRequest,
    stop: Stop,
    *,
    reach: Reach | None = None,
    play: PlaybookRunner | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_batch: Callable[[int, list[str]], None] | None = None,
    on_batch_done: Callable[[BatchDone], None] | None = None,
) -> WindowOutcome:
    """Run the window's steps batch by batch and write one evidence report."""
    target, schedule = request.target, request.scheduled.schedule
    store = EvidenceStore.for_project(target.root, target.config.evidence)
    override, approval = check_allowed(request, store)
    hosts = target.inventory.select(schedule.hosts or "all", request.limit)
    if request.rerun is not None:
        hosts = [h for h in hosts if h.name in request.rerun.hosts]
    used = schedule_files(target.root, request.scheduled)
    plan = None
    if ordered(schedule):
        plan = plan_tiers(schedule, project_systems(target.root, target.inventory), hosts)
        used += system_files(target.root)
    checklists: dict[int, Checklist] = {}
    for index, step in enumerate(schedule.steps):
        if isinstance(step, ChecklistStepSpec):
            path, loaded = target.checklist(step.checklist)
            refuse_unrenderable(path, loaded, hosts)  # exit 2 before any step runs
            checklists[index] = with_retries(loaded, step)
            used += checklist_files(target.root, checklists[index], path)
        else:
            used.append(target.root / step.playbook)
    recording = Recording(
        target.root, target.config, target.inventory, used, len(hosts), signer=target.signer
    )
    options = ssh_options(target.config.ssh, target.root, target.accept_new_host_keys)
    with tempfile.TemporaryDirectory(prefix="butler-window-") as workdir:
        playbooks = PlaybookSteps(target, Path(workdir))
        window = _Window(
            request, checklists, load_waivers(target.root),
            reach or real_reach(
                target.root, options, stop, hosts,
                inventory=target.inventory, vault=target.vault_password_file,
                remote=target.remote,
            ),
            play or playbooks,
            stop, steps=[_empty_step(step) for step in schedule.steps],
            remediations=Remediations(first_step=len(schedule.steps) + 1),
        )  # fmt: skip
        started = clock()
        if plan is None:
            _run_batches(window, hosts, clock, on_batch, on_batch_done)
        else:
            _run_tiers(window, plan, clock, on_batch, on_batch_done)
        meta = RunMeta(
            Kind.WINDOW, schedule.name, target.operator, request.trigger, request.dry_run,
            override, approval, request.rerun.report if request.rerun else None,
        )  # fmt: skip
        draft = recording.draft(
            meta, [*window.steps, *window.remediations.steps], host_keys=window.host_keys,
            interrupted=stop.requested, batches=window.batches or None,
            tiers=window.tiers or None,
            error="; ".join(playbooks.errors) or None, stopped=window.stop_reason,
            started=started, finished=clock(),
        )  # fmt: skip
        written = recording.write(draft, attach=playbooks.attach)
    return WindowOutcome(written, stop.signum, window.stop_reason)


def _run_tiers(
    window: _Window,
    plan: list[TierPlan],
    clock: Callable[[], datetime],
    on_batch: Callable[[int, list[str]], None] | None,
    on_batch_done: Callable[[BatchDone], None] | None,
) -> None:
    """Tier after tier, each in batches; a tier starts only when the tier before it
    passed its gating checks, and a failed or stopped tier stops the tiers after it."""
    total = sum(len(t.hosts) for t in plan)
    for number, tier in enumerate(plan, 1):
        names = [h.name for h in tier.hosts]
        if window.stop_reason is not None:
            _not_run(window, tier.hosts, window.stop_reason)
            window.tiers.append(Tier(systems=tier.systems, hosts=names, result="not_run",
                                     reason=window.stop_reason))  # fmt: skip
            continue
        started = clock()
        _run_batches(window, tier.hosts, clock, on_batch, on_batch_done, total=total)
        failed = sorted(window.blocked & set(names))
        reason = None
        if failed:
            reason = f"{tier_label(number, tier.systems)} failed on {', '.join(failed)}"
            later = [s for t in plan[number:] for s in t.systems]
            if later and window.stop_reason is None:
                window.stop_reason = (
                    f"{reason}; the tiers after it ({', '.join(later)}) start only when "
                    "it passed its gating checks"
                )
        elif window.stop_reason is not None:
            reason = window.stop_reason
        result = "fail" if failed else ("stopped" if reason else "pass")
        window.tiers.append(Tier(systems=tier.systems, hosts=names, result=result,
                                 started=started, finished=clock(), reason=reason))  # fmt: skip


def _run_batches(
    window: _Window,
    hosts: list[HostInfo],
    clock: Callable[[], datetime],
    on_batch: Callable[[int, list[str]], None] | None,
    on_batch_done: Callable[[BatchDone], None] | None,
    *,
    total: int | None = None,
) -> None:
    """Batch after batch, until the hosts are done or a rule stops the window (the
    share of failed hosts is taken of ``total``, all the window's hosts)."""
    stop, end = window.stop, window.request.end
    groups = batches(hosts, window.request.scheduled.schedule.serial)
    for index, batch in enumerate(groups, 1):
        stop_reason = _why_stop(clock(), end, window, total or len(hosts))
        if stop_reason:
            window.stop_reason = stop_reason
            _not_run(window, [h for group in groups[index - 1 :] for h in group], stop_reason)
            break
        names = [h.name for h in batch]
        window.batches.append(names)
        number = len(window.batches)
        if on_batch:
            on_batch(number, names)
        _run_batch(window, batch)
        if on_batch_done:
            on_batch_done(BatchDone(number, names, _problems(window, set(names))))
        if stop.requested:
            window.stop_reason = _stopped(stop)
            _not_run(window, [h for group in groups[index:] for h in group], _stopped(stop))
            break


def _problems(window: _Window, hosts: set[str]) -> list[tuple[str, Result]]:
    """The batch's results that are not a pass (nor skipped, pending or waived)."""
    shown = {*FAILING, Status.NOT_RUN}
    return [
        (_step_name(step), r)
        for step in window.steps
        for r in step.results
        if r.host in hosts and r.status in shown
    ]


def _stopped(stop: Stop) -> str:
    return f"the run was interrupted by signal {stop.signum}"


def _why_stop(now: datetime, end: datetime, window: _Window, total: int) -> str | None:
    if now >= end:
        return f"the window ended at {end.isoformat()} before this batch could start"
    limit = window.request.scheduled.schedule.max_fail_percentage
    failed = window.failed
    if exceeded(len(failed), total, float(limit) if limit is not None else None):
        return (
            f"max_fail_percentage {limit} exceeded: {len(failed)} of {total} hosts "
            f"failed ({', '.join(sorted(failed))})"
        )
    return None


def _empty_step(step: ChecklistStepSpec | PlaybookStepSpec) -> Step:
    if isinstance(step, ChecklistStepSpec):
        return ChecklistStep(checklist=step.checklist, title=step.title)
    return PlaybookStep(playbook=step.playbook, title=step.title)


def _run_batch(window: _Window, batch: list[HostInfo]) -> None:
    """Every step on the batch, in order; a host failing a gating checklist step gets no
    later step (``not_run``, naming the step and the checks that failed)."""
    request = window.request
    gated: dict[str, str] = {}  # host -> why it gets no more steps
    for index, step in enumerate(request.scheduled.schedule.steps):
        if window.stop.requested:
            _not_run(window, batch, _stopped(window.stop), first_step=index)
            return
        _skip(window, index, [(h, gated[h.name]) for h in batch if h.name in gated])
        hosts = [h for h in batch if h.name not in gated]
        if not hosts:
            continue
        if isinstance(step, ChecklistStepSpec):
            checklist = window.checklists[index]
            results = window.checked(checklist, hosts)
            if step.remediate and not window.stop.requested:
                results = remediate(
                    checklist, hosts, results, remediations=window.remediations,
                    play=lambda spec, on: window.play(spec, on, request.dry_run, window.stop),
                    recheck=window.checked,
                )  # fmt: skip
            _append(window, index, results, {})
            if step.gate:
                gated.update(_gate(index, step.checklist, results))
                window.blocked |= set(gated)
        else:
            ran = window.play(step, hosts, request.dry_run, window.stop)
            _append(window, index, ran.results, ran.hosts)
            broken = {h for h, s in ran.hosts.items() if s.failed or s.unreachable}
            window.failed |= broken
            window.blocked |= broken
        window.failed |= {r.host for r in window.steps[index].results if r.status in FAILING}


def _gate(index: int, checklist: str, results: list[Result]) -> dict[str, str]:
    """Why each host that failed this checklist step gets no later step."""
    failing: dict[str, list[str]] = {}
    for r in results:
        if r.status in FAILING:
            failing.setdefault(r.host, []).append(f"{r.check} {r.status}")
    return {
        host: f"not run: the host failed step {index + 1} (checklist {checklist}): "
        + ", ".join(checks)
        for host, checks in failing.items()
    }


def _skip(window: _Window, index: int, hosts: list[tuple[HostInfo, str]]) -> None:
    """Record ``not_run`` in step ``index`` for hosts a gate stopped, each with its reason."""
    if hosts:
        name = _step_name(window.steps[index])
        results = [
            Result(host=h.name, check=f"({name})", status=Status.NOT_RUN, message=why)
            for h, why in hosts
        ]
        _append(window, index, results, {})


def _step_name(step: Step) -> str:
    return step.checklist if isinstance(step, ChecklistStep) else step.playbook


def _append(
    window: _Window, index: int, results: list[Result], hosts: dict[str, HostStats]
) -> None:
    step = window.steps[index]
    update: dict[str, object] = {"results": [*step.results, *results]}
    if isinstance(step, PlaybookStep):
        update["hosts"] = {**step.hosts, **hosts}
    window.steps[index] = step.model_copy(update=update)


def _not_run(window: _Window, hosts: list[HostInfo], reason: str, first_step: int = 0) -> None:
    if not hosts:
        return
    for index in range(first_step, len(window.steps)):
        name = _step_name(window.steps[index])
        results = [
            Result(host=h.name, check=f"({name})", status=Status.NOT_RUN, message=reason)
            for h in hosts
        ]
        _append(window, index, results, {})

"""A checklist run recorded on its own: the `check` command and routines of `run-due`."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from butler_maint.checks.runner import HostRun
from butler_maint.evidence import (
    ChecklistStep,
    EvidenceError,
    Kind,
    Result,
    Status,
    Trigger,
    WrittenReport,
)
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import HostInfo
from butler_maint.model.checklist import Checklist
from butler_maint.runs.checklist import (
    Ask,
    Attestation,
    ChecklistJob,
    Reach,
    job_results,
    real_reach,
    refuse_unrenderable,
    run_checklist_job,
)
from butler_maint.runs.record import Recording, RunMeta, checklist_files
from butler_maint.runs.remediate import Remediations, remediate
from butler_maint.runs.request import Target
from butler_maint.runs.steps import PlaybookSteps
from butler_maint.runs.stop import Stop, Stopped
from butler_maint.waivers import load_waivers


@dataclass(frozen=True)
class CheckRequest:
    """What to run, where, and as whom."""

    target: Target
    checklist: str | Path
    """A name in ``checklists/``, or a path."""
    limit: str | None = None
    forks: int | None = None
    trigger: Trigger | None = None
    ask: Ask | None = None
    """Asks manual items on a terminal; None: they stay ``pending``."""
    remediate: bool = False
    """Run the remediation playbook of each failed check that names one, then re-check."""
    confirm: Callable[[str], bool] | None = None
    """Asks before remediating (a terminal); None: remediate without asking."""


@dataclass(frozen=True)
class CheckRun:
    """The outcome of running and recording one checklist: the results as recorded
    (re-checks in place of remediated failures)."""

    results: list[Result]
    written: WrittenReport | None
    hosts: int
    interrupted_by: int | None = None  # the signal number, when interrupted
    evidence_error: EvidenceError | None = None  # the results stand; the report could not


def run_check(
    request: CheckRequest,
    stop: Stop,
    *,
    reach: Reach | None = None,
    on_hosts: Callable[[int], None] | None = None,
    on_host_done: Callable[[HostRun], None] | None = None,
) -> CheckRun:
    """Run a checklist on its hosts and write one evidence report, even when interrupted."""
    target = request.target
    path, checklist = target.checklist(request.checklist)
    waivers = load_waivers(target.root)  # a broken waiver file stops the run before it starts
    hosts = target.inventory.select(checklist.hosts, request.limit)
    refuse_unrenderable(path, checklist, hosts)  # a template problem: exit 2, nothing run
    recording = Recording(
        target.root, target.config, target.inventory,
        checklist_files(target.root, checklist, path), len(hosts), signer=target.signer,
    )  # fmt: skip
    options = ssh_options(target.config.ssh, target.root, target.accept_new_host_keys)
    job = ChecklistJob(
        checklist, hosts, target.inventory, waivers,
        Attestation(target.operator, request.ask, stop), request.forks or target.config.forks,
        path,
    )  # fmt: skip
    job_reach = reach or real_reach(
        target.root, options, stop, hosts,
        inventory=target.inventory, vault=target.vault_password_file, remote=target.remote,
    )  # fmt: skip
    runs = run_checklist_job(job, job_reach, stop, on_start=on_hosts, on_host_done=on_host_done)
    results = job_results(job, runs)
    host_keys = {r.host: r.host_key for r in runs if r.host_key}
    trigger = request.trigger or Trigger()
    meta = RunMeta(Kind.CHECKLIST, checklist.checklist, target.operator, trigger)
    with tempfile.TemporaryDirectory(prefix="butler-check-") as workdir:
        playbooks = PlaybookSteps(target, Path(workdir))
        remediations = Remediations(first_step=2)
        if _remediating(request, checklist, results, stop):

            def recheck(only: Checklist, on: list[HostInfo]) -> list[Result]:
                again = replace(job, checklist=only, hosts=on)
                rerun = run_checklist_job(again, job_reach, stop)
                host_keys.update({r.host: r.host_key for r in rerun if r.host_key})
                return job_results(again, rerun)

            results = remediate(
                checklist, hosts, results, remediations=remediations, recheck=recheck,
                play=lambda spec, on: playbooks(spec, on, False, stop),
            )  # fmt: skip
        step = ChecklistStep(checklist=checklist.checklist, results=results)
        draft = recording.draft(
            meta, [step, *remediations.steps], host_keys=host_keys,
            interrupted=stop.requested, error="; ".join(playbooks.errors) or None,
        )  # fmt: skip
        try:
            written = recording.write(draft, attach=playbooks.attach)
        except EvidenceError as exc:
            return CheckRun(results, None, len(hosts), stop.signum, exc)
    return CheckRun(results, written, len(hosts), stop.signum)


def _remediating(
    request: CheckRequest, checklist: Checklist, results: list[Result], stop: Stop
) -> bool:
    """Whether to remediate now: asked for, something to remediate, confirmed if asked."""
    remediable = {c.id for c in checklist.checks if c.remediate is not None}
    failed = [r for r in results if r.check in remediable and r.status == Status.FAIL]
    if not request.remediate or not failed or stop.requested:
        return False
    if request.confirm is None:
        return True
    hosts = len({r.host for r in failed})
    checks = ", ".join(sorted({r.check for r in failed}))
    try:
        with stop.raising():
            return request.confirm(
                f"remediate {checks} on {hosts} host(s) with their playbooks, then check again?"
            )
    except Stopped:  # the signal is recorded: the report says interrupted
        return False

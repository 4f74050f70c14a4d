"""A checklist run recorded on its own: the `check` command and routines of `run-due`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from butler_maint.checks.runner import HostRun
from butler_maint.evidence import ChecklistStep, EvidenceError, Kind, Trigger, WrittenReport
from butler_maint.executors.options import ssh_options
from butler_maint.runs.checklist import (
    Ask,
    Attestation,
    ChecklistJob,
    Reach,
    real_reach,
    run_checklist_job,
)
from butler_maint.runs.record import Recording, RunMeta, checklist_files, to_result
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop
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


@dataclass(frozen=True)
class CheckRun:
    """The outcome of running and recording one checklist."""

    runs: list[HostRun]
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
    recording = Recording(
        target.root, target.config, target.inventory,
        checklist_files(target.root, checklist, path), len(hosts),
    )  # fmt: skip
    options = ssh_options(target.config.ssh, target.root, target.accept_new_host_keys)
    job = ChecklistJob(
        checklist, hosts, target.inventory, waivers,
        Attestation(target.operator, request.ask, stop), request.forks or target.config.forks,
    )  # fmt: skip
    runs = run_checklist_job(
        job, reach or real_reach(target.root, options, stop), stop,
        on_start=on_hosts, on_host_done=on_host_done,
    )  # fmt: skip
    trigger = request.trigger or Trigger()
    meta = RunMeta(Kind.CHECKLIST, checklist.checklist, target.operator, trigger)
    step = ChecklistStep(
        checklist=checklist.checklist, results=[to_result(r) for run in runs for r in run.results]
    )
    draft = recording.draft(
        meta, [step], host_keys={r.host: r.host_key for r in runs if r.host_key},
        interrupted=stop.requested,
    )  # fmt: skip
    try:
        written = recording.write(draft)
    except EvidenceError as exc:
        return CheckRun(runs, None, len(hosts), stop.signum, exc)
    return CheckRun(runs, written, len(hosts), stop.signum)

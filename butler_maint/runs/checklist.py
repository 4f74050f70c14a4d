"""Run one checklist on some hosts: THE way `check`, routines and window steps run one.

What reaches the hosts is a :class:`Reach` (the executor seam): the real one runs local
hosts with ``sh`` here and the others over SSH, testinfra modules through
pytest-testinfra; a test can hand in its own and exercise batching, gating and stops
without sshd. Around the checklist runner this adds what every caller needs: the
run's secrets (redaction), manual items (attestation) and waivers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from butler_maint.checks.base import Verdict
from butler_maint.checks.preflight import render_problems
from butler_maint.checks.runner import Context, HostRun, not_run, run_checklist
from butler_maint.checks.testinfra import SubResult, judge_module
from butler_maint.checks.types import REGISTRY
from butler_maint.errors import ButlerError, ContentError, Problem
from butler_maint.evidence import PlaybookStep, Result
from butler_maint.evidence.model import Attested
from butler_maint.evidence.summary import explain
from butler_maint.executors import Execution, OutputLimits
from butler_maint.executors.local import run_local
from butler_maint.executors.ssh import SshOptions, known_hosts, run_ssh
from butler_maint.executors.sshconfig import Routes
from butler_maint.executors.testinfra import ModuleRun, run_testinfra
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check
from butler_maint.model.content import load_checklist
from butler_maint.model.schedule import PlaybookStep as PlaybookStepSpec
from butler_maint.model.status import Status
from butler_maint.playbooks.connection import read_user_settings
from butler_maint.redact import Redactor
from butler_maint.runs.record import to_result
from butler_maint.runs.stop import Stop, Stopped
from butler_maint.templating import env_names, templates_in
from butler_maint.waivers import LoadedWaiver, inventory_matcher, waive_runs

Execute = Callable[[HostInfo, str, OutputLimits], Execution]
RunModule = Callable[[HostInfo, str], tuple[Verdict, list[SubResult]]]


Gather = Callable[[Stop], list["HostRun"]]
"""Waits for a segment's shard and returns its host runs (``error`` ones when it failed)."""
PlayGather = Callable[[Stop], tuple[PlaybookStep, str | None]]
"""Waits for a segment's playbook shard: the step as recorded there, and a run error."""


class Remote(Protocol):
    """Hosts in network segments, run by the segments' workers (``butler_maint.workers``)."""

    def split(self, hosts: list[HostInfo]) -> tuple[list[HostInfo], dict[str, list[HostInfo]]]:
        """The hosts run here, and the others by segment."""
        ...

    def send(self, job: ChecklistJob, segment: str, hosts: list[HostInfo]) -> Gather:
        """Send the segment's part of the job; raises CannotRunError when the broker is down."""
        ...

    def play(
        self, step: PlaybookStepSpec, segment: str, hosts: list[HostInfo], dry_run: bool,
        inventory: Inventory,
    ) -> PlayGather:  # fmt: skip
        """Send the segment's part of a playbook step (CannotRunError: the broker is down)."""
        ...


@dataclass(frozen=True)
class Reach:
    """How a run reaches its hosts: a script executor and a testinfra runner, and the
    workers of network segments when a broker is configured."""

    execute: Execute
    testinfra: RunModule
    remote: Remote | None = None


def real_reach(
    root: Path,
    options: SshOptions,
    stop: Stop,
    hosts: Sequence[HostInfo] = (),
    *,
    inventory: Inventory | None = None,
    vault: Path | None = None,
    remote: Remote | None = None,
) -> Reach:
    """Local hosts run ``sh`` here, the others are reached over SSH as their route says
    (ssh args, ssh_config, jump hosts, become); ``stop`` ends them; hosts in a network
    segment go to its workers (``remote``). The routes of ``hosts`` are planned first:
    one that cannot be honoured raises ``RouteError`` (exit 2) naming the host and the
    variable, before anything runs. testinfra modules get the run's ``inventory`` (its
    first source) as ``MOLECULE_INVENTORY_FILE`` and its ``vault`` password file."""
    trusted = known_hosts(options)  # read once per run, shared by every host
    source = inventory.sources[0] if inventory is not None and inventory.sources else None
    user = read_user_settings(root, os.environ)  # ansible.cfg's ssh_args, as for playbooks
    where = f"ssh_args in {user.cfg}" if user.cfg else "ANSIBLE_SSH_ARGS"
    routes = Routes(options.ssh_config, (where, user.ssh_args) if user.ssh_args else None)
    for host in hosts:
        routes(host)

    def execute(host: HostInfo, script: str, limits: OutputLimits) -> Execution:
        try:
            chosen = routes(host)
        except ButlerError as exc:
            return Execution("error", message=str(exc))
        if host.connection == "local":
            return run_local(
                script, deadline_s=options.command_timeout, become=chosen.become,
                stop=stop.event, limits=limits,
            )  # fmt: skip
        return run_ssh(host, script, options, trusted, stop=stop.event, limits=limits, route=chosen)

    def testinfra(host: HostInfo, module: str) -> tuple[Verdict, list[SubResult]]:
        try:
            chosen = routes(host)
        except ButlerError as exc:
            return judge_module(ModuleRun(problem=str(exc)))
        run = run_testinfra(
            host, root / module, options, stop=stop.event, inventory=source, vault=vault,
            route=chosen,
        )  # fmt: skip
        return judge_module(run)

    return Reach(execute, testinfra, remote)


def refuse_unrenderable(path: Path, checklist: Checklist, hosts: list[HostInfo]) -> None:
    """Raise ContentError (exit 2) naming file:line of every template of ``checklist``
    that cannot render on one of ``hosts``, before anything runs (as ``validate`` does)."""
    found = render_problems(checklist, hosts)
    if found:
        doc = load_checklist(path).doc
        raise ContentError([Problem(doc.where(p.path), p.message) for p in found])


def redactor_for(checklist: Checklist, hosts: list[HostInfo]) -> Redactor:
    """Secrets of this run: vault vars of the hosts and checks marked ``secret``."""
    redactor = Redactor(secret_checks={c.id for c in checklist.checks if c.secret})
    texts = [t for _, t in templates_in(checklist.model_dump(exclude_none=True))]
    texts += [c.when for c in checklist.checks if c.when]
    names = {name for text in texts for name in env_names(text)}
    redactor.add(os.environ[name] for name in names if name in os.environ)
    for host in hosts:
        redactor.add(_flatten([host.vars[name] for name in host.secret_vars if name in host.vars]))
    return redactor


def _flatten(values: list[object]) -> list[object]:
    out: list[object] = []
    for value in values:
        if isinstance(value, dict):
            out.extend(_flatten(list(value.values())))
        elif isinstance(value, list):
            out.extend(_flatten(value))
        else:
            out.append(value)
    return out


Ask = Callable[[str], tuple[bool, str]]


@dataclass(frozen=True)
class Attestation:
    """Asks the operator about manual items on a terminal; otherwise they stay pending."""

    operator: str
    ask: Ask | None = None  # None: nobody to ask (cron, a window, a non-terminal)
    stop: Stop | None = None  # a stop signal interrupts a question
    given: dict[tuple[str, str], Attested] = field(default_factory=dict)
    """The attestations given, by (host, check id): recorded with the results."""

    def __call__(self, host: HostInfo, check: Check) -> Verdict:
        """The verdict of one manual item on one host."""
        statement = check.manual or ""
        if self.ask is None:
            message = f"manual item: not attested (non-interactive run): {statement}"
            return Verdict(Status.PENDING, message=message)
        with self.stop.raising() if self.stop else contextlib.nullcontext():
            confirmed, comment = self.ask(f"{host.name}: {statement}")
        now = datetime.now(UTC)
        answer: Literal["yes", "no"] = "yes" if confirmed else "no"
        self.given[(host.name, check.id)] = Attested(
            statement=statement, answer=answer, by=self.operator, at=now, comment=comment or None
        )
        note = f"attested {answer} by {self.operator} at {now:%Y-%m-%dT%H:%M:%SZ}" + (
            f": {comment}" if comment else ""
        )
        return Verdict(Status.PASS if confirmed else Status.FAIL, answer, "yes", note)


def described(results: list[Result], checklist: Checklist, attest: Attestation) -> list[Result]:
    """Results with what the checklist says of each check (title, severity, controls:
    the checklist's then the check's), the attestations given, and for every non-pass a
    message saying why (observed vs expected in words, when the judge gave none)."""
    checks = {c.id: c for c in checklist.checks}
    out = []
    for r in results:
        check = checks.get(r.check)
        if check is None:
            out.append(r)
            continue
        controls = list(dict.fromkeys([*checklist.controls, *check.controls]))
        update = {
            "title": check.title,
            "severity": check.severity,
            "controls": controls or None,
            "attested": attest.given.get((r.host, r.check)),
            "message": r.message or (explain(r) if r.status != Status.PASS else None),
        }
        out.append(r.model_copy(update=update))
    return out


@dataclass(frozen=True)
class ChecklistJob:
    """One checklist to run on some hosts, and everything that judges its results."""

    checklist: Checklist
    hosts: list[HostInfo]
    inventory: Inventory
    waivers: list[LoadedWaiver]
    attest: Attestation
    forks: int = 20
    path: Path | None = None
    """The checklist's file (None: ``checklists/NAME.yaml``): what a worker runs."""


def run_checklist_job(
    job: ChecklistJob,
    reach: Reach,
    stop: Stop,
    *,
    on_start: Callable[[int], None] | None = None,
    on_host_done: Callable[[HostRun], None] | None = None,
) -> list[HostRun]:
    """Run the job's checklist on its hosts (waivers applied); a stop leaves hosts ``not_run``.
    Hosts in network segments are sent to their workers first, then the others run here."""
    if reach.remote is not None:
        here, away = reach.remote.split(job.hosts)
        if away:
            gathers = [reach.remote.send(job, segment, hosts) for segment, hosts in away.items()]
            return _waived(
                job,
                _run_with_workers(
                    job, reach, stop, here, gathers, on_start=on_start, on_host_done=on_host_done
                ),
            )
    return _waived(job, _run_here(job, reach, stop, on_start, on_host_done))


def _run_with_workers(
    job: ChecklistJob, reach: Reach, stop: Stop, here: list[HostInfo], gathers: list[Gather],
    *, on_start: Callable[[int], None] | None, on_host_done: Callable[[HostRun], None] | None,
) -> list[HostRun]:  # fmt: skip
    """The shards sent, run the local hosts, then gather the shards; in the job's order."""
    if on_start:
        on_start(len(job.hosts))
    runs = _run_here(replace(job, hosts=here), reach, stop, None, on_host_done) if here else []
    for gather in gathers:
        for run in gather(stop):
            runs.append(run)
            if on_host_done:
                on_host_done(run)
    order = {host.name: index for index, host in enumerate(job.hosts)}
    return sorted(runs, key=lambda run: order[run.host])


def _run_here(
    job: ChecklistJob, reach: Reach, stop: Stop, on_start: Callable[[int], None] | None,
    on_host_done: Callable[[HostRun], None] | None,
) -> list[HostRun]:  # fmt: skip
    checklist = job.checklist
    ctx = Context(
        reach.execute, redactor_for(checklist, job.hosts), REGISTRY, reach.testinfra, stop.event
    )
    try:
        runs = run_checklist(
            checklist, job.hosts, ctx=ctx, attest=job.attest, forks=job.forks,
            stop=stop.event, on_start=on_start, on_host_done=on_host_done,
        )  # fmt: skip
    except Stopped:  # a question was interrupted: nothing ran
        message = "not run: the run was interrupted before its hosts were checked"
        runs = [not_run(checklist, h.name, message) for h in job.hosts]
    return runs


def _waived(job: ChecklistJob, runs: list[HostRun]) -> list[HostRun]:
    match = inventory_matcher(job.inventory)
    return waive_runs(runs, job.waivers, datetime.now(UTC), match, job.checklist.checklist)


def job_results(job: ChecklistJob, runs: list[HostRun]) -> list[Result]:
    """The evidence results of a job's host runs, described (``described``)."""
    return described([to_result(r) for run in runs for r in run.results], job.checklist, job.attest)

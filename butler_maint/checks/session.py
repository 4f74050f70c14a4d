"""Running a checklist as a whole: built once per run from config and options (hosts,
executor per host, redactor, attestation), executed, and recorded as evidence. The
`check` command, windows and `run-due` all come through ``run_and_record``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from butler_maint.checks.base import Verdict
from butler_maint.checks.record import draft_report, provenance_of
from butler_maint.checks.redact import Redactor
from butler_maint.checks.runner import Context, HostRun, Interrupt, run_checklist
from butler_maint.checks.types import REGISTRY
from butler_maint.errors import STOP_SIGNALS
from butler_maint.evidence import EvidenceError, EvidenceStore, Trigger, WrittenReport
from butler_maint.executors import Execution
from butler_maint.executors.local import run_local
from butler_maint.executors.ssh import SYSTEM_KNOWN_HOSTS, SshOptions, known_hosts, run_ssh
from butler_maint.executors.testinfra import run_testinfra
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check
from butler_maint.model.config import ProjectConfig, SshSettings
from butler_maint.model.content import load_checklist
from butler_maint.templating import env_names, templates_in
from butler_maint.waivers import inventory_matcher, load_waivers, waive_runs


def ssh_options(settings: SshSettings, root: Path, accept_new: bool) -> SshOptions:
    """SshOptions from ``butler.yaml`` (paths relative to the repository root)."""
    return SshOptions(
        project_known_hosts=root / settings.known_hosts,
        trusted_known_hosts=SYSTEM_KNOWN_HOSTS if settings.system_known_hosts else (),
        accept_new=accept_new,
        connect_timeout=settings.connect_timeout,
        banner_timeout=settings.banner_timeout,
        auth_timeout=settings.auth_timeout,
        command_timeout=settings.command_timeout,
        keepalive=settings.keepalive,
    )


def executor_for(options: SshOptions) -> Callable[[HostInfo, str], Execution]:
    """Local hosts run ``sh`` here; every other host is reached over SSH."""

    trusted = known_hosts(options)  # read once per run, shared by every host

    def execute(host: HostInfo, script: str) -> Execution:
        if host.connection == "local":
            return run_local(script, deadline_s=options.command_timeout, become=host.become)
        return run_ssh(host, script, options, trusted)

    return execute


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


@dataclass(frozen=True)
class Attestation:
    """Asks the operator about manual items on a terminal; otherwise they stay pending."""

    operator: str
    interactive: bool
    ask: Callable[[str], tuple[bool, str]]

    def __call__(self, host: HostInfo, check: Check) -> Verdict:
        """The verdict of one manual item on one host."""
        if not self.interactive:
            return Verdict("pending", message="manual item: not attested (non-interactive run)")
        question = f"{host.name}: {check.manual}"
        confirmed, comment = self.ask(question)
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = "yes" if confirmed else "no"
        note = f"attested {answer} by {self.operator} at {when}" + (
            f": {comment}" if comment else ""
        )
        return Verdict("pass" if confirmed else "fail", answer, "yes", note)


def is_interactive() -> bool:
    """Whether an operator can answer questions (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def context_for(
    root: Path, checklist: Checklist, hosts: list[HostInfo], options: SshOptions
) -> Context:
    """How one run executes, redacts and runs testinfra modules (relative to ``root``)."""
    return Context(
        executor_for(options),
        redactor_for(checklist, hosts),
        REGISTRY,
        testinfra=lambda host, module: run_testinfra(host, root / module, options),
    )


@dataclass(frozen=True)
class CheckRun:
    """The outcome of running and recording one checklist."""

    runs: list[HostRun]
    written: WrittenReport | None
    hosts: int
    interrupted_by: int | None = None  # the signal number, when interrupted
    evidence_error: EvidenceError | None = None  # the results stand; the report could not


@dataclass(frozen=True)
class CheckRequest:
    """What to run, where, and as whom."""

    root: Path
    config: ProjectConfig
    checklist_file: Path
    inventory: Inventory
    limit: str | None = None
    forks: int | None = None
    operator: str = ""
    accept_new_host_keys: bool = False
    interactive: bool = False
    trigger: Trigger | None = None


def run_and_record(
    request: CheckRequest,
    *,
    ask: Callable[[str], tuple[bool, str]],
    on_hosts: Callable[[int], None] | None = None,
    on_host_done: Callable[[HostRun], None] | None = None,
) -> CheckRun:
    """Run a checklist on its hosts and write one evidence report, even when interrupted."""
    checklist = load_checklist(request.checklist_file).model
    waivers = load_waivers(request.root)  # a broken waiver file stops the run before it starts
    hosts = request.inventory.select(checklist.hosts, request.limit)
    options = ssh_options(request.config.ssh, request.root, request.accept_new_host_keys)
    ctx = context_for(request.root, checklist, hosts, options)
    attest = Attestation(request.operator, request.interactive, ask)
    started = datetime.now(UTC)
    signum: int | None = None
    with ThreadPoolExecutor(max_workers=1) as aside:  # provenance while the hosts work
        provenance = aside.submit(
            partial(
                provenance_of, request.root, checklist=checklist,
                checklist_file=request.checklist_file, inventory=request.inventory,
                host_count=len(hosts), evidence_dir=request.config.evidence.dir,
            )
        )  # fmt: skip
        try:
            runs = run_checklist(
                checklist, hosts, ctx=ctx, attest=attest,
                forks=request.forks or request.config.forks, on_start=on_hosts,
                on_host_done=on_host_done,
            )  # fmt: skip
        except Interrupt as stop:
            runs, signum = stop.partial, stop.signum
    runs = waive_runs(
        runs, waivers, datetime.now(UTC), inventory_matcher(request.inventory), checklist.checklist
    )
    draft = draft_report(
        checklist=checklist, runs=runs, provenance=provenance.result(),
        operator=request.operator, started=started, finished=datetime.now(UTC),
        trigger=request.trigger, interrupted=signum is not None,
    )  # fmt: skip
    try:
        written = EvidenceStore.for_project(request.root, request.config.evidence).write(draft)
    except EvidenceError as exc:
        return CheckRun(runs, None, len(hosts), signum, exc)
    return CheckRun(runs, written, len(hosts), signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGHUP, SIGINT and SIGTERM into ``Interrupt`` in the main thread while running.

    Runs catch it while hosts work and still write their report; a signal arriving
    outside that (e.g. while the report is written) ends the command with 129/130/143.
    """

    def handler(signum: int, frame: object) -> None:
        raise Interrupt(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    except Interrupt as stop:
        sys.stderr.write(f"butler-maint: interrupted by signal {stop.signum}\n")
        raise SystemExit(128 + stop.signum) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

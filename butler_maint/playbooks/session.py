"""Running one playbook: ``run_play`` (recording it is the run core's, ``runs.play``).

In order: the plan (hosts, host-key policy, arguments, secrets: ``plan.py``), a
private run directory (0700, removed at the end), ansible-runner, stray processes
stopped, then the step: ansible's per-host recap and a result per task and host. A
cancelled run is recorded as ``interrupted``.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from butler_maint.evidence import HostStats, PlaybookStep, Result
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.playbooks.artifacts import EventSink, finish_keep_dir, remove_tree
from butler_maint.playbooks.connection import end_remote_tasks
from butler_maint.playbooks.events import PlayLog, Update
from butler_maint.playbooks.plan import Invocation, Plan, invocation
from butler_maint.playbooks.runner import RunnerExit, run_playbook, stop_strays

BAD_INPUT_RC = frozenset({4, 5})  # ansible-playbook: parser error, bad or incomplete options


@dataclass(frozen=True)
class PlayRequest:
    """What to run, where, how, and as whom."""

    root: Path
    config: ProjectConfig
    playbook: Path
    inventory: Inventory
    limit: str | None = None
    check: bool = False
    diff: bool = False
    extra_vars: tuple[str, ...] = ()
    vault_password_file: Path | None = None
    vault_ids: tuple[str, ...] = ()
    forks: int | None = None
    serial: int | str | None = None
    max_fail_percentage: float | None = None
    accept_new_host_keys: bool = False
    cwd: Path = field(default_factory=Path.cwd)  # where relative ``-e @file`` paths start


@dataclass(frozen=True)
class PlayRun:
    """A finished (or interrupted) run, not yet recorded."""

    step: PlaybookStep
    started: datetime
    finished: datetime
    hosts: int
    rc: int | None
    status: str  # ansible-runner's: successful, failed, canceled, timeout
    interrupted_by: int | None = None
    error: str | None = None
    bad_input: bool = False  # ansible-playbook rejected the playbook or its options
    warnings: tuple[str, ...] = ()

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts with failed tasks or unreachable, per ansible's recap."""
        return [h for h, s in self.step.hosts.items() if s.failed or s.unreachable]


class Cancel(Protocol):
    """Asked to stop? (ansible-runner's ``cancel_callback``), and by which signal."""

    signum: int | None

    def __call__(self) -> bool: ...


def run_play(
    request: PlayRequest,
    plan: Plan,
    keep: Path,
    cancel: Cancel,
    *,
    on_update: Callable[[Update], None] | None = None,
) -> PlayRun:
    """Run the planned playbook; its masked artifacts go to ``keep`` (a new directory, 0700)."""
    log = PlayLog(clean=plan.redactor.text)
    sink = EventSink(keep, plan.redactor)
    handler = _Handler(log, sink, on_update)
    run_dir = Path(tempfile.mkdtemp(prefix="butler-play-"))
    started = datetime.now(UTC)
    try:
        how = invocation(request, plan, run_dir, secrets.token_hex(8))
        ended = _execute(how, request, plan, run_dir, handler, cancel)
    finally:
        sink.close()
        remove_tree(run_dir)
    finished = datetime.now(UTC)
    stats, results = log.finish()
    error, bad_input = _error(ended, log, sink, handler, cancel)
    return PlayRun(
        step=_step(request, stats, results, ended), started=started, finished=finished,
        hosts=len(plan.hosts), rc=ended.rc, status=ended.status,
        interrupted_by=cancel.signum, error=error, bad_input=bad_input,
        warnings=(*plan.warnings, *how.warnings),
    )  # fmt: skip


def _execute(  # noqa: PLR0917 - one call site
    how: Invocation,
    request: PlayRequest,
    plan: Plan,
    run_dir: Path,
    handler: _Handler,
    cancel: Cancel,
) -> RunnerExit:
    """Run, then stop what the run left (here, and on the hosts when it was cancelled) and
    remove the playbook's copy, whatever happened."""
    try:
        ended = run_playbook(how.spec, run_dir / "runner", handler, cancel)
        finish_keep_dir(handler.sink.directory, ended.artifacts)
        return ended
    finally:
        stop_strays(how.marker, [how.control_dir])
        if cancel():
            options = ssh_options(request.config.ssh, request.root, accept_new=False)
            end_remote_tasks(plan.hosts, how.marker, options)
        if how.spec.playbook != request.playbook.absolute():
            how.spec.playbook.unlink(missing_ok=True)
        if how.control_dir.parent != run_dir:
            remove_tree(how.control_dir)


class _Handler:
    """ansible-runner's event_handler: fold, keep (masked), tell the view; never raise."""

    def __init__(
        self, log: PlayLog, sink: EventSink, on_update: Callable[[Update], None] | None
    ) -> None:
        self.log, self.sink, self.on_update = log, sink, on_update
        self.failure: str | None = None

    def __call__(self, event: dict[str, Any]) -> bool:
        try:
            update = self.log.feed(event)
            self.sink.write(event)
            if update is not None and self.on_update is not None:
                self.on_update(update)
        except Exception as ex:  # an exception here would abandon ansible-playbook mid-run
            self.failure = self.failure or f"recording an event failed: {type(ex).__name__}: {ex}"
        return False  # the sink keeps events; no per-event files from the runner


def _error(
    ended: RunnerExit, log: PlayLog, sink: EventSink, handler: _Handler, cancel: Cancel
) -> tuple[str | None, bool]:
    """Why the run did not complete (None when it did), and whether that was bad input."""
    if handler.failure:
        return handler.failure, False
    if log.stats is not None or cancel.signum is not None:
        return None, False
    tail = sink.tail() or "no output"
    bad = ended.rc in BAD_INPUT_RC and log.tasks == 0
    return f"ansible-playbook ended ({ended.status}, rc {ended.rc}) without a recap: {tail}", bad


def _step(
    request: PlayRequest, stats: dict[str, HostStats], results: list[Result], ended: RunnerExit
) -> PlaybookStep:
    """The report step; run settings are recorded where the model has fields for them."""
    data: dict[str, Any] = {
        "playbook": _relative(request.root, request.playbook),
        "hosts": stats,
        "results": results,
    }
    optional = {
        "rc": ended.rc,
        "status": ended.status,
        "check_mode": request.check,
        "limit": request.limit,
        "serial": request.serial,
        "max_fail_percentage": request.max_fail_percentage,
    }
    data.update({k: v for k, v in optional.items() if k in PlaybookStep.model_fields})
    return PlaybookStep.model_validate(data)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

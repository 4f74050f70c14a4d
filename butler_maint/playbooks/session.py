"""Running one playbook and recording it: ``run_play`` and ``play_and_record``.

The `play` command comes through ``play_and_record``; a maintenance window can call
``run_play`` to get the step and the masked artifacts, and put them in its own report.
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
from typing import Any

from butler_maint.evidence import (
    Content,
    EvidenceStore,
    HostStats,
    Kind,
    PlaybookStep,
    ReportDraft,
    Result,
    Trigger,
    WrittenReport,
)
from butler_maint.evidence import Inventory as InventoryRecord
from butler_maint.evidence.provenance import (
    content_provenance,
    inventory_provenance,
    tool_versions,
)
from butler_maint.inventory import Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.playbooks.artifacts import KEEP_DIR, EventSink, finish_keep_dir, remove_tree
from butler_maint.playbooks.events import PlayLog, Update
from butler_maint.playbooks.plan import Invocation, invocation, make_plan
from butler_maint.playbooks.runner import Cancel, RunnerExit, run_playbook, stop_strays

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
    forks: int | None = None
    serial: int | str | None = None
    max_fail_percentage: float | None = None
    operator: str = ""
    accept_new_host_keys: bool = False
    trigger: Trigger | None = None
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
    content: Content
    inventory: InventoryRecord
    interrupted_by: int | None = None
    error: str | None = None
    bad_input: bool = False  # ansible-playbook rejected the playbook or its options
    warnings: tuple[str, ...] = ()

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts with failed tasks or unreachable, per ansible's recap."""
        return [h for h, s in self.step.hosts.items() if s.failed or s.unreachable]


@dataclass(frozen=True)
class PlayOutcome:
    """A recorded run."""

    run: PlayRun
    written: WrittenReport

    @property
    def step(self) -> PlaybookStep:
        """The recorded step (``run.step``)."""
        return self.run.step

    @property
    def interrupted_by(self) -> int | None:
        """The signal that interrupted the run, if one did (``run.interrupted_by``)."""
        return self.run.interrupted_by


def play_and_record(
    request: PlayRequest,
    *,
    cancel: Cancel | None = None,
    on_update: Callable[[Update], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PlayOutcome:
    """Run the playbook and write one evidence report with its artifacts, also when cancelled."""
    with tempfile.TemporaryDirectory(prefix="butler-keep-") as tmp:
        keep = Path(tmp) / KEEP_DIR
        run = run_play(request, keep, cancel=cancel, on_update=on_update, on_start=on_start)
        store = EvidenceStore.for_project(request.root, request.config.evidence)
        written = store.write(draft_report(request, run), attach=[keep])
    return PlayOutcome(run, written)


def draft_report(request: PlayRequest, run: PlayRun) -> ReportDraft:
    """The report draft of one playbook run."""
    return ReportDraft(
        kind=Kind.PLAYBOOK, name=request.playbook.stem, trigger=request.trigger or Trigger(),
        operator=request.operator, started=run.started, finished=run.finished,
        dry_run=request.check, interrupted=run.interrupted_by is not None, error=run.error,
        tools=tool_versions(), content=run.content, inventory=run.inventory, steps=[run.step],
    )  # fmt: skip


def run_play(
    request: PlayRequest,
    keep: Path,
    *,
    cancel: Cancel | None = None,
    on_update: Callable[[Update], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PlayRun:
    """Run the playbook; its masked artifacts go to ``keep`` (a new directory, 0700)."""
    plan = make_plan(request)
    if on_start:
        on_start(len(plan.hosts))
    files = [request.playbook, *plan.var_files, *request.inventory.files()]
    content = content_provenance(request.root, files, exclude=[request.config.evidence.dir])
    record = inventory_provenance(request.root, request.inventory.sources, len(plan.hosts))
    log = PlayLog(clean=plan.redactor.text)
    sink = EventSink(keep, plan.redactor)
    handler = _Handler(log, sink, on_update)
    cancel = cancel or Cancel()
    run_dir = Path(tempfile.mkdtemp(prefix="butler-play-"))
    started = datetime.now(UTC)
    try:
        how = invocation(request, plan, run_dir, secrets.token_hex(8))
        ended = _execute(how, request, run_dir, handler, cancel)
    finally:
        sink.close()
        remove_tree(run_dir)
    finished = datetime.now(UTC)
    stats, results = log.finish()
    error, bad_input = _error(ended, log, sink, handler, cancel)
    return PlayRun(
        step=_step(request, stats, results, ended), started=started, finished=finished,
        hosts=len(plan.hosts), rc=ended.rc, status=ended.status, content=content,
        inventory=record, interrupted_by=cancel.signum, error=error, bad_input=bad_input,
        warnings=(*plan.warnings, *how.warnings),
    )  # fmt: skip


def _execute(
    how: Invocation, request: PlayRequest, run_dir: Path, handler: _Handler, cancel: Cancel
) -> RunnerExit:
    """Run, then stop what the run left and remove the batched copy, whatever happened."""
    try:
        ended = run_playbook(how.spec, run_dir / "runner", handler, cancel)
        finish_keep_dir(handler.sink.directory, ended.artifacts)
        return ended
    finally:
        stop_strays(how.marker, [how.control_dir])
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

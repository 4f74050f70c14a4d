"""Running one playbook as a whole and recording it: ``play_and_record``.

The `play` command and maintenance windows come through here. In order: hosts of the
playbook's plays (the inventory's, with ``--limit``), refusals and warnings about the
host-key policy, the run's secrets, a private run directory (0700, removed at the end),
ansible-runner, then one evidence report with the per-host recap, a result per task and
host, and the masked artifacts attached. A cancelled run is recorded as ``interrupted``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from butler_maint.checks.redact import Redactor
from butler_maint.checks.session import ssh_options
from butler_maint.errors import CannotRunError, InventoryError
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
from butler_maint.evidence.provenance import (
    content_provenance,
    inventory_provenance,
    tool_versions,
)
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.config import ProjectConfig
from butler_maint.playbooks import connection, plays
from butler_maint.playbooks.artifacts import KEEP_DIR, EventSink, finish_keep_dir, remove_tree
from butler_maint.playbooks.events import PlayLog, Update
from butler_maint.playbooks.extravars import extra_vars_args
from butler_maint.playbooks.runner import (
    MARKER_VAR,
    Cancel,
    RunnerExit,
    RunSpec,
    ansible_bin_dir,
    run_playbook,
    stop_strays,
)
from butler_maint.playbooks.secrets import run_redactor

BAD_INPUT_RC = frozenset({4, 5})  # ansible-playbook: parser error, bad or incomplete options
_SOCKET_DIR_MAX = 70  # room for "/<10-char hash>" within the 108-byte unix socket limit


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
class PlayOutcome:
    """A recorded playbook run."""

    step: PlaybookStep
    written: WrittenReport
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


@dataclass(frozen=True)
class _Prepared:
    hosts: list[HostInfo]
    plays: list[Any]
    args: list[str]
    var_files: list[Path]
    redactor: Redactor
    warnings: list[str]


def play_and_record(
    request: PlayRequest,
    *,
    cancel: Cancel | None = None,
    on_update: Callable[[Update], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> PlayOutcome:
    """Run the playbook and write one evidence report, also when cancelled."""
    prepared = _prepare(request)
    if on_start:
        on_start(len(prepared.hosts))
    cancel = cancel or Cancel()
    files = [request.playbook, *prepared.var_files, *request.inventory.files()]
    content = content_provenance(request.root, files, exclude=[request.config.evidence.dir])
    run_dir = Path(tempfile.mkdtemp(prefix="butler-play-"))
    try:
        return _run(request, prepared, run_dir, cancel=cancel, on_update=on_update, content=content)
    finally:
        remove_tree(run_dir)


def _prepare(request: PlayRequest) -> _Prepared:
    """Everything checked before anything runs: hosts, policy, extra vars, secrets."""
    plays_ = plays.load_plays(request.playbook)
    hosts = select_hosts(request.inventory, plays.host_patterns(plays_), request.limit)
    if problems := connection.refusals(hosts):
        raise InventoryError("; ".join(problems))
    args, var_files = extra_vars_args(request.extra_vars, request.cwd)
    warnings = connection.host_warnings(hosts)
    if (request.serial is not None or request.max_fail_percentage is not None) and plays.imports(
        plays_
    ):
        warnings.append("plays pulled in by import_playbook keep their own serial settings")
    trees = [request.playbook.parent, request.root / "roles"]
    redactor = run_redactor(request.inventory, trees, request.vault_password_file)
    return _Prepared(hosts, plays_, args, var_files, redactor, warnings)


def select_hosts(
    inventory: Inventory, patterns: Sequence[str], limit: str | None
) -> list[HostInfo]:
    """Hosts of every play's pattern (each matched on its own), in inventory order."""
    chosen: dict[str, HostInfo] = {}
    failure: InventoryError | None = None
    for pattern in patterns:
        try:
            chosen.update((h.name, h) for h in inventory.select(pattern, limit))
        except InventoryError as ex:
            failure = ex
    if not chosen:
        raise failure or InventoryError("the playbook has no plays")
    return list(chosen.values())


def _run(
    request: PlayRequest,
    prepared: _Prepared,
    run_dir: Path,
    *,
    cancel: Cancel,
    on_update: Callable[[Update], None] | None,
    content: Content,
) -> PlayOutcome:
    control_dir = _control_dir(run_dir)
    user = connection.read_user_settings(request.root, os.environ)
    options = ssh_options(request.config.ssh, request.root, request.accept_new_host_keys)
    conn = connection.connection_env(options, user, run_dir, control_dir)
    warnings = [*prepared.warnings, *conn.warnings]
    marker = secrets.token_hex(8)
    playbook = _playbook_to_run(request, prepared.plays)
    spec = RunSpec(
        playbook=playbook,
        inventories=tuple(p.absolute() for p in request.inventory.sources),
        cwd=request.root,
        args=tuple(_args(request, prepared.args)),
        env={**conn.env, MARKER_VAR: marker, **_path_env()},
        forks=request.forks or request.config.forks,
        limit=request.limit,
    )
    log = PlayLog(clean=prepared.redactor.text)
    sink = EventSink(run_dir / KEEP_DIR, prepared.redactor)
    handler = _Handler(log, sink, on_update)
    started = datetime.now(UTC)
    try:
        ended = run_playbook(spec, run_dir / "runner", handler, cancel)
    finally:
        sink.close()
        stop_strays(marker, [control_dir])
        if playbook != request.playbook:
            playbook.unlink(missing_ok=True)
        if control_dir.parent != run_dir:
            remove_tree(control_dir)
    finished = datetime.now(UTC)
    finish_keep_dir(run_dir / KEEP_DIR, ended.artifacts)
    stats, results = log.finish()
    error, bad_input = _error(ended, log, sink, handler, cancel)
    step = _step(request, stats, results, ended)
    draft = ReportDraft(
        kind=Kind.PLAYBOOK, name=request.playbook.stem, trigger=request.trigger or Trigger(),
        operator=request.operator, started=started, finished=finished, dry_run=request.check,
        interrupted=cancel.signum is not None, error=error, tools=tool_versions(),
        content=content, host_keys={},
        inventory=inventory_provenance(
            request.root, request.inventory.sources, len(prepared.hosts)
        ),
        steps=[step],
    )  # fmt: skip
    store = EvidenceStore.for_project(request.root, request.config.evidence)
    written = store.write(draft, attach=[run_dir / KEEP_DIR])
    return PlayOutcome(
        step=step, written=written, hosts=len(prepared.hosts), rc=ended.rc,
        status=ended.status, interrupted_by=cancel.signum, error=error,
        bad_input=bad_input, warnings=tuple(warnings),
    )  # fmt: skip


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


def _control_dir(run_dir: Path) -> Path:
    """A directory for ssh control sockets, short enough for the unix socket path limit."""
    wanted = run_dir / "cp"
    if len(str(wanted)) > _SOCKET_DIR_MAX:
        return Path(tempfile.mkdtemp(prefix="bmcp-", dir="/tmp"))
    wanted.mkdir(mode=0o700)
    return wanted


def _path_env() -> dict[str, str]:
    """PATH with the ansible-playbook installed alongside butler-maint first."""
    here = ansible_bin_dir()
    path = os.environ.get("PATH", os.defpath)
    return {"PATH": f"{here}{os.pathsep}{path}"} if here else {}


def _playbook_to_run(request: PlayRequest, plays_: list[Any]) -> Path:
    """The playbook itself, or a copy with serial/max_fail_percentage set on every play."""
    if request.serial is None and request.max_fail_percentage is None:
        return request.playbook.absolute()
    batched = plays.batched(plays_, request.serial, request.max_fail_percentage)
    try:
        return plays.write_copy(request.playbook.absolute(), batched)
    except OSError as ex:
        raise CannotRunError(
            f"cannot write the batched copy of {request.playbook} next to it: {ex.strerror}"
        ) from None


def _args(request: PlayRequest, extra: list[str]) -> list[str]:
    args = list(extra)
    if request.check:
        args.append("--check")
    if request.diff:
        args.append("--diff")
    if request.vault_password_file is not None:
        args += ["--vault-password-file", str(request.vault_password_file.absolute())]
    return args


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
    """The report step; ``rc`` and ``status`` are recorded where the model has them."""
    data: dict[str, Any] = {
        "playbook": _relative(request.root, request.playbook),
        "hosts": stats,
        "results": results,
    }
    optional = {"rc": ended.rc, "status": ended.status, "check_mode": request.check}
    data.update({k: v for k, v in optional.items() if k in PlaybookStep.model_fields})
    return PlaybookStep.model_validate(data)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

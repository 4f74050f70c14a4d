"""Everything decided before ansible-playbook starts: hosts, policy, arguments, secrets.

A bad playbook, inventory, ``-e`` value or host-key setting stops the run here, as bad
input (exit 2), before anything ran and before any report is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from butler_maint.errors import CannotRunError, InventoryError
from butler_maint.executors.options import ssh_options
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.playbooks import connection, plays
from butler_maint.playbooks.extravars import extra_vars_args
from butler_maint.playbooks.runner import MARKER_VAR, RunSpec, ansible_bin_dir
from butler_maint.playbooks.secrets import run_redactor
from butler_maint.redact import Redactor

if TYPE_CHECKING:
    from butler_maint.playbooks.session import PlayRequest

_SOCKET_DIR_MAX = 70  # room for "/<10-char hash>" within the 108-byte unix socket limit


@dataclass(frozen=True)
class Plan:
    """A checked request: its hosts, arguments, secrets and warnings."""

    hosts: list[HostInfo]
    plays: list[Any]
    args: list[str]
    var_files: list[Path]
    redactor: Redactor
    warnings: list[str]


def make_plan(request: PlayRequest) -> Plan:
    """Check the request; raise ContentError/InventoryError (exit 2) on bad input."""
    entries = plays.load_plays(request.playbook)
    hosts = select_hosts(request.inventory, plays.host_patterns(entries), request.limit)
    if problems := connection.refusals(hosts):
        raise InventoryError("; ".join(problems))
    extra, var_files = extra_vars_args(request.extra_vars, request.cwd)
    warnings = connection.host_warnings(hosts)
    batched = request.serial is not None or request.max_fail_percentage is not None
    if batched and plays.imports(entries):
        warnings.append("plays pulled in by import_playbook keep their own serial settings")
    trees = [request.playbook.parent, request.root / "roles"]
    evidence = request.root / request.config.evidence.dir
    redactor = run_redactor(
        request.inventory, trees, request.vault_password_file, [evidence], request.vault_ids
    )
    return Plan(hosts, entries, _args(request, extra), var_files, redactor, warnings)


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


def _args(request: PlayRequest, extra: list[str]) -> list[str]:
    args = list(extra)
    if request.check:
        args.append("--check")
    if request.diff:
        args.append("--diff")
    if request.vault_password_file is not None:
        args += ["--vault-password-file", str(request.vault_password_file.absolute())]
    for vault_id in request.vault_ids:
        args += ["--vault-id", vault_id]
    return args


@dataclass(frozen=True)
class Invocation:
    """The runner's spec and what to clean up after it."""

    spec: RunSpec
    control_dir: Path
    warnings: tuple[str, ...]
    marker: str


def invocation(request: PlayRequest, plan: Plan, run_dir: Path, marker: str) -> Invocation:
    """The ansible-playbook invocation of a plan, its temp files under ``run_dir``."""
    control_dir = _control_dir(run_dir)
    user = connection.read_user_settings(request.root, os.environ)
    options = ssh_options(request.config.ssh, request.root, request.accept_new_host_keys)
    conn = connection.connection_env(options, user, run_dir, control_dir)
    playbook, warnings = _playbook_to_run(request, plan.plays, marker)
    spec = RunSpec(
        playbook=playbook,
        inventories=tuple(p.absolute() for p in request.inventory.sources),
        cwd=request.root,
        args=tuple(plan.args),
        env={**conn.env, MARKER_VAR: marker, **_path_env()},
        forks=request.forks or request.config.forks,
        limit=request.limit,
    )
    return Invocation(spec, control_dir, (*conn.warnings, *warnings), marker)


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


def _playbook_to_run(
    request: PlayRequest, entries: list[Any], marker: str
) -> tuple[Path, tuple[str, ...]]:
    """A hidden copy of the playbook whose plays tag their processes on the hosts with
    the run's marker (so a cancelled run's tasks can be ended there), with
    serial/max_fail_percentage set on every play when asked for."""
    copy = plays.tagged(entries, connection.play_environment(marker))
    batched = request.serial is not None or request.max_fail_percentage is not None
    if batched:
        copy = plays.batched(copy, request.serial, request.max_fail_percentage)
    try:
        return plays.write_copy(request.playbook.absolute(), copy), ()
    except OSError as ex:
        if batched:
            raise CannotRunError(
                f"cannot write the batched copy of {request.playbook} next to it: {ex.strerror}"
            ) from None
        return request.playbook.absolute(), (
            f"cannot write a copy of {request.playbook} next to it ({ex.strerror}): "
            "tasks still running on the hosts when the run is stopped are not ended there",
        )

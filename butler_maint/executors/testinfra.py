"""Run a testinfra module against one host through pytest-testinfra.

testinfra's paramiko backend never verifies host keys, so we use its ``ssh`` backend
with an ssh_config we write: the same address, port, user, key and known_hosts files
as our own SSH checks, ``StrictHostKeyChecking yes`` (``accept-new`` only with
``--accept-new-host-keys``), no agent forwarding, and a ControlMaster so the module's
commands share one connection. The JUnit XML pytest writes is returned as it is;
``checks.testinfra`` judges it (each test function becomes a sub-result).

Molecule's test modules run unchanged: ``MOLECULE_INVENTORY_FILE`` names the run's own
inventory, and the directory of this Python (the virtualenv's ``bin``) comes first on
``PATH``, so a module-level ``AnsibleRunner(...).get_hosts(...)`` finds
``ansible-inventory`` even when butler-maint runs as ``.venv/bin/butler-maint`` without
an activated virtualenv. The host is always the one butler-maint selected (``--hosts``
wins over a module's ``testinfra_hosts``); the run says so when the module sets one.
"""

from __future__ import annotations

import ast
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from butler_maint.executors.ssh import SshOptions
from butler_maint.inventory import HostInfo

_ALIAS = "butler-target"
_POLL_S = 0.05  # how often a running module looks at its stop and deadline


@dataclass(frozen=True)
class ModuleRun:
    """What running a testinfra module gave: pytest's JUnit XML and exit status, or the
    reason there is none (judged in ``checks.testinfra``)."""

    junit: str | None = None
    rc: int | None = None
    problem: str = ""
    host_id: str = ""  # testinfra's id of the host inside test ids (``ssh://butler-target``)
    note: str = ""  # e.g. that the module's own ``testinfra_hosts`` was not used


class UnsafeConfigValue(ValueError):
    """A value that cannot be written into an ssh_config safely."""


# Options whose value ssh expands %-tokens in (``%%`` is a literal ``%``).
_TOKENS = frozenset(
    {"HostName", "IdentityFile", "UserKnownHostsFile", "GlobalKnownHostsFile", "ControlPath"}
)


def config_value(option: str, value: str) -> str:
    """``value`` as one double-quoted ssh_config argument of ``option``.

    An inventory value must never become an ssh_config line of its own (a newline and
    ``ProxyCommand ...`` runs a command here) nor several arguments. Refused: control
    characters, double quotes and backslashes (no quoting that every OpenSSH reads the
    same), ``${`` (environment expansion) and, where ssh would not read ``%%`` back as
    ``%``, a ``%``. Raises :class:`UnsafeConfigValue`."""
    return f'"{_escaped(option, value)}"'


def _escaped(option: str, value: str) -> str:
    problem = _unquotable(option, value)
    if problem:
        raise UnsafeConfigValue(f"cannot write {option} {value!r} into an ssh_config: {problem}")
    return value.replace("%", "%%") if option in _TOKENS else value


def _unquotable(option: str, value: str) -> str:
    if not value:
        return "it is empty"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "it contains control characters (a newline would start a new option)"
    for text, why in (('"', "a double quote"), ("\\", "a backslash"), ("${", "'${'")):
        if text in value:
            return f"it contains {why}"
    if "%" in value and option not in _TOKENS:
        return "it contains '%'"
    return ""


def ssh_config(host: HostInfo, options: SshOptions, control_dir: Path) -> str:
    """An ssh_config reaching ``host`` with our host-key policy; every value quoted.

    The fixed options come first: ssh keeps the first value it reads for an option, so
    nothing after them could change them. Raises :class:`UnsafeConfigValue` for a value
    that cannot be quoted safely."""
    known = [options.project_known_hosts, *(p.expanduser() for p in options.trusted_known_hosts)]
    user_files = [str(p) for p in known if "ssh_known_hosts" not in p.name]
    global_files = [str(p) for p in known if "ssh_known_hosts" in p.name] or ["/dev/null"]

    def files(option: str, paths: list[str]) -> str:
        return " ".join(config_value(option, path) for path in paths)

    lines = [
        f"Host {_ALIAS}",
        "  ProxyCommand none",
        "  ProxyJump none",
        "  PermitLocalCommand no",
        f"  UserKnownHostsFile {files('UserKnownHostsFile', user_files)}",
        f"  GlobalKnownHostsFile {files('GlobalKnownHostsFile', global_files)}",
        f"  StrictHostKeyChecking {'accept-new' if options.accept_new else 'yes'}",
        "  BatchMode yes",
        "  ForwardAgent no",
        "  ForwardX11 no",
        f"  ConnectTimeout {int(options.connect_timeout)}",
        f"  ServerAliveInterval {int(options.keepalive) or 15}",
        "  ControlMaster auto",
        f'  ControlPath "{_escaped("ControlPath", str(control_dir))}/%C"',
        "  ControlPersist 30s",
        f"  HostName {config_value('HostName', host.address)}",
        f"  Port {int(host.port)}",
    ]
    if host.user:
        lines.append(f"  User {config_value('User', host.user)}")
    if host.private_key_file:
        key = config_value("IdentityFile", host.private_key_file)
        lines += [f"  IdentityFile {key}", "  IdentitiesOnly yes"]
    return "\n".join(lines) + "\n"


def sets_testinfra_hosts(module: Path) -> bool:
    """Whether ``module`` assigns ``testinfra_hosts`` at its top level (read, not run)."""
    try:
        tree = ast.parse(module.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return False  # pytest reports the module itself
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "testinfra_hosts" for t in targets):
            return True
    return False


def module_environment(inventory: Path | None, vault: Path | None = None) -> dict[str, str]:
    """pytest's environment: ours, this Python's ``bin`` first on PATH,
    ``MOLECULE_INVENTORY_FILE`` naming the run's inventory (when it has one) and
    ``ANSIBLE_VAULT_PASSWORD_FILE`` the run's vault password file (a path, never the
    password), so ``ansible-inventory`` reads vault-encrypted group_vars as the run did."""
    env = dict(os.environ)
    here = str(Path(sys.executable).parent)  # the venv's bin: not resolved past its link
    env["PATH"] = os.pathsep.join([here, env.get("PATH") or os.defpath])
    if inventory is not None:
        env["MOLECULE_INVENTORY_FILE"] = str(inventory.absolute())
    if vault is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault.absolute())
    return env


def run_testinfra(
    host: HostInfo,
    module: Path,
    options: SshOptions,
    *,
    stop: threading.Event | None = None,
    inventory: Path | None = None,
    vault: Path | None = None,
) -> ModuleRun:
    """Run ``module`` against ``host`` with pytest; its JUnit XML, or why there is none.

    pytest runs in a session of its own, killed whole at ``command_timeout`` or once
    ``stop`` is set (the problem then starts with "stopped"). ``inventory`` is the run's
    inventory, given to the module as ``MOLECULE_INVENTORY_FILE``, ``vault`` its vault
    password file."""
    if not module.is_file():
        return ModuleRun(problem=f"testinfra module {module} does not exist")
    host_id = "local" if host.connection == "local" else f"ssh://{_ALIAS}"
    note = ""
    if sets_testinfra_hosts(module):
        note = f"the module's testinfra_hosts is not used: run on {host.name}, as selected"
    with tempfile.TemporaryDirectory(prefix="butler-testinfra-") as tmp:
        work = Path(tmp)
        (work / "pytest.ini").write_text("[pytest]\n")
        (work / "ssh_config").write_text("")  # local hosts: ssh is not used
        target = "local://" if host.connection == "local" else f"ssh://{_ALIAS}"
        if host.connection != "local":
            try:
                (work / "ssh_config").write_text(ssh_config(host, options, work))
            except UnsafeConfigValue as exc:
                return ModuleRun(problem=str(exc))
            refused = _preflight(work / "ssh_config", options.connect_timeout + 5)
            if refused:
                return ModuleRun(problem=refused)
        command = [
            sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider",
            "-c", str(work / "pytest.ini"), "--rootdir", str(module.parent),
            f"--hosts={target}", f"--ssh-config={work / 'ssh_config'}",
            f"--junitxml={work / 'junit.xml'}",
        ]  # fmt: skip
        if host.become:
            command.append("--sudo")
        env = module_environment(inventory, vault)
        try:
            rc = _pytest(command, work / "pytest.out", options.command_timeout, stop, env)
        finally:
            subprocess.run(
                ["ssh", "-F", str(work / "ssh_config"), "-O", "exit", _ALIAS],
                capture_output=True, timeout=10, check=False,
            )  # fmt: skip
        if rc == "stopped":
            return ModuleRun(problem="stopped: the testinfra run was killed")
        if rc == "timeout":
            limit = f"{options.command_timeout:g}"
            return ModuleRun(problem=f"testinfra run exceeded {limit} s")
        report = work / "junit.xml"
        if not report.exists():
            tail = _tail(work / "pytest.out").strip().splitlines()[-1:] or ["no output"]
            return ModuleRun(problem=f"pytest did not run: {tail[0][:300]}")
        return ModuleRun(report.read_text(), rc, host_id=host_id, note=note)


def _pytest(
    command: list[str],
    output: Path,
    timeout: float,
    stop: threading.Event | None,
    env: dict[str, str],
) -> int | Literal["stopped", "timeout"]:
    """Run pytest with its output in a file; its exit status, or why it was killed."""
    with output.open("wb") as out:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            env=env,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            return proc.wait(timeout=min(_POLL_S, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            stopped = stop is not None and stop.is_set()
            if stopped or time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return "stopped" if stopped else "timeout"


def _tail(path: Path, size: int = 4096) -> str:
    """The last ``size`` bytes of a file, as text."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def _preflight(config: Path, timeout: float) -> str | None:
    """Open the shared connection first: a refused host key or login is an error, not
    a failing test. Returns the reason when the host cannot be used."""
    try:
        done = subprocess.run(
            ["ssh", "-F", str(config), _ALIAS, "true"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"ssh to the host did not answer within {timeout:g} s"
    if done.returncode == 0:
        return None
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()] or ["no output"]
    return f"ssh for testinfra failed (exit {done.returncode}): {' / '.join(lines[-2:])[:300]}"

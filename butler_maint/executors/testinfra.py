"""Run a testinfra module against one host through pytest-testinfra.

testinfra's paramiko backend never verifies host keys, so we use its ``ssh`` backend
with an ssh_config we write from the host's route (``executors/route.py``, as our own
SSH checks follow it): the same jump hosts (one ``Host`` block each, chained with
``ProxyJump``) or ProxyCommand, addresses, ports, users, keys and known_hosts files,
``StrictHostKeyChecking yes`` on every hop (``accept-new`` only with
``--accept-new-host-keys``), no agent forwarding, and a ControlMaster so the module's
commands share one connection. Become is testinfra's ``--sudo``/``--sudo-user``; what
that cannot do (another method, a password, flags) is an error naming the variable.
The JUnit XML pytest writes is returned as it is; ``checks.testinfra`` judges it (each
test function becomes a sub-result).

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
import getpass
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from butler_maint.errors import ButlerError
from butler_maint.executors import Become
from butler_maint.executors.route import Hop, Route, direct_route
from butler_maint.executors.ssh import SshOptions
from butler_maint.executors.sshpolicy import host_key_settings, policy_config_text
from butler_maint.inventory import HostInfo

_ALIAS = "butler-target"
_HOST_KEY = re.compile(r"host key|offending|known_hosts", re.IGNORECASE)
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


def ssh_config(
    host: HostInfo, options: SshOptions, control_dir: Path, route: Route | None = None
) -> str:
    """An ssh_config reaching ``host`` along its ``route`` with our host-key policy.

    The target is ``Host butler-target``; each jump host of the route gets a block of its
    own (``butler-hop-0`` is the first), and each block names the one before it as its
    ``ProxyJump`` (the first: ``ProxyJump none``, or the route's ProxyCommand), so every
    hop keeps its own address, port, user, keys and known_hosts files. Every block sets
    the host-key options first; the file ends with the project's policy for any other
    host and the user's ssh_config files included (:func:`policy_config_text`), which
    cannot change what the blocks set (ssh keeps the first value it reads). Every value
    is quoted. Raises :class:`UnsafeConfigValue` for a value that cannot be quoted safely
    (``ButlerError`` for a known_hosts path of the configuration)."""
    chosen = route if route is not None else direct_route(host)
    blocks: list[str] = []
    for index, hop in enumerate(chosen.hops):
        last = index == len(chosen.hops) - 1
        alias = _ALIAS if last else f"{_HOP}{index}"
        lines = [f"Host {alias}", *_host_keys(hop, options)]
        if index == 0 and chosen.proxy_command is not None:
            lines += [f"  ProxyCommand {_command(chosen.proxy_command)}", "  ProxyJump none"]
        else:
            previous = f"{_HOP}{index - 1}" if index else "none"
            lines += [f"  ProxyJump {previous}", "  ProxyCommand none"]
        lines += ["  PermitLocalCommand no", "  BatchMode yes", "  ForwardAgent no"]
        lines += ["  ForwardX11 no", f"  ConnectTimeout {int(options.connect_timeout)}"]
        if last:
            lines += [
                f"  ServerAliveInterval {int(options.keepalive) or 15}",
                "  ControlMaster auto",
                f'  ControlPath "{_escaped("ControlPath", str(control_dir))}/%C"',
                "  ControlPersist 30s",
            ]
        else:
            lines.append("  ControlMaster no")
        lines += _where(hop)
        blocks.append("\n".join(lines) + "\n")
    header = "Written by butler-maint for one testinfra run: the project's host-key policy."
    return "\n".join([*blocks, policy_config_text(options, header)])


_HOP = "butler-hop-"


def _host_keys(hop: Hop, options: SshOptions) -> list[str]:
    """The host-key options of one hop: the project's files, then the hop's own."""
    user_files, global_files, strict = host_key_settings(options)
    users = [str(p) for p in user_files] + list(hop.known_hosts)
    globals_ = [str(p) for p in global_files] or ["/dev/null"]

    def files(option: str, paths: list[str]) -> str:
        return " ".join(config_value(option, path) for path in paths)

    lines = [
        f"  UserKnownHostsFile {files('UserKnownHostsFile', users)}",
        f"  GlobalKnownHostsFile {files('GlobalKnownHostsFile', globals_)}",
        f"  StrictHostKeyChecking {'yes' if hop.strict else strict}",
    ]
    if hop.key_alias:
        lines.append(f"  HostKeyAlias {config_value('HostKeyAlias', hop.key_alias)}")
    return lines


def _where(hop: Hop) -> list[str]:
    """Address, port, user and keys of one hop (the local user when it names none)."""
    lines = [
        f"  HostName {config_value('HostName', hop.address)}",
        f"  Port {int(hop.port)}",
        f"  User {config_value('User', hop.user or getpass.getuser())}",
    ]
    lines += [f"  IdentityFile {config_value('IdentityFile', f)}" for f in hop.identity_files]
    if hop.identities_only:
        lines.append("  IdentitiesOnly yes")
    if not hop.agent:
        lines.append("  IdentityAgent none")
    if hop.family:
        lines.append(f"  AddressFamily {'inet' if hop.family == socket.AF_INET else 'inet6'}")
    return lines


def _command(command: str) -> str:
    """A ProxyCommand as ssh_config reads it: the rest of the line, taken as it is (no
    quotes: they would become part of the command), ``%`` escaped (the route expanded
    the tokens already); a control character would end the line, refused."""
    if not command.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in command):
        raise UnsafeConfigValue(
            f"cannot write ProxyCommand {command!r} into an ssh_config: it is empty or "
            "contains control characters"
        )
    return command.replace("%", "%%")


def become_args(host: HostInfo, become: Become | None) -> list[str]:
    """testinfra's ``--sudo``/``--sudo-user`` for ``become``; raises
    :class:`UnsupportedBecome` naming the host and the variable for what its backend
    cannot do (it runs ``sudo [-u USER] /bin/sh -c CMD`` without a terminal)."""
    if become is None:
        return []
    why = {
        f"ansible_become_method {become.method!r}": (
            "testinfra modules become another user with sudo only"
            if become.method != "sudo"
            else ""
        ),
        "ansible_become_password": (
            "testinfra runs sudo without a terminal and cannot give it a password; "
            "allow this user sudo without one (NOPASSWD), or use command checks"
            if become.password is not None
            else ""
        ),
        f"ansible_become_exe {become.exe!r}": (
            "testinfra always runs 'sudo'" if become.exe is not None else ""
        ),
        f"ansible_become_flags {become.flags!r}": (
            "testinfra cannot pass sudo flags" if become.flags is not None else ""
        ),
    }
    for var, problem in why.items():
        if problem:
            raise UnsupportedBecome(f"host {host.name}: {var}: {problem}")
    return ["--sudo", *([f"--sudo-user={become.user}"] if become.user else [])]


class UnsupportedBecome(ValueError):
    """A become setting testinfra's backend cannot follow."""


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
    route: Route | None = None,
) -> ModuleRun:
    """Run ``module`` against ``host`` with pytest; its JUnit XML, or why there is none.

    pytest runs in a session of its own, killed whole at ``command_timeout`` or once
    ``stop`` is set (the problem then starts with "stopped"). ``inventory`` is the run's
    inventory, given to the module as ``MOLECULE_INVENTORY_FILE``, ``vault`` its vault
    password file. ``route`` is the host's (``Routes``), planned here from the inventory
    values alone when not given: the module reaches the host through its jump hosts or
    ProxyCommand and as its become user (:func:`become_args`)."""
    if not module.is_file():
        return ModuleRun(problem=f"testinfra module {module} does not exist")
    try:
        chosen = route if route is not None else direct_route(host)
        sudo = become_args(host, chosen.become)
    except (ButlerError, UnsupportedBecome) as exc:
        return ModuleRun(problem=str(exc))
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
                (work / "ssh_config").write_text(ssh_config(host, options, work, chosen))
            except (UnsafeConfigValue, ButlerError) as exc:
                return ModuleRun(problem=str(exc))
            refused = _preflight(work / "ssh_config", options.connect_timeout + 5, chosen)
            if refused:
                return ModuleRun(problem=refused)
        command = [
            sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider",
            "-c", str(work / "pytest.ini"), "--rootdir", str(module.parent),
            f"--hosts={target}", f"--ssh-config={work / 'ssh_config'}",
            f"--junitxml={work / 'junit.xml'}",
        ]  # fmt: skip
        command += sudo
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


def _preflight(config: Path, timeout: float, route: Route) -> str | None:
    """Open the shared connection first: a refused host key or login is an error, not
    a failing test. Returns the reason when the host cannot be used (naming the jump
    hosts or ProxyCommand it went through).

    With ControlPersist, ssh sends its proxy's stderr to /dev/null, so when a route with
    a proxy fails, it is tried once more without connection sharing for the jump
    host's own words (a changed host key, a refused login)."""
    done = _ssh_true(config, timeout)
    if done is None:
        return f"ssh to the host did not answer within {timeout:g} s"
    if done.returncode == 0:
        return None
    via = ""
    if len(route.hops) > 1:
        via = f" through jump host {', '.join(hop.shown for hop in route.hops[:-1])}"
    elif route.proxy_command is not None:
        via = " through its ProxyCommand"
    if via:
        alone = _ssh_true(config, timeout, "-o", "ControlMaster=no", "-o", "ControlPersist=no")
        done = alone if alone is not None and alone.returncode != 0 else done
    lines = [ln.strip() for ln in done.stderr.strip().splitlines() if ln.strip()]
    # The hop's ssh says why first; the last line is the target's ssh seeing it close.
    keys = [ln for ln in lines if _HOST_KEY.search(ln) and not ln.startswith("@")]
    said = " / ".join([*keys[-3:], *lines[-1:]] if keys else lines[-3:]) or "no output"
    return f"ssh for testinfra{via} failed (exit {done.returncode}): {said[:500]}"


def _ssh_true(
    config: Path, timeout: float, *options: str
) -> subprocess.CompletedProcess[str] | None:
    """``ssh -F config [options] butler-target true``; None when it timed out."""
    try:
        return subprocess.run(
            ["ssh", "-F", str(config), *options, _ALIAS, "true"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None

"""How ansible-playbook connects: the environment and ssh arguments given to the runner.

The SSH checks and playbooks share one host-key policy: Ansible's ``ssh`` connection
(OpenSSH, not paramiko, which reads only ``~/.ssh/known_hosts``) with the project
known_hosts first, ``StrictHostKeyChecking=yes`` (``accept-new`` with
``--accept-new-host-keys``) and host key checking on.

The user's own settings (``ansible.cfg`` found the way ansible finds it, and ``ANSIBLE_*``
environment variables) are respected, except where they would weaken host-key
checking; then they are overridden and a warning says so:

- ``host_key_checking = False`` (cfg, environment or inventory vars): checking stays on;
- ``ssh_args``: kept, after ours; OpenSSH takes the first value of an option, so their
  ``StrictHostKeyChecking``/``UserKnownHostsFile`` cannot override ours;
- ``transport = paramiko``: replaced by ``ssh``.
Hosts that set ``ansible_ssh_args`` (which would replace ours entirely) or use the
paramiko connection are refused: see :func:`refusals`.

Defaults applied only where the user set nothing: pipelining on, ``ControlMaster=auto``
with ``ControlPersist=60s``, control sockets in the run's own directory (so the masters
can be stopped when the run ends), ``ANSIBLE_TIMEOUT`` from ``ssh.connect_timeout``.
``ANSIBLE_HOME`` is left alone so the user's collections and roles are found;
ansible's local temp goes to the run directory.
"""

from __future__ import annotations

import configparser
import contextlib
import shlex
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from butler_maint.executors.ssh import SshOptions
from butler_maint.executors.sshpolicy import host_key_settings, policy_config_text, ssh_paths
from butler_maint.inventory import HostInfo
from butler_maint.playbooks.runner import MARKER_VAR

_TRUE = frozenset({"yes", "on", "1", "true", "y", "t"})
_FALSE = frozenset({"no", "off", "0", "false", "n", "f"})
HOST_KEY_OPTIONS = ("stricthostkeychecking", "userknownhostsfile", "globalknownhostsfile")
PERSIST = ("-o", "ControlMaster=auto", "-o", "ControlPersist=60s")
_PARAMIKO = frozenset({"paramiko", "paramiko_ssh", "ansible.builtin.paramiko_ssh"})


@dataclass(frozen=True)
class UserSettings:
    """What the user's ansible.cfg and environment say about connections."""

    cfg: Path | None = None
    host_key_checking: bool | None = None
    ssh_args: str | None = None
    transport: str | None = None
    pipelining: bool = False  # whether the user chose pipelining (either way)
    control_path: bool = False  # whether the user chose where control sockets live
    timeout: bool = False  # whether the user chose the connection timeout


def find_ansible_cfg(cwd: Path, environ: Mapping[str, str]) -> Path | None:
    """The ansible.cfg ansible would read, in its order: ANSIBLE_CONFIG, ./, ~/, /etc."""
    candidates: list[Path] = []
    if given := environ.get("ANSIBLE_CONFIG"):
        path = Path(given).expanduser()
        candidates.append(path / "ansible.cfg" if path.is_dir() else path)
    if not _world_writable(cwd):  # ansible ignores a cfg in a world-writable directory
        candidates.append(cwd / "ansible.cfg")
    candidates += [Path("~/.ansible.cfg").expanduser(), Path("/etc/ansible/ansible.cfg")]
    return next((p for p in candidates if p.is_file()), None)


def _world_writable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & stat.S_IWOTH)
    except OSError:
        return True


def read_user_settings(cwd: Path, environ: Mapping[str, str]) -> UserSettings:
    """The connection settings of the user's ansible.cfg, overridden by their environment."""
    cfg = find_ansible_cfg(cwd, environ)
    ini = _read_ini(cfg)

    def pick(env: tuple[str, ...], keys: tuple[tuple[str, str], ...]) -> str | None:
        found = [environ[name] for name in env if name in environ]
        found += [ini.get(section, key) for section, key in keys if ini.has_option(section, key)]
        return next((value for value in found if value is not None), None)

    checking = pick(
        ("ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"),
        (("defaults", "host_key_checking"), ("ssh_connection", "host_key_checking")),
    )
    pipelining = pick(
        ("ANSIBLE_PIPELINING", "ANSIBLE_SSH_PIPELINING"),
        (
            ("defaults", "pipelining"),
            ("connection", "pipelining"),
            ("ssh_connection", "pipelining"),
        ),
    )
    control = pick(
        ("ANSIBLE_SSH_CONTROL_PATH", "ANSIBLE_SSH_CONTROL_PATH_DIR"),
        (("ssh_connection", "control_path"), ("ssh_connection", "control_path_dir")),
    )
    return UserSettings(
        cfg=cfg,
        host_key_checking=None if checking is None else to_bool(checking),
        ssh_args=pick(("ANSIBLE_SSH_ARGS",), (("ssh_connection", "ssh_args"),)),
        transport=pick(("ANSIBLE_TRANSPORT",), (("defaults", "transport"),)),
        pipelining=pipelining is not None,
        control_path=control is not None,
        timeout=pick(("ANSIBLE_TIMEOUT",), (("defaults", "timeout"),)) is not None,
    )


def _read_ini(path: Path | None) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(
        strict=False, inline_comment_prefixes=(";",), allow_no_value=True
    )
    if path is not None:
        # An unreadable cfg is reported by ansible itself when it starts.
        with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
            parser.read(path, encoding="utf-8")
    return parser


def to_bool(value: object) -> bool | None:
    """A boolean read the way ansible reads one (None when it is not one)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


@dataclass(frozen=True)
class Connection:
    """Environment for the runner and the warnings about settings we overrode."""

    env: dict[str, str]
    warnings: tuple[str, ...]


def connection_env(
    options: SshOptions, user: UserSettings, run_dir: Path, control_dir: Path
) -> Connection:
    """The ``ANSIBLE_*`` environment of a run; ``run_dir`` holds temp files and sockets."""
    warnings: list[str] = []
    where = str(user.cfg) if user.cfg else "the environment"
    if user.host_key_checking is False:
        warnings.append(f"{where} disables host_key_checking: overridden, host keys are checked")
    if user.ssh_args and _mentions_host_keys(user.ssh_args):
        warnings.append(
            f"ssh_args in {where} set host-key options: ignored, the project known_hosts "
            "and StrictHostKeyChecking come first"
        )
    env = {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_HOST_KEY_CHECKING": "True",  # either name may be the one ansible reads
        "ANSIBLE_SSH_ARGS": ssh_args(options, user.ssh_args, _jump_config(options, run_dir)),
        "ANSIBLE_LOCAL_TEMP": str(run_dir / "tmp"),
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_FORCE_COLOR": "False",
        "LC_ALL": "C.UTF-8",
    }
    if user.transport is not None and user.transport.strip().lower() in _PARAMIKO:
        warnings.append(f"{where} sets transport = {user.transport}: using ssh (host keys)")
        env["ANSIBLE_TRANSPORT"] = "ssh"
    if not user.pipelining:
        env["ANSIBLE_PIPELINING"] = "True"
    if not user.control_path:
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir)
    if not user.timeout:
        env["ANSIBLE_TIMEOUT"] = str(max(1, round(options.connect_timeout)))
    return Connection(env, tuple(warnings))


def ssh_args(options: SshOptions, user_args: str | None, config: Path | None = None) -> str:
    """``ssh_args``: our host-key options first, then the user's (or ControlPersist);
    with ``config``, ``-F config`` first (see :func:`jump_config_text`)."""
    user_files, global_files, strict = host_key_settings(options)
    args = ["-F", str(config)] if config is not None else []
    args += [
        "-o", f"UserKnownHostsFile={ssh_paths(user_files)}",
        "-o", f"GlobalKnownHostsFile={ssh_paths(global_files) if global_files else '/dev/null'}",
        "-o", f"StrictHostKeyChecking={strict}",
    ]  # fmt: skip
    if options.keepalive:
        args += ["-o", f"ServerAliveInterval={max(1, round(options.keepalive))}"]
    theirs = shlex.split(user_args) if user_args else list(PERSIST)
    return shlex.join(args + theirs)


def jump_config_text(options: SshOptions) -> str:
    """The ssh_config given to ansible's ssh with ``-F``: OpenSSH passes ``-F`` (and not
    our ``-o`` options) to the ssh it starts for each ProxyJump hop, so the project's
    host-key policy is written here for every host, jump hosts included; then the
    ssh_config files checks read (``ssh.config_file``, else OpenSSH's own), included."""
    return policy_config_text(options, "Written by butler-maint for one playbook run.")


def _jump_config(options: SshOptions, run_dir: Path) -> Path:
    path = run_dir / "ssh_config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jump_config_text(options), encoding="utf-8")
    return path


def _mentions_host_keys(args: str) -> bool:
    text = args.lower()
    return any(option in text for option in HOST_KEY_OPTIONS)


def refusals(hosts: Iterable[HostInfo]) -> list[str]:
    """Why these hosts cannot run with the project's host-key policy (empty when they can)."""
    replaced = sorted(h.name for h in hosts if h.vars.get("ansible_ssh_args") is not None)
    paramiko = sorted(
        h.name for h in hosts if str(h.vars.get("ansible_connection") or "") in _PARAMIKO
    )
    problems = []
    if replaced:
        problems.append(
            f"{_names(replaced)}: ansible_ssh_args would replace butler-maint's host-key "
            "options; put those options in ansible_ssh_common_args instead"
        )
    if paramiko:
        problems.append(
            f"{_names(paramiko)}: the paramiko connection does not use the project "
            "known_hosts; use ansible_connection=ssh"
        )
    return problems


def host_warnings(hosts: Iterable[HostInfo]) -> list[str]:
    """Inventory vars that try to weaken host-key checking (they are overridden)."""
    chosen = list(hosts)
    off = sorted(
        h.name
        for h in chosen
        if any(
            to_bool(h.vars.get(name)) is False
            for name in ("ansible_host_key_checking", "ansible_ssh_host_key_checking")
        )
    )
    extra = sorted(
        h.name
        for h in chosen
        if any(
            _mentions_host_keys(str(h.vars.get(name) or ""))
            for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args")
        )
    )
    warnings = []
    if off:
        warnings.append(f"{_names(off)}: host key checking disabled in inventory: overridden")
    if extra:
        warnings.append(
            f"{_names(extra)}: host-key options in ssh common/extra args: ignored, "
            "the project known_hosts and StrictHostKeyChecking come first"
        )
    return warnings


def _names(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# -- after a cancelled run: what is left on the hosts ----------------------------------------
#
# Cancelling kills ansible-playbook's process group here, and with it the ssh clients;
# on the hosts, a task's module and the commands it started keep running (no pty, so
# no SIGHUP). Tagged by the play's ``environment`` (ansible puts it in front of the
# module's interpreter, inside the become wrapper), every process of the run carries
# ``BUTLER_PLAY_RUN=<marker>`` in its environment and a script run on each host finds
# them by it.

_CLEANUP = r"""_bm_kill='for f in $(grep -lzxF -e "$1" /proc/[0-9]*/environ 2>/dev/null); do
  p=${f#/proc/}; p=${p%/environ}
  if [ "$p" != "$$" ] && kill -KILL "$p" 2>/dev/null; then echo "$p"; fi
done'
sh -c "$_bm_kill" sh {needle}
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n sh -c "$_bm_kill" sh {needle}
fi
"""


def play_environment(marker: str) -> dict[str, str]:
    """The ``environment`` to add to every play of a run: it tags the run's processes
    on the hosts, for :func:`remote_cleanup_script`."""
    return {MARKER_VAR: marker}


def remote_cleanup_script(marker: str) -> str:
    """A POSIX ``sh`` script killing, on one host, every process of the run ``marker``
    (as root too, when ``sudo -n`` works there); it prints the pids it killed.

    Run it on each host of a cancelled run (``run_ssh(host, script, options)``, or
    ``run_local`` for local hosts); on a host where nothing is left it does nothing."""
    return _CLEANUP.replace("{needle}", shlex.quote(f"{MARKER_VAR}={marker}"))


CLEANUP_DEADLINE_S = 3.0
"""How long ending a cancelled run's tasks may take on one host (hosts in parallel)."""


def end_remote_tasks(hosts: list[HostInfo], marker: str, options: SshOptions) -> None:
    """Run :func:`remote_cleanup_script` on every host of a cancelled run, in parallel,
    each within ``CLEANUP_DEADLINE_S`` (a host that cannot be reached has nothing to end
    that we could end)."""
    from concurrent.futures import ThreadPoolExecutor

    from butler_maint.executors.local import run_local
    from butler_maint.executors.ssh import known_hosts, run_ssh

    script = remote_cleanup_script(marker)
    quick = replace(
        options, accept_new=False, connect_timeout=CLEANUP_DEADLINE_S,
        banner_timeout=CLEANUP_DEADLINE_S, auth_timeout=CLEANUP_DEADLINE_S,
        command_timeout=CLEANUP_DEADLINE_S,
    )  # fmt: skip
    trusted = known_hosts(quick)

    def end(host: HostInfo) -> None:
        if host.connection == "local":
            run_local(script, deadline_s=CLEANUP_DEADLINE_S, become=host.become)
        else:
            run_ssh(host, script, quick, trusted)

    if hosts:
        with ThreadPoolExecutor(max_workers=min(20, len(hosts))) as pool:
            list(pool.map(end, hosts))

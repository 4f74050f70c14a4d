"""A fleet of real OpenSSH ``sshd`` processes on 127.0.0.1 ports, for tests and benchmarks.

This module owns starting, describing and stopping those servers; it has no pytest
dependency (``tests/conftest.py`` wraps it in fixtures, benchmarks import it directly).

Layout under the base directory given to :class:`SshdFleet`::

    client_key, client_key.pub   one ed25519 client key for the whole fleet
    authorized_keys              that key's public line (every host's AuthorizedKeysFile)
    known_hosts                  ``[127.0.0.1]:PORT ssh-ed25519 ...`` for every host
    hosts/<name>/                sshd_config, host_key(.pub), sshd.pid, sshd.log
    sandbox/<name>/              the host's sandbox, for anything a test changes on it

Each host has its own ed25519 host key, so host-key tests are meaningful. The configs
include nothing from ``/etc/ssh``, accept and set no environment variables, and disable
``~/.ssh/rc`` and ``~/.ssh/environment``.

Dotfiles: sshd runs every command through the user's login shell (``bash -c`` for root)
and Debian's bash sources ``~/.bashrc`` when started by sshd, even for ``bash -c 'sh -c
...'``. A root ``~/.bashrc`` that runs pyenv init, for one, costs ~85 ms and puts pyenv
shims first on ``PATH`` for every exec channel. So tests send one script per connection
and run it with ``sh -c`` explicitly (paying that cost once, and never depending on the
shell's language or ``PATH`` tweaks), and give absolute paths (e.g. the host's sandbox)
rather than relying on ``~``. A test that must be free of it entirely can pass
``extra_config=["SetEnv HOME=/some/empty/dir"]`` (measured: ~3 ms per exec instead).

Stopping: sshd's per-connection children call ``setsid()``, so killing the listener's
process group does not reach them, and their titles (``sshd: root@notty``) no longer
name the config. The fleet therefore freezes each listener and its whole process tree
(``/proc`` parent links), then kills it; :func:`sshd_processes_under` and
:meth:`SshdFleet.processes` let tests check that nothing is left.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import dataclasses
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT_S = 15.0
START_ATTEMPTS = 5
STOP_TIMEOUT_S = 5.0
POLL_S = 0.01
FREEZE_ROUNDS = 20

_CONFIG = """\
# Written by tests/harness/sshd_fleet.py for host {name}; nothing from /etc/ssh is read.
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowAgentForwarding no
X11Forwarding no
PermitUserRC no
PermitUserEnvironment no
PrintMotd no
UseDNS no
MaxStartups 200
MaxSessions 50
LogLevel ERROR
Subsystem sftp internal-sftp
"""


class FleetError(RuntimeError):
    """The fleet could not start (or control) its sshd processes."""


class FleetFactory(Protocol):
    """What the ``sshd_fleet_factory`` fixture yields: start a fleet of ``count`` hosts."""

    def __call__(self, count: int, **options: Any) -> SshdFleet: ...


@dataclasses.dataclass(frozen=True)
class SshdHost:
    """One host of the fleet, as tests see it."""

    name: str
    port: int
    host_key_path: Path
    host_key_pub: str
    sandbox: Path


def _write_key(path: Path, comment: str) -> str:
    """Write a new ed25519 key pair in OpenSSH format; return the public line (no comment)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    # sshd and ssh ignore private keys readable by others: create the file 0600.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = public.decode()
    path.with_name(path.name + ".pub").write_text(f"{line} {comment}\n")
    return line


def free_port(exclude: Iterable[int] = ()) -> int:
    """A TCP port free on 127.0.0.1 right now (racy by nature: callers retry)."""
    taken = set(exclude)
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port
    raise FleetError("no free port on 127.0.0.1")


def has_banner(port: int, timeout: float, netns: str | None = None) -> bool:
    """Whether 127.0.0.1:port accepts a connection and sends an ``SSH-2.0-`` banner
    (``netns``: 127.0.0.1 of that network namespace)."""
    if netns is not None:
        return in_netns(netns, lambda: has_banner(port, timeout))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            return sock.recv(256).startswith(b"SSH-2.0-")
    except OSError:
        return False


_CLONE_NEWNET = 0x40000000


def in_netns(netns: str, call: Callable[[], bool]) -> bool:
    """``call()`` on a thread of its own moved into network namespace ``netns`` (setns
    moves only the calling thread; the thread ends with the call)."""
    answer: list[bool] = []

    def run() -> None:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns {netns}")
        finally:
            os.close(fd)
        answer.append(call())

    thread = threading.Thread(target=run, name=f"netns-{netns}")
    thread.start()
    thread.join()
    return bool(answer and answer[0])


def _parents() -> dict[int, int]:
    """Map of pid to parent pid for every live (non-zombie) process."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state not in "ZX":
            parents[int(entry.name)] = int(ppid)
    return parents


def descendants(roots: Iterable[int]) -> set[int]:
    """Live processes below ``roots`` in the process tree (roots excluded)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def live(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` still running (zombies waiting to be reaped do not count)."""
    return set(pids) & set(_parents())


def sshd_processes_under(*paths: Path) -> list[int]:
    """Live sshd processes whose command line names something under one of ``paths``."""
    needles = [str(path).encode() for path in paths]
    found = []
    for pid in _parents():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"sshd" in cmdline and any(needle in cmdline for needle in needles):
            found.append(pid)
    return sorted(found)


def _signal(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the thread that started us dies.

    atexit does not run when the test process is killed (``timeout``, SIGTERM, SIGKILL);
    this keeps such a run from leaving listeners behind.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ensure_privsep_dir() -> None:
    """sshd started as root refuses to run without /run/sshd (root-owned, 0755)."""
    if os.geteuid() == 0 and not PRIVSEP_DIR.is_dir():
        PRIVSEP_DIR.mkdir(parents=True, exist_ok=True)
        PRIVSEP_DIR.chmod(0o755)


class SshdFleet:
    """``count`` real sshd hosts under ``base``; a context manager (or call ``close()``).

    Create it from a thread that outlives it (the main thread): listeners get SIGTERM
    when the thread that started them ends, so a killed test run leaves none behind.
    """

    def __init__(
        self,
        base: Path,
        count: int,
        *,
        prefix: str = "host",
        extra_config: Sequence[str] = (),
        start_timeout: float = START_TIMEOUT_S,
        netns: str | None = None,
    ) -> None:
        """``netns``: run every sshd inside that network namespace (``ip netns exec``),
        listening on its own 127.0.0.1: reachable only from inside it."""
        if count < 1:
            raise ValueError(f"a fleet needs at least one host, not {count}")
        self.base = Path(base).resolve()
        self.config_dir = self.base / "hosts"
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.client_key = self.base / "client_key"
        self.known_hosts = self.base / "known_hosts"
        self._authorized_keys = self.base / "authorized_keys"
        self._extra_config = [line.strip() for line in extra_config]
        self.netns = netns
        self._hosts: dict[str, SshdHost] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        width = max(2, len(str(count)))
        names = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
        atexit.register(self.close)
        try:
            self._setup(names)
            self._start(names, time.monotonic() + start_timeout)
        except BaseException:
            self.close()
            raise
        self._write_known_hosts()

    # -- what tests read -------------------------------------------------------------

    @property
    def hosts(self) -> Mapping[str, SshdHost]:
        """Hosts by name, in name order (read-only)."""
        return types.MappingProxyType(self._hosts)

    def host(self, name: str) -> SshdHost:
        """The host called ``name``."""
        return self._hosts[name]

    def host_vars(self, name: str) -> dict[str, Any]:
        """Ansible variables that reach ``name`` over SSH."""
        host = self._hosts[name]
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": host.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "sandbox": str(host.sandbox),
        }

    def write_inventory(
        self,
        path: Path,
        group: str = "fleet",
        extra_vars: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Path:
        """Write an Ansible YAML inventory with every host in ``group``; return ``path``."""
        extra = dict(extra_vars or {})
        unknown = sorted(set(extra) - set(self._hosts))
        if unknown:
            raise ValueError(f"extra_vars for hosts not in the fleet: {unknown}")
        hosts = {name: {**self.host_vars(name), **extra.get(name, {})} for name in self._hosts}
        document = {"all": {"children": {group: {"hosts": hosts}}}}
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def ssh_argv(self, name: str) -> list[str]:
        """OpenSSH client argv (up to the destination) with strict host-key checking."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            str(self.client_key),
            "-p",
            str(self._hosts[name].port),
            f"{self.user}@127.0.0.1",
        ]

    def listener_pid(self, name: str) -> int | None:
        """Pid of the host's listening sshd, or None once it has stopped."""
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.poll() is None else None

    def processes(self) -> set[int]:
        """Every live process the fleet started: listeners, connections, their commands."""
        listeners = {pid for name in self._procs if (pid := self.listener_pid(name))}
        return listeners | descendants(listeners)

    # -- what tests do to hosts ------------------------------------------------------

    def pause(self, name: str) -> None:
        """SIGSTOP the host's listener: the kernel still accepts TCP, no banner ever comes.

        Sessions already open keep working; new connections hang until ``resume``.
        """
        os.kill(self._live(name).pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """SIGCONT a paused listener."""
        os.kill(self._live(name).pid, signal.SIGCONT)

    def stop(self, name: str) -> None:
        """Stop one host for good, open sessions included; its port then refuses connections."""
        self._terminate([name])

    def restart(self, name: str, down_s: float = 0.0, *, until_tried: bool = False) -> None:
        """A reboot: stop the host (open sessions included), stay down ``down_s``, then
        start it again on the same port with the same host key. With ``until_tried`` the
        host stays down until a client has tried it once (a listener on its port accepts
        and drops the first connection, as a host still booting does), at most ``down_s``.
        The new sshd lives as long as the calling thread (it dies with its parent, as
        every fleet host does)."""
        self._terminate([name])
        if until_tried:
            _drop_first_connection(self._hosts[name].port, down_s)
        else:
            time.sleep(down_s)
        self._procs[name] = self._launch(name)
        if not self._wait_ready(name, time.monotonic() + 30):
            raise FleetError(f"{name} did not come back: {self._log_tail(name)}")

    def close(self) -> None:
        """Stop every process the fleet started; safe to call more than once."""
        try:
            self._terminate(list(self._procs))
        finally:
            atexit.unregister(self.close)

    def __enter__(self) -> SshdFleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- starting ----------------------------------------------------------------------

    def _setup(self, names: list[str]) -> None:
        _ensure_privsep_dir()
        for directory in (self.config_dir, self.base / "sandbox"):
            directory.mkdir(parents=True, exist_ok=True)
        client_pub = _write_key(self.client_key, f"{self.user}@sshd-fleet")
        self._authorized_keys.write_text(client_pub + "\n")
        for name in names:
            (self.config_dir / name).mkdir(exist_ok=True)
            (self.base / "sandbox" / name).mkdir(exist_ok=True)
            key = self.config_dir / name / "host_key"
            pub = _write_key(key, name)
            self._hosts[name] = SshdHost(name, 0, key, pub, self.base / "sandbox" / name)

    def _start(self, names: list[str], deadline: float) -> None:
        """Launch all, wait for all; relaunch (new port) hosts whose sshd exited at start."""
        pending = names
        for _attempt in range(START_ATTEMPTS):
            ports = {h.port for n, h in self._hosts.items() if n not in pending}
            for name in pending:
                port = free_port(ports)
                ports.add(port)
                self._hosts[name] = dataclasses.replace(self._hosts[name], port=port)
                self._procs[name] = self._launch(name)
            with ThreadPoolExecutor(max_workers=min(len(pending), 32)) as pool:
                ready = list(pool.map(lambda n: self._wait_ready(n, deadline), pending))
            pending = [name for name, ok in zip(pending, ready, strict=True) if not ok]
            if not pending:
                return
        tail = self._log_tail(pending[0])
        raise FleetError(f"sshd exited at start {START_ATTEMPTS} times for {pending}: {tail}")

    def _launch(self, name: str) -> subprocess.Popen[bytes]:
        host_dir = self.config_dir / name
        config = host_dir / "sshd_config"
        config.write_text(
            _CONFIG.format(
                name=name,
                port=self._hosts[name].port,
                host_key=self._hosts[name].host_key_path,
                pid_file=host_dir / "sshd.pid",
                authorized_keys=self._authorized_keys,
            )
            + "".join(f"{line}\n" for line in self._extra_config)
        )
        (host_dir / "sshd.pid").unlink(missing_ok=True)
        with (host_dir / "sshd.log").open("ab") as log:
            inside = ["ip", "netns", "exec", self.netns] if self.netns else []
            return subprocess.Popen(
                [*inside, str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                # Safe with threads around: the hook only makes one prctl() call.
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )

    def _wait_ready(self, name: str, deadline: float) -> bool:
        """True once the host serves a banner, False if its sshd exited (port race)."""
        proc = self._procs[name]
        pid_file = self.config_dir / name / "sshd.pid"
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            # sshd writes its PidFile only after binding: a banner before that would come
            # from someone else's server that won the race for the port.
            if _read(pid_file) == str(proc.pid) and has_banner(
                self._hosts[name].port,
                min(2.0, max(0.1, deadline - time.monotonic())),
                self.netns,
            ):
                return True
            time.sleep(POLL_S)
        raise FleetError(
            f"{name} (port {self._hosts[name].port}) sent no SSH banner in time: "
            f"{self._log_tail(name)}"
        )

    def _log_tail(self, name: str) -> str:
        text = _read(self.config_dir / name / "sshd.log")
        return repr(text[-800:]) if text else "sshd wrote nothing to stderr"

    def _write_known_hosts(self) -> None:
        lines = [f"[127.0.0.1]:{h.port} {h.host_key_pub}\n" for h in self._hosts.values()]
        self.known_hosts.write_text("".join(lines))

    # -- stopping ----------------------------------------------------------------------

    def _live(self, name: str) -> subprocess.Popen[bytes]:
        proc = self._procs.get(name)
        if proc is None or proc.poll() is not None:
            raise FleetError(f"{name} is not running")
        return proc

    def _terminate(self, names: list[str]) -> None:
        """Freeze listeners and their process trees, kill the trees, then the listeners."""
        procs = [self._procs.pop(n) for n in names if n in self._procs]
        live = [p for p in procs if p.poll() is None]
        _signal((p.pid for p in live), signal.SIGSTOP)  # no new connections from here on
        frozen: set[int] = set()
        for _ in range(FREEZE_ROUNDS):
            new = descendants(p.pid for p in live) - frozen
            if not new:
                break
            _signal(new, signal.SIGSTOP)
            frozen |= new
        _signal(frozen, signal.SIGKILL)
        for proc in live:
            # The group holds only the listener (children setsid); it cannot be reused
            # before we reap the listener, so signalling it by pgid is safe here.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
                os.killpg(proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=STOP_TIMEOUT_S)
        # A listener stopped between accept() and fork() forks once more when continued,
        # after its tree was frozen; until it authenticates, that child's command line
        # still names the config ("sshd ... -f <config> -R"), which finds it.
        configs = [self.config_dir / name / "sshd_config" for name in names]
        _signal(sshd_processes_under(*configs), signal.SIGKILL)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _drop_first_connection(port: int, timeout_s: float) -> None:
    """Listen on 127.0.0.1:``port`` until one client connects (closed at once, before any
    banner) or ``timeout_s`` passes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(timeout_s)
        with contextlib.suppress(TimeoutError):
            client, _ = listener.accept()
            client.close()

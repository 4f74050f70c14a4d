"""A fleet of real OpenSSH ``sshd`` processes on 127.0.0.1 ports, for tests and benchmarks.

Each host has its own config, its own ed25519 host key, a sandbox directory for
anything a test changes on it, and accepts one generated client key. The fleet writes
a ``known_hosts`` file and an Ansible inventory for its hosts, and stops every process
it started (each sshd runs in its own session, so per-connection children die too).

Test sshd sessions run commands through the user's login shell; checks send their
scripts to ``sh`` explicitly, so shell start-up files cost one ``sh -c`` at most.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT_S = 20.0
START_RETRIES = 5

_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
UseDNS no
MaxStartups 200
MaxSessions 50
LogLevel ERROR
"""


def _write_key(path: Path) -> str:
    """Write a new ed25519 private key in OpenSSH format; return its public line."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.write_bytes(private)
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    line = public.decode()
    path.with_suffix(".pub").write_text(line + "\n")
    return line


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Host:
    """One sshd of the fleet."""

    name: str
    port: int
    host_key_pub: str
    sandbox: Path
    config: Path


class SshdFleet:
    """N sshd processes; use as a context manager or call ``close()``."""

    def __init__(self, base: Path, count: int, *, prefix: str = "host") -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.user = getpass.getuser()
        self.client_key = base / "client_key"
        self._client_pub = _write_key(self.client_key)
        (base / "authorized_keys").write_text(self._client_pub + "\n")
        self.known_hosts = base / "known_hosts"
        self.hosts: dict[str, Host] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._paused: set[str] = set()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        atexit.register(self.close)
        width = max(2, len(str(count)))
        names = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
        try:
            self._start_all(names)
        except BaseException:
            self.close()
            raise
        self._write_known_hosts()

    def _prepare(self, name: str) -> Host:
        home = self.base / name
        home.mkdir(exist_ok=True)
        (home / "sandbox").mkdir(exist_ok=True)
        pub = _write_key(home / "host_key")
        port = free_port()
        config = home / "sshd_config"
        config.write_text(
            _CONFIG.format(
                port=port,
                host_key=home / "host_key",
                pid_file=home / "sshd.pid",
                authorized_keys=self.base / "authorized_keys",
            )
        )
        return Host(name, port, pub, home / "sandbox", config)

    def _spawn(self, host: Host) -> subprocess.Popen[bytes]:
        log = (host.config.parent / "sshd.log").open("ab")
        with log:
            return subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(host.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _start_all(self, names: list[str]) -> None:
        pending = names
        for _attempt in range(START_RETRIES):
            for name in pending:
                host = self._prepare(name)
                self.hosts[name] = host
                self._procs[name] = self._spawn(host)
            pending = self._wait_ready(pending)
            if not pending:
                return
        logs = {n: (self.hosts[n].config.parent / "sshd.log").read_text()[-500:] for n in pending}
        raise RuntimeError(f"sshd did not come up for {pending}: {logs}")

    def _wait_ready(self, names: list[str]) -> list[str]:
        """Poll until each sshd sends its banner; return the names that died (port race)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting = set(names)
        died: list[str] = []
        while waiting and time.monotonic() < deadline:
            for name in sorted(waiting):
                if self._procs[name].poll() is not None:
                    waiting.discard(name)
                    died.append(name)
                elif self._banner(self.hosts[name].port):
                    waiting.discard(name)
            if waiting:
                time.sleep(0.02)
        if waiting:
            raise RuntimeError(f"sshd not answering within {START_TIMEOUT_S} s: {sorted(waiting)}")
        return died

    @staticmethod
    def _banner(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                return sock.recv(64).startswith(b"SSH-2.0")
        except OSError:
            return False

    def _write_known_hosts(self) -> None:
        lines = [f"[127.0.0.1]:{h.port} {h.host_key_pub}" for h in self.hosts.values()]
        self.known_hosts.write_text("\n".join(lines) + "\n")

    def host(self, name: str) -> Host:
        """The host called ``name``."""
        return self.hosts[name]

    def host_vars(self, name: str) -> dict[str, Any]:
        """Ansible vars to reach ``name``."""
        host = self.hosts[name]
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": host.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.client_key),
            "sandbox": str(host.sandbox),
        }

    def write_inventory(
        self, path: Path, group: str = "fleet", extra_vars: dict[str, dict[str, Any]] | None = None
    ) -> Path:
        """Write an Ansible YAML inventory of the fleet (every host in ``group``)."""
        extra = extra_vars or {}
        hosts = {n: {**self.host_vars(n), **extra.get(n, {})} for n in self.hosts}
        path.write_text(yaml.safe_dump({"all": {"children": {group: {"hosts": hosts}}}}))
        return path

    def pids(self) -> list[int]:
        """Process ids of the listening sshd processes still running."""
        return [p.pid for p in self._procs.values() if p.poll() is None]

    def pause(self, name: str) -> None:
        """SIGSTOP the host's whole process group: it accepts TCP but never answers."""
        os.killpg(self._procs[name].pid, signal.SIGSTOP)
        self._paused.add(name)

    def resume(self, name: str) -> None:
        """SIGCONT a paused host."""
        os.killpg(self._procs[name].pid, signal.SIGCONT)
        self._paused.discard(name)

    def stop(self, name: str) -> None:
        """Stop one host for good (its port then refuses connections)."""
        proc = self._procs[name]
        with contextlib.suppress(ProcessLookupError):
            if name in self._paused:
                os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # per-connection children of the session

    def close(self) -> None:
        """Stop every process the fleet started; safe to call twice."""
        for name in list(self._procs):
            self.stop(name)
        self._procs.clear()
        atexit.unregister(self.close)

    def __enter__(self) -> SshdFleet:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def leftover_sshd(base: Path) -> list[int]:
    """Pids of sshd processes whose command line names a config under ``base``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "sshd" in cmdline and str(base) in cmdline:
            found.append(int(entry.name))
    return found

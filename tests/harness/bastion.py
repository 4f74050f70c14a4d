"""A bastion topology of real sshd processes in network namespaces, for the jump host tests.

::

    root namespace ── veth ── JUMP namespace ── veth ── INNER namespace
    10.P.Q.1/30               jump:  10.P.Q.2:22        inner: 10.P.Q.6:22
                              10.P.Q.5/30               deep:  127.0.0.1:2222 (its own lo)

From the root namespace (where the tests and butler-maint run) only the jump host's
address is reachable: ``inner`` only through ``jump``, ``deep`` only from inside the
INNER namespace (through ``jump`` then ``inner``). Every server has its own ed25519
host key; one client key is authorised everywhere. Names are unique per process
(``rch<pid>...``); :meth:`Bastion.close` kills the servers and deletes the namespaces
(their veths go with them).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.harness.sshd_fleet import (
    _CONFIG,
    SSHD,
    _die_with_parent,
    _ensure_privsep_dir,
    _write_key,
    descendants,
)

START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Server:
    """One sshd of the topology."""

    name: str
    namespace: str
    address: str
    port: int
    host_key_pub: str  # "ssh-ed25519 AAAA..."

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    def known_hosts_line(self, key: str | None = None) -> str:
        return f"{self.known_hosts_name} {key or self.host_key_pub}\n"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Bastion:
    """The topology above, under ``base``; a context manager (or call ``close()``)."""

    def __init__(self, base: Path) -> None:
        pid = os.getpid()
        self.base = base
        self.prefix = f"rch{pid}"
        self.jump_ns = f"{self.prefix}j"
        self.inner_ns = f"{self.prefix}i"
        net = f"10.{210 + (pid >> 8) % 40}.{pid & 255}"
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.client_key = base / "client_key"
        self._authorized = base / "authorized_keys"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._namespaces: list[str] = []
        atexit.register(self.close)
        try:
            self._network(net)
            _ensure_privsep_dir()
            self._authorized.write_text(_write_key(self.client_key, "bastion-client") + "\n")
            self.jump = self._server("jump", self.jump_ns, f"{net}.2", 22)
            self.inner = self._server("inner", self.inner_ns, f"{net}.6", 22)
            self.deep = self._server("deep", self.inner_ns, "127.0.0.1", 2222)
        except BaseException:
            self.close()
            raise

    def _network(self, net: str) -> None:
        root_end, jump_end = f"{self.prefix}a", f"{self.prefix}b"
        jump_in, inner_end = f"{self.prefix}c", f"{self.prefix}d"
        for ns in (self.jump_ns, self.inner_ns):
            _ip("netns", "add", ns)
            self._namespaces.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", root_end, "type", "veth", "peer", "name", jump_end)
        _ip("link", "set", jump_end, "netns", self.jump_ns)
        _ip("addr", "add", f"{net}.1/30", "dev", root_end)
        _ip("link", "set", root_end, "up")
        _ip("-n", self.jump_ns, "addr", "add", f"{net}.2/30", "dev", jump_end)
        _ip("-n", self.jump_ns, "link", "set", jump_end, "up")
        _ip("-n", self.jump_ns, "link", "add", jump_in, "type", "veth", "peer", "name", inner_end)
        _ip("-n", self.jump_ns, "link", "set", inner_end, "netns", self.inner_ns)
        _ip("-n", self.jump_ns, "addr", "add", f"{net}.5/30", "dev", jump_in)
        _ip("-n", self.jump_ns, "link", "set", jump_in, "up")
        _ip("-n", self.inner_ns, "addr", "add", f"{net}.6/30", "dev", inner_end)
        _ip("-n", self.inner_ns, "link", "set", inner_end, "up")

    def _server(self, name: str, namespace: str, address: str, port: int) -> Server:
        directory = self.base / name
        directory.mkdir()
        key = directory / "host_key"
        pub = _write_key(key, name)
        pid_file = directory / "sshd.pid"
        config = directory / "sshd_config"
        text = _CONFIG.format(
            name=name, port=port, host_key=key, pid_file=pid_file,
            authorized_keys=self._authorized,
        ).replace("ListenAddress 127.0.0.1", f"ListenAddress {address}")  # fmt: skip
        config.write_text(text)
        with (directory / "sshd.log").open("ab") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", namespace, str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )  # fmt: skip
        self._procs.append(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:  # sshd writes its PidFile once it listens
            if proc.poll() is not None:
                raise RuntimeError(f"sshd {name} exited: {(directory / 'sshd.log').read_text()}")
            if pid_file.is_file() and pid_file.read_text().strip() == str(proc.pid):
                return Server(name, namespace, address, port, pub)
            time.sleep(0.02)
        raise RuntimeError(f"sshd {name} did not start within {START_TIMEOUT_S} s")

    def known_hosts(self, path: Path, **wrong: str) -> Path:
        """A known_hosts file of every server; ``jump="ssh-ed25519 ..."`` files another key."""
        servers = (self.jump, self.inner, self.deep)
        path.write_text("".join(s.known_hosts_line(wrong.get(s.name)) for s in servers))
        return path

    def close(self) -> None:
        """Kill every server (and its sessions), delete the namespaces; safe twice."""
        live = {p.pid for p in self._procs if p.poll() is None}
        for pid in live | descendants(live):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self._procs:
            proc.wait(timeout=10)
        self._procs.clear()
        for ns in self._namespaces:
            subprocess.run(
                ["ip", "netns", "delete", ns], capture_output=True, timeout=30, check=False
            )
        self._namespaces.clear()
        atexit.unregister(self.close)

    def __enter__(self) -> Bastion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

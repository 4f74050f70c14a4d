"""Network segments for the worker tests: a network namespace per segment joined to
this one by a veth pair, a real ``redis-server`` broker, and ``butler-maint worker``
processes started inside a segment.

Names carry the prefix ``bw`` and this process's pid (other suites create namespaces in
parallel); every namespace, veth and process is removed by ``close()``/the context
manager, and processes get SIGKILL when the thread that started them dies.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.harness.sshd_fleet import _die_with_parent, free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
WAIT_S = 15.0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Netns:
    """One segment: namespace ``name``, this side ``host_addr``, that side ``ns_addr``."""

    name: str
    veth: str
    host_addr: str
    ns_addr: str

    @classmethod
    def create(cls, index: int) -> Netns:
        pid = os.getpid()
        name, veth = f"bw{pid}s{index}", f"bw{pid}v{index}"
        subnet = f"10.{200 + index}.{pid % 250}"
        ns = cls(name, veth, f"{subnet}.1", f"{subnet}.2")
        try:
            _ip("netns", "add", name)
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
            _ip("link", "set", f"{veth}p", "netns", name)
            _ip("addr", "add", f"{ns.host_addr}/30", "dev", veth)
            _ip("link", "set", veth, "up")
            _ip("-n", name, "addr", "add", f"{ns.ns_addr}/30", "dev", f"{veth}p")
            _ip("-n", name, "link", "set", f"{veth}p", "up")
        except BaseException:
            ns.delete()
            raise
        return ns

    def delete(self) -> None:
        """Remove the namespace and the veth pair (safe to call more than once)."""
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, check=False)


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, base: Path) -> TlsFiles:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        base.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)

        def name(text: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

        def pem(path: Path, data: bytes) -> Path:
            path.write_bytes(data)
            path.chmod(0o600)
            return path

        ca_key, key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)
        issuer = name("test broker CA")
        ca = (
            x509.CertificateBuilder().subject_name(issuer).issuer_name(issuer)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        cert = (
            x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        private = serialization.PrivateFormat.TraditionalOpenSSL
        return cls(
            pem(base / "ca.pem", ca.public_bytes(serialization.Encoding.PEM)),
            pem(base / "server.pem", cert.public_bytes(serialization.Encoding.PEM)),
            pem(base / "server.key", key.private_bytes(
                serialization.Encoding.PEM, private, serialization.NoEncryption()
            )),
        )  # fmt: skip


class Redis:
    """A real redis-server with a password on 127.0.0.1 and the given addresses."""

    def __init__(
        self, base: Path, password: str, binds: list[str], tls: TlsFiles | None = None
    ) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.log = base / "redis.log"
        config = base / "redis.conf"
        listen = f"port {self.port}\n"
        if tls is not None:  # TLS only: the plain port is off
            listen = (
                f"port 0\ntls-port {self.port}\ntls-cert-file {tls.cert}\n"
                f"tls-key-file {tls.key}\ntls-ca-cert-file {tls.ca}\ntls-auth-clients no\n"
            )
        config.write_text(
            f"{listen}bind 127.0.0.1 {' '.join(binds)}\nrequirepass {password}\n"
            f'save ""\nappendonly no\ndir {base}\nlogfile {self.log}\n'
        )
        self.proc = subprocess.Popen(
            [REDIS, str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        deadline = time.monotonic() + WAIT_S
        while not _listening("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {self.log.read_text()[-500:]}")
            time.sleep(0.05)

        self.scheme = "rediss" if tls is not None else "redis"

    def url(self, host: str = "127.0.0.1") -> str:
        """The broker URL without the password (it comes from the environment)."""
        return f"{self.scheme}://{host}:{self.port}/0"

    def stop(self) -> None:
        """Kill the server (the broker goes down at once)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


class Worker:
    """``butler-maint worker`` inside a segment's namespace."""

    def __init__(
        self, root: Path, ns: Netns | None, segment: str, name: str, *, broker_url: str,
        env: Mapping[str, str], log: Path,
    ) -> None:  # fmt: skip
        self.name = name
        self.log = log
        inside = ["ip", "netns", "exec", ns.name] if ns is not None else []
        argv = [
            *inside, str(Path(sys.executable).with_name("butler-maint")),
            "-C", str(root), "worker", "--segment", segment, "--name", name, "--broker", broker_url,
        ]  # fmt: skip
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env={**os.environ, **env},
                start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
            )  # fmt: skip

    def wait_ready(self) -> None:
        """Until the worker says it consumes its queue (or exits: an error)."""
        deadline = time.monotonic() + 60
        while f"worker {self.name}: ready" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} never got ready: {self.log.read_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no warm shutdown, the shard it runs is left unacknowledged."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (warm shutdown), then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

"""Host certificates against a real sshd (``HostCertificate``) signed by ``ssh-keygen``:
a ``@cert-authority`` line in known_hosts is enough to trust the host, and a
certificate from another authority, for another host, expired, or from a @revoked
authority is refused."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from butler_maint.executors.hostcert import Authority, parse_authorities
from butler_maint.executors.ssh import SshOptions, run_ssh
from butler_maint.inventory import HostInfo
from tests.harness.sshd_fleet import (
    _CONFIG,
    SSHD,
    _die_with_parent,
    _ensure_privsep_dir,
    _write_key,
    free_port,
    has_banner,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Signed:
    port: int
    client_key: Path
    ca_pub: str


def _keygen(*args: str) -> None:
    subprocess.run(["ssh-keygen", "-q", *args], check=True, capture_output=True, timeout=30)


def _serve(base: Path, principals: str, validity: str) -> Iterator[Signed]:
    _ensure_privsep_dir()
    base.mkdir()
    client = base / "client_key"
    (base / "authorized_keys").write_text(_write_key(client, "client") + "\n")
    ca = base / "ca"
    _keygen("-t", "ed25519", "-N", "", "-f", str(ca))
    host_key = base / "host_key"
    _write_key(host_key, "host")
    _keygen("-s", str(ca), "-I", "test-host", "-h", "-n", principals, "-V", validity,
            str(host_key) + ".pub")  # fmt: skip
    port = free_port()
    config = base / "sshd_config"
    config.write_text(
        _CONFIG.format(
            name="certified", port=port, host_key=host_key, pid_file=base / "sshd.pid",
            authorized_keys=base / "authorized_keys",
        ) + f"HostCertificate {host_key}-cert.pub\n"
    )  # fmt: skip
    proc = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not has_banner(port, 1.0):
            assert proc.poll() is None and time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.05)
        ca_pub = " ".join((base / "ca.pub").read_text().split()[:2])
        yield Signed(port, client, ca_pub)
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is missing")
    yield from _serve(tmp_path_factory.mktemp("cert") / "ok", "127.0.0.1", "-5m:+1h")


def run(signed: Signed, known: str, tmp_path: Path, port: int | None = None) -> tuple[str, str]:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known)
    host = HostInfo("certified", {
        "ansible_host": "127.0.0.1", "ansible_port": port or signed.port,
        "ansible_ssh_private_key_file": str(signed.client_key),
    })  # fmt: skip
    options = SshOptions(project_known_hosts=known_hosts, trusted_known_hosts=(), ssh_config=())
    done = run_ssh(host, "echo certified-ok", options)
    return done.status, done.message + done.stdout.decode()


def test_a_cert_authority_line_is_enough(signed: Signed, tmp_path: Path) -> None:
    status, text = run(signed, f"@cert-authority 127.0.0.1,otherhost {signed.ca_pub}\n", tmp_path)
    assert (status, text.strip()) == ("ok", "certified-ok")


def test_another_authority_is_refused(signed: Signed, tmp_path: Path) -> None:
    _keygen("-t", "ed25519", "-N", "", "-f", str(tmp_path / "other_ca"))
    other = " ".join((tmp_path / "other_ca.pub").read_text().split()[:2])
    status, text = run(signed, f"@cert-authority 127.0.0.1 {other}\n", tmp_path)
    assert status == "error"
    assert "not signed by a @cert-authority trusted for this host" in text


def test_an_authority_for_other_hosts_only_does_not_count(signed: Signed, tmp_path: Path) -> None:
    known = f"@cert-authority *.example.com,!127.0.0.1 {signed.ca_pub}\n"
    status, text = run(signed, known, tmp_path)
    assert status == "error" and "unknown host key" in text


def test_a_revoked_authority_is_refused(signed: Signed, tmp_path: Path) -> None:
    known = f"@cert-authority 127.0.0.1 {signed.ca_pub}\n@revoked * {signed.ca_pub}\n"
    status, text = run(signed, known, tmp_path)
    assert status == "error" and "@revoked" in text


@pytest.mark.parametrize(
    ("principals", "validity", "reason"),
    [
        ("db.example.com", "-5m:+1h", "does not name this host (principals: db.example.com)"),
        ("127.0.0.1", "20200101:20200102", "not valid now"),
    ],
)
def test_a_certificate_for_another_host_or_expired_is_refused(
    tmp_path: Path, principals: str, validity: str, reason: str
) -> None:
    for server in _serve(tmp_path / "srv", principals, validity):
        status, text = run(server, f"@cert-authority 127.0.0.1 {server.ca_pub}\n", tmp_path)
        assert status == "error" and reason in text


def test_authority_patterns() -> None:
    (line,) = parse_authorities(
        "@cert-authority *.corp,!bad.corp,[10.0.0.1]:2222 ssh-ed25519 AAAA\n"
    )
    assert isinstance(line, Authority)
    assert line.matches("web.corp") and not line.matches("bad.corp")
    assert line.matches("[10.0.0.1]:2222") and not line.matches("10.0.0.1")

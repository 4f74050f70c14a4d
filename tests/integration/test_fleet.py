"""The sshd fleet harness: real servers, strict host keys, nothing left behind."""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from butler_maint.inventory import Inventory
from tests.harness.fleet import SshdFleet, leftover_sshd

pytestmark = pytest.mark.integration


def strict_client(known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def run_on(fleet: SshdFleet, name: str, command: str, known_hosts: Path | None = None) -> str:
    client = strict_client(known_hosts or fleet.known_hosts)
    try:
        client.connect(
            "127.0.0.1",
            port=fleet.host(name).port,
            username=fleet.user,
            key_filename=str(fleet.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
        )
        _, stdout, _ = client.exec_command(command, timeout=20)
        return stdout.read().decode()
    finally:
        client.close()


def test_ten_hosts_strict_keys_and_nothing_left(fleet_dir: Path) -> None:
    with SshdFleet(fleet_dir, 10) as fleet:
        assert len(fleet.hosts) == 10
        assert len({h.port for h in fleet.hosts.values()}) == 10
        for name, host in fleet.hosts.items():
            sandbox = shlex.quote(str(host.sandbox))
            script = 'echo $((6*7)) > "$1"/marker; cat "$1"/marker'
            out = run_on(fleet, name, f"sh -c {shlex.quote(script)} _ {sandbox}")
            assert out.strip() == "42"
            assert (host.sandbox / "marker").read_text().strip() == "42"
        ports = [h.port for h in fleet.hosts.values()]
    assert leftover_sshd(fleet_dir) == []
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


def test_openssh_client_with_strict_checking(sshd_fleet_factory) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    for host in fleet.hosts.values():
        done = subprocess.run(
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={fleet.known_hosts}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-i",
                str(fleet.client_key),
                "-p",
                str(host.port),
                f"{fleet.user}@127.0.0.1",
                "echo",
                "ok",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "ok"


def test_wrong_and_unknown_host_keys_are_rejected(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    first, second = fleet.hosts.values()
    swapped = tmp_path / "swapped"
    swapped.write_text(f"[127.0.0.1]:{first.port} {second.host_key_pub}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        run_on(fleet, first.name, "true", swapped)
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        run_on(fleet, first.name, "true", empty)


def test_pause_withholds_the_banner(sshd_fleet_factory) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    (name,) = fleet.hosts
    fleet.pause(name)
    started = time.monotonic()
    client = strict_client(fleet.known_hosts)
    with pytest.raises((paramiko.SSHException, OSError)):
        client.connect(
            "127.0.0.1",
            port=fleet.host(name).port,
            username=fleet.user,
            key_filename=str(fleet.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=2,
            banner_timeout=1,
            auth_timeout=1,
        )
    client.close()
    assert time.monotonic() - started < 30  # bounded: the banner timeout fired
    fleet.resume(name)
    assert run_on(fleet, name, "echo back").strip() == "back"


def test_inventory_parses_with_ansible(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(3)
    inventory = Inventory.load([fleet.write_inventory(tmp_path / "hosts.yml")])
    hosts = inventory.select("fleet")
    assert [h.name for h in hosts] == sorted(fleet.hosts)
    for host in hosts:
        assert host.port == fleet.host(host.name).port
        assert host.private_key_file == str(fleet.client_key)
        assert host.vars["sandbox"] == str(fleet.host(host.name).sandbox)

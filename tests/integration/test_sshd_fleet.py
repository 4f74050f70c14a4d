"""Acceptance tests of the sshd fleet harness (tests/harness/sshd_fleet.py).

Real sshd hosts, strict host-key checking from the fleet's own known_hosts (paramiko and
the OpenSSH client), wrong keys rejected, pause/resume, an inventory ansible-core
parses, and nothing left running after ``close()``.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from tests.harness import sshd_fleet
from tests.harness.sshd_fleet import (
    FleetFactory,
    SshdFleet,
    has_banner,
    live,
    sshd_processes_under,
)

pytestmark = pytest.mark.integration

MARKER_SCRIPT = 'echo $((6*7)) > "$1"/marker; cat "$1"/marker'


def connect(
    fleet: SshdFleet, name: str, known_hosts: Path | None = None, timeout: float = 10.0
) -> paramiko.SSHClient:
    """A paramiko client that trusts only ``known_hosts`` (the fleet's by default)."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or fleet.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            "127.0.0.1",
            port=fleet.host(name).port,
            username=fleet.user,
            key_filename=str(fleet.client_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
    except BaseException:
        client.close()
        raise
    return client


def run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    """Exit status and stdout of ``command``."""
    _, stdout, _ = client.exec_command(command, timeout=30)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out


def marker_command(sandbox: Path) -> str:
    return shlex.join(["sh", "-c", MARKER_SCRIPT, "_", str(sandbox)])


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_ten_hosts_run_a_command_with_strict_keys_and_leave_nothing(
    sshd_fleet_factory: FleetFactory,
) -> None:
    fleet = sshd_fleet_factory(10)
    assert list(fleet.hosts) == [f"host{i:02d}" for i in range(1, 11)]
    assert len({h.port for h in fleet.hosts.values()}) == 10
    assert len({h.host_key_pub for h in fleet.hosts.values()}) == 10
    for host in fleet.hosts.values():
        client = connect(fleet, host.name)
        try:
            assert run(client, marker_command(host.sandbox)) == (0, "42\n")
        finally:
            client.close()
        assert (host.sandbox / "marker").read_text() == "42\n"

    # A session still running at close time must die with its host.
    session = connect(fleet, "host01")
    _, stdout, _ = session.exec_command("sleep 300")
    started = fleet.processes()
    assert len(started) > 10  # 10 listeners, a connection sshd and its sleep
    ports = [h.port for h in fleet.hosts.values()]

    fleet.close()

    assert live(started) == set()
    assert sshd_processes_under(fleet.base) == []
    assert all(refuses(port) for port in ports)
    assert stdout.channel.recv_exit_status() == -1  # closed without an exit status
    session.close()


def test_openssh_client_with_strict_host_key_checking(fleet: SshdFleet) -> None:
    for name in ("host01", "host03"):
        argv = [*fleet.ssh_argv(name), "true"]
        assert {
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "GlobalKnownHostsFile=/dev/null",
        } < set(argv)
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr


def test_wrong_or_unknown_host_key_is_rejected(fleet: SshdFleet, tmp_path: Path) -> None:
    first, second = fleet.host("host01"), fleet.host("host02")
    swapped = tmp_path / "swapped_known_hosts"
    swapped.write_text(f"[127.0.0.1]:{first.port} {second.host_key_pub}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(fleet, first.name, swapped)

    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts") as caught:
        connect(fleet, first.name, empty)
    assert not isinstance(caught.value, paramiko.BadHostKeyException)

    argv = [*fleet.ssh_argv(first.name), "true"]
    argv[argv.index(f"UserKnownHostsFile={fleet.known_hosts}")] = f"UserKnownHostsFile={swapped}"
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 255
    assert "HOST IDENTIFICATION HAS CHANGED" in done.stderr


def test_pause_withholds_the_banner_and_resume_restores_it(fleet: SshdFleet) -> None:
    port = fleet.host("host02").port
    fleet.pause("host02")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the kernel still completes the handshake: a hang, not a refusal
        assert not has_banner(port, timeout=0.5)
        began = time.monotonic()
        with pytest.raises(paramiko.SSHException):
            connect(fleet, "host02", timeout=1)
        assert time.monotonic() - began < 20  # generous: only proves the timeout fired
    finally:
        fleet.resume("host02")
    client = connect(fleet, "host02")
    try:
        assert run(client, "sh -c 'echo back'") == (0, "back\n")
    finally:
        client.close()


def test_stop_closes_one_port_and_spares_the_others(fleet: SshdFleet) -> None:
    fleet.stop("host01")
    assert refuses(fleet.host("host01").port)
    assert fleet.listener_pid("host01") is None
    assert has_banner(fleet.host("host02").port, timeout=5)


def test_inventory_parses_with_ansible_core(
    sshd_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = sshd_fleet_factory(10)
    path = fleet.write_inventory(tmp_path / "hosts.yml", extra_vars={"host07": {"role": "db"}})
    inventory = InventoryManager(loader=DataLoader(), sources=[str(path)])
    hosts = inventory.get_hosts("fleet")
    assert sorted(h.name for h in hosts) == sorted(fleet.hosts)
    assert sorted(h.name for h in inventory.get_hosts("all")) == sorted(fleet.hosts)
    for host in hosts:
        expected = fleet.host(host.name)
        assert host.vars["ansible_host"] == "127.0.0.1"
        assert host.vars["ansible_port"] == expected.port
        assert host.vars["ansible_user"] == fleet.user
        assert host.vars["ansible_ssh_private_key_file"] == str(fleet.client_key)
        assert host.vars["sandbox"] == str(expected.sandbox)
    assert inventory.get_host("host07").vars["role"] == "db"
    assert "role" not in inventory.get_host("host06").vars


def test_a_host_that_loses_the_port_race_is_retried_on_another_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_free_port = sshd_fleet.free_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        handed = iter([taken])
        monkeypatch.setattr(
            sshd_fleet,
            "free_port",
            lambda exclude=(): next(handed, None) or real_free_port(exclude),
        )
        with SshdFleet(tmp_path / "fleet", 2) as fleet:
            assert taken not in {h.port for h in fleet.hosts.values()}
            assert all(has_banner(h.port, timeout=5) for h in fleet.hosts.values())
    assert "Address already in use" in (tmp_path / "fleet/hosts/host01/sshd.log").read_text()


def test_an_sshd_that_never_starts_is_named_with_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(sshd_fleet.FleetError, match=r"host01.*NoSuchOption"):
        SshdFleet(tmp_path / "fleet", 1, extra_config=["NoSuchOption yes"])
    assert sshd_processes_under(tmp_path) == []


def gone(pids: set[int], within: float) -> bool:
    """Whether all ``pids`` have exited within ``within`` seconds (bounded poll)."""
    deadline = time.monotonic() + within
    while live(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not live(pids)


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_a_fleet_nobody_closed_dies_with_its_process(tmp_path: Path, ending: str) -> None:
    """atexit covers a normal exit; the listeners' parent-death signal covers a kill."""
    script = (
        "import os, sys; from pathlib import Path; from tests.harness.sshd_fleet import SshdFleet\n"
        "fleet = SshdFleet(Path(sys.argv[1]), 3)\n"
        "print(*sorted(fleet.processes()), flush=True)\n"
        "if sys.argv[2] == 'sigkill': os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "fleet"), ending],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == (0 if ending == "exit" else -9), done.stderr
    started = {int(pid) for pid in done.stdout.split()}
    assert len(started) >= 3  # listeners, and maybe a readiness probe's connection
    assert gone(started, within=10)
    assert sshd_processes_under(tmp_path) == []

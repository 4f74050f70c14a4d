"""Executor hardening against real sshd hosts on 127.0.0.1.

- an inventory value never runs a command on the controller (ssh_config injection);
- a check printing a lot costs the controller a bounded amount of memory, and its full
  size and sha256 are still recorded;
- a stopped run leaves no check process behind on its hosts (or here, for local hosts);
- paramiko's own logging never reaches the terminal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.checks.base import Verdict
from butler_maint.checks.testinfra import SubResult, judge_module
from butler_maint.executors import Execution, testinfra
from butler_maint.executors.local import run_local
from butler_maint.executors.ssh import SshOptions, run_ssh
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.playbooks.connection import (
    UserSettings,
    connection_env,
    play_environment,
    remote_cleanup_script,
)
from tests.harness.sshd_fleet import FleetFactory, SshdFleet, descendants, live

pytestmark = pytest.mark.integration

BUTLER = str(Path(sys.executable).parent / "butler-maint")
WAIT_S = 30.0  # generous bounds for things that take milliseconds
POLL_S = 0.02


def run_testinfra(
    host: HostInfo, module: Path, options: SshOptions, *, stop: threading.Event | None = None
) -> tuple[Verdict, list[SubResult]]:
    """Run the module (executor) and judge it (checks), as a checklist run does."""
    return judge_module(testinfra.run_testinfra(host, module, options, stop=stop))


def butler(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUTLER, "-C", str(root), *args], capture_output=True, text=True, timeout=300, check=False
    )


def content_repo(
    tmp_path: Path,
    hosts: dict[str, dict[str, object]],
    known_hosts: Path,
    checks: list[dict[str, Any]],
) -> Path:
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "inventories").mkdir()
    inventory = {"all": {"children": {"linux": {"hosts": hosts}}}}
    (root / "inventories" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    ssh = {"known_hosts": str(known_hosts), "system_known_hosts": False}
    ssh |= {"banner_timeout": 1, "connect_timeout": 5}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/hosts.yml", "ssh": ssh})
    )
    checklist = {"checklist": "probe", "hosts": "linux", "checks": checks}
    (root / "checklists" / "probe.yaml").write_text(yaml.safe_dump(checklist))
    return root


def fleet_host(fleet: SshdFleet, tmp_path: Path) -> HostInfo:
    return Inventory.load([fleet.write_inventory(tmp_path / "hosts.yml")]).select("all")[0]


def settings(
    fleet: SshdFleet, command_timeout: float = 300, banner_timeout: float = 10
) -> SshOptions:
    return SshOptions(
        project_known_hosts=fleet.known_hosts,
        trusted_known_hosts=(),
        command_timeout=command_timeout,
        banner_timeout=banner_timeout,
    )


# -- 1. inventory values never run commands on the controller ----------------------------


def proxy_command(sentinel: Path) -> str:
    return f"\n  ProxyCommand sh -c 'touch {sentinel}'"


@pytest.mark.parametrize("var", ["ansible_host", "ansible_user", "ansible_ssh_private_key_file"])
def test_a_newline_in_an_inventory_value_runs_nothing(
    sshd_fleet_factory: FleetFactory, tmp_path: Path, var: str
) -> None:
    """The reproducer: a ProxyCommand smuggled into the testinfra ssh_config."""
    fleet = sshd_fleet_factory(1)
    name = next(iter(fleet.hosts))
    sentinel = tmp_path / "PWNED"
    host_vars = fleet.host_vars(name)
    host_vars[var] = f"{host_vars[var]}{proxy_command(sentinel)}"
    (tmp_path / "test_host.py").write_text("def test_true(host):\n    assert True\n")
    checks = [{"id": "module", "testinfra": str(tmp_path / "test_host.py")}]
    root = content_repo(tmp_path, {name: host_vars}, fleet.known_hosts, checks)
    for args in (["validate"], ["check", "probe"]):
        done = butler(root, *args)
        said = done.stdout + done.stderr
        assert done.returncode == 2, said
        assert f"host {name}: {var} " in said
        assert "contains a newline: expected a value without control characters" in said
        assert not sentinel.exists()
    assert not (root / "evidence").exists() or not list((root / "evidence").rglob("*.yaml"))


def test_testinfra_quotes_values_that_never_went_through_the_inventory(
    sshd_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    sentinel = tmp_path / "PWNED"
    forged = HostInfo(
        host.name, {**host.vars, "ansible_host": "127.0.0.1" + proxy_command(sentinel)}
    )
    module = tmp_path / "test_host.py"
    module.write_text("def test_true(host):\n    assert True\n")
    verdict, subs = run_testinfra(forged, module, settings(fleet))
    assert verdict.status == "error"
    assert "cannot write HostName" in verdict.message and "control characters" in verdict.message
    assert subs == []
    assert not sentinel.exists()
    verdict, _ = run_testinfra(host, module, settings(fleet))  # the honest host still works
    assert verdict.status == "pass", verdict


# -- 4. big outputs: bounded memory, full size and sha256 ---------------------------------

LINE = b"0123456789012345678901234567890123456789\n"
BIG = 120 * 10**6  # printed by one check
PEAK_MB = 150  # the controller process, Python and paramiko included (was > 2 x BIG)

CHILD = """
import json, resource, sys
from pathlib import Path
from butler_maint.checks.script import build_script, new_token, parse_output
from butler_maint.executors import OutputLimits
from butler_maint.executors.local import run_local
from butler_maint.executors.ssh import SshOptions, run_ssh
from butler_maint.inventory import HostInfo

mode, size, host_vars, known = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
token = new_token()
big = "yes %s | head -c %d" % ("0123456789" * 4, size)
script = build_script([("big", big), ("after", "echo ok")], token)
limits = OutputLimits(frame_marker=(token + " ").encode())
if mode == "ssh":
    options = SshOptions(Path(known), trusted_known_hosts=(), command_timeout=600)
    result = run_ssh(HostInfo("h", host_vars), script, options, limits=limits)
else:
    result = run_local(script, deadline_s=600, limits=limits)
frames, complete = parse_output(result.stdout, token)
cut = result.segment_after(("%s B big" % token).encode())
print(json.dumps({
    "status": result.status,
    "kept": len(result.stdout),
    "truncated": result.truncated,
    "big": [cut.size, cut.kept, cut.sha256] if cut else None,
    "frames": {f.check_id: [f.raw.rc, f.raw.stdout[-20:]] for f in frames},
    "complete": complete,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    block = LINE * (2**20 // len(LINE))
    left = size
    while left > 0:
        part = block[: min(left, len(block))]
        digest.update(part)
        left -= len(part)
    return digest.hexdigest()


@pytest.mark.parametrize("mode", ["ssh", "local"])
def test_a_huge_output_is_counted_and_hashed_not_kept(
    sshd_fleet_factory: FleetFactory, tmp_path: Path, mode: str
) -> None:
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(BIG), json.dumps(dict(host.vars)),
         str(fleet.known_hosts)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["status"] == "ok"
    assert facts["truncated"] is True
    assert facts["big"] == [BIG, 2**20, expected_sha256(BIG)]
    assert facts["kept"] < 2 * 2**20
    assert facts["frames"]["big"][0] == 0
    assert facts["frames"]["after"] == [0, "ok\n"]  # the check after it is intact
    assert facts["complete"] is True
    assert facts["peak_mb"] < PEAK_MB, facts


def test_output_is_exactly_the_scripts(sshd_fleet_factory: FleetFactory, tmp_path: Path) -> None:
    """The line the remote command prints first (its process group) is not output."""
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    result = run_ssh(host, "echo 12345; printf 'abc'; printf err >&2", settings(fleet))
    assert (result.status, result.rc) == ("ok", 0)
    assert (result.stdout, result.stderr) == (b"12345\nabc", b"err")
    assert result.stdout_size == 9 and not result.truncated
    assert result.stdout_sha256 == hashlib.sha256(b"12345\nabc").hexdigest()


# -- 8. stopping: nothing left running -----------------------------------------------------


def marked(marker: str) -> set[int]:
    """Live processes whose command line holds ``marker``, and their descendants."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
    return live(found | descendants(found))


def wait_for(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(POLL_S)
    return predicate()


@contextlib.contextmanager
def in_thread(call: Callable[[], Execution]) -> Iterator[dict[str, Execution | BaseException]]:
    box: dict[str, Execution | BaseException] = {}

    def target() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:
            box["result"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the executor did not return after the stop"


def stopped_result(box: dict[str, Execution | BaseException]) -> Execution:
    result = box.get("result")
    assert isinstance(result, Execution), result
    assert result.stopped
    assert result.status == "error"
    assert result.message.startswith("stopped")
    return result


@pytest.mark.parametrize("mode", ["ssh", "local"])
def test_a_stop_kills_the_script_and_everything_it_started(
    sshd_fleet_factory: FleetFactory, tmp_path: Path, mode: str
) -> None:
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    marker = f"butler-stop-{os.getpid()}-{mode}"
    script = f"echo started; sh -c 'sleep 60; : {marker}'; echo never"
    stop = threading.Event()

    def call() -> Execution:
        if mode == "ssh":
            return run_ssh(host, script, settings(fleet, command_timeout=120), stop=stop)
        return run_local(script, deadline_s=120, stop=stop)

    with in_thread(call) as box:
        assert wait_for(lambda: bool(marked(marker)) or "result" in box), box
        running = marked(marker)
        assert running, box
        stop.set()
    result = stopped_result(box)
    assert result.stdout == b"started\n"
    assert wait_for(lambda: not live(running) and not marked(marker), timeout=5), marked(marker)


def test_a_stop_ends_a_testinfra_module(sshd_fleet_factory: FleetFactory, tmp_path: Path) -> None:
    """pytest and everything it started here are killed; the verdict says stopped."""
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    marker = f"butler_stop_{os.getpid()}"
    module = tmp_path / f"test_{marker}.py"
    module.write_text("def test_slow(host):\n    host.run('sleep 60')\n")
    stop = threading.Event()
    box: dict[str, tuple[Verdict, list[SubResult]]] = {}

    def call() -> None:
        box["result"] = run_testinfra(host, module, settings(fleet), stop=stop)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    assert wait_for(lambda: bool(marked(marker)) or not thread.is_alive())
    running = marked(marker)
    assert running, box
    stop.set()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    verdict, subs = box["result"]
    assert verdict.status == "error" and verdict.message.startswith("stopped"), verdict
    assert subs == []
    assert wait_for(lambda: not live(running) and not marked(marker), timeout=5)


def test_a_stop_while_connecting_returns(sshd_fleet_factory: FleetFactory, tmp_path: Path) -> None:
    """A host that never sends its banner does not hold a stopped run for its timeout."""
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    fleet.pause(host.name)
    try:
        stop = threading.Event()
        options = settings(fleet, banner_timeout=300)
        with in_thread(lambda: run_ssh(host, "true", options, stop=stop)) as box:
            time.sleep(0.2)  # let it reach the banner wait (a stop before that is quicker)
            stop.set()
        stopped_result(box)
    finally:
        fleet.resume(host.name)


def test_a_stop_before_the_start_runs_nothing(
    sshd_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = sshd_fleet_factory(1)
    host = fleet_host(fleet, tmp_path)
    stop = threading.Event()
    stop.set()
    sentinel = tmp_path / "ran"
    for result in (
        run_ssh(host, f"touch {sentinel}", settings(fleet), stop=stop),
        run_local(f"touch {sentinel}", deadline_s=10, stop=stop),
    ):
        assert result.stopped and result.message == "stopped before the check script started"
    assert not sentinel.exists()


# -- after a cancelled play: tasks left on the hosts ---------------------------------------


def tasks_of(marker: str) -> set[int]:
    """Processes with ``BUTLER_PLAY_RUN=marker`` in their environment (a play's tasks)."""
    needle = f"BUTLER_PLAY_RUN={marker}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
    return live(found)


def test_a_cancelled_plays_tasks_are_found_and_killed_on_the_host(
    sshd_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    """Real ansible-playbook, cancelled the way ansible-runner cancels it (SIGKILL to its
    process group): its task goes on running on the host until the cleanup script kills
    it, found by the marker the play's ``environment`` put on it. Processes of another
    run are left alone."""
    fleet = sshd_fleet_factory(1)
    name = next(iter(fleet.hosts))
    inventory = fleet.write_inventory(
        tmp_path / "play-hosts.yml",
        extra_vars={name: {"ansible_python_interpreter": "/usr/bin/python3"}},
    )
    marker, other = f"run-{os.getpid()}", f"other-{os.getpid()}"
    playbook = tmp_path / "slow.yml"
    play = {
        "hosts": "all",
        "gather_facts": False,
        "environment": play_environment(marker),
        "tasks": [{"command": "sleep 60"}],
    }
    playbook.write_text(yaml.safe_dump([play]))
    run_dir, control = tmp_path / "run", tmp_path / "cp"
    run_dir.mkdir()
    control.mkdir()
    env = {**os.environ, **connection_env(settings(fleet), UserSettings(), run_dir, control).env}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with (tmp_path / "ansible.out").open("wb") as out:
        ansible = subprocess.Popen(
            ["ansible-playbook", "-i", str(inventory), str(playbook)],
            stdout=out, stderr=out, env=env, start_new_session=True,
        )  # fmt: skip
    host = fleet_host(fleet, tmp_path)
    bystander = subprocess.Popen(["sleep", "60"], env={**os.environ, "BUTLER_PLAY_RUN": other})
    try:
        assert wait_for(lambda: bool(tasks_of(marker)) or ansible.poll() is not None)
        tasks = tasks_of(marker)
        assert tasks, (tmp_path / "ansible.out").read_text()[-2000:]
        os.killpg(ansible.pid, signal.SIGKILL)  # what a cancel does
        ansible.wait(WAIT_S)
        for pid in marked(str(control)):  # the ControlPersist master, as stop_strays does
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert live(tasks), "the task should still be running on the host"
        cleaned = run_ssh(host, remote_cleanup_script(marker), settings(fleet))
        assert cleaned.status == "ok", cleaned
        assert cleaned.stdout.split(), cleaned  # the pids it killed
        assert wait_for(lambda: not live(tasks), timeout=5), live(tasks)
        assert bystander.poll() is None  # another run's process is untouched
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ansible.pid, signal.SIGKILL)
        bystander.kill()
        bystander.wait()


# -- 9. paramiko stays quiet ---------------------------------------------------------------


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        for _ in range(100):  # a few connections at most are expected
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()
        for conn in accepted:
            conn.close()
        thread.join(5)


def test_a_banner_timeout_prints_no_traceback(tmp_path: Path) -> None:
    with silent_listener() as port:
        hosts = {"silent": {"ansible_host": "127.0.0.1", "ansible_port": port}}
        known = tmp_path / "known_hosts"
        known.write_text("")
        checks = [{"id": "probe", "command": {"run": "true"}}]
        done = butler(content_repo(tmp_path, hosts, known, checks), "check", "probe")
    assert done.returncode == 1, done.stderr
    assert "Error reading SSH protocol banner" in done.stdout
    assert "Traceback" not in done.stderr
    assert "Exception (client)" not in done.stderr
    assert "paramiko" not in done.stderr

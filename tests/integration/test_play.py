"""`butler-maint play` against real sshd hosts: the acceptance of the playbooks issue.

Every playbook here (tests/fixtures/playbooks/) touches only each host's sandbox. Runs
are subprocesses with their own TMPDIR, so a test can see that a run leaves no private
data dir (env/, passwords, command files) behind; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, HostStats, Report
from tests.harness.sshd_fleet import SshdFleet

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "playbooks"
BUTLER = str(Path(sys.executable).parent / "butler-maint")
RUN_TIMEOUT_S = 180
RECAP_LINE = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$")


def content_repo(tmp_path: Path, fleet: SshdFleet, *playbooks: str, **settings: Any) -> Path:
    """A content repo: butler.yaml, the fleet's inventory, fixture playbooks."""
    root = tmp_path / "content"
    (root / "playbooks").mkdir(parents=True)
    for name in playbooks:
        shutil.copy(FIXTURES / name, root / "playbooks" / name)
    (root / "inventories").mkdir()
    python = {name: {"ansible_python_interpreter": "/usr/bin/python3"} for name in fleet.hosts}
    fleet.write_inventory(root / "inventories" / "fleet.yml", extra_vars=python)
    config = {
        "inventory": "inventories/fleet.yml",
        "ssh": {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False},
        **settings,
    }
    (root / "butler.yaml").write_text(yaml.safe_dump(config))
    return root


def run_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose TMPDIR is the test's own (checked empty after runs)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "LC_ALL": "C.UTF-8"}


def play(root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUTLER, "-C", str(root), "play", *args], capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S, env=run_env(tmp_path), check=False,
    )  # fmt: skip


def latest(root: Path) -> Report:
    return EvidenceStore(root / "evidence").load("latest")


def kept(root: Path, report: Report) -> Path:
    assert report.artifacts is not None
    return root / "evidence" / report.artifacts / "ansible-runner"


def events(root: Path, report: Report) -> list[dict[str, Any]]:
    lines = (kept(root, report) / "job_events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def ansible_recap(stdout: str) -> dict[str, HostStats]:
    """The PLAY RECAP ansible printed (kept as stdout.txt)."""
    recap = {}
    for line in stdout.split("PLAY RECAP", 1)[1].splitlines():
        if match := RECAP_LINE.match(line.strip()):
            pairs = dict(pair.split("=") for pair in match.group(2).split())
            recap[match.group(1)] = HostStats(**{k: int(v) for k, v in pairs.items()})
    return recap


def leftovers(*paths: Path, exclude: Iterable[int] = ()) -> list[str]:
    """Command lines of live processes naming one of ``paths`` (ansible, ssh masters...)."""
    needles = [str(p).encode() for p in paths]
    skip = {*exclude, os.getpid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X") and any(n in cmdline for n in needles):
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def assert_clean(tmp_path: Path, root: Path, fleet: SshdFleet) -> None:
    """No process of the run is left, and its private data dir is gone."""
    assert leftovers(tmp_path / "tmp", root, exclude=fleet.processes()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def tree(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# -- acceptance ------------------------------------------------------------------------


def test_mixed_outcomes_recap_equals_ansibles_and_down_host_is_unreachable(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(5)
    root = content_repo(tmp_path, fleet, "mixed.yml")
    names = sorted(fleet.hosts)
    down, failing, chosen = names[4], names[1], names[2]
    fleet.stop(down)
    done = play(root, tmp_path, "mixed", "-e", f"failing_host={failing} chosen_host={chosen}")
    assert done.returncode == 1, done.stderr
    report = latest(root)
    step = report.steps[0]
    assert report.kind == "playbook"
    assert report.result == "error"  # an unreachable host is an error, not a failure
    assert report.dry_run is False
    recap = ansible_recap((kept(root, report) / "stdout.txt").read_text())
    assert set(recap) == set(names)
    assert step.hosts == recap
    assert step.hosts[down] == HostStats(unreachable=1)
    assert step.hosts[failing].failed == 1
    assert step.hosts[names[0]] == HostStats(ok=4, changed=3, skipped=2, ignored=1)
    by = {(r.host, r.check): r for r in step.results}
    assert by[(down, "look at the sandbox")].status == "unreachable"
    assert not any(r.status == "fail" for r in step.results if r.host == down)
    broken = by[(failing, "fails on one host")]
    assert broken.status == "fail"
    assert "broken" in (broken.message or "") and "rc=3" in (broken.message or "")
    assert (failing, "after the failure") not in by
    assert by[(chosen, "only on the chosen host")].status == "pass"
    assert by[(names[0], "only on the chosen host")].status == "skipped"
    assert by[(names[0], "ignored failure")].status == "waived"
    assert by[(names[0], "touch a file")].observed == "changed"
    assert all(r.ms >= 0 for r in step.results) and by[(failing, "fails on one host")].ms > 0
    assert step.playbook == "playbooks/mixed.yml"
    assert report.content.files["playbooks/mixed.yml"].startswith("sha256:")
    assert {(f.host, f.status) for f in report.failures} == {
        (down, "unreachable"),
        (failing, "fail"),
    }
    assert (fleet.host(names[0]).sandbox / "done").exists()
    assert "FAIL" in done.stdout and failing in done.stdout
    assert_clean(tmp_path, root, fleet)


def test_vault_and_no_log_secrets_appear_nowhere(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ansible.parsing.vault import VaultLib, VaultSecret

    fleet = sshd_fleet_factory(1)
    root = content_repo(tmp_path, fleet, "secrets.yml")
    canaries = {
        "vault": "VAULTCANARY-3f9a1c",
        "file": "FILECANARY-77b2e0",
        "nolog": "NOLOGCANARY-c41d8e",
    }
    password = tmp_path / "vault-pass"
    password.write_text("correct horse battery\n")
    vault = VaultLib([("default", VaultSecret(b"correct horse battery"))])
    inline = vault.encrypt(canaries["vault"]).decode()
    group_vars = root / "inventories" / "group_vars"
    group_vars.mkdir()
    indented = "\n".join("  " + line for line in inline.splitlines())
    (group_vars / "fleet.yml").write_text(f"vault_canary: !vault |\n{indented}\n")
    (root / "playbooks" / "vars").mkdir()
    (root / "playbooks" / "vars" / "secret.yml").write_bytes(
        vault.encrypt(f"file_canary: {canaries['file']}\n")
    )
    sandbox = fleet.host(next(iter(fleet.hosts))).sandbox
    (sandbox / "remote-secret").write_text(canaries["nolog"] + "\n")
    done = play(root, tmp_path, "secrets", "--diff", "--vault-password-file", str(password))
    assert done.returncode == 0, done.stderr
    assert (sandbox / "token").read_text() == canaries["vault"] + "\n"  # the value was used
    report = latest(root)
    by = {r.check: r for r in report.steps[0].results}
    assert by["show the vault values"].message == "token=******** file=********"
    assert by["fail with the token in the message"].message == "rejected ********"
    assert by["read a secret without logging it"].message == "output hidden (no_log)"
    evidence = b"".join(p.read_bytes() for p in (root / "evidence").rglob("*") if p.is_file())
    assert b"rejected ********" in evidence  # the kept artifacts hold the masked events
    for canary in canaries.values():
        assert canary.encode() not in evidence, canary
        assert canary not in done.stdout + done.stderr, canary
    artifacts = kept(root, report)
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "job_events.jsonl", "rc", "status", "stdout.txt",
    ]  # fmt: skip
    for path in [artifacts, *artifacts.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, path
    assert_clean(tmp_path, root, fleet)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_a_long_task_records_interrupted(
    sshd_fleet_factory, tmp_path: Path, sig: signal.Signals
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet, "long.yml")
    proc = subprocess.Popen(
        [BUTLER, "-C", str(root), "play", "long"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=run_env(tmp_path),
    )  # fmt: skip
    markers = [fleet.host(name).sandbox / "started" for name in fleet.hosts]
    deadline = time.monotonic() + 90
    while not all(m.exists() for m in markers) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert all(m.exists() for m in markers), proc.communicate(timeout=30)
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=45)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    report = latest(root)
    assert report.result == "interrupted"
    checks = {r.check for r in report.steps[0].results}
    assert "quick first" in checks and "never reached" not in checks
    assert not any((fleet.host(n).sandbox / "never").exists() for n in fleet.hosts)
    assert f"interrupted by signal {int(sig)}" in err
    assert "HOST" in out
    assert_clean(tmp_path, root, fleet)
    assert_no_task_left(fleet, b"sleep\x0060")


def assert_no_task_left(fleet: SshdFleet, command: bytes) -> None:
    """No process a host's sshd started still runs ``command`` (a cancelled run's task).

    The task's session ends with the connection, so its processes are orphans by then:
    they are found by the ``SSH_CONNECTION`` their sshd gave them, which names its port."""
    ports = {f" {fleet.host(name).port}".encode() for name in fleet.hosts}

    def running() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if not entry.name.isdigit():
                    continue
                if not (entry / "cmdline").read_bytes().startswith(command):
                    continue
                env = (entry / "environ").read_bytes().split(b"\0")
                conn = next((e for e in env if e.startswith(b"SSH_CONNECTION=")), b"")
                if any(conn.endswith(port) for port in ports):
                    found.append(int(entry.name))
        return found

    deadline = time.monotonic() + 5
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running() == []


def test_check_mode_changes_nothing_and_is_a_dry_run(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet, "would_change.yml")
    for name in fleet.hosts:
        (fleet.host(name).sandbox / "existing").write_text("line\n")
        (fleet.host(name).sandbox / "doomed").write_text("still here\n")
    before = {name: tree(fleet.host(name).sandbox) for name in fleet.hosts}
    done = play(root, tmp_path, "would_change.yml", "--check", "--diff")
    assert done.returncode == 0, done.stderr
    assert {name: tree(fleet.host(name).sandbox) for name in fleet.hosts} == before
    report = latest(root)
    assert report.dry_run is True
    assert report.result == "pass"
    by = {(r.host, r.check): r for r in report.steps[0].results}
    for name in fleet.hosts:
        for task in ("create a file", "edit a file", "remove a file"):
            assert by[(name, task)].observed == "changed", (name, task)
        assert by[(name, "run a command")].status == "skipped"
    assert "dry run" in done.stderr
    assert_clean(tmp_path, root, fleet)


def test_serial_runs_batches_and_max_fail_percentage_stops_them(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(4)
    root = content_repo(tmp_path, fleet, "batches.yml", evidence={"keep_artifacts": 1})
    original = (root / "playbooks" / "batches.yml").read_bytes()
    names = sorted(fleet.hosts)
    done = play(root, tmp_path, "batches", "--serial", "2")
    assert done.returncode == 0, done.stderr
    report = latest(root)
    stream = events(root, report)
    assert sum(e["event"] == "playbook_on_play_start" for e in stream) == 2
    order = [e["event_data"]["host"] for e in stream if e["event"] == "runner_on_ok"]
    assert set(order[:4]) == set(names[:2]) and set(order[4:]) == set(names[2:])
    assert (root / "playbooks" / "batches.yml").read_bytes() == original
    assert [p.name for p in (root / "playbooks").iterdir()] == ["batches.yml"]  # copy removed
    assert report.content.files["playbooks/batches.yml"].startswith("sha256:")

    done = play(
        root, tmp_path, "batches", "--serial", "2", "--max-fail-percentage", "0",
        "-e", f"failing_host={names[0]}",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = latest(root)
    assert {r.host for r in report.steps[0].results} == set(names[:2])  # batch 2 never ran
    assert len(list((root / "evidence" / "artifacts").iterdir())) == 1  # keep_artifacts: 1
    assert_clean(tmp_path, root, fleet)


def test_host_key_checking_stays_on_whatever_ansible_cfg_says(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    root = content_repo(tmp_path, fleet, "batches.yml")
    project_known_hosts = root / "known_hosts"
    project_known_hosts.write_text("")
    config = yaml.safe_load((root / "butler.yaml").read_text())
    config["ssh"]["known_hosts"] = "known_hosts"
    (root / "butler.yaml").write_text(yaml.safe_dump(config))
    (root / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    root.chmod(0o755)
    done = play(root, tmp_path, "batches")
    assert done.returncode == 1, done.stderr
    assert "host_key_checking: overridden" in done.stderr
    result = latest(root).steps[0].results[0]
    assert result.status == "unreachable"
    assert "Host key verification failed" in (result.message or "")

    done = play(root, tmp_path, "batches", "--accept-new-host-keys")
    assert done.returncode == 0, done.stderr
    assert fleet.host(next(iter(fleet.hosts))).host_key_pub in project_known_hosts.read_text()


def test_example_patch_playbook_runs_in_check_mode_on_the_local_inventory(
    tmp_path: Path,
) -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("the example runs apt on Debian-family machines")
    state = subprocess.run(
        ["apt-get", "check", "-qq"], capture_output=True, text=True, timeout=120, check=False
    )
    if state.returncode != 0:  # e.g. another apt-get install running on this machine
        pytest.skip(f"this machine's apt state is not consistent: {state.stderr.strip()[:200]}")
    root = tmp_path / "content"
    shutil.copytree(REPO / "playbooks", root / "playbooks")
    shutil.copytree(REPO / "inventories", root / "inventories")
    (root / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    done = subprocess.run(
        [BUTLER, "-C", str(root), "play", "patch", "--check"], capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S, env=run_env(tmp_path), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = latest(root)
    assert report.dry_run is True
    assert report.steps[0].hosts["localhost"].failed == 0
    tasks = {r.check: r.status for r in report.steps[0].results}
    assert tasks["Refresh the apt package lists (Debian family)"] == "skipped"  # no fetch
    assert tasks["Upgrade packages (Debian family)"] == "pass"


@pytest.fixture(scope="module")
def one_host(sshd_fleet_factory) -> SshdFleet:  # type: ignore[no-untyped-def]
    """One host for tests that never reach it."""
    return sshd_fleet_factory(1)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nosuch"], "no playbook 'nosuch'"),
        (["batches", "-e", "novalue"], "expected key=value"),
        (["batches", "-e", "@missing.yml"], "cannot read extra vars file"),
        (["batches", "--serial", "0"], "serial must be"),
        (["batches", "-i", str(REPO / "tests/fixtures/inventories/broken/bad.ini")], "inventory"),
        (["batches", "--limit", "nohost"], "matches no host"),
    ],
)
def test_bad_input_exits_2_before_running(
    one_host: SshdFleet, tmp_path: Path, args: list[str], needle: str
) -> None:
    root = content_repo(tmp_path, one_host, "batches.yml")
    result = CliRunner().invoke(cli, ["-C", str(root), "play", *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not (root / "evidence").exists()


def test_playbook_ansible_rejects_is_recorded_and_exits_2(
    one_host: SshdFleet, tmp_path: Path
) -> None:
    root = content_repo(tmp_path, one_host)
    (root / "playbooks" / "broken.yml").write_text(
        "- hosts: fleet\n  gather_facts: false\n  tasks:\n    - no_such_module_anywhere: {}\n"
    )
    done = play(root, tmp_path, "broken")
    assert done.returncode == 2, done.stderr
    report = latest(root)
    assert report.result == "error"
    assert "no_such_module_anywhere" in (report.error or "")
    assert "no_such_module_anywhere" in done.stderr

"""`butler-maint check` against real sshd hosts: the acceptance of the checks issue."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from butler_maint.evidence import EvidenceStore
from butler_maint.model.content import load_checklist
from tests.harness.sshd_fleet import descendants

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUTLER = str(Path(sys.executable).parent / "butler-maint")


def content_repo(tmp_path: Path, fleet, checklist: str | None = None, **ssh: object) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    if checklist is None:
        shutil.copy(REPO / "checklists" / "linux-baseline.yaml", root / "checklists")
    else:
        (root / "checklists" / "probe.yaml").write_text(checklist)
    (root / "inventories").mkdir()
    fleet.write_inventory(root / "inventories" / "fleet.yml", group="linux")
    settings = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False, **ssh}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/fleet.yml", "ssh": settings})
    )
    return root


def butler(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUTLER, "-C", str(root), *args], capture_output=True, text=True, timeout=300,
        env=env, check=False,
    )  # fmt: skip


def test_twenty_hosts_baseline_one_result_per_host_and_check(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(20)
    root = content_repo(tmp_path, fleet)
    done = butler(root, "check", "linux-baseline")
    assert done.returncode in (0, 1), done.stderr
    report = EvidenceStore(root / "evidence").load("latest")
    checks = load_checklist(root / "checklists" / "linux-baseline.yaml").model.checks
    results = report.steps[0].results
    assert len(results) == 20 * len(checks)
    assert {(r.host, r.check) for r in results} == {(h, c.id) for h in fleet.hosts for c in checks}
    summary = report.summary
    assert summary.total == len(results)
    assert sum(summary.count(s) for s in {r.status for r in results}) == summary.total
    assert set(report.host_keys) == set(fleet.hosts)
    assert all(v.startswith("ssh-ed25519 SHA256:") for v in report.host_keys.values())
    assert {r.status for r in results if r.check == "disk-root"} == {"pass"}
    assert {r.status for r in results if r.check == "sshd-running"} == {"pass"}


SLOW = """checklist: probe
hosts: linux
checks:
  - id: first
    command: {run: "touch {{ sandbox }}/started; sleep 5"}
  - id: quick
    command: {run: "true"}
"""


def test_host_stopped_mid_run_is_an_error_and_others_complete(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(3)
    root = content_repo(tmp_path, fleet, SLOW, command_timeout=8)
    victim = sorted(fleet.hosts)[1]
    proc = subprocess.Popen(
        [BUTLER, "-C", str(root), "check", "probe", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    marker = fleet.host(victim).sandbox / "started"
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not marker.exists():
        proc.kill()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"the check never started on {victim} (exit {proc.returncode}): {err}{out}")
    listener = fleet.listener_pid(victim)
    assert listener is not None
    frozen = {listener, *descendants([listener])}  # the sshd serving our session too
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert proc.returncode == 1, err
    report = EvidenceStore(root / "evidence").load("latest")
    by = {(r.host, r.check): r for r in report.steps[0].results}
    assert by[(victim, "first")].status == "error"
    assert "no answer within 8 s" in (by[(victim, "first")].message or "")
    for host in fleet.hosts:
        if host != victim:
            assert by[(host, "first")].status == "pass"
            assert by[(host, "quick")].status == "pass"


HOSTILE = """checklist: probe
hosts: linux
checks:
  - id: literal
    file: {path: "{{ evil }}", exists: false}
  - id: content
    file: {path: "{{ sandbox }}/data", contains: "{{ evil }}"}
  - id: unit
    service: {name: "{{ evil }}", running: false, enabled: false}
"""


@pytest.mark.parametrize(
    "value", ["; touch {s}", "$(touch {s})", "`touch {s}`", "a\ntouch {s}", "' ; touch {s} ; '"]
)
def test_hostile_values_arrive_literally(sshd_fleet_factory, tmp_path: Path, value: str) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    sentinel = tmp_path / "SENTINEL"
    root = content_repo(tmp_path, fleet, HOSTILE)
    evil = value.format(s=sentinel)
    (root / "inventories" / "fleet.yml").write_text(
        (root / "inventories" / "fleet.yml").read_text()
    )
    fleet.write_inventory(
        root / "inventories" / "fleet.yml", group="linux",
        extra_vars={h: {"evil": evil} for h in fleet.hosts},
    )  # fmt: skip
    (fleet.host(next(iter(fleet.hosts))).sandbox / "data").write_text("nothing\n")
    done = butler(root, "check", "probe", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    assert not sentinel.exists()
    report = EvidenceStore(root / "evidence").load("latest")
    assert {r.check for r in report.steps[0].results} == {"literal", "content", "unit"}
    assert next(r for r in report.steps[0].results if r.check == "literal").status == "pass"


CANARY_CHECKLIST = """checklist: probe
hosts: linux
checks:
  - id: vault-echo
    command: {run: "echo token={{ vault_canary }}", expect: {stdout: "token=.*"}}
  - id: env-echo
    command:
      run: "echo {{ env('BUTLER_TEST_TOKEN') }} >&2; echo {{ env('BUTLER_TEST_TOKEN') }}; exit 3"
  - id: remote-secret
    secret: true
    command: {run: "cat {{ sandbox }}/secret.txt", expect: {stdout: "^s3cr3t"}}
"""


def test_canary_secrets_never_appear(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    root = content_repo(tmp_path, fleet, CANARY_CHECKLIST)
    vault_canary, env_canary, remote = "VAULTCANARY-8f2d1", "ENVCANARY-77aa3", "s3cr3t-REMOTE-91"
    password = tmp_path / "vault-pass"
    password.write_text("correct horse\n")
    encrypted = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt_string",
         "--vault-password-file", str(password), vault_canary, "--name", "vault_canary"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    group_vars = root / "inventories" / "group_vars"
    group_vars.mkdir()
    (group_vars / "linux.yml").write_text(encrypted)
    host = next(iter(fleet.hosts))
    (fleet.host(host).sandbox / "secret.txt").write_text(remote + "\n")
    env = {**os.environ, "BUTLER_TEST_TOKEN": env_canary}
    outputs = []
    for fmt in ("text", "json", "yaml", "junit"):
        done = butler(root, "check", "probe", "--format", fmt,
                      "--vault-password-file", str(password), env=env)  # fmt: skip
        assert done.returncode == 1, done.stderr
        outputs.append(done.stdout + done.stderr)
    evidence = b"".join(p.read_bytes() for p in (root / "evidence").rglob("*") if p.is_file())
    for canary in (vault_canary, env_canary, remote):
        assert canary.encode() not in evidence
        for output in outputs:
            assert canary not in output
    report = EvidenceStore(root / "evidence").load("latest")
    by = {r.check: r for r in report.steps[0].results}
    assert by["vault-echo"].status == "pass"
    assert by["remote-secret"].status == "pass"
    assert by["remote-secret"].observed == "********"
    assert by["env-echo"].status == "fail"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_is_reported(sshd_fleet_factory, tmp_path: Path, sig: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    """cron kills long runs (SIGTERM), a dropped SSH session hangs up (SIGHUP): the
    report is written, exit 128 + the signal and no traceback."""
    fleet = sshd_fleet_factory(1)
    root = content_repo(tmp_path, fleet, SLOW)
    proc = subprocess.Popen([BUTLER, "-C", str(root), "check", "probe"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    marker = fleet.host(next(iter(fleet.hosts))).sandbox / "started"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    assert "Traceback" not in err
    report = EvidenceStore(root / "evidence").load("latest")
    assert report.result == "interrupted"
    assert {r.status for r in report.steps[0].results} == {"not_run"}

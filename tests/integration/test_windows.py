"""Maintenance windows and run-due against real hosts: batches, failure threshold,
freezes and overrides, four-eyes approval, idempotent cron runs and the run-due lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.index import IndexEntry, read_entries

pytestmark = pytest.mark.integration
BUTLER = str(Path(sys.executable).parent / "butler-maint")
# The test window opens 12 h from now, so an ad hoc run is never inside an occurrence
# (which would end the run with the occurrence) whatever time the suite runs at.
OPENS = (datetime.now(UTC).hour + 12) % 24

HEALTH = """checklist: health
hosts: linux
checks:
  - id: healthy
    file: {path: "{{ sandbox }}/healthy"}
"""


def window_doc(**extra: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "window": "patch", "timezone": "UTC", "every": f"0 {OPENS} * * *", "duration": "3h",
        "hosts": "linux", "steps": [{"checklist": "health"}],
    }  # fmt: skip
    doc.update(extra)
    return doc


def repo(tmp_path: Path, fleet, schedule: dict[str, object], broken: set[str] = set()) -> Path:  # type: ignore[no-untyped-def]  # noqa: B006
    root = tmp_path / "content"
    for sub in ("checklists", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    (root / "checklists" / "health.yaml").write_text(HEALTH)
    name = str(schedule.get("window") or schedule.get("routine"))
    (root / "schedules" / f"{name}.yaml").write_text(yaml.safe_dump(schedule))
    python = {name: {"ansible_python_interpreter": "/usr/bin/python3"} for name in fleet.hosts}
    fleet.write_inventory(root / "inventories" / "hosts.yml", group="linux", extra_vars=python)
    settings = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/hosts.yml", "ssh": settings})
    )
    for host in fleet.hosts.values():
        if host.name not in broken:
            (host.sandbox / "healthy").write_text("ok\n")
    return root


def butler(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def latest(root: Path):  # type: ignore[no-untyped-def]
    return EvidenceStore(root / "evidence").load("latest")


def test_batches_stop_when_max_fail_percentage_is_exceeded(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(10)
    root = repo(tmp_path, fleet, window_doc(serial="2", max_fail_percentage=20),
                broken={"host02", "host04", "host05"})  # fmt: skip
    result = butler(root, "window", "run", "patch")
    assert result.exit_code == 1, result.output
    for number, pair in enumerate(["host01, host02", "host03, host04", "host05, host06"], 1):
        assert f"batch {number}: {pair}" in result.stderr
    assert "batch 4" not in result.stderr
    report = latest(root)
    assert report.kind == "window" and report.result == "fail"
    by_host = {r.host: r for r in report.steps[0].results}
    assert {h for h, r in by_host.items() if r.status == "fail"} == {"host02", "host04", "host05"}
    assert {h for h, r in by_host.items() if r.status == "pass"} == {"host01", "host03", "host06"}
    not_run = {h: r for h, r in by_host.items() if r.status == "not_run"}
    assert set(not_run) == {"host07", "host08", "host09", "host10"}
    reason = not_run["host07"].message or ""
    assert "max_fail_percentage 20 exceeded: 3 of 10 hosts failed" in reason
    assert "window patch: stopped: max_fail_percentage 20 exceeded" in result.stderr
    assert report.stopped is not None and report.stopped.startswith("max_fail_percentage 20")
    shown = butler(root, "report", "show", "latest")
    assert "stopped: max_fail_percentage 20 exceeded" in shown.output
    assert "host02  healthy  fail  observed 'absent', expected exists" in shown.output
    assert "FAIL" in result.stderr and "host02  health/healthy" in result.stderr
    assert report.trigger.by == "operator" and report.trigger.schedule == "patch"


def test_no_batch_starts_after_the_window_ends(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from butler_maint.cli.context import App
    from butler_maint.inventory import Inventory
    from butler_maint.runs.occurrence import window_request
    from butler_maint.runs.request import Target
    from butler_maint.runs.stop import Stop
    from butler_maint.runs.window import run_window

    fleet = sshd_fleet_factory(4)
    root = repo(tmp_path, fleet, window_doc(serial="1"))
    app = App.locate(str(root))
    now = datetime.now(UTC)
    inventory = Inventory.load([root / "inventories" / "hosts.yml"])
    target = Target(root, app.config, inventory, "op@x")
    request = window_request(target, "patch", now=now, occurrence=None)
    ticks = iter([now, now, now + timedelta(hours=1), now + timedelta(hours=4)])

    def clock() -> datetime:
        return next(ticks, now + timedelta(hours=5))

    outcome = run_window(request, Stop(), play=_no_playbooks, clock=clock)
    report = EvidenceStore(root / "evidence").load(outcome.written.id)
    statuses = {r.host: r.status for r in report.steps[0].results}
    assert statuses == {
        "host01": "pass",
        "host02": "pass",
        "host03": "not_run",
        "host04": "not_run",
    }
    message = next(r.message for r in report.steps[0].results if r.host == "host03")
    assert "the window ended" in (message or "")


def _no_playbooks(step, hosts, dry_run, stop):  # type: ignore[no-untyped-def]
    raise AssertionError("no playbook step in this window")


def test_frozen_window_needs_an_override_with_a_reason(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    today = datetime.now(UTC).date()
    freeze = [{"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2)),
               "reason": "peak trading"}]  # fmt: skip
    root = repo(tmp_path, fleet, window_doc(freeze=freeze))
    refused = butler(root, "window", "run", "patch")
    assert refused.exit_code == 3
    assert "frozen (peak trading" in refused.stderr
    assert not (root / "evidence" / "index.jsonl").exists()
    assert butler(root, "window", "run", "patch", "--override").exit_code == 2
    done = butler(root, "window", "run", "patch", "--override", "--reason", "CVE-2026-0001 hotfix",
                  "--operator", "alice@ops")  # fmt: skip
    assert done.exit_code == 0, done.output
    report = latest(root)
    assert report.override is not None
    assert (report.override.reason, report.override.by) == ("CVE-2026-0001 hotfix", "alice@ops")


def test_four_eyes_approval(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    root = repo(tmp_path, fleet, window_doc(requires_approval=True))
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    slot = slot.replace(hour=OPENS)
    occurrence = slot.strftime("%Y-%m-%dT%H:%MZ")
    run = ("window", "run", "patch", "--occurrence", occurrence)
    unapproved = butler(root, *run, "--operator", "bob@ops")
    assert unapproved.exit_code == 3 and "requires approval" in unapproved.stderr
    approved = butler(root, "window", "approve", "patch", "--occurrence", occurrence,
                      "--by", "bob@ops", "--note", "CHG-1234")  # fmt: skip
    assert approved.exit_code == 0, approved.output
    again = butler(
        root, "window", "approve", "patch", "--occurrence", occurrence, "--by", " BOB@ops"
    )
    assert again.exit_code == 2 and "already approved" in again.stderr
    self_run = butler(root, *run, "--operator", "Bob@elsewhere")
    assert self_run.exit_code == 3 and "the operator's own" in self_run.stderr
    done = butler(root, *run, "--operator", "alice@ops")
    assert done.exit_code == 0, done.output
    report = latest(root)
    assert report.approval is not None
    assert (report.approval.by, report.approval.note) == ("bob@ops", "CHG-1234")
    assert report.trigger.occurrence == slot
    verified = butler(root, "report", "verify")
    assert verified.exit_code == 0 and "2 reports" in verified.output, verified.output


def _hour_after(minutes: int) -> datetime:
    base = (datetime.now(UTC) - timedelta(hours=6)).replace(minute=0, second=0, microsecond=0)
    return base + timedelta(minutes=minutes)


def routine_repo(tmp_path: Path, fleet, missed: str) -> Path:  # type: ignore[no-untyped-def]
    doc = {"routine": "hourly", "timezone": "UTC", "every": "0 * * * *", "duration": "30m",
           "checklist": "health", "missed": missed}  # fmt: skip
    return repo(tmp_path, fleet, doc)


def cron_runs(root: Path) -> list[IndexEntry]:
    index = root / "evidence" / "index.jsonl"
    return [e for e in read_entries(index) if e.trigger == "cron"] if index.exists() else []


@pytest.mark.parametrize("missed", ["run-once", "skip"])
def test_run_due_is_idempotent_and_follows_the_missed_policy(
    sshd_fleet_factory, tmp_path: Path, missed: str
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    root = routine_repo(tmp_path, fleet, missed)
    t = _hour_after(5)
    for _ in range(2):
        result = butler(root, "run-due", "--at", t.isoformat())
        assert result.exit_code == 0, result.output
        assert result.output == ""  # quiet when all passed
    runs = cron_runs(root)
    assert [(r.schedule, r.occurrence) for r in runs] == [("hourly", t.replace(minute=0))]
    later = t + timedelta(hours=2, minutes=40)  # the next two windows closed unrun
    assert butler(root, "run-due", "--at", later.isoformat()).exit_code == 0
    runs = cron_runs(root)
    if missed == "skip":
        assert len(runs) == 1
    else:
        assert len(runs) == 2
        caught_up = (t + timedelta(hours=2)).replace(minute=0)
        assert runs[-1].occurrence == caught_up
    assert butler(root, "run-due", "--at", later.isoformat()).exit_code == 0
    assert len(cron_runs(root)) == len(runs)


def test_run_due_reports_failures(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    root = routine_repo(tmp_path, fleet, "run-once")
    for host in fleet.hosts.values():
        (host.sandbox / "healthy").unlink()
    result = butler(root, "run-due", "--at", _hour_after(5).isoformat())
    assert result.exit_code == 1
    assert "run-due: hourly" in result.stderr and ": fail: report " in result.stderr
    assert "1 failing: host01 healthy fail: observed 'absent', expected exists" in result.stderr


SLOW = """checklist: slow
hosts: linux
checks:
  - id: busy
    command:
      run: >-
        touch {{ marker }}; i=0;
        while [ -e {{ marker }}.hold ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done
"""


def test_run_due_lock(tmp_path: Path) -> None:
    root = tmp_path / "content"
    for sub in ("checklists", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    marker = tmp_path / "started"
    (root / "checklists" / "slow.yaml").write_text(SLOW)
    routine = {"routine": "slow", "every": "0 * * * *", "duration": "30m", "checklist": "slow"}
    (root / "schedules" / "slow.yaml").write_text(yaml.safe_dump(routine))
    (root / "inventories" / "local.yml").write_text(yaml.safe_dump(
        {"all": {"children": {"linux": {"hosts": {"localhost": {
            "ansible_connection": "local", "marker": str(marker)}}}}}}))  # fmt: skip
    (root / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    at = _hour_after(5).isoformat()
    hold = tmp_path / "started.hold"  # while it exists, the check holds the run (and its lock)
    hold.touch()
    command = [BUTLER, "-C", str(root), "run-due", "--at", at]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # its own session, so that killing it also ends the check it left sleeping on the host
    holder = subprocess.Popen(command, start_new_session=True, **quiet)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 3
        assert f"pid {holder.pid}" in second.stderr
        assert holder.poll() is None  # refused while the holder still runs: it did not wait
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        marker.unlink()
        hold.unlink()
        third = subprocess.Popen(command, **quiet)  # type: ignore[call-overload]
        deadline = time.monotonic() + 60
        while not marker.exists() and third.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()  # the lock was free at once: the third call is running
        assert third.wait(timeout=60) == 0
    finally:
        hold.unlink(missing_ok=True)  # ends the check a killed holder left behind
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)


STAMP = """- hosts: linux
  gather_facts: false
  tasks:
    - name: stamp the sandbox
      ansible.builtin.copy:
        dest: "{{ sandbox }}/patched"
        content: "{{ release }}\\n"
"""


@pytest.mark.parametrize("dry_run", [False, True])
def test_window_with_a_playbook_step(sshd_fleet_factory, tmp_path: Path, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(4)
    steps = [{"checklist": "health"},
             {"playbook": "playbooks/stamp.yml", "vars": {"release": "2026.11"}},
             {"checklist": "health"}]  # fmt: skip
    root = repo(tmp_path, fleet, window_doc(serial="50%", steps=steps))
    (root / "playbooks").mkdir()
    (root / "playbooks" / "stamp.yml").write_text(STAMP)
    args = ["window", "run", "patch", *(["--dry-run"] if dry_run else [])]
    result = butler(root, *args)
    assert result.exit_code == 0, result.output
    assert "batch 1: host01, host02" in result.stderr and "batch 2: host03, host04" in result.stderr
    report = latest(root)
    assert report.kind == "window" and report.dry_run is dry_run
    reports = list(read_entries(root / "evidence" / "index.jsonl"))
    assert [e.kind for e in reports] == ["window"]  # one report per window run
    assert len([p for p in (root / "evidence").rglob("*.yaml") if p.name[0].isdigit()]) == 1
    kept = root / "evidence" / (report.artifacts or "-")
    assert sorted(p.name for p in kept.iterdir()) == ["ansible-runner-1", "ansible-runner-2"]
    playbook = report.steps[1]
    assert set(playbook.hosts) == set(fleet.hosts)
    assert all(s.changed == 1 and s.failed == 0 for s in playbook.hosts.values())
    assert {r.status for r in report.steps[0].results} == {"pass"}
    assert len(report.steps[2].results) == 4
    for host in fleet.hosts.values():
        stamped = host.sandbox / "patched"
        assert stamped.exists() is not dry_run
        if not dry_run:
            assert stamped.read_text() == "2026.11\n"


def _marked(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker`` (the hosts are local)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def test_sigterm_stops_a_window_on_its_hosts_and_records_it(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """cron's SIGTERM in the middle of a checklist step: the command ends with 143 and an
    ``interrupted`` report, the later batch is ``not_run``, and the check scripts still
    running on the hosts are ended, not left to their command timeout."""
    fleet = sshd_fleet_factory(4)
    root = repo(tmp_path, fleet, window_doc(serial="2"))
    marker = f"butler-window-stop-{os.getpid()}-{time.monotonic_ns()}"
    slow = HEALTH + f'  - id: slow\n    command: {{run: "sleep 120 # {marker}"}}\n'
    (root / "checklists" / "health.yaml").write_text(slow)
    proc = subprocess.Popen([BUTLER, "-C", str(root), "window", "run", "patch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(_marked(marker)) < 2 and time.monotonic() < deadline:  # both hosts of batch 1
        time.sleep(0.05)
    assert len(_marked(marker)) >= 2, "the slow checks never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    left = _marked(marker)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:  # the hosts' sshd reap their sessions
        time.sleep(0.05)
        left = _marked(marker)
    assert left == []
    report = latest(root)
    assert report.result == "interrupted"
    by_host = {}
    for result in report.steps[0].results:
        by_host.setdefault(result.host, set()).add(str(result.status))
    assert by_host["host01"] == by_host["host02"] == {"not_run"}
    assert by_host["host03"] == by_host["host04"] == {"not_run"}
    later = next(r for r in report.steps[0].results if r.host == "host03")
    assert later.message == "the run was interrupted by signal 15"


def test_a_host_failing_its_pre_check_gets_no_playbook_task(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """6 hosts, serial 3, host02 unhealthy: host02 gets no playbook task and no post-check
    (``not_run`` naming the failed check); the other hosts complete; the terminal says
    which check failed where."""
    fleet = sshd_fleet_factory(6)
    steps = [{"checklist": "health"},
             {"playbook": "playbooks/stamp.yml", "vars": {"release": "2026.11"}},
             {"checklist": "health"}]  # fmt: skip
    root = repo(tmp_path, fleet, window_doc(serial="3", steps=steps), broken={"host02"})
    (root / "playbooks").mkdir()
    (root / "playbooks" / "stamp.yml").write_text(STAMP)
    result = butler(root, "window", "run", "patch")
    assert result.exit_code == 1, result.output
    report = latest(root)
    stamped = {name for name, host in fleet.hosts.items() if (host.sandbox / "patched").exists()}
    assert stamped == set(fleet.hosts) - {"host02"}
    assert "host02" not in report.steps[1].hosts
    for step in report.steps[1:]:
        [skipped] = [r for r in step.results if r.host == "host02"]
        assert skipped.status == "not_run"
        assert "failed step 1 (checklist health): healthy fail" in (skipped.message or "")
    post = {r.host: r.status for r in report.steps[2].results}
    assert all(post[h] == "pass" for h in fleet.hosts if h != "host02")
    assert "host02" in result.stderr and "healthy" in result.stderr


def test_rerun_failed_touches_only_the_failed_hosts(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A window fails on host02 (gated before the playbook); once fixed, --rerun-failed
    runs the window on host02 alone (sandbox markers prove it), recorded as a re-run."""
    fleet = sshd_fleet_factory(4)
    steps = [{"checklist": "health"},
             {"playbook": "playbooks/stamp.yml", "vars": {"release": "2026.11"}}]  # fmt: skip
    root = repo(tmp_path, fleet, window_doc(serial="2", steps=steps), broken={"host02"})
    (root / "playbooks").mkdir()
    (root / "playbooks" / "stamp.yml").write_text(STAMP)
    first = butler(root, "window", "run", "patch")
    assert first.exit_code == 1, first.output
    failed_id = latest(root).id
    for host in fleet.hosts.values():
        (host.sandbox / "patched").unlink(missing_ok=True)
    (fleet.host("host02").sandbox / "healthy").write_text("ok\n")
    again = butler(root, "window", "run", "patch", "--rerun-failed", failed_id)
    assert again.exit_code == 0, again.output
    stamped = {name for name, host in fleet.hosts.items() if (host.sandbox / "patched").exists()}
    assert stamped == {"host02"}
    report = latest(root)
    assert report.rerun_of == failed_id
    assert {r.host for step in report.steps for r in step.results} == {"host02"}
    nothing = butler(root, "window", "run", "patch", "--rerun-failed", report.id)
    assert nothing.exit_code == 2 and "no host that failed" in nothing.stderr


REBOOT = """- hosts: linux
  gather_facts: false
  tasks:
    - name: prepare
      ansible.builtin.file:
        path: "{{ sandbox }}/prepared"
        state: touch
    - name: announce the reboot (the test takes the host's sshd down on this marker)
      ansible.builtin.file:
        path: "{{ sandbox }}/rebooting"
        state: touch
      delegate_to: localhost
    - name: let the host go down
      ansible.builtin.pause:
        seconds: 3
"""


def test_post_checks_wait_for_a_rebooted_host(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A playbook "reboots" host01 (its sshd is down until the post-checks have tried it
    once, then back on its port); the post-check step with retries/delay waits for it and
    passes, its attempts recorded."""
    import threading

    fleet = sshd_fleet_factory(2)
    steps = [{"playbook": "playbooks/reboot.yml"},
             {"checklist": "health", "retries": 30, "delay": "1s"}]  # fmt: skip
    root = repo(tmp_path, fleet, window_doc(steps=steps))
    (root / "playbooks").mkdir()
    (root / "playbooks" / "reboot.yml").write_text(REBOOT)
    marker = fleet.host("host01").sandbox / "rebooting"
    finished = threading.Event()

    def reboot() -> None:  # sshd dies with the thread that started it: this one waits
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        if marker.exists():
            fleet.restart("host01", down_s=60, until_tried=True)  # down until polled once
        finished.wait(120)

    rebooter = threading.Thread(target=reboot, daemon=True)
    rebooter.start()
    try:
        result = butler(root, "window", "run", "patch")
    finally:
        finished.set()
        rebooter.join(60)
    assert result.exit_code == 0, result.output
    report = latest(root)
    post = {r.host: r for r in report.steps[1].results}
    assert post["host01"].status == "pass" and (post["host01"].attempts or 1) > 1
    assert post["host02"].status == "pass" and post["host02"].attempts is None


FIX = """- hosts: linux
  gather_facts: false
  tasks:
    - name: put the file back
      ansible.builtin.copy:
        dest: "{{ sandbox }}/healthy"
        content: "{{ note }}\\n"
    - name: mark the host remediated
      ansible.builtin.file:
        path: "{{ sandbox }}/remediated"
        state: touch
"""


@pytest.mark.parametrize("how", ["check", "window"])
def test_remediation_runs_on_exactly_the_failed_hosts(
    sshd_fleet_factory, tmp_path: Path, how: str
) -> None:  # type: ignore[no-untyped-def]
    """A check with ``remediate:`` failing on 2 of 5 hosts: its playbook runs on exactly
    those 2 (markers prove it), the re-check passes there, and the one report links the
    re-check to the playbook step that remediated it."""
    fleet = sshd_fleet_factory(5)
    steps = [{"checklist": "health", "remediate": True}]
    root = repo(tmp_path, fleet, window_doc(steps=steps), broken={"host02", "host04"})
    remediable = HEALTH + "    remediate: {playbook: playbooks/fix.yml, vars: {note: fixed}}\n"
    (root / "checklists" / "health.yaml").write_text(remediable)
    (root / "playbooks").mkdir()
    (root / "playbooks" / "fix.yml").write_text(FIX)
    args = (
        ["check", "health", "--remediate", "--yes"]
        if how == "check"
        else ["window", "run", "patch"]
    )
    result = butler(root, *args)
    assert result.exit_code == 0, result.output
    remediated = {n for n, h in fleet.hosts.items() if (h.sandbox / "remediated").exists()}
    assert remediated == {"host02", "host04"}
    report = latest(root)
    assert [e.kind for e in read_entries(root / "evidence" / "index.jsonl")] == [report.kind]
    by_host = {r.host: r for r in report.steps[0].results}
    assert all(r.status == "pass" for r in by_host.values())
    for name in ("host02", "host04"):
        link = by_host[name].remediation
        assert link is not None and link.playbook == "playbooks/fix.yml" and link.step == 2
        assert link.before.status == "fail"
    assert by_host["host01"].remediation is None
    fix = report.steps[1]
    assert fix.remediates == ["health/healthy"] and set(fix.hosts) == {"host02", "host04"}  # type: ignore[union-attr]

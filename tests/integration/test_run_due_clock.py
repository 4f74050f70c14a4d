"""``run-due`` and the clock, on a local-connection inventory (real checks on this
machine, no SSH): a replay of a past time records ``trigger.at`` and runs once, a run
at the real time records none, and a window that requires approval is reported once,
then runs at the first call after its approval."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.index import read_entries

pytestmark = pytest.mark.integration

HEALTH = """checklist: health
hosts: linux
checks:
  - id: healthy
    file: {path: "{{ flag }}"}
"""


def project(tmp_path: Path, schedule: dict[str, object]) -> Path:
    root = tmp_path / "content"
    for sub in ("checklists", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    flag = tmp_path / "healthy"
    flag.write_text("ok\n")
    (root / "checklists" / "health.yaml").write_text(HEALTH)
    name = schedule.get("window") or schedule.get("routine")
    (root / "schedules" / f"{name}.yaml").write_text(yaml.safe_dump(schedule))
    inventory = {"all": {"children": {"linux": {"hosts": {"localhost": {
        "ansible_connection": "local", "flag": str(flag)}}}}}}  # fmt: skip
    (root / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    (root / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    return root


def butler(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def report_ids(root: Path) -> list[str]:
    index = root / "evidence" / "index.jsonl"
    return [e.id for e in read_entries(index)] if index.exists() else []


def trigger_line(root: Path, report_id: str) -> str:
    text = EvidenceStore(root / "evidence").path_of(report_id).read_text()
    return next(line for line in text.splitlines() if line.startswith("trigger:"))


def test_a_replay_records_its_time_and_runs_once(tmp_path: Path) -> None:
    root = project(tmp_path, {"routine": "hourly", "timezone": "UTC", "every": "0 * * * *",
                              "duration": "30m", "checklist": "health"})  # fmt: skip
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    at = hour + timedelta(minutes=5)
    for _ in range(2):
        replay = butler(root, "run-due", "--at", at.isoformat())
        assert (replay.exit_code, replay.output) == (0, "")
    (replayed,) = report_ids(root)  # the second replay found the first one's run
    store = EvidenceStore(root / "evidence")
    trigger = store.load(replayed).trigger
    assert (trigger.by, trigger.occurrence, trigger.at) == ("cron", hour, at)
    assert "at: " in trigger_line(root, replayed)

    now = butler(root, "run-due")  # the hours after the replayed one: one catch-up
    assert (now.exit_code, now.output) == (0, "")
    first, live = report_ids(root)
    assert first == replayed
    assert store.load(live).trigger.at is None
    assert " at: " not in trigger_line(root, live) and "{at: " not in trigger_line(root, live)
    verify = butler(root, "report", "verify")
    assert verify.exit_code == 0, verify.output


def test_an_unapproved_window_is_reported_once_then_runs_once_approved(tmp_path: Path) -> None:
    opened = datetime.now(UTC).hour  # open now, and for 3 h: both calls see one occurrence
    root = project(tmp_path, {"window": "patch", "timezone": "UTC", "every": f"0 {opened} * * *",
                              "duration": "3h", "hosts": "linux", "requires_approval": True,
                              "steps": [{"checklist": "health"}]})  # fmt: skip
    cron = ("run-due", "--operator", "cron@ops")
    first = butler(root, *cron)
    assert first.exit_code == 1, first.output
    (line,) = first.stderr.splitlines()
    assert line.startswith("run-due: patch (") and ": awaiting-approval: " in line
    second = butler(root, *cron)
    assert (second.exit_code, second.output) == (0, "")

    text = butler(root, "due")
    assert text.stdout.startswith("patch     awaiting approval of "), text.output
    (doc,) = json.loads(butler(root, "due", "--format", "json").stdout)
    assert doc["state"] == "awaiting-approval" and not doc["runnable"]
    occurrence = doc["due"]["utc"]
    assert f"--occurrence {occurrence}`" in line

    approve = ("window", "approve", "patch", "--occurrence", occurrence, "--by", "alice@ops")
    assert butler(root, *approve).exit_code == 0
    (doc,) = json.loads(butler(root, "due", "--format", "json").stdout)
    assert (doc["state"], doc["runnable"]) == ("due", True)
    ran = butler(root, *cron)
    assert (ran.exit_code, ran.output) == (0, ""), ran.output
    approval_id, run_id = report_ids(root)  # the approval is an entry of the chain
    report = EvidenceStore(root / "evidence").load(run_id)
    assert report.kind == "window" and report.result == "pass"
    assert report.approval is not None and report.approval.by == "alice@ops"
    assert report.approval.report == approval_id
    assert report.trigger.at is None
    after = butler(root, *cron)
    assert (after.exit_code, after.output) == (0, "")
    assert report_ids(root) == [approval_id, run_id]

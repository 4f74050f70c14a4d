"""``--fail-on SEVERITY`` on ``check``, ``window run`` and ``run-due``, on a local-connection
inventory (real checks on this machine, no SSH): failures below the threshold exit 0,
the evidence still records them as failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.index import read_entries

CHECKLIST = """checklist: health
hosts: linux
checks:
  - id: fine
    severity: critical
    file: {path: "{{ present }}"}
  - id: stale
    severity: high
    file: {path: "{{ absent }}"}
"""

CRITICAL = """  - id: gone
    severity: critical
    file: {path: "{{ absent }}"}
"""


def project(tmp_path: Path, *, critical: bool, schedule: dict[str, object] | None = None) -> Path:
    root = tmp_path / "content"
    for sub in ("checklists", "schedules", "inventories"):
        (root / sub).mkdir(parents=True)
    (tmp_path / "present").write_text("ok\n")
    checks = CHECKLIST + (CRITICAL if critical else "")
    (root / "checklists" / "health.yaml").write_text(checks)
    host = {"ansible_connection": "local", "present": str(tmp_path / "present"),
            "absent": str(tmp_path / "absent")}  # fmt: skip
    inventory = {"all": {"children": {"linux": {"hosts": {"localhost": host}}}}}
    (root / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    (root / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    if schedule is not None:
        name = schedule.get("window") or schedule.get("routine")
        (root / "schedules" / f"{name}.yaml").write_text(yaml.safe_dump(schedule))
    return root


def butler(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def only_report(root: Path) -> str:
    (entry,) = read_entries(root / "evidence" / "index.jsonl")
    return entry.id


def results(root: Path) -> dict[str, tuple[str, str | None]]:
    report = EvidenceStore(root / "evidence").load(only_report(root))
    return {r.check: (str(r.status), r.severity) for s in report.steps for r in s.results}


def test_check_at_critical_passes_a_high_failure(tmp_path: Path) -> None:
    root = project(tmp_path, critical=False)
    ran = butler(root, "check", "health", "--fail-on", "critical")
    assert ran.exit_code == 0, ran.output
    assert "1 fail" in ran.stderr  # the run still says what failed
    assert results(root)["stale"] == ("fail", "high")


def test_check_at_critical_fails_a_critical_failure(tmp_path: Path) -> None:
    root = project(tmp_path, critical=True)
    ran = butler(root, "check", "health", "--fail-on", "critical")
    assert ran.exit_code == 1, ran.output


@pytest.mark.parametrize("fail_on", ["any", "info", "high"])
def test_check_at_high_or_below_fails_a_high_failure(tmp_path: Path, fail_on: str) -> None:
    root = project(tmp_path, critical=False)
    assert butler(root, "check", "health", "--fail-on", fail_on).exit_code == 1


def test_check_without_fail_on_is_unchanged(tmp_path: Path) -> None:
    root = project(tmp_path, critical=False)
    assert butler(root, "check", "health").exit_code == 1


def test_an_unknown_severity_is_bad_input(tmp_path: Path) -> None:
    root = project(tmp_path, critical=False)
    ran = butler(root, "check", "health", "--fail-on", "severe")
    assert ran.exit_code == 2 and "--fail-on" in ran.output


def hourly() -> dict[str, object]:
    return {"routine": "hourly", "timezone": "UTC", "every": "0 * * * *", "duration": "30m",
            "checklist": "health"}  # fmt: skip


def a_past_time() -> str:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return (hour + timedelta(minutes=5)).isoformat()


@pytest.mark.integration
def test_run_due_at_critical_is_quiet_about_a_high_failure(tmp_path: Path) -> None:
    root = project(tmp_path, critical=False, schedule=hourly())
    ran = butler(root, "run-due", "--at", a_past_time(), "--fail-on", "critical")
    assert (ran.exit_code, ran.output) == (0, "")
    report = EvidenceStore(root / "evidence").load(only_report(root))
    assert report.result == "fail"  # the evidence says what happened


@pytest.mark.integration
def test_run_due_at_critical_reports_a_critical_failure(tmp_path: Path) -> None:
    root = project(tmp_path, critical=True, schedule=hourly())
    ran = butler(root, "run-due", "--at", a_past_time(), "--fail-on", "critical")
    assert ran.exit_code == 1, ran.output
    (line,) = ran.stderr.splitlines()
    assert line.startswith("run-due: hourly (") and ": fail: report " in line


@pytest.mark.integration
def test_run_due_without_fail_on_reports_a_high_failure(tmp_path: Path) -> None:
    root = project(tmp_path, critical=False, schedule=hourly())
    ran = butler(root, "run-due", "--at", a_past_time())
    assert ran.exit_code == 1, ran.output


@pytest.mark.integration
@pytest.mark.parametrize(("critical", "code"), [(False, 0), (True, 1)])
def test_window_run_at_critical(tmp_path: Path, critical: bool, code: int) -> None:
    opened = (datetime.now(UTC).hour + 12) % 24  # not open now: an ad hoc run
    window: dict[str, object] = {"window": "patch", "timezone": "UTC", "every": f"0 {opened} * * *",
              "duration": "1h", "hosts": "linux", "steps": [{"checklist": "health"}]}  # fmt: skip
    root = project(tmp_path, critical=critical, schedule=window)
    ran = butler(root, "window", "run", "patch", "--fail-on", "critical")
    assert ran.exit_code == code, ran.output
    assert results(root)["stale"] == ("fail", "high")
    assert butler(root, "window", "run", "patch").exit_code == 1

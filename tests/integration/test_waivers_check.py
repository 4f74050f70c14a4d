"""A real `butler-maint check` on the local connection with waivers: a failing file check
covered by a live waiver is `waived` in the evidence and the run passes; once the waiver
has expired the same check is `fail` again. `validate` checks waiver files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.cli.test_check_cli import LOCAL

CHECKLIST = """checklist: smoke
hosts: linux
checks:
  - id: app-dir
    directory: {path: "{{ app_dir }}"}
  - id: app-config
    file: {path: "{{ app_dir }}/app.conf"}
"""

WAIVER = """waivers:
  - hosts: linux
    checklist: smoke
    check: app-config
    reason: The app is configured through its environment until the migration
    ticket: CHG-42
    approved_by: jane.doe
    expires: {expires}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for sub in ("inventories", "checklists", "app", "waivers"):
        (tmp_path / sub).mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(LOCAL % (tmp_path / "app"))
    (tmp_path / "checklists" / "smoke.yaml").write_text(CHECKLIST)
    return tmp_path


def _run(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(repo), *args], catch_exceptions=False)


def _evidence(repo: Path, result: Result) -> dict[str, object]:
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("evidence: "))
    path = Path(line.split()[1])
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _waiver(repo: Path, expires: date) -> None:
    (repo / "waivers" / "app.yaml").write_text(WAIVER.format(expires=expires.isoformat()))


def test_live_waiver_records_waived_and_the_run_passes(repo: Path) -> None:
    today = datetime.now(UTC).date()
    _waiver(repo, today + timedelta(days=30))
    result = _run(repo, "check", "smoke")
    assert result.exit_code == 0, result.output
    report = _evidence(repo, result)
    assert report["result"] == "pass"
    assert report["failures"] == []
    summary = report["summary"]
    assert isinstance(summary, dict) and summary["waived"] == 1 and summary["pass"] == 1
    steps = report["steps"]
    assert isinstance(steps, list)
    results = {r["check"]: r for r in steps[0]["results"]}
    waived = results["app-config"]
    assert waived["status"] == "waived"
    assert waived["message"].startswith(
        f"waived by waivers/app.yaml#1 (CHG-42, until {today + timedelta(days=30)}): "
        "The app is configured"
    )
    assert "waived" in result.stdout  # the terminal says it too
    verified = _run(repo, "report", "verify")
    assert verified.exit_code == 0, verified.output


def test_expired_waiver_leaves_the_check_failing(repo: Path) -> None:
    _waiver(repo, datetime.now(UTC).date() - timedelta(days=1))
    result = _run(repo, "check", "smoke")
    assert result.exit_code == 1
    report = _evidence(repo, result)
    assert report["result"] == "fail"
    steps = report["steps"]
    assert isinstance(steps, list)
    statuses = {r["check"]: r["status"] for r in steps[0]["results"]}
    assert statuses == {"app-dir": "pass", "app-config": "fail"}


def test_a_broken_waiver_file_stops_the_run_with_path_line_col(repo: Path) -> None:
    (repo / "waivers" / "bad.yaml").write_text("waivers:\n  - hosts: linux\n    check: x\n")
    result = CliRunner().invoke(cli, ["-C", str(repo), "check", "smoke"])
    assert result.exit_code == 2
    assert "bad.yaml:2:5: waivers[0].reason: required field is missing" in result.output


def test_validate_reports_unknown_checks_and_patterns(repo: Path) -> None:
    text = WAIVER.format(expires="2027-12-31").replace("check: app-config", "check: nope")
    text = text.replace("hosts: linux", "hosts: dbservers")
    (repo / "waivers" / "app.yaml").write_text(text)
    result = _run(repo, "validate", "--no-syntax-check")
    assert result.exit_code != 0
    out = result.output
    assert "app.yaml:2:5: waivers[0].hosts: pattern 'dbservers' matches no host" in out
    assert "app.yaml:4:5: waivers[0].check: no check 'nope' in checklist 'smoke'" in out


def test_due_warns_about_waivers_expiring_soon(repo: Path) -> None:
    _waiver(repo, datetime.now(UTC).date() + timedelta(days=3))
    result = _run(repo, "due")
    assert result.exit_code == 0
    assert "warning: waiver waivers/app.yaml#1 (CHG-42: app-config on linux) expires in 3 days" in (
        result.stderr
    )

"""``run-due --at`` refuses the future; ``due`` and ``run-due`` with a window that
requires approval: awaiting approval until approved, reported by run-due once per
occurrence (fixed past times, nothing runs on a host)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.fixtures.local_window import local_window_project

WINDOW = {
    "window": "patch", "timezone": "Europe/Berlin", "every": "0 2 * * 0", "duration": "3h",
    "hosts": "linux", "requires_approval": True, "missed": "skip",
    "steps": [{"checklist": "health"}],
}  # fmt: skip
OPEN = "2026-11-15T01:30:00Z"  # Sunday 02:30 CET: the window of 01:00Z-04:00Z is open
OCCURRENCE = "2026-11-15T01:00:00.000Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return local_window_project(tmp_path, WINDOW)


def butler(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(project), *args])


def test_run_due_at_a_future_time_is_refused_before_anything_runs(project: Path) -> None:
    future = datetime.now(UTC) + timedelta(minutes=10)
    result = butler(project, "run-due", "--at", future.isoformat())
    assert result.exit_code == 2, result.output
    assert "--at is for replaying the past and for tests;" in result.stderr
    assert "is 10 minutes in the future" in result.stderr
    assert not (project / "evidence").exists()


def test_due_shows_a_window_awaiting_approval_until_it_is_approved(project: Path) -> None:
    text = butler(project, "due", "--at", OPEN)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"patch     awaiting approval of {OCCURRENCE} (window until ")
    (doc,) = json.loads(butler(project, "due", "--at", OPEN, "--format", "json").stdout)
    assert (doc["state"], doc["runnable"], doc["due"]["utc"]) == (
        "awaiting-approval", False, OCCURRENCE
    )  # fmt: skip
    assert not (project / "evidence").exists()  # due reads only
    approve = ("window", "approve", "patch", "--occurrence", OCCURRENCE, "--by", "alice@ops")
    assert butler(project, *approve).exit_code == 0
    after = butler(project, "due", "--at", OPEN)
    assert after.stdout.startswith("patch     due (window until 2026-11-15 05:00 CET)")
    (doc,) = json.loads(butler(project, "due", "--at", OPEN, "--format", "json").stdout)
    assert (doc["state"], doc["runnable"]) == ("due", True)


def test_run_due_reports_an_unapproved_window_once_per_occurrence(project: Path) -> None:
    first = butler(project, "run-due", "--at", OPEN, "--operator", "cron@ops")
    assert first.exit_code == 1, first.output
    (line,) = first.stderr.splitlines()
    assert line.startswith("run-due: patch (2026-11-15 01:00:00+00:00): awaiting-approval: ")
    assert f"butler-maint window approve patch --occurrence {OCCURRENCE}" in line
    for _ in range(2):
        quiet = butler(project, "run-due", "--at", OPEN, "--operator", "cron@ops")
        assert (quiet.exit_code, quiet.output) == (0, "")
    next_week = butler(project, "run-due", "--at", "2026-11-22T01:30:00Z")
    assert next_week.exit_code == 1  # the next occurrence is reported, once
    assert "2026-11-22T01:00:00.000Z" in next_week.stderr
    assert not (project / "evidence" / "index.jsonl").exists()  # nothing ran

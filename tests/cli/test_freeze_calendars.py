"""Acceptance: an Outlook-exported .ics (Windows TZIDs, VTIMEZONE, an all-day event, a
weekly series with an EXDATE) and a recurring YAML freeze block the right window
occurrences across the October and March DST changes: ``calendar`` and ``due`` show
them frozen and ``run-due`` refuses them (and runs the one the EXDATE frees)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.fixtures.local_window import local_window_project

OUTLOOK = Path(__file__).parent.parent / "fixtures" / "ics" / "outlook-change-freezes.ics"
WINDOW = {
    "window": "patch", "timezone": "Europe/Berlin", "every": "0 2 * * 0", "duration": "3h",
    "hosts": "linux", "missed": "skip", "steps": [{"checklist": "health"}],
    "freeze_files": ["freezes/outlook.ics", "freezes/recurring.yaml"],
}  # fmt: skip
RECURRING = """\
freezes:
  - every: last sunday          # the day of each DST change in Europe
    reason: Last-Sunday release train
  - every: year
    on: [01-01, 05-01]
    reason: Public holidays
"""
SAT_NIGHT = "Saturday night batch freeze"
LAST_SUNDAY = "Last-Sunday release train"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "freezes").mkdir()
    shutil.copy(OUTLOOK, tmp_path / "freezes" / "outlook.ics")
    (tmp_path / "freezes" / "recurring.yaml").write_text(RECURRING)
    return local_window_project(tmp_path, WINDOW)


def butler(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(project), *args])


def frozen_by_day(project: Path, start: str, days: int) -> dict[str, str | None]:
    result = butler(project, "calendar", "--from", start, "--days", str(days), "--format", "json")
    assert result.exit_code == 0, result.output
    return {
        row["utc"]: row["frozen"]["reason"] if row["frozen"] else None
        for row in json.loads(result.stdout)
    }


def test_validate_accepts_the_outlook_calendar_and_the_recurring_freezes(project: Path) -> None:
    result = butler(project, "validate", "--no-syntax-check")
    assert result.exit_code == 0, result.output


def test_calendar_across_the_october_dst_change(project: Path) -> None:
    assert frozen_by_day(project, "2026-10-01", 42) == {
        "2026-10-04T00:00:00.000Z": SAT_NIGHT,  # 02:00 CEST; the freeze ends 03:00 CEST
        "2026-10-11T00:00:00.000Z": SAT_NIGHT,
        "2026-10-18T00:00:00.000Z": SAT_NIGHT,
        "2026-10-25T00:00:00.000Z": LAST_SUNDAY,  # EXDATE frees Saturday; DST day is frozen
        # 02:00 CET = 01:00Z: the Outlook freeze ends 03:00 CET = 02:00Z. Read with the
        # summer offset (+02:00) it would end at 01:00Z and miss the window.
        "2026-11-01T01:00:00.000Z": SAT_NIGHT,
        "2026-11-08T01:00:00.000Z": None,  # the series ended (UNTIL)
    }


def test_calendar_across_the_march_dst_change_and_the_all_day_event(project: Path) -> None:
    spring = frozen_by_day(project, "2027-03-20", 16)
    assert spring == {
        "2027-03-21T01:00:00.000Z": None,
        "2027-03-28T01:00:00.000Z": LAST_SUNDAY,  # 02:00 skipped by DST: 03:00 CEST
        "2027-04-04T00:00:00.000Z": None,
    }
    winter = frozen_by_day(project, "2026-12-19", 23)
    assert winter == {
        "2026-12-20T01:00:00.000Z": None,  # the all-day freeze starts on Monday the 21st
        "2026-12-27T01:00:00.000Z": "Year-end change freeze",  # both: the earlier start
        "2027-01-03T01:00:00.000Z": "Year-end change freeze",  # the last day, inclusive
        "2027-01-10T01:00:00.000Z": None,
    }


def test_calendar_text_and_ics_export_show_the_freezes(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "cal.ics"
    result = butler(project, "calendar", "--from", "2026-10-30", "--days", "3", "--ics", str(out))
    assert result.exit_code == 0, result.output
    (line,) = [row for row in result.stdout.splitlines() if row.startswith("patch")]
    assert f"FROZEN ({SAT_NIGHT})" in line and "2026-11-01 02:00 CET" in line
    text = out.read_text()
    assert f"SUMMARY:Change freeze: {SAT_NIGHT}" in text
    assert "DTSTART:20261031T210000Z" in text and "DTEND:20261101T020000Z" in text


def test_due_shows_the_freeze_and_run_due_refuses_it(project: Path) -> None:
    due = butler(project, "due", "--at", "2026-11-01T01:30:00Z")
    assert due.exit_code == 0, due.output
    assert f"frozen until 2026-11-01 03:00 CET ({SAT_NIGHT})" in due.stdout
    dst_day = butler(project, "due", "--at", "2026-10-25T00:30:00Z", "--format", "json")
    (state,) = json.loads(dst_day.stdout)
    assert state["state"] == "frozen" and state["frozen"]["reason"] == LAST_SUNDAY
    for at in ("2026-11-01T01:30:00Z", "2026-10-25T00:30:00Z"):
        refused = butler(project, "run-due", "--at", at, "--operator", "cron@ops")
        assert refused.exit_code == 0 and refused.output == ""  # a freeze is no problem for cron
    assert not (project / "evidence" / "index.jsonl").exists()  # nothing ran


def test_run_due_runs_the_occurrence_the_series_no_longer_freezes(project: Path) -> None:
    due = butler(project, "due", "--at", "2026-11-08T01:30:00Z", "--format", "json")
    (state,) = json.loads(due.stdout)
    assert state["state"] == "due" and state["frozen"] is None
    ran = butler(project, "run-due", "--at", "2026-11-08T01:30:00Z", "--operator", "cron@ops")
    assert ran.exit_code == 0, ran.output
    index = (project / "evidence" / "index.jsonl").read_text().splitlines()
    assert len(index) == 1 and '"schedule":"patch"' in index[0].replace(" ", "")


def test_a_malformed_calendar_or_rule_is_exit_2_naming_file_and_line(project: Path) -> None:
    ics = project / "freezes" / "outlook.ics"
    lines = ics.read_text().splitlines()
    lines[34] = "RRULE:FREQ=WEEKLY;BYDAY=SA;INTERVAL=0"  # the series' RRULE, line 35
    ics.write_text("\r\n".join(lines) + "\r\n")
    for command in (["validate", "--no-syntax-check"], ["calendar"], ["due"]):
        result = butler(project, *command)
        assert result.exit_code == 2, (command, result.output)
        assert "freezes/outlook.ics:35:1: RRULE: INTERVAL=0" in result.output
    shutil.copy(OUTLOOK, ics)
    (project / "freezes" / "recurring.yaml").write_text(
        RECURRING + "  - {every: last sundae, reason: typo}\n"
    )
    result = butler(project, "calendar")
    assert result.exit_code == 2
    assert "freezes/recurring.yaml:7:5: freezes[2]: " in result.output
    assert "every: expected day, a weekday" in result.output

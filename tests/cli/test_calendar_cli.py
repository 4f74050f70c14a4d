"""``butler-maint calendar`` and ``butler-maint due`` through Click's CliRunner."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import (
    ChecklistStep,
    EvidenceStore,
    Kind,
    ReportDraft,
    Result,
    Status,
    Trigger,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"

WINDOW = """\
window: weekly-patching
title: Weekly OS patching
owner: platform-team
timezone: Europe/Berlin
every: "RRULE:FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0"
duration: 3h
hosts: linux
serial: 25%
missed: skip
freeze_files: [freezes/year-end.yaml]
freeze:
  - {from: 2026-11-27, to: 2026-11-30, reason: Black Friday peak trading}
steps:
  - checklist: linux-baseline
    title: Pre-checks
  - playbook: playbooks/patch.yml
"""
ROUTINE = """\
routine: daily-health
timezone: America/New_York
every: "30 2 * * *"
duration: 1h
checklist: linux-baseline
missed: run-once
"""
YEAR_END = "freezes:\n  - {from: 2026-12-18, to: 2027-01-04, reason: year-end change freeze}\n"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "freezes").mkdir()
    (tmp_path / "schedules/weekly-patching.yaml").write_text(WINDOW)
    (tmp_path / "schedules/daily-health.yaml").write_text(ROUTINE)
    (tmp_path / "freezes/year-end.yaml").write_text(YEAR_END)
    return tmp_path


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), *args])
    return result.exit_code, result.stdout, result.stderr


def record(project: Path, schedule: str, occurrence: datetime, result: Status) -> str:
    """Write one cron-triggered run into the project's evidence store; its id."""
    started = occurrence + timedelta(seconds=3)
    kind, name = (
        (Kind.WINDOW, schedule)
        if schedule == "weekly-patching"
        else (Kind.CHECKLIST, "linux-baseline")
    )
    draft = ReportDraft(
        kind=kind,
        name=name,
        trigger=Trigger(by="cron", schedule=schedule, occurrence=occurrence),
        operator="cron@bastion",
        started=started,
        finished=started + timedelta(minutes=2),
        steps=[
            ChecklistStep(
                checklist="linux-baseline",
                results=[Result(host="web01", check="disk", status=result)],
            )
        ],
    )
    return EvidenceStore(project / "audit").write(draft).id


# -- calendar ---------------------------------------------------------------------------


def test_calendar_lists_occurrences_by_utc_time_with_local_time_and_freezes(project: Path) -> None:
    code, out, _ = invoke(project, "calendar", "--from", "2026-11-27", "--days", "4")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    names = ["daily-health"] * 2 + ["weekly-patching"] + ["daily-health"] * 2
    assert [r[0] for r in rows] == names
    patch = out.splitlines()[2]
    assert patch.split()[1:7] == ["window", "2026-11-29", "02:00", "CET", "2026-11-29", "01:00Z"]
    assert patch.endswith("3h      FROZEN (Black Friday peak trading)")
    assert rows[0][1:7] == ["routine", "2026-11-27", "02:30", "EST", "2026-11-27", "07:30Z"]


def test_calendar_marks_a_time_skipped_by_dst(project: Path) -> None:
    code, out, _ = invoke(project, "calendar", "--from", "2027-03-14", "--days", "1")
    assert code == 0
    (line,) = [line for line in out.splitlines() if line.startswith("daily-health")]
    assert "2027-03-14 03:00 EDT" in line and "2027-03-14 07:00Z" in line
    assert line.endswith("(02:30 skipped by DST)")


def test_calendar_json(project: Path) -> None:
    code, out, _ = invoke(
        project, "calendar", "--from", "2026-12-19", "--days", "2", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    patch = next(r for r in rows if r["schedule"] == "weekly-patching")
    assert patch == {
        "schedule": "weekly-patching",
        "kind": "window",
        "timezone": "Europe/Berlin",
        "local": "2026-12-20T02:00:00+01:00",
        "zone": "CET",
        "utc": "2026-12-20T01:00:00.000Z",
        "end_utc": "2026-12-20T04:00:00.000Z",
        "duration": "3h",
        "shifted_from": None,
        "frozen": {
            "reason": "year-end change freeze",
            "source": "freezes/year-end.yaml",
            "from": "2026-12-17T23:00:00.000Z",
            "to": "2027-01-04T23:00:00.000Z",
        },
    }
    assert [r["utc"] for r in rows] == sorted(r["utc"] for r in rows)


def test_calendar_ics_parses_with_icalendar_and_holds_windows_and_freezes(
    project: Path, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / "freezes.ics", project / "freezes/corp.ics")
    text = (project / "schedules/weekly-patching.yaml").read_text()
    (project / "schedules/weekly-patching.yaml").write_text(
        text.replace("[freezes/year-end.yaml]", "[freezes/year-end.yaml, freezes/corp.ics]")
    )
    target = tmp_path / "out" / "calendar.ics"
    target.parent.mkdir()
    code, _, err = invoke(
        project, "calendar", "--from", "2026-11-20", "--days", "42", "--ics", str(target)
    )
    assert code == 0 and f"wrote {target} (6 windows, 4 freezes)" in err
    raw = target.read_bytes()
    assert b"\r\n" in raw and all(len(line) <= 75 for line in raw.split(b"\r\n"))
    cal = icalendar.Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    assert len({str(e["UID"]) for e in events}) == len(events) == 10
    windows = [e for e in events if "weekly-patching" in str(e["SUMMARY"])]
    starts = [e.decoded("DTSTART") for e in windows]
    assert starts == [utc(2026, 11, 22, 1) + timedelta(days=7 * i) for i in range(6)]
    assert all(e.decoded("DTEND") - e.decoded("DTSTART") == timedelta(hours=3) for e in windows)
    frozen = [str(e["SUMMARY"]) for e in windows if str(e["SUMMARY"]).startswith("FROZEN")]
    assert frozen == [
        "FROZEN: Weekly OS patching [weekly-patching] (Black Friday peak trading)",  # earliest
        "FROZEN: Weekly OS patching [weekly-patching] (year-end change freeze)",
        "FROZEN: Weekly OS patching [weekly-patching] (year-end change freeze)",
    ]
    freezes = {
        str(e["SUMMARY"]): (e.decoded("DTSTART"), e.decoded("DTEND"))
        for e in events
        if e not in windows
    }
    assert freezes == {
        "Change freeze: Black Friday peak trading": (date(2026, 11, 27), date(2026, 12, 1)),
        "Change freeze: year-end change freeze": (date(2026, 12, 18), date(2027, 1, 5)),
        "Change freeze: Year-end change freeze, all teams": (date(2026, 12, 18), date(2027, 1, 5)),
        "Change freeze: Black Friday; peak trading": (utc(2026, 11, 27), utc(2026, 12, 1)),
    }
    description = str(windows[0]["DESCRIPTION"])
    assert (
        "local: 2026-11-22 02:00 CET (Europe/Berlin)" in description
        and "2. playbook playbooks/patch.yml" in description
    )
    assert str(cal["PRODID"]).startswith("-//butler-maint")


def test_the_ics_file_has_the_same_uids_on_every_export(project: Path, tmp_path: Path) -> None:
    def uids(name: str) -> list[str]:
        path = tmp_path / name
        invoke(project, "calendar", "--from", "2026-12-01", "--days", "30", "--ics", str(path))
        return [
            str(e["UID"]) for e in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT")
        ]

    assert uids("a.ics") == uids("b.ics")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "next week"], "--from"),
        (["--days", "0"], "--days"),
        (["--ics", "/nonexistent-dir/x.ics"], "--ics"),
    ],
)
def test_calendar_bad_options_exit_2(project: Path, args: list[str], message: str) -> None:
    code, _, err = invoke(project, "calendar", *args)
    assert code == 2 and message in err


def test_calendar_reports_content_problems_with_positions(project: Path) -> None:
    (project / "schedules/broken.yaml").write_text("window: broken\nevery: daily\nsteps: []\n")
    (project / "freezes/year-end.yaml").unlink()
    code, out, err = invoke(project, "calendar")
    assert code == 2 and out == ""
    assert "broken.yaml:2:" in err and "freezes/year-end.yaml: freeze file does not exist" in err


def test_calendar_without_schedules_says_so(tmp_path: Path) -> None:
    code, out, err = invoke(tmp_path, "calendar")
    assert code == 0 and out == "" and "no schedules" in err


# -- due --------------------------------------------------------------------------------


def test_due_reads_the_latest_runs_from_the_evidence_index(project: Path) -> None:
    sunday = utc(2026, 11, 22, 1)
    patch_id = record(project, "weekly-patching", sunday, Status.FAIL)
    daily = utc(2026, 11, 23, 7, 30)  # 02:30 EST
    health_id = record(project, "daily-health", daily, Status.PASS)
    code, out, _ = invoke(project, "due", "--at", "2026-11-24T12:00:00Z")
    assert code == 0
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert lines["weekly-patching"].startswith("ok  next 2026-11-29 02:00 CET FROZEN (Black Friday")
    assert lines["weekly-patching"].endswith(f"last FAIL {patch_id}")
    assert lines["daily-health"].startswith("overdue since 2026-11-24 02:30 EST")
    assert lines["daily-health"].endswith(f"last PASS {health_id}")


def test_due_json(project: Path) -> None:
    record(project, "weekly-patching", utc(2026, 12, 6, 1), Status.PASS)
    code, out, _ = invoke(project, "due", "--at", "2026-12-13T02:00:00Z", "--format", "json")
    assert code == 0
    doc = {d["schedule"]: d for d in json.loads(out)}
    patch = doc["weekly-patching"]
    assert patch["state"] == "due" and patch["runnable"] is True and patch["catch_up"] is False
    assert patch["due"]["utc"] == "2026-12-13T01:00:00.000Z"
    assert patch["run_until"] == "2026-12-13T04:00:00.000Z"
    assert patch["last_run"]["result"] == "pass"
    assert patch["last_run"]["covers"] == "2026-12-06T01:00:00.000Z"
    assert patch["next_frozen"]["reason"] == "year-end change freeze"  # 2026-12-20
    health = doc["daily-health"]
    assert (
        health["state"] == "never-run" and health["last_run"] is None and health["runnable"] is True
    )


def test_due_in_a_freeze_says_frozen(project: Path) -> None:
    record(
        project,
        "weekly-patching",
        utc(2026, 11, 22, 1),
        Status.PASS,
    )
    code, out, _ = invoke(project, "due", "--at", "2026-11-29T01:30:00Z")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("weekly-patching"))
    assert "frozen until 2026-12-01 00:00 CET (Black Friday peak trading)" in line


def test_due_without_evidence_exits_0(project: Path) -> None:
    code, out, _ = invoke(project, "due", "--at", "2026-11-24T12:00:00Z")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["daily-health", "weekly-patching"]
    assert all("no runs" in line for line in out.splitlines())


def test_due_rejects_a_bad_time(project: Path) -> None:
    code, _, err = invoke(project, "due", "--at", "soon")
    assert code == 2 and "--at" in err


def test_due_rebuilds_a_missing_index(project: Path) -> None:
    run_id = record(project, "weekly-patching", utc(2026, 11, 22, 1), Status.PASS)
    (project / "audit/index.jsonl").unlink()
    code, out, _ = invoke(project, "due", "--at", "2026-11-22T02:00:00Z")
    assert code == 0 and "weekly-patching  ok  next 2026-11-29 02:00 CET" in out
    assert f"last PASS {run_id}" in out

"""``report show`` and the exports on schema 1.1 reports: a manual item's attestation,
a window's step titles and batches, and hostile titles and controls kept inert."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import ChecklistStep, EvidenceStore, Kind, ReportDraft, Result, Status
from butler_maint.evidence.model import Attested, PlaybookStep
from butler_maint.site import render_site

STARTED = datetime(2026, 11, 29, 1, 0, 2, tzinfo=UTC)
EVIL = "<script>alert(1)</script>\x1b[2J|[x](javascript:alert(1))"
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _window() -> ReportDraft:
    tapes = Result(
        host="backup01",
        check="tapes",
        status=Status.PASS,
        title="Tapes rotated",
        severity="low",
        attested=Attested(
            statement="Tapes rotated this week",
            answer="yes",
            by="alice@bastion",
            at=STARTED,
            comment="set B in the safe",
        ),
    )
    disk = Result(
        host="web01",
        check="disk-root",
        status=Status.FAIL,
        observed=93,
        expected="<= 85",
        title=EVIL,
        severity="critical",
        controls=["CIS-1.1", EVIL],
    )
    return ReportDraft(
        kind=Kind.WINDOW,
        name="weekly",
        operator="ops@bastion",
        started=STARTED,
        finished=STARTED + timedelta(minutes=3),
        batches=[["web01"], ["backup01"]],
        steps=[
            ChecklistStep(checklist="pre", title="Before patching", results=[disk, tapes]),
            PlaybookStep(playbook="playbooks/patch.yml", title="Patch the fleet"),
        ],
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    EvidenceStore(tmp_path / "audit").write(_window())
    return tmp_path


def _report(project: Path, *args: str) -> str:
    done = CliRunner().invoke(cli, ["-C", str(project), "report", *args])
    assert done.exit_code == 0, done.output
    return done.stdout


def test_show_has_attestation_step_titles_and_batches(project: Path) -> None:
    out = _report(project, "show", "latest")
    assert "batch 1: web01" in out and "batch 2: backup01" in out
    assert "checklist: pre  (Before patching)" in out
    assert "playbook: playbooks/patch.yml  (Patch the fleet)" in out
    attested = next(ln for ln in out.splitlines() if "attested" in ln)
    for part in ("'Tapes rotated this week'", "'yes'", "alice@bastion", "set B in the safe"):
        assert part in attested
    assert "2026-11-29T01:00:02" in attested
    failure = out[out.index("FAILURES (1)") : out.index("checklist: pre")]
    assert "[critical]" in failure and "CIS-1.1" in failure


def test_hostile_titles_and_controls_stay_inert(project: Path, tmp_path: Path) -> None:
    shown = _report(project, "show", "latest")
    assert not RAW_CONTROLS.search(shown) and "\\x1b[2J" in shown
    markdown = _report(project, "export", "latest", "--format", "markdown")
    assert "<script>" not in markdown and "](javascript" not in markdown
    row = next(ln for ln in markdown.splitlines() if ln.startswith("| 1 | web01"))
    assert row.count(" | ") == 7  # the title's pipe does not add a cell
    junit = _report(project, "export", "latest", "--format", "junit")
    assert not RAW_CONTROLS.search(junit)
    values = [p.get("value") for p in ET.fromstring(junit).iter("property")]
    assert values == ["critical", "CIS-1.1", EVIL.replace("\x1b", "\\x1b")]
    render_site(project / "audit", tmp_path / "site")
    for page in (tmp_path / "site").rglob("*.html"):
        text = page.read_text("utf-8")
        assert "<script>alert" not in text, page


def test_run_due_outline_names_each_failure_s_severity(project: Path) -> None:
    from butler_maint.evidence.summary import outline

    report = EvidenceStore(project / "audit").load("latest")
    assert (
        outline(report) == "1 failing: web01 disk-root fail: observed 93, expected <= 85 [critical]"
    )

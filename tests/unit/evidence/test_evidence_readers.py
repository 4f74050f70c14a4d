"""Reading reports back: v0 migration, canonical digests, diff, export, provenance."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore, Overall, Status, verify_store
from butler_maint.evidence.canonical import compute_digest, to_document
from butler_maint.evidence.diff import diff_reports, render_diff
from butler_maint.evidence.export import export
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.provenance import (
    content_provenance,
    file_sha256,
    inventory_provenance,
    operator_identity,
    tool_versions,
)
from tests.fixtures.evidence.factory import draft, window_draft

V0 = Path(__file__).parents[2] / "fixtures/evidence/v0-report.yaml"


def test_v0_fixture_migrates_to_v1() -> None:
    report = load_report_bytes(V0.read_bytes(), str(V0))
    assert report.butler_report == 1 and report.migrated_from == 0
    assert report.id == "20250301T020000Z-linux-baseline"
    assert report.trigger.by == "cron" and report.operator == "ops@bastion"
    statuses = [r.status for r in report.steps[0].results]
    assert statuses == [Status.PASS, Status.FAIL, Status.ERROR]
    assert report.result is Overall.ERROR and report.duration_ms == 5250
    assert report.steps[0].results[0].ms == 12 and report.steps[0].results[0].expected == "<= 85"
    assert report.digest == compute_digest(to_document(report))


def test_v0_report_in_a_store_is_readable_and_noted(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    store.write(draft(0))
    target = tmp_path / "2025/03/01/20250301T020000Z-linux-baseline.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(V0, target)
    assert store.load("20250301T020000Z-linux-baseline").migrated_from == 0
    verdict = verify_store(tmp_path)
    assert verdict.ok and verdict.legacy == [str(target.relative_to(tmp_path))]


def test_loaded_report_reproduces_its_digest(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    written = store.write(window_draft())
    report = store.load(written.id)
    assert compute_digest(to_document(report)) == written.digest == report.digest
    exported = json.loads(export(report, "json"))
    assert compute_digest(exported) == written.digest


def test_diff_names_status_changes_hosts_checks_and_drift(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    a = store.load(store.write(draft(0, hosts=2, checks=3)).id)
    b = store.load(store.write(draft(1, hosts=3, checks=2)).id)
    diff = diff_reports(a, b)
    assert diff.new_hosts == ["web02"] and diff.removed_checks == ["check-2"]
    assert any(k[1:] == ("web00", "check-0") for k, _, _ in diff.status)
    assert diff.drift
    text = render_diff(diff)
    assert "status  web00 check-0 [checklist: linux-baseline]: fail -> pass" in text
    assert "host    + web02" in text
    assert diff_reports(a, a).empty


def test_export_junit_is_valid_xml(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    report = store.load(store.write(window_draft()).id)
    root = ET.fromstring(export(report, "junit"))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"web00", "web01"}
    assert suites["web01"].get("failures") == str(len(suites["web01"].findall("testcase/failure")))
    assert int(suites["web01"].get("failures") or 0) >= 1


def test_export_markdown_lists_failures_first(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    text = export(store.load(store.write(window_draft()).id), "markdown")
    assert text.index("## Failures") < text.index("## checklist: linux-baseline")
    assert "| 2 | web01 | apt upgrade | fail | dpkg lock |" in text


def test_provenance(tmp_path: Path) -> None:
    assert operator_identity("alice@jump") == "alice@jump"
    assert "@" in operator_identity()
    versions = tool_versions()
    assert {"butler_maint", "ansible_core", "ansible_runner", "paramiko", "python"} <= set(versions)
    repo = tmp_path / "repo"
    (repo / "checklists").mkdir(parents=True)
    checklist = repo / "checklists/web.yaml"
    checklist.write_text("checklist: web\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (repo / "evidence").mkdir()
    (repo / "evidence/x.yaml").write_text("x")
    clean = content_provenance(repo, [checklist], exclude=["evidence"])
    assert clean.dirty is False and clean.git_commit and len(clean.git_commit) == 40
    assert clean.files == {"checklists/web.yaml": file_sha256(checklist)}
    checklist.write_text("checklist: changed\n")
    assert content_provenance(repo, [checklist], exclude=["evidence"]).dirty is True
    assert content_provenance(tmp_path, []).git_commit is None
    inv = inventory_provenance(repo, [repo / "checklists"], 3)
    assert inv.hosts == 3 and inv.sources == ["checklists"] and inv.sha256


@pytest.mark.parametrize("fmt", ["json", "junit", "markdown"])
def test_export_handles_every_format(tmp_path: Path, fmt: str) -> None:
    store = EvidenceStore(tmp_path)
    assert export(store.load(store.write(draft(0)).id), fmt)

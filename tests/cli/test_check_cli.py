"""`butler-maint check` on the local inventory (no SSH): formats, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli

LOCAL = """all:
  children:
    linux:
      hosts:
        localhost: {ansible_connection: local, app_dir: "%s"}
"""

CHECKLIST = """checklist: smoke
hosts: linux
vars: {limit: 99}
checks:
  - id: root-fs
    disk: {path: /, max_used_pct: "{{ limit }}"}
  - id: app-dir
    directory: {path: "{{ app_dir }}"}
  - id: missing-file
    file: {path: "{{ app_dir }}/nope"}
  - id: never
    when: "false"
    command: {run: "false"}
  - id: tapes
    manual: Tapes rotated
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "inventories").mkdir()
    (tmp_path / "checklists").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(LOCAL % (tmp_path / "app"))
    (tmp_path / "checklists" / "smoke.yaml").write_text(CHECKLIST)
    return tmp_path


def run(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(repo), "check", *args], catch_exceptions=False)


def test_text_output_failures_first_and_exit_1(repo: Path) -> None:
    result = run(repo, "smoke")
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert lines[0].startswith("FAIL") and "missing-file" in lines[0]
    statuses = {ln.split()[2]: ln.split()[0] for ln in lines}
    assert statuses == {
        "missing-file": "FAIL",
        "tapes": "PENDING",
        "root-fs": "PASS",
        "app-dir": "PASS",
        "never": "SKIPPED",
    }
    assert "1 host(s): 1 fail, 1 pending, 2 pass, 1 skipped" in result.stderr


def test_json_records_observed_and_expected(repo: Path) -> None:
    result = run(repo, "smoke", "--format", "json")
    data = {r["check"]: r for r in json.loads(result.stdout)}
    assert data["root-fs"]["status"] == "pass"
    assert isinstance(data["root-fs"]["observed"], int)
    assert "99" in data["root-fs"]["expected"]
    assert data["tapes"]["status"] == "pending"


def test_junit_is_valid_xml(repo: Path) -> None:
    result = run(repo, "smoke", "--format", "junit")
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1"
    assert suite.get("tests") == "5"


def test_passing_checklist_exits_0(repo: Path) -> None:
    text = CHECKLIST.split("  - id: missing-file", maxsplit=1)[0]
    (repo / "checklists" / "smoke.yaml").write_text(text)
    assert run(repo, "smoke").exit_code == 0


def test_unknown_checklist_exits_2(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(repo), "check", "nope"])
    assert result.exit_code == 2
    assert "no checklist 'nope'" in result.stderr


def test_limit_matching_nothing_exits_2(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(repo), "check", "smoke", "--limit", "db*"])
    assert result.exit_code == 2
    assert "matches no host" in result.stderr


def test_bad_checklist_exits_2_with_position(repo: Path) -> None:
    (repo / "checklists" / "smoke.yaml").write_text(CHECKLIST.replace("max_used_pct", "max_pct"))
    result = CliRunner().invoke(cli, ["-C", str(repo), "check", "smoke"])
    assert result.exit_code == 2
    assert "smoke.yaml:6:21: checks[0].disk.max_pct: unknown field" in result.stderr


def test_a_check_printing_megabytes_is_recorded_by_size_and_sha256(repo: Path) -> None:
    """Output beyond what is kept is counted and hashed, not held: the check is judged
    on the kept head, the report records the full size and sha256, and the checks after
    it keep their own output."""
    import hashlib

    from butler_maint.evidence import EvidenceStore

    size = 12 * 2**20
    chatty = f"""checklist: chatty
hosts: linux
checks:
  - id: big
    command: {{run: "yes 0123456789abcdef | head -c {size}"}}
  - id: after
    command: {{run: "echo still-here", expect: {{stdout: "^still-here$"}}}}
"""
    (repo / "checklists" / "chatty.yaml").write_text(chatty)
    done = run(repo, "chatty", "-i", str(repo / "inventories" / "local.yml"))
    assert done.exit_code == 0, done.output
    report = EvidenceStore(repo / "evidence").load("latest")
    by = {r.check: r for r in report.steps[0].results}
    assert by["big"].status == "pass" and by["after"].status == "pass"
    full = (b"0123456789abcdef\n" * (size // 17 + 1))[:size]
    assert by["big"].output is not None and by["big"].output.truncated
    assert by["big"].output.bytes == size
    assert by["big"].output.sha256 == f"sha256:{hashlib.sha256(full).hexdigest()}"
    assert by["after"].output is None


def test_an_expected_value_built_from_a_secret_is_masked(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``expect:`` rendered from an environment secret: the secret is masked in the
    result's ``expected`` (report and terminal), as in ``observed``."""
    from butler_maint.evidence import EvidenceStore

    canary = "canary-expect-7d1f0c"
    monkeypatch.setenv("BUTLER_TEST_DB_PASSWORD", canary)
    doc = """checklist: secretive
hosts: linux
checks:
  - id: db-password
    command:
      run: "echo wrong"
      expect: {stdout: "{{ env('BUTLER_TEST_DB_PASSWORD') }}"}
"""
    (repo / "checklists" / "secretive.yaml").write_text(doc)
    done = run(repo, "secretive", "-i", str(repo / "inventories" / "local.yml"))
    assert done.exit_code == 1
    assert canary not in done.output
    result = EvidenceStore(repo / "evidence").load("latest").steps[0].results[0]
    assert result.status == "fail"
    assert "********" in (result.expected or "")
    stored = [p.read_bytes() for p in (repo / "evidence").rglob("*") if p.is_file()]
    assert stored and not any(canary.encode() in data for data in stored)


def test_remediate_off_a_terminal_needs_yes(repo: Path) -> None:
    done = run(repo, "smoke", "--remediate", "-i", str(repo / "inventories" / "local.yml"))
    assert done.exit_code == 2
    assert "--remediate off a terminal needs --yes" in done.output
    assert not (repo / "evidence").exists()  # refused before anything ran


def test_results_carry_title_severity_and_both_levels_of_controls(repo: Path) -> None:
    from butler_maint.evidence import EvidenceStore

    (repo / "checklists" / "described.yaml").write_text(
        "checklist: described\nhosts: linux\ncontrols: [ISO27001-A.8.16]\nchecks:\n"
        "  - id: nginx-installed\n    title: nginx is installed\n    severity: high\n"
        "    controls: [CIS-2.1]\n    file: {path: /nonexistent/nginx}\n"
    )
    done = run(repo, "described", "-i", str(repo / "inventories" / "local.yml"))
    assert done.exit_code == 1
    report = EvidenceStore(repo / "evidence").load("latest")
    [result] = report.steps[0].results
    assert (result.title, result.severity) == ("nginx is installed", "high")
    assert result.controls == ["ISO27001-A.8.16", "CIS-2.1"]
    assert report.schema_minor == 1

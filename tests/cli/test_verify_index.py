"""``report verify`` names an index that disagrees with the reports, exits 1 with the hint
to reindex, and writes nothing; ``report reindex`` mends it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, WrittenReport
from tests.fixtures.evidence.factory import draft, window_draft
from tests.fixtures.evidence.snapshot import snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    return tmp_path


@pytest.fixture
def written(project: Path) -> list[WrittenReport]:
    store = EvidenceStore(project / "audit")
    return [store.write(draft(0)), store.write(window_draft(1)), store.write(draft(2))]


def _verify(project: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), "report", "verify"])
    return result.exit_code, result.stdout


def _index(project: Path) -> Path:
    return project / "audit" / "index.jsonl"


def test_intact_store_verifies(project: Path, written: list[WrittenReport]) -> None:
    code, out = _verify(project)
    assert code == 0 and out.startswith("OK: 3 reports verified"), out


def test_a_removed_line_fails_verify(project: Path, written: list[WrittenReport]) -> None:
    lines = _index(project).read_bytes().splitlines(keepends=True)
    _index(project).write_bytes(lines[0] + lines[2])
    before = snapshot(project / "audit")
    code, out = _verify(project)
    assert code == 1
    assert f"index.jsonl: index: report {written[1].id} has no line" in out
    assert "run `butler-maint report reindex`" in out
    assert snapshot(project / "audit") == before


def test_a_changed_result_fails_verify(project: Path, written: list[WrittenReport]) -> None:
    lines = _index(project).read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[0])
    entry["result"] = "pass"
    lines[0] = json.dumps(entry).encode() + b"\n"
    _index(project).write_bytes(b"".join(lines))
    code, out = _verify(project)
    assert code == 1 and f"line 1 (report {written[0].id}): result differ" in out


def test_a_line_for_no_report_fails_verify(project: Path, written: list[WrittenReport]) -> None:
    entry = json.loads(_index(project).read_bytes().splitlines()[0])
    entry.update(id="20261129T230000Z-ghost", path="2026/11/29/20261129T230000Z-ghost.yaml")
    with _index(project).open("a") as handle:
        handle.write(json.dumps(entry) + "\n")
    code, out = _verify(project)
    assert code == 1 and "line 4 names report 20261129T230000Z-ghost" in out
    reindex = CliRunner().invoke(cli, ["-C", str(project), "report", "reindex"])
    assert reindex.exit_code == 0
    code, out = _verify(project)
    assert code == 0 and out.startswith("OK: 3 reports verified"), out

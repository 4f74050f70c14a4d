"""``butler-maint report ...`` through Click's CliRunner."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, WrittenReport
from tests.fixtures.evidence.factory import draft, window_draft


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    return tmp_path


@pytest.fixture
def written(project: Path) -> list[WrittenReport]:
    store = EvidenceStore(project / "audit")
    return [
        store.write(draft(0)),
        store.write(draft(1, hosts=1, checks=1)),
        store.write(window_draft(2)),
    ]


def _run(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), "report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_all_and_filtered(project: Path, written: list[WrittenReport]) -> None:
    code, out, _ = _run(project, "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == [w.id for w in written]
    _, out, _ = _run(project, "list", "--kind", "window")
    assert out.split()[0] == written[2].id and len(out.splitlines()) == 1
    _, out, _ = _run(project, "list", "--result", "pass")
    assert [line.split()[0] for line in out.splitlines()] == [written[1].id]
    _, out, _ = _run(project, "list", "--host", "web02")
    assert [line.split()[0] for line in out.splitlines()] == [written[0].id]
    _, out, _ = _run(project, "list", "--since", "2026-11-29T01:01:00Z", "--format", "json")
    assert [e["id"] for e in json.loads(out)] == [w.id for w in written[1:]]
    _, out, _ = _run(project, "list", "--until", "2026-11-28")
    assert out == ""


def test_list_rejects_bad_time(project: Path, written: list[WrittenReport]) -> None:
    code, _, err = _run(project, "list", "--since", "last tuesday")
    assert code == 2 and "--since" in err


def test_list_rebuilds_a_missing_index(project: Path, written: list[WrittenReport]) -> None:
    (project / "audit/index.jsonl").unlink()
    code, out, _ = _run(project, "list")
    assert code == 0 and len(out.splitlines()) == 3


def test_show_latest_puts_failures_first(project: Path, written: list[WrittenReport]) -> None:
    code, out, _ = _run(project, "show", "latest")
    assert code == 0 and out.startswith(written[2].id)
    assert out.index("FAILURES") < out.index("checklist: linux-baseline")
    assert "[2] web01  apt upgrade  fail  dpkg lock" in out


@pytest.mark.parametrize("bad", ["nope", "../../etc/passwd", "/etc/passwd", "20261129T010002Z-x"])
def test_show_unknown_or_hostile_id_is_a_usage_error(
    project: Path, written: list[WrittenReport], bad: str
) -> None:
    code, _, err = _run(project, "show", bad)
    assert code == 2 and "butler-maint: error:" in err


def test_diff(project: Path, written: list[WrittenReport]) -> None:
    code, out, _ = _run(project, "diff", written[0].id, written[1].id)
    assert code == 0 and f"--- {written[0].id}" in out and "host    - web01" in out


def test_verify_clean_then_broken(project: Path, written: list[WrittenReport]) -> None:
    code, out, _ = _run(project, "verify")
    assert code == 0 and out.startswith("OK: 3 reports verified")
    path = written[1].path
    path.write_bytes(path.read_bytes().replace(b"ms: 3", b"ms: 4", 1))
    code, out, _ = _run(project, "verify")
    assert code == 1 and out.startswith(f"BROKEN: first bad report: {path}: edited")


def test_reindex(project: Path, written: list[WrittenReport]) -> None:
    (project / "audit/index.jsonl").write_text("garbage\n")
    code, out, _ = _run(project, "reindex")
    assert code == 0 and out == "indexed 3 reports\n"
    assert len((project / "audit/index.jsonl").read_text().splitlines()) == 3


def test_export_formats(project: Path, written: list[WrittenReport], tmp_path: Path) -> None:
    code, out, _ = _run(project, "export", "latest", "--format", "junit")
    assert code == 0 and ET.fromstring(out).tag == "testsuites"
    code, out, _ = _run(project, "export", written[0].id, "--format", "json")
    assert json.loads(out)["digest"] == written[0].digest
    target = tmp_path / "r.md"
    code, _, _ = _run(project, "export", "latest", "--format", "markdown", "-o", str(target))
    assert code == 0 and target.read_text().startswith("# window weekly-patching: FAIL")


def test_empty_store(project: Path) -> None:
    assert _run(project, "list")[:2] == (0, "")
    assert _run(project, "verify")[0] == 0
    code, _, err = _run(project, "show", "latest")
    assert code == 2 and "no reports" in err

"""One JUnit writer: ``check --format junit`` and ``report export --format junit`` give
the same testsuites and testcases, valid XML even when the inventory names a host with
ESC/BEL/NUL and the check's output carries markup; the text table stays free of raw
control characters."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli

HOST = "web\x1b]0;pwned\x0701\x00"
SHOWN = "web\\x1b]0;pwned\\x0701\\x00"
INVENTORY = 'all:\n  hosts:\n    "web\\e]0;pwned\\a01\\0": {ansible_connection: local}\n'
MARKUP = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
CHECKLIST = """checklist: hostile
hosts: all
checks:
  - id: says-markup
    command:
      run: "printf 'MARKUP \\\\033[2J\\\\007'"
      expect: {stdout: "^nothing$"}
  - id: quiet
    command: {run: "true"}
  - id: later
    when: "false"
    command: {run: "true"}
  - id: tapes
    manual: Tapes rotated
""".replace("MARKUP", MARKUP)
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for sub in ("inventories", "checklists"):
        (tmp_path / sub).mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(INVENTORY)
    (tmp_path / "checklists" / "hostile.yaml").write_text(CHECKLIST)
    (tmp_path / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    return tmp_path


def _butler(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(repo), *args], catch_exceptions=False)


def _cases(xml: str) -> list[tuple[str | None, ...]]:
    root = ET.fromstring(xml)
    return [
        (suite.get("name"), case.get("classname"), case.get("name"), *_verdict(case))
        for suite in root.iter("testsuite")
        for case in suite.iter("testcase")
    ]


def _verdict(case: ET.Element) -> tuple[str | None, ...]:
    children = list(case)
    if not children:
        return ("pass", None, None)
    return (children[0].tag, children[0].get("type"), children[0].get("message"))


def test_check_junit_is_the_export_writer_and_parses(repo: Path) -> None:
    done = _butler(repo, "check", "hostile", "--format", "junit")
    assert done.exit_code == 1, done.output
    assert not RAW_CONTROLS.search(done.stdout)
    root = ET.fromstring(done.stdout)
    assert root.get("name") == "hostile"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "2")
    [suite] = root.iter("testsuite")
    assert suite.get("name") == SHOWN  # the host name round-trips as visible text
    failure = suite.find("testcase[@name='says-markup']/failure")
    assert failure is not None and MARKUP in (failure.text or "")

    exported = _butler(repo, "report", "export", "latest", "--format", "junit")
    assert exported.exit_code == 0
    assert ET.fromstring(exported.stdout).get("name", "").endswith("-hostile")  # the report id
    assert _cases(exported.stdout) == _cases(done.stdout)
    cases = sorted(_cases(done.stdout))
    assert [case[:5] for case in cases] == [
        (SHOWN, f"checklist: hostile.{SHOWN}", "later", "skipped", None),
        (SHOWN, f"checklist: hostile.{SHOWN}", "quiet", "pass", None),
        (SHOWN, f"checklist: hostile.{SHOWN}", "says-markup", "failure", "fail"),
        (SHOWN, f"checklist: hostile.{SHOWN}", "tapes", "skipped", None),
    ]
    messages = [str(case[5]) for case in cases]
    assert [m.split(":")[0] for m in messages[:2]] == ["skipped", "None"]
    assert messages[2].startswith('observed "rc 0')  # a failure says why (observed vs expected)
    assert messages[3].split(":")[0] == "pending"


def test_text_table_and_report_show_have_no_raw_control(repo: Path) -> None:
    done = _butler(repo, "check", "hostile")
    assert done.exit_code == 1
    assert not RAW_CONTROLS.search(done.stdout)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"FAIL     {SHOWN}  says-markup") and MARKUP in lines[0]
    assert len(lines) == 4  # one line per result: nothing from the host adds one
    markdown = ("report", "export", "latest", "--format", "markdown")
    for args in (("report", "show", "latest"), ("report", "list"), markdown):
        shown = _butler(repo, *args)
        assert shown.exit_code == 0 and not RAW_CONTROLS.search(shown.output), args


def test_progress_lines_have_no_raw_control(repo: Path) -> None:
    done = _butler(repo, "check", "hostile")
    assert not RAW_CONTROLS.search(done.stderr), done.stderr

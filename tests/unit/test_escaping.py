"""What hosts and inventories say is escaped for each medium: a report whose results
carry ``<script>``, ``<img onerror>``, Markdown links and ESC/BEL/NUL in host names and
outputs exports to Markdown with no live markup, to JUnit XML that parses and gives the
text back, and prints on the terminal with no raw control character."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from xml.etree import ElementTree as ET

import pytest

from butler_maint.cli.render import term
from butler_maint.evidence.build import finalize
from butler_maint.evidence.export import export, junit, visible
from butler_maint.evidence.model import (
    ChecklistStep,
    Kind,
    Output,
    Report,
    ReportDraft,
    Result,
    Status,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1)) ![x](http://evil.example/p.png) www.evil.example"
EVIL_HOST = "web\x1b[31m01\x07\x00"
SHOWN_HOST = "web\\x1b[31m01\\x07\\x00"
MD_HOST = "web\\\\x1b\\[31m01\\\\x07\\\\x00"  # SHOWN_HOST as Markdown source
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")
START = datetime(2026, 11, 29, 1, 0, 2, tzinfo=UTC)


def evil_results() -> list[Result]:
    """Results as a hostile host and inventory would make them."""
    return [
        Result(
            host=EVIL_HOST,
            check=SCRIPT,
            status=Status.FAIL,
            observed=f"{IMG}\x1b]0;owned\x07",
            expected="<= 85",
            message=f"{IMG} {LINK}\r\nPASS  web02  fake-line",
            output=Output(text=f"line one\n\x1b[2J{SCRIPT}\x00\u202eevil"),
        ),
        Result(host=EVIL_HOST, check="bell\x07\x08check", status=Status.ERROR, message="\x1b[2K"),
        Result(host="db01", check="ok", status=Status.PASS, observed="`code` *b* _i_ | pipe"),
        Result(host="db01", check="later", status=Status.NOT_RUN, message=SCRIPT),
    ]


def evil_report() -> Report:
    draft = ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        operator="ops@bastion",
        started=START,
        finished=START + timedelta(seconds=1),
        steps=[ChecklistStep(checklist="linux-baseline", results=evil_results())],
    )
    return finalize(
        draft,
        report_id="20261129T010002Z-linux-baseline",
        steps=draft.steps,
        previous=None,
        artifacts=None,
    )


# -- the one escaping rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain host-01.example", "plain host-01.example"),
        ("tab\there", "tab\there"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("bell\x07nul\x00del\x7f", "bell\\x07nul\\x00del\\x7f"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("one\ntwo\r\nthree\rover", "one\\ntwo\\r\\nthree\\rover"),
        ("rtl\u202eoverride\u2066", "rtl\\u202eoverride\\u2066"),
        ("surrogate\udcff", "surrogate\\udcff"),
        ("ünïcödé ok ✓", "ünïcödé ok ✓"),
    ],
)
def test_term_shows_control_characters_as_escapes(raw: str, shown: str) -> None:
    assert term(raw) == shown
    assert not RAW_CONTROLS.search(term(raw))


def test_term_multiline_keeps_newlines_only() -> None:
    assert term("a\r\nb\nc\x1b", multiline=True) == "a\nb\nc\\x1b"
    assert term("over\rwrite", multiline=True) == "over\\rwrite"
    assert term(None) == "" and term(42) == "42"


# -- Markdown ----------------------------------------------------------------------------


def test_markdown_export_holds_no_raw_tag_link_or_control() -> None:
    text = export(evil_report(), "markdown")
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert not RAW_CONTROLS.search(text)
    assert "](" not in text.replace("\\](", "")  # every link bracket is escaped
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    # a message cannot add a table row: the CR/LF shows as text on the same line
    [row] = [line for line in text.splitlines() if "fake-line" in line]
    assert row.startswith(f"| 1 | {MD_HOST} |") and "\\\\r\\\\nPASS  web02" in row


def test_markdown_renders_to_inert_html() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    # raw HTML enabled: only the export's own escaping keeps the tags out
    renderer = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    page = renderer.render(export(evil_report(), "markdown"))
    for tag in ("<script", "<img", "<a ", "<em", "<strong", "<code>code"):
        assert tag not in page, tag
    assert f"<td>{SHOWN_HOST}</td>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    assert "[click](javascript:alert(1))" in page
    assert "`code` *b* _i_ | pipe" in page


# -- JUnit XML ---------------------------------------------------------------------------


def test_junit_parses_and_round_trips_visible_text() -> None:
    report = evil_report()
    text = export(report, "junit")
    assert not RAW_CONTROLS.search(text)
    root = ET.fromstring(text)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {SHOWN_HOST, "db01"}
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failing = cases[SCRIPT]  # the script tag comes back as the text it was
    assert failing.get("classname") == f"checklist: linux-baseline.{SHOWN_HOST}"
    failure = failing.find("failure")
    assert failure is not None and failure.get("type") == "fail"
    message = report.steps[0].results[0].message or ""
    assert failure.get("message") == visible(message, newlines=True)  # CR LF -> LF
    assert IMG in (failure.get("message") or "") and IMG in (failure.text or "")
    error = cases["bell\\x07\\x08check"].find("error")
    assert error is not None and error.get("message") == "\\x1b[2K"
    skipped = cases["later"].find("skipped")
    assert skipped is not None and skipped.get("message") == f"not_run: {SCRIPT}"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    assert root.get("skipped") == "1"


def test_junit_writer_takes_live_check_results_too() -> None:
    """``check --format junit`` hands its own result objects to the same writer."""
    live = [
        SimpleNamespace(
            host=EVIL_HOST, check=SCRIPT, status=Status.FAIL, observed=1, expected="0", ms=5,
            message=IMG,
        )
    ]  # fmt: skip
    root = ET.fromstring(junit("smoke", [("checklist: smoke", cast(Any, live))]))
    assert root.get("name") == "smoke"
    [suite] = root.iter("testsuite")
    assert suite.get("name") == SHOWN_HOST and suite.get("timestamp") is None
    [case] = suite.iter("testcase")
    assert case.get("name") == SCRIPT and case.get("time") == "0.005"
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == IMG


# -- terminal: report show, play's recap ---------------------------------------------------


def test_report_show_lines_have_no_raw_control() -> None:
    from butler_maint.cli.report_cmds import _show

    lines = _show(evil_report().model_copy(update={"error": "run\x1b[2Jfailed\nsecond"}))
    for line in lines:
        assert not RAW_CONTROLS.search(line) and "\n" not in line, line
    assert any(SHOWN_HOST in line and SCRIPT in line for line in lines)
    assert "error: run\\x1b[2Jfailed\\nsecond" in lines


def test_play_report_and_warnings_print_no_raw_control(capsys: pytest.CaptureFixture[str]) -> None:
    from butler_maint.cli.play_cmds import _report, _View
    from butler_maint.evidence.model import HostStats

    results = [Result(host=EVIL_HOST, check="apt\x07", status=Status.FAIL, message="E:\x1b[2J")]
    step = SimpleNamespace(hosts={EVIL_HOST: HostStats(ok=1, failed=1)}, results=results)
    run = SimpleNamespace(
        step=step, warnings=["[WARNING]: host said \x1b]0;x\x07\nsecond line"],
        error="rc 2\x1b[31m", hosts=1, failed_hosts=[EVIL_HOST], status="failed", rc=2,
    )  # fmt: skip
    _report(cast(Any, run), False)
    _View(False)._echo("[WARNING]: \x1b[2Jcleared\x07\nnext")
    out, err = capsys.readouterr()
    assert not RAW_CONTROLS.search(out + err)
    assert (
        f"{SHOWN_HOST}   1        0" in out and f"FAIL  {SHOWN_HOST}  apt\\x07  E:\\x1b[2J" in out
    )
    assert "host said \\x1b]0;x\\x07\nsecond line" in err  # warnings keep their lines
    assert "[WARNING]: \\x1b[2Jcleared\\x07\nnext" in err

"""Self-describing evidence, end to end: a failing check with a title, severity high and
controls at both levels (checklist and check), run on a local-connection host, is named
by its title, severity, both controls and the reason in the YAML report, ``report show``,
the JSON, JUnit and Markdown exports, the site's run page (in headless Chromium), its
host page's filters, and a webhook's body."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence.store import EvidenceStore
from butler_maint.notify import payload, post_json
from tests.harness.http_server import QuietHandler, serving
from tests.integration.test_site_escaping import DevTools
from tests.integration.test_site_escaping import devtools as devtools  # noqa: PLC0414 - fixture

pytestmark = pytest.mark.integration

TITLE = "Release marker is present"
REASON = "observed 'absent', expected exists"
CHECKLIST = """checklist: app-release
title: Application release
hosts: all
controls: [CIS-1.1]
checks:
  - id: release-marker
    title: Release marker is present
    severity: high
    controls: [ISO-A.12.1]
    file: {path: "APP/RELEASE"}
  - id: app-dir
    directory: {path: "APP"}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    for sub in ("inventories", "checklists"):
        (tmp_path / sub).mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local}\n"
    )
    (tmp_path / "checklists" / "app-release.yaml").write_text(CHECKLIST.replace("APP", str(app)))
    (tmp_path / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    return tmp_path


def _butler(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(repo), *args], catch_exceptions=False)


@pytest.fixture
def ran(repo: Path) -> Path:
    done = _butler(repo, "check", "app-release")
    assert done.exit_code == 1, done.output
    return repo


def _described(text: str) -> None:
    for part in (TITLE, "high", "CIS-1.1", "ISO-A.12.1", REASON):
        assert part in text, part


def test_the_yaml_report_and_json_export_carry_the_check_s_description(ran: Path) -> None:
    store = EvidenceStore(ran / "evidence")
    report = store.load("latest")
    document = yaml.safe_load(store.path_of(report.id).read_text("utf-8"))
    [result] = [r for r in document["steps"][0]["results"] if r["check"] == "release-marker"]
    assert (result["title"], result["severity"]) == (TITLE, "high")
    assert result["controls"] == ["CIS-1.1", "ISO-A.12.1"]  # the checklist's, then the check's
    assert REASON in result["message"]
    exported = json.loads(_butler(ran, "report", "export", "latest").stdout)
    [same] = [r for r in exported["steps"][0]["results"] if r["check"] == "release-marker"]
    assert same == result


def test_report_show_puts_the_described_failure_first(ran: Path) -> None:
    out = _butler(ran, "report", "show", "latest").stdout
    failures = out[out.index("FAILURES (1)") : out.index("checklist: app-release")]
    _described(failures)
    assert "[1] localhost  release-marker  fail" in failures


def test_junit_has_severity_and_controls_as_properties_and_the_title_in_the_message(
    ran: Path,
) -> None:
    root = ET.fromstring(_butler(ran, "report", "export", "latest", "--format", "junit").stdout)
    case = root.find(".//testcase[@name='release-marker']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith(f"{TITLE}: ") and REASON in message
    properties = [(p.get("name"), p.get("value")) for p in case.iter("property")]
    assert properties == [("severity", "high"), ("control", "CIS-1.1"), ("control", "ISO-A.12.1")]
    passed = root.find(".//testcase[@name='app-dir']")
    assert passed is not None and list(passed) == []


def test_markdown_failures_have_title_severity_controls_and_reason(ran: Path) -> None:
    text = _butler(ran, "report", "export", "latest", "--format", "markdown").stdout
    header = "| step | host | check | status | message | title | severity | controls |"
    assert header in text
    [row] = [ln for ln in text.splitlines() if ln.startswith("| 1 | localhost | release-marker")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "fail" and REASON in cells[4]
    assert cells[5:] == [TITLE, "high", "CIS-1.1, ISO-A.12.1"]


def test_report_diff_names_the_title_and_severity(repo: Path) -> None:
    marker = repo / "app" / "RELEASE"
    marker.write_text("1.0\n")
    assert _butler(repo, "check", "app-release").exit_code == 0
    first = EvidenceStore(repo / "evidence").load("latest").id
    marker.unlink()
    assert _butler(repo, "check", "app-release").exit_code == 1
    out = _butler(repo, "report", "diff", first, "latest").stdout
    [line] = [ln for ln in out.splitlines() if ln.startswith("status")]
    assert "release-marker" in line and "pass -> fail" in line
    assert line.endswith(f"({TITLE} [high])")


def test_the_webhook_body_names_title_severity_and_controls(ran: Path) -> None:
    bodies: list[dict[str, Any]] = []
    with _receiver(bodies) as url:
        report = EvidenceStore(ran / "evidence").load("latest")
        post_json(url, payload("hourly-app", report, None), 10)
    [failure] = bodies[0]["failures"]
    assert failure["title"] == TITLE and failure["severity"] == "high"
    assert failure["controls"] == ["CIS-1.1", "ISO-A.12.1"]
    assert REASON in failure["message"]


def test_the_run_page_in_chromium_shows_the_described_failure(
    ran: Path, devtools: DevTools
) -> None:
    out = ran / "site"
    assert _butler(ran, "report", "render", "--out", str(out)).exit_code == 0
    report = EvidenceStore(ran / "evidence").load("latest")
    devtools.open((out / "runs" / f"{report.id}.html").as_uri())
    row = devtools.evaluate('document.querySelector("#failures tbody tr").innerText')
    _described(row)
    assert devtools.dialogs == []


def test_index_and_host_pages_filter_by_severity_and_control(ran: Path, devtools: DevTools) -> None:
    (ran / "app" / "RELEASE").write_text("1.0\n")
    assert _butler(ran, "check", "app-release").exit_code == 0  # a passing run: no severity
    out = ran / "site"
    assert _butler(ran, "report", "render", "--out", str(out)).exit_code == 0
    shown = "Array.from(document.querySelectorAll('tr.run')).filter(r => r.offsetParent).length"
    devtools.open((out / "index.html").as_uri() + "?severity=high")
    assert devtools.evaluate(shown) == 1
    devtools.open((out / "index.html").as_uri() + "?severity=critical")
    assert devtools.evaluate(shown) == 0
    devtools.open((out / "index.html").as_uri() + "?control=iso-a.12")
    assert devtools.evaluate(shown) == 2  # both runs checked the control
    devtools.open((out / "hosts" / "localhost.html").as_uri())
    assert devtools.evaluate(shown) == 2
    devtools.evaluate("document.getElementById('sev-medium').click()")
    assert devtools.evaluate(shown) == 1
    devtools.evaluate("document.getElementById('sev-critical').click()")
    assert devtools.evaluate(shown) == 0
    devtools.evaluate("document.getElementById('sev-any').click()")
    assert devtools.evaluate(shown) == 2


@contextlib.contextmanager
def _receiver(bodies: list[dict[str, Any]]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that keeps each POSTed JSON body; its URL."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    with serving(Handler) as port:
        yield f"http://127.0.0.1:{port}/hook"

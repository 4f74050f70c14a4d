"""The evidence site's pages: report values escaped, the inline script allowed by hash,
safe file names, and ``report render`` on the command line."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from markupsafe import escape

from butler_maint.cli import cli
from butler_maint.evidence import (
    ChecklistStep,
    EvidenceStore,
    Kind,
    ReportDraft,
    Result,
    Status,
    WrittenReport,
)
from butler_maint.site import render_site
from butler_maint.site.views import file_stem

EVIL_CHECK = "<script>alert(1)</script>"
EVIL_MESSAGE = '"><img src=x onerror=alert(2)>'
EVIL_HOST = "<b>web01</b>"


def _write(store: EvidenceStore, name: str = "base<i>line") -> WrittenReport:
    started = datetime(2026, 11, 29, 1, 0, 2, tzinfo=UTC)
    result = Result(host=EVIL_HOST, check=EVIL_CHECK, status=Status.FAIL, message=EVIL_MESSAGE)
    return store.write(
        ReportDraft(
            kind=Kind.CHECKLIST,
            name=name,
            operator="ops@bastion",
            started=started,
            finished=started + timedelta(seconds=1),
            steps=[ChecklistStep(checklist="linux-baseline", results=[result])],
        )
    )


def test_report_values_are_escaped_everywhere(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    written = _write(store)
    render_site(store.root, tmp_path / "site")
    pages = {
        p.relative_to(tmp_path / "site").as_posix(): p.read_text("utf-8")
        for p in (tmp_path / "site").rglob("*.html")
    }
    assert len(pages) == 4
    for name, text in pages.items():
        assert "<script>alert" not in text and "<img src=x" not in text, name
        assert "<b>web01" not in text, name
        assert len(re.findall(r"<script\b", text)) == (1 if name == "index.html" else 0), name
    run = pages[f"runs/{written.id}.html"]
    assert str(escape(EVIL_CHECK)) in run and str(escape(EVIL_MESSAGE)) in run
    assert EVIL_CHECK in html.unescape(run)


def test_the_inline_script_is_the_one_the_csp_allows(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    _write(store)
    render_site(store.root, tmp_path / "site")
    text = (tmp_path / "site/index.html").read_text("utf-8")
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = html.unescape(
        re.findall(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)[0]
    )
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp


def test_file_stems_are_safe_and_distinct() -> None:
    assert file_stem("20261129T010002Z-weekly") == "20261129T010002Z-weekly"
    for name in ("../etc/passwd", "a/b", ".hidden", "", "a b"):
        stem = file_stem(name)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", stem) and not stem.startswith("."), name
    assert file_stem("a/b") != file_stem("a_b") != file_stem("a b")


def test_render_command_default_and_incremental(tmp_path: Path) -> None:
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    _write(EvidenceStore(tmp_path / "audit"), name="linux-baseline")
    runner = CliRunner()
    first = runner.invoke(cli, ["-C", str(tmp_path), "report", "render"])
    assert first.exit_code == 0, first.output
    assert "1 run pages written" in first.stdout and (tmp_path / "site/index.html").is_file()
    again = runner.invoke(cli, ["-C", str(tmp_path), "report", "render"])
    assert "0 run pages written, 1 unchanged" in again.stdout
    inside = runner.invoke(
        cli, ["-C", str(tmp_path), "report", "render", "--out", str(tmp_path / "audit/x")]
    )
    assert inside.exit_code == 2 and "inside the evidence store" in inside.stderr


def test_kpi_page_shows_forecasts(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    first = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    for day, used in enumerate((60, 62, 64, 66)):
        started = first + timedelta(days=day)
        result = Result(host="web01", check="disk-root", status=Status.PASS, observed=used,
                        expected="<= 85 %")  # fmt: skip
        store.write(
            ReportDraft(
                kind=Kind.CHECKLIST,
                name="linux-baseline",
                operator="cron@bastion",
                started=started,
                finished=started + timedelta(seconds=1),
                steps=[ChecklistStep(checklist="linux-baseline", results=[result])],
            )
        )
    render_site(store.root, tmp_path / "site", now=first + timedelta(days=3, hours=1))
    page = html.unescape((tmp_path / "site" / "kpi.html").read_text("utf-8"))
    assert "disk-root on web01 reaches 85 % in about" in page

"""``butler-maint kpi`` and the site's KPI page show the same figures: both come from
``kpi.kpis`` over the same period (the last 90 days by default)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import ChecklistStep, EvidenceStore, Kind, ReportDraft, Result, Status
from butler_maint.kpi import DEFAULT_PERIOD, kpis
from butler_maint.site import render_site

NOW = datetime.now(UTC).replace(microsecond=0)


def _run(store: EvidenceStore, started: datetime, ntp: Status, disk: int) -> None:
    results = [
        Result(host="web01", check="disk-root", status=Status.PASS, observed=disk,
               expected="<= 85 %"),
        Result(host="web01", check="ntp", status=ntp),
    ]  # fmt: skip
    store.write(
        ReportDraft(
            kind=Kind.CHECKLIST,
            name="linux-baseline",
            operator="ops@bastion",
            started=started,
            finished=started + timedelta(minutes=1),
            steps=[ChecklistStep(checklist="linux-baseline", results=results)],
        )
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A run 120 days ago (outside the period: ntp failing), then 3, 2 and 1 days ago:
    ntp pass, fail, pass; disk 70, 72, 74 %. In the period: 5 of 6 pass, MTTR 1 day."""
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    store = EvidenceStore(tmp_path / "audit")
    _run(store, NOW - timedelta(days=120), Status.FAIL, 10)
    for days_ago, ntp, disk in ((3, Status.PASS, 70), (2, Status.FAIL, 72), (1, Status.PASS, 74)):
        _run(store, NOW - timedelta(days=days_ago), ntp, disk)
    return tmp_path


def test_the_cli_and_the_site_show_the_same_figures(project: Path) -> None:
    result = CliRunner().invoke(cli, ["-C", str(project), "kpi", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["runs"] == 3 and doc["pass_rate"]["rate"] == pytest.approx(5 / 6)
    assert doc["mttr_seconds"] == 86400.0 and doc["remediations"] == 1
    render_site(project / "audit", project / "site", now=NOW)
    page = html.unescape((project / "site/kpi.html").read_text("utf-8"))
    assert "Checks (last 3 reports)" in page  # the run 120 days ago is outside the period
    assert "83.3% of 6 judged results" in page
    assert "24.0 h (1 remediated)" in page
    assert "disk-root on web01: not enough history" in page  # 3 points over 2 days


def test_the_view_is_the_period_of_the_store(project: Path) -> None:
    store = EvidenceStore(project / "audit")
    view = kpis(store, (), {}, NOW, NOW - DEFAULT_PERIOD)
    assert (len(view.entries), view.reports, view.pass_rate.judged) == (3, 3, 6)
    everything = kpis(store, (), {}, NOW, NOW - timedelta(days=365))
    assert (everything.reports, everything.pass_rate.passed) == (4, 6)
    assert [(i.host, i.check) for i in everything.open_incidents] == []
    assert [r.check for r in everything.remediations] == ["ntp"] * 2

"""Honest KPIs on a fleet-like history: a waived failure is not failing, a host-key error
then a pass is no remediation, three points within minutes make no forecast; the
terminal, the site and the Prometheus file agree on what is failing now. Grouping by
severity and control, and the auditor's per-control view.

The history is written through the real store and read back through ``kpi.kpis`` (the
``kpi`` command and the site use the same).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import ChecklistStep, EvidenceStore, Kind, ReportDraft, Result, Status
from butler_maint.kpi import (
    DEFAULT_PERIOD,
    MIN_R2,
    MIN_SPAN,
    KpiView,
    Observation,
    control_coverage,
    failing_now,
    forecast_series,
    forecasts,
    kpis,
    pass_rates,
    render_metrics,
    shortfalls,
)
from butler_maint.kpi.forecast import Threshold
from butler_maint.site import render_site

P, F, E, W = Status.PASS, Status.FAIL, Status.ERROR, Status.WAIVED
NOW = datetime.now(UTC).replace(microsecond=0)
DAY0 = NOW - timedelta(days=4)
MEM = "<= 90 % used, >= 500 MB available"
SSH = {"severity": "high", "controls": ["CIS-5.2", "ISO-A.9"], "title": "sshd hardened"}
DISK = {"severity": "medium", "controls": ["CIS-1.1"], "title": "root filesystem"}


def _result(host: str, check: str, status: Status, **extra: object) -> Result:
    return Result.model_validate({"host": host, "check": check, "status": status, **extra})


def _run(store: EvidenceStore, at: datetime, results: list[Result]) -> str:
    draft = ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        operator="ops@bastion",
        started=at,
        finished=at + timedelta(seconds=1),
        steps=[ChecklistStep(checklist="linux-baseline", results=results)],
    )
    return store.write(draft).id


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Day 0: h001 ssh FAIL, h002 disk FAIL, h002 ntp pass.
    Day 1: h001 ssh WAIVED (a waiver came), h002 disk pass (fixed: 1 day), h002 ntp FAIL.
    Day 2: h001 ntp ERROR (host-key mismatch), 2 s later pass (known_hosts fixed).
    Day 3: h001 memory 4.5, 4.6, 4.7 % used at 00:00, 00:01, 00:02."""
    (tmp_path / "butler.yaml").write_text("evidence: {dir: audit}\n")
    s = EvidenceStore(tmp_path / "audit")
    day = [DAY0 + timedelta(days=k) for k in range(4)]
    waived = _result("h001", "ssh", W, message="waived by waivers/ssh.yaml#1", **SSH)
    _run(s, day[0], [_result("h001", "ssh", F, **SSH), _result("h002", "disk-root", F, **DISK),
                     _result("h002", "ntp", P)])  # fmt: skip
    _run(s, day[1], [waived, _result("h002", "disk-root", P, **DISK),
                     _result("h002", "ntp", F)])  # fmt: skip
    _run(s, day[2], [_result("h001", "ntp", E, message="Host key verification failed")])
    _run(s, day[2] + timedelta(seconds=2), [_result("h001", "ntp", P)])
    for k, used in enumerate((4.5, 4.6, 4.7)):
        at = day[3] + timedelta(minutes=k)
        _run(s, at, [_result("h001", "memory", P, observed=f"{used} % used", expected=MEM)])
    return tmp_path


def _view(project: Path) -> KpiView:
    return kpis(EvidenceStore(project / "audit"), (), {}, NOW, NOW - DEFAULT_PERIOD)


def test_mttr_counts_fail_then_pass_only(project: Path) -> None:
    view = _view(project)
    # Only h002 disk-root: fail day 0 -> pass day 1. The host-key error then pass of h001
    # ntp (2 s) is availability; the waived h001 ssh was accepted, not fixed.
    assert [(r.host, r.check) for r in view.remediations] == [("h002", "disk-root")]
    assert view.mttr == timedelta(days=1)
    # Judged: 3 + 2 (the waived one is not) + 1 + 1 + 3 = 10, one of them an error.
    av = view.availability
    assert (av.judged, av.errors, av.unreachable) == (10, 1, 0)
    assert av.rate == pytest.approx(0.9)


def test_waived_is_never_failing_now(project: Path) -> None:
    view = _view(project)
    assert [(i.host, i.check, i.status) for i in view.open_incidents] == [("h002", "ntp", F)]
    assert [(o.host, o.check) for o in failing_now(view.obs)] == [("h002", "ntp")]
    metrics = render_metrics([], view.obs)
    assert 'butler_failing_checks{checklist="linux-baseline",host="h002"} 1\n' in metrics
    assert 'host="h001"' not in metrics


def test_three_points_in_three_minutes_make_no_forecast(project: Path) -> None:
    view = _view(project)
    assert view.forecasts == []
    (short,) = view.shortfalls
    assert (short.host, short.check, short.points) == ("h001", "memory", 3)
    assert short.span == timedelta(minutes=2)
    assert short.describe().startswith(
        "memory on h001: not enough history to forecast 90 % used (3 points over 2 minutes"
    )


def test_terminal_site_and_metrics_file_agree(project: Path) -> None:
    prom = project / "butler.prom"
    result = CliRunner().invoke(
        cli, ["-C", str(project), "kpi", "--forecast", "--metrics-file", str(prom)]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "mean time to remediate: 1d 0h 0m (1 remediated, 1 still failing)" in out
    assert "availability: 90.0 % (1 error, 0 unreachable of 10 judged results)" in out
    failing = [ln for ln in out.splitlines() if ln.startswith("failing now:")]
    assert len(failing) == 1 and failing[0].startswith("failing now: ntp on h002 (fail since")
    assert "forecast: memory on h001: not enough history" in out
    assert "reaches" not in out
    samples = [ln for ln in prom.read_text().splitlines() if ln.startswith("butler_failing_")]
    assert samples == ['butler_failing_checks{checklist="linux-baseline",host="h002"} 1']
    render_site(project / "audit", project / "site", now=NOW)
    page = html.unescape((project / "site/kpi.html").read_text("utf-8"))
    assert "Failing now (1)" in page
    assert "24.0 h (1 remediated)" in page
    assert "memory on h001: not enough history" in page


def test_by_severity_and_control(project: Path) -> None:
    obs = _view(project).obs
    rows = {r.group: (r.passed, r.judged, r.other) for r in pass_rates(obs, "severity")}
    # ssh (high): fail, waived; disk (medium): fail, pass; the rest name no severity.
    assert rows["high"] == (0, 1, 1) and rows["medium"] == (1, 2, 0)
    assert rows["(none)"] == (5, 7, 0)
    by_control = {r.group: (r.passed, r.judged) for r in pass_rates(obs, "control")}
    # The ssh results count under both of their controls.
    assert by_control["CIS-5.2"] == by_control["ISO-A.9"] == (0, 1)
    assert by_control["CIS-1.1"] == (1, 2)
    code = CliRunner().invoke(
        cli, ["-C", str(project), "kpi", "--by", "control", "--format", "json"]
    )
    assert code.exit_code == 0, code.output
    groups = [g["group"] for g in json.loads(code.stdout)["groups"]]
    assert groups == ["(none)", "CIS-1.1", "CIS-5.2", "ISO-A.9"]


def test_controls_view(project: Path) -> None:
    obs = _view(project).obs
    coverage = {c.control: c for c in control_coverage(obs)}
    assert sorted(coverage) == ["CIS-1.1", "CIS-5.2", "ISO-A.9"]
    (ssh,) = coverage["CIS-5.2"].checks
    assert (ssh.checklist, ssh.check, ssh.title) == ("linux-baseline", "ssh", "sshd hardened")
    (host,) = ssh.hosts
    assert (host.host, host.status) == ("h001", W)
    assert len(ssh.reports) == 2 and host.report == ssh.reports[-1]
    result = CliRunner().invoke(cli, ["-C", str(project), "kpi", "--controls", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [c["control"] for c in doc["controls"]] == ["CIS-1.1", "CIS-5.2", "ISO-A.9"]
    assert doc["controls"][0]["checks"][0]["hosts"][0]["status"] == "pass"
    text = CliRunner().invoke(cli, ["-C", str(project), "kpi", "--controls"]).stdout
    assert "CIS-5.2:\n  linux-baseline/ssh (sshd hardened)\n    h001" in text
    csv_out = CliRunner().invoke(cli, ["-C", str(project), "kpi", "--controls", "--format", "csv"])
    assert "control,CIS-5.2/linux-baseline/ssh/h001,waived," in csv_out.stdout


def _obs(values: list[float], step: timedelta) -> list[Observation]:
    return [
        Observation(
            at=DAY0 + k * step,
            report=f"r{k}",
            host="web01",
            check="disk-root",
            status=P,
            observed=v,
            expected="<= 85 %",
            message=None,
            step="linux-baseline",
            schedule=None,
        )
        for k, v in enumerate(values)
    ]


def test_forecast_needs_span_points_and_fit() -> None:
    at = DAY0 + timedelta(days=10)
    # 60..68 daily over 4 days: a straight line (r² 1): 85 % on day 12.5.
    (steady,) = forecasts(_obs([60, 62, 64, 66, 68], timedelta(days=1)), at)
    assert steady.crossing == DAY0 + timedelta(days=12.5)
    assert shortfalls(_obs([60, 62, 64, 66, 68], timedelta(days=1)), at) == []
    # Same values 12 hours apart: 2 days of history, less than MIN_SPAN.
    half = _obs([60, 62, 64, 66, 68], timedelta(hours=12))
    assert timedelta(days=3) == MIN_SPAN and forecasts(half, at) == []
    assert [s.span for s in shortfalls(half, at)] == [timedelta(days=2)]
    # Rising over 4 days but scattered: r² about 0.07 (< MIN_R2): no forecast.
    noisy = _obs([60, 75, 58, 77, 62], timedelta(days=1))
    assert forecast_series([(o.at, float(str(o.observed))) for o in noisy],
                           Threshold("<=", 85.0, "%")) is not None  # fmt: skip
    assert forecasts(noisy, at) == []
    (short,) = shortfalls(noisy, at)
    assert short.r2 < MIN_R2 and short.points == 5
    # Two points over 4 days: fewer than MIN_POINTS.
    assert forecasts(_obs([60, 68], timedelta(days=4)), at) == []

"""``butler-maint kpi`` through Click's CliRunner, on a history written through the store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from butler_maint.cli import cli
from tests.fixtures.evidence.projects import hourly_routine_project


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An hourly routine; runs 3, 2 and 1 days before the last full hour (on time), disk
    70, 72, 74 % on web01; ntp on web01 fails in the middle run. Pass rate 5 / 6; MTTR 1 day."""
    return hourly_routine_project(tmp_path)


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["-C", str(project), "kpi", *args])
    return result.exit_code, result.stdout, result.stderr


def test_kpi_json(project: Path) -> None:
    code, out, _ = invoke(project, "--since", "10d", "--by", "owner", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["runs"] == 3
    assert doc["pass_rate"]["rate"] == pytest.approx(5 / 6)
    assert doc["groups"] == [
        {"group": "ops", "total": 6, "pass": 5, "fail": 1, "other": 0, "rate": 5 / 6}
    ]
    (row,) = doc["sla"]
    assert (row["schedule"], row["on_time"], row["late"], row["owner"]) == (
        "daily-health",
        3,
        0,
        "platform-team",
    )
    assert doc["mttr_seconds"] == 86400.0 and doc["remediations"] == 1
    assert doc["flapping"] == [] and doc["pending"] == []
    assert "forecasts" not in doc


def test_kpi_text_with_forecast(project: Path) -> None:
    code, out, _ = invoke(project, "--forecast", "--by", "host")
    assert code == 0
    assert "pass rate: 83.3 % (5 of 6 judged results, 6 in all)" in out
    assert "    web01" in out
    assert "mean time to remediate: 1d 0h 0m (1 remediated, 0 still failing)" in out
    # 70, 72, 74 one day apart: heading for 85 %, but 3 points over 2 days are less than
    # the 3 days a forecast needs (kpi.forecast.MIN_SPAN).
    (line,) = [ln for ln in out.splitlines() if ln.startswith("forecast:")]
    assert line.startswith("forecast: disk-root on web01: not enough history to forecast 85 %")


def test_kpi_csv(project: Path) -> None:
    code, out, _ = invoke(project, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert ["sla", "daily-health", "on_time", "3"] in rows
    assert ["mttr", "all", "seconds", "86400.0"] in rows


def test_kpi_metrics_file(project: Path) -> None:
    target = project / "butler.prom"
    code, _, err = invoke(project, "--metrics-file", str(target))
    assert code == 0 and f"wrote {target}" in err
    text = target.read_text()
    assert 'butler_schedule_last_run_success{schedule="daily-health"} 1\n' in text
    assert "butler_failing_checks{" not in text  # latest results all pass


def test_kpi_since_window_excludes_older_runs(project: Path) -> None:
    code, out, _ = invoke(project, "--since", "36h", "--format", "json")
    assert code == 0
    assert json.loads(out)["runs"] == 1


def test_kpi_bad_since(project: Path) -> None:
    code, _, err = invoke(project, "--since", "yesterday")
    assert code == 2 and "--since" in err

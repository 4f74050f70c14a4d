"""Service levels per system and vendor over two months of history: `service-report`
(Markdown and JSON, each figure against its target with the previous month's value)
and `kpi --by system|vendor`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.kpi.service import judge_duration, judge_rate
from tests.fixtures.systems_history import months, write_history

DAY = 86400.0


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("shop"))


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def lengths() -> tuple[int, int]:
    a, b, current = months()
    return (b - a).days, (current - b).days


def scopes(root: Path, month: str) -> dict[str, dict[str, Any]]:
    result = run(root, "service-report", "--month", month, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    return {f"{s['kind']}:{s['name']}": s for s in doc["scopes"]}


def figures(scope: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in scope["figures"]}


def test_states_against_targets() -> None:
    assert judge_rate(0.95, 90) == "met"
    assert judge_rate(0.915, 90) == "at risk"  # 85 % of the 10 % budget used
    assert judge_rate(0.89, 90) == "missed"
    assert judge_rate(None, 90) == "no data" and judge_rate(0.5, None) == "no target"
    assert judge_rate(1.0, 100) == "met" and judge_rate(0.999, 100) == "missed"
    day = timedelta(days=1)
    assert judge_duration(day / 2, day) == "met"
    assert judge_duration(day, day) == "at risk"
    assert judge_duration(day * 2, day) == "missed"


def test_each_system_against_its_targets_with_the_previous_month(history: Path) -> None:
    days_a, days_b = lengths()
    _, b, _ = months()
    found = scopes(history, f"{b:%Y-%m}")
    db = figures(found["system:shop-db"])
    assert db["pass rate"]["value"] == 1.0 and db["pass rate"]["state"] == "met"
    assert db["pass rate"]["previous"] == pytest.approx((days_a - 2) / days_a)
    assert db["pass rate"]["target"] == 0.9
    assert db["MTTR"]["value"] is None and db["MTTR"]["state"] == "no data"
    assert db["MTTR"]["previous"] == 2 * DAY  # failed on the 10th, passed on the 12th
    web = figures(found["system:shop-web"])
    ran = days_b - 8
    assert web["pass rate"]["value"] == pytest.approx((ran - 2) / ran)
    assert web["pass rate"]["state"] == "at risk" and web["pass rate"]["previous"] == 1.0
    assert web["MTTR"]["value"] == DAY and web["MTTR"]["state"] == "at risk"
    assert web["on time"]["value"] == pytest.approx(ran / days_b)
    assert web["on time"]["state"] == "missed" and web["on time"]["previous"] == 1.0
    assert web["maintenance gap"]["value"] == 9 * DAY
    assert web["maintenance gap"]["state"] == "missed"
    assert web["maintenance gap"]["previous"] == DAY
    shop_web = found["system:shop-web"]
    assert shop_web["incidents"] == 2 and shop_web["maintenance_runs"] == ran
    assert [(o["host"], o["status"]) for o in shop_web["open_failures"]] == [("web1", "fail")]
    assert shop_web["checked"] == {"checklists": ["shop-health"], "hosts": ["web1"],
                                   "runs": ran, "results": ran}  # fmt: skip


def test_each_vendor_over_its_systems(history: Path) -> None:
    _, days_b = lengths()
    _, b, _ = months()
    found = scopes(history, f"{b:%Y-%m}")
    assert set(found) >= {"vendor:Acme DB", "vendor:Shopware GmbH"}
    vendor = found["vendor:Shopware GmbH"]
    assert vendor["systems"] == ["shop-app", "shop-web"]
    assert vendor["owners"] == ["app-team", "web-team"]
    ran = days_b - 8
    rate = figures(vendor)["pass rate"]
    assert rate["value"] == pytest.approx((2 * ran - 3) / (2 * ran - 1))  # 1 waived, 2 fail
    assert vendor["waived"] == 1 and vendor["incidents"] == 2


def test_markdown_report_per_system_and_vendor(history: Path) -> None:
    a, b, _ = months()
    result = run(history, "service-report", "--month", f"{b:%Y-%m}")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"# Service report {b:%Y-%m}\n")
    assert f"previous month {a:%Y-%m}" in text
    for head in ("## System shop-db: Shop db", "## System shop-web: Shop web",
                 "## Vendor Acme DB", "## Vendor Shopware GmbH"):  # fmt: skip
        assert head in text
    db = text.split("## System shop-db")[1].split("## ")[0]
    assert "| MTTR | - | <= 1d 0h | no data | 2d 0h | - | 0 remediated |" in db
    assert "| pass rate | 100.0 % | >= 90 % | met |" in db
    web = text.split("## System shop-web")[1].split("## ")[0]
    assert "| maintenance gap | 9d 0h | <= 8d 0h | missed | 1d 0h | +8d 0h |" in web
    assert "- web1 up fail" in web and "healthy is no" in web
    only = run(history, "service-report", "--month", f"{b:%Y-%m}", "--name", "Acme DB").output
    assert "## Vendor Acme DB" in only and "## System" not in only


def test_kpi_by_system_and_vendor(history: Path) -> None:
    result = run(history, "kpi", "--by", "vendor", "--since", "400d", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [g["name"] for g in doc["groups"]] == ["Acme DB", "Shopware GmbH"]
    text = run(history, "kpi", "--by", "system", "--since", "400d").output
    assert "shop-db  (shop-db)" in text and "target >= 90 %" in text
    assert "maintenance gap" in text and "missed" in text


def test_bad_month_and_no_systems_are_usage_errors(history: Path, tmp_path: Path) -> None:
    bad = run(history, "service-report", "--month", "2026-13")
    assert bad.exit_code == 2 and "expected a month as YYYY-MM" in bad.output
    empty = run(tmp_path, "service-report")
    assert empty.exit_code == 2 and "no systems" in empty.stderr

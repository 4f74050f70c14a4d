"""Windows in dependency order with a fake reach: tiers run in order, a failed tier
stops the tiers after it with the reason, explicit tiers, hosts in no system last."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from butler_maint.evidence import EvidenceStore, Report
from butler_maint.inventory import Inventory
from butler_maint.model.config import load_config
from butler_maint.runs.occurrence import window_request
from butler_maint.runs.request import Target
from butler_maint.runs.stop import Stop
from butler_maint.runs.window import run_window
from tests.fixtures.systems import write_shop
from tests.unit.runs.test_window_rules import FakeReach

GROUPS = {"db": ["db1", "db2"], "app": ["app1"], "web": ["web1", "web2"]}
CHECK = {"command": {"run": "test {{ healthy }} = yes"}}


def shop(tmp_path: Path, unhealthy: set[str] = frozenset(), **window: Any) -> Path:
    hosts = [h for names in GROUPS.values() for h in names]
    host_vars = {h: {"healthy": "no" if h in unhealthy else "yes"} for h in hosts}
    return write_shop(tmp_path / "content", GROUPS, host_vars, CHECK, window)


def in_tiers(calls: list[str], sizes: list[int]) -> list[set[str]]:
    """The hosts reached, cut into consecutive tiers (hosts of a batch run in parallel)."""
    out, start = [], 0
    for size in sizes:
        out.append(set(calls[start : start + size]))
        start += size
    assert start == len(calls)
    return out


def run(root: Path, reach: FakeReach, **kwargs: Any) -> Report:
    inventory = Inventory.load([root / "inventories" / "hosts.yml"])
    target = Target(root, load_config(root), inventory, "op@test")
    request = window_request(target, "shop-patch", now=datetime.now(UTC), occurrence=None)
    outcome = run_window(request, Stop(), reach=reach.reach(), **kwargs)
    return EvidenceStore(root / "evidence").load(outcome.written.id)


def test_dependencies_first_then_dependents_with_timestamps(tmp_path: Path) -> None:
    reach = FakeReach()
    report = run(shop(tmp_path), reach)
    assert report.result == "pass"
    assert in_tiers(reach.calls, [2, 1, 2]) == [{"db1", "db2"}, {"app1"}, {"web1", "web2"}]
    tiers = report.tiers or []
    assert [t.systems for t in tiers] == [["shop-db"], ["shop-app"], ["shop-web"]]
    assert [t.hosts for t in tiers] == [["db1", "db2"], ["app1"], ["web1", "web2"]]
    assert [t.result for t in tiers] == ["pass", "pass", "pass"]
    for before, after in itertools.pairwise(tiers):
        assert before.started and before.finished and after.started
        assert before.started <= before.finished <= after.started


def test_dependents_first_reverses_the_tiers(tmp_path: Path) -> None:
    reach = FakeReach()
    report = run(shop(tmp_path, stop="dependents-first"), reach)
    assert [t.systems for t in report.tiers or []] == [["shop-web"], ["shop-app"], ["shop-db"]]
    assert in_tiers(reach.calls, [2, 1, 2]) == [{"web1", "web2"}, {"app1"}, {"db1", "db2"}]


def test_a_failed_tier_stops_its_dependents_with_the_reason(tmp_path: Path) -> None:
    reach = FakeReach()
    report = run(shop(tmp_path, {"db2"}), reach)
    assert sorted(reach.calls) == ["db1", "db2"]
    tiers = report.tiers or []
    assert [t.result for t in tiers] == ["fail", "not_run", "not_run"]
    assert tiers[0].reason == "tier 1 (shop-db) failed on db2"
    assert report.stopped is not None
    assert report.stopped.startswith("tier 1 (shop-db) failed on db2; the tiers after it")
    assert "shop-app, shop-web" in report.stopped
    not_run = {r.host: r for r in report.steps[0].results if r.status == "not_run"}
    assert set(not_run) == {"app1", "web1", "web2"}
    assert all(r.message == report.stopped for r in not_run.values())
    assert tiers[1].reason == report.stopped and tiers[1].started is None
    assert report.result == "fail"


def test_explicit_tiers_run_as_written_and_other_hosts_last(tmp_path: Path) -> None:
    root = shop(tmp_path, tiers=["shop-app", ["shop-db"]])
    del_order = yaml.safe_load((root / "schedules" / "shop-patch.yaml").read_text())
    del_order.pop("order")
    (root / "schedules" / "shop-patch.yaml").write_text(yaml.safe_dump(del_order))
    reach = FakeReach()
    report = run(root, reach)
    tiered = in_tiers(reach.calls, [1, 2, 2])
    assert tiered == [{"app1"}, {"db1", "db2"}, {"web1", "web2"}]
    tiers = report.tiers or []
    assert [t.systems for t in tiers] == [["shop-app"], ["shop-db"], []]
    assert [t.result for t in tiers] == ["pass", "pass", "pass"]


def test_a_window_without_order_records_no_tiers(tmp_path: Path) -> None:
    root = shop(tmp_path)
    doc = yaml.safe_load((root / "schedules" / "shop-patch.yaml").read_text())
    doc.pop("order")
    (root / "schedules" / "shop-patch.yaml").write_text(yaml.safe_dump(doc))
    report = run(root, FakeReach())
    assert report.tiers is None and report.result == "pass"


def test_a_tier_cut_short_by_the_window_end_is_stopped(tmp_path: Path) -> None:
    reach = FakeReach()
    now = datetime.now(UTC)

    def clock() -> datetime:  # the window ends once web1 ran
        return now + (timedelta(hours=4) if "web1" in reach.calls else timedelta())

    report = run(shop(tmp_path, serial="1"), reach, clock=clock)
    assert reach.calls[-1] == "web1" and "web2" not in reach.calls
    tiers = report.tiers or []
    assert [t.result for t in tiers] == ["pass", "pass", "stopped"]
    assert (tiers[2].reason or "").startswith("the window ended at")
    web2 = next(r for r in report.steps[0].results if r.host == "web2")
    assert web2.status == "not_run" and web2.message == tiers[2].reason

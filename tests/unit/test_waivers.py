"""Waivers: loading with references and path:line:col errors, expiry, and applying them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from butler_maint.checks.runner import CheckResult, HostRun
from butler_maint.errors import ContentError
from butler_maint.evidence.model import Result, Status
from butler_maint.waivers import (
    LoadedWaiver,
    Waiver,
    apply_waivers,
    expiring,
    expiry_warning,
    fnmatch_matcher,
    inventory_matcher,
    live_waivers,
    load_waivers,
    waive_runs,
)

FILE = """waivers:
  - hosts: web*
    check: disk-root
    reason: Log volume migration pending
    ticket: CHG-1
    approved_by: jane
    expires: 2027-01-31
  - hosts: db01
    checklist: linux-baseline
    check: reboot-pending
    reason: Reboot with the failover test
    ticket: CHG-2
    approved_by: joe
    expires: 2026-06-30
"""

NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)


def _waivers(tmp_path: Path) -> list[LoadedWaiver]:
    (tmp_path / "waivers").mkdir()
    (tmp_path / "waivers" / "ops.yaml").write_text(FILE)
    return load_waivers(tmp_path)


def _result(host: str, check: str, status: Status = Status.FAIL) -> Result:
    return Result(host=host, check=check, status=status, observed=93, message="93% used")


def test_load_gives_references_and_locations(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    assert [w.reference for w in waivers] == ["waivers/ops.yaml#1", "waivers/ops.yaml#2"]
    assert waivers[1].where.endswith("ops.yaml:8:5")
    assert waivers[0].waiver.expires == date(2027, 1, 31)
    assert waivers[1].waiver.checklist == "linux-baseline"


def test_no_waivers_directory_is_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("waivers:\n  - hosts: a\n    check: c\n", "waivers[0].reason: required field is missing"),
        (
            FILE.replace("expires: 2027-01-31", "expires: soon"),
            "waivers[0].expires: expected a date (YYYY-MM-DD), got 'soon'",
        ),
        (FILE.replace("ticket: CHG-1", "tiket: CHG-1"), "waivers[0].tiket: unknown field"),
    ],
)
def test_bad_files_name_path_line_col(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "waivers").mkdir()
    (tmp_path / "waivers" / "bad.yaml").write_text(text)
    with pytest.raises(ContentError) as caught:
        load_waivers(tmp_path)
    rendered = caught.value.render()
    assert "bad.yaml:" in rendered and expected in rendered


def test_live_waiver_turns_fail_into_waived(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    [out] = apply_waivers([_result("web01", "disk-root")], waivers, NOW, fnmatch_matcher())
    assert out.status is Status.WAIVED
    assert out.message == (
        "waived by waivers/ops.yaml#1 (CHG-1, until 2027-01-31): Log volume migration pending"
        "; check said: 93% used"
    )
    assert out.observed == 93


def test_expiry_day_is_inclusive_then_fails_again(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    last_day = datetime(2027, 1, 31, 23, 59, tzinfo=UTC)
    after = datetime(2027, 2, 1, 0, 0, tzinfo=UTC)
    match = fnmatch_matcher()
    assert apply_waivers([_result("web01", "disk-root")], waivers, last_day, match)[0].status == (
        Status.WAIVED
    )
    assert apply_waivers([_result("web01", "disk-root")], waivers, after, match)[0].status == (
        Status.FAIL
    )


def test_only_fail_is_waived_and_only_matching_hosts_checks_checklists(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    results = [
        _result("web01", "disk-root", Status.ERROR),
        _result("web01", "disk-root", Status.PASS),
        _result("db01", "disk-root"),
        _result("web01", "memory"),
    ]
    out = apply_waivers(results, waivers, NOW, fnmatch_matcher())
    assert [r.status for r in out] == [Status.ERROR, Status.PASS, Status.FAIL, Status.FAIL]
    live = [w for w in waivers if w.reference.endswith("#2")]
    reboot = [_result("db01", "reboot-pending")]
    early = datetime(2026, 6, 1, tzinfo=UTC)
    assert apply_waivers(reboot, live, early, fnmatch_matcher(), "other")[0].status is Status.FAIL
    waived = apply_waivers(reboot, live, early, fnmatch_matcher(), "linux-baseline")
    assert waived[0].status is Status.WAIVED


def test_runner_results_are_waived_too(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    run = HostRun("web02", [CheckResult("web02", "disk-root", "fail", 93, "<= 85", 3, "full")])
    [out] = waive_runs([run], waivers, NOW, fnmatch_matcher())
    assert out.results[0].status == "waived"
    assert out.results[0].message.endswith("check said: full")


@dataclass
class _Host:
    name: str


class _Inventory:
    def select(self, pattern: str = "all", limit: str | None = None) -> list[_Host]:
        from butler_maint.errors import InventoryError

        groups = {"db": [_Host("db01"), _Host("db02")]}
        if pattern not in groups:
            raise InventoryError(f"host pattern {pattern!r} matches no host")
        return groups[pattern]


def test_inventory_matcher_resolves_groups() -> None:
    match = inventory_matcher(_Inventory())
    assert match("db", "db02")
    assert not match("db", "web01")
    assert not match("nosuch", "db01")


def test_expiring_within_14_days_soonest_first(tmp_path: Path) -> None:
    waivers = _waivers(tmp_path)
    assert [w.reference for w in expiring(waivers, NOW)] == ["waivers/ops.yaml#1"]
    assert expiring(waivers, datetime(2027, 1, 1, tzinfo=UTC)) == []
    assert [w.reference for w in live_waivers(waivers, NOW)] == ["waivers/ops.yaml#1"]
    line = expiry_warning(expiring(waivers, NOW)[0], NOW)
    assert line == (
        "warning: waiver waivers/ops.yaml#1 (CHG-1: disk-root on web*) expires in 11 days "
        "(2027-01-31)"
    )


def test_waiver_model_is_strict() -> None:
    with pytest.raises(ValueError, match="expires"):
        Waiver.model_validate(
            {"hosts": "a", "check": "c", "reason": "r", "ticket": "t", "approved_by": "x"}
        )

"""Systems on a real sshd fleet: the shop (shop-db <- shop-app <- shop-web) patched in
dependency order, a failed db tier stopping app and web, `validate` refusing a cycle,
and `diagnose` putting db at the root of a run where all three fail."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, Report
from butler_maint.evidence.verify import verify_store
from tests.fixtures.systems import write_shop

pytestmark = pytest.mark.integration
GROUPS = {"db": ["host01", "host02"], "app": ["host03", "host04"], "web": ["host05", "host06"]}
CHECK = {"file": {"path": "{{ sandbox }}/healthy"}}


def shop(tmp_path: Path, fleet, broken: set[str] = frozenset(), **window: object) -> Path:  # type: ignore[no-untyped-def]
    python = {"ansible_python_interpreter": "/usr/bin/python3"}
    host_vars = {name: {**fleet.host_vars(name), **python} for name in fleet.hosts}
    root = write_shop(tmp_path / "content", GROUPS, host_vars, CHECK, window)
    settings = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/hosts.yml", "ssh": settings})
    )
    for host in fleet.hosts.values():
        healthy = host.sandbox / "healthy"
        if host.name in broken:
            healthy.unlink(missing_ok=True)
        else:
            healthy.write_text("ok\n")
    return root


def butler(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def latest(root: Path) -> Report:
    return EvidenceStore(root / "evidence").load("latest")


@pytest.fixture(scope="module")
def shop_fleet(sshd_fleet_factory):  # type: ignore[no-untyped-def]
    return sshd_fleet_factory(6)


def test_validate_refuses_a_dependency_cycle_naming_it(shop_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = shop(tmp_path, shop_fleet)
    assert butler(root, "validate", "--no-syntax-check").exit_code == 0
    db = root / "systems" / "shop-db.yaml"
    db.write_text(db.read_text().replace("depends_on: []", "depends_on: [shop-web]"))
    result = butler(root, "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert "depends_on: dependency cycle shop-app -> shop-db -> shop-web -> shop-app" in (
        result.output
    )


def test_window_patches_in_dependency_order(shop_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = shop(tmp_path, shop_fleet, serial="1")
    result = butler(root, "window", "run", "shop-patch")
    assert result.exit_code == 0, result.output
    report = latest(root)
    tiers = report.tiers or []
    assert [t.systems for t in tiers] == [["shop-db"], ["shop-app"], ["shop-web"]]
    assert [t.hosts for t in tiers] == list(GROUPS.values())
    assert report.batches == [[h] for hosts in GROUPS.values() for h in hosts]
    for before, after in itertools.pairwise(tiers):
        assert before.finished is not None and after.started is not None
        assert before.finished <= after.started  # the report's timestamps prove the order
    shown = butler(root, "report", "show", "latest").output
    assert "tier 1 (shop-db): pass" in shown and "tier 3 (shop-web): pass" in shown
    assert verify_store(root / "evidence").ok


def test_a_failed_db_tier_stops_app_and_web_with_the_reason(shop_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = shop(tmp_path, shop_fleet, broken={"host02"})
    result = butler(root, "window", "run", "shop-patch")
    assert result.exit_code == 1
    assert "stopped: tier 1 (shop-db) failed on host02" in result.stderr
    report = latest(root)
    assert [t.result for t in report.tiers or []] == ["fail", "not_run", "not_run"]
    by_host = {r.host: r for r in report.steps[0].results}
    assert by_host["host01"].status == "pass" and by_host["host02"].status == "fail"
    for host in ("host03", "host04", "host05", "host06"):
        assert by_host[host].status == "not_run"
        assert "tier 1 (shop-db) failed on host02" in (by_host[host].message or "")
        assert "shop-app, shop-web" in (by_host[host].message or "")
    shown = butler(root, "report", "show", "latest").output
    assert "tier 2 (shop-app): not_run" in shown


def test_diagnose_puts_db_at_the_root_of_app_and_web(shop_fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = shop(tmp_path, shop_fleet, broken={"host01", "host04", "host05", "host06"})
    result = butler(root, "check", "shop-health")
    assert result.exit_code == 1
    report = latest(root)
    statuses = {r.host: str(r.status) for r in report.steps[0].results}
    assert statuses == {"host01": "fail", "host02": "pass", "host03": "pass",
                        "host04": "fail", "host05": "fail", "host06": "fail"}  # fmt: skip
    text = butler(root, "diagnose").output.splitlines()
    assert text[1] == "diagnosis: 3 failing system(s); start at shop-db"
    assert text[2] == "shop-db  ROOT  1 failing"
    assert text[3].startswith("    host01  up  fail")
    assert text[4] == "  shop-app  probably caused by shop-db  1 failing"
    assert text[5].startswith("      host04  up  fail")
    assert text[6] == "    shop-web  probably caused by shop-app  2 failing"
    doc = json.loads(butler(root, "diagnose", report.id, "--format", "json").output)
    assert doc["roots"] == ["shop-db"]
    assert doc["systems"]["shop-web"]["caused_by"] == ["shop-app"]
    assert doc["systems"]["shop-db"]["probably_causes"] == ["shop-app"]
    shown = butler(root, "report", "show", "latest").output
    assert "shop-app  probably caused by shop-db  1 failing" in shown
    assert shown.count("  up  fail") >= 4  # every result is still in the report

"""Systems as content: `validate` checks them (cycles named), `schema system`, `init`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.fixtures.systems import write_shop

GROUPS = {"db": ["db1"], "app": ["app1"], "web": ["web1"]}
LOCAL = {h: {"ansible_connection": "local"} for hosts in GROUPS.values() for h in hosts}
CHECK = {"command": {"run": "true"}}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def edit(path: Path, **changes: object) -> None:
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_the_shop_validates_clean(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK)
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 0, result.output
    assert "3 systems" in result.stderr


def test_a_dependency_cycle_is_refused_naming_it(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK)
    edit(root / "systems" / "shop-db.yaml", depends_on=["shop-web"])
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    line = next(x for x in result.output.splitlines() if "cycle" in x)
    assert line.startswith("systems/shop-app.yaml:") or "shop-app.yaml:" in line
    assert "depends_on: dependency cycle shop-app -> shop-db -> shop-web -> shop-app" in line


def test_unknown_references_and_tiers_are_named(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK)
    edit(root / "systems" / "shop-web.yaml", depends_on=["shop-ap"], checklists=["nope"])
    window = root / "schedules" / "shop-patch.yaml"
    doc = yaml.safe_load(window.read_text())
    doc.pop("order")
    window.write_text(yaml.safe_dump({**doc, "tiers": ["shop-db", ["shop-dbb"]]}))
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    out = result.output
    assert "shop-web.yaml:" in out and "depends_on[0]: no system named 'shop-ap'" in out
    assert "checklists[0]: no checklist named 'nope'" in out
    assert "shop-patch.yaml:" in out and "tiers[1]: no system named 'shop-dbb'" in out


def test_order_and_tiers_together_are_refused(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK, {"tiers": ["shop-db"]})
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert "`order: dependencies` or explicit `tiers`, not both" in result.output


def test_schema_and_init_know_systems(tmp_path: Path) -> None:
    schema = json.loads(run("schema", "system").output)
    assert "depends_on" in schema["properties"] and "service_levels" in schema["properties"]
    assert run("init", str(tmp_path / "repo")).exit_code == 0
    system = yaml.safe_load((tmp_path / "repo" / "systems" / "platform.yaml").read_text())
    assert system["system"] == "platform" and system["service_levels"]["pass_rate"] == 98


def test_calendar_and_due_filter_by_system(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK)
    nightly = {"routine": "db-nightly", "every": "0 3 * * *", "checklist": "db-health"}
    (root / "schedules" / "db-nightly.yaml").write_text(yaml.safe_dump(nightly))
    due = run("-C", str(root), "due", "--system", "shop-web", "--format", "json")
    assert due.exit_code == 0, due.output
    assert [s["schedule"] for s in json.loads(due.output)] == ["shop-patch"]
    db = run("-C", str(root), "due", "--system", "shop-db", "--format", "json")
    assert sorted(s["schedule"] for s in json.loads(db.output)) == ["db-nightly", "shop-patch"]
    cal = run("-C", str(root), "calendar", "--system", "shop-web", "--format", "json")
    assert cal.exit_code == 0, cal.output
    assert {p["schedule"] for p in json.loads(cal.output)} == {"shop-patch"}
    everything = run("-C", str(root), "calendar", "--format", "json")
    assert {p["schedule"] for p in json.loads(everything.output)} == {"db-nightly", "shop-patch"}
    unknown = run("-C", str(root), "due", "--system", "shop-dbb")
    assert unknown.exit_code == 2 and "no system 'shop-dbb' (known: shop-app" in unknown.output


def test_order_dependencies_without_systems_is_refused(tmp_path: Path) -> None:
    root = write_shop(tmp_path, GROUPS, LOCAL, CHECK)
    for path in (root / "systems").iterdir():
        path.unlink()
    result = run("-C", str(root), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert "shop-patch.yaml:" in result.output
    assert "order: dependencies needs systems (systems/NAME.yaml); none found" in result.output

"""`validate`, `init` and `schema` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.unit.test_yamldoc import BILLION_LAUGHS

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def starter(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    return target


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("validate", "schema", "init"):
        assert command in result.output
    assert "Exit codes" in result.output


def test_every_command_is_in_the_lazy_map_under_its_own_module() -> None:
    """Each command is registered by the module COMMAND_MODULES names, and only one
    command's module is imported to run it (checked in a fresh interpreter)."""
    probe = """
import importlib, json, sys
from butler_maint.cli import COMMAND_MODULES, cli
from click.testing import CliRunner
CliRunner().invoke(cli, ["check", "--help"])
loaded = sorted(m for m in sys.modules if m.endswith("_cmds"))
owners = {}
for module in sorted(set(COMMAND_MODULES.values())):
    before = set(cli.commands)
    importlib.import_module("butler_maint.cli." + module)
    owners.update({name: module for name in set(cli.commands) - before})
print(json.dumps({"loaded": loaded, "owners": owners, "map": COMMAND_MODULES}))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(done.stdout)
    assert found["loaded"] == ["butler_maint.cli.check_cmds"]
    owners = {"check": "check_cmds", **found["owners"]}  # check was loaded by the probe
    assert owners == found["map"]


def test_init_then_validate_is_clean(starter: Path) -> None:
    assert (starter / ".gitignore").is_file()
    assert (starter / ".pre-commit-config.yaml").is_file()
    result = run("-C", str(starter), "validate")
    assert result.exit_code == 0, result.output
    assert "validate: ok" in result.output


def test_init_refuses_a_non_empty_directory(starter: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(starter)])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_the_repository_itself_validates() -> None:
    result = run("-C", str(REPO), "validate")
    assert result.exit_code == 0, result.output


BAD_CHECKLISTS = {
    "misspelled": (
        "  - id: d\n    disk: {max_used_pcnt: 85}\n",
        "4:12: checks[0].disk.max_used_pcnt: unknown field",
    ),
    "wrong-type": (
        "  - id: d\n    disk:\n      max_used_pct: [85]\n",
        "5:7: checks[0].disk.max_used_pct: expected a number",
    ),
    "duplicate": ("  - id: d\n    id: e\n    manual: x\n", "4:5: duplicate key 'id'"),
    "python-tag": (
        "  - id: d\n    manual: !!python/object/apply:os.system [id]\n",
        "4:13: unsupported tag",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKLISTS))
def test_bad_checklist_exits_2_with_position(starter: Path, case: str) -> None:
    body, expected = BAD_CHECKLISTS[case]
    (starter / "checklists" / "bad.yaml").write_text("checklist: bad\nchecks:\n" + body)
    result = run("-C", str(starter), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert f"checklists/bad.yaml:{expected}" in result.output


def test_billion_laughs_exits_2(starter: Path) -> None:
    (starter / "checklists" / "bomb.yaml").write_text(BILLION_LAUGHS)
    result = run("-C", str(starter), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert "checklists/bomb.yaml:1:" in result.output
    assert "alias bomb" in result.output


def test_cross_references_and_patterns(starter: Path) -> None:
    schedule = starter / "schedules" / "patching.yaml"
    text = schedule.read_text().replace(
        "- checklist: baseline\n  - playbook", "- checklist: basline\n  - playbook"
    )
    schedule.write_text(text.replace("playbooks/patch.yml", "playbooks/missing.yml"))
    checklist = starter / "checklists" / "baseline.yaml"
    checklist.write_text(checklist.read_text().replace("hosts: linux", "hosts: windows"))
    result = run("-C", str(starter), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    out = result.output
    assert "schedules/patching.yaml:11:5: steps[0].checklist: no checklist named 'basline'" in out
    assert (
        "schedules/patching.yaml:12:5: steps[1].playbook: 'playbooks/missing.yml' does not exist"
        in out
    )
    assert "checklists/baseline.yaml:5:1: hosts: pattern 'windows' matches no host" in out


def test_undefined_template_variable(starter: Path) -> None:
    checklist = starter / "checklists" / "baseline.yaml"
    checklist.write_text(checklist.read_text().replace("{{ disk_max_pct }}", "{{ disk_max }}"))
    result = run("-C", str(starter), "validate", "--no-syntax-check")
    assert result.exit_code == 2
    assert (
        "checks[0].disk.max_used_pct: template uses an undefined variable 'disk_max'"
        in result.output
    )
    assert "nor the vars of localhost" in result.output


def test_playbook_syntax_error_is_located(starter: Path) -> None:
    (starter / "playbooks" / "broken.yml").write_text(
        "- hosts: all\n  tasks:\n    - name: x\n      bogus_module_xyz: {}\n"
    )
    result = run("-C", str(starter), "validate")
    assert result.exit_code == 2
    assert (
        "playbooks/broken.yml:3:7: playbook: couldn't resolve module/action 'bogus_module_xyz'"
        in result.output
    )


def test_paths_restrict_the_report(starter: Path) -> None:
    (starter / "checklists" / "bad.yaml").write_text("checklist: bad\nchecks: []\n")
    clean = run("-C", str(starter), "validate", "--no-syntax-check", str(starter / "schedules"))
    assert clean.exit_code == 0, clean.output
    dirty = run(
        "-C",
        str(starter),
        "validate",
        "--no-syntax-check",
        str(starter / "checklists" / "bad.yaml"),
    )
    assert dirty.exit_code == 2


@pytest.mark.parametrize("kind", ["checklist", "schedule", "config", "freeze"])
def test_schema_is_json_schema_from_the_models(kind: str) -> None:
    result = run("schema", kind)
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


def test_checklist_schema_knows_every_check_type() -> None:
    from butler_maint.model.checks import CHECK_TYPES

    schema = json.loads(run("schema", "checklist").output)
    assert set(CHECK_TYPES) <= set(schema["$defs"]["Check"]["properties"])

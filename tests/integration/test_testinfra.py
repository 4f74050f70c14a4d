"""testinfra modules against a real sshd: strict host keys, one sub-result per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from butler_maint.checks.base import Verdict
from butler_maint.checks.testinfra import SubResult, judge_module, parse_junit
from butler_maint.executors import testinfra
from butler_maint.executors.ssh import SshOptions
from butler_maint.inventory import HostInfo, Inventory

pytestmark = pytest.mark.integration

MODULE = """
def test_sandbox_is_a_directory(host):
    assert host.file("{sandbox}").is_directory

def test_marker_file(host):
    assert host.file("{sandbox}/marker").exists

def test_echo(host):
    assert host.run("echo hi").stdout.strip() == "hi"
"""


def run_testinfra(
    host: HostInfo, module: Path, options: SshOptions
) -> tuple[Verdict, list[SubResult]]:
    """Run the module (executor) and judge it (checks), as a checklist run does."""
    return judge_module(testinfra.run_testinfra(host, module, options))


def target(fleet, tmp_path: Path) -> HostInfo:  # type: ignore[no-untyped-def]
    inventory = Inventory.load([fleet.write_inventory(tmp_path / "hosts.yml")])
    return inventory.select("all")[0]


def test_module_runs_with_strict_keys(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    host = target(fleet, tmp_path)
    module = tmp_path / "test_host.py"
    module.write_text(MODULE.format(sandbox=host.vars["sandbox"]))
    options = SshOptions(project_known_hosts=fleet.known_hosts, trusted_known_hosts=())
    verdict, subs = run_testinfra(host, module, options)
    assert [(s.name, s.status) for s in subs] == [
        ("test_sandbox_is_a_directory", "pass"),
        ("test_marker_file", "fail"),
        ("test_echo", "pass"),
    ]
    assert verdict.status == "fail"
    assert verdict.observed == "2 pass, 1 fail"
    (Path(host.vars["sandbox"]) / "marker").write_text("x")
    verdict, _ = run_testinfra(host, module, options)
    assert verdict.status == "pass"


def test_unknown_host_key_is_refused(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    host = target(fleet, tmp_path)
    module = tmp_path / "test_host.py"
    module.write_text(MODULE.format(sandbox=host.vars["sandbox"]))
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    verdict, subs = run_testinfra(
        host, module, SshOptions(project_known_hosts=empty, trusted_known_hosts=())
    )
    assert verdict.status == "error"
    assert "Host key verification failed" in verdict.message
    assert subs == []
    assert empty.read_text() == ""


def test_parse_junit_strips_host_parameter() -> None:
    xml = (
        '<testsuites><testsuite><testcase name="test_a[ssh://x]"/>'
        '<testcase name="test_b[ssh://x]"><skipped message="no"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert [(s.name, s.status) for s in parse_junit(xml)] == [
        ("test_a", "pass"),
        ("test_b", "skipped"),
    ]

"""Checklist execution over real SSH: one script per host, strict keys, hangs, quoting.

These tests use a small registry of their own (two check types) so they exercise the
executor and runner alone; the real check types have golden-file tests of their own.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from butler_maint.checks.base import CheckType, Raw, Verdict, q, verdict
from butler_maint.checks.runner import Context, HostRun, run_checklist
from butler_maint.executors.ssh import SshOptions, run_ssh
from butler_maint.inventory import HostInfo, Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check, CommandSpec, FileSpec
from butler_maint.redact import Redactor
from tests.harness.sshd_fleet import SshdFleet

pytestmark = pytest.mark.integration


def _command_fragment(spec: CommandSpec) -> str:
    return f"sh -c {q(spec.run)}"


def _command_judge(spec: CommandSpec, raw: Raw) -> Verdict:
    return verdict(raw.rc == spec.expect.rc, raw.stdout.strip(), f"rc {spec.expect.rc}")


def _file_fragment(spec: FileSpec) -> str:
    return f"if [ -e {q(spec.path)} ]; then echo yes; else echo no; fi; printf '%s' {q(spec.path)}"


def _file_judge(spec: FileSpec, raw: Raw) -> Verdict:
    exists, _, seen = raw.stdout.partition("\n")
    return verdict((exists == "yes") == spec.exists, seen, "exists" if spec.exists else "absent")


REGISTRY = {
    "command": CheckType("command", _command_fragment, _command_judge),
    "file": CheckType("file", _file_fragment, _file_judge),
}


def checklist(*checks: dict[str, Any]) -> Checklist:
    return Checklist.model_validate({"checklist": "t", "checks": list(checks)})


def never_attest(host: HostInfo, check: Check) -> Verdict:
    return Verdict("pending", message="not attested")


def run(
    fleet: SshdFleet, tmp_path: Path, cl: Checklist, **options: Any
) -> tuple[list[HostRun], SshOptions]:
    inventory = Inventory.load([fleet.write_inventory(tmp_path / "hosts.yml")])
    settings = SshOptions(
        project_known_hosts=options.pop("known_hosts", fleet.known_hosts),
        trusted_known_hosts=(),
        **options,
    )
    ctx = Context(lambda h, s, lim: run_ssh(h, s, settings, limits=lim), Redactor(), REGISTRY)
    return run_checklist(cl, inventory.select("all"), ctx=ctx, attest=never_attest), settings


BASIC = checklist(
    {"id": "hello", "command": {"run": "echo hello from $(hostname)"}},
    {"id": "sandbox", "file": {"path": "{{ sandbox }}"}},
    {"id": "skipped", "when": "false", "command": {"run": "false"}},
    {"id": "manual", "manual": "Tapes rotated"},
)


def test_twenty_hosts_one_result_per_host_and_check(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(20)
    runs, _ = run(fleet, tmp_path, BASIC)
    assert [r.host for r in runs] == sorted(fleet.hosts)
    for host_run in runs:
        statuses = {r.check: r.status for r in host_run.results}
        assert statuses == {
            "hello": "pass",
            "sandbox": "pass",
            "skipped": "skipped",
            "manual": "pending",
        }
        sandbox = next(r for r in host_run.results if r.check == "sandbox")
        assert sandbox.observed == str(fleet.host(host_run.host).sandbox)
        assert host_run.host_key is not None and "SHA256:" in host_run.host_key


def test_closed_port_is_unreachable(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    down = sorted(fleet.hosts)[0]
    fleet.stop(down)
    runs, _ = run(fleet, tmp_path, BASIC)
    by_host = {r.host: r for r in runs}
    assert {r.status for r in by_host[down].results if r.check in ("hello", "sandbox")} == {
        "unreachable"
    }
    assert not by_host[down].reached
    other = next(h for h in by_host if h != down)
    assert {r.status for r in by_host[other].results if r.check == "hello"} == {"pass"}


def test_silent_listener_is_an_error_within_the_banner_timeout(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(3)
    hung = sorted(fleet.hosts)[1]
    fleet.pause(hung)
    try:
        started = time.monotonic()
        runs, _ = run(fleet, tmp_path, BASIC, banner_timeout=1.0, connect_timeout=2.0)
        elapsed = time.monotonic() - started
    finally:
        fleet.resume(hung)
    by_host = {r.host: r for r in runs}
    hello = next(r for r in by_host[hung].results if r.check == "hello")
    assert hello.status == "error"
    assert elapsed < 30  # bounded by the timeouts, not by the hang
    for name in fleet.hosts:
        if name != hung:
            assert next(r for r in by_host[name].results if r.check == "hello").status == "pass"


def test_host_that_hangs_mid_script_is_killed_at_its_deadline(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    slow = checklist(
        {"id": "slow", "command": {"run": "sleep 120"}}, {"id": "after", "command": {"run": "true"}}
    )
    started = time.monotonic()
    runs, _ = run(fleet, tmp_path, slow, command_timeout=2.0)
    assert time.monotonic() - started < 90  # killed at its deadline, not after the sleep
    for host_run in runs:
        statuses = {r.check: r.status for r in host_run.results}
        assert statuses == {"slow": "error", "after": "error"}
        assert "no answer within 2 s" in host_run.results[0].message


@pytest.mark.parametrize("case", ["unknown", "changed"])
def test_bad_host_keys_are_rejected_and_known_hosts_untouched(
    sshd_fleet_factory, tmp_path: Path, case: str
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    first, second = fleet.hosts.values()
    known = tmp_path / "known_hosts"
    if case == "unknown":
        known.write_text(f"[127.0.0.1]:{second.port} {second.host_key_pub}\n")
    else:
        known.write_text(
            f"[127.0.0.1]:{first.port} {second.host_key_pub}\n"
            f"[127.0.0.1]:{second.port} {second.host_key_pub}\n"
        )
    before = known.read_bytes()
    runs, _ = run(fleet, tmp_path, BASIC, known_hosts=known)
    bad = next(r for r in runs if r.host == first.name)
    hello = next(r for r in bad.results if r.check == "hello")
    assert hello.status == "error"
    assert "SHA256:" in hello.message
    assert ("unknown host key" if case == "unknown" else "CHANGED") in hello.message
    assert known.read_bytes() == before
    good = next(r for r in runs if r.host == second.name)
    assert next(r for r in good.results if r.check == "hello").status == "pass"


def test_accept_new_host_keys_writes_the_project_file(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    known = tmp_path / "project_known_hosts"
    runs, _ = run(fleet, tmp_path, BASIC, known_hosts=known, accept_new=True)
    assert all(r.results[0].status == "pass" for r in runs)
    lines = known.read_text().splitlines()
    assert sorted(lines) == sorted(
        f"[127.0.0.1]:{h.port} {h.host_key_pub}" for h in fleet.hosts.values()
    )
    again, _ = run(fleet, tmp_path, BASIC, known_hosts=known)
    assert all(r.results[0].status == "pass" for r in again)


def test_hashed_known_hosts_entries_are_trusted(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Entries hashed by ``ssh-keygen -H`` match, each host only its own key."""
    fleet = sshd_fleet_factory(2)
    first, second = fleet.hosts.values()
    known = tmp_path / "known_hosts"
    known.write_text(
        f"[127.0.0.1]:{first.port} {first.host_key_pub}\n"
        f"[127.0.0.1]:{second.port} {first.host_key_pub}\n"  # the wrong key for second
    )
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "127.0.0.1" not in known.read_text()
    runs, _ = run(fleet, tmp_path, BASIC, known_hosts=known)
    status = {r.host: next(c for c in r.results if c.check == "hello") for r in runs}
    assert status[first.name].status == "pass"
    assert status[second.name].status == "error"
    assert "CHANGED" in (status[second.name].message or "")


HOSTILE = [
    "; touch {s}",
    "$(touch {s})",
    "`touch {s}`",
    "x\ntouch {s}\n",
    "' ; touch {s} ; '",
    '" ; touch {s} ; "',
]


def test_hostile_values_arrive_literally(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    sentinel = tmp_path / "SENTINEL"
    values = [v.format(s=sentinel) for v in HOSTILE]
    cl = checklist(
        *({"id": f"v{i}", "file": {"path": v, "exists": False}} for i, v in enumerate(values))
    )
    runs, _ = run(fleet, tmp_path, cl)
    observed = [r.observed for r in runs[0].results]
    assert observed == values
    assert all(r.status == "pass" for r in runs[0].results)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("server_ciphers", "status"),
    [
        ("aes128-gcm@openssh.com", "pass"),  # offered first
        ("aes256-ctr", "pass"),  # still offered, for servers without GCM
        ("aes128-cbc", "error"),  # CBC is never offered
    ],
)
def test_cipher_offer(sshd_fleet_factory, tmp_path: Path, server_ciphers: str, status: str) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1, extra_config=[f"Ciphers {server_ciphers}"])
    runs, _ = run(fleet, tmp_path, BASIC)
    hello = next(r for r in runs[0].results if r.check == "hello")
    assert hello.status == status, hello
    if status == "error":
        assert "cipher" in (hello.message or "").lower()


def test_paramiko_is_imported_without_invoke() -> None:
    """invoke costs start-up and is only for ssh_config ``Match exec``; it stays importable."""
    code = (
        "import sys; import butler_maint.executors.ssh; "
        "assert 'invoke' not in sys.modules, 'invoke imported'; "
        "import invoke; print(invoke.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "invoke"

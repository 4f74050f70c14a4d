"""What `butler-maint check` says about host keys, against real sshd hosts.

An unknown key is one line per host (not one per check) with its fingerprint and the
fix; `--accept-new-host-keys` names each key it trusts; the ssh-keyscan fix works.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.sshd_fleet import FleetFactory, SshdFleet

pytestmark = pytest.mark.integration

BUTLER = str(Path(sys.executable).parent / "butler-maint")
PROBE = """checklist: probe
hosts: linux
checks:
""" + "".join(f"  - id: c{i}\n    command: {{run: 'true'}}\n" for i in range(8))


def content_repo(tmp_path: Path, fleet: SshdFleet) -> Path:
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "checklists" / "probe.yaml").write_text(PROBE)
    (root / "inventories").mkdir()
    fleet.write_inventory(root / "inventories" / "fleet.yml", group="linux")
    settings = {"known_hosts": "known_hosts", "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/fleet.yml", "ssh": settings})
    )
    return root


def butler(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUTLER, "-C", str(root), *args], capture_output=True, text=True, timeout=300,
        check=False, cwd=root,
    )  # fmt: skip


def fingerprint(public_key: str) -> str:
    done = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=public_key, capture_output=True, text=True, check=True
    )
    return done.stdout.split()[1]


def test_unknown_host_key_is_one_line_per_host_with_the_fix(
    sshd_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet)
    done = butler(root, "check", "probe")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout  # not 2 hosts x 8 checks
    for name, host in fleet.hosts.items():
        (line,) = [line for line in lines if f"  {name}  " in line]
        assert "host key refused, 8 check(s) not run" in line
        assert fingerprint(host.host_key_pub) in line
        assert "--accept-new-host-keys" in line
        assert f"ssh-keyscan -p {host.port} -t ssh-ed25519 127.0.0.1 >> " in line
    assert not (root / "known_hosts").exists()

    # The fix as printed, typed in a shell, makes the next run pass.
    command = lines[0].partition("add it to the project known_hosts: ")[2]
    subprocess.run(["bash", "-c", command], cwd=root, check=True, capture_output=True)
    done = butler(root, "check", "probe")
    assert len(done.stdout.splitlines()) == 1 + 8, done.stdout  # the other host, 8 passes
    assert sum("host key refused" in line for line in done.stdout.splitlines()) == 1


def test_accept_new_host_keys_names_each_key_it_trusts(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet)
    done = butler(root, "check", "probe", "--accept-new-host-keys")
    assert done.returncode == 0, done.stdout + done.stderr
    trusted = [line for line in done.stderr.splitlines() if line.startswith("trusted new host key")]
    assert sorted(trusted) == sorted(
        f"trusted new host key: {name} ssh-ed25519 {fingerprint(host.host_key_pub)}"
        for name, host in fleet.hosts.items()
    )
    again = butler(root, "check", "probe", "--accept-new-host-keys")
    assert again.returncode == 0
    assert "trusted new host key" not in again.stderr  # known now: nothing new to trust

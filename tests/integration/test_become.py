"""Become on the fleet: a check runs as ``ansible_become_user`` through real sudo (and
su with flags), the become password comes from vault and appears nowhere in evidence."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from butler_maint.evidence import EvidenceStore
from tests.harness.sshd_fleet import SshdFleet

pytestmark = pytest.mark.integration

BUTLER = str(Path(sys.executable).parent / "butler-maint")
PASSWORD = "vault pass for become"
BECOME_SECRET = "become-canary-41d9b0"

CHECKLIST = """\
checklist: whoami
hosts: fleet
checks:
  - id: whoami
    command:
      run: "id -un"
      expect: {stdout: "^{{ expected_user }}$"}
"""


def _vault(text: str) -> str:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(PASSWORD.encode()))])
    return bytes(vault.encrypt(text)).decode()


def project(tmp_path: Path, fleet: SshdFleet, extra: dict[str, dict[str, Any]]) -> Path:
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "checklists" / "whoami.yaml").write_text(CHECKLIST)
    (root / "inventories").mkdir()
    fleet.write_inventory(root / "inventories" / "fleet.yml", extra_vars=extra)
    settings = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/fleet.yml", "ssh": settings})
    )
    return root


def check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUTLER, "-C", str(root), "check", "whoami", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def sudo() -> None:
    if shutil.which("sudo") is None:
        pytest.fail("sudo is missing: scripts/test.sh installs it (apt-get install sudo)")


@pytest.mark.usefixtures("sudo")
def test_a_check_runs_as_the_become_user_via_sudo(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(3)
    names = list(fleet.hosts)
    extra = {
        names[0]: {"ansible_become": True, "ansible_become_user": "nobody",
                   "expected_user": "nobody"},
        names[1]: {"expected_user": fleet.user},
        names[2]: {"ansible_become": "yes", "ansible_become_user": "daemon",
                   "ansible_become_method": "su", "ansible_become_flags": "-s /bin/sh",
                   "expected_user": "daemon"},
    }  # fmt: skip
    root = project(tmp_path, fleet, extra)
    done = check(root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = EvidenceStore(root / "evidence").load("latest")
    assert {r.host: str(r.status) for r in report.steps[0].results} == dict.fromkeys(names, "pass")


@pytest.mark.usefixtures("sudo")
def test_the_become_password_comes_from_vault_and_is_never_recorded(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    (name,) = fleet.hosts
    root = project(tmp_path, fleet, {})
    inventory = yaml.safe_load((root / "inventories" / "fleet.yml").read_text())
    text = yaml.safe_dump(inventory)
    vars_dir = root / "inventories" / "host_vars"
    vars_dir.mkdir()
    secret = _vault(BECOME_SECRET).replace("\n", "\n  ")
    (vars_dir / f"{name}.yml").write_text(
        "ansible_become: true\nansible_become_user: nobody\nexpected_user: nobody\n"
        f"ansible_become_password: !vault |\n  {secret}\n"
    )
    (root / "inventories" / "fleet.yml").write_text(text)
    password_file = tmp_path / "vault.txt"
    password_file.write_text(PASSWORD + "\n")
    without = check(root)
    assert without.returncode == 2
    assert "ansible_become_password" in without.stderr and "vault" in without.stderr
    done = check(root, "--vault-password-file", str(password_file))
    assert done.returncode == 0, done.stdout + done.stderr
    evidence = "".join(p.read_text() for p in (root / "evidence").rglob("*.yaml"))
    assert "nobody" in evidence and BECOME_SECRET not in evidence
    assert BECOME_SECRET not in done.stdout + done.stderr


@pytest.mark.usefixtures("sudo")
def test_a_local_host_becomes_the_user_too(tmp_path: Path) -> None:
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "checklists" / "whoami.yaml").write_text(CHECKLIST)
    (root / "inventories").mkdir()
    host = {"ansible_connection": "local", "ansible_become": True,
            "ansible_become_user": "nobody", "expected_user": "nobody",
            "ansible_ssh_common_args": "-o NotForLocalHosts=1"}  # fmt: skip
    document = {"all": {"children": {"fleet": {"hosts": {"here": host}}}}}
    (root / "inventories" / "local.yml").write_text(yaml.safe_dump(document))
    (root / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    done = check(root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = EvidenceStore(root / "evidence").load("latest")
    assert [str(r.status) for r in report.steps[0].results] == ["pass"]

"""Molecule's testinfra modules run unchanged as `testinfra:` checks against the sshd fleet.

The three public modules in tests/fixtures/molecule (licences beside them) set
``testinfra_hosts`` from ``AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])`` at
import: butler-maint gives them the run's inventory and ``ansible-inventory`` from its
own virtualenv (run here as ``.venv/bin/butler-maint`` with a PATH that has no Ansible),
runs them on the host it selected, and the report keeps each test's id and its whole
assertion text.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from butler_maint.evidence import EvidenceStore
from butler_maint.evidence.model import Result

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "molecule"
BUTLER = str(Path(sys.executable).parent / "butler-maint")
BARE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # no virtualenv on it

MODULES = ("test_destroy_strategy.py", "test_cleanup.py", "test_default.py")


def content_repo(tmp_path: Path, fleet, modules: dict[str, str]) -> Path:  # type: ignore[no-untyped-def]
    """A content repository running each module (check id -> module path) on the fleet."""
    root = tmp_path / "content"
    (root / "checklists").mkdir(parents=True)
    (root / "inventories").mkdir()
    fleet.write_inventory(root / "inventories" / "fleet.yml", group="linux")
    checks = [{"id": check, "testinfra": path} for check, path in modules.items()]
    checklist = {"checklist": "molecule", "hosts": "linux", "checks": checks}
    (root / "checklists" / "molecule.yaml").write_text(yaml.safe_dump(checklist))
    ssh = {"known_hosts": str(fleet.known_hosts), "system_known_hosts": False}
    (root / "butler.yaml").write_text(
        yaml.safe_dump({"inventory": "inventories/fleet.yml", "ssh": ssh})
    )
    return root


def butler(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``.venv/bin/butler-maint`` as a user types it: no activated venv, no molecule."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MOLECULE_", "VIRTUAL"))}
    return subprocess.run(
        [BUTLER, "-C", str(root), *args], capture_output=True, text=True, timeout=600,
        env={**clean, "PATH": BARE_PATH, **env}, check=False,
    )  # fmt: skip


def results_by(root: Path) -> dict[tuple[str, str], Result]:
    report = EvidenceStore(root / "evidence").load("latest")
    return {(r.host, r.check): r for r in report.steps[0].results}


def subs(result: Result) -> dict[str, Result]:
    return {s.check: s for s in result.sub or []}


def test_the_fixtures_are_the_published_modules() -> None:
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (FIXTURES / "README.md").read_text(), re.M)
    assert sorted(name for _, name in listed) == sorted(MODULES)
    for digest, name in listed:
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest
    assert (FIXTURES / "LICENSE.molecule").read_text().startswith("The MIT License")
    assert (FIXTURES / "LICENSE.molecule-plugins").read_text().startswith("MIT License")


def test_three_public_molecule_modules_run_unchanged(sshd_fleet_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert shutil.which("ansible-inventory", path=BARE_PATH) is None, "Ansible outside the venv"
    fleet = sshd_fleet_factory(2)
    root = content_repo(tmp_path, fleet, {})
    (root / "molecule").mkdir()
    for name in MODULES:
        shutil.copy(FIXTURES / name, root / "molecule" / name)
    checklist = {
        "checklist": "molecule",
        "hosts": "linux",
        "checks": [
            {"id": "destroy-strategy", "testinfra": "molecule/test_destroy_strategy.py"},
            {"id": "cleanup", "testinfra": "molecule/test_cleanup.py"},
            {"id": "ec2-multi-node", "testinfra": "molecule/test_default.py"},
        ],
    }
    (root / "checklists" / "molecule.yaml").write_text(yaml.safe_dump(checklist))
    done = butler(root, "check", "molecule")
    assert done.returncode == 1, done.stdout + done.stderr  # /etc/molecule is not there
    results = results_by(root)
    hostname = subprocess.run(
        ["hostname", "-s"], capture_output=True, text=True, check=True
    ).stdout.strip()
    for host in fleet.hosts:
        destroy = results[(host, "destroy-strategy")]
        assert destroy.status == "fail"
        assert "testinfra_hosts is not used: run on " + host in (destroy.expected or "")
        tests = subs(destroy)
        assert list(tests) == [
            "test_hostname", "test_etc_molecule_directory",
            "test_etc_molecule_ansible_hostname_file",
        ]  # fmt: skip
        assert {t.status for t in tests.values()} == {"fail"}
        assert tests["test_hostname"].message == (
            f"AssertionError: assert '{hostname}' == 'instance'\n  \n  - instance\n  + {hostname}"
        )
        assert tests["test_etc_molecule_directory"].message == (
            "assert False\n +  where False = <file /etc/molecule>.is_directory"
        )
        assert tests["test_etc_molecule_ansible_hostname_file"].message == (
            "assert False\n +  where False = <file /etc/molecule/instance>.is_file"
        )
        cleanup = results[(host, "cleanup")]
        assert cleanup.status == "pass", cleanup
        assert [(t.check, t.status) for t in subs(cleanup).values()] == [
            ("test_hosts_file", "pass")
        ]
        ec2 = subs(results[(host, "ec2-multi-node")])
        assert [(t.check, t.status) for t in ec2.values()] == [
            ("test_hostname", "pass"),
            ("test_etc_molecule_directory", "fail"),
            ("test_etc_molecule_ansible_hostname_file", "fail"),
        ]
        assert ec2["test_etc_molecule_ansible_hostname_file"].message == (
            f"assert False\n +  where False = <file /etc/molecule/{hostname}>.is_file"
        )


PARAMETRIZED = """
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")


@pytest.mark.parametrize("dirs", ["{sandbox}", "/nonexistent/a", "/nonexistent/b"])
def test_directories(host, dirs):
    d = host.file(dirs)
    assert d.is_directory


def test_inventory_is_the_runs(host):
    assert sorted(testinfra_hosts) == {hosts!r}
"""

BROKEN = """
import os

raise RuntimeError("cannot import: token " + os.environ["BUTLER_MOLECULE_TOKEN"])
"""


def test_parametrized_ids_stay_distinct_and_collection_errors_keep_their_traceback(
    sshd_fleet_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    fleet = sshd_fleet_factory(1)
    (host,) = fleet.hosts
    root = content_repo(
        tmp_path, fleet, {"dirs": "tests/test_dirs.py", "broken": "tests/test_broken.py"}
    )
    (root / "tests").mkdir()
    sandbox = fleet.host(host).sandbox
    (root / "tests" / "test_dirs.py").write_text(
        PARAMETRIZED.format(sandbox=sandbox, hosts=sorted(fleet.hosts))
    )
    (root / "tests" / "test_broken.py").write_text(BROKEN)
    checklist = yaml.safe_load((root / "checklists" / "molecule.yaml").read_text())
    checklist["checks"].append(
        {"id": "uses-token", "command": {"run": "test -n \"{{ env('BUTLER_MOLECULE_TOKEN') }}\""}}
    )
    (root / "checklists" / "molecule.yaml").write_text(yaml.safe_dump(checklist))
    done = butler(root, "check", "molecule", BUTLER_MOLECULE_TOKEN="s3cret-token-value")
    assert done.returncode == 1, done.stdout + done.stderr
    results = results_by(root)
    tests = subs(results[(host, "dirs")])
    assert [(name, t.status) for name, t in tests.items()] == [
        (f"test_directories[{sandbox}]", "pass"),
        ("test_directories[/nonexistent/a]", "fail"),
        ("test_directories[/nonexistent/b]", "fail"),
        ("test_inventory_is_the_runs", "pass"),
    ]
    assert tests["test_directories[/nonexistent/b]"].message == (
        "assert False\n +  where False = <file /nonexistent/b>.is_directory"
    )
    broken = results[(host, "broken")]
    assert broken.status == "error"
    (error,) = subs(broken).values()
    assert error.check == "test_broken" and error.status == "error"
    assert error.message.startswith("collection failure: ")
    assert (
        "raise RuntimeError" in error.message
        and "RuntimeError: cannot import: token" in error.message
    )
    report = (root / "evidence").rglob("*-molecule.yaml")
    text = "".join(p.read_text() for p in report)
    assert "s3cret-token-value" not in text
    assert "cannot import: token" in text


READS_VAULTED_VARS = """
import os

import testinfra.utils.ansible_runner

runner = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
testinfra_hosts = runner.get_hosts("all")


def test_sees_the_inventory(host):
    assert testinfra_hosts == ["localhost"]
"""


def test_a_molecule_module_reads_a_vault_encrypted_inventory(tmp_path: Path) -> None:
    """The module's ``ansible-inventory`` gets the run's vault password file (its path)."""
    from tests.integration.test_vault_everywhere import SECRET, project

    root = project(tmp_path)
    (root / "tests").mkdir()
    (root / "tests" / "test_vaulted.py").write_text(READS_VAULTED_VARS)
    checklist = {"checklist": "mol", "hosts": "linux",
                 "checks": [{"id": "mod", "testinfra": "tests/test_vaulted.py"}]}  # fmt: skip
    (root / "checklists" / "mol.yaml").write_text(yaml.safe_dump(checklist))
    vault = str(tmp_path / "vault.txt")
    done = butler(root, "check", "mol", "--vault-password-file", vault)
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = results_by(root).values()
    assert [(s.check, s.status) for s in result.sub or []] == [("test_sees_the_inventory", "pass")]
    assert SECRET not in "".join(p.read_text() for p in (root / "evidence").rglob("*.yaml"))

"""Vault passwords as Ansible takes them: `--vault-id LABEL@FILE` for check, validate,
window run and run-due, and ansible.cfg's `vault_password_file` / the
`ANSIBLE_VAULT_IDENTITY_LIST` variable with no option at all. Each run is a separate
process, as ansible reads its configuration once per process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.vault_project import vault_project

pytestmark = pytest.mark.integration

BUTLER = str(Path(sys.executable).parent / "butler-maint")
SECRET = "vault-id-canary-9c04d1"
PASSWORD = "prod vault password"


def project(tmp_path: Path) -> Path:
    return vault_project(
        tmp_path, secret=SECRET, password=PASSWORD, password_file="prod.pass", vault_id="prod"
    )


def butler(
    root: Path, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run(
        [BUTLER, "-C", str(root), *args], capture_output=True, text=True, timeout=300,
        cwd=cwd or root, env={**clean, **env}, check=False,
    )  # fmt: skip


def _past_hour() -> str:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return (hour + timedelta(minutes=5)).isoformat()


def _evidence(root: Path) -> str:
    return "".join(p.read_text() for p in (root / "evidence").rglob("*.yaml"))


def test_vault_id_for_check_validate_window_and_run_due(tmp_path: Path) -> None:
    root = project(tmp_path)
    vault_id = f"prod@{tmp_path / 'prod.pass'}"
    without = butler(root, "validate", "--no-syntax-check")
    assert without.returncode == 2 and "vault" in without.stdout + without.stderr
    for args in (
        ("validate", "--no-syntax-check"),
        ("check", "secretive"),
        ("window", "run", "patch", "--override", "--reason", "vault id test"),
        ("run-due", "--at", _past_hour()),
    ):
        done = butler(root, *args, "--vault-id", vault_id)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert SECRET not in done.stdout + done.stderr
    assert "knows-the-word" in _evidence(root) and SECRET not in _evidence(root)


def test_a_wrong_vault_id_password_fails_clearly(tmp_path: Path) -> None:
    root = project(tmp_path)
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not it\n")
    done = butler(root, "check", "secretive", "--vault-id", f"prod@{wrong}")
    assert done.returncode == 2
    assert "vault" in done.stderr.lower()


def test_ansible_cfg_vault_password_file_is_used_without_options(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "ansible.cfg").write_text(
        f"[defaults]\nvault_password_file = {tmp_path / 'prod.pass'}\n"
    )
    os.chmod(root, 0o755)  # ansible ignores an ansible.cfg in a world-writable directory
    done = butler(root, "check", "secretive")
    assert done.returncode == 0, done.stdout + done.stderr
    assert SECRET not in _evidence(root)


def test_ansible_vault_identity_list_from_the_environment(tmp_path: Path) -> None:
    root = project(tmp_path)
    ids = f"prod@{tmp_path / 'prod.pass'}"
    done = butler(root, "validate", "--no-syntax-check", ANSIBLE_VAULT_IDENTITY_LIST=ids)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_prompt_vault_id_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = butler(root, "check", "secretive", "--vault-id", "prod@prompt")
    assert done.returncode == 2
    assert "does not prompt for vault passwords" in done.stderr

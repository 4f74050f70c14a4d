"""A vault-encrypted group_vars file, on a local-connection inventory (real checks on
this machine, no SSH): `validate`, `window run` and `run-due` take the vault password
(`--vault-password-file`, or `vault_password_file` in butler.yaml for cron) as `check`
and `play` do; without it they stop with a clear error; the secret appears nowhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.fixtures.vault_project import vault_project

pytestmark = pytest.mark.integration

SECRET = "vault-canary-5e1f7c2a"
PASSWORD = "correct horse battery"


def project(tmp_path: Path) -> Path:
    return vault_project(tmp_path, secret=SECRET, password=PASSWORD, password_file="vault.txt")


def butler(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(root), *args])


def _past_hour() -> str:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return (hour + timedelta(minutes=5)).isoformat()


def test_validate_window_and_run_due_take_the_vault_password(tmp_path: Path) -> None:
    root = project(tmp_path)
    vault = str(tmp_path / "vault.txt")
    for args in (("validate", "--no-syntax-check"), ("window", "run", "patch")):
        refused = butler(root, *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert "vault" in refused.output.lower()
    outputs = []
    for args in (
        ("validate", "--no-syntax-check", "--vault-password-file", vault),
        ("window", "run", "patch", "--vault-password-file", vault),
        ("run-due", "--at", _past_hour(), "--vault-password-file", vault),
    ):
        done = butler(root, *args)
        assert done.exit_code == 0, (args, done.output)
        outputs.append(done.output)
    assert not any(SECRET in out for out in outputs)
    stored = [p.read_bytes() for p in (root / "evidence").rglob("*") if p.is_file()]
    assert stored and not any(SECRET.encode() in data for data in stored)


def test_butler_yaml_names_the_vault_password_file_for_cron(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "butler.yaml").write_text(
        "inventory: inventories/local.yml\nvault_password_file: ../vault.txt\n"
    )
    for args in (("validate", "--no-syntax-check"), ("run-due", "--at", _past_hour())):
        done = butler(root, *args)
        assert done.exit_code == 0, (args, done.output)

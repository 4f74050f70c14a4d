"""An auditor checks a real signed report without butler-maint: the digest recomputed
with an independent RFC 8785 implementation from the YAML file (read by PyYAML), the
signature checked by the stock OpenSSH client (``ssh-keygen -Y verify``) with the
shell commands the README gives."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore
from tests.harness.jcs import canonical
from tests.harness.signing import People, allowed_signers

pytestmark = pytest.mark.integration
CHECKLIST = """checklist: health
hosts: linux
checks:
  - id: tmp
    directory: {path: /tmp}
  - id: load
    load: {max_per_cpu: 1000, period: 1}
  - id: memory
    memory: {max_used_pct: 100}
"""
README = Path(__file__).parents[2] / "README.md"


def auditor_commands() -> str:
    """The README's shell commands for an auditor, with the report's path and the
    principal as $1 and $2."""
    text = README.read_text().split("### Checking evidence without butler-maint", 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    assert lines[0].startswith("report=")
    body = "\n".join(["report=$1", *lines[1:]])
    assert "-I ops@bastion" in body
    return body.replace("-I ops@bastion", '-I "$2"')


AUDITOR = auditor_commands()


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    found = People(tmp_path_factory.mktemp("keys"))
    found.person("alice", "alice@ops")
    found.person("bob", "bob@ops")
    yield found
    found.close()


@pytest.fixture
def report_path(tmp_path: Path, people: People) -> Path:
    """A real report of `check`, signed with the key file named in butler.yaml."""
    for sub in ("checklists", "inventories"):
        (tmp_path / sub).mkdir()
    (tmp_path / "checklists" / "health.yaml").write_text(CHECKLIST)
    inventory = {"all": {"children": {"linux": {"hosts": {"localhost": {
        "ansible_connection": "local"}}}}}}  # fmt: skip
    (tmp_path / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    alice, bob = people.people["alice"], people.people["bob"]
    (tmp_path / "allowed_signers").write_text(
        allowed_signers((alice, "butler-maint-report"), (bob, "butler-maint-approval"))
    )
    (tmp_path / "butler.yaml").write_text(
        f"inventory: inventories/local.yml\nsigning: {{mode: required, key: {alice.key}}}\n"
    )
    done = CliRunner().invoke(cli, ["-C", str(tmp_path), "check", "health"], env={
        "SSH_AUTH_SOCK": ""})  # fmt: skip
    assert done.exit_code in (0, 1), done.output
    return EvidenceStore(tmp_path / "evidence").path_of("latest")


def floats(value: Any) -> int:
    if isinstance(value, float):
        return 1
    if isinstance(value, dict):
        return sum(floats(v) for v in value.values())
    if isinstance(value, list):
        return sum(floats(v) for v in value)
    return 0


def test_independent_jcs_recomputes_the_digest(report_path: Path) -> None:
    doc = yaml.safe_load(report_path.read_text())
    assert doc["butler_report"] == 2 and doc["identity"] == "signed"
    assert floats(doc) > 0  # the load average: a number JCS writes its own way
    body = {k: v for k, v in doc.items() if k not in ("digest", "signature")}
    digest = "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()
    assert digest == doc["digest"]


def test_stock_ssh_keygen_verifies_the_signature(report_path: Path) -> None:
    root = report_path.parents[4]
    good = subprocess.run(
        ["bash", "-c", AUDITOR, "auditor", str(report_path), "alice@ops"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert 'Good "butler-maint-report" signature for alice@ops' in good.stdout
    # bob is an approver: his key is not allowed to sign run reports, nor is the
    # signature alice's under his name; a changed digest fails
    as_bob = subprocess.run(
        ["bash", "-c", AUDITOR, "auditor", str(report_path), "bob@ops"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert as_bob.returncode != 0
    (root / "report.digest").write_text("sha256:" + "0" * 64)
    tampered = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", "allowed_signers", "-I", "alice@ops",
         "-n", "butler-maint-report", "-s", "report.sig"],
        cwd=root, input=(root / "report.digest").read_bytes(), capture_output=True,
        check=False,
    )  # fmt: skip
    assert tampered.returncode != 0

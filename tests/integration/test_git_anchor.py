"""Anchors as signed git tags pushed to a remote of the evidence repository (a local
bare repository that refuses deletions): every run tags its head, `git verify-tag`
checks the tag's SSH signature, and a consistent rewrite or a truncation of the store,
even re-signed with the operator's own key, is found from the remote's tags."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from tests.harness.signing import People, allowed_signers
from tests.integration.test_signed_tamper import rewrite

pytestmark = pytest.mark.integration
README = Path(__file__).parents[2] / "README.md"
README_HOOK = README.read_text().split("```sh\n#!/bin/sh\n# anchors.git/hooks/update", 1)[1]
README_HOOK = "#!/bin/sh\n" + README_HOOK.split("\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    found = People(tmp_path_factory.mktemp("keys"))
    found.person("alice", "alice@ops")
    yield found
    found.close()


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def project(tmp_path: Path, people: People) -> Path:
    for sub in ("checklists", "inventories"):
        (tmp_path / sub).mkdir()
    (tmp_path / "checklists" / "health.yaml").write_text(
        "checklist: health\nhosts: linux\nchecks:\n  - id: tmp\n    directory: {path: /tmp}\n"
    )
    inventory = {"all": {"children": {"linux": {"hosts": {"localhost": {
        "ansible_connection": "local"}}}}}}  # fmt: skip
    (tmp_path / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    alice = people.people["alice"]
    # git checks tag signatures in its own namespace, "git"
    (tmp_path / "allowed_signers").write_text(allowed_signers((alice, "butler-maint-report,git")))
    (tmp_path / "butler.yaml").write_text(
        "inventory: inventories/local.yml\n"
        f"signing: {{mode: required, key: {alice.key}}}\n"
        "evidence: {git: true, anchor_remote: origin}\n"
    )
    remote = tmp_path / "anchors.git"
    assert git("init", "-q", "--bare", str(remote)).returncode == 0
    hook = remote / "hooks" / "update"
    hook.write_text(README_HOOK)
    hook.chmod(0o755)
    evidence = str(tmp_path / "evidence")
    assert git("init", "-q", evidence).returncode == 0
    assert git("-C", evidence, "remote", "add", "origin", str(remote)).returncode == 0
    return tmp_path


def butler(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(project), *args], env={"SSH_AUTH_SOCK": ""})


def test_heads_are_tagged_on_the_remote_and_rewrites_are_found(project: Path) -> None:
    for _ in range(3):
        ran = butler(project, "check", "health")
        assert ran.exit_code == 0 and "warning" not in ran.stderr, ran.output
    anchored = butler(project, "report", "anchor")
    assert anchored.exit_code == 0 and "report 3 of the chain" in anchored.stdout
    verified = butler(project, "report", "verify")
    assert verified.exit_code == 0, verified.output
    assert "3 reports verified (3 signed), chain intact, 3 anchored heads hold" in verified.stdout

    remote = project / "anchors.git"
    tags = git("-C", str(remote), "tag", "-l", "anchor/*").stdout.split()
    assert [t.split("/")[1] for t in tags] == ["1", "2", "3"]
    signers = f"gpg.ssh.allowedSignersFile={project / 'allowed_signers'}"
    checked = git("-C", str(remote), "-c", signers, "verify-tag", tags[-1])
    assert checked.returncode == 0 and 'Good "git" signature for alice@ops' in checked.stderr
    refused = git("-C", str(project / "evidence"), "push", "origin", f":refs/tags/{tags[0]}")
    assert refused.returncode != 0 and "anchor tags are never moved or deleted" in refused.stderr
    moved = git("-C", str(project / "evidence"), "push", "-f", "origin",
                f"HEAD~1:refs/tags/{tags[-1]}")  # fmt: skip
    assert moved.returncode != 0, moved.stderr

    site = project  # the store is project/evidence, as the rewrite helper expects
    rewrite(site, None, lambda doc: None, keep=2)  # truncated, .head rolled back, unsigned
    broken = butler(project, "report", "verify")
    assert broken.exit_code == 1
    assert "git remote origin: anchor: tag refs/tags/anchor/3/" in broken.stdout
    assert "which has 2 reports: truncated, or .head rolled back" in broken.stdout


def shorter(doc: dict[str, Any]) -> None:
    doc["duration_ms"] = 0  # the run took less time than it did


def test_a_rewrite_with_the_operators_own_key(project: Path, people: People) -> None:
    for _ in range(2):
        assert butler(project, "check", "health").exit_code == 0
    rewrite(project, people.people["alice"].signing_key(), shorter)
    broken = butler(project, "report", "verify")
    assert broken.exit_code == 1, broken.output
    assert "anchor: tag refs/tags/anchor/1/" in broken.stdout
    assert "was rewritten" in broken.stdout

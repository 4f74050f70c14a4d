"""Four eyes with signed identities: each person acts through their own real ssh-agent,
``allowed_signers`` gives the roles; the same key approving and running is refused
whatever the names say, a revoked approval counts for nothing, and a run approved by
someone else records both principals and both key fingerprints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from butler_maint.cli import cli
from butler_maint.evidence import EvidenceStore, Report
from tests.harness.signing import People, allowed_signers

pytestmark = pytest.mark.integration
OPENS = (datetime.now(UTC).hour + 12) % 24
WINDOW = {
    "window": "patch", "timezone": "UTC", "every": f"0 {OPENS} * * *", "duration": "3h",
    "hosts": "linux", "requires_approval": True, "steps": [{"checklist": "health"}],
}  # fmt: skip
CONFIG = """inventory: inventories/local.yml
signing: {mode: required}
evidence: {witness: witness/heads.jsonl}
"""


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    found = People(tmp_path_factory.mktemp("keys"))
    for name in ("alice", "bob", "carol"):
        found.person(name, f"{name}@ops")
    yield found
    found.close()


@pytest.fixture
def project(tmp_path: Path, people: People) -> Path:
    for sub in ("checklists", "schedules", "inventories"):
        (tmp_path / sub).mkdir()
    (tmp_path / "schedules" / "patch.yaml").write_text(yaml.safe_dump(WINDOW))
    (tmp_path / "checklists" / "health.yaml").write_text(
        "checklist: health\nhosts: linux\nchecks:\n  - id: tmp\n    directory: {path: /tmp}\n"
    )
    inventory = {"all": {"children": {"linux": {"hosts": {"localhost": {
        "ansible_connection": "local"}}}}}}  # fmt: skip
    (tmp_path / "inventories" / "local.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "butler.yaml").write_text(CONFIG)
    p = people.people
    approver = "butler-maint-approval"
    (tmp_path / "allowed_signers").write_text(
        allowed_signers(
            (p["alice"], "butler-maint-report"),
            (p["alice"], approver, "Al1ce@ops"),  # alice's key again, under another name
            (p["bob"], approver),
            (p["carol"], approver),
        )
    )
    return tmp_path


def as_(people: People, who: str, project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-C", str(project), *args], env=people.agent_env(who))


def occurrence() -> str:
    slot = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=OPENS, minute=0, second=0, microsecond=0
    )
    return slot.strftime("%Y-%m-%dT%H:%MZ")


def latest(project: Path) -> Report:
    return EvidenceStore(project / "evidence").load("latest")


def test_four_eyes_matrix(project: Path, people: People) -> None:
    when = occurrence()
    run = ("window", "run", "patch", "--occurrence", when)
    approve = ("window", "approve", "patch", "--occurrence", when)
    fp = {name: people.people[name].fingerprint for name in ("alice", "bob", "carol")}

    # the same key approves (under another principal's name) and runs: refused
    given = as_(people, "alice", project, *approve, "--note", "CHG-7")
    assert given.exit_code == 0, given.output
    assert f"approved by Al1ce@ops (signed, {fp['alice']})" in given.stderr
    refused = as_(people, "alice", project, *run)
    assert refused.exit_code == 3, refused.output
    assert "by Al1ce@ops: the operator's own" in refused.stderr
    assert f"one of bob@ops ({fp['bob']}), carol@ops ({fp['carol']})" in refused.stderr
    assert "Al1ce@ops (" not in refused.stderr.split("one of")[1]

    # --operator cannot name someone else; --by neither
    other = as_(people, "alice", project, *run, "--operator", "bob@ops")
    assert other.exit_code == 2 and "signing is on" in other.stderr, other.output
    spoof = as_(people, "bob", project, *approve, "--by", "carol@ops")
    assert spoof.exit_code == 2 and "carol@ops: signing is on" in spoof.stderr, spoof.output
    same = as_(people, "bob", project, *approve, "--by", "  BOB@ops ")
    assert same.exit_code == 0 and "approved by bob@ops" in same.stderr, same.output

    # a revoked approval (bob's, and with it the rest) counts for nothing
    revoked = as_(people, "carol", project, *approve, "--revoke")
    assert revoked.exit_code == 0 and "revoked by carol@ops" in revoked.stderr
    assert as_(people, "alice", project, *run).exit_code == 3

    # a different allowed approver: runs, and the report names both
    assert as_(people, "carol", project, *approve, "--note", "CHG-8").exit_code == 0
    approval_id = latest(project).id
    done = as_(people, "alice", project, *run)
    assert done.exit_code == 0, done.output
    report = latest(project)
    assert (report.kind, report.operator, report.identity) == ("window", "alice@ops", "signed")
    assert report.signer is not None and report.signer.key == fp["alice"]
    assert report.approval is not None
    assert (report.approval.by, report.approval.key) == ("carol@ops", fp["carol"])
    assert (report.approval.report, report.approval.note) == (approval_id, "CHG-8")

    shown = as_(people, "alice", project, "report", "show", "latest")
    assert f"operator alice@ops (signed, {fp['alice']})" in shown.stdout
    assert f"approved by carol@ops, {fp['carol']}, entry {approval_id}: CHG-8" in shown.stdout
    decision = as_(people, "alice", project, "report", "show", approval_id)
    assert "decision: approve patch at " in decision.stdout, decision.output

    verified = as_(people, "alice", project, "report", "verify")
    assert verified.exit_code == 0, verified.output
    assert "OK: 5 reports verified (5 signed), chain intact, 5 anchored heads hold" in (
        verified.output
    )
    anchors = (project / "witness" / "heads.jsonl").read_text().splitlines()
    assert len(anchors) == 5 and report.digest in anchors[-1]


def test_an_approver_only_key_cannot_run(project: Path, people: People) -> None:
    ran = as_(people, "bob", project, "window", "run", "patch", "--occurrence", occurrence())
    assert ran.exit_code == 3, ran.output
    assert "not listed in" in ran.stderr or "no key of ssh-agent's is" in ran.stderr


def test_without_signing_the_operator_is_declared(project: Path, people: People) -> None:
    (project / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    when = occurrence()
    approve = ("window", "approve", "patch", "--occurrence", when, "--by", "root")
    assert as_(people, "bob", project, *approve).exit_code == 0
    run = ("window", "run", "patch", "--occurrence", when)
    for alias in ("root@vm", "ROOT", " root", "ｒｏｏｔ"):  # noqa: RUF001 - fullwidth on purpose
        refused = as_(people, "alice", project, *run, "--operator", alias)
        assert refused.exit_code == 3 and "the operator's own" in refused.stderr, alias
    done = as_(people, "alice", project, *run, "--operator", "ops2@vm")
    assert done.exit_code == 0, done.output
    report = latest(project)
    assert (report.operator, report.identity, report.signer) == ("ops2@vm", "declared", None)
    assert report.approval is not None and report.approval.key is None

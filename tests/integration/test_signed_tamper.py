"""The tamper matrix of signed evidence: a store signed with real OpenSSH keys (through
``ssh-keygen -Y sign``), with an approval entry and heads anchored in a witness file,
attacked as an insider would; every attack is found, naming the report and why."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from butler_maint.evidence import EvidenceStore, verify_store
from butler_maint.evidence.canonical import compute_digest
from butler_maint.evidence.layout import HEAD_FILE
from butler_maint.evidence.scan import Scanned, scan_store, scanned_from_json
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.evidence.trust import TrustPolicy, namespace_of
from butler_maint.evidence.verify import Verdict, chain_order, verify_scans
from butler_maint.evidence.yamlio import Reader, render
from butler_maint.runs.approvals import decide
from tests.fixtures.evidence.factory import draft
from tests.harness.signing import People, allowed_signers

pytestmark = pytest.mark.integration
OCCURRENCE = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    found = People(tmp_path_factory.mktemp("keys"))
    found.person("alice", "alice@ops")  # operator (and approver: no namespaces option)
    found.person("bob", "bob@ops")  # approver only
    found.person("mallory", "mallory@ops")  # not listed
    yield found
    found.close()


@pytest.fixture(scope="module")
def pristine(people: People, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 5 signed runs and one signed approval (entry 3), each head anchored."""
    base = tmp_path_factory.mktemp("pristine")
    p = people.people
    (base / "allowed_signers").write_text(
        allowed_signers((p["alice"], None), (p["bob"], "butler-maint-approval"))
    )
    store = EvidenceStore(base / "evidence", witness=base / "witness" / "heads.jsonl")
    alice = p["alice"].signing_key()
    for n in range(5):
        store.write(draft(n), signer=alice)
        if n == 1:
            bob, day = p["bob"].signing_key(), datetime(2026, 11, 28, tzinfo=UTC)
            decide(store, "patch", OCCURRENCE, "bob@ops", note="CHG-1", now=day, signer=bob)
    return base


@pytest.fixture
def site(pristine: Path, tmp_path: Path) -> Path:
    shutil.copytree(pristine, tmp_path / "site")
    return tmp_path / "site"


def policy(site: Path, *, witness: bool = True) -> TrustPolicy:
    return TrustPolicy(
        mode="required",
        allowed_signers=site / "allowed_signers",
        witness=site / "witness" / "heads.jsonl" if witness else None,
    )


@pytest.fixture(scope="module")
def known(pristine: Path) -> dict[str, Scanned]:
    """The scans of the pristine store, as the site keeps them between renders."""
    scans = scan_store(pristine / "evidence", policy=policy(pristine))
    return {s.rel: scanned_from_json(json.loads(json.dumps(s.to_json()))) for s in scans}


@pytest.fixture(autouse=True)
def _with_cache(known: dict[str, Scanned]) -> Iterator[None]:
    KNOWN.update(known)
    yield
    KNOWN.clear()


KNOWN: dict[str, Scanned] = {}


def verify(site: Path, *, witness: bool = True) -> Verdict:
    """The verdict from the bytes; verifying with the pristine store's scans (the
    site's cache, every tampered file missing it) gives the same."""
    root, trust = site / "evidence", policy(site, witness=witness)
    verdict = verify_store(root, policy=trust)
    assert verify_scans(root, scan_store(root, policy=trust, known=KNOWN), trust) == verdict
    return verdict


def files(site: Path) -> list[Path]:
    """The report files in chain order (entry 3 is the approval)."""
    return [site / "evidence" / s.rel for s in chain_order(site / "evidence")]


def problems(verdict: Verdict) -> list[tuple[str, str, str]]:
    assert not verdict.ok
    return [(Path(p.path).name, p.kind, p.detail) for p in verdict.problems]


def rewrite(
    site: Path,
    key: SigningKey | None,
    change: Callable[[dict[str, Any]], None],
    keep: int | None = None,
) -> None:
    """A consistent rewrite of the whole chain (the first ``keep`` entries): every
    report changed, re-chained, re-signed with ``key`` (None: unsigned), ``.head`` and
    the index made to match. What an insider with write access to the store can do."""
    root = site / "evidence"
    reader, previous = Reader(), None
    for count, path in enumerate(files(site)[:keep] if keep else files(site), 1):
        doc = reader.load(path.read_bytes())
        change(doc)
        doc.pop("signature", None)
        doc.pop("digest")
        doc["previous"] = previous
        if key is None:
            doc["identity"] = "declared"
            doc.pop("signer", None)
        else:
            doc["identity"] = "signed"
            doc["operator"] = key.principal
            doc["signer"] = {"principal": key.principal, "key": key.fingerprint}
        digest = compute_digest(doc)
        if key is not None:
            doc["signature"] = key.sign(digest.encode(), namespace_of(doc))
        doc["digest"] = previous = digest
        path.write_text(render(doc))
        head = {"digest": digest, "id": doc["id"], "path": str(path.relative_to(root)),
                "count": count, "tmax": doc["finished"], "pending": None}  # fmt: skip
        (root / HEAD_FILE).write_text(json.dumps(head) + "\n")
    if keep:
        for path in files(site)[keep:]:
            path.unlink()
    EvidenceStore(root).rebuild_index()


def pass_everything(doc: dict[str, Any]) -> None:
    for step in doc.get("steps", []):
        for result in step["results"]:
            result["status"] = "pass"


def test_untouched_signed_store_verifies(site: Path) -> None:
    verdict = verify(site)
    assert verdict.ok, verdict.problems
    assert verdict.reports == verdict.chained == 6


def test_edit_a_byte(site: Path) -> None:
    victim = files(site)[3]
    assert b"status: fail" in victim.read_bytes()
    data = victim.read_bytes().replace(b"status: fail", b"status: pass", 1)
    victim.write_bytes(data)
    assert problems(verify(site))[0] == (victim.name, "edited",
                                         "its content does not match its digest")  # fmt: skip


def test_delete_a_report(site: Path) -> None:
    chain = files(site)
    chain[1].unlink()
    (name, kind, detail), *_ = problems(verify(site))
    assert (name, kind) == (chain[2].name, "missing") and "deleted" in detail


def test_reorder_two_reports(site: Path) -> None:
    chain = files(site)
    a, b = chain[0].read_bytes(), chain[4].read_bytes()
    chain[0].write_bytes(b)
    chain[4].write_bytes(a)
    found = problems(verify(site))
    assert (chain[0].name, "reordered") in [(n, k) for n, k, _ in found]


def test_insert_a_copy(site: Path) -> None:
    chain = files(site)
    copy = chain[1].with_name(chain[1].stem.replace("Z-", "Z-x", 1) + ".yaml")
    shutil.copy(chain[1], copy)
    kinds = {k for _, k, _ in problems(verify(site))}
    assert kinds & {"reordered", "inserted"}


def test_forge_one_report_with_another_key(site: Path, people: People) -> None:
    """The signature of one report replaced by an unlisted key's, then by an approver-only
    key's, both over the right digest."""
    victim = files(site)[4]
    doc = Reader().load(victim.read_bytes())
    for forger, why in (("mallory", "does not list"), ("bob", "does not allow for")):
        key = people.people[forger].signing_key("alice@ops")
        doc["signature"] = key.sign(doc["digest"].encode(), "butler-maint-report")
        victim.write_text(render(doc))
        ((name, kind, detail),) = problems(verify(site))
        assert (name, kind) == (victim.name, "signature") and why in detail, detail


def test_consistent_rewrite_resigned_with_another_key(site: Path, people: People) -> None:
    rewrite(site, people.people["mallory"].signing_key(), pass_everything)
    found = problems(verify(site, witness=False))
    assert {k for _, k, _ in found} == {"signature"} and len(found) == 6
    assert all("does not list" in d for _, _, d in found)


def test_consistent_rewrite_with_the_operators_own_key_after_an_anchor(
    site: Path, people: People
) -> None:
    """Every signature holds (the operator's key is allowed): only the anchors, outside
    the store, show the rewrite."""
    rewrite(site, people.people["alice"].signing_key(), pass_everything)
    assert verify(site, witness=False).ok
    found = problems(verify(site))
    assert {k for _, k, _ in found} == {"anchor"}
    assert found[0][0] == "heads.jsonl"
    assert "was rewritten" in found[-1][2]


def test_unsigned_rewrite_under_required(site: Path) -> None:
    rewrite(site, None, pass_everything)
    found = problems(verify(site, witness=False))
    assert {k for _, k, _ in found} == {"unsigned"} and len(found) == 6
    assert "signing: required" in found[0][2]


def test_signature_stripped_from_one_report(site: Path) -> None:
    victim = files(site)[3]
    doc = Reader().load(victim.read_bytes())
    del doc["signature"]
    victim.write_text(render(doc))
    ((name, kind, detail),) = problems(verify(site))
    assert (name, kind) == (victim.name, "unsigned") and "signature is gone" in detail


def test_truncation_with_head_rolled_back(site: Path, people: People) -> None:
    rewrite(site, people.people["alice"].signing_key(), lambda doc: None, keep=4)
    assert verify(site, witness=False).ok  # a consistent, shorter chain
    found = problems(verify(site))
    assert {k for _, k, _ in found} == {"anchor"}
    assert "which has 4 reports: truncated, or .head rolled back" in found[-1][2]


def test_edit_an_approval(site: Path) -> None:
    approval = files(site)[2]
    assert b"kind: approval" in approval.read_bytes()
    approval.write_bytes(approval.read_bytes().replace(b"CHG-1", b"CHG-2"))
    assert problems(verify(site))[0][:2] == (approval.name, "edited")


def test_delete_an_approval(site: Path) -> None:
    chain = files(site)
    chain[2].unlink()
    (name, kind, detail), *_ = problems(verify(site))
    assert (name, kind) == (chain[3].name, "missing") and "deleted" in detail


def test_approval_resigned_by_the_operator_is_not_an_approvers(site: Path, people: People) -> None:
    """An approval entry re-signed with a key outside the approver role is named."""
    approval = files(site)[2]
    doc = Reader().load(approval.read_bytes())
    bob_as_operator = people.people["bob"].signing_key()
    doc["signature"] = bob_as_operator.sign(doc["digest"].encode(), "butler-maint-report")
    approval.write_text(render(doc))
    ((name, kind, detail),) = problems(verify(site))
    assert (name, kind) == (approval.name, "signature") and "butler-maint-approval" in detail

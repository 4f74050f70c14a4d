"""Four-eyes approval of a window occurrence: given by one person, required to differ
from the operator who runs the window, recorded in the evidence chain.

An approval (``window approve``) or a revocation (``window approve --revoke``) is an
entry of the hash chain: a report of kind ``approval`` named after the window, whose
``decision`` says which occurrence, approve or revoke, and a note; with signing on it is
signed by the approver's key in the approver namespace (``allowed_signers`` role
``approver``). Deleting or editing one breaks the chain (``report verify``).

A run of the occurrence needs a valid approval by someone else: an ``approve`` entry
after the occurrence's last ``revoke``, whose file verifies (digest, and under signing
its signature by an allowed approver), whose key is not the operator's key and whose
approver is not the operator by name (compared normalised: ``runs.identity``). The
refusal names who may approve. The run's report copies the approval: approver, key
fingerprint and the approval entry's id.

Beside the chain, ``approvals/<window>/<occurrence>.reported`` records that ``run-due``
reported the occurrence as awaiting approval, so that cron reports it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from butler_maint.errors import ButlerError, CannotRunError
from butler_maint.evidence import Approval, EvidenceStore, Kind, ReportDraft, WrittenReport
from butler_maint.evidence.canonical import compute_digest
from butler_maint.evidence.errors import ReportFormatError
from butler_maint.evidence.index import store_entries
from butler_maint.evidence.layout import APPROVALS_DIR, safe_name
from butler_maint.evidence.model import Decision, iso_z
from butler_maint.evidence.sshsig import APPROVAL_NAMESPACE, AllowedSigners, SigningKey
from butler_maint.evidence.trust import TrustPolicy, signature_problem
from butler_maint.evidence.yamlio import Reader
from butler_maint.model.schedule import Schedule
from butler_maint.runs.identity import same_person
from butler_maint.schedule.due import DueStatus, awaiting_approval


def approval_rel(window: str, occurrence: datetime) -> str:
    """Where notes about one occurrence of ``window`` live, relative to the store."""
    stamp = occurrence.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{APPROVALS_DIR}/{safe_name(window)}/{stamp}.yaml"


def reported_rel(window: str, occurrence: datetime) -> str:
    """Where ``run-due`` notes that it reported the occurrence as awaiting approval."""
    return approval_rel(window, occurrence).removesuffix(".yaml") + ".reported"


@dataclass(frozen=True)
class Given:
    """One decision entry of the chain about an occurrence."""

    id: str
    doc: dict[str, Any]

    @property
    def action(self) -> str:
        """approve or revoke."""
        return str((self.doc.get("decision") or {}).get("action"))

    @property
    def by(self) -> str:
        """Who decided (the entry's operator)."""
        return str(self.doc.get("operator", ""))

    @property
    def key(self) -> str | None:
        """The fingerprint of the key that signed it, if signed."""
        signer = self.doc.get("signer")
        return str(signer.get("key")) if isinstance(signer, dict) else None


def decisions(store: EvidenceStore, window: str, occurrence: datetime) -> list[Given]:
    """The decision entries about ``window`` at ``occurrence``, in chain order."""
    when = iso_z(occurrence)
    found = []
    reader = Reader()
    for entry in store_entries(store):
        if entry.kind is not Kind.APPROVAL or entry.name != window:
            continue
        try:
            doc = reader.load(store.read(entry.path))
        except (FileNotFoundError, ReportFormatError):
            continue  # gone or broken: `report verify` names it
        decision = doc.get("decision") if isinstance(doc, dict) else None
        if isinstance(decision, dict) and decision.get("occurrence") == when:
            found.append(Given(entry.id, doc))
    return found


def standing(given: list[Given]) -> list[Given]:
    """The approvals given after the last revocation."""
    last_revoke = max((n for n, g in enumerate(given) if g.action == "revoke"), default=-1)
    return [g for g in given[last_revoke + 1 :] if g.action == "approve"]


def is_approved(store: EvidenceStore, window: str, occurrence: datetime) -> bool:
    """True when an approval of this occurrence stands (who gave it, and whether they
    may, is ``approval_for``'s to judge when the window runs). Reads only."""
    return bool(standing(decisions(store, window, occurrence)))


def with_approval(store: EvidenceStore, schedule: Schedule, st: DueStatus) -> DueStatus:
    """``st``, marked ``awaiting-approval`` when its due occurrence needs an approval
    nobody gave (the store is read only for a window that requires approval)."""
    if st.due is None or not schedule.requires_approval:
        return st
    approved = {st.due.at} if is_approved(store, schedule.name, st.due.at) else set()
    return awaiting_approval(st, schedule, approved)


def first_report(store: EvidenceStore, window: str, occurrence: datetime, now: datetime) -> bool:
    """Note that the occurrence awaiting approval was reported; False when it already was."""
    try:
        store.create(reported_rel(window, occurrence), f"reported {iso_z(now)}\n".encode())
    except FileExistsError:
        return False
    return True


def decide(
    store: EvidenceStore,
    window: str,
    occurrence: datetime,
    approver: str,
    *,
    note: str | None = None,
    now: datetime,
    signer: SigningKey | None = None,
    revoke: bool = False,
) -> WrittenReport:
    """Record ``approver``'s approval (or revocation) of one occurrence in the chain."""
    given = standing(decisions(store, window, occurrence))
    when = iso_z(occurrence)
    if revoke and not given:
        raise ButlerError(f"{window} at {when} has no approval to revoke")
    mine = [g for g in given if _same(g, approver, signer.fingerprint if signer else None)]
    if not revoke and mine:
        raise ButlerError(f"{window} at {when} is already approved by {mine[0].by} ({mine[0].id})")
    action = "revoke" if revoke else "approve"
    draft = ReportDraft(
        kind=Kind.APPROVAL, name=window, operator=approver, started=now, finished=now,
        decision=Decision(window=window, occurrence=occurrence, action=action, note=note),
    )  # fmt: skip
    return store.write(draft, signer=signer)


def _same(given: Given, name: str, key: str | None) -> bool:
    """True when ``given`` was decided by the person ``name`` or with the key ``key``."""
    return (key is not None and given.key == key) or same_person(given.by, name)


def approval_for(
    store: EvidenceStore,
    window: str,
    occurrence: datetime,
    operator: str,
    *,
    operator_key: str | None = None,
    policy: TrustPolicy | None = None,
) -> Approval:
    """The approval a run by ``operator`` (signing with ``operator_key``) needs: a
    standing, valid approval by someone else; CannotRunError naming who may approve."""
    policy = policy or TrustPolicy()
    signers = policy.signers()
    when = iso_z(occurrence)
    refused: list[str] = []
    for given in reversed(standing(decisions(store, window, occurrence))):
        why = _invalid(given, policy, signers) or (
            "the operator's own" if _same(given, operator, operator_key) else None
        )
        if why is None:
            return _approval(given)
        refused.append(f"{given.id} by {given.by}: {why}")
    who = _who_may(signers, operator, operator_key)
    also = f" (refused: {'; '.join(refused)})" if refused else ""
    raise CannotRunError(
        f"window {window} requires approval for {when} by someone other than {operator}"
        f"{also}: {who} runs `butler-maint window approve {window} --occurrence {when}`"
    )


def _invalid(given: Given, policy: TrustPolicy, signers: AllowedSigners | None) -> str | None:
    """Why the approval entry does not count, or None."""
    digest = compute_digest(given.doc)
    if digest != given.doc.get("digest"):
        return "edited (its digest does not hold)"
    problem = signature_problem(given.doc, digest, policy, signers)
    if problem is None and policy.mode == "required" and given.doc.get("identity") != "signed":
        problem = "unsigned, and signing is required"
    return problem


def _who_may(signers: AllowedSigners | None, operator: str, key: str | None) -> str:
    """Who may approve: the approvers of ``allowed_signers`` other than the operator."""
    if signers is None:
        return "someone else"
    names = [
        f"{principal} ({fp})"
        for principal, fp in signers.principals_for(APPROVAL_NAMESPACE)
        if fp != key and not same_person(principal, operator)
    ]
    if not names:
        return f"nobody listed in {signers.path.name} (add an approver's key)"
    return "one of " + ", ".join(dict.fromkeys(names))


def _approval(given: Given) -> Approval:
    decision = given.doc.get("decision") or {}
    at = given.doc.get("started")
    return Approval(
        by=given.by,
        at=datetime.fromisoformat(str(at).replace("Z", "+00:00")) if at else None,
        note=decision.get("note"),
        key=given.key,
        report=given.id,
    )

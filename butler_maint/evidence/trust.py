"""Who may have written a report: the signing policy and the check of one report's
signature against ``allowed_signers``.

Rules, per report (schema 2 reports carry ``identity``, ``signer`` and ``signature``):

- a report that says ``identity: signed`` must carry a signature, made in the namespace
  of its role (``butler-maint-approval`` for approval entries, ``butler-maint-report``
  for runs) over its digest text, by a key that ``allowed_signers`` lists for the
  principal it names (``signer.principal``, equal to ``operator``), whose fingerprint is
  ``signer.key``;
- under ``signing: required``, every report (schema 1 ones included) started at or after
  ``since`` must be signed; under ``optional`` unsigned reports are fine; under ``off``
  signatures are not checked at all.

Problems are ``unsigned: ...`` or ``signature: ...`` (``report verify`` names the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from butler_maint.evidence.index import parse_time
from butler_maint.evidence.sshsig import (
    APPROVAL_NAMESPACE,
    REPORT_NAMESPACE,
    AllowedSigners,
    SignatureError,
)

Mode = Literal["off", "optional", "required"]


@dataclass(frozen=True)
class TrustPolicy:
    """How ``verify`` judges signatures and anchors (from ``butler.yaml``)."""

    mode: Mode = "off"
    allowed_signers: Path | None = None
    since: datetime | None = None
    """Under ``required``, reports started before this need no signature."""
    witness: Path | None = None
    """The witness file where heads are anchored."""
    anchor_remote: str | None = None
    """The git remote of the store holding ``anchor/`` tags."""

    def signers(self) -> AllowedSigners | None:
        """The parsed ``allowed_signers`` when signatures are checked."""
        if self.mode == "off" or self.allowed_signers is None:
            return None
        return AllowedSigners.load(self.allowed_signers)


def namespace_of(doc: dict[str, Any]) -> str:
    """The namespace a report's signature must be made in (by its kind)."""
    return APPROVAL_NAMESPACE if doc.get("kind") == "approval" else REPORT_NAMESPACE


def signature_problem(
    doc: dict[str, Any], digest: str, policy: TrustPolicy, signers: AllowedSigners | None
) -> str | None:
    """What is wrong with the signature of a report whose digest holds, or None."""
    if policy.mode == "off":
        return None
    signature, signer = doc.get("signature"), doc.get("signer")
    if signature is None:
        if doc.get("identity") == "signed":
            return "unsigned: says it is signed, but its signature is gone"
        if policy.mode == "required" and _after(doc, policy.since):
            return "unsigned: butler.yaml says signing: required, and it has no signature"
        return None
    if not isinstance(signature, str) or not isinstance(signer, dict):
        return "signature: a signature without its signer (or not text)"
    principal, key = signer.get("principal"), signer.get("key")
    if doc.get("identity") != "signed" or doc.get("operator") != principal:
        return f"signature: the operator is not the signer {principal!r}"
    if signers is None:
        return "signature: no allowed_signers file to check it against"
    try:
        found = signers.verify(signature, digest.encode(), namespace_of(doc), str(principal))
    except SignatureError as exc:
        return f"signature: {exc}"
    if found != key:
        return f"signature: made with key {found}, but the report names {key}"
    return None


def _after(doc: dict[str, Any], since: datetime | None) -> bool:
    if since is None:
        return True
    started = parse_time(doc.get("started"))
    return started is None or started >= since

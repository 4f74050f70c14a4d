"""Who runs and who approves: identities from signing keys when ``butler.yaml`` turns
signing on, declared names otherwise.

With a signing key, the operator is the principal ``allowed_signers`` lists for the key
(``--operator``/``--by`` cannot name anyone else) and reports say ``identity: signed``;
without one, the name given (or ``user@host``) is a label and reports say ``identity:
declared``. Names are compared normalised (Unicode NFKC, case-folded, whitespace
removed, and only the part before ``@``): ``Root``, `` root `` and ``root@vm`` are one
person; keys are compared by fingerprint.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from butler_maint.errors import ButlerError
from butler_maint.evidence.provenance import operator_identity
from butler_maint.evidence.sshsig import (
    ROLES,
    AllowedSigners,
    SignatureError,
    SigningKey,
    agent_keys,
    choose_key,
)
from butler_maint.evidence.trust import TrustPolicy
from butler_maint.model.config import ProjectConfig


def normalise(name: str) -> str:
    """The comparable form of a person's name: NFKC, case-folded, no whitespace, the
    part before ``@`` (a login on two machines is one person)."""
    text = "".join(unicodedata.normalize("NFKC", name).casefold().split())
    return text.split("@", 1)[0]


def same_person(a: str, b: str) -> bool:
    """True when two declared names are the same person's (see ``normalise``)."""
    return normalise(a) == normalise(b)


def allowed_signers(root: Path, config: ProjectConfig) -> AllowedSigners | None:
    """The project's ``allowed_signers``, when signing is on."""
    if config.signing.mode == "off":
        return None
    return AllowedSigners.load(root / config.signing.allowed_signers)


def signing_key(root: Path, config: ProjectConfig, role: str) -> SigningKey | None:
    """The key that signs in ``role`` (operator, approver): None when signing is off, or
    optional and no key is there; under ``required``, SignatureError when none is."""
    signers = allowed_signers(root, config)
    if signers is None:
        return None
    key_file = root / config.signing.key if config.signing.key else None
    try:
        return choose_key(signers, ROLES[role], key_file, agent_keys())
    except SignatureError:
        if config.signing.mode == "required" or key_file is not None:
            raise
        return None


def resolve(declared: str | None, key: SigningKey | None, option: str) -> str:
    """Who acts: the key's principal (``declared``, if given, must be the same person),
    else ``declared`` or ``user@host``."""
    if key is None:
        return operator_identity(declared)
    if declared is not None and not same_person(declared, key.principal):
        raise ButlerError(
            f"{option} {declared}: signing is on, so who acts is the signing key's "
            f"principal, {key.principal} ({key.fingerprint}); leave {option} out"
        )
    return key.principal


def trust_policy(root: Path, config: ProjectConfig) -> TrustPolicy:
    """The policy ``report verify`` applies, from ``butler.yaml``."""
    from datetime import UTC, datetime, time

    signing, evidence = config.signing, config.evidence
    since = datetime.combine(signing.since, time(), UTC) if signing.since else None
    return TrustPolicy(
        mode=signing.mode,
        allowed_signers=root / signing.allowed_signers,
        since=since,
        witness=root / evidence.witness if evidence.witness else None,
        anchor_remote=evidence.anchor_remote if evidence.git else None,
    )

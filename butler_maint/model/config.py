"""The optional project configuration, ``butler.yaml`` at the content repo root."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field

from butler_maint.model.base import Frozen, LocalPath, validate_doc
from butler_maint.model.yamldoc import parse_file

CONFIG_FILE = "butler.yaml"


class SshSettings(Frozen):
    """How SSH connections are made and bounded in time (seconds)."""

    known_hosts: LocalPath = Field("known_hosts", description="Project known_hosts file.")
    system_known_hosts: bool = Field(True, description="Also trust system and user files.")
    connect_timeout: float = Field(10, gt=0)
    banner_timeout: float = Field(10, gt=0)
    auth_timeout: float = Field(10, gt=0)
    command_timeout: float = Field(300, gt=0, description="Deadline for one host's script.")
    keepalive: float = Field(15, ge=0, description="Keepalive interval; 0 disables.")


class EvidenceSettings(Frozen):
    """Where and how run evidence is stored."""

    dir: LocalPath = Field("evidence", description="Evidence store, relative to the repo root.")
    git: bool = Field(False, description="Commit every report when the store is a git repo.")
    keep_artifacts: int = Field(20, ge=0, description="Keep per-run artifacts of the last N runs.")
    witness: LocalPath | None = Field(
        None,
        description="Witness file outside the store (one the operator cannot rewrite): "
        "the chain head is appended to it after every run and by `report anchor`; "
        "`report verify` checks every anchored head is still in the chain.",
    )
    anchor_remote: str | None = Field(
        None,
        description="With git: true, a git remote of the store: every head is tagged "
        "anchor/<count>/<digest> (signed when signing is on) and the tag pushed there; "
        "`report verify` checks the remote's anchor tags.",
    )


class SigningSettings(Frozen):
    """Signed evidence: who may sign (``allowed_signers``), with which key, how strictly."""

    mode: Literal["off", "optional", "required"] = Field(
        "off",
        description="required: every report is signed and verify fails an unsigned one; "
        "optional: reports are signed when a key is there; off: no signing or checking.",
    )
    allowed_signers: LocalPath = Field(
        "allowed_signers", description="OpenSSH allowed_signers file, in the content repo."
    )
    key: LocalPath | None = Field(
        None,
        description="Signing key file (a private key, or a .pub whose private half "
        "ssh-agent holds); default: the first ssh-agent key allowed_signers lists.",
    )
    since: date | None = Field(
        None, description="Under required, reports started before this day need no signature."
    )


class ProjectConfig(Frozen):
    """``butler.yaml``: every setting has a sensible default."""

    inventory: LocalPath = Field("inventories/local.yml", description="Default inventory.")
    forks: int = Field(20, ge=1, le=1000, description="Hosts worked on in parallel.")
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    ssh: SshSettings = Field(default_factory=SshSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    vault_password_file: LocalPath | None = Field(
        None,
        description="Vault password file (repo-relative, kept out of git) for every command "
        "that reads the inventory or runs playbooks, cron's run-due included; "
        "--vault-password-file overrides it.",
    )


def load_config(root: Path) -> ProjectConfig:
    """Load ``butler.yaml`` from ``root``, or the defaults when there is none."""
    path = root / CONFIG_FILE
    if not path.exists():
        return ProjectConfig()
    doc = parse_file(path)
    if doc.data is None:
        return ProjectConfig()
    return validate_doc(ProjectConfig, doc)

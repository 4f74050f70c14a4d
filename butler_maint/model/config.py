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
    config_file: str | None = Field(
        None,
        description="ssh_config file for checks and playbooks (what `ssh -F` names; "
        "repo-relative, absolute or ~/...); 'none' for none; unset: ~/.ssh/config then "
        "/etc/ssh/ssh_config, as OpenSSH reads them.",
    )


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


class BrokerTls(Frozen):
    """TLS to the broker (a ``rediss://`` URL): the CA that signs its certificate, and a
    client certificate when the broker asks for one."""

    ca_file: LocalPath | None = Field(None, description="CA certificate(s), PEM.")
    cert_file: LocalPath | None = Field(None, description="Client certificate, PEM.")
    key_file: LocalPath | None = Field(None, description="Client key, PEM.")


class BrokerSettings(Frozen):
    """Workers per network segment: the broker (Redis, through Celery) they connect to."""

    url: str = Field(
        pattern=r"^rediss?://",
        description="redis://HOST:PORT/DB or rediss:// (TLS); keep the password out of it.",
    )
    namespace: str = Field(
        "butler", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="Prefix of every queue and key: workers take shards of this namespace only.",
    )  # fmt: skip
    password_env: str | None = Field(
        "BUTLER_BROKER_PASSWORD", description="Environment variable holding the password."
    )
    password_file: LocalPath | None = Field(
        None, description="File holding the password (repo-relative, kept out of git)."
    )
    tls: BrokerTls | None = None
    worker_timeout: float = Field(
        120, gt=0, le=86400,
        description="Seconds a segment's shard may wait for a worker (none took it, or its "
        "worker stopped and no other took it over) before its hosts are recorded error.",
    )  # fmt: skip
    visibility_timeout: float = Field(
        30, gt=0, le=3600,
        description="Seconds after a worker stops (killed, host lost) before its shard goes "
        "back to the queue for another worker of the segment.",
    )  # fmt: skip


class ProjectConfig(Frozen):
    """``butler.yaml``: every setting has a sensible default."""

    inventory: LocalPath = Field("inventories/local.yml", description="Default inventory.")
    forks: int = Field(20, ge=1, le=1000, description="Hosts worked on in parallel.")
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    ssh: SshSettings = Field(default_factory=SshSettings)
    broker: BrokerSettings | None = Field(
        None, description="Workers per network segment; without it every host is run here."
    )
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

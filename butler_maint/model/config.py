"""The optional project configuration, ``butler.yaml`` at the content repo root."""

from __future__ import annotations

from pathlib import Path

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


class ProjectConfig(Frozen):
    """``butler.yaml``: every setting has a sensible default."""

    inventory: LocalPath = Field("inventories/local.yml", description="Default inventory.")
    forks: int = Field(20, ge=1, le=1000, description="Hosts worked on in parallel.")
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    ssh: SshSettings = Field(default_factory=SshSettings)
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

"""What every run is given: the content repository, its configuration and inventory,
who runs it and the host-key policy of this run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from butler_maint.errors import ContentError, Location
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.inventory import Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.config import ProjectConfig
from butler_maint.model.content import checklist_path, load_checklist

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from butler_maint.runs.checklist import Remote


class Claims(Protocol):
    """One claim per schedule occurrence, shared by every controller of a broker."""

    def claim(self, schedule: str, occurrence: datetime) -> AbstractContextManager[str | None]:
        """Enter holding the occurrence (None) or yield who holds or ran it instead."""
        ...


@dataclass(frozen=True)
class Target:
    """The content repository a run works on, and as whom."""

    root: Path
    config: ProjectConfig
    inventory: Inventory
    operator: str
    accept_new_host_keys: bool = False
    vault_password_file: Path | None = None
    """Decrypts vault values for playbook steps (the inventory is already decrypted)."""
    vault_ids: tuple[str, ...] = ()
    """``--vault-id [LABEL@]FILE`` entries, for playbook steps as for the inventory."""
    remote: Remote | None = None
    """Workers of network segments (``broker:`` in butler.yaml); None: every host is run here."""
    claims: Claims | None = None
    """run-due's claims on occurrences, shared with other controllers (``broker:``)."""
    signer: SigningKey | None = None
    """Signs the run's report (the operator is then its principal)."""

    def checklist_file(self, name: str) -> Path:
        """A checklist named on the command line: a path, else ``checklists/NAME.yaml``."""
        for candidate in (Path(name), checklist_path(self.root, name)):
            if candidate.is_file():
                return candidate
        raise ContentError.at(
            Location(name), f"no checklist {name!r} (looked in {self.root / 'checklists'})"
        )

    def checklist(self, name: str | Path) -> tuple[Path, Checklist]:
        """A checklist (a path, or a name in ``checklists/``) and its validated model."""
        path = name if isinstance(name, Path) else checklist_path(self.root, name)
        return path, load_checklist(path).model

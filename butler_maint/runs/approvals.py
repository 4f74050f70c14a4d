"""Four-eyes approval of a window occurrence: recorded by one person, required to differ
from the operator who runs the window.

An approval is a small YAML file in the evidence store, ``approvals/<window>/<occurrence>
.yaml`` (created once, never overwritten), and is copied into the window's report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from butler_maint.errors import ButlerError, CannotRunError
from butler_maint.evidence import Approval, EvidenceStore
from butler_maint.evidence.fsutil import create_file, make_dirs
from butler_maint.evidence.layout import safe_name
from butler_maint.evidence.model import iso_z


def approval_path(store: EvidenceStore, window: str, occurrence: datetime) -> Path:
    """Where the approval of one occurrence of ``window`` lives."""
    stamp = occurrence.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return store.root / "approvals" / safe_name(window) / f"{stamp}.yaml"


def approve(
    store: EvidenceStore,
    window: str,
    occurrence: datetime,
    approver: str,
    *,
    note: str | None = None,
    now: datetime,
) -> Path:
    """Record ``approver``'s approval; an occurrence is approved once."""
    path = approval_path(store, window, occurrence)
    if path.exists():
        raise ButlerError(f"{window} at {iso_z(occurrence)} is already approved ({path})")
    record = {"window": window, "occurrence": iso_z(occurrence), "by": approver,
              "at": iso_z(now), "note": note}  # fmt: skip
    make_dirs(path.parent)
    create_file(path, yaml.safe_dump(record, sort_keys=False).encode())
    return path


def approval_for(
    store: EvidenceStore, window: str, occurrence: datetime, operator: str
) -> Approval:
    """The approval a run by ``operator`` needs; refused when missing or self-given."""
    path = approval_path(store, window, occurrence)
    when = iso_z(occurrence)
    if not path.is_file():
        raise CannotRunError(
            f"window {window} requires approval for {when}: someone other than {operator} "
            f"runs `butler-maint window approve {window} --occurrence {when}`"
        )
    record = yaml.safe_load(path.read_text()) or {}
    approver = str(record.get("by", ""))
    if approver == operator:
        raise CannotRunError(
            f"window {window} at {when} was approved by {approver}, who is also running it: "
            "self-approval is refused (four eyes)"
        )
    at = (
        datetime.fromisoformat(str(record["at"]).replace("Z", "+00:00"))
        if record.get("at")
        else None
    )
    return Approval(by=approver, at=at, note=record.get("note"))

"""Four-eyes approval of a window occurrence: recorded by one person, required to differ
from the operator who runs the window.

An approval is a small YAML file in the evidence store, ``approvals/<window>/<occurrence>
.yaml`` (created once, never overwritten, nothing followed out of the store), and is
copied into the window's report. Beside it, ``<occurrence>.reported`` records that
``run-due`` reported the occurrence as awaiting approval, so that cron reports it once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from butler_maint.errors import ButlerError, CannotRunError, ContentError
from butler_maint.evidence import Approval, EvidenceStore
from butler_maint.evidence.layout import APPROVALS_DIR, safe_name
from butler_maint.evidence.model import iso_z
from butler_maint.model.schedule import Schedule
from butler_maint.model.yamldoc import parse_data
from butler_maint.schedule.due import DueStatus, awaiting_approval


def approval_rel(window: str, occurrence: datetime) -> str:
    """Where the approval of one occurrence of ``window`` lives, relative to the store."""
    stamp = occurrence.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{APPROVALS_DIR}/{safe_name(window)}/{stamp}.yaml"


def reported_rel(window: str, occurrence: datetime) -> str:
    """Where ``run-due`` notes that it reported the occurrence as awaiting approval."""
    return approval_rel(window, occurrence).removesuffix(".yaml") + ".reported"


def is_approved(store: EvidenceStore, window: str, occurrence: datetime) -> bool:
    """True when someone approved this occurrence (who, and whether they may, is
    ``approval_for``'s to judge when the window runs). Reads only."""
    try:
        store.read(approval_rel(window, occurrence))
    except FileNotFoundError:
        return False
    return True


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
    rel = approval_rel(window, occurrence)
    record = {"window": window, "occurrence": iso_z(occurrence), "by": approver,
              "at": iso_z(now), "note": note}  # fmt: skip
    try:
        return store.create(rel, yaml.safe_dump(record, sort_keys=False).encode())
    except FileExistsError:
        raise ButlerError(
            f"{window} at {iso_z(occurrence)} is already approved ({store.root / rel})"
        ) from None


def approval_for(
    store: EvidenceStore, window: str, occurrence: datetime, operator: str
) -> Approval:
    """The approval a run by ``operator`` needs; refused when missing or self-given."""
    rel = approval_rel(window, occurrence)
    when = iso_z(occurrence)
    try:
        data = store.read(rel)
    except FileNotFoundError:
        raise CannotRunError(
            f"window {window} requires approval for {when}: someone other than {operator} "
            f"runs `butler-maint window approve {window} --occurrence {when}`"
        ) from None
    record = _record(data, store.root / rel)
    approver = str(record.get("by", ""))
    if approver == operator:
        raise CannotRunError(
            f"window {window} at {when} was approved by {approver}, who is also running it: "
            "self-approval is refused (four eyes)"
        )
    at = record.get("at")
    when_at = datetime.fromisoformat(str(at).replace("Z", "+00:00")) if at else None
    note = record.get("note")
    return Approval(by=approver, at=when_at, note=str(note) if note is not None else None)


def _record(data: bytes, path: Path) -> dict[str, object]:
    """An approval file, read as every content file is (``model.yamldoc``)."""
    try:
        record = parse_data(data.decode("utf-8", "replace"), path) or {}
    except ContentError as exc:
        raise CannotRunError(f"unreadable approval: {exc}") from None
    if not isinstance(record, dict):
        raise CannotRunError(f"{path}: unreadable approval: expected a mapping")
    return record

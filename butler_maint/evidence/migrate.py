"""Readers of every report schema version, returning schema v1 ``Report`` objects.

v0 was the prototype's format (no chain, ``ok: true/false/null`` per result, times in
seconds); it is read, never written. Migrated reports carry ``migrated_from: 0`` and
a digest computed over their migrated form; they are outside the hash chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from butler_maint.evidence.canonical import compute_digest, to_document
from butler_maint.evidence.errors import ReportFormatError
from butler_maint.evidence.layout import safe_name
from butler_maint.evidence.model import ChecklistStep, Report, ReportDraft, Result, Status, Trigger
from butler_maint.evidence.summary import failures, overall, summarize
from butler_maint.evidence.yamlio import Reader

_V0_STATUS = {True: Status.PASS, False: Status.FAIL, None: Status.ERROR}


def load_report_bytes(data: bytes, where: str) -> Report:
    """Parse and read a report file's bytes, whatever its schema version."""
    try:
        doc = Reader().load(data)
    except ReportFormatError as strict:
        try:  # legacy files may hold YAML timestamps; v1 files never do
            safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            doc = yaml.load(data, Loader=safe)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            raise ReportFormatError(f"{where}: {strict}") from None
        if isinstance(doc, dict) and doc.get("butler_report") in (1, 2):
            raise ReportFormatError(f"{where}: {strict}") from None
    return read_report(doc, where)


def is_legacy(data: bytes) -> bool:
    """True when ``data`` is a report of an older schema (v0) that this version reads."""
    try:
        doc = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and doc.get("report_version") == 0


def read_report(doc: Any, where: str) -> Report:
    """A v1 ``Report`` from a parsed report document of any known version."""
    if not isinstance(doc, dict):
        raise ReportFormatError(f"{where}: not a report (expected a mapping)")
    try:
        if doc.get("butler_report") in (1, 2):
            return Report.model_validate(doc)
        if doc.get("report_version") == 0:
            return migrate_v0(doc)
    except ValidationError as exc:
        raise ReportFormatError(f"{where}: not a valid report: {exc}") from None
    version = doc.get("butler_report", doc.get("report_version"))
    raise ReportFormatError(f"{where}: unknown report schema version {version!r}")


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _result_v0(item: dict[str, Any]) -> Result:
    return Result(
        host=str(item["host"]),
        check=str(item["check"]),
        status=_V0_STATUS[item.get("ok")],
        observed=item.get("value"),
        expected=None if item.get("limit") is None else str(item["limit"]),
        ms=round(float(item.get("time") or 0) * 1000),
        message=item.get("detail"),
    )


def migrate_v0(doc: dict[str, Any]) -> Report:
    """Read a v0 report as v1."""
    name = str(doc.get("checklist") or doc.get("name") or "run")
    draft = ReportDraft(
        kind=doc.get("type", "checklist"),
        name=name,
        trigger=Trigger(by="cron" if doc.get("cron") else "operator"),
        operator=str(doc.get("user") or "unknown"),
        started=_time(doc["start"]),
        finished=_time(doc.get("end") or doc["start"]),
        steps=[ChecklistStep(checklist=name, results=[_result_v0(r) for r in doc["results"]])],
    )
    steps = draft.steps
    summary = summarize(steps)
    fields: dict[str, Any] = {
        "id": str(doc.get("run") or f"{draft.started:%Y%m%dT%H%M%SZ}-{safe_name(name)}"),
        "result": overall(draft, summary),
        "summary": summary,
        "failures": failures(steps),
        "duration_ms": round((draft.finished - draft.started).total_seconds() * 1000),
        "migrated_from": 0,
        "butler_report": 1,
        "previous": None,
        "digest": "",
    }
    draft_fields = draft.model_dump(exclude={"interrupted"})
    report = Report.model_validate({**draft_fields, **fields})
    digest = compute_digest(to_document(report))
    return report.model_copy(update={"digest": digest})

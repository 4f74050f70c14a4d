"""The audit evidence store: report schema v1, canonical digests, the hash chain,
atomic writes, the index, verify, diff and export.

Executors build a ``ReportDraft`` and call ``EvidenceStore(path).write(draft)``.
"""

from __future__ import annotations

from butler_maint.evidence.errors import EvidenceError, ReportFormatError, ReportNotFound
from butler_maint.evidence.model import (
    FAILING,
    Approval,
    ChecklistStep,
    Content,
    HostStats,
    Inventory,
    Kind,
    Output,
    Overall,
    Override,
    PlaybookStep,
    Report,
    ReportDraft,
    Result,
    Status,
    Step,
    Summary,
    Tier,
    Trigger,
)
from butler_maint.evidence.store import EvidenceStore, WrittenReport
from butler_maint.evidence.summary import overall, summarize
from butler_maint.evidence.verify import Verdict, verify_store

__all__ = [
    "FAILING",
    "Approval",
    "ChecklistStep",
    "Content",
    "EvidenceError",
    "EvidenceStore",
    "HostStats",
    "Inventory",
    "Kind",
    "Output",
    "Overall",
    "Override",
    "PlaybookStep",
    "Report",
    "ReportDraft",
    "ReportFormatError",
    "ReportNotFound",
    "Result",
    "Status",
    "Step",
    "Summary",
    "Tier",
    "Trigger",
    "Verdict",
    "WrittenReport",
    "overall",
    "summarize",
    "verify_store",
]

"""Turn a checklist run into an evidence report draft (provenance included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from butler_maint.checks.runner import CheckResult, HostRun
from butler_maint.evidence import ChecklistStep, Content, Kind, ReportDraft, Result, Status, Trigger
from butler_maint.evidence import Inventory as InventoryRecord
from butler_maint.evidence.provenance import (
    content_provenance,
    inventory_provenance,
    tool_versions,
)
from butler_maint.executors.testinfra import SubResult
from butler_maint.inventory import Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.waivers import waiver_files


def _sub(host: str, sub: SubResult) -> Result:
    return Result(host=host, check=sub.name, status=Status(sub.status), message=sub.message or None)


def to_result(result: CheckResult) -> Result:
    """One evidence result from one check result."""
    return Result(
        host=result.host,
        check=result.check,
        status=Status(result.status),
        observed=result.observed,
        expected=result.expected,
        ms=result.ms,
        message=result.message or None,
        sub=[_sub(result.host, s) for s in result.sub] or None,
    )


@dataclass(frozen=True)
class Provenance:
    """Where a run's content and tools came from (computed while the hosts work)."""

    tools: dict[str, str]
    content: Content
    inventory: InventoryRecord


def provenance_of(
    root: Path,
    *,
    checklist: Checklist,
    checklist_file: Path,
    inventory: Inventory,
    host_count: int,
    evidence_dir: str = "evidence",
) -> Provenance:
    """Tool versions, git state and sha256 of every content file the run used."""
    modules = [root / c.testinfra for c in checklist.checks if c.testinfra]
    used = [checklist_file, *(m for m in modules if m.is_file()), *waiver_files(root)]
    files = [*used, *inventory.files()]
    return Provenance(
        tools=tool_versions(),
        content=content_provenance(root, files, exclude=[evidence_dir]),
        inventory=inventory_provenance(root, inventory.sources, host_count),
    )


def draft_report(
    *,
    checklist: Checklist,
    runs: list[HostRun],
    provenance: Provenance,
    operator: str,
    started: datetime,
    finished: datetime,
    trigger: Trigger | None = None,
    interrupted: bool = False,
) -> ReportDraft:
    """The report draft of one checklist run."""
    return ReportDraft(
        kind=Kind.CHECKLIST,
        name=checklist.checklist,
        trigger=trigger or Trigger(),
        operator=operator,
        started=started,
        finished=finished,
        interrupted=interrupted,
        tools=provenance.tools,
        content=provenance.content,
        inventory=provenance.inventory,
        host_keys={r.host: r.host_key for r in runs if r.host_key},
        steps=[
            ChecklistStep(
                checklist=checklist.checklist,
                results=[to_result(r) for run in runs for r in run.results],
            )
        ],
    )

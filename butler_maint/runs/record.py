"""Recording a run: ONE rule for provenance and ONE report draft for every kind of run.

Which content files a run hashes (``content.files`` of its report): every file it read.
That is the inventory (sources and their group_vars/host_vars), and per step:

- a checklist: its file, the testinfra modules it names and the waiver files (waivers
  judge its results);
- a playbook: its file and the ``-e @file`` var files;
- a window: its schedule file and the freeze files its freezes come from, plus the
  files of each of its steps.

A check, a routine run by ``run-due`` and a window step running the same checklist
therefore hash the same files. Provenance is computed on a thread of its own while the
hosts work (tool versions and ``git status`` cost tens of milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from butler_maint.checks.runner import CheckResult
from butler_maint.checks.testinfra import SubResult
from butler_maint.evidence import (
    Approval,
    Content,
    EvidenceStore,
    Kind,
    Output,
    Override,
    ReportDraft,
    Result,
    Status,
    Step,
    Tier,
    Trigger,
    WrittenReport,
)
from butler_maint.evidence import Inventory as InventoryRecord
from butler_maint.evidence.provenance import content_provenance, tool_versions
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.executors import Segment
from butler_maint.inventory import Inventory
from butler_maint.model.checklist import Checklist
from butler_maint.model.config import ProjectConfig
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
        output=_cut_output(result.cut) if result.cut else None,
        attempts=result.attempts if result.attempts > 1 else None,
        worker=result.worker,
        redelivered_from=list(result.redelivered_from) or None,
    )


def _cut_output(cut: Segment) -> Output:
    """What is recorded of a check's output too long to keep: its size and sha256 (the
    judge saw only the head kept)."""
    return Output(
        text=f"(output of {cut.size} bytes; the first {cut.kept} were judged)",
        truncated=True, bytes=cut.size, sha256=f"sha256:{cut.sha256}",
    )  # fmt: skip


def checklist_files(root: Path, checklist: Checklist, path: Path) -> list[Path]:
    """The files a checklist step reads: the checklist, its testinfra modules, the waivers."""
    modules = [root / c.testinfra for c in checklist.checks if c.testinfra]
    return [path, *(m for m in modules if m.is_file()), *waiver_files(root)]


def inventory_record(root: Path, inventory: Inventory, host_count: int) -> InventoryRecord:
    """The inventory as recorded: its sources, the hosts used, the one inventory digest."""
    return InventoryRecord(
        sources=[_relative(root, s) for s in inventory.sources],
        hosts=host_count,
        sha256=f"sha256:{inventory.sha256()}",
    )


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class Provenance:
    """Where a run's content and tools came from."""

    tools: dict[str, str]
    content: Content
    inventory: InventoryRecord


def provenance_of(
    root: Path, config: ProjectConfig, inventory: Inventory, used: Iterable[Path], hosts: int
) -> Provenance:
    """Tool versions, git state and sha256 of every file in ``used`` and the inventory."""
    files = list(dict.fromkeys([*used, *inventory.files()]))  # each once, first place kept
    return Provenance(
        tools=tool_versions(),
        content=content_provenance(root, files, exclude=[config.evidence.dir]),
        inventory=inventory_record(root, inventory, hosts),
    )


@dataclass(frozen=True)
class RunMeta:
    """Who ran what, why, and how: the part of a report every kind of run fills alike."""

    kind: Kind
    name: str
    operator: str
    trigger: Trigger = field(default_factory=Trigger)
    dry_run: bool = False
    override: Override | None = None
    approval: Approval | None = None
    rerun_of: str | None = None


class Recording:
    """One run being recorded: provenance computed aside from the start, then the report."""

    def __init__(
        self,
        root: Path,
        config: ProjectConfig,
        inventory: Inventory,
        used: Sequence[Path],
        hosts: int,
        *,
        signer: SigningKey | None = None,
    ) -> None:
        self.store = EvidenceStore.for_project(root, config.evidence)
        self.signer = signer
        self.started = datetime.now(UTC)
        aside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="provenance")
        self._provenance: Future[Provenance] = aside.submit(
            provenance_of, root, config, inventory, list(used), hosts
        )
        aside.shutdown(wait=False)

    def draft(
        self,
        meta: RunMeta,
        steps: list[Step],
        *,
        host_keys: dict[str, str] | None = None,
        interrupted: bool = False,
        error: str | None = None,
        stopped: str | None = None,
        batches: list[list[str]] | None = None,
        tiers: list[Tier] | None = None,
        started: datetime | None = None,
        finished: datetime | None = None,
    ) -> ReportDraft:
        """The report draft of this run."""
        provenance = self._provenance.result()
        return ReportDraft(
            kind=meta.kind, name=meta.name, trigger=meta.trigger, operator=meta.operator,
            started=started or self.started, finished=finished or datetime.now(UTC),
            dry_run=meta.dry_run, interrupted=interrupted, error=error, stopped=stopped,
            batches=batches, tiers=tiers,
            override=meta.override, approval=meta.approval, rerun_of=meta.rerun_of,
            tools=provenance.tools,
            content=provenance.content, inventory=provenance.inventory,
            host_keys=host_keys or {}, steps=steps,
        )  # fmt: skip

    def write(self, draft: ReportDraft, attach: Sequence[Path] = ()) -> WrittenReport:
        """Write the draft as the next report of the store's chain."""
        return self.store.write(draft, attach=attach, signer=self.signer)

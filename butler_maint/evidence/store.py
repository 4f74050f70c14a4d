"""The evidence store: date-laid-out reports, written atomically into a hash chain.

Layout (all under the store root, by default ``evidence/`` of the content repo)::

    YYYY/MM/DD/<id>.yaml     one report per run, never overwritten (0640; dirs 0750)
    index.jsonl              one line per report, in chain order (rebuildable)
    .head                    digest, id and path of the last report (the chain's tip)
    .lock                    flock'ed by writers so the chain never forks
    artifacts/<id>/          full texts of truncated outputs, attachments (0700/0600)

A write, under the lock: recover from a killed writer, allocate the id, note the
report as pending in ``.head``, write artifacts, create the report file (temp file,
fsync, link, fsync dir), append the index line, then point ``.head`` at it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from butler_maint.evidence import fsutil, gitlog
from butler_maint.evidence.build import INLINE_MAX, Spill, finalize
from butler_maint.evidence.canonical import compute_digest, scrub, to_document
from butler_maint.evidence.errors import EvidenceError, ReportNotFound
from butler_maint.evidence.index import INDEX_FILE, entry_from_document, entry_line, last_entry
from butler_maint.evidence.layout import (
    ARTIFACTS_DIR,
    HEAD_FILE,
    LOCK_FILE,
    inside,
    make_id,
    rel_path,
)
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.model import Overall, Report, ReportDraft
from butler_maint.evidence.yamlio import Reader, render
from butler_maint.model.config import EvidenceSettings

MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class Head:
    """Contents of ``.head``: the chain's tip, and a report being written, if any."""

    digest: str | None = None
    id: str | None = None
    path: str | None = None
    count: int = 0
    tmax: str | None = None
    pending: str | None = None


@dataclass(frozen=True)
class WrittenReport:
    """What a write produced."""

    path: Path
    id: str
    digest: str
    result: Overall
    git_error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class EvidenceStore:
    """A directory of reports forming one hash chain."""

    def __init__(
        self,
        root: Path,
        *,
        git: bool = False,
        keep_artifacts: int | None = None,
        inline_max: int = INLINE_MAX,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.root = root
        self.git = git
        self.keep_artifacts = keep_artifacts
        self.inline_max = inline_max
        self.clock = clock

    @classmethod
    def for_project(cls, root: Path, settings: EvidenceSettings) -> EvidenceStore:
        """The store configured by ``butler.yaml``'s ``evidence`` section."""
        return cls(root / settings.dir, git=settings.git, keep_artifacts=settings.keep_artifacts)

    @property
    def index_path(self) -> Path:
        """The index file."""
        return self.root / INDEX_FILE

    # -- reading ---------------------------------------------------------------

    def head(self) -> Head | None:
        """The chain head, or None for a store never written to."""
        try:
            data = json.loads((self.root / HEAD_FILE).read_bytes())
            return Head(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise EvidenceError(f"cannot read {self.root / HEAD_FILE}: {exc}") from None

    def latest_id(self) -> str:
        """Id of the last report written."""
        head = self.head()
        if head is None or head.id is None:
            raise ReportNotFound(f"no reports in {self.root}")
        pending = head.pending and self.root / head.pending
        return pending.stem if pending and pending.exists() else head.id

    def path_of(self, report_id: str) -> Path:
        """The file of report ``report_id`` (``latest`` allowed); ReportNotFound if none."""
        if report_id == "latest":
            report_id = self.latest_id()
        path = self.root / rel_path(report_id)
        if not path.is_file():
            raise ReportNotFound(f"no report {report_id} in {self.root}")
        return path

    def load(self, report_id: str) -> Report:
        """Read report ``report_id`` (any schema version, migrated to v1)."""
        path = self.path_of(report_id)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EvidenceError.from_os("read", path, exc) from None
        return load_report_bytes(data, str(path))

    # -- writing ---------------------------------------------------------------

    def write(self, draft: ReportDraft, *, attach: Sequence[Path] = ()) -> WrittenReport:
        """Write ``draft`` as the next report of the chain; ``attach`` goes to artifacts."""
        fsutil.make_dirs(self.root)
        with fsutil.locked(self.root / LOCK_FILE):
            head = self._recover()
            report_id, rel = self._allocate(draft)
            self._put_head(replace(head, pending=rel))
            spill = Spill(self.inline_max)
            steps = spill.steps(draft.steps)
            artifacts = self._write_artifacts(report_id, spill, attach)
            report = finalize(
                draft, report_id=report_id, steps=steps, previous=head.digest, artifacts=artifacts
            )
            doc = _document(report)
            self._create(rel, render(doc).encode("utf-8"))
            entry = entry_from_document(doc, rel, head.tmax)
            fsutil.append_line(self.index_path, entry_line(entry))
            self._put_head(Head(doc["digest"], report_id, rel, head.count + 1, entry["tmax"]))
        git_error = self._commit(rel, report) if self.git else None
        self._prune_artifacts()
        return WrittenReport(self.root / rel, report_id, doc["digest"], report.result, git_error)

    def _allocate(self, draft: ReportDraft) -> tuple[str, str]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            report_id = make_id(draft.started, draft.name, attempt)
            rel = rel_path(report_id)
            if not (self.root / rel).exists():
                if not inside(self.root, self.root / rel):
                    raise EvidenceError(f"report path {rel} would leave the store")
                return report_id, rel
        raise EvidenceError(f"too many reports named {draft.name!r} in the same second")

    def _create(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        fsutil.make_dirs(path.parent)
        try:
            fsutil.create_file(path, data)
        except FileExistsError:
            raise EvidenceError(f"refusing to overwrite existing report {path}") from None

    def _put_head(self, head: Head) -> None:
        data = json.dumps(asdict(head), separators=(",", ":")).encode() + b"\n"
        fsutil.replace_file(self.root / HEAD_FILE, data)

    def _write_artifacts(self, report_id: str, spill: Spill, attach: Sequence[Path]) -> str | None:
        if not spill.texts and not attach:
            return None
        rel = f"{ARTIFACTS_DIR}/{report_id}"
        directory = self.root / rel
        fsutil.make_dirs(directory, fsutil.PRIVATE_DIR_MODE)
        for digest, raw in spill.texts.items():
            with contextlib.suppress(FileExistsError):
                fsutil.create_file(directory / f"{digest}.txt", raw, fsutil.PRIVATE_FILE_MODE)
        for source in attach:
            _copy_private(source, directory / source.name)
        return rel

    # -- recovery ---------------------------------------------------------------

    def _recover(self) -> Head:
        """Finish or undo what a killed writer left; return the current head."""
        fsutil.remove_temps(self.root)
        head = self.head()
        if head is None:
            if any(p.name.isdigit() for p in self.root.iterdir()):
                raise EvidenceError(
                    f"{self.root / HEAD_FILE} is missing but the store holds reports: "
                    "run `butler-maint report verify`, then `report reindex` to rebuild it"
                )
            head = Head()
            self._put_head(head)
        if head.pending:
            head = self._settle(head)
        last = last_entry(self.index_path)
        if (last or {}).get("digest") != head.digest:
            self.rebuild_index()
        return head

    def _settle(self, head: Head) -> Head:
        """Resolve a pending write: keep it if its file made it to disk, else drop it."""
        assert head.pending is not None
        path = self.root / head.pending
        fsutil.remove_temps(path.parent)
        fsutil.remove_temps(self.root / ARTIFACTS_DIR / path.stem)
        settled = replace(head, pending=None)
        if path.is_file():
            doc = Reader().load(path.read_bytes())
            if isinstance(doc, dict) and doc.get("previous") == head.digest:
                entry = entry_from_document(doc, head.pending, head.tmax)
                last = last_entry(self.index_path)
                if (last or {}).get("digest") == head.digest:
                    fsutil.append_line(self.index_path, entry_line(entry))
                settled = Head(
                    doc["digest"], doc["id"], head.pending, head.count + 1, entry["tmax"]
                )
        else:
            shutil.rmtree(self.root / ARTIFACTS_DIR / path.stem, ignore_errors=True)
        self._put_head(settled)
        return settled

    def rebuild_index(self) -> int:
        """Rebuild ``index.jsonl`` from the reports, in chain order; return its length."""
        from butler_maint.evidence.verify import chain_order

        ordered = chain_order(self.root)
        lines, tmax = [], ""
        for scanned in ordered:
            assert scanned.entry is not None
            entry = {**scanned.entry, "tmax": max(tmax, scanned.entry["finished"])}
            tmax = entry["tmax"]
            lines.append(entry_line(entry) + "\n")
        fsutil.make_dirs(self.root)
        fsutil.replace_file(self.index_path, "".join(lines).encode("utf-8"))
        return len(lines)

    def reindex(self) -> int:
        """``report reindex``: clean temp files, rebuild the index (and a missing head)."""
        fsutil.make_dirs(self.root)
        with fsutil.locked(self.root / LOCK_FILE):
            for dirpath, _, _ in os.walk(self.root):
                fsutil.remove_temps(Path(dirpath))
            count = self.rebuild_index()
            if self.head() is None:
                self._put_head(self._head_from_index(count))
        return count

    def _head_from_index(self, count: int) -> Head:
        last = last_entry(self.index_path)
        if last is None:
            return Head()
        return Head(last["digest"], last["id"], last["path"], count, last["tmax"])

    # -- after the write ----------------------------------------------------------

    def _commit(self, rel: str, report: Report) -> str | None:
        message = f"evidence: {report.id} ({report.kind} {report.name}: {report.result})"
        return gitlog.commit(self.root, [rel, HEAD_FILE], message, report.operator)

    def _prune_artifacts(self) -> None:
        if self.keep_artifacts is None:
            return
        base = self.root / ARTIFACTS_DIR
        with contextlib.suppress(FileNotFoundError):
            runs = sorted(p for p in base.iterdir() if p.is_dir())
            for old in runs[: max(0, len(runs) - self.keep_artifacts)]:
                shutil.rmtree(old, ignore_errors=True)


def _document(report: Report) -> dict[str, Any]:
    """The on-disk mapping of ``report`` with its digest filled in."""
    doc = to_document(report)
    try:
        doc["digest"] = compute_digest(doc)
    except UnicodeEncodeError:  # lone surrogates from undecodable output
        doc = scrub(doc)
        doc["digest"] = compute_digest(doc)
    return doc


def _copy_private(source: Path, target: Path) -> None:
    """Copy a file or tree into artifacts, readable by the owner only."""
    try:
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        for dirpath, _, filenames in os.walk(target):
            os.chmod(dirpath, fsutil.PRIVATE_DIR_MODE)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), fsutil.PRIVATE_FILE_MODE)
        if target.is_file():
            os.chmod(target, fsutil.PRIVATE_FILE_MODE)
    except OSError as exc:
        raise EvidenceError.from_os("copy artifact", source, exc) from None

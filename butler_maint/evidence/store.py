"""The evidence store: date-laid-out reports, written atomically into a hash chain.

Layout (all under the store root, by default ``evidence/`` of the content repo)::

    YYYY/MM/DD/<id>.yaml     one report per run, never overwritten (0640; dirs 0750)
    index.jsonl              one line per report, in chain order (rebuildable)
    .head                    digest, id and path of the last report (the chain's tip)
    .lock                    flock'ed by writers so the chain never forks
    artifacts/<id>/          full texts of truncated outputs, attachments (0700/0600)

Nothing is followed out of the store: every file and directory below the root is opened
without following a symbolic link (``fsutil``), and a planted link is refused, naming it.

A write, under the lock: check ``.head`` and the chain tip it names (a broken head, a
tip that is not in the store or not the last report, or a planted link refuses the write
before anything is written), recover from a killed writer, allocate the id, note the
report as pending in ``.head``, write artifacts, create the report file (temp file,
fsync, link, fsync dir), append the index line, then point ``.head`` at it.

Reading (``head``, ``load``, ``path_of``) writes nothing, not even the lock.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from butler_maint.evidence import fsutil, gitlog
from butler_maint.evidence.anchor import append_anchor, tag_name
from butler_maint.evidence.build import INLINE_MAX, Spill, finalize
from butler_maint.evidence.canonical import compute_digest, scrub, to_document
from butler_maint.evidence.errors import EvidenceError, ReportFormatError, ReportNotFound
from butler_maint.evidence.index import (
    INDEX_FILE,
    chained,
    entry_from_document,
    entry_line,
    last_entry,
)
from butler_maint.evidence.layout import (
    ARTIFACTS_DIR,
    HEAD_FILE,
    LOCK_FILE,
    inside,
    make_id,
    rel_path,
)
from butler_maint.evidence.lock import hold_lock
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.model import Overall, Report, ReportDraft, Signer
from butler_maint.evidence.scan import report_files
from butler_maint.evidence.sshsig import SigningKey
from butler_maint.evidence.trust import namespace_of
from butler_maint.evidence.yamlio import Reader, render
from butler_maint.model.config import EvidenceSettings

MAX_ATTEMPTS = 1000
_HINT = "nothing was written; run `butler-maint report verify`"


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
    settled: str | None = None
    """Id of a report an interrupted earlier write left on disk, chained by this write."""


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
        witness: Path | None = None,
        anchor_remote: str | None = None,
    ) -> None:
        self.root = root
        self.witness = witness
        self.anchor_remote = anchor_remote if git else None
        self.git = git
        self.keep_artifacts = keep_artifacts
        self.inline_max = inline_max
        self.clock = clock

    @classmethod
    def for_project(cls, root: Path, settings: EvidenceSettings) -> EvidenceStore:
        """The store configured by ``butler.yaml``'s ``evidence`` section."""
        witness = root / settings.witness if settings.witness else None
        return cls(
            root / settings.dir,
            git=settings.git,
            keep_artifacts=settings.keep_artifacts,
            witness=witness,
            anchor_remote=settings.anchor_remote,
        )

    @property
    def index_path(self) -> Path:
        """The index file."""
        return self.root / INDEX_FILE

    # -- reading ---------------------------------------------------------------

    def head(self) -> Head | None:
        """The chain head, or None for a store never written to."""
        path = self.root / HEAD_FILE
        try:
            raw = fsutil.read_file(path, root=self.root)
        except FileNotFoundError:
            return None
        return _parse_head(raw, path)

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
        if not path.is_file() and not path.is_symlink():
            raise ReportNotFound(f"no report {report_id} in {self.root}")
        return path

    def load(self, report_id: str) -> Report:
        """Read report ``report_id`` (any schema version, migrated to v1)."""
        path = self.path_of(report_id)
        try:
            data = fsutil.read_file(path, root=self.root)
        except FileNotFoundError:
            raise ReportNotFound(f"no report {report_id} in {self.root}") from None
        return load_report_bytes(data, str(path))

    # -- writing ---------------------------------------------------------------

    def write(
        self,
        draft: ReportDraft,
        *,
        attach: Sequence[Path] = (),
        signer: SigningKey | None = None,
    ) -> WrittenReport:
        """Write ``draft`` as the next report of the chain; ``attach`` goes to artifacts;
        ``signer`` signs it (its principal becomes the operator). Anchors the new head in
        the witness file, if any."""
        fsutil.make_dirs(self.root)
        with hold_lock(self.root / LOCK_FILE, wait=True):
            head, settled = self._recover()
            report_id, rel = self._allocate(draft)
            self._put_head(replace(head, pending=rel))
            spill = Spill(self.inline_max)
            steps = spill.steps(draft.steps)
            artifacts = self._write_artifacts(report_id, spill, attach)
            identity = None
            if signer is not None:
                identity = Signer(principal=signer.principal, key=signer.fingerprint)
            report = finalize(
                draft, report_id=report_id, steps=steps, previous=head.digest,
                artifacts=artifacts, signer=identity,
            )  # fmt: skip
            doc = _document(report)
            if signer is not None:
                doc = _signed(doc, signer, head, self._put_head)
            self._create(rel, render(doc).encode("utf-8"))
            entry = entry_from_document(doc, rel, head.tmax)
            fsutil.append_line(self.index_path, entry_line(entry), root=self.root)
            self._put_head(Head(doc["digest"], report_id, rel, head.count + 1, entry.tmax))
            self._anchor(doc["digest"], head.count + 1, report_id)
        git_error = self._commit(rel, report) if self.git else None
        if git_error is None and self.anchor_remote:
            git_error = self._tag(doc["digest"], head.count + 1, report_id, signer)
        self._prune_artifacts()
        return WrittenReport(
            self.root / rel, report_id, doc["digest"], report.result, git_error, settled
        )

    def _anchor(self, digest: str, count: int, report_id: str) -> None:
        if self.witness is not None:
            append_anchor(self.witness, digest, count, report_id, self.clock())

    def anchor(self, signer: SigningKey | None = None) -> Head:
        """``report anchor``: record the current head in the witness file and, with an
        anchor remote, as a pushed tag (EvidenceError when that fails)."""
        if self.witness is None and self.anchor_remote is None:
            raise EvidenceError(
                "nowhere to anchor to: set evidence.witness (or git: true and "
                "anchor_remote) in butler.yaml"
            )
        fsutil.make_dirs(self.root)
        with hold_lock(self.root / LOCK_FILE, wait=True):
            head = self._checked_head()
            if head.digest is None or head.id is None:
                raise EvidenceError(f"no reports in {self.root} to anchor")
            self._anchor(head.digest, head.count, head.id)
            failed = None
            if self.anchor_remote:
                failed = self._tag(head.digest, head.count, head.id, signer)
        if failed and "already exists" not in failed:
            raise EvidenceError(failed)
        return head

    def create(self, rel: str, data: bytes, mode: int = fsutil.FILE_MODE) -> Path:
        """Create a new file at store-relative ``rel`` (an approval...), its directories
        made as needed, nothing followed; FileExistsError if it exists (a link included)."""
        path = self.root / rel
        fsutil.make_dirs(path.parent, root=self.root)
        fsutil.create_file(path, data, mode, root=self.root)
        return path

    def read(self, rel: str) -> bytes:
        """The bytes of store-relative ``rel``, nothing followed; FileNotFoundError if none."""
        return fsutil.read_file(self.root / rel, root=self.root)

    def _allocate(self, draft: ReportDraft) -> tuple[str, str]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            report_id = make_id(draft.started, draft.name, attempt)
            rel = rel_path(report_id)
            path = self.root / rel
            fsutil.make_dirs(path.parent, root=self.root)  # refuses links on the way
            if not fsutil.check_entry(path, root=self.root):
                if not inside(self.root, path):
                    raise EvidenceError(f"report path {rel} would leave the store")
                return report_id, rel
        raise EvidenceError(f"too many reports named {draft.name!r} in the same second")

    def _create(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        try:
            fsutil.create_file(path, data, root=self.root)
        except FileExistsError:
            raise EvidenceError(f"refusing to overwrite existing report {path}") from None

    def _put_head(self, head: Head) -> None:
        data = json.dumps(asdict(head), separators=(",", ":")).encode() + b"\n"
        fsutil.replace_file(self.root / HEAD_FILE, data, root=self.root)

    def _write_artifacts(self, report_id: str, spill: Spill, attach: Sequence[Path]) -> str | None:
        if not spill.texts and not attach:
            return None
        rel = f"{ARTIFACTS_DIR}/{report_id}"
        directory = self.root / rel
        fsutil.make_dirs(directory, fsutil.PRIVATE_DIR_MODE, root=self.root)
        for digest, raw in spill.texts.items():
            try:
                target = directory / f"{digest}.txt"
                fsutil.create_file(target, raw, fsutil.PRIVATE_FILE_MODE, root=self.root)
            except FileExistsError:
                fsutil.check_entry(target, root=self.root)  # the same text: fine; a link: no
        for source in attach:
            fsutil.copy_in(
                source,
                directory / source.name,
                root=self.root,
                dir_mode=fsutil.PRIVATE_DIR_MODE,
                file_mode=fsutil.PRIVATE_FILE_MODE,
            )
        return rel

    # -- checks and recovery --------------------------------------------------------

    def _recover(self) -> tuple[Head, str | None]:
        """Check the head and what the write will touch, then finish or undo what a
        killed writer left; return the current head and the id of a report settled."""
        head = self._checked_head()
        for name in (INDEX_FILE, HEAD_FILE):
            fsutil.check_entry(self.root / name, root=self.root)
        fsutil.check_entry(self.root / ARTIFACTS_DIR, root=self.root, want=stat.S_IFDIR)
        settled = None
        fsutil.remove_temps(self.root, root=self.root)
        if head.pending:
            before = head
            head = self._settle(head)
            settled = head.id if head.digest != before.digest else None
        self._sync_index(head)
        return head, settled

    def _checked_head(self) -> Head:
        """``.head``, checked against the store: its tip is a report of the store whose
        digest it records; a store never written to gets an empty head."""
        head = self.head()
        if head is None:
            if self._holds_reports():
                raise EvidenceError(
                    f"{self.root / HEAD_FILE} is missing but the store holds reports: "
                    "run `butler-maint report verify`, then `report reindex` to rebuild it"
                )
            head = Head()
            self._put_head(head)
            return head
        if head.digest is None:
            if set(report_files(self.root)) - {head.pending}:
                raise self._broken("names no report, but the store holds reports")
            return head
        assert head.path is not None
        doc = self._tip_document(head.path, brief=True)
        if doc is None:
            raise self._broken(f"names report {head.id}, which is not in the store")
        if doc.get("digest") != head.digest or doc.get("id") != head.id:
            raise self._broken(
                f"names report {head.id} with digest {head.digest}, but {head.path} is "
                f"report {doc.get('id')} with digest {doc.get('digest')}"
            )
        return head

    def _broken(self, why: str) -> EvidenceError:
        return EvidenceError(f"{self.root / HEAD_FILE} {why}: {_HINT}")

    def _tip_document(self, rel: str, *, brief: bool = False) -> dict[str, Any] | None:
        """The parsed report at ``rel``, or None when there is none; ``brief``: only its
        id and digest, from the second and last lines where the writer puts them (parsing
        a whole report on every write would double its cost; ``verify`` reads it all)."""
        path = self.root / rel
        try:
            data = fsutil.read_file(path, root=self.root)
        except FileNotFoundError:
            return None
        if brief:
            lines = data.rstrip(b"\n").split(b"\n")
            if len(lines) > 2 and lines[1][:4] == b"id: " and lines[-1][:8] == b"digest: ":
                data = lines[1] + b"\n" + lines[-1] + b"\n"
        try:
            doc = Reader().load(data)
        except ReportFormatError as exc:
            raise self._broken(f"names {path}, which is not a report ({exc})") from None
        if not isinstance(doc, dict):
            raise self._broken(f"names {path}, which is not a report")
        return doc

    def _holds_reports(self) -> bool:
        try:
            return any(name.isdigit() for name in os.listdir(self.root))
        except FileNotFoundError:
            return False

    def _settle(self, head: Head) -> Head:
        """Resolve a pending write: keep it if its file made it to disk, else drop it."""
        assert head.pending is not None
        path = self.root / head.pending
        fsutil.remove_temps(path.parent, root=self.root)
        fsutil.remove_temps(self.root / ARTIFACTS_DIR / path.stem, root=self.root)
        settled = replace(head, pending=None)
        doc = self._tip_document(head.pending)
        if doc is None:
            fsutil.remove_tree(self.root / ARTIFACTS_DIR / path.stem, root=self.root)
        elif doc.get("previous") == head.digest:
            entry = entry_from_document(doc, head.pending, head.tmax)
            if _last_digest(self.index_path) == head.digest:
                fsutil.append_line(self.index_path, entry_line(entry), root=self.root)
            settled = Head(doc["digest"], doc["id"], head.pending, head.count + 1, entry.tmax)
        self._put_head(settled)
        return settled

    def _sync_index(self, head: Head) -> None:
        """Rebuild an index that does not end at the head; refuse when reports follow it."""
        if _last_digest(self.index_path) == head.digest and self._index_whole():
            return
        from butler_maint.evidence.verify import chain_order

        ordered = chain_order(self.root)
        after = [s.rel for s in ordered if head.digest and s.previous == head.digest]
        if after:
            raise self._broken(
                f"names report {head.id}, but {after[0]} follows it: the head is behind the "
                "chain (restored from a backup?)"
            )
        self._write_index(ordered)

    def _index_whole(self) -> bool:
        """False when the index ends with a line cut short (a full disk mid-append): the
        next line appended would be glued to it."""
        try:
            fd = fsutil.open_file(self.index_path, os.O_RDONLY, root=self.root)
        except FileNotFoundError:
            return True
        try:
            size = os.fstat(fd).st_size
            return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
        finally:
            os.close(fd)

    def rebuild_index(self) -> int:
        """Rebuild ``index.jsonl`` from the reports, in chain order; return its length."""
        from butler_maint.evidence.verify import chain_order

        return self._write_index(chain_order(self.root))

    def _write_index(self, ordered: Sequence[Any]) -> int:
        lines = [entry_line(e) + "\n" for e in chained(s.entry for s in ordered if s.entry)]
        fsutil.make_dirs(self.root)
        fsutil.replace_file(self.index_path, "".join(lines).encode("utf-8"), root=self.root)
        return len(lines)

    def reindex(self) -> int:
        """``report reindex``: clean temp files, rebuild the index (and a missing head)."""
        fsutil.make_dirs(self.root)
        with hold_lock(self.root / LOCK_FILE, wait=True):
            fsutil.remove_all_temps(self.root)
            count = self.rebuild_index()
            if self.head() is None:
                self._put_head(self._head_from_index(count))
        return count

    def _head_from_index(self, count: int) -> Head:
        last = last_entry(self.index_path)
        if last is None:
            return Head()
        return Head(last.digest, last.id, last.path, count, last.tmax)

    # -- after the write ----------------------------------------------------------

    def _tag(
        self, digest: str, count: int, report_id: str, signer: SigningKey | None
    ) -> str | None:
        """Tag the head's commit and push the tag to the anchor remote."""
        assert self.anchor_remote is not None
        message = f"butler-maint anchor: report {count} of the chain, {report_id}, {digest}"
        who = signer.principal if signer else "butler-maint"
        return gitlog.push_tag(
            self.root, self.anchor_remote, tag_name(count, digest), message, operator=who,
            key=signer.path if signer else None,
        )  # fmt: skip

    def _commit(self, rel: str, report: Report) -> str | None:
        message = f"evidence: {report.id} ({report.kind} {report.name}: {report.result})"
        return gitlog.commit(self.root, [rel, HEAD_FILE], message, report.operator)

    def _prune_artifacts(self) -> None:
        if self.keep_artifacts is None:
            return
        base = self.root / ARTIFACTS_DIR
        runs = fsutil.subdirectories(base, root=self.root)
        for old in runs[: max(0, len(runs) - self.keep_artifacts)]:
            fsutil.remove_tree(base / old, root=self.root)


_HEAD_TEXT = ("digest", "id", "path", "tmax", "pending")


def _last_digest(index: Path) -> object:
    """The digest of the index's last entry (None without one)."""
    last = last_entry(index)
    return None if last is None else last.digest


def _parse_head(raw: bytes, path: Path) -> Head:
    """``.head``'s bytes as a Head; anything else than what a writer puts there is refused."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise EvidenceError(f"cannot read {path}: {exc}") from None
    why = _head_problem(data)
    if why:
        raise EvidenceError(f"cannot read {path}: {why}: run `butler-maint report verify`")
    return Head(**data)


def _head_problem(data: object) -> str | None:
    """What makes ``data`` no chain head, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    unknown = set(data) - {f.name for f in fields(Head)}
    if unknown:
        return f"unknown fields {sorted(unknown)}"
    if any(not isinstance(data.get(k), str | None) for k in _HEAD_TEXT):
        return "a field that should be text is not"
    count = data.get("count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return "count is not a number of reports"
    digest, report_id, path = data.get("digest"), data.get("id"), data.get("path")
    if (digest is None) != (report_id is None) or (report_id is None) != (path is None):
        return "digest, id and path must all be set, or none"
    if report_id is not None and _rel_of(report_id) != path:
        return f"path {path!r} is not where report {report_id!r} belongs"
    pending = data.get("pending")
    if pending is not None and _rel_of(Path(pending).stem) != pending:
        return f"pending {pending!r} is not a report path"
    return None


def _rel_of(report_id: str) -> str | None:
    try:
        return rel_path(report_id)
    except ReportNotFound:
        return None


def _signed(
    doc: dict[str, Any], signer: SigningKey, head: Head, put_head: Callable[[Head], None]
) -> dict[str, Any]:
    """``doc`` with its signature (of its digest text) before the digest; a signing
    failure clears the pending write from ``.head`` before it is raised."""
    try:
        signature = signer.sign(str(doc["digest"]).encode(), namespace_of(doc))
    except EvidenceError:
        put_head(head)
        raise
    digest = doc.pop("digest")
    return {**doc, "signature": signature, "digest": digest}


def _document(report: Report) -> dict[str, Any]:
    """The on-disk mapping of ``report`` with its digest filled in."""
    doc = to_document(report)
    try:
        doc["digest"] = compute_digest(doc)
    except (UnicodeEncodeError, ValueError):  # lone surrogates, integers past 2**53
        doc = scrub(doc)
        doc["digest"] = compute_digest(doc)
    return doc

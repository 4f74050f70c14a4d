"""Read every report file of a store once: parse, recompute the digest, check the
file is byte-for-byte the canonical layout of its content and sits at its id's path.

Work is split across processes for large stores (parsing is the cost of ``verify``).
A caller that keeps the scans of an earlier pass (the site renderer) hands them back as
``known``: a file whose bytes hash the same as when it was scanned is not parsed again.
``report verify`` keeps none: it scans every file from its bytes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from butler_maint.evidence.canonical import compute_digest
from butler_maint.evidence.errors import ReportFormatError
from butler_maint.evidence.index import IndexEntry, entry_from_document
from butler_maint.evidence.layout import APPROVALS_DIR, ARTIFACTS_DIR, is_report_id, rel_path
from butler_maint.evidence.migrate import is_legacy
from butler_maint.evidence.trust import TrustPolicy, signature_problem
from butler_maint.evidence.yamlio import Reader, Renderer

PARALLEL_FROM = 2000
VERSIONS = (1, 2)
"""Schema versions of chained reports (v0 reports are outside the chain)."""


@dataclass(frozen=True)
class Scanned:
    """What one report file says, and what is wrong with it on its own."""

    rel: str
    version: int | None = None
    id: str | None = None
    recorded: str | None = None
    computed: str | None = None
    previous: str | None = None
    problem: str | None = None
    entry: IndexEntry | None = None
    signed: bool = False
    """It carries a signature (checked when the policy checks signatures)."""
    sha256: str | None = field(default=None, compare=False)
    """The sha256 of the file's bytes as scanned (None when unreadable)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON object ``scanned_from_json`` reads back."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["entry"] = None if self.entry is None else self.entry.to_json()
        return data


def scanned_from_json(data: Mapping[str, Any]) -> Scanned:
    """The scan ``Scanned.to_json`` wrote (raises ValueError when it is not one)."""
    names = {f.name for f in fields(Scanned)}
    if not isinstance(data, Mapping) or set(data) != names or not isinstance(data["rel"], str):
        raise ValueError("not a scan")
    entry = data["entry"]
    values = {**data, "entry": None if entry is None else IndexEntry.from_json(entry)}
    return Scanned(**values)


def report_files(root: Path) -> list[str]:
    """Store-relative paths of every ``*.yaml`` report file, sorted (approvals are not
    reports: they live in ``approvals/``)."""
    found = []
    skipped = {ARTIFACTS_DIR, APPROVALS_DIR}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skipped and not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.endswith(".yaml") and not name.startswith("."):
                found.append(name if rel_dir == "." else f"{rel_dir}/{name}")
    return sorted(found)


class Scanner:
    """Scans report files; reuse one for many files (it caches rendered scalars)."""

    def __init__(
        self,
        root: Path,
        policy: TrustPolicy | None = None,
        known: Mapping[str, Scanned] | None = None,
    ) -> None:
        self.root = root
        self.known = known or {}
        self.reader = Reader()
        self.renderer = Renderer()
        self.policy = policy or TrustPolicy()
        self.signers = self.policy.signers()

    def scan(self, rel: str) -> Scanned:
        """Scan one file."""
        try:
            data = (self.root / rel).read_bytes()
        except OSError as exc:
            return Scanned(rel, problem=f"unreadable: {_reason(exc)}")
        digest = hashlib.sha256(data).hexdigest()
        before = self.known.get(rel)
        if before is not None and before.rel == rel and before.sha256 == digest:
            return before
        return replace(self._scan(rel, data), sha256=digest)

    def _scan(self, rel: str, data: bytes) -> Scanned:
        try:
            doc = self.reader.load(data)
        except ReportFormatError as exc:
            if is_legacy(data):
                return Scanned(rel, version=0)
            return Scanned(rel, problem=f"unreadable: {_reason(exc)}")
        if not isinstance(doc, dict):
            return Scanned(rel, problem="unreadable: not a mapping")
        version = doc.get("butler_report")
        if version not in VERSIONS:
            return Scanned(rel, version=0 if "report_version" in doc else None)
        assert isinstance(version, int)
        return self._check(rel, data, doc, version)

    def _check(self, rel: str, data: bytes, doc: dict[str, Any], version: int) -> Scanned:
        recorded, previous, report_id = doc.get("digest"), doc.get("previous"), doc.get("id")
        try:
            computed = compute_digest(doc)
            canonical = self.renderer.render(doc).encode("utf-8") == data
        except (TypeError, ValueError) as exc:
            return Scanned(rel, version, problem=f"unreadable: {exc}")
        problem = None
        if computed != recorded:
            problem = "edited: its content does not match its digest"
        elif not canonical:
            problem = "edited: bytes changed (not the layout butler-maint wrote)"
        elif not isinstance(report_id, str) or not is_report_id(report_id):
            problem = "edited: invalid id"
        elif rel_path(report_id) != rel:
            problem = f"reordered: holds report {report_id}, which belongs at {rel_path(report_id)}"
        else:
            problem = signature_problem(doc, computed, self.policy, self.signers)
        entry = entry_from_document(doc, rel, None)
        return Scanned(
            rel, version, _str(report_id), _str(recorded), computed, _str(previous), problem,
            entry, signed="signature" in doc,
        )  # fmt: skip


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _scan_chunk(
    root: str,
    rels: list[str],
    policy: TrustPolicy | None = None,
    known: Mapping[str, Scanned] | None = None,
) -> list[Scanned]:
    scanner = Scanner(Path(root), policy, known)
    return [scanner.scan(rel) for rel in rels]


def scan_store(
    root: Path,
    jobs: int | None = None,
    policy: TrustPolicy | None = None,
    known: Mapping[str, Scanned] | None = None,
) -> list[Scanned]:
    """Scan every report file of the store at ``root``, in path order (signatures
    checked by ``policy``). ``known``: scans of an earlier pass by path, with the same
    policy, reused for files whose bytes hash the same."""
    rels = report_files(root)
    jobs = jobs or min(os.cpu_count() or 1, 8)
    if policy is not None:
        policy.signers()  # a bad allowed_signers file is refused once, here
    fresh = len(rels) if not known else sum(1 for rel in rels if rel not in known)
    if jobs < 2 or fresh < PARALLEL_FROM:  # parsing is the cost; hashing a known file is not
        return _scan_chunk(str(root), rels, policy, known)
    size = -(-len(rels) // (jobs * 4))
    chunks = [rels[i : i + size] for i in range(0, len(rels), size)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        parts = pool.map(
            _scan_chunk,
            [str(root)] * len(chunks),
            chunks,
            [policy] * len(chunks),
            [known] * len(chunks),
        )
        return [item for part in parts for item in part]

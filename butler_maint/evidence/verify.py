"""``report verify``: check every report's digest, its layout and the hash chain, then
the index against the reports.

The chain is built from the report files themselves, never from the index. Problems, by
kind:
- unreadable: not YAML, or not a report (or ``.head`` is a link or not a chain head);
- edited: content does not match its digest, or bytes differ from the written layout;
- reordered: a file holds a report that belongs at another path (files swapped/moved);
- missing: a report's predecessor, or the last report named by ``.head``, is gone;
- inserted: a report not on the chain (a copy, a fork, one after the head);
- unsigned / signature: a report without the signature ``butler.yaml``'s signing policy
  asks for, or with one that does not hold (``evidence.trust``);
- anchor: a head recorded in the witness file is no longer in the chain (a truncation,
  a ``.head`` rolled back, a rewrite of the chain: ``evidence.anchor``);
- index: once the chain is intact, ``index.jsonl`` (what ``report list``, ``due`` and
  KPIs read) must hold exactly its reports, in chain order, as ``report reindex`` would
  write them: a line missing, extra, changed or out of order is named, with the hint to
  run ``report reindex``. A missing index is no problem (a clone of a git store has none;
  readers then read the reports). Verifying writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from butler_maint.evidence import fsutil, gitlog
from butler_maint.evidence.anchor import (
    TAG_PREFIX,
    Anchor,
    anchor_problem,
    read_anchors,
    tag_anchor,
)
from butler_maint.evidence.errors import EvidenceError
from butler_maint.evidence.index import INDEX_FILE, chained
from butler_maint.evidence.layout import HEAD_FILE
from butler_maint.evidence.scan import VERSIONS, Scanned, scan_store
from butler_maint.evidence.trust import TrustPolicy

REINDEX_HINT = "run `butler-maint report reindex` to rebuild it from the reports"
MAX_INDEX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the store."""

    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


@dataclass
class Verdict:
    """The outcome of verifying a store."""

    reports: int = 0
    chained: int = 0
    head: str | None = None
    problems: list[Problem] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)
    signed: int = 0
    """Reports carrying a signature."""
    anchors: int | None = None
    """Heads anchored in the witness file (None: no witness file configured)."""

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


_RANK = {"inserted": 1, "missing": 2}


def _short(digest: str | None) -> str:
    return (digest or "none")[:19]


@dataclass
class _Chain:
    """Reports indexed by digest and by predecessor, and the chain walked from the tip."""

    scanned: list[Scanned]
    by_digest: dict[str, Scanned] = field(default_factory=dict)
    children: dict[str | None, list[Scanned]] = field(default_factory=lambda: defaultdict(list))
    members: list[Scanned] = field(default_factory=list)

    def __post_init__(self) -> None:
        for item in self.scanned:
            for digest in (item.computed, item.recorded):
                if digest and digest not in self.by_digest:
                    self.by_digest[digest] = item
            self.children[item.previous].append(item)

    def walk(self, tip: str | None) -> None:
        """Follow ``previous`` links back from ``tip``; members end up oldest first."""
        seen: set[str] = set()
        while tip is not None and tip in self.by_digest and tip not in seen:
            item = self.by_digest[tip]
            seen.update(d for d in (item.computed, item.recorded) if d)
            self.members.append(item)
            tip = item.previous
        self.members.reverse()


def _read_head(root: Path) -> dict[str, object] | None:
    """``.head`` as a mapping; None when missing, unreadable or a link (never followed)."""
    try:
        value = json.loads(fsutil.read_file(root / HEAD_FILE, root=root))
    except (OSError, ValueError, EvidenceError):
        return None
    return value if isinstance(value, dict) else None


def _tip(root: Path, head: dict[str, object], chain: _Chain) -> tuple[str | None, int]:
    """The chain's tip digest and length per ``.head`` (a pending write that made it
    to disk extends it)."""
    digest = head.get("digest")
    count = int(str(head.get("count") or 0))
    pending = head.get("pending")
    if isinstance(pending, str):
        kids = [k for k in chain.children.get(digest if isinstance(digest, str) else None, [])]
        for kid in kids:
            if kid.rel == pending and not kid.problem:
                return kid.recorded, count + 1
    return (digest if isinstance(digest, str) else None), count


def _file_problems(scanned: list[Scanned]) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for item in scanned:
        if item.problem:
            kind, _, detail = item.problem.partition(": ")
            problems.append(Problem(item.rel, kind, detail))
        if item.recorded and item.recorded in seen:
            problems.append(Problem(item.rel, "inserted", f"a copy of {seen[item.recorded]}"))
        elif item.recorded:
            seen[item.recorded] = item.rel
    return problems


def _link_problems(chain: _Chain) -> list[Problem]:
    problems = []
    on_chain = {id(m) for m in chain.members}
    for item in chain.scanned:
        if item.previous is not None and item.previous not in chain.by_digest:
            problems.append(
                Problem(
                    item.rel,
                    "missing",
                    f"the report before it ({_short(item.previous)}...) is not in the store "
                    "(deleted)",
                )
            )
    for previous, kids in chain.children.items():
        if len(kids) < 2 or (previous is not None and previous not in chain.by_digest):
            continue
        keep = next((k for k in kids if id(k) in on_chain), kids[0])
        for kid in kids:
            if kid is not keep:
                problems.append(
                    Problem(
                        kid.rel,
                        "inserted",
                        f"forks the chain: follows the same report as {keep.rel}",
                    )
                )
    return problems


def _head_problems(root: Path, head: dict[str, object] | None, chain: _Chain) -> list[Problem]:
    if head is None:
        if (root / HEAD_FILE).is_symlink():
            return [Problem(HEAD_FILE, "unreadable", "a symbolic link, not the chain head")]
        if chain.scanned:
            return [Problem(HEAD_FILE, "missing", "the chain head file is missing or unreadable")]
        return []
    tip, count = _tip(root, head, chain)
    if tip is not None and tip not in chain.by_digest:
        where = str(head.get("path") or HEAD_FILE)
        if (root / where).is_file():
            return []  # there, but unreadable: its own problem names it
        return [
            Problem(
                where,
                "missing",
                f"the latest report {head.get('id')} is not in the store (deleted)",
            )
        ]
    chain.walk(tip)
    if chain.members and chain.members[0].previous is None and len(chain.members) != count:
        return [
            Problem(
                HEAD_FILE, "edited", f"records {count} reports, the chain has {len(chain.members)}"
            )
        ]
    return []


def _anchor_problems(
    root: Path, policy: TrustPolicy | None, chain: _Chain
) -> tuple[list[Problem], int | None]:
    """Anchored heads no longer in the chain (from the witness file and the anchor
    remote's tags, when configured), and how many heads are anchored."""
    if policy is None or (policy.witness is None and policy.anchor_remote is None):
        return [], None
    sources: list[tuple[str, list[Anchor], list[str]]] = []
    if policy.witness is not None:
        sources.append((str(policy.witness), *read_anchors(policy.witness)))
    if policy.anchor_remote is not None:
        sources.append((f"git remote {policy.anchor_remote}", *_remote(root, policy.anchor_remote)))
    links = [(m.id or "", m.recorded) for m in chain.members]
    found: list[Problem] = []
    count = 0
    for where, anchors, bad in sources:
        found += [Problem(where, "anchor", why) for why in bad]
        count += len(anchors)
        for anchor in anchors:
            why = anchor_problem(anchor, links)
            if why:
                found.append(Problem(where, "anchor", why))
    return found, count


def _remote(root: Path, remote: str) -> tuple[list[Anchor], list[str]]:
    """The anchors a git remote's tags name, and why it could not be read."""
    try:
        refs = gitlog.remote_tags(root, remote, f"refs/tags/{TAG_PREFIX}*")
    except RuntimeError as exc:
        return [], [f"cannot read the anchor tags of git remote {remote}: {exc}"]
    anchors = [a for a in map(tag_anchor, refs) if a is not None]
    return sorted(anchors, key=lambda a: a.count), []


def verify_store(root: Path, jobs: int | None = None, policy: TrustPolicy | None = None) -> Verdict:
    """Verify every report file under ``root``, the chain they form, their signatures
    and the anchored heads (by ``policy``)."""
    return verify_scans(root, scan_store(root, jobs, policy), policy)


def verify_scans(root: Path, everything: list[Scanned], policy: TrustPolicy | None) -> Verdict:
    """``verify_store`` of the scans of every report file under ``root`` (in path order,
    as ``scan_store`` gives them, scanned with ``policy``)."""
    legacy = [s.rel for s in everything if s.version == 0]
    scanned = [s for s in everything if s.version != 0]
    chain = _Chain([s for s in scanned if s.version in VERSIONS])
    head = _read_head(root)
    problems = _file_problems(scanned) + _head_problems(root, head, chain) + _link_problems(chain)
    anchored, anchors = _anchor_problems(root, policy, chain)
    problems += anchored
    if not problems:
        on_chain = {id(m) for m in chain.members}
        problems = [
            Problem(s.rel, "inserted", "not on the chain that ends at .head")
            for s in chain.scanned
            if id(s) not in on_chain
        ]
    if not problems:
        pending = bool(head and head.get("pending"))
        problems = index_problems(root, chain.members, pending=pending)
    order = {s.rel: n for n, s in enumerate(everything)}
    problems = sorted(
        dict.fromkeys(problems), key=lambda p: (order.get(p.path, len(order)), _RANK.get(p.kind, 0))
    )
    tip = chain.members[-1].recorded if chain.members else None
    signed = sum(1 for s in scanned if s.signed)
    return Verdict(len(scanned), len(chain.members), tip, problems, legacy, signed, anchors)


def chain_order(root: Path, jobs: int | None = None) -> list[Scanned]:
    """Readable v1 reports, chain members first (oldest first), then the rest by path."""
    scanned = [s for s in scan_store(root, jobs) if s.version in VERSIONS and s.entry is not None]
    chain = _Chain(scanned)
    head = _read_head(root)
    if head is not None:
        chain.walk(_tip(root, head, chain)[0])
    members = {id(m) for m in chain.members}
    return chain.members + [s for s in scanned if id(s) not in members]


def index_lines(ordered: Iterable[Scanned]) -> list[dict[str, Any]]:
    """The index ``report reindex`` writes for reports in chain order: one JSON object
    per report, each with the running ``tmax``."""
    return [e.to_json() for e in chained(s.entry for s in ordered if s.entry is not None)]


def index_problems(root: Path, members: list[Scanned], *, pending: bool) -> list[Problem]:
    """How ``index.jsonl`` differs from the index of the chain ``members``.

    With a write pending (a writer killed mid-write), the index may lack the last report's
    line, and its last line may be cut short.
    """
    try:
        raw = fsutil.read_file(root / INDEX_FILE, root=root)
    except FileNotFoundError:
        return []
    except EvidenceError as exc:
        return [Problem(INDEX_FILE, "index", f"{exc}; {REINDEX_HINT}")]
    lines = raw.split(b"\n")
    torn = lines.pop() != b""  # the file ends without a newline: its last line is cut
    expected = index_lines(members)
    found = _IndexCheck(expected).run(lines)
    if pending and expected and found == [f"report {expected[-1]['id']} has no line"]:
        found = []
    if torn and not pending:
        found.insert(0, f"line {len(lines) + 1} is cut short")
    if len(found) > MAX_INDEX_PROBLEMS:
        more = len(found) - MAX_INDEX_PROBLEMS
        found = [*found[:MAX_INDEX_PROBLEMS], f"and {more} more differences"]
    return [Problem(INDEX_FILE, "index", f"{what}; {REINDEX_HINT}") for what in found]


@dataclass
class _IndexCheck:
    """Compares index lines with the expected entries, line by line."""

    expected: list[dict[str, Any]]
    found: list[str] = field(default_factory=list)

    def run(self, lines: list[bytes]) -> list[str]:
        """What differs, one sentence each (empty when the index is right)."""
        want = {str(e.get("id")): (n, e) for n, e in enumerate(self.expected)}
        seen: dict[str, int] = {}
        order: list[tuple[int, int, str]] = []
        for number, line in enumerate(lines, 1):
            entry = _json_object(line)
            report = str((entry or {}).get("id"))
            if entry is None:
                self.found.append(f"line {number} is not an index entry")
            elif report not in want:
                self.found.append(f"line {number} names report {report}, which is not in the store")
            elif report in seen:
                self.found.append(f"line {number} repeats report {report} (line {seen[report]})")
            else:
                seen[report] = number
                position, expected = want[report]
                self._compare(number, report, entry, expected)
                order.append((number, position, report))
        self._order(order)
        self.found += [
            f"report {e['id']} has no line" for e in self.expected if str(e.get("id")) not in seen
        ]
        return self.found

    def _compare(
        self, number: int, report: str, entry: Mapping[str, Any], expected: Mapping[str, Any]
    ) -> None:
        keys = sorted(k for k in {*entry, *expected} if entry.get(k) != expected.get(k))
        if keys:
            self.found.append(
                f"line {number} (report {report}): {', '.join(keys)} differ from the report"
            )

    def _order(self, order: list[tuple[int, int, str]]) -> None:
        positions = [position for _, position, _ in order]
        for (number, position, report), previous in zip(order[1:], positions, strict=False):
            if position < previous:
                self.found.append(f"line {number} (report {report}) is out of chain order")
                return


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

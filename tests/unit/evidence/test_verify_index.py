"""``verify`` checks ``index.jsonl`` (what ``report list``, ``due`` and KPIs read) against
the reports: every report once, same digest, path and fields, in chain order, nothing
else; a mismatch is a failure with the hint to reindex. Verifying writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from butler_maint.evidence import EvidenceStore, verify_store
from butler_maint.evidence.index import INDEX_FILE
from tests.fixtures.evidence.factory import draft, window_draft
from tests.fixtures.evidence.snapshot import snapshot

Lines = list[bytes]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    store = EvidenceStore(tmp_path / "ev")
    store.write(draft(0))
    store.write(window_draft(1))
    store.write(draft(2, dry_run=True))
    store.write(draft(3, hosts=1, checks=1))
    return tmp_path / "ev"


def _edit_line(number: int, **values: object) -> Callable[[Lines], Lines]:
    def edit(lines: Lines) -> Lines:
        entry = json.loads(lines[number])
        entry.update(values)
        lines[number] = json.dumps(entry, separators=(",", ":")).encode()
        return lines

    return edit


def _ghost(lines: Lines) -> Lines:
    entry = json.loads(lines[1])
    entry.update(id="20261129T230000Z-ghost", path="2026/11/29/20261129T230000Z-ghost.yaml")
    return [*lines, json.dumps(entry).encode()]


TAMPERED: dict[str, tuple[Callable[[Lines], Lines], str]] = {
    "line-removed": (lambda ls: ls[:1] + ls[2:], "has no line"),
    "last-line-removed": (lambda ls: ls[:-1], "has no line"),
    "result-changed": (_edit_line(0, result="pass"), "result differ"),
    "digest-changed": (_edit_line(2, digest="sha256:" + "0" * 64), "digest differ"),
    "path-changed": (_edit_line(1, path="2026/11/29/other.yaml"), "path differ"),
    "summary-changed": (_edit_line(3, summary={"total": 0}), "summary differ"),
    "non-existent-report": (_ghost, "which is not in the store"),
    "line-repeated": (lambda ls: [*ls, ls[0]], "repeats report"),
    "lines-swapped": (lambda ls: [ls[1], ls[0], *ls[2:]], "out of chain order"),
    "garbage-line": (lambda ls: [*ls[:2], b"{oops", *ls[2:]], "not an index entry"),
    "emptied": (lambda ls: [], "has no line"),
}


def _rewrite(root: Path, edit: Callable[[Lines], Lines]) -> None:
    index = root / INDEX_FILE
    lines = edit(index.read_bytes().splitlines())
    index.write_bytes(b"".join(line + b"\n" for line in lines))


def test_intact_index_verifies(root: Path) -> None:
    verdict = verify_store(root)
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize("name", list(TAMPERED))
def test_tampered_index_fails_with_the_hint_to_reindex(root: Path, name: str) -> None:
    edit, what = TAMPERED[name]
    _rewrite(root, edit)
    before = snapshot(root)
    verdict = verify_store(root)
    assert snapshot(root) == before  # verify wrote nothing
    assert not verdict.ok
    assert all(p.path == INDEX_FILE and p.kind == "index" for p in verdict.problems)
    assert any(what in p.detail for p in verdict.problems), verdict.problems
    assert all("butler-maint report reindex" in p.detail for p in verdict.problems)
    assert verdict.chained == 4  # the reports themselves are fine
    EvidenceStore(root).reindex()
    assert verify_store(root).ok


def test_index_cut_short_fails(root: Path) -> None:
    index = root / INDEX_FILE
    index.write_bytes(index.read_bytes()[:-20])
    problems = verify_store(root).problems
    assert problems[0].detail.split(";")[0] == "line 4 is cut short"


def test_missing_index_is_no_failure(root: Path) -> None:
    """A clone of a git store has no index (it is git-ignored); readers read the reports."""
    (root / INDEX_FILE).unlink()
    assert verify_store(root).ok


def test_broken_reports_are_named_before_the_index(root: Path) -> None:
    report = next(root.glob("2026/11/29/*.yaml"))
    report.write_bytes(report.read_bytes().replace(b"web00", b"web99"))
    _rewrite(root, lambda ls: ls[:1])
    problems = verify_store(root).problems
    assert problems and all(p.kind != "index" for p in problems)


def test_a_killed_writer_leaves_an_index_that_verifies(root: Path) -> None:
    """Killed after the report is on disk, before the index line: the write is pending."""
    head = json.loads((root / ".head").read_bytes())
    index = root / INDEX_FILE
    index_before = index.read_bytes()
    written = EvidenceStore(root).write(draft(4))
    head["pending"] = str(written.path.relative_to(root))
    (root / ".head").write_text(json.dumps(head))
    index.write_bytes(index_before)
    assert verify_store(root).ok
    index.write_bytes(index_before + b'{"id":"2026')  # and a torn append
    assert verify_store(root).ok


def test_many_differences_are_capped(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "ev")
    for n in range(30):
        store.write(draft(n, hosts=1, checks=1))
    (tmp_path / "ev" / INDEX_FILE).write_bytes(b"")
    problems = verify_store(tmp_path / "ev").problems
    assert len(problems) == 21 and "and 10 more differences" in problems[-1].detail


def test_the_next_write_mends_an_index_cut_short(root: Path) -> None:
    index = root / INDEX_FILE
    index.write_bytes(index.read_bytes() + b'{"id":"2026')  # a full disk mid-append
    EvidenceStore(root).write(draft(5))
    assert verify_store(root).ok

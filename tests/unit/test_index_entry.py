"""The typed index entry: old index lines read into typed fields, lines are written
byte for byte as before, and a missing or stale index reads as ``reindex`` would write it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from butler_maint.evidence import EvidenceStore, Kind, Overall, Status, Trigger
from butler_maint.evidence.index import (
    IndexEntry,
    chained,
    entry_from_document,
    entry_line,
    last_entry,
    read_entries,
    store_entries,
)
from butler_maint.evidence.yamlio import Reader
from tests.fixtures.evidence.factory import T0, draft, window_draft

OLD_LINE = (
    '{"id":"20261129T010002Z-weekly-patching","path":"2026/11/29/20261129T010002Z-weekly-'
    'patching.yaml","kind":"window","name":"weekly-patching","trigger":"cron","schedule":'
    '"weekly-patching","occurrence":"2026-11-29T01:00:00.000Z","started":"2026-11-29T01:00:'
    '02.000Z","finished":"2026-11-29T01:03:02.000Z","tmax":"2026-11-29T01:03:02.000Z","result"'
    ':"fail","dry_run":false,"summary":{"total":14,"pass":12,"fail":2,"error":0,"unreachable"'
    ':0,"skipped":0,"pending":0,"not_run":0,"waived":0},"hosts":["web00","web01"],"digest":'
    '"sha256:e046ee12ab7409fa0b175b9cd20491059c00d702401864a3f0dd0b045f70ca1d"}'
)
"""A line as the index has always been written."""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _store(tmp_path: Path) -> EvidenceStore:
    store = EvidenceStore(tmp_path / "evidence")
    store.write(draft(0))
    scheduled = Trigger(by="cron", schedule="weekly-patching", occurrence=T0)
    store.write(window_draft(2).model_copy(update={"trigger": scheduled}))
    store.write(draft(1, hosts=1, checks=1, dry_run=True))
    return store


def test_an_old_line_reads_into_typed_fields_and_writes_back_unchanged() -> None:
    entry = IndexEntry.from_json(json.loads(OLD_LINE))
    assert (entry.kind, entry.result, entry.trigger) == (Kind.WINDOW, Overall.FAIL, "cron")
    assert entry.started == utc(2026, 11, 29, 1, 0, 2)
    assert entry.occurrence == utc(2026, 11, 29, 1)
    assert entry.finished == utc(2026, 11, 29, 1, 3, 2)
    assert entry.summary.count(Status.FAIL) == 2 and entry.summary.total == 14
    assert entry.hosts == ("web00", "web01") and entry.schedule == "weekly-patching"
    assert entry_line(entry) == OLD_LINE


def test_lines_the_store_writes_read_back_to_the_same_bytes(tmp_path: Path) -> None:
    store = _store(tmp_path)
    lines = store.index_path.read_text("utf-8").splitlines()
    entries = list(read_entries(store.index_path))
    assert [entry_line(e) for e in entries] == lines
    assert [e.dry_run for e in entries] == [False, False, True]
    assert entries[1].occurrence == T0 and entries[1].kind is Kind.WINDOW
    assert last_entry(store.index_path) == entries[-1]


def test_entry_from_document_is_the_entry_the_index_holds(tmp_path: Path) -> None:
    store = _store(tmp_path)
    entries = list(read_entries(store.index_path))
    tmax: str | None = None
    for entry in entries:
        doc = Reader().load((store.root / entry.path).read_bytes())
        assert entry_from_document(doc, entry.path, tmax) == entry
        tmax = entry.tmax


def test_unknown_values_and_missing_keys_read_as_empty() -> None:
    entry = IndexEntry.from_json({"id": "x", "kind": "robot", "result": 3, "started": "soon"})
    assert (entry.kind, entry.result, entry.started, entry.finished) == (None, None, None, None)
    assert (entry.path, entry.hosts, entry.summary.total, entry.dry_run) == ("", (), 0, False)


def test_chained_gives_the_running_tmax() -> None:
    def at(hour: int, minutes: int) -> IndexEntry:
        started = utc(2026, 3, 1, hour)
        return IndexEntry.from_json(
            {"started": started.isoformat(), "finished": (started + timedelta(minutes=minutes))
             .isoformat()}
        )  # fmt: skip

    # the second report finished before the first: tmax never decreases
    assert [e.tmax for e in chained([at(1, 90), at(2, 5), at(3, 0)])] == [
        "2026-03-01T02:30:00.000Z",
        "2026-03-01T02:30:00.000Z",
        "2026-03-01T03:00:00.000Z",
    ]


def test_a_missing_or_stale_index_reads_as_reindex_writes_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    written = store.index_path.read_bytes()
    expected = [entry_line(e) for e in read_entries(store.index_path)]
    store.index_path.write_bytes(b"".join(written.splitlines(keepends=True)[:-1]))  # stale
    assert [entry_line(e) for e in store_entries(store)] == expected
    since = T0 + timedelta(minutes=2)
    assert [e.id for e in store_entries(store, since)] == [e.id for e in store_entries(store)][1:]
    store.index_path.unlink()  # missing
    assert [entry_line(e) for e in store_entries(store)] == expected
    assert not store.index_path.exists()
    store.reindex()
    assert store.index_path.read_bytes() == written

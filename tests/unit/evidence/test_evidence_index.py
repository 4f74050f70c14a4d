"""The index: bisection for --since agrees with a full scan; relative times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from butler_maint.evidence.index import (
    Filter,
    IndexEntry,
    entry_line,
    parse_time,
    parse_when,
    read_entries,
    select,
)
from butler_maint.evidence.model import Kind, Overall, iso_z
from butler_maint.evidence.store import EvidenceStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _index(path: Path, n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    entries, tmax = [], ""
    for i in range(n):
        started = NOW - timedelta(hours=n - i + rng.randint(-5, 5))
        finished = started + timedelta(minutes=rng.randint(0, 600))
        tmax = max(tmax, iso_z(finished))
        entries.append(
            {"id": f"r{i}", "started": iso_z(started), "finished": iso_z(finished), "tmax": tmax}
        )
    path.write_text("".join(entry_line(e) + "\n" for e in entries))
    return entries


@pytest.mark.parametrize("seed", range(5))
def test_since_bisection_matches_a_full_scan(tmp_path: Path, seed: int) -> None:
    entries = _index(tmp_path / "index.jsonl", 300, seed)
    for hours in (0, 1, 7, 50, 150, 299, 400):
        since = iso_z(NOW - timedelta(hours=hours))
        expected = [e["id"] for e in entries if str(e["started"]) >= since]
        got = [e.id for e in select(EvidenceStore(tmp_path), Filter(since=parse_time(since)))]
        assert got == expected


def test_partial_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "index.jsonl"
    _index(path, 3, 0)
    with path.open("a") as handle:
        handle.write('{"id": "cut')
    assert [e.id for e in read_entries(path)] == ["r0", "r1", "r2"]


def test_filters(tmp_path: Path) -> None:
    entry = IndexEntry.from_json(
        {"kind": "window", "result": "fail", "hosts": ["a", "b"], "started": "x", "name": "w"}
    )
    assert Filter(kind=Kind.WINDOW, result=Overall.FAIL, host="b", name="w").matches(entry)
    assert not Filter(host="c").matches(entry)
    assert not Filter(kind=Kind.CHECKLIST).matches(entry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T05:00", datetime(2026, 11, 1, 5, tzinfo=UTC)),
        ("2026-11-01T05:00:00+01:00", datetime(2026, 11, 1, 4, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_parse_when_end_of_day_and_errors() -> None:
    assert parse_when("2026-11-01", NOW, end_of_day=True).hour == 23
    with pytest.raises(ValueError, match="expected"):
        parse_when("yesterday", NOW)

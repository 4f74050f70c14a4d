"""The index, ``index.jsonl``: one JSON line per report, appended in chain order.

``report list``, ``due`` and KPIs read it instead of parsing the history; ``verify``
never trusts it; ``report reindex`` rebuilds it from the reports. Each line carries
``tmax``, the latest ``finished`` time of that report and every report before it: it
never decreases along the file, so the first report that may have started at or after
a time is found by bisecting the file (``--since`` costs O(log n), whatever the history).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

INDEX_FILE = "index.jsonl"


def entry_from_document(doc: dict[str, Any], rel_path: str, tmax: str | None) -> dict[str, Any]:
    """The index entry of a report document (a parsed v1 report)."""
    finished = str(doc.get("finished", ""))
    trigger = doc.get("trigger") or {}
    return {
        "id": doc.get("id"),
        "path": rel_path,
        "kind": doc.get("kind"),
        "name": doc.get("name"),
        "trigger": trigger.get("by"),
        "schedule": trigger.get("schedule"),
        "occurrence": trigger.get("occurrence"),
        "started": doc.get("started"),
        "finished": finished,
        "tmax": max(tmax or "", finished),
        "result": doc.get("result"),
        "dry_run": bool(doc.get("dry_run", False)),
        "summary": doc.get("summary") or {},
        "hosts": document_hosts(doc),
        "digest": doc.get("digest"),
    }


def document_hosts(doc: dict[str, Any]) -> list[str]:
    """Sorted names of every host a report document mentions in its steps."""
    hosts: set[str] = set()
    for step in doc.get("steps") or []:
        hosts.update(str(r.get("host")) for r in step.get("results") or [])
        hosts.update(str(h) for h in step.get("hosts") or {})
    return sorted(hosts)


def entry_line(entry: dict[str, Any]) -> str:
    """One index line (no newline)."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None  # a line cut short by a crash or a full disk: skipped
    return value if isinstance(value, dict) else None


def _line_at(handle: IO[bytes], offset: int) -> tuple[int, bytes]:
    """The first full line starting at or after ``offset``: (its start, its bytes)."""
    if offset == 0:
        handle.seek(0)
    else:
        handle.seek(offset - 1)
        handle.readline()
    return handle.tell(), handle.readline()


def _first_offset(handle: IO[bytes], size: int, since: str) -> int:
    """Offset of the first line whose ``tmax`` is at or after ``since`` (bisection)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        start, line = _line_at(handle, mid)
        if start >= hi or not line:
            hi = mid
            continue
        entry = _parse(line)
        if entry is None or str(entry.get("tmax", "")) < since:
            lo = start + len(line)
        else:
            hi = start
    return lo


def read_entries(path: Path, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Index entries in chain order; with ``since`` (ISO Z), only from where it may start."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, generator
    except FileNotFoundError:
        return
    with handle:
        offset = _first_offset(handle, os.fstat(handle.fileno()).st_size, since) if since else 0
        handle.seek(offset)
        for line in handle:
            entry = _parse(line)
            if entry is not None:
                yield entry


def last_entry(path: Path) -> dict[str, Any] | None:
    """The last complete entry of the index, reading only its tail."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            chunk = 1 << 16
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                lines = handle.read().splitlines()
                if start == 0 or len(lines) > 1:
                    break
                chunk *= 4
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        entry = _parse(line)
        if entry is not None:
            return entry
    return None


@dataclass(frozen=True)
class Filter:
    """Filters of ``report list``; times are ISO Z strings compared as text."""

    since: str | None = None
    until: str | None = None
    kind: str | None = None
    result: str | None = None
    host: str | None = None
    name: str | None = None

    def matches(self, entry: dict[str, Any]) -> bool:
        """True when ``entry`` passes every filter set."""
        started = str(entry.get("started", ""))
        return (
            (self.since is None or started >= self.since)
            and (self.until is None or started <= self.until)
            and (self.kind is None or entry.get("kind") == self.kind)
            and (self.result is None or entry.get("result") == self.result)
            and (self.name is None or entry.get("name") == self.name)
            and (self.host is None or self.host in (entry.get("hosts") or []))
        )


def select(path: Path, flt: Filter) -> list[dict[str, Any]]:
    """Index entries matching ``flt``, in chain order."""
    return [e for e in read_entries(path, since=flt.since) if flt.matches(e)]


_RELATIVE = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, now: datetime, *, end_of_day: bool = False) -> datetime:
    """``7d``/``12h``/``30m``/``2w`` before ``now``, a date (UTC; its end with
    ``end_of_day``), or an ISO date and time (UTC when no offset is given)."""
    text = text.strip()
    if len(text) > 1 and text[-1] in _RELATIVE and text[:-1].isdigit():
        return now - timedelta(seconds=int(text[:-1]) * _RELATIVE[text[-1]])
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            return day + timedelta(days=1, milliseconds=-1) if end_of_day else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r}: expected YYYY-MM-DD, an ISO date and time, or 7d/12h"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

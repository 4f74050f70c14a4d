"""The index, ``index.jsonl``: one JSON line per report, appended in chain order.

``report list``, ``due``, KPIs and the site read it instead of parsing the history;
``verify`` never trusts it; ``report reindex`` rebuilds it from the reports. Each line
is one ``IndexEntry`` (parsed once, typed; ``entry_from_document`` builds it from a
report). Each line carries ``tmax``, the latest ``finished`` time of that report and
every report before it: it never decreases along the file, so the first report that may
have started at or after a time is found by bisecting the file (``--since`` costs
O(log n), whatever the history).

Readers never write: ``store_entries`` reads the index when it is current (its last
entry is the chain head) and otherwise the reports themselves, in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from butler_maint.evidence.model import Kind, Overall, Summary, iso_z

if TYPE_CHECKING:
    from butler_maint.evidence.store import EvidenceStore

INDEX_FILE = "index.jsonl"

By = Literal["operator", "cron"]
"""Who started a run (``trigger.by`` of the report)."""
_KINDS = frozenset(k.value for k in Kind)
_RESULTS = frozenset(r.value for r in Overall)


def parse_time(value: object) -> datetime | None:
    """An index time (``2026-11-29T01:00:02.000Z``) as an aware UTC datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _kind(value: object) -> Kind | None:
    return Kind(value) if isinstance(value, str) and value in _KINDS else None


def _overall(value: object) -> Overall | None:
    return Overall(value) if isinstance(value, str) and value in _RESULTS else None


def _by(value: object) -> By | None:
    return "cron" if value == "cron" else "operator" if value == "operator" else None


def _summary(value: object) -> Summary:
    try:
        return Summary.model_validate(value) if isinstance(value, Mapping) else Summary()
    except ValidationError:
        return Summary()  # an edited report's counts; `report verify` names it


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else iso_z(value)


@dataclass(frozen=True)
class IndexEntry:
    """One index line: what readers need of a report without reading it (times in UTC).

    Unknown values of an edited report (a kind or result that is no ``Kind`` or
    ``Overall``, a time that does not parse) read as None; ``report verify`` names them.
    """

    id: str
    path: str
    kind: Kind | None
    name: str
    trigger: By | None
    """``trigger.by``: operator or cron."""
    schedule: str | None
    """``trigger.schedule``: the schedule the run names."""
    occurrence: datetime | None
    """``trigger.occurrence``: the occurrence the run records."""
    started: datetime | None
    finished: datetime | None
    tmax: str
    """The latest ``finished`` of this report and every one before it (ISO Z text,
    compared as text when the index is bisected)."""
    result: Overall | None
    dry_run: bool
    summary: Summary
    hosts: tuple[str, ...]
    """Every host the report's steps mention, sorted."""
    digest: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IndexEntry:
        """The entry of a parsed index line (missing keys read as empty)."""
        hosts = data.get("hosts")
        return cls(
            id=str(data.get("id") or ""),
            path=str(data.get("path") or ""),
            kind=_kind(data.get("kind")),
            name=str(data.get("name") or ""),
            trigger=_by(data.get("trigger")),
            schedule=_text(data.get("schedule")),
            occurrence=parse_time(data.get("occurrence")),
            started=parse_time(data.get("started")),
            finished=parse_time(data.get("finished")),
            tmax=str(data.get("tmax") or ""),
            result=_overall(data.get("result")),
            dry_run=bool(data.get("dry_run", False)),
            summary=_summary(data.get("summary")),
            hosts=tuple(str(h) for h in hosts) if isinstance(hosts, list) else (),
            digest=_text(data.get("digest")),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object of the index line (keys in the on-disk order)."""
        return {
            "id": self.id,
            "path": self.path,
            "kind": None if self.kind is None else self.kind.value,
            "name": self.name,
            "trigger": self.trigger,
            "schedule": self.schedule,
            "occurrence": _time_text(self.occurrence),
            "started": _time_text(self.started),
            "finished": _time_text(self.finished) or "",
            "tmax": self.tmax,
            "result": None if self.result is None else self.result.value,
            "dry_run": self.dry_run,
            "summary": self.summary.model_dump(by_alias=True),
            "hosts": list(self.hosts),
            "digest": self.digest,
        }

    def after(self, tmax: str | None) -> IndexEntry:
        """This entry following a report whose ``tmax`` is ``tmax`` (None: the first)."""
        return replace(self, tmax=max(tmax or "", _time_text(self.finished) or ""))

    # The mapping view below serves code that still handles entries as the JSON
    # mapping (the store's writer and the scanner); readers use the attributes.

    def __getitem__(self, key: str) -> Any:
        return self.to_json()[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value of ``key``, or ``default``."""
        return self.to_json().get(key, default)

    def keys(self) -> Iterable[str]:
        """The JSON keys."""
        return self.to_json().keys()


def entry_from_document(doc: dict[str, Any], rel_path: str, tmax: str | None) -> IndexEntry:
    """The index entry of a report document (a parsed v1 report)."""
    trigger = doc.get("trigger") or {}
    entry = IndexEntry.from_json(
        {
            "id": doc.get("id"),
            "path": rel_path,
            "kind": doc.get("kind"),
            "name": doc.get("name"),
            "trigger": trigger.get("by"),
            "schedule": trigger.get("schedule"),
            "occurrence": trigger.get("occurrence"),
            "started": doc.get("started"),
            "finished": doc.get("finished"),
            "result": doc.get("result"),
            "dry_run": doc.get("dry_run", False),
            "summary": doc.get("summary"),
            "hosts": document_hosts(doc),
            "digest": doc.get("digest"),
        }
    )
    return entry.after(tmax)


def document_hosts(doc: dict[str, Any]) -> list[str]:
    """Sorted names of every host a report document mentions in its steps."""
    hosts: set[str] = set()
    for step in doc.get("steps") or []:
        hosts.update(str(r.get("host")) for r in step.get("results") or [])
        hosts.update(str(h) for h in step.get("hosts") or {})
    return sorted(hosts)


def entry_line(entry: IndexEntry | Mapping[str, Any]) -> str:
    """One index line (no newline)."""
    data = entry.to_json() if isinstance(entry, IndexEntry) else dict(entry)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


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


def read_entries(path: Path, since: str | None = None) -> Iterator[IndexEntry]:
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
                yield IndexEntry.from_json(entry)


def last_entry(path: Path) -> IndexEntry | None:
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
            return IndexEntry.from_json(entry)
    return None


def chained(entries: Iterable[IndexEntry]) -> list[IndexEntry]:
    """``entries`` (in chain order) with the running ``tmax`` the index gives them."""
    found: list[IndexEntry] = []
    tmax: str | None = None
    for entry in entries:
        found.append(entry.after(tmax))
        tmax = found[-1].tmax
    return found


def _index_current(store: EvidenceStore) -> bool:
    """True when the index holds every report: its last entry is the chain head's
    report and no write is pending. A store without a readable head: its index as is."""
    from butler_maint.evidence.errors import EvidenceError

    try:
        head = store.head()
    except EvidenceError:
        return True  # `report verify` names the head; the index is all there is to read
    if head is None:
        return True
    last = last_entry(store.index_path)
    return not head.pending and (last.digest if last else None) == head.digest


def _report_entries(root: Path) -> list[IndexEntry]:
    """The entries ``report reindex`` would write, computed from the reports in memory."""
    from butler_maint.evidence.verify import chain_order  # verify reads this module

    scanned = [s.entry for s in chain_order(root) if s.entry is not None]
    return chained(e if isinstance(e, IndexEntry) else IndexEntry.from_json(e) for e in scanned)


def store_entries(store: EvidenceStore, since: datetime | None = None) -> list[IndexEntry]:
    """The store's entries in chain order, from the first that may have started at or
    after ``since``: from the index when it is current, else from the reports
    themselves (a missing or stale index is never rebuilt here: nothing is written)."""
    low = None if since is None else iso_z(since)
    if _index_current(store):
        return list(read_entries(store.index_path, since=low))
    return [e for e in _report_entries(store.root) if low is None or e.tmax >= low]


@dataclass(frozen=True)
class Filter:
    """Filters of ``report list``."""

    since: datetime | None = None
    until: datetime | None = None
    kind: Kind | None = None
    result: Overall | None = None
    host: str | None = None
    name: str | None = None

    def matches(self, entry: IndexEntry) -> bool:
        """True when ``entry`` passes every filter set."""
        started = entry.started
        return (
            (self.since is None or (started is not None and started >= self.since))
            and (self.until is None or (started is not None and started <= self.until))
            and (self.kind is None or entry.kind == self.kind)
            and (self.result is None or entry.result == self.result)
            and (self.name is None or entry.name == self.name)
            and (self.host is None or self.host in entry.hosts)
        )


def select(store: EvidenceStore, flt: Filter) -> list[IndexEntry]:
    """The store's entries matching ``flt``, in chain order."""
    return [e for e in store_entries(store, since=flt.since) if flt.matches(e)]


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

"""Observations kept per report, so that KPIs over a period read only the reports they
have not seen: the site renderer computes the KPIs of the last 90 days at every render,
and a new run should cost its own report, not the period's.

A report's observations are keyed on the sha256 of its file's bytes: an edited file
misses and is read (and fails) as without the cache. ``ObservationCache.observe`` is the
``observe`` hook of ``assemble.kpis``; ``to_json``/``from_json`` keep one report's
observations in a JSON object (values as the report holds them: bool, int, float, text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from butler_maint.evidence import fsutil
from butler_maint.evidence.errors import ReportNotFound
from butler_maint.evidence.index import IndexEntry
from butler_maint.evidence.migrate import load_report_bytes
from butler_maint.evidence.model import Status
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi.history import Observation, report_observations

FORMAT = 1
"""The layout of ``to_json``; another is a miss."""


def to_json(obs: Sequence[Observation]) -> dict[str, Any]:
    """One report's observations as a JSON object, a row each."""
    rows = [
        [
            o.at.isoformat(), o.report, o.host, o.check, o.status.value, o.observed,
            o.expected, o.message, o.step, o.schedule, o.title, o.severity, list(o.controls),
        ]
        for o in obs
    ]  # fmt: skip
    return {"format": FORMAT, "rows": rows}


def from_json(data: Mapping[str, Any]) -> list[Observation]:
    """The observations ``to_json`` wrote (raises ValueError, KeyError or TypeError when
    it is not such an object)."""
    if data.get("format") != FORMAT:
        raise ValueError("another format")
    times: dict[str, datetime] = {}  # a report's rows share one start time
    found = []
    for (
        at, report, host, check, status, observed, expected, message, step, schedule, title,
        severity, controls,
    ) in data["rows"]:  # fmt: skip
        when = times.get(at)
        if when is None:
            when = times[at] = datetime.fromisoformat(at)
        found.append(
            Observation(
                at=when,
                report=report,
                host=host,
                check=check,
                status=_STATUS[status],
                observed=observed,
                expected=expected,
                message=message,
                step=step,
                schedule=schedule,
                title=title,
                severity=severity,
                controls=tuple(controls),
            )
        )
    return found


_STATUS = {s.value: s for s in Status}


@dataclass
class ObservationCache:
    """Observations per report file hash: ``known`` gives those of an earlier pass
    (None when it has none); ``used`` holds the ones this pass used, ``added`` the hashes
    of those it read from the reports."""

    store: EvidenceStore
    known: Callable[[str], list[Observation] | None] = lambda _key: None
    used: dict[str, list[Observation]] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)

    def observe(self, entry: IndexEntry) -> list[Observation]:
        """The observations of ``entry``'s report, read only when its bytes are new."""
        path = self.store.path_of(entry.id)
        try:
            data = fsutil.read_file(path, root=self.store.root)
        except FileNotFoundError:
            raise ReportNotFound(f"no report {entry.id} in {self.store.root}") from None
        key = hashlib.sha256(data).hexdigest()
        found = self.used.get(key)
        if found is None:
            found = self.known(key)
        if found is None:
            found = report_observations(load_report_bytes(data, str(path)))
            self.added.add(key)
        self.used[key] = found
        return found

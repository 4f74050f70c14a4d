"""Maintenance done on time, late or missed, per schedule: the SLA figure.

Each occurrence of a schedule in ``[start, now)`` is

- ``on_time``: a run covering it (``covered_occurrence``) started inside its window;
- ``late``: covered, but the first covering run started at or after the window's end;
- ``missed``: never covered and the window is over;
- ``frozen``: a freeze stops it (never missed; left out of the rate);
- ``open``: not covered yet and the window is still open (left out of the rate).

Only index entries are read; dry runs never cover anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from butler_maint.evidence.index import IndexEntry
from butler_maint.evidence.model import Overall
from butler_maint.model.schedule import Schedule
from butler_maint.schedule.due import DueStatus, covered_occurrence, status
from butler_maint.schedule.freezes import AnyFreeze, frozen_by
from butler_maint.schedule.occurrences import Occurrence, occurrences

Outcome = Literal["on_time", "late", "missed", "frozen", "open"]
OUTCOMES: tuple[Outcome, ...] = ("on_time", "late", "missed", "frozen", "open")


@dataclass(frozen=True)
class OccurrenceOutcome:
    """What became of one occurrence."""

    schedule: str
    at: datetime
    end: datetime
    outcome: Outcome
    run: str | None
    """Id of the first run covering it."""
    result: Overall | None
    """That run's result."""


@dataclass(frozen=True)
class Sla:
    """Occurrence outcomes of one schedule in the period, and its on-time rate."""

    schedule: str
    owner: str | None
    on_time: int
    late: int
    missed: int
    frozen: int
    open: int

    @property
    def due(self) -> int:
        """Occurrences that count: on time + late + missed."""
        return self.on_time + self.late + self.missed

    @property
    def on_time_rate(self) -> float | None:
        """on_time / due, or None when nothing was due."""
        return self.on_time / self.due if self.due else None


def _first_cover(schedule: Schedule, entries: Sequence[IndexEntry]) -> dict[datetime, IndexEntry]:
    """The earliest-started run covering each occurrence."""
    first: dict[datetime, IndexEntry] = {}
    for entry in entries:
        at = covered_occurrence(schedule, entry)
        started = entry.started
        if at is None or started is None:
            continue
        known = first[at].started if at in first else None
        if known is None or started < known:
            first[at] = entry
    return first


def _outcome(
    occ: Occurrence, run: IndexEntry | None, freezes: Sequence[AnyFreeze], now: datetime
) -> Outcome:
    if run is not None:
        started = run.started
        return "on_time" if started is not None and started < occ.end else "late"
    if frozen_by(freezes, occ) is not None:
        return "frozen"
    return "missed" if occ.end <= now else "open"


def outcomes(
    schedule: Schedule,
    entries: Sequence[IndexEntry],
    start: datetime,
    now: datetime,
    freezes: Sequence[AnyFreeze] = (),
) -> list[OccurrenceOutcome]:
    """The outcome of every occurrence of ``schedule`` with ``start <= at < now``, given
    index entries (runs started at or after ``start`` are enough; later runs up to ``now``
    may cover an occurrence late)."""
    runs = [e for e in entries if e.started is not None and e.started <= now]
    first = _first_cover(schedule, runs)
    found: list[OccurrenceOutcome] = []
    for occ in occurrences(schedule, start, now):
        run = first.get(occ.at)
        found.append(
            OccurrenceOutcome(
                schedule=schedule.name,
                at=occ.at,
                end=occ.end,
                outcome=_outcome(occ, run, freezes, now),
                run=run.id if run is not None else None,
                result=run.result if run is not None else None,
            )
        )
    return found


def summarize_sla(
    schedule: Schedule, found: Sequence[OccurrenceOutcome], owner: str | None = None
) -> Sla:
    """Counts of ``found`` (outcomes of ``schedule``)."""
    count = {name: sum(o.outcome == name for o in found) for name in OUTCOMES}
    return Sla(
        schedule=schedule.name,
        owner=owner if owner is not None else schedule.owner,
        on_time=count["on_time"],
        late=count["late"],
        missed=count["missed"],
        frozen=count["frozen"],
        open=count["open"],
    )


def sla(
    schedule: Schedule,
    entries: Sequence[IndexEntry],
    start: datetime,
    now: datetime,
    freezes: Sequence[AnyFreeze] = (),
) -> Sla:
    """On time / late / missed counts of ``schedule``'s occurrences in ``[start, now)``."""
    return summarize_sla(schedule, outcomes(schedule, entries, start, now, freezes))


def overdue(
    schedules: Sequence[tuple[Schedule, Sequence[AnyFreeze]]],
    entries: Sequence[IndexEntry],
    now: datetime,
) -> list[DueStatus]:
    """Schedules that are ``overdue`` or ``missed`` at ``now`` (see ``schedule.due``);
    ``entries`` should reach back as far as ``due`` looks (``recent_runs``)."""
    found = [status(s, entries, now, freezes=f) for s, f in schedules]
    return [st for st in found if st.state in ("overdue", "missed")]

"""Whether a schedule is due at a given instant, from its occurrences, freezes and runs.

Pure: ``status`` takes the schedule, its freeze periods, evidence index entries and
``now``. Runs are ``IndexEntry`` values (``butler_maint.evidence.index``); dry runs
never count.

**A run covers an occurrence** when

- it names the schedule (``trigger.schedule``) and records the occurrence
  (``trigger.occurrence``): that occurrence;
- it names the schedule, was started by ``cron`` and records no occurrence: the latest
  occurrence at or before its start (a catch-up covers the latest missed occurrence);
- it was started by an operator, naming the schedule or running the same thing without
  naming any schedule (a routine's checklist, a window of that name): the occurrence
  whose window ``[at, at + duration)`` contains its start. An operator run outside
  every window covers nothing.

A failed or interrupted run still covers its occurrence; its result is reported.

**Which runs ``status`` sees at ``now``:** the runs started at or before ``now``, and the
cron runs that record an occurrence at or before ``now`` whenever they started. A replay
(``run-due --at`` a past time) starts after the time it acts at; counting it from its
occurrence is what lets the next replay of that time find it done.

**States**, with ``current`` the latest occurrence at or before ``now``:

- ``due``: ``current``'s window is open and no run covers it; run now, no new batch
  after ``run_until`` (the window's end).
- ``overdue``: a window closed with nobody running it and ``missed: run-once``; one
  catch-up run is due, recorded for the latest missed occurrence, until ``now +
  duration``; ``missed_since`` is the first missed occurrence.
- ``missed``: the same with ``missed: skip``: recorded, nothing due.
- ``frozen``: something is due but a freeze stops it (``frozen``; ``--override``).
- ``never-run``: no run covers any occurrence (within the look-back), and no window is
  open. Since when the schedule exists is unknown, so nothing counts as missed; a
  routine with ``missed: run-once`` is still due once (a health check is harmless), a
  window is not (it waits for its next slot).
- ``ok``: nothing to do.
- ``awaiting-approval``: a window that ``requires_approval`` is due (or overdue) but
  nobody approved the occurrence; set by ``awaiting_approval`` from the approved
  occurrences the caller read (approvals live in the evidence store, not here).

Frozen occurrences are never missed. ``next`` is the first occurrence after ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from butler_maint.evidence.index import IndexEntry
from butler_maint.evidence.model import Kind, Overall
from butler_maint.model.schedule import Schedule
from butler_maint.schedule.freezes import AnyFreeze, FreezePeriod, frozen_by, frozen_during
from butler_maint.schedule.occurrences import (
    Occurrence,
    next_occurrence,
    occurrences,
    previous_occurrence,
)

State = Literal["due", "overdue", "missed", "frozen", "ok", "never-run", "awaiting-approval"]

DEFAULT_LOOKBACK = timedelta(days=400)
"""How far back runs and missed occurrences are looked for."""


@dataclass(frozen=True)
class LastRun:
    """The latest run of a schedule, from the index."""

    id: str
    result: Overall | None
    started: datetime
    by: str
    covers: datetime | None
    """The occurrence it covers, if any."""


@dataclass(frozen=True)
class DueStatus:
    """Where a schedule stands at ``now``."""

    schedule: str
    kind: Literal["routine", "window"]
    state: State
    due: Occurrence | None
    """The occurrence a run now is for (its ``trigger.occurrence``), frozen or not."""
    catch_up: bool
    """``due`` is a missed occurrence run late (``missed: run-once``)."""
    run_until: datetime | None
    """No new batch starts at or after this instant."""
    missed_since: datetime | None
    frozen: FreezePeriod | None
    """The freeze stopping the due run."""
    next: Occurrence | None
    next_frozen: FreezePeriod | None
    last_run: LastRun | None
    covered: datetime | None
    """The latest occurrence a run covers."""

    @property
    def runnable(self) -> bool:
        """True when a run is due now and no freeze (nor a missing approval) stops it."""
        return self.due is not None and self.frozen is None and self.state != "awaiting-approval"


def runs_same_thing(schedule: Schedule, entry: IndexEntry) -> bool:
    """True when ``entry`` ran what ``schedule`` runs (its checklist, or its window)."""
    if schedule.routine is not None:
        return entry.kind is Kind.CHECKLIST and entry.name == schedule.checklist
    return entry.kind is Kind.WINDOW and entry.name == schedule.window


def belongs(schedule: Schedule, entry: IndexEntry) -> bool:
    """True when ``entry`` is a (non-dry) run of ``schedule``."""
    if entry.dry_run:
        return False
    if entry.schedule is not None:
        return entry.schedule == schedule.name
    return entry.trigger != "cron" and runs_same_thing(schedule, entry)


def covered_occurrence(schedule: Schedule, entry: IndexEntry) -> datetime | None:
    """The occurrence (UTC) that run ``entry`` covers, if any (see the module doc)."""
    started = entry.started
    if started is None or not belongs(schedule, entry):
        return None
    if entry.schedule == schedule.name and entry.occurrence is not None:
        return entry.occurrence
    occurrence = previous_occurrence(schedule, started)
    if occurrence is None:
        return None
    if entry.trigger == "cron" or started < occurrence.end:
        return occurrence.at
    return None


def _last_run(schedule: Schedule, entry: IndexEntry) -> LastRun:
    return LastRun(
        id=entry.id,
        result=entry.result,
        started=entry.started or datetime.min.replace(tzinfo=UTC),
        by=entry.trigger or "operator",
        covers=covered_occurrence(schedule, entry),
    )


def latest_covered(schedule: Schedule, runs: Sequence[IndexEntry]) -> datetime | None:
    """The latest occurrence any of ``runs`` (chain order) covers."""
    latest: datetime | None = None
    for entry in reversed(runs):
        started = entry.started
        if latest is not None and started is not None and started < latest:
            break  # an earlier start cannot cover a later occurrence
        covered = covered_occurrence(schedule, entry)
        if covered is not None and (latest is None or covered > latest):
            latest = covered
    return latest


@dataclass(frozen=True)
class _Facts:
    """What ``status`` decides from."""

    schedule: Schedule
    freezes: Sequence[AnyFreeze]
    now: datetime
    lookback: timedelta
    current: Occurrence | None
    covered: datetime | None


@dataclass(frozen=True)
class _Decision:
    """What ``_decide`` concluded (the parts of ``DueStatus`` that depend on the state)."""

    state: State
    due: Occurrence | None = None
    catch_up: bool = False
    run_until: datetime | None = None
    missed_since: datetime | None = None
    frozen: FreezePeriod | None = None


def _missed(facts: _Facts, low: datetime, high: datetime, *, last: bool) -> Occurrence | None:
    """The first (or ``last``) unfrozen occurrence in ``[low, high]`` whose window is over."""
    span = timedelta(days=1)
    while True:
        lo, hi = (max(low, high - span), high) if last else (low, min(high, low + span))
        found = [
            o
            for o in occurrences(facts.schedule, lo, hi + timedelta(microseconds=1))
            if o.end <= facts.now and frozen_by(facts.freezes, o) is None
        ]
        if found:
            return found[-1] if last else found[0]
        if (lo <= low) if last else (hi >= high):
            return None
        span *= 4


def _decide(facts: _Facts) -> _Decision:
    current, now, schedule = facts.current, facts.now, facts.schedule
    nothing = _Decision("ok" if facts.covered else "never-run")
    if current is None or (facts.covered is not None and facts.covered >= current.at):
        return nothing
    if now < current.end:
        frozen = frozen_by(facts.freezes, current)
        return _Decision("frozen" if frozen else "due", current, False, current.end, None, frozen)
    low = now - facts.lookback
    if facts.covered is not None:
        low = max(low, facts.covered + timedelta(microseconds=1))
    latest = _missed(facts, low, current.at, last=True)
    if latest is None:
        return nothing
    if facts.covered is None and (schedule.window is not None or schedule.missed == "skip"):
        return nothing
    first = _missed(facts, low, current.at, last=False) if facts.covered is not None else None
    since = first.at if first is not None else None
    if schedule.missed == "skip":
        return _Decision("missed", missed_since=since)
    frozen = frozen_during(facts.freezes, now, now + schedule.length)
    state: State = "frozen" if frozen else ("overdue" if facts.covered is not None else "never-run")
    return _Decision(state, latest, True, now + schedule.length, since, frozen)


def _seen(entry: IndexEntry, now: datetime) -> bool:
    """True when run ``entry`` is part of the history at ``now`` (see the module doc)."""
    if entry.started is None:
        return False
    if entry.started <= now:
        return True
    return entry.trigger == "cron" and entry.occurrence is not None and entry.occurrence <= now


def status(
    schedule: Schedule,
    history: Sequence[IndexEntry],
    now: datetime,
    *,
    freezes: Sequence[AnyFreeze] = (),
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> DueStatus:
    """Where ``schedule`` stands at ``now`` (aware), given index entries in chain order."""
    now = now.astimezone(UTC)
    runs = [e for e in history if belongs(schedule, e) and _seen(e, now)]
    current = previous_occurrence(schedule, now, horizon=lookback)
    facts = _Facts(schedule, freezes, now, lookback, current, latest_covered(schedule, runs))
    decided = _decide(facts)
    upcoming = next_occurrence(schedule, now)
    return DueStatus(
        schedule=schedule.name,
        kind="routine" if schedule.routine is not None else "window",
        state=decided.state,
        due=decided.due,
        catch_up=decided.catch_up,
        run_until=decided.run_until,
        missed_since=decided.missed_since,
        frozen=decided.frozen,
        next=upcoming,
        next_frozen=frozen_by(freezes, upcoming) if upcoming else None,
        last_run=_last_run(schedule, runs[-1]) if runs else None,
        covered=facts.covered,
    )


def awaiting_approval(
    st: DueStatus, schedule: Schedule, approved: AbstractSet[datetime]
) -> DueStatus:
    """``st``, or ``awaiting-approval`` when ``schedule`` is a window that requires
    approval and the occurrence due (not frozen) is not among the ``approved`` ones."""
    if schedule.window is None or not schedule.requires_approval:
        return st
    if st.due is None or st.frozen is not None or st.due.at in approved:
        return st
    return replace(st, state="awaiting-approval")

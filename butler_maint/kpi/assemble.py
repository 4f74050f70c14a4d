"""The KPI figures of a period, assembled in one place: ``butler-maint kpi`` prints them
and the site's KPI page shows them.

``kpis`` reads the store once (the index entries from the earlier of the period's start
and the look-back ``due`` uses, or the reports in memory when the index is missing or
stale) and the period's reports; it writes nothing and never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from butler_maint.errors import ContentError
from butler_maint.evidence.index import IndexEntry, store_entries
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi.controls import ControlCoverage, control_coverage
from butler_maint.kpi.flapping import Flap, flapping
from butler_maint.kpi.forecast import Forecast, Shortfall, assessments, forecasts, shortfalls
from butler_maint.kpi.history import Observation, pending_items, report_observations
from butler_maint.kpi.metrics import LastRun, last_runs
from butler_maint.kpi.mttr import (
    Availability,
    Incident,
    Remediation,
    availability,
    mean_time_to_remediate,
    open_incidents,
    remediations,
)
from butler_maint.kpi.rates import GroupBy, PassRate, pass_rate, pass_rates
from butler_maint.kpi.sla import Sla, outcomes, overdue, summarize_sla
from butler_maint.model.content import content_files, load_checklist
from butler_maint.schedule.calendar import Scheduled
from butler_maint.schedule.due import DEFAULT_LOOKBACK, DueStatus

DEFAULT_PERIOD = timedelta(days=90)
"""The period when none is given (``kpi --since 90d``, the site's KPI page)."""


@dataclass(frozen=True)
class KpiView:
    """Every KPI of the period ``[since, now]``."""

    since: datetime
    now: datetime
    entries: list[IndexEntry]
    """Index entries of the runs started in the period (dry runs included)."""
    reports: int
    """Reports read for the check-level figures (the period's runs but dry runs)."""
    obs: list[Observation]
    """Their results, by time."""
    owners: Mapping[str, str]
    pass_rate: PassRate
    slas: list[Sla]
    overdue: list[DueStatus]
    remediations: list[Remediation]
    open_incidents: list[Incident]
    """Host+checks failing now (``history.failing_now``), as the metrics file counts them."""
    availability: Availability
    flapping: list[Flap]
    pending: list[Observation]
    forecasts: list[Forecast]
    shortfalls: list[Shortfall]
    """Values heading toward a limit on too little history to forecast."""
    last_runs: list[LastRun]
    """The latest run of each schedule (within ``due``'s look-back)."""

    @property
    def mttr(self) -> timedelta | None:
        """Mean time to remediate, or None when nothing was remediated."""
        return mean_time_to_remediate(self.remediations)

    def pass_rates(self, by: GroupBy) -> list[PassRate]:
        """Pass rates per owner, checklist, host, schedule, severity or control."""
        return pass_rates(self.obs, by, self.owners)

    def controls(self) -> list[ControlCoverage]:
        """Per control, the checks covering it and their latest status per host."""
        return control_coverage(self.obs)


def _runs(
    store: EvidenceStore, since: datetime, now: datetime
) -> tuple[list[IndexEntry], list[IndexEntry]]:
    """The runs started in the period, and the history as far back as ``due`` looks
    (overdue schedules, last runs, the first run), from one read of the store."""
    lookback = now - DEFAULT_LOOKBACK
    entries = store_entries(store, since=min(since, lookback))
    start = since.replace(microsecond=since.microsecond // 1000 * 1000)  # as reports record
    period = [e for e in entries if e.started is not None and start <= e.started <= now]
    low = iso_z(lookback)
    return period, [e for e in entries if e.tmax >= low]


def _first_run(history: Sequence[IndexEntry], now: datetime) -> datetime:
    """When the evidence begins: the first run's start, or the occurrence it was for."""
    times = [t for e in history for t in (e.started, e.occurrence) if t is not None]
    return min(times, default=now)


def _slas(
    scheduled: Sequence[Scheduled],
    period: Sequence[IndexEntry],
    start: datetime,
    now: datetime,
) -> list[Sla]:
    """The SLA figures of every schedule over occurrences in ``[start, now)``."""
    return [
        summarize_sla(s.schedule, outcomes(s.schedule, period, start, now, s.freezes))
        for s in scheduled
    ]


def kpis(
    store: EvidenceStore,
    scheduled: Sequence[Scheduled],
    owners: Mapping[str, str],
    now: datetime,
    since: datetime,
    *,
    observe: Callable[[IndexEntry], Sequence[Observation]] | None = None,
) -> KpiView:
    """The KPIs of the runs started in ``[since, now]``.

    Occurrences before the store's first run are not counted in the SLA figures:
    evidence cannot tell whether a schedule existed then. ``observe``: the observations
    of one run's report (by default the report is read; the site keeps them per report).
    """
    period, history = _runs(store, since, now)
    read = observe or (lambda entry: report_observations(store.load(entry.id)))
    runs = [e for e in period if not e.dry_run]
    obs = sorted((o for e in runs for o in read(e)), key=lambda o: o.at)  # as `observations`
    start = max(since, _first_run(history, now))
    assessed = assessments(obs, now)
    return KpiView(
        since=since,
        now=now,
        entries=period,
        reports=len(runs),
        obs=obs,
        owners=owners,
        pass_rate=pass_rate(obs),
        slas=_slas(scheduled, period, start, now),
        overdue=overdue([(s.schedule, s.freezes) for s in scheduled], history, now),
        remediations=remediations(obs),
        open_incidents=open_incidents(obs),
        availability=availability(obs),
        flapping=flapping(obs),
        pending=pending_items(obs),
        forecasts=forecasts(obs, now, assessed=assessed),
        shortfalls=shortfalls(obs, now, assessed=assessed),
        last_runs=last_runs([s.schedule for s in scheduled], history),
    )


def owners(root: Path, scheduled: Sequence[Scheduled]) -> dict[str, str]:
    """Owner per checklist name, then per schedule name (checklists win); checklists
    that do not load are left out (``validate`` reports them)."""
    found = {s.schedule.name: s.schedule.owner for s in scheduled if s.schedule.owner}
    for path in content_files(root / "checklists"):
        try:
            checklist = load_checklist(path).model
        except ContentError:
            continue
        if checklist.owner:
            found[checklist.checklist] = checklist.owner
    return found

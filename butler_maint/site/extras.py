"""Optional sections of the KPI page, from modules that may not be installed:
check-level KPIs (``butler_maint.kpi``) and open waivers (``butler_maint.waivers``).

Each section is skipped when its module cannot be imported; a section that fails to
load (a broken waiver file, an unreadable report) shows the error instead. The KPIs are
those of ``butler-maint kpi`` over its default period (``kpi.kpis``, the same figures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from butler_maint.errors import ButlerError
from butler_maint.evidence.store import EvidenceStore

if TYPE_CHECKING:
    from butler_maint.evidence.index import IndexEntry
    from butler_maint.kpi.history import Observation
    from butler_maint.kpi.service import ServiceData
    from butler_maint.systems.members import Systems

ITEMS = 20
"""Longest list shown per KPI (open incidents, flapping checks)."""


@dataclass
class KpiSection:
    """Check-level KPIs of the period (the runs of the last 90 days, as ``kpi``)."""

    reports: int
    rate: str = "n/a"
    judged: int = 0
    mttr: str = "n/a"
    remediated: int = 0
    availability: str = "n/a"
    unavailable: str = ""
    """``3 error, 1 unreachable``."""
    failing: int = 0
    """Host+checks failing now: the count ``kpi`` and the metrics file give (waived never)."""
    incidents: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(host, check, status, since) of the first ``ITEMS`` failing now."""
    flapping: list[tuple[str, str, int, int]] = field(default_factory=list)
    forecasts: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    """Values heading toward a limit without enough history to forecast."""
    error: str | None = None


@dataclass
class WaiverRow:
    """An open waiver as the KPI page lists it."""

    reference: str
    hosts: str
    check: str
    checklist: str
    reason: str
    ticket: str
    approved_by: str
    expires: str
    days_left: int


@dataclass
class WaiverSection:
    """The open waivers, or why they could not be read."""

    rows: list[WaiverRow] = field(default_factory=list)
    error: str | None = None


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    hours = value.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def kpi_section(
    store: EvidenceStore,
    now: datetime,
    observe: Callable[[IndexEntry], Sequence[Observation]] | None = None,
) -> KpiSection | None:
    """Check-level KPIs from ``butler_maint.kpi``, or None when it is not available
    (``observe``: each run's observations, as ``kpi.kpis`` takes them)."""
    try:
        from butler_maint import kpi
    except ImportError:
        return None
    try:
        view = kpi.kpis(store, (), {}, now, now - kpi.DEFAULT_PERIOD, observe=observe)
    except ButlerError as exc:
        return KpiSection(0, error=str(exc))
    rate, av = view.pass_rate, view.availability
    return KpiSection(
        reports=view.reports,
        rate="n/a" if rate.rate is None else f"{rate.rate:.1%}",
        judged=rate.judged,
        mttr=_duration(view.mttr),
        remediated=len(view.remediations),
        availability="n/a" if av.rate is None else f"{av.rate:.1%}",
        unavailable=f"{av.errors} error, {av.unreachable} unreachable",
        failing=len(view.open_incidents),
        incidents=[
            (i.host, i.check, str(i.status), i.since.strftime("%Y-%m-%d %H:%M"))
            for i in view.open_incidents[:ITEMS]
        ],
        flapping=[(f.host, f.check, f.changes, f.runs) for f in view.flapping[:ITEMS]],
        forecasts=[f.describe(now) for f in view.forecasts[:ITEMS]],
        short=[s.describe() for s in view.shortfalls[:ITEMS]],
    )


def waiver_section(project_root: Path | None, now: datetime) -> WaiverSection | None:
    """Open waivers of the content repository, or None without one or without waivers."""
    if project_root is None:
        return None
    try:
        from butler_maint import waivers
    except ImportError:
        return None
    try:
        live = waivers.live_waivers(waivers.load_waivers(project_root), now)
    except ButlerError as exc:
        return WaiverSection(error=str(exc))
    return WaiverSection(
        rows=[
            WaiverRow(
                reference=w.reference,
                hosts=str(w.waiver.hosts),
                check=w.waiver.check,
                checklist=w.waiver.checklist or "",
                reason=str(w.waiver.reason),
                ticket=str(w.waiver.ticket or ""),
                approved_by=str(w.waiver.approved_by or ""),
                expires=w.waiver.expires.isoformat(),
                days_left=w.days_left(now),
            )
            for w in live
        ]
    )


SERVICE_MONTHS = 6
"""Most service-report pages the site renders (the latest months with evidence)."""


def service_months(store: EvidenceStore, now: datetime) -> list[str]:
    """``YYYY-MM`` of the months with runs among the last ``SERVICE_MONTHS``, oldest
    first (the current month included)."""
    from butler_maint.evidence.index import store_entries
    from butler_maint.kpi.monthly import month_of

    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(SERVICE_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    try:
        entries = store_entries(store, since=first)
    except ButlerError:
        return []
    return sorted({month_of(e.started) for e in entries if e.started is not None})


def service_data(
    store: EvidenceStore, project_root: Path | None, systems: Systems, months: list[str]
) -> ServiceData | None:
    """What the service reports of ``months`` are computed from; None when the project's
    schedules or the evidence cannot be read (``validate`` and ``verify`` say why)."""
    from butler_maint.kpi.monthly import LOOKBACK, load_service_data, month_start
    from butler_maint.schedule.calendar import load_schedules

    if project_root is None:
        return None
    try:
        scheduled = load_schedules(project_root)
        return load_service_data(store, scheduled, systems, month_start(months[0]) - LOOKBACK)
    except ButlerError:
        return None

"""The monthly service report per system and per vendor: what was checked, each
service-level figure against its target with the previous month's value, incidents
caught, open failures and waivers; as data (``service_report``) and as Markdown an
owner can send to a vendor or a service review (``to_markdown``). The site renders
the same data.

``load_service_data`` reads the store (never writes it); the rest is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from butler_maint.evidence.export import markdown_text as md
from butler_maint.evidence.index import store_entries
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi.history import observations
from butler_maint.kpi.service import (
    AT_RISK,
    Figure,
    Period,
    ScopeFigures,
    ServiceData,
    Value,
    scope_figures,
    system_scope,
    vendor_scope,
    vendors,
)
from butler_maint.schedule.calendar import Scheduled
from butler_maint.systems.members import Systems

Kind = Literal["system", "vendor"]
LOOKBACK = timedelta(days=62)
"""How far before a period the evidence is read: the previous month, and a month before
that for its last maintenance run and failures still open."""


@dataclass(frozen=True)
class ServiceReport:
    """The service report of one month (the current one: up to now)."""

    month: str
    """``YYYY-MM``."""
    period: Period
    previous_month: str
    scopes: list[ScopeFigures]


def month_start(month: str) -> datetime:
    """The first instant of ``YYYY-MM`` (UTC); ValueError for another text."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"expected a month as YYYY-MM, got {month!r}") from None
    return first


def _next(first: datetime) -> datetime:
    return (first + timedelta(days=32)).replace(day=1)


def _previous(first: datetime) -> datetime:
    return (first - timedelta(days=1)).replace(day=1)


def month_of(moment: datetime | date) -> str:
    """``YYYY-MM`` of a time."""
    return f"{moment.year:04d}-{moment.month:02d}"


def month_period(month: str, now: datetime) -> Period:
    """``[first day, first day of the next month)``, cut at ``now``."""
    first = month_start(month)
    return Period(first, min(_next(first), now))


def load_service_data(
    store: EvidenceStore, scheduled: Sequence[Scheduled], systems: Systems, since: datetime
) -> ServiceData:
    """The index entries and observations of the runs started since ``since``."""
    entries = [e for e in store_entries(store, since=since) if e.started is not None]
    reports = [store.load(e.id) for e in entries if not e.dry_run]
    return ServiceData(systems, observations(reports), entries, list(scheduled))


def service_report(
    data: ServiceData, month: str, now: datetime, kinds: Sequence[Kind] = ("system", "vendor")
) -> ServiceReport:
    """Every system's and vendor's figures for ``month``, with last month's values."""
    period = month_period(month, now)
    before = _previous(period.start)
    previous = Period(before, period.start)
    scopes = []
    for kind in kinds:
        if kind == "system":
            wanted = [
                system_scope(n, data.systems, data.scheduled) for n in sorted(data.systems.systems)
            ]
        else:
            wanted = [vendor_scope(v, data.systems, data.scheduled) for v in vendors(data.systems)]
        for scope in wanted:
            now_figures = scope_figures(scope, data, period)
            then = scope_figures(scope, data, previous)
            figures = [replace(f, previous=then.figure(f.name).value) for f in now_figures.figures]
            scopes.append(replace(now_figures, figures=figures))
    return ServiceReport(month, period, month_of(before), scopes)


# -- text ----------------------------------------------------------------------------------


def show_value(value: Value, name: str) -> str:
    """A figure's value as people read it: ``97.5 %``, ``3h 20m``, ``-``."""
    if value is None:
        return "-"
    if isinstance(value, timedelta):
        return show_duration(value)
    return f"{value * 100:.1f} %"


def show_duration(value: timedelta) -> str:
    """``2d 3h``, ``3h 20m``, ``45m``, ``30s``."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def show_target(figure: Figure) -> str:
    """A figure's target: ``>= 99 %`` for a rate, ``<= 4h 0m`` for a duration."""
    if figure.target is None:
        return "-"
    if isinstance(figure.target, timedelta):
        return f"<= {show_duration(figure.target)}"
    return f">= {figure.target * 100:g} %"


def trend(figure: Figure) -> str:
    """The change from the previous month: ``+1.2 pt``, ``-3h 0m``, ``-``."""
    now, then = figure.value, figure.previous
    if now is None or then is None:
        return "-"
    if isinstance(now, timedelta) and isinstance(then, timedelta):
        delta = now - then
        sign = "-" if delta < timedelta() else "+"
        return f"{sign}{show_duration(abs(delta))}"
    if isinstance(now, float) and isinstance(then, float):
        return f"{(now - then) * 100:+.1f} pt"
    return "-"


def to_markdown(report: ServiceReport) -> str:
    """The report as Markdown: one section per system, then per vendor."""
    end = report.period.end
    lines = [
        f"# Service report {report.month}",
        "",
        f"Period {report.period.start:%Y-%m-%d} to {end:%Y-%m-%d %H:%M} UTC; "
        f"previous month {report.previous_month}. At risk: met, with {AT_RISK:.0%} or more of "
        "the error budget used.",
    ]
    for item in report.scopes:
        lines += ["", *_scope_markdown(item)]
    return "\n".join(lines) + "\n"


def _scope_markdown(item: ScopeFigures) -> list[str]:
    scope, checked = item.scope, item.checked
    head = f"## {scope.kind.capitalize()} {md(scope.name)}"
    if scope.title:
        head += f": {md(scope.title)}"
    lines = [head, ""]
    facts = [
        ("Owner", ", ".join(scope.owners) or "-"),
        ("Vendor", ", ".join(scope.vendors) or "-"),
        ("Systems", ", ".join(scope.systems)),
        ("Schedules", ", ".join(scope.schedules) or "-"),
    ]
    lines += [f"- {k}: {md(v)}" for k, v in facts]
    lines.append(
        f"- Checked: {checked.results} results in {checked.runs} runs, "
        f"{len(checked.hosts)} hosts, checklists {md(', '.join(checked.checklists) or '-')}"
    )
    lines.append(f"- Maintenance runs: {item.maintenance_runs}")
    lines += [
        "",
        "| figure | value | target | state | previous month | trend | detail |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    lines += [
        f"| {f.name} | {show_value(f.value, f.name)} | {show_target(f)} | {f.state} | "
        f"{show_value(f.previous, f.name)} | {trend(f)} | {md(f.detail)} |"
        for f in item.figures
    ]
    lines += ["", f"Incidents caught: {item.incidents}. Waived results: {item.waived}."]
    if item.open_failures:
        lines += ["", f"Open failures ({len(item.open_failures)}):", ""]
        lines += [
            f"- {md(o.host)} {md(o.check)} {o.status.value} (last checked {o.at:%Y-%m-%d}): "
            f"{md(o.message or o.observed or '')}"
            for o in item.open_failures
        ]
    else:
        lines += ["", "Open failures: none."]
    return lines

"""Service levels per system and vendor: ``kpi --by system|vendor`` (each figure against
its target over a period) and ``service-report`` (the monthly report, Markdown or JSON)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.systems import project_systems
from butler_maint.errors import ButlerError
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi.monthly import (
    LOOKBACK,
    Kind,
    ServiceReport,
    load_service_data,
    month_of,
    month_start,
    service_report,
    show_target,
    show_value,
    to_markdown,
)
from butler_maint.kpi.service import (
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
from butler_maint.schedule.calendar import load_schedules


def _data(app: App, since: datetime) -> ServiceData:
    systems = project_systems(app)
    if not systems:
        raise ButlerError("no systems: service levels are per system (systems/NAME.yaml)")
    store = EvidenceStore.for_project(app.root, app.config.evidence)
    return load_service_data(store, load_schedules(app.root), systems, since)


def _value(value: Value) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def figure_json(figure: Figure) -> dict[str, Any]:
    """A figure as JSON: rates as 0..1, durations in seconds."""
    return {
        "name": figure.name, "value": _value(figure.value), "target": _value(figure.target),
        "state": figure.state, "previous": _value(figure.previous), "detail": figure.detail,
    }  # fmt: skip


def scope_json(item: ScopeFigures) -> dict[str, Any]:
    """A scope's figures and report as JSON."""
    scope, checked = item.scope, item.checked
    return {
        "kind": scope.kind, "name": scope.name, "title": scope.title, "systems": scope.systems,
        "owners": scope.owners, "vendors": scope.vendors, "schedules": scope.schedules,
        "checked": {"checklists": checked.checklists, "hosts": checked.hosts,
                    "runs": checked.runs, "results": checked.results},
        "figures": [figure_json(f) for f in item.figures],
        "incidents": item.incidents, "waived": item.waived,
        "maintenance_runs": item.maintenance_runs,
        "open_failures": [{"host": o.host, "check": o.check, "status": o.status.value,
                           "report": o.report} for o in item.open_failures],
    }  # fmt: skip


def by_scope(app: App, by: Kind, since: datetime, now: datetime, fmt: str) -> str:
    """``kpi --by system|vendor``: every scope's figures over ``[since, now)``."""
    data = _data(app, since - LOOKBACK)
    systems = data.systems
    if by == "system":
        scopes = [system_scope(n, systems, data.scheduled) for n in sorted(systems.systems)]
    else:
        scopes = [vendor_scope(v, systems, data.scheduled) for v in vendors(systems)]
    period = Period(since, now)
    found = [scope_figures(s, data, period) for s in scopes]
    if fmt == "json":
        doc = {"since": iso_z(since), "now": iso_z(now), "by": by,
               "groups": [scope_json(f) for f in found]}  # fmt: skip
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([by, "figure", "value", "target", "state", "detail"])
        for item in found:
            for f in item.figures:
                value, target = _value(f.value), _value(f.target)
                writer.writerow([item.scope.name, f.name, value, target, f.state, f.detail])
        return out.getvalue()
    return "\n".join(_lines(found, by, since, now)) + "\n"


def _lines(found: Sequence[ScopeFigures], by: str, since: datetime, now: datetime) -> Iterator[str]:
    yield f"service levels by {by} from {iso_z(since)} to {iso_z(now)}"
    for item in found:
        yield f"{item.scope.name}  ({', '.join(item.scope.systems)})"
        for f in item.figures:
            value, target = show_value(f.value, f.name), show_target(f)
            yield f"  {f.name:<16} {value:>10}  target {target:<10} {f.state:<9}  {f.detail}"


def _month(text: str | None, now: datetime) -> str:
    if text is None:
        return month_of(now)
    try:
        month_start(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    return text


def report_json(report: ServiceReport) -> str:
    """The service report as JSON."""
    doc = {
        "month": report.month, "start": iso_z(report.period.start),
        "end": iso_z(report.period.end), "previous_month": report.previous_month,
        "scopes": [scope_json(s) for s in report.scopes],
    }  # fmt: skip
    return json.dumps(doc, indent=2) + "\n"


@cli.command("service-report")
@click.option("--month", default=None, help="YYYY-MM (default: this month, up to now).")
@click.option(
    "--by", "kinds", type=click.Choice(["system", "vendor"]), multiple=True,
    help="Only systems, or only vendors (default: both).",
)  # fmt: skip
@click.option("--name", default=None, help="Only this system or vendor.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_app
def service_report_cmd(
    app: App,
    month: str | None,
    kinds: tuple[Kind, ...],
    name: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """The monthly service report per system and per vendor.

    For each: what was checked, each service level (pass rate, availability, on time,
    MTTR, maintenance gap) against its target (met / at risk / missed) with the previous
    month's value and the trend, incidents caught, open failures and waived results.
    Reads the evidence; writes nothing but --output. Exit 0; 2 on bad input.
    """
    now = datetime.now(UTC)
    chosen = _month(month, now)
    start = month_start(chosen)
    data = _data(app, start - LOOKBACK)
    report = service_report(data, chosen, now, kinds or ("system", "vendor"))
    if name is not None:
        scopes = [s for s in report.scopes if s.scope.name == name]
        if not scopes:
            raise click.BadParameter(f"no system or vendor named {name!r}", param_hint="--name")
        report = ServiceReport(report.month, report.period, report.previous_month, scopes)
    text = to_markdown(report) if fmt == "markdown" else report_json(report)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")

"""``butler-maint kpi``: pass rates, maintenance on time / late / missed per schedule,
overdue schedules, mean time to remediate, availability, checks failing now, flapping
checks, pending manual items, threshold forecasts, a Prometheus textfile, and with
``--controls`` the auditor's view (per control, the checks covering it).

The figures come from ``butler_maint.kpi.kpis`` (the site shows the same); this module
parses the options and renders them as text, JSON or CSV. Nothing is written to the
store; only ``--metrics-file`` writes, where it is told to.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import click

from butler_maint.cli import cli
from butler_maint.cli.calendar_cmds import waiver_warnings
from butler_maint.cli.context import App, pass_app
from butler_maint.evidence.index import parse_when
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi import (
    GROUPS,
    ControlCoverage,
    GroupBy,
    KpiView,
    PassRate,
    Sla,
    kpis,
    owners,
    render_metrics,
    write_metrics,
)
from butler_maint.schedule.calendar import load_schedules

FORMATS = click.Choice(["text", "json", "csv"])
GROUP_CHOICE = click.Choice([*GROUPS, "system", "vendor"])


def _since(text: str, now: datetime) -> datetime:
    try:
        return parse_when(text, now).astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def gather(app: App, since: datetime, now: datetime) -> KpiView:
    """The KPIs of the project's store, schedules and owners over ``[since, now]``."""
    store = EvidenceStore.for_project(app.root, app.config.evidence)
    scheduled = load_schedules(app.root)
    return kpis(store, scheduled, owners(app.root, scheduled), now, since)


# -- figures ------------------------------------------------------------------------------


def _rate_json(row: PassRate) -> dict[str, Any]:
    return {
        "group": row.group,
        "total": row.total,
        "pass": row.passed,
        "fail": row.failed,
        "other": row.other,
        "rate": row.rate,
    }


def _sla_json(row: Sla) -> dict[str, Any]:
    return {
        "schedule": row.schedule,
        "owner": row.owner,
        "on_time": row.on_time,
        "late": row.late,
        "missed": row.missed,
        "frozen": row.frozen,
        "open": row.open,
        "on_time_rate": row.on_time_rate,
    }


def figures(view: KpiView, by: GroupBy | None, with_forecast: bool) -> dict[str, Any]:
    """Every KPI, as a JSON-ready mapping."""
    mttr, now = view.mttr, view.now
    doc: dict[str, Any] = {
        "since": iso_z(view.since),
        "now": iso_z(now),
        "runs": len(view.entries),
        "pass_rate": _rate_json(view.pass_rate),
        "by": by,
        "groups": [_rate_json(r) for r in view.pass_rates(by)] if by else [],
        "sla": [_sla_json(s) for s in view.slas],
        "overdue": [
            {
                "schedule": st.schedule,
                "state": st.state,
                "since": iso_z(st.missed_since) if st.missed_since else None,
            }
            for st in view.overdue
        ],
        "mttr_seconds": mttr.total_seconds() if mttr is not None else None,
        "remediations": len(view.remediations),
        "availability": {
            "judged": view.availability.judged,
            "error": view.availability.errors,
            "unreachable": view.availability.unreachable,
            "rate": view.availability.rate,
        },
        "open_incidents": [
            {
                "host": i.host,
                "check": i.check,
                "checklist": i.step,
                "status": str(i.status),
                "since": iso_z(i.since),
                "report": i.report,
            }
            for i in view.open_incidents
        ],
        "flapping": [
            {"host": f.host, "check": f.check, "changes": f.changes, "runs": f.runs}
            for f in view.flapping
        ],
        "pending": [
            {"host": o.host, "check": o.check, "checklist": o.step, "report": o.report}
            for o in view.pending
        ],
    }
    if with_forecast:
        doc["forecasts"] = [
            {
                "host": f.host,
                "check": f.check,
                "threshold": f"{f.threshold.op} {f.threshold}",
                "last_value": f.last_value,
                "slope_per_day": round(f.slope_per_day, 6),
                "crossing": iso_z(f.crossing),
                "days_left": round(f.days_left(now), 2),
                "text": f.describe(now),
            }
            for f in view.forecasts
        ]
        doc["not_enough_history"] = [
            {
                "host": s.host,
                "check": s.check,
                "threshold": f"{s.threshold.op} {s.threshold}",
                "points": s.points,
                "span_seconds": s.span.total_seconds(),
                "r2": round(s.r2, 4),
                "text": s.describe(),
            }
            for s in view.shortfalls
        ]
    return doc


def control_figures(view: KpiView) -> dict[str, Any]:
    """The auditor's view, as a JSON-ready mapping."""
    return {
        "since": iso_z(view.since),
        "now": iso_z(view.now),
        "controls": [_control_json(c) for c in view.controls()],
    }


def _control_json(c: ControlCoverage) -> dict[str, Any]:
    return {
        "control": c.control,
        "checks": [
            {
                "checklist": k.checklist,
                "check": k.check,
                "title": k.title,
                "hosts": [
                    {"host": h.host, "status": str(h.status), "at": iso_z(h.at), "report": h.report}
                    for h in k.hosts
                ],
                "reports": list(k.reports),
            }
            for k in c.checks
        ],
    }


# -- rendering ----------------------------------------------------------------------------


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f} %"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    left = timedelta(seconds=round(seconds))
    days, rest = left.days, left.seconds
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m"])


def _text_lines(doc: Mapping[str, Any]) -> Iterator[str]:
    rate = doc["pass_rate"]
    judged = rate["pass"] + rate["fail"]
    yield f"KPIs from {doc['since']} to {doc['now']} ({doc['runs']} runs)"
    yield (
        f"pass rate: {_pct(rate['rate'])} ({rate['pass']} of {judged} judged results, "
        f"{rate['total']} in all)"
    )
    if doc["by"]:
        width = max([len(r["group"]) for r in doc["groups"]] + [8])
        yield f"  by {doc['by']}:"
        for r in doc["groups"]:
            judged = r["pass"] + r["fail"]
            yield f"    {r['group']:<{width}}  {_pct(r['rate']):>8}  {r['pass']}/{judged}"
    yield "maintenance on time (per schedule):"
    width = max([len(s["schedule"]) for s in doc["sla"]] + [8])
    for s in doc["sla"]:
        yield (
            f"  {s['schedule']:<{width}}  {_pct(s['on_time_rate']):>8}  on time {s['on_time']}, "
            f"late {s['late']}, missed {s['missed']}, frozen {s['frozen']}, open {s['open']}"
        )
    overdue_text = ", ".join(
        f"{o['schedule']} ({o['state']}" + (f" since {o['since']})" if o["since"] else ")")
        for o in doc["overdue"]
    )
    yield f"overdue: {overdue_text or 'none'}"
    yield (
        f"mean time to remediate: {_span(doc['mttr_seconds'])} ({doc['remediations']} "
        f"remediated, {len(doc['open_incidents'])} still failing)"
    )
    av = doc["availability"]
    yield (
        f"availability: {_pct(av['rate'])} ({av['error']} error, {av['unreachable']} "
        f"unreachable of {av['judged']} judged results)"
    )
    for i in doc["open_incidents"]:
        yield f"failing now: {i['check']} on {i['host']} ({i['status']} since {i['since']})"
    for f in doc["flapping"]:
        yield f"flapping: {f['check']} on {f['host']} ({f['changes']} changes in {f['runs']} runs)"
    for p in doc["pending"]:
        yield f"pending manual item: {p['check']} on {p['host']} ({p['report']})"
    for f in doc.get("forecasts", []):
        yield f"forecast: {f['text']} ({f['crossing'][:10]})"
    for f in doc.get("not_enough_history", []):
        yield f"forecast: {f['text']}"


def _control_lines(doc: Mapping[str, Any]) -> Iterator[str]:
    yield f"Controls from {doc['since']} to {doc['now']}"
    if not doc["controls"]:
        yield "no result names a control"
    for c in doc["controls"]:
        yield f"{c['control']}:"
        for k in c["checks"]:
            title = f" ({k['title']})" if k["title"] else ""
            yield f"  {k['checklist']}/{k['check']}{title}"
            for h in k["hosts"]:
                yield f"    {h['host']:<20} {h['status']:<11} {h['at']}  {h['report']}"


def _csv_rows(doc: Mapping[str, Any]) -> Iterator[list[Any]]:
    """Long format: section, key, metric, value."""
    for name, value in doc["pass_rate"].items():
        if name != "group":
            yield ["pass_rate", "all", name, value]
    for row in doc["groups"]:
        for name, value in row.items():
            if name != "group":
                yield [f"pass_rate_by_{doc['by']}", row["group"], name, value]
    for row in doc["sla"]:
        for name, value in row.items():
            if name != "schedule":
                yield ["sla", row["schedule"], name, value]
    for row in doc["overdue"]:
        yield ["overdue", row["schedule"], row["state"], row["since"]]
    yield ["mttr", "all", "seconds", doc["mttr_seconds"]]
    yield ["mttr", "all", "remediations", doc["remediations"]]
    for name, value in doc["availability"].items():
        yield ["availability", "all", name, value]
    for row in doc["open_incidents"]:
        yield ["open_incident", f"{row['host']}/{row['check']}", "since", row["since"]]
        yield ["open_incident", f"{row['host']}/{row['check']}", "status", row["status"]]
    for row in doc["flapping"]:
        yield ["flapping", f"{row['host']}/{row['check']}", "changes", row["changes"]]
    for row in doc["pending"]:
        yield ["pending", f"{row['host']}/{row['check']}", "report", row["report"]]
    for row in doc.get("forecasts", []):
        yield ["forecast", f"{row['host']}/{row['check']}", "crossing", row["crossing"]]
    for row in doc.get("not_enough_history", []):
        yield ["forecast", f"{row['host']}/{row['check']}", "not_enough_history", row["points"]]


def _control_csv_rows(doc: Mapping[str, Any]) -> Iterator[list[Any]]:
    """section ``control``, key control/checklist/check/host, the status, the report."""
    for row in doc["controls"]:
        for k in row["checks"]:
            for h in k["hosts"]:
                key = f"{row['control']}/{k['checklist']}/{k['check']}/{h['host']}"
                yield ["control", key, h["status"], h["report"]]


def render(doc: Mapping[str, Any], fmt: str) -> str:
    """``doc`` as text, JSON or CSV (ends with a newline)."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "metric", "value"])
        rows = _control_csv_rows(doc) if "controls" in doc else _csv_rows(doc)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return out.getvalue()
    lines = _control_lines(doc) if "controls" in doc else _text_lines(doc)
    return "".join(f"{line}\n" for line in lines)


def _write_metrics(path: Path, view: KpiView) -> None:
    text = render_metrics(view.last_runs, view.obs, view.slas)
    try:
        write_metrics(path, text)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {path}: {exc.strerror or exc}", param_hint="--metrics-file"
        ) from None
    click.echo(f"kpi: wrote {path}", err=True)


@cli.command("kpi")
@click.option(
    "--since",
    "since_text",
    default="90d",
    show_default=True,
    metavar="WHEN",
    help="Start of the period: 90d (ago), YYYY-MM-DD, or an ISO time.",
)
@click.option(
    "--by",
    type=GROUP_CHOICE,
    default=None,
    help="Also give pass rates per group (a result counts under each of its controls); "
    "system or vendor: instead, each service level against its target.",
)
@click.option(
    "--controls",
    "with_controls",
    is_flag=True,
    help="Instead: per control, the checks covering it, latest status per host, reports.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--forecast", "with_forecast", is_flag=True, help="Predict threshold crossings from trends."
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a Prometheus textfile-collector file (atomically).",
)
@pass_app
def kpi(
    app: App,
    since_text: str,
    by: GroupBy | Literal["system", "vendor"] | None,
    with_controls: bool,
    fmt: str,
    with_forecast: bool,
    metrics_file: Path | None,
) -> None:
    """KPIs and SLA figures of the evidence history since --since.

    Check pass rate (pass / pass+fail+error+unreachable); per schedule, occurrences
    done on time (a covering run started in the window), late or missed (frozen ones
    excluded); overdue schedules; mean time to remediate (first fail to first pass of
    a host+check; error and unreachable are availability, apart); checks failing now
    (waived never); flapping checks (3+ changes); pending manual items; with --forecast,
    when a trending value will cross its check's threshold (3+ points over 3+ days, r²
    >= 0.5, else "not enough history"). --controls: per control, the checks covering it,
    their latest status per host and the reports. --by system|vendor: per system (or
    vendor), pass rate, availability, on time, MTTR and the longest gap between
    maintenance runs, each against the system's service_levels: met, at risk (met with
    80 % or more of the error budget used), missed. Waivers expiring within 14 days are
    warned about on stderr. Exit 0; 2 on bad input.
    """
    now = datetime.now(UTC)
    since = _since(since_text, now)
    if by in {"system", "vendor"}:
        from butler_maint.cli.service_cmds import by_scope

        click.echo(
            by_scope(app, "system" if by == "system" else "vendor", since, now, fmt), nl=False
        )
        return
    view = gather(app, since, now)
    waiver_warnings(app.root, now)
    doc = (
        control_figures(view)
        if with_controls
        else figures(view, cast("GroupBy | None", by), with_forecast)
    )
    click.echo(render(doc, fmt), nl=False)
    if metrics_file is not None:
        _write_metrics(metrics_file, view)

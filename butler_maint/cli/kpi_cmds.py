"""``butler-maint kpi``: pass rates, maintenance on time / late / missed per schedule,
overdue schedules, mean time to remediate, flapping checks, pending manual items,
threshold forecasts, and a Prometheus textfile.

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
from typing import Any

import click

from butler_maint.cli import cli
from butler_maint.cli.calendar_cmds import waiver_warnings
from butler_maint.cli.context import App, pass_app
from butler_maint.evidence.index import parse_when
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.kpi import (
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
GROUPS = click.Choice(["owner", "checklist", "host", "schedule"])


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
        "open_incidents": [
            {"host": i.host, "check": i.check, "since": iso_z(i.since)} for i in view.open_incidents
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
    return doc


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
    for f in doc["flapping"]:
        yield f"flapping: {f['check']} on {f['host']} ({f['changes']} changes in {f['runs']} runs)"
    for p in doc["pending"]:
        yield f"pending manual item: {p['check']} on {p['host']} ({p['report']})"
    for f in doc.get("forecasts", []):
        yield f"forecast: {f['text']} ({f['crossing'][:10]})"


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
    for row in doc["open_incidents"]:
        yield ["open_incident", f"{row['host']}/{row['check']}", "since", row["since"]]
    for row in doc["flapping"]:
        yield ["flapping", f"{row['host']}/{row['check']}", "changes", row["changes"]]
    for row in doc["pending"]:
        yield ["pending", f"{row['host']}/{row['check']}", "report", row["report"]]
    for row in doc.get("forecasts", []):
        yield ["forecast", f"{row['host']}/{row['check']}", "crossing", row["crossing"]]


def render(doc: Mapping[str, Any], fmt: str) -> str:
    """``doc`` as text, JSON or CSV (ends with a newline)."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "metric", "value"])
        writer.writerows(["" if v is None else v for v in row] for row in _csv_rows(doc))
        return out.getvalue()
    return "".join(f"{line}\n" for line in _text_lines(doc))


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
@click.option("--by", type=GROUPS, default=None, help="Also give pass rates per group.")
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
    by: GroupBy | None,
    fmt: str,
    with_forecast: bool,
    metrics_file: Path | None,
) -> None:
    """KPIs and SLA figures of the evidence history since --since.

    Check pass rate (pass / pass+fail+error+unreachable); per schedule, occurrences
    done on time (a covering run started in the window), late or missed (frozen ones
    excluded); overdue schedules; mean time to remediate (first fail to first pass of
    a host+check); flapping checks (3+ changes); pending manual items; with --forecast,
    when a trending value will cross its check's threshold. Waivers expiring within 14
    days are warned about on stderr. Exit 0; 2 on bad input.
    """
    now = datetime.now(UTC)
    since = _since(since_text, now)
    view = gather(app, since, now)
    waiver_warnings(app.root, now)
    click.echo(render(figures(view, by, with_forecast), fmt), nl=False)
    if metrics_file is not None:
        _write_metrics(metrics_file, view)

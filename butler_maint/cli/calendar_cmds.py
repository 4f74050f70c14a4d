"""``butler-maint calendar`` and ``butler-maint due``: the maintenance calendar, and
where each schedule stands (due, overdue, frozen, last result)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.errors import ContentError
from butler_maint.evidence.index import parse_when
from butler_maint.evidence.model import iso_z
from butler_maint.evidence.store import EvidenceStore
from butler_maint.schedule.calendar import (
    Planned,
    Scheduled,
    freezes_in,
    ics_events,
    load_schedules,
    plan,
)
from butler_maint.schedule.due import DueStatus, status
from butler_maint.schedule.freezes import FreezePeriod
from butler_maint.schedule.history import recent_runs
from butler_maint.schedule.ics import render_calendar
from butler_maint.schedule.occurrences import Occurrence
from butler_maint.waivers import expiring, expiry_warning, load_waivers

FORMATS = click.Choice(["text", "json"])


def _moment(value: str | None, param: str, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        return parse_when(value, now).astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


def _schedules(app: App, command: str, system: str | None = None) -> list[Scheduled]:
    scheduled = load_schedules(app.root)
    if not scheduled:
        click.echo(f"{command}: no schedules in {app.root / 'schedules'}", err=True)
    if system is None:
        return scheduled
    from butler_maint.systems.members import load_systems, system_schedules

    systems = load_systems(app.root)
    if system not in systems:
        known = ", ".join(sorted(systems)) or "none"
        raise click.BadParameter(f"no system {system!r} (known: {known})", param_hint="--system")
    names = set(system_schedules(systems[system].model, [s.schedule for s in scheduled]))
    return [s for s in scheduled if s.schedule.name in names]


system_option = click.option(
    "--system",
    default=None,
    metavar="NAME",
    help="Only the schedules that maintain this system (systems/NAME.yaml: its "
    "`schedules`, else those running one of its checklists).",
)


def _local(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _freeze_json(period: FreezePeriod | None) -> dict[str, str] | None:
    if period is None:
        return None
    return {
        "reason": period.reason,
        "source": period.source,
        "from": iso_z(period.start),
        "to": iso_z(period.end),
    }


# -- calendar --------------------------------------------------------------------------


@cli.command("calendar")
@click.option(
    "--from",
    "start_text",
    metavar="DATE",
    help="First day: YYYY-MM-DD (00:00 UTC), an ISO time, or 7d (ago). Default: now.",
)
@click.option(
    "--days", type=click.IntRange(1, 3660), default=14, show_default=True, help="Days shown."
)
@click.option(
    "--ics",
    "ics_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an iCalendar file of the windows and freeze periods in the range.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@system_option
@pass_app
def calendar(
    app: App, start_text: str | None, days: int, ics_path: Path | None, fmt: str,
    system: str | None,
) -> None:  # fmt: skip
    """The coming occurrences of every schedule, in its own zone and in UTC.

    Sorted by time; occurrences stopped by a freeze say FROZEN (reason). A local time
    that a DST change skips runs at the next valid time (marked); a repeated one runs
    once. Exit 0, or 2 on bad input (options, schedules, freeze files).
    """
    now = datetime.now(UTC)
    start = _moment(start_text, "--from", now)
    end = start + timedelta(days=days)
    scheduled = _schedules(app, "calendar", system)
    planned = plan(scheduled, start, end)
    if fmt == "json":
        click.echo(json.dumps([_planned_json(p) for p in planned], indent=2, ensure_ascii=False))
    else:
        _calendar_table(planned)
    if ics_path is not None:
        _write_ics(ics_path, planned, freezes_in(scheduled, start, end), now)


def _planned_json(item: Planned) -> dict[str, Any]:
    occ = item.occurrence
    return {
        "schedule": item.schedule.name,
        "kind": item.kind,
        "timezone": item.schedule.timezone,
        "local": occ.local.isoformat(),
        "zone": occ.zone_abbrev,
        "utc": iso_z(occ.at),
        "end_utc": iso_z(occ.end),
        "duration": item.schedule.duration,
        "shifted_from": occ.wall.isoformat() if occ.shifted else None,
        "frozen": _freeze_json(item.frozen),
    }


def _note(item: Planned) -> str:
    notes = []
    if item.frozen is not None:
        notes.append(f"FROZEN ({item.frozen.reason})")
    if item.occurrence.shifted:
        notes.append(f"({item.occurrence.wall:%H:%M} skipped by DST)")
    return "  ".join(notes)


def _calendar_table(planned: list[Planned]) -> None:
    width = max([len(p.schedule.name) for p in planned] + [8])
    for p in planned:
        occ = p.occurrence
        local = f"{occ.local:%Y-%m-%d %H:%M} {occ.zone_abbrev}"
        click.echo(
            f"{p.schedule.name:<{width}}  {p.kind:<7}  {local:<22}  "
            f"{occ.at:%Y-%m-%d %H:%M}Z  {p.schedule.duration:<6}  {_note(p)}".rstrip()
        )


def _write_ics(
    path: Path, planned: list[Planned], freezes: list[FreezePeriod], now: datetime
) -> None:
    events = ics_events(planned, freezes)
    text = render_calendar(events, stamp=now, name="butler-maint maintenance calendar")
    try:
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {path}: {exc.strerror}", param_hint="--ics"
        ) from None
    windows = len(events) - len(freezes)
    click.echo(f"calendar: wrote {path} ({windows} windows, {len(freezes)} freezes)", err=True)


# -- due -------------------------------------------------------------------------------


@cli.command("due")
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Evaluate at this time instead of now: ISO time (UTC without offset), "
    "YYYY-MM-DD, or 7d (ago).",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@system_option
@pass_app
def due(app: App, at_text: str | None, fmt: str, system: str | None) -> None:
    """Per schedule: due now, overdue since when, frozen, next occurrence, last run.

    States: due (window open, not run), overdue since T (window missed, one catch-up
    due: missed: run-once), missed (missed: skip), frozen (due but in a freeze),
    awaiting approval (a window that requires approval is due, and nobody approved the
    occurrence), never run, ok. Last runs come from the evidence index. Exit 0 whatever
    the states (cron reads --format json); 2 on bad input.
    """
    from butler_maint.runs.approvals import with_approval

    now = _moment(at_text, "--at", datetime.now(UTC))
    scheduled = _schedules(app, "due", system)
    store = EvidenceStore.for_project(app.root, app.config.evidence)
    entries = recent_runs(store, now)
    statuses = [
        (s, with_approval(store, s.schedule, status(s.schedule, entries, now, freezes=s.freezes)))
        for s in scheduled
    ]
    waiver_warnings(app.root, now)
    if fmt == "json":
        doc = [_status_json(s, st) for s, st in statuses]
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    width = max([len(s.schedule.name) for s in scheduled] + [8])
    for s, st in statuses:
        click.echo(_status_line(s, st, width))


def waiver_warnings(root: Path, now: datetime) -> None:
    """One stderr line per waiver expiring within 14 days (stdout stays for the states)."""
    try:
        waivers = load_waivers(root)
    except ContentError as exc:
        click.echo(f"warning: waivers: {exc.render()}", err=True)
        return
    for waiver in expiring(waivers, now):
        click.echo(expiry_warning(waiver, now), err=True)


def _state_text(s: Scheduled, st: DueStatus) -> str:
    tz = s.schedule.timezone
    texts = {
        "due": f"due (window until {_local(st.run_until, tz)})" if st.run_until else "due",
        "overdue": f"overdue since {_local(st.missed_since, tz)}" if st.missed_since else "",
        "missed": f"missed {_local(st.missed_since, tz)} (skip)" if st.missed_since else "",
        "never-run": ("never run" if st.last_run is None else "no run in a window yet")
        + (" (one run due)" if st.due else ""),
        "ok": "ok",
    }
    if st.state == "frozen" and st.frozen is not None:
        since = f", overdue since {_local(st.missed_since, tz)}" if st.missed_since else ""
        return f"frozen until {_local(st.frozen.end, tz)} ({st.frozen.reason}){since}"
    if st.state == "awaiting-approval" and st.due is not None:
        return _awaiting_text(s, st)
    return texts.get(st.state) or st.state


def _awaiting_text(s: Scheduled, st: DueStatus) -> str:
    """``awaiting approval of T (...)``: T as `window approve --occurrence` takes it."""
    assert st.due is not None
    tz = s.schedule.timezone
    until = f"window until {_local(st.run_until, tz)}" if st.run_until else ""
    since = f"overdue since {_local(st.missed_since, tz)}" if st.missed_since else ""
    notes = "; ".join(n for n in (until, since) if n)
    return f"awaiting approval of {iso_z(st.due.at)}" + (f" ({notes})" if notes else "")


def _next_text(s: Scheduled, occ: Occurrence | None, frozen: FreezePeriod | None) -> str:
    if occ is None:
        return "next: none"
    text = f"next {_local(occ.at, s.schedule.timezone)}"
    return text + (f" FROZEN ({frozen.reason})" if frozen else "")


def _status_line(s: Scheduled, st: DueStatus, width: int) -> str:
    last = st.last_run
    last_text = f"last {str(last.result).upper()} {last.id}" if last else "no runs"
    return (
        f"{st.schedule:<{width}}  {_state_text(s, st)}  "
        f"{_next_text(s, st.next, st.next_frozen)}  {last_text}"
    )


def _occurrence_json(occ: Occurrence | None) -> dict[str, Any] | None:
    if occ is None:
        return None
    return {"utc": iso_z(occ.at), "local": occ.local.isoformat(), "zone": occ.zone_abbrev}


def _status_json(s: Scheduled, st: DueStatus) -> dict[str, Any]:
    last = st.last_run
    return {
        "schedule": st.schedule,
        "kind": st.kind,
        "timezone": s.schedule.timezone,
        "state": st.state,
        "runnable": st.runnable,
        "due": _occurrence_json(st.due),
        "catch_up": st.catch_up,
        "run_until": iso_z(st.run_until) if st.run_until else None,
        "missed_since": iso_z(st.missed_since) if st.missed_since else None,
        "frozen": _freeze_json(st.frozen),
        "next": _occurrence_json(st.next),
        "next_frozen": _freeze_json(st.next_frozen),
        "last_run": None
        if last is None
        else {
            "id": last.id,
            "result": last.result,
            "started": iso_z(last.started),
            "by": last.by,
            "covers": iso_z(last.covers) if last.covers else None,
        },
    }

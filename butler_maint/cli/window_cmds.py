"""``window run``, ``window approve`` and ``run-due``: the calendar put to work."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, echo_written_notes, exit_interrupted, pass_app
from butler_maint.cli.fail_on import fail_on_option, threshold
from butler_maint.cli.options import (
    inventory_option,
    limit_option,
    operator_option,
    vault_id_option,
    vault_password_file_option,
)
from butler_maint.cli.render import term
from butler_maint.errors import ButlerError, ExitCode

if TYPE_CHECKING:
    from butler_maint.evidence import WrittenReport
    from butler_maint.evidence.model import Severity
    from butler_maint.runs.window import BatchDone

CRONTAB_HELP = """Made for cron, e.g. every 5 minutes:

\b
    */5 * * * * cd /srv/maintenance && butler-maint run-due

Quiet when everything due passed; exit 1 (with a line per problem) when a run failed,
errored or was refused, or a window awaits approval (reported once per occurrence); 3
when another run-due holds the lock. With --fail-on SEVERITY a run whose failures are
all below SEVERITY is no problem (its report still says fail or error), e.g.

\b
    */5 * * * * cd /srv/maintenance && butler-maint run-due --fail-on high"""


def _now(at: str | None) -> datetime:
    from butler_maint.evidence.index import parse_when

    now = datetime.now(UTC)
    if at is None:
        return now
    try:
        return parse_when(at, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@cli.group()
def window() -> None:
    """Run and approve maintenance windows (schedules with `window:`)."""


@window.command("run")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Checks run for real, playbooks in check mode.")
@click.option("--override", is_flag=True, help="Run although a freeze covers the window.")
@click.option("--reason", help="Why the freeze is overridden (required with --override).")
@click.option("--occurrence", help="The occurrence this run is for (default: the open one).")
@click.option(
    "--rerun-failed",
    "rerun_report",
    metavar="REPORT",
    help="Run only the hosts that failed or were not run in REPORT (an id, or latest), "
    "recorded as a re-run of it.",
)
@inventory_option
@limit_option
@operator_option
@fail_on_option
@vault_password_file_option
@vault_id_option
@pass_app
def window_run(
    app: App,
    name: str,
    dry_run: bool,
    override: bool,
    reason: str | None,
    occurrence: str | None,
    rerun_report: str | None,
    inventory_path: Path | None,
    limit: str | None,
    operator: str | None,
    fail_on: str,
    vault_password_file: Path | None,
    vault_ids: tuple[str, ...],
) -> None:
    """Run window NAME now: its steps in order, in batches of `serial` hosts.

    A host that fails a checklist step gets no later step (unless the step says
    `gate: false`). Stops starting batches at the window's end or when
    `max_fail_percentage` is exceeded (the rest is recorded `not_run` with the reason).
    Prints each batch's failing checks and why the window stopped. A frozen window runs
    only with --override --reason TEXT; a window that requires approval only when
    someone else approved the occurrence. Writes ONE evidence report (playbook steps
    included). Exit 0 when everything passed, 1 otherwise (with --fail-on SEVERITY:
    only when a failure of that severity or above, one without a severity, a playbook
    failure or a run error is recorded; the report's result is unchanged), 2 on bad
    input, 3 when it may not run (frozen, unapproved), 129/130/143 when interrupted.
    """
    from butler_maint.runs.occurrence import rerun_request, window_request
    from butler_maint.runs.stop import stop_on_signals
    from butler_maint.runs.window import run_window

    if override != bool(reason):
        raise click.UsageError("--override and --reason TEXT go together")
    target = app.target(
        inventory_path, operator, vault_password_file=vault_password_file, vault_ids=vault_ids
    )
    request = window_request(
        target, name, now=datetime.now(UTC),
        occurrence=_now(occurrence) if occurrence else None,
        dry_run=dry_run, override_reason=reason, limit=limit,
        rerun=rerun_request(target, name, rerun_report) if rerun_report else None,
    )  # fmt: skip
    with stop_on_signals() as stop:
        outcome = run_window(request, stop, on_batch=_batch, on_batch_done=_batch_done)
    written = outcome.written
    if outcome.stop_reason:
        click.echo(f"window {name}: stopped: {term(outcome.stop_reason)}", err=True)
    click.echo(f"window {name}: {written.result} (evidence: {written.path})", err=True)
    echo_written_notes(written)
    if outcome.interrupted_by is not None:
        exit_interrupted("window", outcome.interrupted_by)
    if written.result != "pass" and _fails(app, written, threshold(fail_on)):
        raise SystemExit(ExitCode.FAILED)


def _fails(app: App, written: WrittenReport, fail_on: Severity | None) -> bool:
    """Whether the report fails at ``fail_on``; one that cannot be read does."""
    from butler_maint.evidence import EvidenceStore
    from butler_maint.runs.verdict import report_fails

    if fail_on is None:
        return True
    try:
        report = EvidenceStore.for_project(app.root, app.config.evidence).load(written.id)
    except ButlerError as exc:
        click.echo(f"window: cannot read {written.id} for --fail-on: {exc.render()}", err=True)
        return True
    return report_fails(report, fail_on)


def _batch(number: int, hosts: list[str]) -> None:
    click.echo(f"batch {number}: {term(', '.join(hosts))}", err=True)


def _batch_done(done: BatchDone) -> None:
    """Each failing check and each host a gate stopped, with why."""
    from butler_maint.evidence.summary import explain

    for step, r in done.problems:
        label = f"{step}/{r.check}" if not r.check.startswith("(") else step
        click.echo(
            f"  {str(r.status).upper():<11}  {term(r.host)}  {term(label)}: {term(explain(r))}",
            err=True,
        )


@window.command("approve")
@click.argument("name")
@click.option(
    "--occurrence", required=True, help="The occurrence approved (e.g. 2026-11-29T01:00Z)."
)
@click.option("--by", "by", help="Who approves (default user@host; with signing, the key's).")
@click.option("--note", help="A note, e.g. the change ticket.")
@click.option("--revoke", is_flag=True, help="Revoke the approvals of the occurrence.")
@pass_app
def window_approve(
    app: App, name: str, occurrence: str, by: str | None, note: str | None, revoke: bool
) -> None:
    """Approve one occurrence of window NAME, or revoke its approvals (--revoke); recorded
    in the evidence chain, signed by the approver's key when signing is on. Four eyes:
    the window runs only with a standing approval by someone other than its operator."""
    from butler_maint.evidence import EvidenceStore
    from butler_maint.runs.approvals import decide
    from butler_maint.schedule.calendar import load_schedules

    schedules = {s.schedule.name: s.schedule for s in load_schedules(app.root)}
    if name not in schedules or schedules[name].window is None:
        raise ButlerError(f"no window named {name!r} in {app.root / 'schedules'}")
    who, signer = app.identity(by, role="approver")
    store = EvidenceStore.for_project(app.root, app.config.evidence)
    written = decide(
        store, name, _now(occurrence), who, note=note, now=datetime.now(UTC), signer=signer,
        revoke=revoke,
    )  # fmt: skip
    what = "revoked" if revoke else "approved"
    how = f"signed, {signer.fingerprint}" if signer else "declared"
    click.echo(f"{what} by {who} ({how}): {written.path} ({written.id})", err=True)


@cli.command("run-due", epilog=CRONTAB_HELP)
@click.option(
    "--at",
    "at",
    help="Replay a past time (ISO time or date; UTC default), recorded as trigger.at in "
    "the reports; at most 60 s ahead of the clock.",
)
@inventory_option
@operator_option
@fail_on_option
@vault_password_file_option
@vault_id_option
@pass_app
def run_due_cmd(
    app: App,
    at: str | None,
    inventory_path: Path | None,
    operator: str | None,
    fail_on: str,
    vault_password_file: Path | None,
    vault_ids: tuple[str, ...],
) -> None:
    """Run every due occurrence not yet recorded in the evidence, once each."""
    from butler_maint.runs.due import replay_time, run_due
    from butler_maint.runs.stop import stop_on_signals

    now = datetime.now(UTC)
    replay = None if at is None else replay_time(_now(at), now)
    target = app.target(
        inventory_path, operator, vault_password_file=vault_password_file, vault_ids=vault_ids
    )
    with stop_on_signals() as stop:
        done = run_due(
            target, replay or now, stop, replay=replay is not None, fail_on=threshold(fail_on)
        )
    for d in done:
        for notice in d.notices:
            click.echo(f"run-due: {notice}", err=True)
    if stop.signum is not None:
        last = done[-1].report_id if done else None
        exit_interrupted("run-due", stop.signum, f"; report {last}" if last else "")
    problems = [d for d in done if not d.ok]
    for d in problems:
        what = f"report {d.report_id}" if d.report_id else d.message
        why = f": {d.message}" if d.report_id and d.message else ""
        line = f"run-due: {d.schedule} ({d.occurrence}): {d.result}: {what}{why}"
        click.echo(term(line), err=True)
    if problems:
        raise SystemExit(ExitCode.FAILED)

"""``butler-maint check``: run a checklist on its hosts and report."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click
import yaml

from butler_maint.cli import cli
from butler_maint.cli.context import (
    App,
    echo_written_notes,
    exit_interrupted,
    is_interactive,
    pass_app,
)
from butler_maint.cli.fail_on import fail_on_option, threshold
from butler_maint.cli.options import (
    accept_new_host_keys_option,
    inventory_option,
    limit_option,
    operator_option,
    vault_id_option,
)
from butler_maint.cli.render import term
from butler_maint.errors import ExitCode

FAILING = ("fail", "error", "unreachable")
ORDER = {
    "fail": 0, "error": 1, "unreachable": 2, "not_run": 3, "pending": 4, "waived": 5,
    "pass": 6, "skipped": 7,
}  # fmt: skip


@cli.command()
@click.argument("checklist")
@inventory_option
@limit_option
@click.option(
    "--forks", type=click.IntRange(1, 1000), help="Hosts checked in parallel (default 20)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "yaml", "junit"]),
    default="text",
    show_default=True,
    help="Result format on stdout.",
)
@operator_option
@accept_new_host_keys_option
@click.option(
    "--vault-password-file",
    type=click.Path(exists=True, path_type=Path),
    help="Decrypt vault-encrypted inventory vars (their values are redacted).",
)
@click.option(
    "--remediate",
    is_flag=True,
    help="Run the `remediate:` playbook of each failed check on exactly the hosts that "
    "failed it, then check them again (asks first on a terminal).",
)
@click.option("--yes", is_flag=True, help="With --remediate: do not ask (needed off a terminal).")
@vault_id_option
@fail_on_option
@pass_app
def check(
    app: App,
    checklist: str,
    inventory_path: Path | None,
    limit: str | None,
    forks: int | None,
    fmt: str,
    operator: str | None,
    accept_new_host_keys: bool,
    vault_password_file: Path | None,
    vault_ids: tuple[str, ...],
    remediate: bool,
    yes: bool,
    fail_on: str,
) -> None:
    """Run CHECKLIST (a name in checklists/ or a path) on its hosts.

    All checks of a host go to it as one `sh` script over one SSH connection; hosts
    run in parallel. With --remediate, failed checks that name a `remediate:` playbook
    get it on the hosts that failed them, then run again there; the report holds both.
    Exit 0 when everything passed (after remediation), 1 when anything failed, errored
    or was unreachable (with --fail-on SEVERITY: only failures of that severity or
    above, and failures without a severity), 2 on bad input, 129/130/143 when
    interrupted. E.g. in CI: `butler-maint check baseline --fail-on high`.
    """
    interactive = is_interactive() and fmt == "text"
    if remediate and not (interactive or yes):
        raise click.UsageError("--remediate off a terminal needs --yes (nobody to ask)")
    from butler_maint.runs.check import CheckRequest, run_check
    from butler_maint.runs.stop import stop_on_signals
    from butler_maint.runs.verdict import results_fail

    target = app.target(
        inventory_path, operator, vault_password_file=vault_password_file,
        vault_ids=vault_ids, accept_new_host_keys=accept_new_host_keys,
    )  # fmt: skip
    request = CheckRequest(
        target, target.checklist_file(checklist), limit=limit, forks=forks,
        ask=_ask if interactive else None, remediate=remediate,
        confirm=None if yes else _confirm,
    )  # fmt: skip
    progress = _Progress()
    with stop_on_signals() as stop:
        outcome = run_check(request, stop, on_hosts=progress.start, on_host_done=progress.update)
    progress.close()
    results = outcome.results
    _emit(fmt, Path(request.checklist).stem, results)
    counts: Counter[str] = Counter(r.status for r in results)
    click.echo(_summary_line(counts, outcome.hosts), err=True)
    if outcome.written is not None:
        click.echo(f"evidence: {outcome.written.path} ({outcome.written.id})", err=True)
        echo_written_notes(outcome.written)
    if outcome.evidence_error is not None:
        raise outcome.evidence_error
    if outcome.interrupted_by is not None:
        exit_interrupted("check", outcome.interrupted_by)
    if results_fail(results, threshold(fail_on)):
        raise SystemExit(ExitCode.FAILED)


def _confirm(question: str) -> bool:
    return click.confirm(question, err=True)


def _ask(question: str) -> tuple[bool, str]:
    confirmed = click.confirm(f"{question} — done?", err=True)
    comment: str = click.prompt("comment", default="", show_default=False, err=True)
    return confirmed, comment


class _Progress:
    """A live bar on a terminal; one plain line per finished host otherwise."""

    def __init__(self) -> None:
        self.total, self.done, self.failures = 0, 0, 0
        self.bar: Any = None

    def start(self, total: int) -> None:
        self.total = total
        if sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("hosts", total=total)

    def update(self, run: Any) -> None:
        self.done += 1
        if getattr(run, "new_host_key", False):
            click.echo(f"trusted new host key: {term(run.host)} {term(run.host_key)}", err=True)
        bad = sum(1 for r in run.results if r.status in FAILING)
        self.failures += bad
        if self.bar is not None:
            self.bar.update(
                self.task, advance=1, description=f"hosts ({self.failures} failing so far)"
            )
        else:
            state = "ok" if not bad else f"{bad} failing"
            click.echo(f"[{self.done}/{self.total}] {term(run.host)}: {state}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _as_dict(result: Any) -> dict[str, Any]:
    """Plain data for JSON and YAML (they escape control characters themselves)."""
    data = {
        k: getattr(result, k)
        for k in ("host", "check", "status", "observed", "expected", "ms", "message")
    }
    data["status"] = str(data["status"])  # a Status enum: YAML's safe dumper refuses it
    return data


def _emit(fmt: str, name: str, results: list[Any]) -> None:
    ordered = sorted(results, key=lambda r: (ORDER.get(r.status, 9), r.host, r.check))
    if fmt == "json":
        click.echo(json.dumps([_as_dict(r) for r in ordered], indent=2, default=str))
    elif fmt == "yaml":
        click.echo(yaml.safe_dump([_as_dict(r) for r in ordered], sort_keys=False), nl=False)
    elif fmt == "junit":
        click.echo(_junit(name, results), nl=False)
    else:
        _table(ordered)


def _table(results: list[Any]) -> None:
    """One line per result; every value from a host or the inventory through ``term``.

    A host whose key was refused gets one line for all its checks, with the fix.
    """
    from butler_maint.executors.ssh import is_host_key_error

    refused = [r for r in results if r.status == "error" and is_host_key_error(r.message)]
    per_host = Counter(r.host for r in refused)
    for host, message in sorted({r.host: r.message for r in refused}.items()):
        checks = f"{per_host[host]} check(s) not run"
        click.echo(f"ERROR  {term(host)}  host key refused, {checks}: {term(message)}")
    skip = {id(r) for r in refused}
    results = [r for r in results if id(r) not in skip]
    rows = [(term(r.status).upper(), term(r.host), term(r.check), r) for r in results]
    widths = [max([len(row[i]) for row in rows] + [len(k)]) for i, k in enumerate(_COLUMNS)]
    for status, host, check, r in rows:
        expected = f" (expected {term(r.expected)})" if r.expected else ""
        message = f"  {term(r.message)}" if r.message and r.status != "pass" else ""
        click.echo(
            f"{status:<{widths[0]}}  {host:<{widths[1]}}  {check:<{widths[2]}}  "
            f"{term(r.observed)}{expected}{message}".rstrip()
        )


_COLUMNS = ("status", "host", "check")


def _summary_line(counts: Counter[str], hosts: int) -> str:
    parts = ", ".join(f"{counts[s]} {s}" for s in ORDER if counts[s])
    return f"check: {hosts} host(s): {parts or 'no results'}"


def _junit(name: str, results: list[Any]) -> str:
    """The results as ``report export --format junit`` writes a report's (one writer)."""
    from butler_maint.evidence.export import junit

    return junit(name, [(f"checklist: {name}", results)])

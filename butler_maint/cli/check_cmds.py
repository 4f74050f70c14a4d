"""``butler-maint check``: run a checklist on its hosts and report."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click
import yaml

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.options import (
    accept_new_host_keys_option,
    inventory_option,
    limit_option,
    operator_option,
)
from butler_maint.errors import ContentError, ExitCode, Location
from butler_maint.model.content import checklist_path

FAILING = ("fail", "error", "unreachable")
ORDER = {
    "fail": 0, "error": 1, "unreachable": 2, "not_run": 3, "pending": 4, "waived": 5,
    "pass": 6, "skipped": 7,
}  # fmt: skip


def find_checklist(app: App, name: str) -> Path:
    """A checklist by name (``checklists/NAME.yaml``) or by path."""
    for candidate in (Path(name), checklist_path(app.root, name)):
        if candidate.is_file():
            return candidate
    raise ContentError.at(
        Location(name), f"no checklist {name!r} (looked in {app.root / 'checklists'})"
    )


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
) -> None:
    """Run CHECKLIST (a name in checklists/ or a path) on its hosts.

    All checks of a host go to it as one `sh` script over one SSH connection; hosts
    run in parallel. Exit 0 when everything passed, 1 when anything failed, errored or
    was unreachable, 2 on bad input.
    """
    from butler_maint.checks import session
    from butler_maint.evidence.provenance import operator_identity

    config = app.config
    request = session.CheckRequest(
        root=app.root,
        config=config,
        checklist_file=find_checklist(app, checklist),
        inventory=app.inventory(inventory_path, vault_password_file),
        limit=limit,
        forks=forks,
        operator=operator_identity(operator),
        accept_new_host_keys=accept_new_host_keys,
        interactive=session.is_interactive() and fmt == "text",
    )
    progress = _Progress()
    with session.interruptible():
        outcome = session.run_and_record(
            request, ask=_ask, on_hosts=progress.start, on_host_done=progress.update
        )
    progress.close()
    results = [r for run in outcome.runs for r in run.results]
    _emit(fmt, request.checklist_file.stem, results)
    counts: Counter[str] = Counter(r.status for r in results)
    click.echo(_summary_line(counts, outcome.hosts), err=True)
    if outcome.written is not None:
        click.echo(f"evidence: {outcome.written.path} ({outcome.written.id})", err=True)
    if outcome.evidence_error is not None:
        raise outcome.evidence_error
    if outcome.interrupted_by is not None:
        click.echo(f"check: interrupted by signal {outcome.interrupted_by}", err=True)
        _exit_now(128 + outcome.interrupted_by)
    if any(counts[s] for s in FAILING):
        raise SystemExit(ExitCode.FAILED)


def _exit_now(code: int) -> None:
    """Exit without waiting for hosts still answering (their scripts die at their deadline)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
        bad = sum(1 for r in run.results if r.status in FAILING)
        self.failures += bad
        if self.bar is not None:
            self.bar.update(
                self.task, advance=1, description=f"hosts ({self.failures} failing so far)"
            )
        else:
            click.echo(
                f"[{self.done}/{self.total}] {run.host}: {'ok' if not bad else f'{bad} failing'}",
                err=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _as_dict(result: Any) -> dict[str, Any]:
    return {
        k: getattr(result, k)
        for k in ("host", "check", "status", "observed", "expected", "ms", "message")
    }


def _emit(fmt: str, name: str, results: list[Any]) -> None:
    ordered = sorted(results, key=lambda r: (ORDER.get(r.status, 9), r.host, r.check))
    if fmt == "json":
        click.echo(json.dumps([_as_dict(r) for r in ordered], indent=2, default=str))
    elif fmt == "yaml":
        click.echo(yaml.safe_dump([_as_dict(r) for r in ordered], sort_keys=False), nl=False)
    elif fmt == "junit":
        click.echo(_junit(name, results))
    else:
        _table(ordered)


def _table(results: list[Any]) -> None:
    widths = [
        max([len(str(getattr(r, k))) for r in results] + [len(k)])
        for k in ("host", "check", "status")
    ]
    for r in results:
        observed = "" if r.observed is None else str(r.observed)
        expected = f" (expected {r.expected})" if r.expected else ""
        message = f"  {r.message}" if r.message and r.status != "pass" else ""
        click.echo(
            f"{r.status.upper():<{widths[2]}}  {r.host:<{widths[0]}}  {r.check:<{widths[1]}}  "
            f"{observed}{expected}{message}".rstrip()
        )


def _summary_line(counts: Counter[str], hosts: int) -> str:
    parts = ", ".join(f"{counts[s]} {s}" for s in ORDER if counts[s])
    return f"check: {hosts} host(s): {parts or 'no results'}"


def _junit(name: str, results: list[Any]) -> str:
    from xml.etree import ElementTree as ET

    suites = ET.Element("testsuites", name=name)
    for host in sorted({r.host for r in results}):
        mine = [r for r in results if r.host == host]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=host,
            tests=str(len(mine)),
            failures=str(sum(r.status == "fail" for r in mine)),
            errors=str(sum(r.status in ("error", "unreachable") for r in mine)),
            skipped=str(sum(r.status in ("skipped", "pending") for r in mine)),
        )
        for r in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{name}.{host}",
                name=r.check,
                time=f"{r.ms / 1000:.3f}",
            )
            text = f"observed {r.observed!r}, expected {r.expected}; {r.message}"
            if r.status == "fail":
                ET.SubElement(case, "failure", message=text)
            elif r.status in ("error", "unreachable"):
                ET.SubElement(case, "error", message=f"{r.status}: {text}")
            elif r.status in ("skipped", "pending"):
                ET.SubElement(case, "skipped", message=f"{r.status}: {r.message}")
    return ET.tostring(suites, encoding="unicode")

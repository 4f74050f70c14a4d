"""``butler-maint play``: run a playbook through ansible-runner, show it live, record it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, echo_written_notes, pass_app
from butler_maint.cli.options import (
    accept_new_host_keys_option,
    inventory_option,
    limit_option,
    operator_option,
    vault_id_option,
)
from butler_maint.cli.render import term
from butler_maint.errors import ContentError, ExitCode, Location

if TYPE_CHECKING:
    from butler_maint.playbooks import PlayRun
    from butler_maint.playbooks.events import Update

RECAP = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def find_playbook(app: App, name: str) -> Path:
    """A playbook by path, or by name in ``playbooks/`` (``.yml``/``.yaml`` optional)."""
    base = app.root / "playbooks"
    for candidate in (Path(name), base / name, base / f"{name}.yml", base / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    raise ContentError.at(Location(name), f"no playbook {name!r} (looked in {base})")


def _serial(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    from butler_maint.playbooks.plays import check_serial

    if value is None:
        return None
    try:
        return check_serial(value)
    except ValueError as ex:
        raise click.BadParameter(str(ex)) from None


@cli.command()
@click.argument("playbook")
@inventory_option
@limit_option
@click.option("--check", is_flag=True, help="Ansible check mode: change nothing; a dry run.")
@click.option("--diff", is_flag=True, help="Have modules report the changes they make.")
@click.option(
    "-e",
    "--extra-vars",
    "extra_vars",
    multiple=True,
    metavar="VARS",
    help="key=value pairs, a YAML/JSON mapping, or @file, as ansible-playbook -e (repeatable).",
)
@click.option(
    "--vault-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Vault password for the inventory and the playbook (vault values are masked).",
)
@click.option("--forks", type=click.IntRange(1, 1000), help="Parallel hosts (default 20).")
@click.option(
    "--serial",
    callback=_serial,
    help="Batch size for every play: a count or a percentage such as 25%.",
)
@click.option(
    "--max-fail-percentage",
    type=click.FloatRange(0, 100),
    help="Abort a play when more than this percentage of a batch failed.",
)
@vault_id_option
@operator_option
@accept_new_host_keys_option
@pass_app
def play(
    app: App,
    playbook: str,
    inventory_path: Path | None,
    limit: str | None,
    check: bool,
    diff: bool,
    extra_vars: tuple[str, ...],
    vault_password_file: Path | None,
    forks: int | None,
    serial: int | str | None,
    max_fail_percentage: float | None,
    operator: str | None,
    accept_new_host_keys: bool,
    vault_ids: tuple[str, ...],
) -> None:
    """Run PLAYBOOK (a path, or a name in playbooks/) with ansible-playbook.

    Host keys are checked against the project known_hosts as for checklists; pipelining
    and ControlPersist are on. One evidence report records the per-host recap and every
    task's result per host; --check runs are recorded as dry runs. Exit 0 when no host
    failed or was unreachable, 1 otherwise, 2 on bad input, 129/130/143 when interrupted.
    """
    from butler_maint.playbooks import PlayRequest
    from butler_maint.runs.play import play_and_record
    from butler_maint.runs.stop import stop_on_signals

    config = app.config
    who, signer = app.identity(operator)
    request = PlayRequest(
        root=app.root,
        config=config,
        playbook=find_playbook(app, playbook),
        inventory=app.inventory(inventory_path, vault_password_file, vault_ids),
        limit=limit,
        check=check,
        diff=diff,
        extra_vars=extra_vars,
        vault_password_file=app.vault(vault_password_file),
        vault_ids=vault_ids,
        forks=forks,
        serial=serial,
        max_fail_percentage=max_fail_percentage,
        accept_new_host_keys=accept_new_host_keys,
    )
    view = _View(sys.stderr.isatty())
    try:
        with stop_on_signals() as stop:
            outcome = play_and_record(
                request, stop, operator=who, signer=signer,
                on_update=view.update, on_start=view.start,
            )  # fmt: skip
    finally:
        view.close()
    _report(outcome.run, check)
    click.echo(f"evidence: {outcome.written.path} ({outcome.written.id})", err=True)
    echo_written_notes(outcome.written)
    if outcome.run.interrupted_by is not None:
        click.echo(f"play: interrupted by signal {outcome.run.interrupted_by}", err=True)
    raise SystemExit(_exit_code(outcome.run))


def _exit_code(run: PlayRun) -> int:
    if run.interrupted_by is not None:
        return 128 + int(run.interrupted_by)
    if run.bad_input:
        return int(ExitCode.USAGE)
    if run.error or run.failed_hosts:
        return int(ExitCode.FAILED)
    return int(ExitCode.OK)


class _View:
    """A live line on a terminal (task, hosts done, failures); plain task lines otherwise."""

    def __init__(self, live: bool) -> None:
        self.fancy = live
        self.total, self.task, self.done = 0, "", 0
        self.failures = 0
        self.seen: set[str] = set()
        self.live: Any = None

    def start(self, total: int) -> None:
        self.total = total
        if self.fancy:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(
                get_renderable=self._line,
                console=Console(stderr=True),
                transient=True,
                refresh_per_second=8,
            )
            self.live.start()

    def update(self, update: Update) -> None:
        from butler_maint.playbooks.events import Notice, TaskStarted

        if isinstance(update, TaskStarted):
            self.task, self.done = term(update.name), 0
            if self.live is None:
                click.echo(f"TASK [{self.task}]", err=True)
        elif isinstance(update, Notice):
            if update.kind in ("warning", "error") and update.text not in self.seen:
                self.seen.add(update.text)
                self._echo(update.text)
        else:
            self.done += 1
            self.failures += update.status in ("fail", "unreachable")

    def _line(self) -> Any:
        from rich.text import Text

        if not self.task:
            return Text(f"starting ansible-playbook on {self.total} host(s)")
        failures = f", failures so far: {self.failures}" if self.failures else ""
        return Text(f"TASK [{self.task}]  hosts done {self.done}/{self.total}{failures}")

    def _echo(self, text: str) -> None:
        from butler_maint.cli.render import term

        text = term(text, multiline=True)  # ansible's warnings quote host output
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            click.echo(text, err=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _report(run: PlayRun, check: bool) -> None:
    """The recap table and failures; inventory and host text goes through ``term``."""

    hosts = [(term(host), stats) for host, stats in run.step.hosts.items()]
    width = max([len(h) for h, _ in hosts] + [4])
    if hosts:
        click.echo(f"{'HOST':<{width}}  " + "  ".join(k.upper() for k in RECAP))
        for host, stats in hosts:
            cells = "  ".join(f"{getattr(stats, k):>{len(k)}}" for k in RECAP)
            click.echo(f"{host:<{width}}  {cells}")
    for result in run.step.results:
        if result.status in ("fail", "unreachable"):
            message = f"  {term(result.message)}" if result.message else ""
            click.echo(
                f"{result.status.upper()}  {term(result.host)}  {term(result.check)}{message}"
            )
    for warning in run.warnings:
        click.echo(f"play: warning: {term(warning, multiline=True)}", err=True)
    if run.error:
        click.echo(f"play: error: {term(run.error, multiline=True)}", err=True)
    dry = " (check mode: dry run)" if check else ""
    click.echo(
        f"play: {run.hosts} host(s), {len(run.failed_hosts)} failed or unreachable, "
        f"ansible {run.status} (rc {run.rc}){dry}",
        err=True,
    )

"""The ``butler-maint`` command line: thin Click commands over the library.

Errors are rendered here and only here; exit codes are those of ``ExitCode``.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from butler_maint import __version__
from butler_maint.cli.context import App
from butler_maint.errors import ButlerError

EXIT_CODES_HELP = """Exit codes: 0 all passed; 1 something failed, errored or was unreachable
(or evidence is broken); 2 bad input (usage, configuration, content); 3 could not run
(lock held, evidence store unusable); 129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM."""


# Each command's module, imported only when that command runs (or --help lists them
# all): `check` need not pay for the calendar's, the KPIs' or the site's imports.
COMMAND_MODULES = {
    "calendar": "calendar_cmds",
    "check": "check_cmds",
    "diagnose": "systems_cmds",
    "due": "calendar_cmds",
    "import": "import_cmds",
    "init": "content_cmds",
    "kpi": "kpi_cmds",
    "play": "play_cmds",
    "report": "report_cmds",
    "run-due": "window_cmds",
    "schema": "content_cmds",
    "service-report": "service_cmds",
    "validate": "content_cmds",
    "window": "window_cmds",
    "worker": "worker_cmds",
}


class ButlerGroup(click.Group):
    """A group that loads its commands on demand and renders ButlerError once."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"butler_maint.cli.{COMMAND_MODULES[cmd_name]}")
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ButlerError as exc:
            for line in exc.render().splitlines():
                click.echo(f"butler-maint: error: {line}", err=True)
            sys.exit(int(exc.exit_code))


@click.group(cls=ButlerGroup, epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="butler-maint")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Content repository root (default: the nearest parent holding butler.yaml, "
    "checklists/ or schedules/, else the current directory).",
)
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """Preventive maintenance as code.

    Runs checklists (SSH health checks) and Ansible playbooks against inventory
    hosts, keeps the maintenance calendar, and records every run as tamper-evident
    YAML evidence.
    """
    ctx.obj = App.locate(project_dir)


def main() -> None:
    """Console-script entry point."""
    # Most of this process's objects come from imports (ansible, pydantic models) and
    # live until it exits: collect less often while they pile up, keep the ones made so
    # far out of the collector's sight, and spare its last pass over everything at exit
    # (together ~0.1 s of every run). Cyclic garbage is still collected; evidence is
    # written and fsynced, and the standard streams flushed, whatever the collector does.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        cli(prog_name="butler-maint")
    finally:
        gc.freeze()

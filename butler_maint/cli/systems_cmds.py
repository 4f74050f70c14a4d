"""Commands about systems: ``diagnose`` (a run's failures by system, roots first)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.options import vault_password_file_option
from butler_maint.cli.render import term
from butler_maint.cli.systems import project_systems
from butler_maint.evidence.store import EvidenceStore


@cli.command()
@click.argument("report_id", metavar="[REPORT]", default="latest")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "-i", "--inventory", type=click.Path(exists=True, path_type=Path), default=None,
    help="Inventory whose hosts make up the systems (default: butler.yaml's).",
)  # fmt: skip
@vault_password_file_option
@pass_app
def diagnose(
    app: App, report_id: str, fmt: str, inventory: Path | None, vault_password_file: Path | None
) -> None:
    """Group a report's failures by system (default: the latest report).

    A failing system that depends on another failing system is shown under it,
    "probably caused by" it, so you start at the root. Every failure is listed; the
    report keeps every result. Systems and their hosts are read from systems/*.yaml
    and the inventory as they are now. Exit 0 whatever the report holds.
    """
    from butler_maint.systems.diagnose import diagnose as diagnose_report
    from butler_maint.systems.diagnose import diagnosis_lines

    report = EvidenceStore.for_project(app.root, app.config.evidence).load(report_id)
    found = diagnose_report(report, project_systems(app, inventory, vault_password_file))
    if fmt == "json":
        click.echo(json.dumps({"report": report.id, **found.to_dict()}, indent=2))
        return
    click.echo(term(f"{report.id}  {report.kind.value} {report.name}  {report.result.value}"))
    for line in diagnosis_lines(found):
        click.echo(term(line))

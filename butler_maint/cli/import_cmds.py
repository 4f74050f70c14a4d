"""``butler-maint import goss``: checklists from content other tools wrote."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from butler_maint.cli import cli
from butler_maint.errors import ContentError, ExitCode, Location

IMPORT_EXIT_CODES = """Exit codes: 0 the checklist was written and every goss key translated;
1 it was written, but some keys were not translated (or only in part): each is listed
on stderr and as a comment in the checklist; 2 bad input (unreadable goss file, goss
templates not rendered, nothing to translate, output file exists without --force)."""


@cli.group("import")
def import_group() -> None:
    """Translate content other tools wrote into butler-maint checklists."""


@import_group.command("goss", epilog=IMPORT_EXIT_CODES)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the checklist to this file, e.g. checklists/web.yaml (its name is the "
    "file name). Default: print it.",
)
@click.option("--name", help="Checklist name (default: the output's file name, else FILE's).")
@click.option("--hosts", default="all", show_default=True, help="Ansible host pattern.")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def goss(file: Path, output: Path | None, name: str | None, hosts: str, force: bool) -> None:
    """Translate the goss file FILE (goss.yaml) into a checklist.

    Every key that could not be translated, in whole or in part, is one line
    FILE:LINE: KEY: WHY on stderr and a comment in the checklist. The checklist
    validates; review it before use. FILE must be rendered (`goss render`) if it
    holds goss templates.
    """
    from butler_maint.importers.goss import import_goss

    name = _name(file, output, name)
    if output is not None and output.exists() and not force:
        raise ContentError.at(Location(output), "exists; pass --force to overwrite it")
    result = import_goss(file, name, hosts, shown=str(file))
    for note in result.notes:
        click.echo(f"import goss: {note}", err=True)
    if output is None:
        click.echo(result.text, nl=False)
    else:
        _write(output, result.text, force)
    where = "" if output is None else f" to {output}"
    click.echo(
        f"import goss: {len(result.checks)} checks written{where}; "
        f"{len(result.notes)} keys not translated or only in part",
        err=True,
    )
    if result.notes:
        raise SystemExit(ExitCode.FAILED)


def _name(file: Path, output: Path | None, name: str | None) -> str:
    """The checklist name: ``--name``, else the output's stem, else the goss file's."""
    if output is not None and name is not None and name != output.stem:
        raise click.UsageError(f"--name {name!r} must equal the output file name {output.stem!r}")
    if name is not None:
        return name
    return output.stem if output is not None else file.stem


def _write(path: Path, text: str, force: bool) -> None:
    """Write ``text`` whole (a temporary file renamed into place); never clobber
    an existing file without ``force``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        raise ContentError.at(Location(path), "exists; pass --force to overwrite it") from None
    finally:
        Path(tmp).unlink(missing_ok=True)

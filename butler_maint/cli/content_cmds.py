"""Commands about content itself: validate, schema, init."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from importlib import import_module
from pathlib import Path

import click

from butler_maint.cli import cli
from butler_maint.cli.context import App, pass_app
from butler_maint.cli.options import vault_id_option, vault_password_file_option
from butler_maint.errors import ExitCode

# name -> "module:Class"; imported on demand so `--help` stays fast.
SCHEMAS = {
    "checklist": "butler_maint.model.checklist:Checklist",
    "schedule": "butler_maint.model.schedule:Schedule",
    "freeze": "butler_maint.model.schedule:FreezeFile",
    "system": "butler_maint.model.system:System",
    "config": "butler_maint.model.config:ProjectConfig",
    "evidence": "butler_maint.evidence.model:Report",
}


def _shown(path: str | os.PathLike[str]) -> str:
    """A path relative to the current directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--syntax-check/--no-syntax-check",
    default=True,
    show_default=True,
    help="Run ansible-playbook --syntax-check on every playbook.",
)
@vault_password_file_option
@vault_id_option
@pass_app
def validate(
    app: App,
    paths: tuple[Path, ...],
    syntax_check: bool,
    vault_password_file: Path | None,
    vault_ids: tuple[str, ...],
) -> None:
    """Validate a content repository: schemas, references, templates, playbooks.

    Prints one line per problem as PATH:LINE:COL: MESSAGE. With PATHS (files, e.g.
    from a pre-commit hook), only problems in those files are shown; the repository
    is still read whole so references are checked. Exit 0 when clean, 2 otherwise.
    """
    from butler_maint.validate import validate_repo

    report = validate_repo(
        app.root,
        syntax_check=syntax_check,
        vault_password_file=vault_password_file,
        vault_ids=vault_ids,
    )
    problems = report.problems
    if paths:
        wanted = [p.resolve() for p in paths]
        problems = [p for p in problems if _within(Path(p.where.path), wanted)]
    for problem in problems:
        where = problem.where
        line = f":{where.line}:{where.col}" if where.line else ""
        click.echo(f"{_shown(where.path)}{line}: {problem.message}")
    counts = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    if problems:
        click.echo(f"validate: {len(problems)} problem(s) ({counts})", err=True)
        raise SystemExit(ExitCode.USAGE)
    click.echo(f"validate: ok ({counts})", err=True)


def _within(path: Path, wanted: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == w or w in resolved.parents for w in wanted)


@cli.command()
@click.argument("kind", type=click.Choice(sorted(SCHEMAS)), default="checklist")
def schema(kind: str) -> None:
    """Print the JSON Schema of a content file kind (for editor completion).

    Point your editor's YAML language server at it, e.g. a first line
    `# yaml-language-server: $schema=checklist.schema.json`.
    """
    module, _, name = SCHEMAS[kind].partition(":")
    model = getattr(import_module(module), name)
    click.echo(json.dumps(model.model_json_schema(by_alias=True), indent=2, sort_keys=True))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a non-empty directory.")
def init(directory: Path, force: bool) -> None:
    """Scaffold a content repository in DIRECTORY that validates clean.

    Writes an inventory, a checklist, a routine schedule, a maintenance window with a
    freeze period, a patch playbook, butler.yaml, .gitignore and a pre-commit config
    that runs `butler-maint validate`. Existing files are never overwritten. When git
    is installed, the directory becomes a git repository whose pre-commit hook runs
    `butler-maint validate` with this Python.
    """
    from butler_maint.scaffold import git_init, scaffold

    written = scaffold(directory, force=force)
    for path in written:
        click.echo(f"created {_shown(path)}")
    click.echo(git_init(directory))
    click.echo(f"next: {_program()} -C {shlex.quote(_shown(directory))} validate", err=True)


def _program() -> str:
    """How to type this command: its bare name when that is on PATH, else its path."""
    beside = Path(sys.executable).parent / "butler-maint"
    on_path = shutil.which("butler-maint")
    if not beside.exists() or (on_path and Path(on_path).resolve() == beside.resolve()):
        return "butler-maint"
    return shlex.quote(_shown(beside))

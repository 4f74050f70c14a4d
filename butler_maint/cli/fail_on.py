"""``--fail-on SEVERITY``, shared by ``check``, ``window run`` and ``run-due``: the
option, and its value as the threshold ``runs.verdict`` takes (None: any failure)."""

from __future__ import annotations

from typing import cast

import click

from butler_maint.evidence.model import SEVERITIES, Severity

FAIL_ON_HELP = (
    "Exit 1 only for failures (fail, error, unreachable) of this severity or above; "
    "failures without a severity (playbook tasks, schema 1.0 reports) count at any "
    "threshold; `any`: every failure. The evidence records every result as it was."
)

fail_on_option = click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["any", *SEVERITIES]),
    default="any",
    show_default=True,
    help=FAIL_ON_HELP,
)


def threshold(fail_on: str) -> Severity | None:
    """The severity ``--fail-on`` names; None for ``any``."""
    return None if fail_on == "any" else cast(Severity, fail_on)

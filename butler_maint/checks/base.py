"""What every check type provides: a shell fragment and a pure judge of its output.

A fragment is POSIX ``sh`` run on the host inside the per-host script (one round trip
per host). It prints what the judge needs on stdout; every value from content reaches
it through ``shlex.quote`` (``q``). The judge turns ``(spec, Raw)`` into a ``Verdict``
without touching any host, so golden files ``{spec, rc, stdout} -> status, observed``
test it. Text that came from a host is data: never rendered as a template.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from butler_maint.model.status import Status as Status  # noqa: PLC0414 - re-exported for check types


def q(value: object) -> str:
    """Quote one value for the shell: the ONE place content reaches a command line."""
    return shlex.quote(str(value))


@dataclass(frozen=True)
class Raw:
    """What a fragment produced on the host."""

    rc: int
    stdout: str
    stderr: str = ""


@dataclass(frozen=True)
class Verdict:
    """A judged result: observed and expected are short, human-readable values."""

    status: Status
    observed: Any = None
    expected: str | None = None
    message: str = ""


def error(message: str, observed: Any = None, expected: str | None = None) -> Verdict:
    """A check that could not be evaluated (missing tool, unparsable output...)."""
    return Verdict(Status.ERROR, observed, expected, message)


def verdict(ok: bool, observed: Any, expected: str, message: str = "") -> Verdict:
    """``pass`` when ``ok``, else ``fail``, with observed and expected values."""
    return Verdict(Status.PASS if ok else Status.FAIL, observed, expected, message)


@dataclass(frozen=True)
class CheckType:
    """A check type: ``fragment(spec) -> sh`` and ``judge(spec, raw) -> Verdict``."""

    name: str
    fragment: Callable[[Any], str]
    judge: Callable[[Any, Raw], Verdict]

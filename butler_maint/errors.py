"""The one error tree of butler-maint and the exit codes it maps to.

A failed check is data (``status: fail``), never an exception: these errors are for
bad input, unusable environments and runs that could not happen at all. The CLI
renders them in one place (``butler_maint.cli``).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes; cron and CI rely on them, so they never change meaning."""

    OK = 0
    FAILED = 1  # something failed, errored, was unreachable, or evidence is broken
    USAGE = 2  # bad input: usage, configuration or content error
    CANNOT_RUN = 3  # could not run: lock held, evidence store unusable
    SIGHUP = 129
    SIGINT = 130
    SIGTERM = 143


STOP_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
"""Signals that interrupt a run: what was done is still recorded (report ``interrupted``)
and the command exits with 128 + the signal number. SIGHUP is among them: an operator's
SSH session that drops mid-window must not lose the run's report."""


class ButlerError(Exception):
    """Base of every error butler-maint raises on purpose."""

    exit_code: ExitCode = ExitCode.USAGE

    def render(self) -> str:
        """Return the message shown to the user."""
        return str(self)


@dataclass(frozen=True)
class Location:
    """A place in a content file; ``line`` and ``col`` are 1-based."""

    path: Path | str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.col}"
        return str(self.path)


@dataclass(frozen=True)
class Problem:
    """One content problem: where it is and what was expected."""

    where: Location
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ContentError(ButlerError):
    """One or more problems in content files (checklists, schedules, config...)."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def at(cls, where: Location, message: str) -> ContentError:
        """Build an error holding a single problem."""
        return cls([Problem(where, message)])


class InventoryError(ButlerError):
    """An inventory could not be read or a host pattern matched nothing."""


class CannotRunError(ButlerError):
    """The run could not start: a lock is held, the evidence store is unusable..."""

    exit_code = ExitCode.CANNOT_RUN

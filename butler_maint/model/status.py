"""The one vocabulary of result statuses: a check on a host, a playbook task on a host.

Check judges, the runner, waivers, the evidence report, KPIs and every output use this
enum (a ``StrEnum``: each member is also its plain string, as written in reports).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Status(StrEnum):
    """Status of one result (a check on a host, or a playbook task on a host)."""

    PASS = "pass"  # noqa: S105
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    UNREACHABLE = "unreachable"
    PENDING = "pending"
    NOT_RUN = "not_run"
    WAIVED = "waived"


FAILING = frozenset({Status.FAIL, Status.ERROR, Status.UNREACHABLE})
"""Statuses that make a host, a run and the command's exit code fail."""


class Judged(Protocol):
    """One judged result as every consumer reads it: an evidence ``Result`` and the
    runner's ``CheckResult`` both are one (waivers, JUnit)."""

    @property
    def host(self) -> str: ...
    @property
    def check(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def observed(self) -> object: ...
    @property
    def expected(self) -> str | None: ...
    @property
    def ms(self) -> int: ...
    @property
    def message(self) -> str | None: ...

"""What travels through the broker, as JSON (never pickle): a shard and its outcome.

A shard names the checklist by its repo-relative path and the check ids to run (with
the ``retries``/``delay`` a window step gives them), never the commands: the worker
runs its OWN content, after checking that it is the content the controller recorded
(``content``). Host runs come back as plain data and become the runner's own types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from butler_maint.checks.runner import CheckResult, HostRun
from butler_maint.checks.testinfra import SubResult
from butler_maint.executors import Segment
from butler_maint.model.status import Status


class Wire(BaseModel):
    """Base of the wire models: unknown fields are an error (a different version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ShardCheck(Wire):
    """One check of the shard, with the retries and delay it runs with."""

    id: str
    retries: int = Field(0, ge=0)
    delay: float = Field(5.0, ge=0)


class Content(Wire):
    """The content the controller recorded: its git commit and the files the job reads."""

    git_commit: str | None = None
    files: dict[str, str] = Field(description="Repo-relative path -> sha256:HEX.")


class Shard(Wire):
    """One segment's part of a checklist job."""

    id: str
    namespace: str
    segment: str
    checklist: str = Field(description="Repo-relative path of the checklist file.")
    checks: list[ShardCheck]
    hosts: list[str]
    inventory: list[str] = Field(description="Repo-relative inventory sources.")
    forks: int = Field(20, ge=1)
    content: Content


class PlayShard(Wire):
    """One segment's part of a playbook step: the worker runs its own copy of the playbook."""

    id: str
    namespace: str
    segment: str
    playbook: str = Field(description="Repo-relative path of the playbook.")
    vars: dict[str, Any] = Field(default_factory=dict, description="The step's vars.")
    check_mode: bool = False
    hosts: list[str]
    inventory: list[str]
    content: Content


class PlayOutcome(Wire):
    """What a worker sends back for a playbook shard: the step as recorded, or a refusal."""

    worker: str
    deliveries: int = Field(1, ge=1)
    before: list[str] = Field(default_factory=list)
    refused: str | None = None
    step: dict[str, Any] | None = Field(None, description="The evidence PlaybookStep.")
    errors: list[str] = Field(default_factory=list, description="Errors of the run itself.")


class WireSub(Wire):
    """A testinfra test function's result."""

    name: str
    status: Status
    message: str = ""


class WireCut(Wire):
    """What is kept of an output too long to keep whole."""

    size: int
    kept: int
    sha256: str


class WireResult(Wire):
    """One check on one host."""

    host: str
    check: str
    status: Status
    observed: Any = None
    expected: str | None = None
    ms: int = 0
    message: str = ""
    kind: str = ""
    sub: list[WireSub] = Field(default_factory=list)
    cut: WireCut | None = None
    attempts: int = 1


class WireHostRun(Wire):
    """One host's results and how it was reached."""

    host: str
    results: list[WireResult]
    host_key: str | None = None
    reached: bool = True
    new_host_key: bool = False


class Outcome(Wire):
    """What a worker sends back: the host runs, or why it refused the shard."""

    worker: str
    deliveries: int = Field(1, ge=1, description="How many times the shard was taken.")
    before: list[str] = Field(
        default_factory=list, description="Workers that took the shard earlier and stopped."
    )
    refused: str | None = None
    runs: list[WireHostRun] = Field(default_factory=list)


def to_wire(run: HostRun) -> WireHostRun:
    """A host run as plain data."""
    return WireHostRun(
        host=run.host, host_key=run.host_key, reached=run.reached, new_host_key=run.new_host_key,
        results=[
            WireResult(
                host=r.host, check=r.check, status=r.status, observed=r.observed,
                expected=r.expected, ms=r.ms, message=r.message, kind=r.kind,
                sub=[WireSub(name=s.name, status=s.status, message=s.message) for s in r.sub],
                cut=WireCut(size=r.cut.size, kept=r.cut.kept, sha256=r.cut.sha256)
                if r.cut else None,
                attempts=r.attempts,
            )
            for r in run.results
        ],
    )  # fmt: skip


def from_wire(run: WireHostRun, worker: str, before: list[str]) -> HostRun:
    """A host run again, each result saying which worker ran it (and who took it before)."""
    results = [
        CheckResult(
            host=r.host, check=r.check, status=r.status, observed=r.observed,
            expected=r.expected, ms=r.ms, message=r.message, kind=r.kind,
            sub=tuple(SubResult(s.name, s.status, s.message) for s in r.sub),
            cut=Segment(b"", r.cut.size, r.cut.kept, r.cut.sha256) if r.cut else None,
            attempts=r.attempts, worker=worker, redelivered_from=tuple(before),
        )
        for r in run.results
    ]  # fmt: skip
    return HostRun(run.host, results, run.host_key, run.reached, run.new_host_key)

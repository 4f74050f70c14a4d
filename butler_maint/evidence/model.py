"""The evidence report, schema v1: statuses, results, steps and the report itself.

``Status`` (defined in ``model.status``, re-exported here) and ``Overall`` are the
project's one vocabulary of result statuses. ``Report.model_json_schema()`` is what
``butler-maint schema evidence`` emits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PlainSerializer

from butler_maint.model.base import Frozen
from butler_maint.model.status import FAILING as FAILING  # noqa: PLC0414 - re-exported
from butler_maint.model.status import Status as Status  # noqa: PLC0414 - re-exported

SCHEMA_VERSION: Literal[2] = 2
"""2: the digest is over the RFC 8785 (JCS) form; reports may be signed (``identity``,
``signer``, ``signature``) and approvals are entries of the chain (``decision``).
Version 1 reports are read and verified as they were written."""
SCHEMA_MINOR = 1
"""1.1: results carry title, severity, controls and attestations; window steps their
titles; window reports their batches. Reports without ``schema_minor`` are 1.0."""


class Overall(StrEnum):
    """Overall result of a run."""

    PASS = "pass"  # noqa: S105
    FAIL = "fail"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class Kind(StrEnum):
    """What ran: a checklist, a playbook, or a maintenance window of several steps."""

    CHECKLIST = "checklist"
    PLAYBOOK = "playbook"
    WINDOW = "window"
    APPROVAL = "approval"
    """A four-eyes decision (approval or revocation) recorded in the chain (schema 2)."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("expected a timezone-aware date and time")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def iso_z(value: datetime) -> str:
    """Format a UTC time the one way reports do: ``2026-11-29T01:00:02.123Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


UtcTime = Annotated[datetime, AfterValidator(_utc), PlainSerializer(iso_z, return_type=str)]
"""A timezone-aware time, stored in UTC with millisecond precision."""


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


Observed = bool | int | Annotated[float, AfterValidator(_finite)] | str | None
"""An observed value: a scalar or short text."""


class Output(Frozen):
    """Command or task output; long text keeps a head here and the rest in artifacts."""

    text: str
    truncated: bool = False
    bytes: int | None = Field(None, description="Size of the full text in UTF-8 bytes.")
    sha256: str | None = Field(None, description="sha256 of the full text (artifact name).")


class Before(Frozen):
    """What a check found before its remediation."""

    status: Status
    observed: Observed = None
    expected: str | None = None
    message: str | None = None


class Remediation(Frozen):
    """A result that is a re-check after a remediation playbook: which playbook, the
    report step (1-based) that recorded its run, and what the check found before."""

    playbook: str
    step: int = Field(ge=1)
    before: Before


class Attested(Frozen):
    """A manual item's attestation: the statement, the answer, who, when, the comment."""

    statement: str
    answer: Literal["yes", "no"]
    by: str
    at: UtcTime
    comment: str | None = None


Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
"""Severities, lowest first (``--fail-on`` compares by this order)."""


class Result(Frozen):
    """One check (or playbook task) on one host."""

    host: str
    check: str = Field(description="Check id, or task name for playbooks.")
    title: str | None = Field(None, description="The check's title (schema 1.1).")
    severity: Severity | None = Field(None, description="The check's severity (schema 1.1).")
    controls: list[str] | None = Field(
        None, description="Control references: the checklist's, then the check's (schema 1.1)."
    )
    status: Status
    observed: Observed = None
    expected: str | None = Field(None, description='What passes, e.g. "<= 85".')
    ms: int = Field(0, ge=0, description="Duration in milliseconds.")
    message: str | None = None
    sub: list[Result] | None = Field(None, description="Sub-results (e.g. testinfra tests).")
    output: Output | None = None
    attempts: int | None = Field(
        None, ge=2, description="How many times the check ran (retries), when more than once."
    )
    remediation: Remediation | None = Field(
        None, description="This result is the re-check after a remediation playbook."
    )
    attested: Attested | None = Field(None, description="A manual item's attestation.")
    worker: str | None = Field(
        None, description="The network segment's worker that ran it (absent: the controller)."
    )
    redelivered_from: list[str] | None = Field(
        None,
        description="Workers that took this host's shard before and stopped (killed, lost): "
        "the check ran again on the worker named in `worker`.",
    )


class HostStats(Frozen):
    """Ansible's per-host play recap."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


class ChecklistStep(Frozen):
    """A checklist run against hosts."""

    checklist: str
    title: str | None = Field(None, description="The window step's title (schema 1.1).")
    results: list[Result] = Field(default_factory=list)


class PlaybookStep(Frozen):
    """A playbook run: per-host recap and per-task results."""

    playbook: str
    title: str | None = Field(None, description="The window step's title (schema 1.1).")
    rc: int | None = Field(None, description="ansible-playbook's exit status.")
    status: str | None = Field(None, description="ansible-runner's: successful, failed...")
    check_mode: bool = Field(False, description="Run with --check (changes nothing).")
    hosts: dict[str, HostStats] = Field(default_factory=dict)
    results: list[Result] = Field(default_factory=list)
    remediates: list[str] | None = Field(
        None, description="Checks (checklist/check) this playbook ran to remediate."
    )


Step = ChecklistStep | PlaybookStep


class Trigger(Frozen):
    """Who or what started the run."""

    by: Literal["operator", "cron"] = "operator"
    schedule: str | None = Field(None, description="Schedule (window) name when scheduled.")
    occurrence: UtcTime | None = Field(None, description="The scheduled occurrence.")
    at: UtcTime | None = Field(
        None,
        description="The time `run-due --at` acted at: the run replayed a past time "
        "(left out when the run acted at the time it started).",
    )


class Override(Frozen):
    """A documented override (e.g. running inside a freeze period)."""

    reason: str
    by: str


class Approval(Frozen):
    """An approval recorded for the run (change ticket, approver)."""

    by: str
    ticket: str | None = None
    at: UtcTime | None = None
    note: str | None = None
    key: str | None = Field(
        None, description="Fingerprint of the approver's signing key (schema 2, signed)."
    )
    report: str | None = Field(
        None, description="Id of the approval's own entry in the chain (schema 2)."
    )


class Signer(Frozen):
    """Who signed a report: the principal of ``allowed_signers`` and the key's
    fingerprint (``SHA256:...``, as ``ssh-keygen -l`` prints it)."""

    principal: str
    key: str


class Decision(Frozen):
    """A four-eyes decision on one occurrence of a window (an ``approval`` entry)."""

    window: str
    occurrence: UtcTime
    action: Literal["approve", "revoke"]
    note: str | None = None


class Content(Frozen):
    """Provenance of the content used: commit, dirty flag, sha256 of every file."""

    git_commit: str | None = None
    dirty: bool | None = None
    files: dict[str, str] = Field(default_factory=dict, description="path -> sha256:HEX")


class Inventory(Frozen):
    """The inventory used: its sources, host count and a digest over the sources."""

    sources: list[str] = Field(default_factory=list)
    hosts: int = Field(0, ge=0)
    sha256: str | None = None


class Summary(Frozen):
    """Counts of top-level results per status."""

    total: int = 0
    passed: int = Field(0, alias="pass")
    fail: int = 0
    error: int = 0
    unreachable: int = 0
    skipped: int = 0
    pending: int = 0
    not_run: int = 0
    waived: int = 0

    def count(self, status: Status) -> int:
        """Number of results with ``status``."""
        return int(getattr(self, "passed" if status is Status.PASS else status.value))


class Failure(Frozen):
    """A failing result, repeated near the top of the report so it is found at once."""

    step: int = Field(description="1-based step number.")
    host: str
    check: str
    status: Status
    message: str | None = None


class Tier(Frozen):
    """A tier of a window run in dependency order: its systems and hosts, when it ran,
    and whether it passed its gating checks (a failed tier stops the tiers after it)."""

    systems: list[str] = Field(description="Its systems (none: hosts in no system).")
    hosts: list[str]
    result: Literal["pass", "fail", "stopped", "not_run"] = Field(
        description="pass; fail (a host failed a gating step or a playbook); stopped (cut "
        "short by the window's end, max_fail_percentage or a signal); not_run."
    )
    started: UtcTime | None = None
    finished: UtcTime | None = None
    reason: str | None = Field(None, description="Why it failed or did not run.")


class ReportDraft(Frozen):
    """What an executor hands to the store; the store adds id, chain and summary."""

    kind: Kind
    name: str = Field(description="Checklist, playbook or window name.")
    trigger: Trigger = Field(default_factory=Trigger)
    operator: str
    started: UtcTime
    finished: UtcTime
    dry_run: bool = False
    interrupted: bool = False
    error: str | None = Field(None, description="Why the run could not complete.")
    override: Override | None = None
    approval: Approval | None = None
    rerun_of: str | None = Field(
        None, description="Id of the report whose failed and not-run hosts this run re-ran."
    )
    stopped: str | None = Field(
        None, description="Why the run stopped before its end (max fail %, window end...)."
    )
    batches: list[list[str]] | None = Field(
        None, description="A window's batches of hosts, in the order they ran (schema 1.1)."
    )
    tiers: list[Tier] | None = Field(
        None, description="A window's tiers of systems, in the order they ran (optional)."
    )
    tools: dict[str, str] = Field(default_factory=dict)
    content: Content = Field(default_factory=Content)
    inventory: Inventory | None = None
    host_keys: dict[str, str] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    decision: Decision | None = Field(None, description="An approval entry's decision.")


class Report(Frozen):
    """One run's evidence, schema v1 (keys in this order on disk)."""

    butler_report: Literal[1, 2] = SCHEMA_VERSION
    id: str
    kind: Kind
    name: str
    result: Overall
    summary: Summary
    failures: list[Failure] = Field(default_factory=list)
    error: str | None = None
    dry_run: bool = False
    trigger: Trigger
    operator: str
    identity: Literal["declared", "signed"] | None = Field(
        None,
        description="How the operator is known (schema 2): `signed`, the principal of the "
        "key that signed the report; `declared`, a name given or taken from the login.",
    )
    signer: Signer | None = Field(None, description="The signing key (schema 2, signed).")
    started: UtcTime
    finished: UtcTime
    duration_ms: int = Field(ge=0)
    override: Override | None = None
    approval: Approval | None = None
    rerun_of: str | None = Field(
        None, description="Id of the report whose failed and not-run hosts this run re-ran."
    )
    stopped: str | None = Field(
        None, description="Why the run stopped before its end (max fail %, window end...)."
    )
    batches: list[list[str]] | None = Field(
        None, description="A window's batches of hosts, in the order they ran (schema 1.1)."
    )
    tiers: list[Tier] | None = Field(
        None, description="A window's tiers of systems, in the order they ran (optional)."
    )
    tools: dict[str, str] = Field(default_factory=dict)
    content: Content = Field(default_factory=Content)
    inventory: Inventory | None = None
    host_keys: dict[str, str] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    decision: Decision | None = Field(None, description="An approval entry's decision.")
    artifacts: str | None = Field(None, description="Artifacts dir, relative to the store.")
    migrated_from: int | None = Field(None, description="Schema version it was read from.")
    schema_minor: int | None = Field(
        None,
        description="Minor schema version: 1 adds result title/severity/controls, "
        "attestations, step titles and batches (absent: 1.0, read as is).",
    )
    previous: str | None = Field(description="Digest of the report before it in the store.")
    signature: str | None = Field(
        None,
        description="SSH signature (base64 of the SSHSIG blob) of the digest text; "
        "not part of the digest (schema 2).",
    )
    digest: str = Field(description="sha256 of the canonical form of this report.")

"""Systems: a business system above hosts and checklists, with its owner, vendor, the
systems it depends on and its service levels.

``systems/NAME.yaml`` says which hosts (an Ansible pattern) make up the system, which
checklists assess it, which schedules maintain it and what it depends on. The
dependency graph (cycles, tiers) is in :mod:`butler_maint.model.sysgraph`.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from butler_maint.model.base import Frozen, Text
from butler_maint.model.checklist import Name
from butler_maint.model.notify import Notify
from butler_maint.model.schedule import parse_duration


class ServiceLevels(Frozen):
    """Targets a system is measured against (each optional: no target, no verdict)."""

    pass_rate: float | None = Field(
        None, ge=0, le=100, description="Target % of the system's check results that pass."
    )
    on_time: float | None = Field(
        None,
        ge=0,
        le=100,
        description="Target % of its schedules' occurrences run inside their window.",
    )
    mttr: Text | None = Field(
        None, description="Target mean time to remediate a failing check, e.g. 4h or 2d."
    )
    maintenance_every: Text | None = Field(
        None,
        description="Maintenance frequency: at most this long between two runs of its "
        "schedules, e.g. 7d or 31d.",
    )

    @field_validator("mttr", "maintenance_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class System(Frozen):
    """``systems/NAME.yaml``: a business system, its hosts, dependencies and targets."""

    system: Name = Field(description="Name; must equal the file name without .yaml.")
    title: Text | None = None
    owner: Text | None = Field(None, description="Owning team (notifications may go to it).")
    vendor: Text | None = Field(None, description="Vendor that services it (service reports).")
    hosts: Text = Field(description="Ansible host pattern of the system's hosts.")
    checklists: list[Name] = Field(
        default_factory=list,
        description="Checklists that assess it (none: every checklist run on its hosts).",
    )
    schedules: list[Name] = Field(
        default_factory=list,
        description="Routines and windows that maintain it (none: those running one of "
        "its checklists).",
    )
    depends_on: list[Name] = Field(
        default_factory=list,
        description="Systems it needs (patched before it; diagnosed above it).",
    )
    service_levels: ServiceLevels = Field(default_factory=ServiceLevels)
    notify: list[Notify] = Field(
        default_factory=list,
        description="Where its owner hears of scheduled runs: `failure` fires when the "
        "run has failing results on the system, `recovery` when it has none after a run "
        "that failed, `always` for every run on its hosts.",
    )

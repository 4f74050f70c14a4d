"""A checklist: a named list of checks for a host pattern, with default vars."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from butler_maint.model.base import Frozen, Text, Vars
from butler_maint.model.checks import Check

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Name = Annotated[str, Field(pattern=NAME)]


class Checklist(Frozen):
    """``checklists/NAME.yaml``: what to check, on which hosts."""

    checklist: Name = Field(description="Name; must equal the file name without .yaml.")
    title: Text | None = None
    owner: Text | None = Field(None, description="Owning team or vendor (KPIs group by it).")
    controls: list[Text] = Field(default_factory=list, description="Standard references.")
    hosts: Text = Field("all", description="Ansible host pattern.")
    vars: Vars
    checks: list[Check] = Field(min_length=1)

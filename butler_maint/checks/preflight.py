"""Which templates of a checklist cannot render, and on which hosts: ``validate`` reports
them and a run refuses to start on them (exit 2), both at the template's file:line.

Everything a run renders on a host is rendered here the same way (``plan_host``):
the checklist's own vars (as the host sees them: an inventory var of the same name
wins), each check's ``when``, and the spec of each check whose ``when`` holds, typed
again after rendering. Pure: no host is contacted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import UndefinedError
from jinja2.runtime import Undefined
from pydantic import ValidationError

from butler_maint.checks.runner import host_vars, render_spec
from butler_maint.inventory import HostInfo
from butler_maint.model.base import dotted
from butler_maint.model.checklist import Checklist
from butler_maint.model.checks import Check
from butler_maint.model.yamldoc import YamlPath
from butler_maint.templating import (
    TemplateProblem,
    Unavailable,
    Variables,
    evaluate,
    render,
    resolving,
    templates_in,
)

SHOWN_HOSTS = 3


@dataclass
class RenderProblem:
    """A template that does not render: where it is, why (on the first host), and where."""

    path: YamlPath
    reason: str
    hosts: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """``checks[2].disk.path: cannot render ... (on host web01 and 4 more)``."""
        more = len(self.hosts) - SHOWN_HOSTS
        shown = ", ".join(self.hosts[:SHOWN_HOSTS]) + (f" and {more} more" if more > 0 else "")
        noun = "host" if len(self.hosts) == 1 else "hosts"
        return f"{dotted(self.path)}: {self.reason} (on {noun} {shown})"


def render_problems(
    checklist: Checklist,
    hosts: list[HostInfo],
    extra: Mapping[str, Any] | None = None,
    *,
    unavailable: bool = True,
) -> list[RenderProblem]:
    """Every template of ``checklist`` that cannot render on one of ``hosts``, in
    checklist order. ``unavailable=False`` leaves out what only this process lacks (an
    environment variable, a vault password): ``validate`` cannot judge those."""
    found: dict[YamlPath, RenderProblem] = {}
    templated = _templated(checklist)
    for host in hosts:
        for path, exc in _host_problems(checklist, templated, host, extra or {}):
            if isinstance(exc, Unavailable) and not unavailable:
                continue
            problem = found.setdefault(path, RenderProblem(path, str(exc)))
            problem.hosts.append(host.name)
    return list(found.values())


def _templated(checklist: Checklist) -> list[tuple[int, Check]]:
    """The checks that render anything (a ``when`` or a template in the spec): the
    others render the same on every host, as loaded and validated."""
    return [
        (i, check)
        for i, check in enumerate(checklist.checks)
        if check.when or any(True for _ in templates_in(check.spec))
    ]


def _host_problems(
    checklist: Checklist,
    templated: list[tuple[int, Check]],
    host: HostInfo,
    extra: Mapping[str, Any],
) -> Iterator[tuple[YamlPath, Exception]]:
    variables = resolving(host_vars(checklist, host, extra))
    for name in checklist.vars:
        try:
            _read(variables, name)
        except TemplateProblem as exc:
            yield ("vars", name), exc
    for i, check in templated:
        try:
            if check.when and not evaluate(check.when, variables):
                continue
        except TemplateProblem as exc:
            yield ("checks", i, "when"), exc
            continue
        yield from _spec_problems(i, check, variables)


def _read(variables: Variables, name: str) -> None:
    """Read a var as a template would: a var that renders undefined is an error here."""
    value = variables[name]
    if isinstance(value, Undefined):
        try:
            str(value)  # StrictUndefined: raises, saying what is undefined
        except UndefinedError as exc:
            raise TemplateProblem(exc.message or "undefined") from None


def _spec_problems(
    i: int, check: Check, variables: Variables
) -> Iterator[tuple[YamlPath, Exception]]:
    where: YamlPath = ("checks", i, check.kind)
    try:
        render_spec(check, variables)
    except TemplateProblem as exc:
        yield _failing_template(check, variables, where, exc)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = str(first["msg"]).removeprefix("Value error, ")
        problem = TemplateProblem(f"after rendering: {reason}")
        yield (*where, *(p for p in first["loc"] if isinstance(p, (str, int)))), problem


def _failing_template(
    check: Check, variables: Variables, where: YamlPath, exc: TemplateProblem
) -> tuple[YamlPath, Exception]:
    """The path of the first template of the spec that fails (the spec's when none does
    on its own)."""
    spec = check.spec if isinstance(check.spec, str) else check.spec.model_dump()
    for path, text in templates_in(spec):
        try:
            render(text, variables)
        except TemplateProblem as problem:
            return (*where, *path), problem
    return where, exc

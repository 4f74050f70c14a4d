"""Jinja2 templating of content values: sandboxed, StrictUndefined, per host.

Only content written by the team (checklist and inventory values) is ever rendered;
text that came from a host is data and never passes through here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from butler_maint.model.base import is_template

# Variables every host has without anyone defining them (names as in Ansible).
MAGIC_VARS = frozenset({"inventory_hostname", "group_names", "groups", "hostvars"})


class TemplateProblem(ValueError):
    """A template that does not compile or does not render."""


ENV_CALL = re.compile(r"""\benv\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
"""``env('NAME')`` in a template: the value is a secret (redacted wherever it shows)."""


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise TemplateProblem(f"environment variable {name} is not set")
    return value


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment (no autoescape: values go to shell fragments quoted).

    ``env('NAME')`` reads an environment variable (e.g. a token given by cron's
    environment); such values are treated as secrets.
    """
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals["env"] = _env
    return env


def env_names(text: str) -> set[str]:
    """Names of the environment variables a template reads with ``env()``."""
    return set(ENV_CALL.findall(text))


def variables_used(text: str) -> set[str]:
    """Names a template reads that it does not define itself."""
    try:
        ast = environment().parse(text)
    except TemplateError as exc:
        raise TemplateProblem(f"template does not compile: {exc}") from None
    return set(meta.find_undeclared_variables(ast))


def condition_variables(expression: str) -> set[str]:
    """Names a ``when`` expression reads."""
    return variables_used("{{ (" + expression + ") }}")


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Template:
    return environment().from_string(text)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render one template string; undefined names are errors (compiled once per text)."""
    try:
        return _compiled(text).render(variables)
    except TemplateError as exc:
        raise TemplateProblem(f"cannot render {text!r}: {exc}") from None


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` expression to a bool."""
    try:
        return bool(environment().compile_expression(expression)(**variables))
    except TemplateError as exc:
        raise TemplateProblem(f"cannot evaluate when {expression!r}: {exc}") from None


def templates_in(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, str]]:
    """Yield ``(path, text)`` for every template string inside a model or plain data."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from templates_in(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from templates_in(item, (*path, i))
    elif is_template(value):
        yield path, value


def render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render every template string inside plain data (dicts, lists, scalars)."""
    if isinstance(value, Mapping):
        return {k: render_data(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, variables) for v in value]
    if is_template(value):
        return render(value, variables)
    return value

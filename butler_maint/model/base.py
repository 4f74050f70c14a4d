"""Shared pieces of the content models: the frozen base, field types, and validation
of a parsed YAML document into a model with ``path:line:col`` errors."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from butler_maint.errors import ContentError, Problem
from butler_maint.model.yamldoc import PlainStr, YamlDoc, YamlPath, resolve_tree

_TEMPLATE = re.compile(r"{{|{%")


def is_template(value: object) -> bool:
    """True when ``value`` is a string holding Jinja2 syntax."""
    return isinstance(value, str) and bool(_TEMPLATE.search(value))


class Frozen(BaseModel):
    """Base of every content model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _number_or_template(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        if is_template(value):
            return str(value)
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    raise ValueError("expected a number or a {{ template }}")


def _text(value: Any) -> Any:
    if isinstance(value, PlainStr):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and "\0" in value:  # e.g. a template rendered to one
        raise ValueError(
            "a NUL character is not allowed: no host command, path or pattern can carry it "
            "(a shell drops it); expected text without it"
        )
    return value


MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def _local_path(value: str) -> str:
    encoded = [part.encode("utf-8", "surrogatepass") for part in value.split("/")]
    if sum(len(part) + 1 for part in encoded) > MAX_PATH_BYTES or any(
        len(part) > MAX_NAME_BYTES for part in encoded
    ):
        raise ValueError(
            f"expected a file path (at most {MAX_PATH_BYTES} bytes, {MAX_NAME_BYTES} per name)"
        )
    return value


Number = Annotated[int | float | str, BeforeValidator(_number_or_template)]
"""A number, or a Jinja2 template rendered per host to one."""

Text = Annotated[str, BeforeValidator(_text)]
"""A string; plain YAML scalars such as ``no`` or ``1.10`` keep the text written; a NUL
character is refused (no shell, path or ``grep`` pattern can carry it)."""

LocalPath = Annotated[Text, AfterValidator(_local_path)]
"""A path of this machine (from the repo root): a name the filesystem can hold."""

FreeValue = Annotated[Any, BeforeValidator(resolve_tree)]
"""Free-form data (vars): plain scalars resolve by YAML 1.2 core rules."""

Vars = Annotated[dict[str, FreeValue], Field(default_factory=dict)]

M = TypeVar("M", bound=BaseModel)


def _field_path(loc: tuple[int | str, ...], doc: YamlDoc) -> YamlPath:
    """Drop pydantic's internal loc parts (union branch names) not in the document."""
    path: list[str | int] = []
    for part in loc:
        candidate = (*path, part)
        if candidate in doc.marks or isinstance(part, int):
            path.append(part)
    return tuple(path)


def dotted(path: YamlPath) -> str:
    """A field path as users read it: ``checks[3].disk.max_used_pct``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "datetime_parsing": "expected a date and time (YYYY-MM-DDTHH:MM)",
    "datetime_from_date_parsing": "expected a date and time (YYYY-MM-DDTHH:MM)",
}


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see `butler-maint schema`)"
    if kind == "missing":
        return "required field is missing"
    msg = _EXPECTED.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, (str, int, float, bool)) and kind not in ("value_error",):
        shown = repr(str(given) if isinstance(given, str) else given)
        msg += f", got {shown[:60]}"
    return msg


def validate_doc(model: type[M], doc: YamlDoc, *, root: YamlPath = ()) -> M:
    """Validate ``doc`` (or the part at ``root``) into ``model`` or raise ContentError."""
    data = doc.data
    for part in root:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = (*root, *error["loc"])
            if error["type"] == "missing":
                parent = _field_path(loc[:-1], doc)
                where, label = doc.where(parent), dotted((*parent, loc[-1]))
            else:
                path = _field_path(loc, doc)
                where, label = doc.where(path), dotted(path)
            problems.append(Problem(where, f"{label}: {_message(error)}"))
        raise ContentError(_dedupe(problems)) from None


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out

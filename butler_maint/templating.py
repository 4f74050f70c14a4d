"""Jinja2 templating of content values: sandboxed, StrictUndefined, per host.

Only content written by the team (checklist and inventory values) is ever rendered;
text that came from a host is data and never passes through here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache, wraps
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from butler_maint.model.base import is_template
from butler_maint.model.checklist import Checklist

# Variables every host has without anyone defining them (names as in Ansible).
MAGIC_VARS = frozenset({"inventory_hostname", "group_names", "groups", "hostvars"})


class TemplateProblem(ValueError):
    """A template that does not compile, does not render, or computes past a bound."""


MAX_INT_BITS = 4096
"""Largest integer a template may compute (about 1,233 decimal digits)."""
MAX_LENGTH = 1_000_000
"""Longest string or list a template may build with ``*``, ``+``, ``%``, padding,
``replace``, ``join`` or ``format`` (a check value is never that long)."""

ENV_CALL = re.compile(r"""\benv\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")
"""``env('NAME')`` in a template: the value is a secret (redacted wherever it shows)."""

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FIELD_NUMBER = re.compile(r"\{[^{}]*?(\d+)[^{}]*\}|\{[^{}]*\{")
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def _too_big(what: str) -> TemplateProblem:
    return TemplateProblem(
        f"{what}; expected template arithmetic within {MAX_INT_BITS}-bit integers and "
        f"strings or lists of at most {MAX_LENGTH:,} items"
    )


def _size(value: Any) -> int | None:
    """Length of a string or list-like value, None for anything else."""
    return len(value) if isinstance(value, (str, list, tuple)) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _check_power(left: Any, right: Any) -> None:
    base, exponent = _int(left), _int(right)
    if base is None or exponent is None or exponent < 0 or abs(base) <= 1:
        return  # float arithmetic overflows at once; negative exponents give floats
    if exponent * math.log2(abs(base)) > MAX_INT_BITS:
        raise _too_big(f"{base} ** {exponent} has more than {MAX_INT_BITS} bits")


def _check_product(left: Any, right: Any) -> None:
    a, b = _int(left), _int(right)
    if a is not None and b is not None:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise _too_big(f"a product of more than {MAX_INT_BITS} bits")
        return
    for sized, times in ((left, right), (right, left)):
        length, count = _size(sized), _int(times)
        if length is not None and count is not None and length * count > MAX_LENGTH:
            raise _too_big(f"repeating {length} items {count} times")


def _check_sum(left: Any, right: Any) -> None:
    a, b = _size(left), _size(right)
    if a is not None and b is not None and a + b > MAX_LENGTH:
        raise _too_big(f"joining {a} and {b} items")


def _check_percent_format(text: str, args: Any) -> None:
    """``text % args``: no width or precision past ``MAX_LENGTH``, given or by ``*``."""
    values = args if isinstance(args, tuple) else (args,)
    for match in _PERCENT_SPEC.finditer(text):
        for given in match.groups():
            number = max((v for v in values if isinstance(v, int)), default=0)
            if given != "*":
                number = int(given or 0)
            if number > MAX_LENGTH:
                raise _too_big(f"a format width or precision of {number}")


def _check_modulo(left: Any, right: Any) -> None:
    if isinstance(left, str):
        _check_percent_format(left, right)


_CHECKS = {"**": _check_power, "*": _check_product, "+": _check_sum, "%": _check_modulo}


def checked_binop(operator: str, left: Any, right: Any) -> Any:
    """``left operator right``, refused (TemplateProblem) before it computes a result
    past ``MAX_INT_BITS`` or ``MAX_LENGTH``; ``9 ** (9 ** 9)`` never starts."""
    check = _CHECKS.get(operator)
    if check is not None:
        check(left, right)
    return SandboxedEnvironment.default_binop_table[operator](left, right)


def _check_format_string(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``text.format(...)``: field widths past ``MAX_LENGTH``, written or nested."""
    for match in _FIELD_NUMBER.finditer(text):
        number = match.group(1)
        if number is None:  # a nested field: its width comes from the arguments
            given = [*args, *kwargs.values()]
            number = str(max((v for v in given if isinstance(v, int)), default=0))
        if int(number) > MAX_LENGTH:
            raise _too_big(f"a format width of {number}")


def _check_replace(text: str, old: str, new: str, count: int | None = None) -> None:
    times = text.count(old) if count is None or count < 0 else min(count, text.count(old))
    if len(text) + times * (len(new) - len(old)) > max(MAX_LENGTH, len(text)):
        raise _too_big(f"replacing {times} times with {len(new)} characters")


def _check_join(separator: str, items: Any) -> None:
    length = _size(items)
    if length is not None and len(separator) * length > MAX_LENGTH:
        raise _too_big(f"joining {length} items with {len(separator)} characters")


def _check_width(text: Any, width: Any, lines: int = 1) -> None:
    size = len(width) if isinstance(width, str) else _int(width)
    if size is not None and size * lines > max(MAX_LENGTH, _size(text) or 0):
        raise _too_big(f"padding to a width of {size}")


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Bounds of the ``str`` methods that build long strings from short arguments."""
    target = getattr(method, "__wrapped__", method)
    owner, name = getattr(target, "__self__", None), getattr(target, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _WIDTH_METHODS and args:
        _check_width(owner, args[0])
    elif name == "expandtabs":
        _check_width(owner, (args or [8])[0], owner.count("\t"))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        _check_replace(owner, args[0], str(args[1]), args[2] if len(args) > 2 else None)
    elif name == "join" and args:
        _check_join(owner, args[0])
    elif name in ("format", "format_map"):
        _check_format_string(owner, args, kwargs)


def _bounded_filters(env: SandboxedEnvironment) -> None:
    """Wrap the filters that build long strings so they check their arguments first."""
    checks: dict[str, Callable[..., None]] = {
        "center": lambda value, width=80, *_: _check_width(value, width),
        "indent": lambda value, width=4, *_, **__: _check_width(
            value, width, str(value).count("\n") + 1
        ),
        "replace": lambda value, old, new, count=None: _check_replace(
            str(value), str(old), str(new), count
        ),
        "join": lambda value, d="", *_, **__: _check_join(str(d), list(value)),
        "format": lambda value, *args, **kwargs: _check_percent_format(str(value), kwargs or args),
    }
    for name, check in checks.items():
        env.filters[name] = _guarded(env.filters[name], check)


def _guarded(original: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
    passes_context = getattr(original, "jinja_pass_arg", None) is not None

    @wraps(original)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(*(args[1:] if passes_context else args), **kwargs)
        return original(*args, **kwargs)

    return guarded


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, with arithmetic and string building bounded (``checked_binop``)."""

    intercepted_binops = frozenset(_CHECKS)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return checked_binop(operator, left, right)

    def call(
        __self,  # the sandbox's own signature: ``self`` stays free for keyword arguments
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise TemplateProblem(f"environment variable {name} is not set")
    return value


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment (no autoescape: values go to shell fragments quoted).

    ``env('NAME')`` reads an environment variable (e.g. a token given by cron's
    environment); such values are treated as secrets. Arithmetic and string building
    are bounded (``MAX_INT_BITS``, ``MAX_LENGTH``) so no template can hang a run;
    ``lipsum`` (text of any length) is not offered.
    """
    env = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals["env"] = _env
    env.globals.pop("lipsum", None)
    _bounded_filters(env)
    return env


def env_names(text: str) -> set[str]:
    """Names of the environment variables a template reads with ``env()``."""
    return set(ENV_CALL.findall(text))


class _NotConstant(Exception):
    """An expression that reads a variable or calls something: judged at render time."""


def _fold(node: nodes.Node) -> Any:
    """The value of a constant arithmetic expression, computed within the bounds."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.BinExpr):
        return checked_binop(node.operator, _fold(node.left), _fold(node.right))
    if isinstance(node, nodes.Neg):
        return -_fold(node.node)
    if isinstance(node, nodes.Pos):
        return +_fold(node.node)
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [_fold(item) for item in node.items]
    raise _NotConstant


def _check_arithmetic(ast: nodes.Template) -> None:
    """Constant arithmetic past the bounds, or that cannot be computed, is an error now
    (``validate``), not a host's error at run time."""
    for expr in ast.find_all(nodes.BinExpr):
        try:
            _fold(expr)
        except _NotConstant:
            continue
        except TemplateProblem:
            raise
        except (ArithmeticError, ValueError, TypeError) as exc:
            reason = "result out of range" if isinstance(exc, OverflowError) else str(exc)
            raise TemplateProblem(f"template arithmetic fails: {reason}") from None


def _unknown_name_hint(message: str) -> str:
    if message.startswith(("No filter named", "No test named")):
        return (
            f"{message.rstrip('.')}; expected one of Jinja2's built-in filters and tests "
            "(Ansible's own, such as bool or to_json, are not available here)"
        )
    return message


def variables_used(text: str) -> set[str]:
    """Names a template reads that it does not define itself; TemplateProblem when it does
    not compile (syntax, unknown filter or test) or its constant arithmetic is out of
    bounds."""
    try:
        ast = environment().parse(text)
        _check_arithmetic(ast)
        return set(meta.find_undeclared_variables(ast))
    except TemplateError as exc:
        message = _unknown_name_hint(str(exc.message or exc))
        raise TemplateProblem(f"template does not compile: {message}") from None
    except RecursionError:
        raise TemplateProblem("template does not compile: nested too deeply") from None
    except (ValueError, TypeError, ArithmeticError) as exc:
        if isinstance(exc, TemplateProblem):
            raise
        raise TemplateProblem(f"template does not compile: {exc}") from None


def condition_variables(expression: str) -> set[str]:
    """Names a ``when`` expression reads."""
    return variables_used("{{ (" + expression + ") }}")


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Template:
    return environment().from_string(text)


# Rendering runs the template's own expressions: whatever they raise (a division by
# zero, a bound, a recursion limit, a bad method call) is a problem of that template.
def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render one template string; undefined names are errors (compiled once per text)."""
    try:
        return _compiled(text).render(variables)
    except TemplateProblem as exc:
        raise TemplateProblem(f"cannot render {text!r}: {exc}") from None
    except Exception as exc:  # see above
        raise TemplateProblem(f"cannot render {text!r}: {_reason(exc)}") from None


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` expression to a bool."""
    try:
        return bool(environment().compile_expression(expression)(**variables))
    except TemplateProblem as exc:
        raise TemplateProblem(f"cannot evaluate when {expression!r}: {exc}") from None
    except Exception as exc:  # as for render
        raise TemplateProblem(f"cannot evaluate when {expression!r}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, TemplateError):
        return _unknown_name_hint(str(exc))
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"{type(exc).__name__}: {exc}"


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


Reader = Callable[[str], set[str]]
"""``variables_used`` or ``condition_variables``: the names a template reads."""


def checklist_templates(
    checklist: Checklist,
) -> Iterator[tuple[tuple[str | int, ...], Reader, str]]:
    """Every template of a checklist (vars, check specs, ``when``) with its reader."""
    for path, text in templates_in(checklist.vars, ("vars",)):
        yield path, variables_used, text
    for i, check in enumerate(checklist.checks):
        spec = check.spec if isinstance(check.spec, str) else check.spec.model_dump()
        for path, text in templates_in(spec, ("checks", i, check.kind)):
            yield path, variables_used, text
        if check.when:
            yield ("checks", i, "when"), condition_variables, check.when


def render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render every template string inside plain data (dicts, lists, scalars)."""
    if isinstance(value, Mapping):
        return {k: render_data(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, variables) for v in value]
    if is_template(value):
        return render(value, variables)
    return value

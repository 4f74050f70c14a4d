"""Jinja2 templating of content values: sandboxed, StrictUndefined, per host.

Only content written by the team (checklist and inventory values) is ever rendered;
text that came from a host is data and never passes through here.

As in Ansible: a variable whose value is itself a template (``p: "{{ base }}/x"``,
an inventory var too) renders when a template reads it, with the same variables, and a
value that is one expression keeps its type (``ports: "{{ [22, 80] }}"`` is a list);
a variable that refers back to itself is an error naming the loop. Ansible's own filters
and tests come from ansible-core (``template_plugins``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache, wraps
from itertools import chain, islice
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, UndefinedError, meta, nodes
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from butler_maint.errors import InventoryError
from butler_maint.model.base import is_template
from butler_maint.model.checklist import Checklist
from butler_maint.template_plugins import PluginProblem, ansible_plugins

# Variables every host has without anyone defining them (names as in Ansible).
MAGIC_VARS = frozenset({"inventory_hostname", "group_names", "groups", "hostvars"})


class TemplateProblem(ValueError):
    """A template that does not compile, does not render, or computes past a bound."""


class Unavailable(TemplateProblem):
    """A value the template needs is not available in this process: an environment
    variable that is not set, a vault value without its password (``validate`` cannot
    judge such a template; a run cannot render it)."""


class _Resolving(TemplateProblem):
    """A variable the template reads could not be rendered (already says which)."""


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
        raise Unavailable(f"environment variable {name} is not set")
    return value


def _concat_native(values: Iterable[Any]) -> Any:
    """Ansible's result of a template: one expression keeps its value, else text."""
    parts = iter(values)
    head = list(islice(parts, 2))
    if len(head) == 1:
        if isinstance(head[0], Undefined):
            str(head[0])  # StrictUndefined: raises "'x' is undefined"
        return head[0]
    return "".join(str(v) for v in chain(head, parts))


class _NativeCodeGenerator(NativeCodeGenerator):
    """Expressions stay values even when constant (``{{ [22, 80] }}`` is a list, not its
    text): only the template's own text is folded."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Any, finalize: Any) -> Any:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible
        return super()._output_child_to_const(node, frame, finalize)


class _NativeEnvironment(_BoundedEnvironment):
    """The same sandbox for variables' own templates: a single expression keeps its type."""

    code_generator_class = _NativeCodeGenerator
    concat = staticmethod(_concat_native)


def _setup(env: SandboxedEnvironment) -> SandboxedEnvironment:
    env.globals["env"] = _env
    env.globals.pop("lipsum", None)
    _bounded_filters(env)
    filters, tests = ansible_plugins(MAX_LENGTH)
    env.filters.update({k: v for k, v in filters.items() if k not in env.filters})
    env.tests.update({k: v for k, v in tests.items() if k not in env.tests})
    return env


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """The one sandboxed environment (no autoescape: values go to shell fragments quoted).

    ``env('NAME')`` reads an environment variable (e.g. a token given by cron's
    environment); such values are treated as secrets. Arithmetic and string building
    are bounded (``MAX_INT_BITS``, ``MAX_LENGTH``) so no template can hang a run;
    ``lipsum`` (text of any length) is not offered. Jinja2's filters and tests, then
    ansible-core's (``template_plugins``) under the names Jinja2 does not already use.
    """
    return _setup(_BoundedEnvironment(undefined=StrictUndefined, autoescape=False))


@lru_cache(maxsize=1)
def _native_environment() -> SandboxedEnvironment:
    return _setup(_NativeEnvironment(undefined=StrictUndefined, autoescape=False))


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
            f"{message.rstrip('.')}; expected one of Jinja2's or ansible-core's builtin "
            "filters and tests (those reading the controller, such as expanduser or the "
            "file tests, and collections' filters are not available)"
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


@lru_cache(maxsize=4096)
def _compiled_native(text: str) -> Template:
    return _native_environment().from_string(text)


class Variables(Mapping[str, Any]):
    """The variables of one host, read the way Ansible reads them: a value holding a
    template renders on first read (with these same variables, once), a loop is an
    error, and a value whose template reads an undefined variable is itself undefined
    (``| default`` and ``is defined`` work on it). Jinja2's globals come last.

    Not shared between threads: one per host being planned."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values
        self._globals = environment().globals
        self._done: dict[str, Any] = {}
        self._reading: list[str] = []

    def __contains__(self, key: object) -> bool:
        return key in self._values or key in self._globals

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._globals), **dict.fromkeys(self._values)})

    def __len__(self) -> int:
        return len(set(self._values) | set(self._globals))

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            return self._globals[key]
        if key in self._done:
            return self._done[key]
        value = self._values[key]
        if not _holds_template(value):
            return value
        if key in self._reading:
            loop = " -> ".join([*self._reading[self._reading.index(key) :], key])
            raise _Resolving(f"recursive loop in variables: {loop}")
        self._reading.append(key)
        try:
            self._done[key] = self._resolve(key, value)
        finally:
            self._reading.pop()
        return self._done[key]

    def _resolve(self, key: str, value: Any) -> Any:
        try:
            return _render_tree(value, self)
        except _Resolving:
            raise
        except UndefinedError as exc:
            return StrictUndefined(hint=f"variable {key}: {exc.message}")
        except Unavailable as exc:
            raise Unavailable(f"variable {key}: {exc}") from None
        except InventoryError as exc:
            raise Unavailable(f"variable {key}: {exc}") from None
        except Exception as exc:  # the variable's template failed: say which variable
            raise _Resolving(f"variable {key}: {_reason(exc)}") from None


def _holds_template(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_holds_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_template(v) for v in value)
    return is_template(value)


def _render_tree(value: Any, variables: Variables) -> Any:
    """A variable's value with its templates rendered natively (raw exceptions)."""
    if isinstance(value, Mapping):
        return {k: _render_tree(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, variables) for v in value]
    if is_template(value):
        return _run(_compiled_native(value), variables)
    return value


def _run(template: Template, variables: Variables) -> Any:
    context = template.new_context(variables, shared=True)  # type: ignore[arg-type]
    return template.environment.concat(template.root_render_func(context))


def resolving(variables: Mapping[str, Any]) -> Variables:
    """``variables`` read the Ansible way (:class:`Variables`); as it is when it already is."""
    return variables if isinstance(variables, Variables) else Variables(variables)


# Rendering runs the template's own expressions: whatever they raise (a division by
# zero, a bound, a recursion limit, a bad method call) is a problem of that template.
def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render one template string; undefined names are errors (compiled once per text)."""
    try:
        return str(_run(_compiled(text), resolving(variables)))
    except Unavailable as exc:
        raise Unavailable(f"cannot render {text!r}: {exc}") from None
    except TemplateProblem as exc:
        raise TemplateProblem(f"cannot render {text!r}: {exc}") from None
    except InventoryError as exc:
        raise Unavailable(f"cannot render {text!r}: {exc}") from None
    except Exception as exc:  # see above
        raise TemplateProblem(f"cannot render {text!r}: {_reason(exc)}") from None


@lru_cache(maxsize=1024)
def _expression(text: str) -> Template:
    return environment().compile_expression(text)._template


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a ``when`` expression to a bool."""
    try:
        template = _expression(expression)
        context = template.new_context(resolving(variables), shared=True)  # type: ignore[arg-type]
        for _ in template.root_render_func(context):
            pass
        return bool(context.vars["result"])
    except Unavailable as exc:
        raise Unavailable(f"cannot evaluate when {expression!r}: {exc}") from None
    except TemplateProblem as exc:
        raise TemplateProblem(f"cannot evaluate when {expression!r}: {exc}") from None
    except InventoryError as exc:
        raise Unavailable(f"cannot evaluate when {expression!r}: {exc}") from None
    except Exception as exc:  # as for render
        raise TemplateProblem(f"cannot evaluate when {expression!r}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, TemplateError):
        return _unknown_name_hint(str(exc))
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, (TemplateProblem, PluginProblem)):
        return str(exc)
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
    variables = resolving(variables)
    if isinstance(value, Mapping):
        return {k: render_data(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_data(v, variables) for v in value]
    if is_template(value):
        return render(value, variables)
    return value

"""The ``command`` check: any shell command, judged on its exit status and stdout.

``run`` is a shell command by design (it comes from reviewed content, never from a
host) and runs under ``sh -c``; ``become`` is the executor's business. The stdout
regexes are ERE in the spec and evaluated with Python's ``re.search`` in multi-line
mode (``^``/``$`` match at each line, as grep does): the same for the usual patterns,
not for POSIX classes such as ``[[:digit:]]``. Numeric comparisons use the first
number in the stripped stdout.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import first_number, fmt, num, shown
from butler_maint.model.checks import CommandExpect, CommandSpec

_SNIPPET = 60
_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "lt": ("<", operator.lt),
    "le": ("<=", operator.le),
    "gt": (">", operator.gt),
    "ge": (">=", operator.ge),
    "eq": ("==", operator.eq),
}


def command_fragment(spec: CommandSpec) -> str:
    """``sh -c RUN``: the command's own stdout, stderr and exit status are the output."""
    return f"sh -c {q(spec.run)}\n"


def _comparisons(expect: CommandExpect) -> list[tuple[str, Callable[[float, float], bool], float]]:
    out = []
    for field, (symbol, op) in _COMPARISONS.items():
        limit = getattr(expect, field)
        if limit is not None:
            out.append((symbol, op, num(limit)))
    return out


def _expected(expect: CommandExpect) -> str:
    parts = [f"rc {expect.rc}"] if expect.rc is not None else []
    if expect.stdout is not None:
        parts.append(f"stdout ~ /{expect.stdout}/")
    if expect.stdout_not is not None:
        parts.append(f"stdout !~ /{expect.stdout_not}/")
    parts += [f"value {symbol} {shown(limit)}" for symbol, _, limit in _comparisons(expect)]
    return ", ".join(parts) or "any result"


def _search(pattern: str, text: str) -> bool | None:
    try:
        return re.search(pattern, text, re.MULTILINE) is not None
    except re.error:
        return None


def _snippet(stdout: str) -> str:
    text = stdout.strip().splitlines()[0] if stdout.strip() else ""
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 3] + "..."


def command_judge(spec: CommandSpec, raw: Raw) -> Verdict:
    """Exit status, stdout regexes and numeric bounds against ``expect``."""
    expect, stdout = spec.expect, raw.stdout
    expected = _expected(expect)
    ok = expect.rc is None or raw.rc == expect.rc
    for pattern, wanted in ((expect.stdout, True), (expect.stdout_not, False)):
        if pattern is not None:
            found = _search(pattern, stdout)
            if found is None:
                return error(f"invalid regex /{pattern}/", expected=expected)
            ok = ok and found == wanted
    comparisons = _comparisons(expect)
    if not comparisons:
        return verdict(ok, f"rc {raw.rc}, stdout {_snippet(stdout)!r}", expected)
    value = first_number(stdout.strip())
    if value is None:
        return error("could not parse a number in the output", f"rc {raw.rc}", expected)
    ok = ok and all(op(value, limit) for _, op, limit in comparisons)
    return verdict(ok, f"rc {raw.rc}, value {fmt(value, 6)}", expected)


COMMAND = CheckType("command", command_fragment, command_judge)

"""Helpers shared by the check types: shell snippets, output parsing, number formatting.

Fragments print ``key=value`` lines (plus, where noted, a tool's own stable output)
and exit with ``MISSING_RC`` after a ``missing=tool1,tool2`` line when the host lacks
every tool a check could use. Judges parse that output with the helpers here.
"""

from __future__ import annotations

import re

from butler_maint.checks.base import Raw, Verdict, error, verdict

MISSING_RC = 127
"""Exit status of a fragment that found none of the tools it needs."""

HEAD = "LC_ALL=C; export LC_ALL\n"
"""First line of every fragment: stable, parsable tool output."""

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def has(tool: str) -> str:
    """A sh condition true when ``tool`` is on the PATH."""
    return f"command -v {tool} >/dev/null 2>&1"


def missing(*tools: str) -> str:
    """The sh statement reporting that none of ``tools`` exists on the host."""
    return f"{{ echo missing={','.join(tools)}; exit {MISSING_RC}; }}"


def kv(stdout: str) -> dict[str, str]:
    """``key=value`` lines of ``stdout`` (the last value of a repeated key wins)."""
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            out[key.strip()] = value.strip()
    return out


def kv_all(stdout: str, key: str) -> list[str]:
    """Every value of the repeated ``key=value`` line ``key``."""
    prefix = key + "="
    return [line[len(prefix) :] for line in stdout.splitlines() if line.startswith(prefix)]


def tool_missing(raw: Raw) -> Verdict | None:
    """An error verdict when the fragment reported missing tools, else None."""
    if raw.rc == MISSING_RC and "missing" in (values := kv(raw.stdout)):
        return error(f"missing on the host: {values['missing'].replace(',', ', ')}")
    return None


def last_line(text: str, limit: int = 200) -> str:
    """The last non-blank line of ``text``, shortened: for error messages."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def failed(what: str, raw: Raw) -> Verdict:
    """An error verdict for a tool that failed on the host, with its last stderr line."""
    return failed_rc(what, str(raw.rc), raw.stderr or raw.stdout)


def failed_rc(what: str, rc: str, stderr: str) -> Verdict:
    """Like ``failed`` for a tool whose exit status the fragment printed as text."""
    detail = last_line(stderr)
    return error(f"{what} failed (exit {rc or '?'})" + (f": {detail}" if detail else ""))


def num(value: object) -> float:
    """A spec number (int, float or numeric text after rendering) as a float."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value))


def first_number(text: str) -> float | None:
    """The first number written in ``text``, or None."""
    match = _NUMBER.search(text)
    return float(match.group()) if match else None


def fmt(value: float, digits: int = 2) -> int | float:
    """A number for display: an int when integral, else rounded to ``digits``."""
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded


def shown(value: object) -> str:
    """A spec value as text for ``expected`` strings (``85`` not ``85.0``)."""
    if isinstance(value, float):
        return str(fmt(value, 6))
    return str(value)


def bounds(low: float | None, high: float | None, unit: str = "") -> str:
    """Text of a range such as ``>= 1``, ``<= 5`` or ``1..5``."""
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"== {shown(low)}{suffix}" if low == high else f"{shown(low)}..{shown(high)}{suffix}"
    if low is not None:
        return f">= {shown(low)}{suffix}"
    return f"<= {shown(high)}{suffix}"


def combine(checks: list[tuple[bool, str, str]], kind: str) -> Verdict:
    """One verdict from ``(ok, observed, expected)`` parts of a thing that exists."""
    if not checks:
        return verdict(True, "exists", "exists")
    failed_parts = [obs for ok, obs, _ in checks if not ok]
    message = f"{kind} differs: {', '.join(failed_parts)}" if failed_parts else ""
    observed = ", ".join(obs for _, obs, _ in checks)
    return verdict(not failed_parts, observed, ", ".join(exp for *_, exp in checks), message)

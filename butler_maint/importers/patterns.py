"""goss's line patterns, rewritten for the engines butler-maint checks use.

goss matches file contents, command output and HTTP bodies line by line with patterns:
``foo`` (a line contains foo), ``!foo`` (no line does), ``\\!foo`` (a line contains
``!foo``), ``/re/`` (a line matches the Go regex ``re``) and ``!/re/``. ``file`` and
``http`` checks match on the host with ``grep -E`` (POSIX ERE); ``command`` checks with
Python's ``re`` in multi-line mode. A Go regex is rewritten only where the meaning
surely stays: ``\\d``, ``\\s`` and ``\\w`` (and their negations) outside brackets
become POSIX classes; any other letter escape, a bracket holding an escape, or a
``(?`` group is refused (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ERE_SPECIAL = frozenset("\\.^$*+?()[]{}|")
_GO_CLASSES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "s": "[[:space:]]",
    "S": "[^[:space:]]",
    "w": "[[:alnum:]_]",
    "W": "[^[:alnum:]_]",
}


@dataclass(frozen=True)
class Pattern:
    """One goss pattern: negated or not, a literal or a Go regex."""

    negated: bool
    regex: bool
    body: str

    def ere(self) -> str | None:
        """The pattern as a POSIX ERE, or None when it cannot be said surely."""
        return go_to_ere(self.body) if self.regex else ere_literal(self.body)

    def python(self) -> str | None:
        """The pattern as a Python regex, or None when Python cannot compile it."""
        if not self.regex:
            return ere_literal(self.body)  # the same escapes are valid in Python
        try:
            re.compile(self.body)
        except re.error:
            return None
        return self.body


def parse_pattern(text: str) -> Pattern:
    """Read one goss pattern (``!`` negates, ``/.../`` is a regex)."""
    negated = text.startswith("!")
    if negated or text.startswith("\\!"):
        text = text[1:]
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        return Pattern(negated, True, text[1:-1])
    return Pattern(negated, False, text)


def ere_literal(text: str) -> str:
    """An ERE matching ``text`` literally."""
    return "".join("\\" + c if c in _ERE_SPECIAL else c for c in text)


def go_to_ere(regex: str) -> str | None:
    """A Go (RE2) regex as an ERE, or None when its meaning could change."""
    if "(?" in regex:
        return None
    out: list[str] = []
    in_bracket, i = False, 0
    while i < len(regex):
        char = regex[i]
        if char == "\\" and i + 1 < len(regex):
            nxt = regex[i + 1]
            if nxt.isalnum():
                if in_bracket or nxt not in _GO_CLASSES:
                    return None
                out.append(_GO_CLASSES[nxt])
            else:
                out.append(char + nxt)
            i += 2
            continue
        if char == "[" and not in_bracket:
            in_bracket = True
            out.append(char)
            if regex[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if regex[i + 1 : i + 2] == "]":
                out.append("]")
                i += 1
        elif char == "]" and in_bracket:
            in_bracket = False
            out.append(char)
        else:
            out.append(char)
        i += 1
    return None if in_bracket else "".join(out)

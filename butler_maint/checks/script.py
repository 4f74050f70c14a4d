"""One POSIX ``sh`` script per host holding every check, and the parser of its output.

Each check's fragment runs in a subshell, a command substitution that captures its
stderr while its stdout streams straight back (through fd 3) between two frame lines,
``<token> B <id>`` and ``<token> E <id> <rc> <ms>``; the stderr, when there is any,
follows between ``<token> S <id>`` and ``<token> F <id>``. The token is random per run,
so output from a host cannot forge a frame. The frames cost no process of their own
(only shell builtins, no temporary files): on a host, a check is one fork plus its own
commands, and processes are most of what a fleet run costs. Durations come from
/proc/uptime (10 ms resolution; 0 where it does not exist).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from butler_maint.checks.base import Raw, q

_PRELUDE = """\
LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
umask 077
exec 3>&1
trap 'exit 143' HUP INT TERM
_bm_ms() { _bm_now=0; read -r _bm_up _bm_rest 2>/dev/null </proc/uptime || return 0
  _bm_now=${_bm_up%.*}${_bm_up#*.}0; }
_bm_end() { _bm_ms
  printf '\\n%s E %s %s %s\\n' "$_bm_tok" "$1" "$2" "$((_bm_now - _bm_t0))"
  if [ -n "$_bm_e" ]; then
    printf '%s S %s\\n%s\\n\\n%s F %s\\n' "$_bm_tok" "$1" "$_bm_e" "$_bm_tok" "$1"
  fi; }
"""


@dataclass(frozen=True)
class Framed:
    """One check's raw result as parsed from the script output."""

    check_id: str
    raw: Raw
    ms: int


def new_token() -> str:
    """A random frame marker, so host output cannot forge frames."""
    return "@@" + secrets.token_hex(8)


def build_script(fragments: list[tuple[str, str]], token: str) -> str:
    """The whole per-host script: ``(check_id, fragment)`` pairs run in order."""
    parts = [f"_bm_tok={q(token)}\n", _PRELUDE]
    for check_id, fragment in fragments:
        parts.append(
            f"_bm_ms; _bm_t0=$_bm_now; printf '%s B %s\\n' \"$_bm_tok\" {q(check_id)}\n"
            f"_bm_e=$({{\n{fragment}\n}} 2>&1 >&3 3>&- </dev/null); _bm_end {q(check_id)} $?\n"
        )
    parts.append("printf '%s END\\n' \"$_bm_tok\"\n")
    return "".join(parts)


# One pattern for every token (compiled once, not per host); a frame counts only when
# its token is the run's. A check's output lies inside its own frame, so a look-alike
# frame it prints is part of that output, never a frame of its own.
_FRAME = re.compile(
    rb"(?m)^(?P<tok>@@[0-9a-f]{16}) B (?P<id>[^\n]*)\n(?P<out>.*?)\n"
    rb"(?P=tok) E (?P=id) (?P<rc>-?\d+) (?P<ms>-?\d+)\n"
    rb"(?:(?P=tok) S (?P=id)\n(?P<err>.*?)\n(?P=tok) F (?P=id)\n)?",
    re.DOTALL,
)


def parse_output(output: bytes, token: str) -> tuple[list[Framed], bool]:
    """Parse the framed output; the flag says whether the script ran to its end."""
    mine = token.encode()
    results = [
        Framed(
            match["id"].decode("utf-8", "replace"),
            Raw(
                int(match["rc"]),
                match["out"].decode("utf-8", "replace"),
                (match["err"] or b"").decode("utf-8", "replace"),
            ),
            max(int(match["ms"]), 0),
        )
        for match in _FRAME.finditer(output)
        if match["tok"] == mine
    ]
    complete = output.rstrip(b"\n").endswith(mine + b" END")
    return results, complete

"""One POSIX ``sh`` script per host holding every check, and the parser of its output.

Each check's fragment runs in a subshell whose stdout, stderr, rc and duration are
framed as ``@@<token> <id> <rc> <out-bytes> <err-bytes> <ms>`` followed by exactly that
many bytes, so any output (binary, fake frames) parses unambiguously. The token is
random per run. Durations come from /proc/uptime (10 ms resolution; 0 elsewhere).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from butler_maint.checks.base import Raw, q

_PRELUDE = """\
LC_ALL=C; export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
umask 077
_bm_d=$(mktemp -d 2>/dev/null) || { _bm_d=/tmp/.butler.$$; mkdir -m 700 "$_bm_d" || exit 90; }
trap 'rm -rf "$_bm_d"' EXIT
trap 'exit 143' HUP INT TERM
_bm_ms() { read -r _bm_up _bm_rest 2>/dev/null </proc/uptime || { echo 0; return; }
  echo "${_bm_up%.*}${_bm_up#*.}0"; }
_bm_end() { _bm_t1=$(_bm_ms)
  printf '%s %s %s %s %s %s\\n' "$_bm_tok" "$1" "$2" "$(wc -c <"$_bm_d/o" | tr -d ' ')" \\
    "$(wc -c <"$_bm_d/e" | tr -d ' ')" "$((_bm_t1 - _bm_t0))"
  cat "$_bm_d/o" "$_bm_d/e"; }
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
            f'_bm_t0=$(_bm_ms)\n(\n{fragment}\n) >"$_bm_d/o" 2>"$_bm_d/e" </dev/null\n'
            f"_bm_end {q(check_id)} $?\n"
        )
    parts.append("printf '%s END\\n' \"$_bm_tok\"\n")
    return "".join(parts)


def parse_output(output: bytes, token: str) -> tuple[list[Framed], bool]:
    """Parse the framed output; the flag says whether the script ran to its end."""
    marker = token.encode() + b" "
    results: list[Framed] = []
    pos = 0
    while True:
        start = output.find(marker, pos)
        if start < 0:
            return results, False
        line_end = output.find(b"\n", start)
        if line_end < 0:
            return results, False
        fields = output[start + len(marker) : line_end].decode("utf-8", "replace").split(" ")
        if fields == ["END"]:
            return results, True
        try:
            check_id, rc, out_n, err_n, ms = fields[0], *map(int, fields[1:5])
        except ValueError:
            return results, False
        body = line_end + 1
        out = output[body : body + out_n]
        err = output[body + out_n : body + out_n + err_n]
        if len(out) + len(err) < out_n + err_n:
            return results, False
        raw = Raw(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
        results.append(Framed(check_id, raw, max(ms, 0)))
        pos = body + out_n + err_n

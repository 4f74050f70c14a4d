"""The ``time`` check: clock offset and sync state from chrony, timesyncd or ntpd.

Sources are tried in order and the first that answers is printed after ``tool=``:
``chronyc -c tracking`` (CSV; field 5 is the system clock offset in seconds, the last
the leap status), ``timedatectl show -p NTPSynchronized`` plus the ``Offset:`` line of
``timedatectl timesync-status`` (timesyncd only), then ``ntpq -c rv`` (offset in ms,
``leap=11`` meaning unsynchronised). Sources that exist but fail leave ``tried=`` lines.
"""

from __future__ import annotations

import re

from butler_maint.checks.base import CheckType, Raw, Verdict, error, verdict
from butler_maint.checks.types.common import HEAD, has, kv, kv_all, num, shown, tool_missing
from butler_maint.model.checks import TimeSpec

_CHRONY_FIELDS = 14
_UNSYNCED_REFID = "00000000"
_SPAN = re.compile(r"([-+]?\d+(?:\.\d+)?)(min|ms|us|µs|ns|s)")
_SPAN_UNIT = {"min": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

_TRY = """\
if {cond}; then f=1
  if o=$({cmd} 2>&1); then echo tool={tool}; printf '%s\\n' "$o"{extra}; exit 0; fi
  printf 'tried={tool}: %s\n' "$(printf '%s\n' "$o" | head -n 1)"
fi
"""
_TIMESYNC = "; timedatectl timesync-status 2>/dev/null | grep -E '^ *Offset:'"


def time_fragment(spec: TimeSpec) -> str:
    """The first time source that answers, with its tool name."""
    del spec
    sources = [
        ("chronyc", "chronyc -c tracking", ""),
        ("timedatectl", "timedatectl show -p NTPSynchronized", _TIMESYNC),
        ("ntpq", "ntpq -c rv", ""),
    ]
    tries = "".join(
        _TRY.format(cond=has(tool), cmd=cmd, tool=tool, extra=extra) for tool, cmd, extra in sources
    )
    return (
        f"{HEAD}f=\n{tries}"
        '[ -n "$f" ] || { echo missing=chronyc,timedatectl,ntpq; exit 127; }\nexit 3\n'
    )


def _chrony(stdout: str) -> tuple[float | None, bool] | None:
    rows = [line.split(",") for line in stdout.splitlines() if line.count(",") >= 10]
    if not rows or len(rows[0]) < _CHRONY_FIELDS:
        return None
    row = rows[0]
    try:
        offset = abs(float(row[4]))
    except ValueError:
        return None
    synced = row[0] != _UNSYNCED_REFID and row[-1].strip() != "Not synchronised"
    return offset, synced


def _span_seconds(text: str) -> float | None:
    """systemd's time span (``-1.247ms``, ``+2min 3.5s``) in seconds."""
    parts = _SPAN.findall(text)
    if not parts:
        return None
    sign = -1.0 if text.strip().startswith("-") else 1.0
    return sign * sum(abs(float(n)) * _SPAN_UNIT[unit] for n, unit in parts)


def _timedatectl(stdout: str) -> tuple[float | None, bool] | None:
    synced = kv(stdout).get("NTPSynchronized")
    if synced not in ("yes", "no"):
        return None
    match = re.search(r"^\s*Offset:\s*(.+)$", stdout, re.MULTILINE)
    span = _span_seconds(match.group(1)) if match else None
    return (abs(span) if span is not None else None), synced == "yes"


def _ntpq(stdout: str) -> tuple[float | None, bool] | None:
    offset = re.search(r"\boffset=([-+]?\d+(?:\.\d+)?)", stdout)
    leap = re.search(r"\bleap=(\d+)", stdout)
    if offset is None or leap is None:
        return None
    synced = leap.group(1) != "11" and "sync_unspec" not in stdout
    return abs(float(offset.group(1))) / 1000.0, synced


_PARSERS = {"chronyc": _chrony, "timedatectl": _timedatectl, "ntpq": _ntpq}


def _observed(offset: float | None, synced: bool) -> str:
    sync = "synchronized" if synced else "not synchronized"
    return f"offset {'unknown' if offset is None else f'{offset:.6f} s'}, {sync}"


def time_judge(spec: TimeSpec, raw: Raw) -> Verdict:
    """The absolute clock offset against ``max_skew_s``, and the sync state."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    expected = f"offset <= {shown(spec.max_skew_s)} s" + (
        ", synchronized" if spec.require_sync else ""
    )
    tool = kv(raw.stdout).get("tool", "")
    if tool not in _PARSERS:
        tried = "; ".join(kv_all(raw.stdout, "tried"))
        return error("no time source answered" + (f": {tried}" if tried else ""), None, expected)
    parsed = _PARSERS[tool](raw.stdout)
    if parsed is None:
        return error(f"could not parse the {tool} output", None, expected)
    offset, synced = parsed
    sync_ok = synced or not spec.require_sync
    observed = _observed(offset, synced)
    if offset is None:
        if not spec.require_sync:
            return error(f"{tool} reports no clock offset", observed, expected)
        note = f"{tool} reports no offset: judged on its sync flag alone"
        return verdict(sync_ok, observed, expected, note)
    return verdict(sync_ok and offset <= num(spec.max_skew_s), observed, expected, tool)


TIME = CheckType("time", time_fragment, time_judge)

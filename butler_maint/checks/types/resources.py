"""Resource checks: disk and inode usage (``df -P``), memory (/proc/meminfo), load.

``df -P`` prints the POSIX format on GNU, busybox and BSD alike; the ``Capacity`` /
``IUse%`` column is judged as printed (GNU rounds it up). Memory uses MemAvailable,
or MemFree + Buffers + Cached on kernels older than 3.14. Load is the chosen load
average divided by the CPUs this process may run on, as ``nproc`` counts them: the
``Cpus_allowed_list`` of /proc/self/status, read by the shell itself, else ``nproc``,
else ``getconf _NPROCESSORS_ONLN``. Memory and load read /proc with shell builtins:
no process is started for them on a Linux host.
"""

from __future__ import annotations

from butler_maint.checks.base import CheckType, Raw, Status, Verdict, error, q, verdict
from butler_maint.checks.types.common import (
    HEAD,
    failed,
    fmt,
    has,
    kv,
    missing,
    num,
    shown,
    tool_missing,
)
from butler_maint.model.checks import DiskSpec, InodesSpec, LoadSpec, MemorySpec

_KB_PER_MB = 1024


def _df_fragment(flags: str, path: str) -> str:
    return f"{HEAD}{has('df')} || {missing('df')}\ndf {flags} -- {q(path)}\n"


def _df_percent(stdout: str) -> int | None:
    """The use% column of the data line of ``df -P``/``df -Pi`` output; -1 for ``-``."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("Filesystem"):
        return None
    for field in lines[-1].split()[1:]:
        if field == "-":
            return -1
        if field.endswith("%") and field[:-1].isdigit():
            return int(field[:-1])
    return None


def _judge_df(limit: float, raw: Raw, what: str) -> Verdict:
    if (gone := tool_missing(raw)) is not None:
        return gone
    if raw.rc != 0:
        return failed("df", raw)
    used = _df_percent(raw.stdout)
    expected = f"<= {shown(limit)} %"
    if used is None:
        return error(f"could not parse the df output for {what}", expected=expected)
    if used < 0:
        return Verdict(Status.SKIPPED, "n/a", expected, "the filesystem has no fixed inode count")
    return verdict(used <= num(limit), used, expected, f"{used} % of {what} used")


def disk_fragment(spec: DiskSpec) -> str:
    """``df -P PATH``."""
    return _df_fragment("-P", spec.path)


def disk_judge(spec: DiskSpec, raw: Raw) -> Verdict:
    """Used space percentage against ``max_used_pct``."""
    return _judge_df(num(spec.max_used_pct), raw, f"the space of {spec.path}")


def inodes_fragment(spec: InodesSpec) -> str:
    """``df -Pi PATH``."""
    return _df_fragment("-Pi", spec.path)


def inodes_judge(spec: InodesSpec, raw: Raw) -> Verdict:
    """Used inode percentage against ``max_used_pct``."""
    return _judge_df(num(spec.max_used_pct), raw, f"the inodes of {spec.path}")


def memory_fragment(spec: MemorySpec) -> str:
    """The lines of /proc/meminfo the judge needs."""
    del spec
    return (
        f"{HEAD}[ -r /proc/meminfo ] || {missing('/proc/meminfo')}\n"
        "while read -r k v u; do case $k in\n"
        '  MemTotal:|MemAvailable:|MemFree:|Buffers:|Cached:) echo "$k $v $u" ;;\n'
        "esac; done </proc/meminfo\n"
    )


def _meminfo(stdout: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in stdout.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            out[key.strip()] = int(fields[0])
    return out


def _available_kb(info: dict[str, int]) -> int | None:
    if "MemAvailable" in info:
        return info["MemAvailable"]
    parts = [info.get(key) for key in ("MemFree", "Buffers", "Cached")]
    return sum(p for p in parts if p is not None) if None not in parts else None


def memory_judge(spec: MemorySpec, raw: Raw) -> Verdict:
    """Used percentage and available MB against the spec's limits."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    info = _meminfo(raw.stdout)
    total, available = info.get("MemTotal"), _available_kb(info)
    if not total or available is None:
        return error("could not parse /proc/meminfo")
    used_pct = 100.0 * (total - available) / total
    avail_mb = available // _KB_PER_MB
    ok, wants = True, []
    if spec.max_used_pct is not None:
        ok = ok and used_pct <= num(spec.max_used_pct)
        wants.append(f"<= {shown(spec.max_used_pct)} % used")
    if spec.min_available_mb is not None:
        ok = ok and avail_mb >= num(spec.min_available_mb)
        wants.append(f">= {shown(spec.min_available_mb)} MB available")
    observed = f"{fmt(used_pct, 1)} % used, {avail_mb} MB available"
    return verdict(ok, observed, ", ".join(wants))


# The CPUs in /proc/self/status's Cpus_allowed_list (e.g. ``0-3,8``) -> n; 0 when the
# line is missing or not a plain list. The shell reads it about itself, without a fork.
_CPUS_ALLOWED = """\
a=; n=0
while read -r k v; do [ "$k" = Cpus_allowed_list: ] && a=$v && break
done 2>/dev/null </proc/self/status
case $a in *[!0-9,-]*|'') a= ;; esac
IFS=,; for r in $a; do case $r in
  *-*) n=$((n + ${r#*-} - ${r%-*} + 1)) ;;
  ?*) n=$((n + 1)) ;;
esac; done; unset IFS
"""


def load_fragment(spec: LoadSpec) -> str:
    """/proc/loadavg and the number of CPUs the shell may run on."""
    del spec
    return (
        f"{HEAD}[ -r /proc/loadavg ] || {missing('/proc/loadavg')}\n"
        'read -r l </proc/loadavg; echo "loadavg=$l"\n'
        f"{_CPUS_ALLOWED}"
        'if [ "$n" -gt 0 ]; then echo "cpus=$n"\n'
        f'elif {has("nproc")}; then echo "cpus=$(nproc)"\n'
        f'elif {has("getconf")}; then echo "cpus=$(getconf _NPROCESSORS_ONLN)"\n'
        f"else {missing('nproc', 'getconf')}\nfi\n"
    )


def load_judge(spec: LoadSpec, raw: Raw) -> Verdict:
    """The ``period``-minute load average per CPU against ``max_per_cpu``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    loads, cpus = values.get("loadavg", "").split(), values.get("cpus", "")
    index = {1: 0, 5: 1, 15: 2}[spec.period]
    try:
        load, ncpu = float(loads[index]), int(cpus)
    except (IndexError, ValueError):
        return error("could not parse the load average or the CPU count")
    if ncpu <= 0:
        return error(f"could not parse the CPU count: {cpus!r}")
    per_cpu = load / ncpu
    expected = f"<= {shown(spec.max_per_cpu)} per CPU ({spec.period} min)"
    message = f"load {loads[index]} on {ncpu} CPUs"
    return verdict(per_cpu <= num(spec.max_per_cpu), fmt(per_cpu), expected, message)


DISK = CheckType("disk", disk_fragment, disk_judge)
INODES = CheckType("inodes", inodes_fragment, inodes_judge)
MEMORY = CheckType("memory", memory_fragment, memory_judge)
LOAD = CheckType("load", load_fragment, load_judge)

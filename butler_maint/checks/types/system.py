"""System state checks: ``service``, ``process``, ``reboot_required`` and ``sysctl``.

``service`` asks systemd when it runs (``/run/systemd/system`` exists) and falls back to
SysV: ``service NAME status`` and ``/etc/rc?.d/S??NAME`` links. Units whose enablement
is not theirs to decide (``static``, ``indirect``, ``generated``, ``alias``) count as
enabled; ``masked`` counts as disabled. ``process`` counts the processes whose name
(``/proc/PID/comm``, which the kernel truncates to 15 characters) is exactly ``name``,
and whose effective uid is ``user``'s when given: what ``pgrep -x [-u USER]`` counts,
read by the shell itself (where pgrep costs ~65 us per process on the host), with
``pgrep`` where /proc has no ``comm``. ``reboot_required`` reads
/var/run/reboot-required on Debian (written by update-notifier-common and
unattended-upgrades) and ``needs-restarting -r`` on the RHEL family. ``sysctl`` reads
/proc/sys (dots and slashes of the key swap as sysctl(8) does).
"""

from __future__ import annotations

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import (
    HEAD,
    bounds,
    failed,
    failed_rc,
    first_number,
    has,
    kv,
    missing,
    num,
    tool_missing,
)
from butler_maint.model.checks import ProcessSpec, RebootRequiredSpec, ServiceSpec, SysctlSpec

_ENABLED = frozenset({"enabled", "enabled-runtime", "static", "indirect", "generated", "alias"})
_RUNNING = frozenset({"active", "reloading"})
_COMM_LEN = 15  # TASK_COMM_LEN - 1

_SYSTEMD = """\
echo init=systemd
echo "active=$(systemctl is-active -- "$n" 2>/dev/null)"
echo "enabled=$(systemctl is-enabled -- "$n" 2>/dev/null)"
"""
_SYSV = """\
n=${n%.service}
echo init=sysv
service "$n" status >/dev/null 2>&1; echo "status_rc=$?"
echo "links=$(ls /etc/rc[2345].d/S??"$n" /etc/rc.d/rc[2345].d/S??"$n" 2>/dev/null | wc -l)"
[ -e /etc/init.d/"$n" ] && echo script=yes || echo script=no
"""


def service_fragment(spec: ServiceSpec) -> str:
    """systemctl is-active/is-enabled, or the SysV status and rc links."""
    return (
        f"{HEAD}n={q(spec.name)}\n"
        f"if {has('systemctl')} && [ -d /run/systemd/system ]; then\n{_SYSTEMD}"
        f"elif {has('service')}; then\n{_SYSV}"
        f"else {missing('systemctl', 'service')}\nfi\n"
    )


def _service_expected(spec: ServiceSpec) -> str:
    parts = [] if spec.running is None else ["running" if spec.running else "stopped"]
    if spec.enabled is not None:
        parts.append("enabled" if spec.enabled else "disabled")
    return ", ".join(parts) or "any state"


def _systemd_state(values: dict[str, str]) -> tuple[str, str, bool, bool]:
    active = values.get("active") or "unknown"
    enabled = values.get("enabled") or "not-found"
    return active, enabled, active in _RUNNING, enabled in _ENABLED


def _sysv_state(values: dict[str, str]) -> tuple[str, str, bool, bool] | None:
    status_rc, links = values.get("status_rc", ""), values.get("links", "")
    if not status_rc.isdigit() or not links.isdigit():
        return None
    running, enabled = status_rc == "0", int(links) > 0
    active = "running" if running else f"stopped (status exit {status_rc})"
    if values.get("script") == "no" and not running:
        active = "not found"
    return active, "enabled" if enabled else "disabled", running, enabled


def service_judge(spec: ServiceSpec, raw: Raw) -> Verdict:
    """Running and enabled states against the spec."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    init = values.get("init")
    state = _systemd_state(values) if init == "systemd" else None
    state = _sysv_state(values) if init == "sysv" else state
    if state is None:
        return error("could not parse the service state")
    active, enabled, running, is_enabled = state
    ok = spec.running in (None, running) and spec.enabled in (None, is_enabled)
    return verdict(ok, f"{active}, {enabled}", _service_expected(spec), f"init: {init}")


# Without user: count /proc/*/comm lines equal to $name. With one: numeric as given,
# else `id -u` (NSS, like pgrep), and only processes whose effective uid matches.
_PROC_COUNT = """\
  c=0
  for d in /proc/[0-9]*; do
    { IFS= read -r n <"$d/comm"; } 2>/dev/null || continue
    [ "$n" = "$name" ] || continue
    if [ -n "$user" ]; then
      e=; while read -r k r e x; do [ "$k" = Uid: ] && break; done 2>/dev/null <"$d/status"
      [ "$e" = "$u" ] || continue
    fi
    c=$((c + 1))
  done; echo source=proc; echo "count=$c"
"""
_UID = """\
  u=$user
  case $u in *[!0-9]*) u=$(id -u -- "$user") || { echo "id_rc=$?"; exit 0; } ;; esac
"""


def process_fragment(spec: ProcessSpec) -> str:
    """Count the processes named NAME (of USER) in /proc, else with ``pgrep -x``."""
    user = "" if spec.user is None else spec.user
    by_user = f"-u {q(user)} " if user else ""
    return (
        f"{HEAD}name={q(spec.name)}; user={q(user)}\n"
        "if [ -r /proc/self/comm ]; then\n"
        f"{_UID if user else ''}{_PROC_COUNT}"
        f"elif {has('pgrep')}; then\n"
        f'  p=$(pgrep -x {by_user}-- "$name"); echo "pgrep_rc=$?"\n'
        '  c=0; for i in $p; do c=$((c + 1)); done; echo "count=$c"\n'
        f"else {missing('pgrep')}\nfi\n"
    )


def _count_expected(low: int, high: int | None) -> str:
    if high is None:
        return f">= {low}"
    return bounds(low or None, high) if low != high else f"== {low}"


def process_judge(spec: ProcessSpec, raw: Raw) -> Verdict:
    """The number of matching processes against ``min_count``/``max_count``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    if "id_rc" in values:
        return failed_rc(f"id -u {spec.user}", values["id_rc"], raw.stderr)
    if values.get("source") != "proc" and values.get("pgrep_rc") not in ("0", "1"):
        return failed_rc("pgrep", values.get("pgrep_rc", ""), raw.stderr)
    if not values.get("count", "").isdigit():
        return error("could not parse the process count")
    count = int(values["count"])
    expected = _count_expected(spec.min_count, spec.max_count)
    ok = count >= spec.min_count and (spec.max_count is None or count <= spec.max_count)
    message = f"processes named {spec.name}"
    if len(spec.name) > _COMM_LEN:
        message += f" (the kernel keeps {_COMM_LEN} characters of a name: it never matches)"
    return verdict(ok, count, expected, message)


def reboot_fragment(spec: RebootRequiredSpec) -> str:
    """The Debian flag file, or ``needs-restarting -r`` (exit 1: reboot needed)."""
    del spec
    return (
        f"{HEAD}if [ -f /etc/debian_version ] || [ -e /var/run/reboot-required ]; then\n"
        "  echo family=debian\n"
        "  [ -e /var/run/reboot-required ] && echo required=yes || echo required=no\n"
        f"elif {has('needs-restarting')}; then\n"
        "  echo family=rhel\n"
        '  needs-restarting -r >/dev/null; echo "needs_restarting_rc=$?"\n'
        f"else {missing('needs-restarting')}\nfi\n"
    )


def _reboot_required(values: dict[str, str]) -> bool | None:
    if values.get("family") == "debian":
        return {"yes": True, "no": False}.get(values.get("required", ""))
    return {"1": True, "0": False}.get(values.get("needs_restarting_rc", ""))


def reboot_judge(spec: RebootRequiredSpec, raw: Raw) -> Verdict:
    """Whether a reboot is pending, against ``expected``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    required = _reboot_required(values)
    if required is None:
        if rc := values.get("needs_restarting_rc"):
            return failed_rc("needs-restarting -r", rc, raw.stderr)
        return error("could not parse the reboot-required output")
    text = {True: "reboot required", False: "no reboot required"}
    return verdict(required == spec.expected, text[required], text[spec.expected])


def sysctl_path(key: str) -> str | None:
    """/proc/sys path of ``key`` (sysctl(8) rules), or None for an unsafe key."""
    key = key.strip()
    dot, slash = key.find("."), key.find("/")
    if slash < 0 or (0 <= dot < slash):
        key = key.translate(str.maketrans("./", "/."))
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return "/proc/sys/" + "/".join(parts)


def sysctl_fragment(spec: SysctlSpec) -> str:
    """The value of the key under /proc/sys, last in the output (it may hold spaces)."""
    path = sysctl_path(spec.key)
    if path is None:
        return "echo invalid_key=yes; exit 2\n"
    return (
        f"{HEAD}[ -d /proc/sys ] || {missing('/proc/sys')}\n"
        f"f={q(path)}\n"
        'if [ ! -e "$f" ]; then echo exists=no; exit 0; fi\n'
        '[ -r "$f" ] || { echo readable=no; exit 1; }\n'
        "printf 'value='; cat \"$f\"\n"
    )


def _sysctl_expected(spec: SysctlSpec) -> str:
    parts = [f"== {spec.value}"] if spec.value is not None else []
    if spec.min is not None or spec.max is not None:
        low = num(spec.min) if spec.min is not None else None
        high = num(spec.max) if spec.max is not None else None
        parts.append(bounds(low, high))
    return ", ".join(parts)


def _sysctl_ok(spec: SysctlSpec, value: str) -> bool | None:
    """Whether ``value`` meets the spec; None when a bound needs a number it lacks."""
    ok = spec.value is None or " ".join(spec.value.split()) == value
    if spec.min is None and spec.max is None:
        return ok
    number = first_number(value)
    if number is None or len(value.split()) != 1:
        return None
    ok = ok and (spec.min is None or number >= num(spec.min))
    return ok and (spec.max is None or number <= num(spec.max))


def sysctl_judge(spec: SysctlSpec, raw: Raw) -> Verdict:
    """The kernel parameter's value against ``value`` and/or ``min``/``max``."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    expected = _sysctl_expected(spec)
    values = kv(raw.stdout)
    if sysctl_path(spec.key) is None or "invalid_key" in values:
        return error(f"invalid sysctl key {spec.key!r}", expected=expected)
    if values.get("exists") == "no":
        return verdict(False, "absent", expected, f"no such key: {spec.key}")
    if values.get("readable") == "no":
        return error(f"{spec.key} is not readable by this user (become?)", expected=expected)
    if raw.rc != 0:
        return failed(f"reading {spec.key}", raw)
    _, sep, rest = raw.stdout.partition("value=")
    if not sep:
        return error(f"could not parse the value of {spec.key}", expected=expected)
    value = " ".join(rest.split())[:200]
    ok = _sysctl_ok(spec, value)
    if ok is None:
        return error(f"{spec.key} is not a single number", value, expected)
    return verdict(ok, value, expected)


SERVICE = CheckType("service", service_fragment, service_judge)
PROCESS = CheckType("process", process_fragment, process_judge)
REBOOT_REQUIRED = CheckType("reboot_required", reboot_fragment, reboot_judge)
SYSCTL = CheckType("sysctl", sysctl_fragment, sysctl_judge)

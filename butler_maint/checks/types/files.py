"""Filesystem checks: ``file``, ``directory`` and ``mount``.

``file``/``directory`` print ``exists``, ``type`` and one ``stat=`` line of GNU/busybox
``stat -L -c '%a %U %G %s %Y %u %g'`` (mode, owner, group, size, mtime, uid,
gid) plus, when a ``max_age_hours`` is set, the host's ``now`` (``date +%s``), so the
age is judged against the host's clock. Content is
matched on the host with ``grep -Eq``: only ``grep_rc`` travels, never the content.
``mount`` canonicalises the path on the host (``readlink -f``) and prints the matching
/proc/mounts lines (the last one is the visible mount; the ``\\040``-style escapes of
spaces, tabs and newlines are undone, that of a backslash is not).
"""

from __future__ import annotations

from dataclasses import dataclass

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import (
    HEAD,
    combine,
    failed,
    failed_rc,
    fmt,
    has,
    kv,
    kv_all,
    last_line,
    missing,
    num,
    shown,
    tool_missing,
)
from butler_maint.model.checks import DirectorySpec, FileSpec, MountSpec

_STAT_FIELDS = 7
_SECONDS_PER_HOUR = 3600.0

_STAT = """\
p={path}
if [ ! -e "$p" ]; then echo exists=no; exit 0; fi
echo exists=yes
if [ -f "$p" ]; then echo type=file; elif [ -d "$p" ]; then echo type=directory
else echo type=other; fi
{need_stat}
{clock}printf stat=; stat -L -c '%a %U %G %s %Y %u %g' -- "$p" || echo
"""


@dataclass(frozen=True)
class Stat:
    """What ``stat`` said about a path."""

    mode: int
    owner: str
    group: str
    size: int
    mtime: int
    uid: str
    gid: str


def _stat_fragment(path: str, clock: bool = False) -> str:
    """The stat lines; the host's clock too when an age is to be judged (one exec less
    per check otherwise: on a fleet, the host's processes are most of a run's cost)."""
    return HEAD + _STAT.format(
        path=q(path),
        need_stat=f"{has('stat')} || {missing('stat')}",
        clock='echo "now=$(date +%s)"\n' if clock else "",
    )


def _parse_stat(values: dict[str, str]) -> Stat | None:
    fields = values.get("stat", "").split()
    if len(fields) != _STAT_FIELDS:
        return None
    try:
        mode, owner, group, size, mtime, uid, gid = fields
        return Stat(int(mode, 8), owner, group, int(size), int(mtime), uid, gid)
    except ValueError:
        return None


def _mode(value: int) -> str:
    return f"{value:04o}"


def _id_check(what: str, wanted: str, name: str, number: str) -> tuple[bool, str, str]:
    """Owner/group by name, or by number when the spec gives digits."""
    seen = number if wanted.isdigit() else name
    return seen == wanted, f"{what} {seen}", f"{what} {wanted}"


def _owner_checks(spec: FileSpec | DirectorySpec, stat: Stat) -> list[tuple[bool, str, str]]:
    """``(ok, observed, expected)`` of the mode, owner and group the spec asks for."""
    checks: list[tuple[bool, str, str]] = []
    if spec.mode is not None:
        want = int(spec.mode, 8)
        checks.append((stat.mode == want, f"mode {_mode(stat.mode)}", f"mode {_mode(want)}"))
    if spec.owner is not None:
        checks.append(_id_check("owner", spec.owner, stat.owner, stat.uid))
    if spec.group is not None:
        checks.append(_id_check("group", spec.group, stat.group, stat.gid))
    return checks


def _presence(exists: str | None, wanted: bool, kind: str) -> Verdict | None:
    """The verdict when presence alone decides (absent, or asked to be absent)."""
    if exists not in ("yes", "no"):
        return error(f"could not parse the {kind} check output")
    if exists == "no" or not wanted:
        state = "exists" if exists == "yes" else "absent"
        return verdict((exists == "yes") == wanted, state, "exists" if wanted else "absent")
    return None


def _stat_of(raw: Raw, values: dict[str, str], kind: str) -> Stat | Verdict:
    stat = _parse_stat(values)
    if stat is None:
        detail = last_line(raw.stderr)
        return error(f"could not parse stat of the {kind}" + (f": {detail}" if detail else ""))
    return stat


def file_fragment(spec: FileSpec) -> str:
    """stat the file; grep its content on the host when ``contains`` is set."""
    grep = ""
    if spec.contains is not None:
        grep = f'[ -f "$p" ] && {{ grep -Eq -e {q(spec.contains)} -- "$p"; echo "grep_rc=$?"; }}\n'
    return _stat_fragment(spec.path, clock=spec.max_age_hours is not None) + grep


def _file_checks(spec: FileSpec, stat: Stat, values: dict[str, str]) -> list[tuple[bool, str, str]]:
    checks = _owner_checks(spec, stat)
    if spec.max_age_hours is not None:
        age = (int(values["now"]) - stat.mtime) / _SECONDS_PER_HOUR
        limit = num(spec.max_age_hours)
        checks.append((age <= limit, f"age {fmt(age, 1)} h", f"age <= {shown(limit)} h"))
    if spec.min_size_bytes is not None:
        limit = num(spec.min_size_bytes)
        checks.append((stat.size >= limit, f"size {stat.size} B", f"size >= {shown(limit)} B"))
    if spec.contains is not None:
        matched = values.get("grep_rc") == "0"
        checks.append(
            (matched, f"content {'matches' if matched else 'does not match'}", "content matches")
        )
    return checks


def _existing(
    raw: Raw, wanted: bool, kind: str, shown: str
) -> Verdict | tuple[dict[str, str], Stat]:
    """The stat of a path that exists as a ``kind`` (file or directory), or the verdict
    when a missing tool, its presence or its type already decides."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    decided = _presence(values.get("exists"), wanted, kind)
    if decided is not None:
        return decided
    if values.get("type") != kind:
        return verdict(False, f"not a {shown} ({values.get('type')})", shown)
    stat = _stat_of(raw, values, kind)
    if isinstance(stat, Verdict):
        return stat
    return values, stat


def file_judge(spec: FileSpec, raw: Raw) -> Verdict:
    """Existence, type, mode, owner, group, age, size and content of a file."""
    found = _existing(raw, spec.exists, "file", "regular file")
    if isinstance(found, Verdict):
        return found
    values, stat = found
    if spec.max_age_hours is not None and not values.get("now", "").isdigit():
        return error("could not parse the host's clock (date +%s)")
    if spec.contains is not None and values.get("grep_rc") not in ("0", "1"):
        return failed_rc("grep of the content", values.get("grep_rc", ""), raw.stderr)
    return combine(_file_checks(spec, stat, values), "file")


def directory_fragment(spec: DirectorySpec) -> str:
    """stat the directory; ask ``mountpoint -q`` when ``mount_point`` is set."""
    text = _stat_fragment(spec.path)
    if spec.mount_point is not None:
        text += (
            f'if {has("mountpoint")}; then mountpoint -q -- "$p" && echo mountpoint=yes '
            "|| echo mountpoint=no\n"
            "else echo \"devs=$(stat -L -c '%d:%i' -- \"$p\" \"$p/..\" | tr '\\n' ' ')\"; fi\n"
        )
    return text


def _is_mount_point(values: dict[str, str]) -> bool | None:
    if "mountpoint" in values:
        return values["mountpoint"] == "yes"
    devs = values.get("devs", "").split()
    if len(devs) != 2:
        return None
    (dev, ino), (up_dev, up_ino) = (d.split(":", 1) for d in devs)
    return dev != up_dev or ino == up_ino  # "/" is its own parent


def directory_judge(spec: DirectorySpec, raw: Raw) -> Verdict:
    """Existence, type, mode, owner, group and mount-point state of a directory."""
    found = _existing(raw, spec.exists, "directory", "directory")
    if isinstance(found, Verdict):
        return found
    values, stat = found
    checks = _owner_checks(spec, stat)
    if spec.mount_point is not None:
        mounted = _is_mount_point(values)
        if mounted is None:
            return error("could not tell whether the directory is a mount point")
        text = {True: "mount point", False: "not a mount point"}
        checks.append((mounted == spec.mount_point, text[mounted], text[spec.mount_point]))
    return combine(checks, "directory")


_MOUNT = """\
[ -r /proc/mounts ] || {need}
t=$(readlink -f -- {path} 2>/dev/null) || t={path}
printf 'target=%s\n' "$t"
T=$t awk '{{ m = $2; gsub(/\\\\040/, " ", m); gsub(/\\\\011/, "\\t", m); gsub(/\\\\012/, "\\n", m)
  if (m == ENVIRON["T"]) print "mount=" $0 }}' /proc/mounts
"""


def mount_fragment(spec: MountSpec) -> str:
    """/proc/mounts lines whose mount point is the canonical ``path``."""
    return HEAD + _MOUNT.format(path=q(spec.path), need=missing("/proc/mounts"))


def _mount_expected(spec: MountSpec) -> str:
    options = f" ({','.join(spec.options)})" if spec.options else ""
    return f"{spec.fstype or 'mounted'}{options}"


def mount_judge(spec: MountSpec, raw: Raw) -> Verdict:
    """Mounted, with the expected filesystem type and options."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    expected = _mount_expected(spec)
    if raw.rc != 0 or "target" not in values:
        return (
            failed("reading /proc/mounts", raw)
            if raw.rc
            else error("could not parse the mount check output")
        )
    lines = kv_all(raw.stdout, "mount")
    if not lines:
        return verdict(False, "not mounted", expected, f"nothing mounted on {values['target']}")
    fields = lines[-1].split()
    if len(fields) < 4:
        return error("could not parse /proc/mounts", expected=expected)
    fstype, options = fields[2], fields[3].split(",")
    absent = [o for o in spec.options if o not in options]
    ok = not absent and spec.fstype in (None, fstype)
    message = f"missing options: {','.join(absent)}" if absent else ""
    return verdict(ok, f"{fstype} ({fields[3][:160]})", expected, message)


FILE = CheckType("file", file_fragment, file_judge)
DIRECTORY = CheckType("directory", directory_fragment, directory_judge)
MOUNT = CheckType("mount", mount_fragment, mount_judge)

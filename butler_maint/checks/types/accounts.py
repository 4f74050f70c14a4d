"""Account checks: ``user`` and ``group``.

Both ask the host's name service with ``getent passwd|group -- NAME`` (local files,
LDAP, SSSD: whatever NSS is configured with), and read ``/etc/passwd`` or ``/etc/group``
with shell builtins where getent is missing. The fragment prints ``source=getent`` with
``getent_rc`` (0 found, 2 not found) or ``source=files``, then the entry as one
``passwd=`` or ``group=`` line. A user's group memberships come from ``id -Gn -- NAME``
(primary and supplementary, as the system computes them), run only when ``groups`` is
asked. A group's ``members`` are those its entry lists: supplementary members, not the
users whose primary group it is.
"""

from __future__ import annotations

from butler_maint.checks.base import CheckType, Raw, Verdict, error, q, verdict
from butler_maint.checks.types.common import (
    HEAD,
    combine,
    failed_rc,
    has,
    kv,
    kv_all,
    missing,
    num,
    shown,
    tool_missing,
)
from butler_maint.model.checks import GroupSpec, UserSpec

_PASSWD_FIELDS = 7
_GROUP_FIELDS = 4

_LOOKUP = """\
n={name}
if {has_getent}; then
  echo source=getent; e=$(getent {db} -- "$n"); echo "getent_rc=$?"
elif [ -r {file} ]; then
  echo source=files; e=
  while IFS= read -r l; do case $l in "$n":*) e=$l; break ;; esac; done <{file}
else {missing}
fi
[ -n "$e" ] && printf '{db}=%s\\n' "$e"
"""
_GROUPS = """\
if [ -n "$e" ]; then
  if {has_id}; then g=$(id -Gn -- "$n"); echo "id_rc=$?"; printf 'groups=%s\\n' "$g"
  else echo id=missing; fi
fi
"""


def _lookup(db: str, file: str, name: str) -> str:
    return HEAD + _LOOKUP.format(
        name=q(name),
        db=db,
        file=file,
        has_getent=has("getent"),
        missing=missing("getent", file),
    )


def _entry(raw: Raw, db: str, name: str, fields: int) -> list[str] | Verdict | None:
    """The entry's fields, None when there is none, or the verdict of a failed lookup."""
    if (gone := tool_missing(raw)) is not None:
        return gone
    values = kv(raw.stdout)
    source, rc = values.get("source"), values.get("getent_rc", "")
    if source == "getent" and rc not in ("0", "2"):
        return failed_rc(f"getent {db} {name}", rc, raw.stderr)
    if source not in ("getent", "files"):
        return error(f"could not parse the {db} lookup")
    lines = kv_all(raw.stdout, db)
    if not lines:
        return None
    parts = lines[0].split(":")
    if len(parts) != fields or parts[0] != name:
        return error(f"unexpected {db} entry for {name}: {lines[0][:160]!r}")
    return parts


def _presence(found: bool, wanted: bool) -> Verdict | None:
    """The verdict when presence alone decides (absent, or asked to be absent)."""
    if found and wanted:
        return None
    state = "exists" if found else "absent"
    return verdict(found == wanted, state, "exists" if wanted else "absent")


def _number(what: str, wanted: object, seen: str) -> tuple[bool, str, str]:
    want = num(wanted)
    return seen.isdigit() and int(seen) == want, f"{what} {seen}", f"{what} {shown(want)}"


def _text(what: str, wanted: str, seen: str) -> tuple[bool, str, str]:
    return seen == wanted, f"{what} {seen}", f"{what} {wanted}"


def _includes(what: str, wanted: list[str], seen: list[str]) -> tuple[bool, str, str]:
    absent = [name for name in wanted if name not in seen]
    observed = f"{what} {','.join(seen) or '(none)'}"
    if absent:
        observed += f" (not {','.join(absent)})"
    return not absent, observed, f"{what} include {','.join(wanted)}"


def user_fragment(spec: UserSpec) -> str:
    """The passwd entry, and ``id -Gn`` when group memberships are asked."""
    text = _lookup("passwd", "/etc/passwd", spec.name)
    if spec.groups is not None:
        text += _GROUPS.format(has_id=has("id"))
    return text


def _memberships(spec: UserSpec, raw: Raw) -> list[str] | Verdict:
    values = kv(raw.stdout)
    if values.get("id") == "missing":
        return error("missing on the host: id")
    if values.get("id_rc") != "0":
        return failed_rc(f"id -Gn {spec.name}", values.get("id_rc", ""), raw.stderr)
    return values.get("groups", "").split()


def _user_checks(
    spec: UserSpec, entry: list[str], groups: list[str]
) -> list[tuple[bool, str, str]]:
    _, _, uid, gid, _, home, shell = entry
    checks = []
    if spec.uid is not None:
        checks.append(_number("uid", spec.uid, uid))
    if spec.gid is not None:
        checks.append(_number("gid", spec.gid, gid))
    if spec.home is not None:
        checks.append(_text("home", spec.home, home))
    if spec.shell is not None:
        checks.append(_text("shell", spec.shell, shell))
    if spec.groups is not None:
        checks.append(_includes("groups", spec.groups, groups))
    return checks


def user_judge(spec: UserSpec, raw: Raw) -> Verdict:
    """Presence, uid, gid, home, shell and group memberships of a user."""
    entry = _entry(raw, "passwd", spec.name, _PASSWD_FIELDS)
    if isinstance(entry, Verdict):
        return entry
    decided = _presence(entry is not None, spec.exists)
    if decided is not None or entry is None:
        return decided or error("no passwd entry")
    groups = _memberships(spec, raw) if spec.groups is not None else []
    if isinstance(groups, Verdict):
        return groups
    return combine(_user_checks(spec, entry, groups), "user")


def group_fragment(spec: GroupSpec) -> str:
    """The group entry (name, password, gid, members)."""
    return _lookup("group", "/etc/group", spec.name)


def group_judge(spec: GroupSpec, raw: Raw) -> Verdict:
    """Presence, gid and listed members of a group."""
    entry = _entry(raw, "group", spec.name, _GROUP_FIELDS)
    if isinstance(entry, Verdict):
        return entry
    decided = _presence(entry is not None, spec.exists)
    if decided is not None or entry is None:
        return decided or error("no group entry")
    checks = []
    if spec.gid is not None:
        checks.append(_number("gid", spec.gid, entry[2]))
    if spec.members is not None:
        members = [m for m in entry[3].split(",") if m]
        checks.append(_includes("members", spec.members, members))
    return combine(checks, "group")


USER = CheckType("user", user_fragment, user_judge)
GROUP = CheckType("group", group_fragment, group_judge)

"""goss resources translated into butler-maint checks, one function per goss type.

Each function reads an ``Entry`` and returns the checks it could build (maybe none);
everything it could not say is a note on the entry. Where a goss attribute has no
check type of its own, a ``command`` check says it in POSIX sh with every value quoted
(``shlex.quote``): checksums (``sha256sum``), link targets (``readlink``), special
file types (``test -S``), negated content patterns (``grep``), names (``getent
ahosts``) and interfaces (/sys/class/net).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from butler_maint.importers.goss_entry import Body, Draft, Entry
from butler_maint.importers.patterns import Pattern, ere_literal

_TIMEOUT = "per-check timeouts do not exist: ssh.command_timeout in butler.yaml bounds a host"
_HASHES = {"md5": "md5sum", "sha256": "sha256sum", "sha512": "sha512sum"}
_TEST_FLAGS = {
    "symlink": "-L",
    "socket": "-S",
    "pipe": "-p",
    "character-device": "-c",
    "block-device": "-b",
}
_PORT_KEY = re.compile(r"^(tcp|tcp6|udp|udp6):([0-9]{1,5})$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DNS_TYPES = frozenset({"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"})
_ABSENT = "nothing else is checked of what must not exist; left out"


def _command(run: str, **expect: object) -> Body:
    return {"command": {"run": run, "expect": expect}}


def _grep_absent(entry: Entry, attr: str, pattern: Pattern, path: str) -> Draft | None:
    regex = pattern.ere()
    if regex is None:
        entry.note(f"pattern /{pattern.body}/ uses Go regex syntax grep -E lacks; left out", attr)
        return None
    run = f"grep -Eq -e {shlex.quote(regex)} -- {shlex.quote(path)}"
    return Draft(f"{entry.kind}-{entry.key}-not-contains", _command(run, rc=1))


# ---------------------------------------------------------------- file


def _contents(entry: Entry, path: str, spec: Body) -> list[Draft]:
    """``contains``/``contents``: the first pattern joins ``spec``, others get checks."""
    extra: list[Draft] = []
    for attr in ("contains", "contents"):
        for pattern in entry.patterns(attr) or []:
            if pattern.negated:
                draft = _grep_absent(entry, attr, pattern, path)
                extra += [draft] if draft else []
                continue
            regex = pattern.ere()
            if regex is None:
                entry.note(f"pattern /{pattern.body}/ uses Go regex syntax grep -E lacks", attr)
            elif regex == "":
                continue
            elif "contains" not in spec:
                spec["contains"] = regex
            else:
                body = {"file": {"path": path, "contains": regex}}
                extra.append(Draft(f"file-{entry.key}-contains", body))
    return extra


def _file_extras(entry: Entry, path: str) -> list[Draft]:
    drafts = []
    for attr, tool in _HASHES.items():
        digest = entry.text(attr)
        if digest is None:
            continue
        if not _HEX.match(digest):
            entry.note(f"expected a hex digest for {tool}; left out", attr)
            continue
        run = f"{tool} -- {shlex.quote(path)}"
        body = _command(run, stdout=f"^{digest.lower()} ")
        drafts.append(Draft(f"file-{entry.key}-{attr}", body))
    target = entry.text("linked-to")
    if target is not None:
        run = f"readlink -- {shlex.quote(path)}"
        body = _command(run, stdout=f"^{ere_literal(target)}$")
        drafts.append(Draft(f"file-{entry.key}-linked-to", body))
    return drafts


def _owner(entry: Entry, spec: Body) -> None:
    for name_attr, id_attr, field in (("owner", "uid", "owner"), ("group", "gid", "group")):
        name = entry.text(name_attr)
        number = entry.integer(id_attr) if entry.given(id_attr) else None
        if name is not None:
            spec[field] = name
            if number is not None:
                entry.note(f"{field} is checked by name ({name_attr}); left out", id_attr)
        elif number is not None:
            spec[field] = str(number)


def file(entry: Entry) -> list[Draft]:
    """``file``: ``file``/``directory`` checks, or ``test -X`` for other file types."""
    path = entry.text("path", entry.key)
    if path is None:
        return []
    if path.startswith("~"):
        entry.note("a path starting with ~ is the goss host's home; give an absolute path")
        return []
    exists, filetype = entry.flag("exists"), entry.text("filetype")
    if exists is False:
        entry.used.add("filetype")
        entry.leftovers({}, default=_ABSENT)
        return [Draft(f"file-{entry.key}", {"file": {"path": path, "exists": False}})]
    drafts: list[Draft] = []
    if filetype in _TEST_FLAGS:
        run = f"test {_TEST_FLAGS[filetype]} {shlex.quote(path)}"
        drafts.append(Draft(f"file-{entry.key}", _command(run, rc=0)))
    elif filetype in (None, "file", "directory"):
        kind = "directory" if filetype == "directory" else "file"
        if "filetype" not in entry.attrs:
            entry.note("no filetype: checked as a regular file (goss accepts any type)")
        spec: Body = {"path": path}
        mode = entry.text("mode")
        if mode is not None:
            spec["mode"] = mode.zfill(4) if mode.isdigit() else mode
        _owner(entry, spec)
        extra = _contents(entry, path, spec) if kind == "file" else []
        drafts += [Draft(f"file-{entry.key}", {kind: spec}), *extra]
    else:
        entry.note(f"unknown filetype {filetype!r}; left out", "filetype")
    drafts += _file_extras(entry, path)
    entry.leftovers(
        {
            "size": "butler-maint checks min_size_bytes, not an exact size; left out",
            "mode": "mode of a special file: only its type is checked; left out",
            "owner": "owner of a special file: only its type is checked; left out",
            "group": "group of a special file: only its type is checked; left out",
            "contains": "content is checked on a regular file only; left out",
            "contents": "content is checked on a regular file only; left out",
        }
    )
    return drafts


# ---------------------------------------------------------------- packages, services, processes


def package(entry: Entry) -> list[Draft]:
    """``package``: installed or not (dpkg or rpm, as the host has)."""
    name = entry.text("name", entry.key)
    installed = entry.flag("installed")
    if name is None:
        return []
    spec: Body = {"name": name, "installed": installed is not False}
    entry.leftovers({"versions": "butler-maint checks a min_version, not exact versions; left out"})
    return [Draft(f"package-{entry.key}", {"package": spec})]


def service(entry: Entry) -> list[Draft]:
    """``service``: running and enabled, each judged only when goss asks."""
    name = entry.text("name", entry.key)
    if name is None:
        return []
    spec: Body = {"name": name, "running": entry.flag("running"), "enabled": entry.flag("enabled")}
    entry.leftovers({"runlevels": "SysV runlevels are not checked (enablement is); left out"})
    return [Draft(f"service-{entry.key}", {"service": spec})]


def process(entry: Entry) -> list[Draft]:
    """``process``: at least one (or no) process with that command name."""
    name = entry.text("comm", entry.key)
    running = entry.flag("running")
    if name is None:
        return []
    spec: Body = {"name": name}
    if running is False:
        spec.update(min_count=0, max_count=0)
    entry.leftovers({})
    return [Draft(f"process-{entry.key}", {"process": spec})]


def kernel_param(entry: Entry) -> list[Draft]:
    """``kernel-param``: a sysctl value."""
    key, value = entry.text("name", entry.key), entry.text("value")
    entry.leftovers({})
    if key is None or value is None:
        if value is None and not entry.notes:
            entry.note("no value to check; left out")
        return []
    return [Draft(f"sysctl-{entry.key}", {"sysctl": {"key": key, "value": value}})]


# ---------------------------------------------------------------- accounts


def user(entry: Entry) -> list[Draft]:
    """``user``: the ``user`` check (name service, ``id -Gn``)."""
    name = entry.text("username", entry.key)
    if name is None:
        return []
    if name.isdigit():
        entry.note("a user name of digits only is looked up as a uid; left out")
        return []
    exists = entry.flag("exists")
    spec: Body = {"name": name}
    if exists is False:
        spec["exists"] = False
        entry.leftovers({}, default=_ABSENT)
    else:
        for attr in ("uid", "gid"):
            number = entry.integer(attr)
            if number is not None:
                spec[attr] = number
        groups = _groups(entry)
        if groups is not None:
            spec["groups"] = groups
        for attr in ("home", "shell"):
            text = entry.text(attr)
            if text is not None:
                spec[attr] = text
    entry.leftovers({})
    return [Draft(f"user-{entry.key}", {"user": spec})]


def _groups(entry: Entry) -> list[str] | None:
    """goss ``groups``: a list (a subset, as goss's default) or ``consist-of``."""
    raw = entry.attrs.get("groups")
    if isinstance(raw, dict) and set(raw) == {"consist-of"} and isinstance(raw["consist-of"], list):
        entry.used.add("groups")
        why = "consist-of: checked as membership of each group; others are not refused"
        entry.note(why, "groups")
        return [str(g) for g in raw["consist-of"]]
    return entry.texts("groups")


def group(entry: Entry) -> list[Draft]:
    """``group``: the ``group`` check."""
    name = entry.text("groupname", entry.key)
    if name is None:
        return []
    if name.isdigit():
        entry.note("a group name of digits only is looked up as a gid; left out")
        return []
    spec: Body = {"name": name}
    if entry.flag("exists") is False:
        spec["exists"] = False
        entry.leftovers({}, default=_ABSENT)
    elif (gid := entry.integer("gid")) is not None:
        spec["gid"] = gid
    entry.leftovers({})
    return [Draft(f"group-{entry.key}", {"group": spec})]


# ---------------------------------------------------------------- network


def port(entry: Entry) -> list[Draft]:
    """``port``: a listening socket, one check per goss ``ip``."""
    key = entry.text("port", entry.key) or ""
    match = _PORT_KEY.match(key)
    if match is None:
        entry.note("expected PROTO:PORT (tcp, tcp6, udp or udp6); left out")
        return []
    proto, number = match.group(1), int(match.group(2))
    if proto.endswith("6"):
        entry.note(f"{proto}: the port check matches IPv4 and IPv6 sockets alike")
    listening = entry.flag("listening") is not False
    spec: Body = {"port": number, "proto": proto.rstrip("6"), "listening": listening}
    addresses = entry.texts("ip") if listening else None
    entry.leftovers({"ip": "addresses of a port that must not listen: not checked; left out"})
    if not addresses:
        return [Draft(f"port-{key}", {"port": spec})]
    return [Draft(f"port-{key}-{ip}", {"port": {**spec, "address": ip}}) for ip in addresses]


def http(entry: Entry) -> list[Draft]:
    """``http``: status and body, fetched from the host itself."""
    url = entry.text("url", entry.key)
    if url is None:
        return []
    spec: Body = {"url": url, "status": entry.integer("status") or 200}
    if entry.flag("allow-insecure"):
        spec["verify_tls"] = False
    timeout = entry.integer("timeout")
    if timeout:
        spec["timeout_s"] = max(1, round(timeout / 1000))
    if entry.flag("no-follow-redirects") is not True:
        entry.note("goss follows redirects; the http check judges the first response")
    for pattern in entry.patterns("body") or []:
        regex = pattern.ere()
        if pattern.negated or regex is None or "contains" in spec:
            entry.note("the http check matches one (positive, ERE) body pattern; left out", "body")
        elif regex:
            spec["contains"] = regex
    method = entry.text("method")
    if method not in (None, "GET"):
        entry.note("the http check sends GET only; left out", "method")
    reason = "the http check sends a plain GET (no headers, credentials or proxy); left out"
    entry.leftovers(dict.fromkeys(_HTTP_REQUEST, reason))
    return [Draft(f"http-{url}", {"http": spec})]


_HTTP_REQUEST = (
    "request-headers",
    "headers",
    "username",
    "password",
    "ca-file",
    "cert-file",
    "key-file",
    "proxy",
    "request-body",
)


def dns(entry: Entry) -> list[Draft]:
    """``dns``: ``getent ahosts`` through the host's resolver (plain names only)."""
    name = entry.text("resolve", entry.key)
    if name is None:
        return []
    if name.split(":", 1)[0] in _DNS_TYPES:
        entry.note("typed DNS queries (A:, MX:, TXT:...) need a DNS client; left out")
        return []
    if entry.given("server"):
        entry.note("a named DNS server: getent asks the host's own resolver; left out")
        return []
    resolvable = entry.flag("resolvable") is not False
    expect: Body = {"rc": 0 if resolvable else 2}
    addrs = entry.texts("addrs") or [] if resolvable else []
    if addrs:
        expect["stdout"] = f"^{ere_literal(addrs[0])}\\s"
        if len(addrs) > 1:
            entry.note("one address is checked (the first); left out the others", "addrs")
    entry.leftovers({"timeout": _TIMEOUT})
    run = f"getent ahosts -- {shlex.quote(name)}"
    return [Draft(f"dns-{name}", {"command": {"run": run, "expect": expect}})]


def interface(entry: Entry) -> list[Draft]:
    """``interface``: /sys/class/net (exists, mtu) and ``ip -o addr`` (first address)."""
    name = entry.text("name", entry.key)
    if name is None or "/" in name or name in (".", ".."):
        entry.note("expected an interface name; left out")
        return []
    sys_dir = shlex.quote(f"/sys/class/net/{name}")
    if entry.flag("exists") is False:
        entry.leftovers({}, default=_ABSENT)
        return [Draft(f"interface-{name}", _command(f"test -d {sys_dir}", rc=1))]
    drafts = [Draft(f"interface-{name}", _command(f"test -d {sys_dir}", rc=0))]
    mtu = entry.integer("mtu")
    if mtu is not None:
        run = f"cat {shlex.quote(f'/sys/class/net/{name}/mtu')}"
        drafts.append(Draft(f"interface-{name}-mtu", _command(run, eq=mtu)))
    addrs = entry.texts("addrs") or []
    if addrs:
        run = f"ip -o addr show dev {shlex.quote(name)}"
        stdout = f"\\s{ere_literal(addrs[0])}(\\s|$)"
        drafts.append(Draft(f"interface-{name}-addr", _command(run, stdout=stdout)))
        if len(addrs) > 1:
            entry.note("one address is checked (the first); left out the others", "addrs")
    entry.leftovers({})
    return drafts


# ---------------------------------------------------------------- commands, mounts


def command(entry: Entry) -> list[Draft]:
    """``command``: exit status and stdout patterns (one must-match, one must-not)."""
    run = entry.text("exec", entry.key)
    if run is None:
        return []
    expect: Body = {"rc": entry.integer("exit-status")}
    for pattern in entry.patterns("stdout") or []:
        regex = pattern.python()
        field = "stdout_not" if pattern.negated else "stdout"
        if regex is None or field in expect:
            entry.note(f"the command check takes one {field} pattern; left out", "stdout")
        elif regex:
            expect[field] = regex
    entry.leftovers(
        {
            "timeout": _TIMEOUT,
            "stderr": "the command check does not match stderr; left out",
        }
    )
    return [Draft(f"command-{entry.key}", {"command": {"run": run, "expect": expect}})]


def mount(entry: Entry) -> list[Draft]:
    """``mount``: type and options; ``usage`` becomes a disk check."""
    path = entry.text("mountpoint", entry.key)
    if path is None:
        return []
    if entry.flag("exists") is False:
        entry.leftovers({}, default=_ABSENT)
        run = f"mountpoint -q -- {shlex.quote(path)}"
        return [Draft(f"mount-{path}", _command(run, rc=1))]
    spec: Body = {"path": path}
    fstype = entry.text("filesystem")
    if fstype is not None:
        spec["fstype"] = fstype
    options = entry.texts("opts")
    if options:
        spec["options"] = options
    drafts = [Draft(f"mount-{path}", {"mount": spec})]
    usage = entry.attrs.get("usage")
    if isinstance(usage, dict) and len(usage) == 1 and next(iter(usage)) in ("lt", "le"):
        entry.used.add("usage")
        limit = entry.value("usage")[next(iter(usage))]
        if isinstance(limit, (int, float)) and not isinstance(limit, bool):
            drafts.append(
                Draft(f"mount-{path}-usage", {"disk": {"path": path, "max_used_pct": limit}})
            )
            if "lt" in usage:
                entry.note(f"usage lt {limit} is checked as at most {limit} %", "usage")
    entry.leftovers(
        {
            "timeout": _TIMEOUT,
            "source": "the mount check does not compare the source device; left out",
            "vfs-opts": "the mount check reads /proc/mounts options (opts); left out",
            "usage": "expected usage: {lt: N} or {le: N}; left out",
        }
    )
    return drafts


def addr(entry: Entry) -> list[Draft]:
    """``addr``: no portable probe of a remote port exists in POSIX sh."""
    entry.note(
        "no check type connects from the host to another address (POSIX sh has no "
        "client); write a command check with the tool your hosts have, e.g. nc -z"
    )
    return []


TRANSLATORS: dict[str, Callable[[Entry], list[Draft]]] = {
    "package": package,
    "file": file,
    "port": port,
    "service": service,
    "process": process,
    "user": user,
    "group": group,
    "kernel-param": kernel_param,
    "command": command,
    "http": http,
    "mount": mount,
    "dns": dns,
    "interface": interface,
    "addr": addr,
}
"""goss resource type -> translator."""

UNSUPPORTED = {
    "gossfile": "includes are not followed: render them into one file with `goss render`, "
    "or import each file",
    "matching": "compares values given in the file, not the host's state: nothing to check",
}
"""goss top-level keys that have nothing to translate, and why."""

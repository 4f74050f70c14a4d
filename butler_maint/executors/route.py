"""How one host is reached: its typed connection plan, as ``ansible-playbook`` would reach it.

Pure: from the host's inventory vars, the ssh arguments in ``ansible_ssh_common_args``
and ``ansible_ssh_extra_args`` and an ``ssh_config`` already parsed (paramiko's
``SSHConfig``), build a :class:`Route`: the hops (jump hosts, then the target), or a
ProxyCommand, each with its address, port, user, identity files and known_hosts files.
The executor (``executors/ssh.py``) only follows it.

Precedence is OpenSSH's as Ansible's ``ssh`` connection calls it: the inventory's
``ansible_port``/``ansible_user``/``ansible_ssh_private_key_file`` come first on its
command line, then the common and extra args (the first value of an option wins), then
the ssh_config blocks matching the destination (``ansible_host``, else the inventory
name). A jump host gets what OpenSSH gives it: its ``[user@]host[:port]`` and its own
ssh_config blocks, never the target's ``-o`` options.

Options are sorted into three kinds. Honoured: where (HostName, Port, ProxyJump,
ProxyCommand), as whom (User, IdentityFile, IdentitiesOnly, IdentityAgent none) and
which host keys (UserKnownHostsFile, GlobalKnownHostsFile, HostKeyAlias,
StrictHostKeyChecking=yes). Plumbing of OpenSSH itself (ControlMaster, ControlPersist,
ServerAliveInterval, Compression, ciphers, forwarding...): accepted, nothing to do.
Anything else that changes where, as whom or how trustingly a host is reached
(BindAddress, CertificateFile, KnownHostsCommand, CanonicalizeHostname...) and any
option not known here: a :class:`RouteError` naming the host and the variable (or
ssh_config file), never ignored. Weakening host-key checking (StrictHostKeyChecking=no,
UserKnownHostsFile=/dev/null) is not applied: keys stay verified on every hop, as they
do for playbooks.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from butler_maint.errors import InventoryError
from butler_maint.executors import Become
from butler_maint.executors._paramiko import paramiko
from butler_maint.inventory import HostInfo, UndecryptedSecret

SSH_PORT = 22
ARGS_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
_PASSWORD_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
_BECOME_PASSWORD_VARS = ("ansible_become_password", "ansible_become_pass")
MAX_JUMPS = 8  # OpenSSH has no limit; a longer chain is a loop in an ssh_config

# Options that only tune OpenSSH's own plumbing (connection sharing, keepalives,
# algorithms, forwarding, logging): accepted wherever they are.
PLUMBING = frozenset(
    {"controlmaster", "controlpersist", "controlpath", "serveraliveinterval"}
    | {"serveralivecountmax", "compression", "tcpkeepalive", "connecttimeout"}
    | {"connectionattempts", "batchmode", "loglevel", "logverbose", "sendenv", "setenv"}
    | {"hashknownhosts", "gssapiauthentication", "gssapidelegatecredentials"}
    | {"gssapikeyexchange", "gssapitrustdns", "forwardagent", "forwardx11"}
    | {"forwardx11trusted", "forwardx11timeout", "xauthlocation", "requesttty"}
    | {"escapechar", "exitonforwardfailure", "addkeystoagent", "usekeychain"}
    | {"ignoreunknown", "kbdinteractiveauthentication", "challengeresponseauthentication"}
    | {"passwordauthentication", "pubkeyauthentication", "preferredauthentications"}
    | {"numberofpasswordprompts", "visualhostkey", "updatehostkeys", "ciphers", "macs"}
    | {"kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedkeytypes"}
    | {"pubkeyacceptedalgorithms", "casignaturealgorithms"}
    | {"hostbasedacceptedalgorithms", "hostbasedkeytypes", "ipqos", "syslogfacility"}
    | {"streamlocalbindmask", "streamlocalbindunlink", "clearallforwardings"}
    | {"localforward", "remoteforward", "dynamicforward", "gatewayports", "rekeylimit"}
    | {"fingerprinthash", "enableescapecommandline", "obscurekeystroketiming"}
    | {"sessiontype", "stdinnull", "forkafterauthentication", "permitlocalcommand"}
    | {"localcommand", "requiredrsasize", "checkhostip", "permitremoteopen", "tunnel"}
    | {"tunneldevice", "protocol", "useroaming", "usedns", "canonicaldomains"}
    | {"canonicalizefallbacklocal", "canonicalizemaxdots", "canonicalizepermittedcnames"}
    | {"channeltimeout", "tag", "include", "verifyhostkeydns", "gssapikexalgorithms"}
    | {"gssapiserveridentity", "gssapiclientidentity", "gssapirenewalforcesrekey"}
    | {"enablesshkeysign", "kbdinteractivedevices", "rsaauthentication", "cipher"}
    | {"rhostsrsaauthentication", "warnweakcrypto", "forwardx11display"}
)
# Honoured (see the module docstring).
HONOURED = frozenset(
    {"hostname", "port", "user", "identityfile", "identitiesonly", "identityagent"}
    | {"proxyjump", "proxycommand", "userknownhostsfile", "globalknownhostsfile"}
    | {"hostkeyalias", "stricthostkeychecking"}
)
# Options that change where, as whom or how trustingly, and that checks cannot follow.
REFUSED = frozenset(
    {"bindaddress", "bindinterface", "certificatefile", "pkcs11provider"}
    | {"securitykeyprovider", "knownhostscommand", "proxyusefdpass", "remotecommand"}
    | {"revokedhostkeys", "nohostauthenticationforlocalhost", "hostbasedauthentication"}
)
# Values of plumbing-looking options that would change where or how trustingly.
_ONLY = {
    "verifyhostkeydns": {"no"},  # yes: keys from DNS would be trusted
    "canonicalizehostname": {"no"},
    "addressfamily": {"any", "inet", "inet6"},
    "tunnel": {"no"},
    "sessiontype": {"default"},
    "forkafterauthentication": {"no"},
    "stdinnull": {"no"},
}
# ssh's own flags that take no value and only tune plumbing or output.
_FLAGS = frozenset("CqvTtnaAxXkKgsMN")
_VALUE_FLAGS = {"-J": "proxyjump", "-p": "port", "-l": "user", "-i": "identityfile"}
_IGNORED_VALUE_FLAGS = frozenset({"-c", "-m", "-e", "-E", "-S", "-L", "-R", "-D", "-O"})
_REFUSED_VALUE_FLAGS = {"-b": "BindAddress", "-B": "BindInterface", "-I": "PKCS11Provider"}
_REFUSED_VALUE_FLAGS |= {"-w": "Tunnel", "-W": "stdio forwarding", "-Q": "a query"}


_OPTION = re.compile(r"\s*(?P<key>[A-Za-z0-9]+)\s*(?:=\s*|\s+|$)(?P<value>.*)\Z", re.DOTALL)


class RouteError(InventoryError):
    """A host's connection settings ask for something that cannot be honoured."""


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way: a jump host or the target itself."""

    name: str  # as written (inventory address, or a ProxyJump entry), for messages
    address: str  # what is connected to (HostName)
    port: int = SSH_PORT
    user: str | None = None  # None: the local user name, as OpenSSH does
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    agent: bool = True
    known_hosts: tuple[str, ...] = ()  # extra known_hosts files trusted for this hop
    key_alias: str | None = None  # HostKeyAlias: the name its key is filed under
    strict: bool = False  # StrictHostKeyChecking=yes: never accept a new key
    family: int = 0  # AddressFamily: socket.AF_INET, AF_INET6, or 0 for any

    @property
    def key_name(self) -> str:
        """The name its host key is looked up under in known_hosts."""
        if self.key_alias:
            return self.key_alias
        return self.address if self.port == SSH_PORT else f"[{self.address}]:{self.port}"

    @property
    def shown(self) -> str:
        """``name (address:port)`` for messages."""
        where = f"{self.address}:{self.port}"
        return where if self.name in {self.address, where} else f"{self.name} ({where})"


@dataclass(frozen=True)
class Route:
    """Every hop to the host, in order (jump hosts first, the target last)."""

    hops: tuple[Hop, ...]
    proxy_command: str | None = None  # runs to reach ``hops[0]``
    password: str | None = field(default=None, repr=False)  # the target's SSH password
    become: Become | None = None

    @property
    def target(self) -> Hop:
        """The host itself."""
        return self.hops[-1]

    @property
    def direct(self) -> bool:
        """No jump host, no ProxyCommand: a plain TCP connection to the target."""
        return len(self.hops) == 1 and self.proxy_command is None


@dataclass(frozen=True)
class _Option:
    key: str  # lower case
    value: str
    source: str  # the variable or ssh_config file it came from


ConfigLoader = Callable[[str], Any]
"""Reads the ssh_config file a ``-F`` argument names (a paramiko ``SSHConfig``)."""


def route(
    host: HostInfo,
    config: paramiko.SSHConfig | None = None,
    load: ConfigLoader | None = None,
    ssh_args: tuple[str, str] | None = None,
) -> Route:
    """The route to ``host``; raise :class:`RouteError` naming host and variable.

    ``config`` is the ssh_config of the run (None: none); a ``-F FILE`` in the host's
    args replaces it with ``load(FILE)``, as ``ssh -F`` does. ``ssh_args`` is
    ansible's ``ssh_args`` setting (where it was set, its text): first on ssh's command
    line, unless the host's ``ansible_ssh_args`` replaces it."""
    if host.connection not in {"ssh", "local"}:
        raise RouteError(
            f"host {host.name}: ansible_connection {host.connection!r}: checks reach hosts "
            "with ssh, paramiko or local"
        )
    if host.connection == "local":  # no SSH: only become applies
        return Route((Hop(host.name, "localhost"),), become=_become(host))
    options = _base_options(host, ssh_args) + _inventory_options(host) + _args_options(host)
    given = _first(options)
    if (file := given.pop("-f", None)) is not None:
        if load is None:
            raise _refused(host.name, file.source, f"-F {file.value}")
        config = load(os.path.expanduser(file.value))
    destination = host.address
    config_options = _config_options(config, destination, "ssh_config")
    merged = {**config_options, **given}
    if "identityfile" in given and "identityfile" in config_options:
        joined = f"{given['identityfile'].value}\0{config_options['identityfile'].value}"
        merged["identityfile"] = _Option("identityfile", joined, given["identityfile"].source)
    _refuse_unhonourable(host.name, merged.values())
    target = _hop(host.name, destination, merged)
    jumps = _jumps(host.name, merged, config)
    command = _proxy_command(merged, target)
    if jumps and command is not None:  # OpenSSH: whichever comes first wins
        if _proxy_first(options, config_options):
            jumps = ()
        else:
            command = None
    return Route((*jumps, target), command, _password(host), _become(host))


def direct_route(host: HostInfo) -> Route:
    """The route of a host without ssh args or ssh_config: the inventory values only."""
    return route(host, None)


def _inventory_options(host: HostInfo) -> list[_Option]:
    """What Ansible puts on ssh's command line before the args: Port, key file, User."""
    found: list[_Option] = []
    if any(host.vars.get(v) is not None for v in ("ansible_port", "ansible_ssh_port")):
        found.append(_Option("port", str(host.port), "ansible_port"))
    if (key := host.private_key_file) is not None:
        found.append(_Option("identityfile", key, "ansible_ssh_private_key_file"))
    if (user := host.user) is not None:
        found.append(_Option("user", user, "ansible_user"))
    return found


def _base_options(host: HostInfo, ssh_args: tuple[str, str] | None) -> list[_Option]:
    """``ansible_ssh_args`` of the host, else ansible's ``ssh_args`` setting."""
    raw = host.vars.get("ansible_ssh_args")
    if raw is not None:
        return parse_args(host.name, "ansible_ssh_args", str(raw))
    if ssh_args is None:
        return []
    return parse_args(host.name, ssh_args[0], ssh_args[1])


def _args_options(host: HostInfo) -> list[_Option]:
    options: list[_Option] = []
    for var in ARGS_VARS:
        raw = host.vars.get(var)
        if raw is None:
            continue
        if isinstance(raw, UndecryptedSecret):
            str(raw)  # raises: vault-encrypted and no password
        options += parse_args(host.name, var, str(raw))
    return options


def parse_args(host: str, var: str, text: str) -> list[_Option]:
    """ssh command-line arguments (as Ansible splits them) as options, in order."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise RouteError(f"host {host}: {var}: cannot split {text!r}: {exc}") from None
    options: list[_Option] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or len(word) < 2:
            raise RouteError(
                f"host {host}: {var}: {word!r} is not an ssh option: expected options such "
                "as -o Key=Value, -J jump or -p port (the destination comes from the inventory)"
            )
        flag, inline = word[:2], word[2:]
        if flag in {"-o", "-F", *_VALUE_FLAGS, *_IGNORED_VALUE_FLAGS, *_REFUSED_VALUE_FLAGS}:
            if not inline:
                if index >= len(words):
                    raise RouteError(f"host {host}: {var}: {flag} needs a value")
                inline = words[index]
                index += 1
            options += _flag_option(host, var, flag, inline)
        elif all(c in _FLAGS or c in "46" for c in word[1:]):
            for char in "46":
                if char in word:
                    family = "inet" if char == "4" else "inet6"
                    options.append(_Option("addressfamily", family, var))
        else:
            raise RouteError(
                f"host {host}: {var}: unknown ssh option {word!r}: cannot tell whether it "
                "changes where or as whom the host is reached"
            )
    return options


def _flag_option(host: str, var: str, flag: str, value: str) -> list[_Option]:
    if flag == "-o":
        found = _OPTION.match(value)
        if found is None:
            raise RouteError(f"host {host}: {var}: -o {value!r}: expected Key=Value")
        return [_Option(found["key"].lower(), found["value"].strip().strip('"'), var)]
    if flag == "-F":
        return [_Option("-f", value, var)]
    if flag in _VALUE_FLAGS:
        return [_Option(_VALUE_FLAGS[flag], value, var)]
    if flag in _REFUSED_VALUE_FLAGS:
        raise _refused(host, var, f"{flag} ({_REFUSED_VALUE_FLAGS[flag]})")
    return []


def _refused(host: str, source: str, what: str) -> RouteError:
    return RouteError(
        f"host {host}: {source}: {what} changes where, as whom or how trustingly the host "
        "is reached, and butler-maint's checks cannot do the same; remove it or run "
        "this host's checks another way"
    )


def _first(options: Iterable[_Option]) -> dict[str, _Option]:
    """First value wins, as in OpenSSH; IdentityFile and known_hosts files add up."""
    merged: dict[str, _Option] = {}
    for option in options:
        known = merged.get(option.key)
        if known is None:
            merged[option.key] = option
        elif option.key in {"identityfile", "userknownhostsfile", "globalknownhostsfile"}:
            merged[option.key] = _Option(option.key, f"{known.value}\0{option.value}", known.source)
    return merged


def _config_options(config: Any, name: str, source: str) -> dict[str, _Option]:
    """The ssh_config blocks matching ``name``, first value wins (not yet expanded)."""
    if config is None:
        return {}
    try:
        # paramiko's first pass, before its own %-expansion: tokens are expanded here
        # with the values that win in the end (ansible_port over the file's Port).
        found: Mapping[str, Any] = config._lookup(hostname=name)
    except ImportError:  # paramiko runs ``Match exec`` through invoke, not imported here
        raise RouteError(
            f"host {name}: {source}: a 'Match exec' block applies to it; butler-maint does "
            "not run ssh_config commands: use Host or Match host/user blocks"
        ) from None
    except Exception as exc:  # paramiko raises its own for what it cannot evaluate
        raise RouteError(f"host {name}: ssh_config: {exc}") from None
    options: dict[str, _Option] = {}
    for key, value in found.items():
        text = "\0".join(value) if isinstance(value, list) else str(value)
        options[key] = _Option(key, text, source)
    return options


def _refuse_unhonourable(host: str, options: Iterable[_Option]) -> None:
    for option in options:
        key, value = option.key, option.value.strip().lower()
        if key in HONOURED or key == "-f":
            continue
        if key in _ONLY:
            if value not in _ONLY[key]:
                raise _refused(host, option.source, f"{key} {option.value}")
            continue
        if key in PLUMBING:
            continue
        if key in REFUSED:
            raise _refused(host, option.source, f"{key} {option.value}")
        raise RouteError(
            f"host {host}: {option.source}: unknown or unsupported ssh option {key!r}: "
            "butler-maint cannot tell whether it changes where, as whom or how trustingly "
            "the host is reached"
        )


def _hop(name: str, destination: str, options: Mapping[str, _Option]) -> Hop:
    """A hop from its merged options; ``destination`` is the name ssh was given."""
    values = {k: o.value for k, o in options.items()}
    address = values.get("hostname") or destination
    user = values.get("user")
    port = _port(name, options.get("port"))
    address = _Tokens(destination, destination, port, user).expand(address)
    tokens = _Tokens(destination, address, port, user)
    identities = tuple(
        tokens.path(f) for f in _split(values.get("identityfile")) if f.lower() != "none"
    )
    known = tuple(
        tokens.path(f)
        for key in ("userknownhostsfile", "globalknownhostsfile")
        for entry in _split(values.get(key))
        for f in entry.split()
        if f.lower() != "none"
    )
    agent = values.get("identityagent", "SSH_AUTH_SOCK")
    if agent.lower() != "none" and agent not in {"SSH_AUTH_SOCK", "$SSH_AUTH_SOCK"}:
        raise _refused(name, options["identityagent"].source, f"IdentityAgent {agent}")
    return Hop(
        name=destination,
        address=address,
        port=port,
        user=user,
        identity_files=identities,
        identities_only=_yes(values.get("identitiesonly")),
        agent=agent.lower() != "none",
        known_hosts=known,
        key_alias=values.get("hostkeyalias"),
        strict=values.get("stricthostkeychecking", "").lower() == "yes",
        family=_FAMILIES[values.get("addressfamily", "any").strip().lower()],
    )


_FAMILIES = {"any": 0, "inet": socket.AF_INET, "inet6": socket.AF_INET6}


def _port(name: str, option: _Option | None) -> int:
    if option is None:
        return SSH_PORT
    try:
        port = int(option.value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise RouteError(
            f"host {name}: {option.source}: port {option.value!r}: expected a number 1-65535"
        )
    return port


def _split(joined: str | None) -> list[str]:
    return [] if not joined else [p for p in joined.split("\0") if p]


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in {"yes", "true"}


def _jumps(name: str, options: Mapping[str, _Option], config: Any) -> tuple[Hop, ...]:
    """The jump hosts of ``ProxyJump`` (``[user@]host[:port]``, comma separated)."""
    option = options.get("proxyjump")
    if option is None or option.value.strip().lower() == "none":
        return ()
    hops: list[Hop] = []
    pending = [e.strip() for e in option.value.split(",") if e.strip()]
    for _round in range(4 * MAX_JUMPS):
        if not pending:
            break
        if len(hops) >= MAX_JUMPS:
            raise RouteError(f"host {name}: {option.source}: more than {MAX_JUMPS} jump hosts")
        spec = pending.pop(0)
        user, host, port = _jump_spec(name, option.source, spec)
        given = {"user": user, "port": port}
        extra = {k: _Option(k, v, option.source) for k, v in given.items() if v is not None}
        theirs = _config_options(config, host, f"ssh_config (for jump host {host})")
        merged = {**theirs, **extra}
        _refuse_unhonourable(name, merged.values())
        if "proxycommand" in merged and merged["proxycommand"].value.lower() != "none":
            raise _refused(name, merged["proxycommand"].source, "a jump host's ProxyCommand")
        # A jump host's own ProxyJump: OpenSSH reaches it through those first.
        inner = merged.get("proxyjump")
        if inner is not None and inner.value.strip().lower() != "none" and not hops:
            pending = [e.strip() for e in inner.value.split(",") if e.strip()] + [
                spec,
                *pending,
            ]
            merged = {k: v for k, v in merged.items() if k != "proxyjump"}
            config = _Without(config, host)
            continue
        hops.append(_hop(name, host, merged))
    if pending:
        raise RouteError(f"host {name}: {option.source}: the jump hosts' ProxyJump loop")
    return tuple(hops)


class _Without:
    """An ssh_config whose ProxyJump for one host was already followed (no loop)."""

    def __init__(self, config: Any, host: str) -> None:
        self._config = config
        self._host = host

    def _lookup(self, hostname: str) -> Mapping[str, Any]:
        found = dict(self._config._lookup(hostname=hostname))
        if hostname == self._host:
            found.pop("proxyjump", None)
        return found


def _jump_spec(name: str, source: str, spec: str) -> tuple[str | None, str, str | None]:
    """``[ssh://][user@]host[:port]`` (IPv6 in brackets) -> user, host, port."""
    text = spec.removeprefix("ssh://")
    user, at, rest = text.rpartition("@")
    host, port = rest, None
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") or None
    elif rest.count(":") == 1:
        host, _, port = rest.partition(":")
    if not host or host.startswith("-") or (at and not user):
        raise RouteError(f"host {name}: {source}: jump host {spec!r}: expected [user@]host[:port]")
    return (user or None), host, port


def _proxy_command(options: Mapping[str, _Option], target: Hop) -> str | None:
    option = options.get("proxycommand")
    if option is None or option.value.strip().lower() == "none":
        return None
    tokens = _Tokens(target.name, target.address, target.port, target.user)
    return tokens.expand(option.value)


def _proxy_first(options: list[_Option], config: Mapping[str, _Option]) -> bool:
    """Whether ProxyCommand was given before ProxyJump (OpenSSH uses the first)."""
    for option in options:
        if option.key in {"proxycommand", "proxyjump"}:
            return option.key == "proxycommand"
    return "proxycommand" in config and "proxyjump" not in config


@dataclass(frozen=True)
class _Tokens:
    """ssh_config's ``%`` tokens: %h %p %r %n %u %d %%."""

    original: str
    address: str
    port: int
    user: str | None

    def expand(self, text: str) -> str:
        if "%" not in text:
            return text
        values = {
            "h": self.address,
            "p": str(self.port),
            "r": self.user or _local_user(),
            "n": self.original,
            "u": _local_user(),
            "d": os.path.expanduser("~"),
            "%": "%",
        }
        out, index = [], 0
        while index < len(text):
            char = text[index]
            if char == "%" and index + 1 < len(text) and text[index + 1] in values:
                out.append(values[text[index + 1]])
                index += 2
                continue
            out.append(char)
            index += 1
        return "".join(out)

    def path(self, text: str) -> str:
        return os.path.expanduser(self.expand(text.strip('"')))


def _local_user() -> str:
    return getpass.getuser()


def _password(host: HostInfo) -> str | None:
    for var in _PASSWORD_VARS:
        value = host.vars.get(var)
        if value is not None:
            return str(value)  # an UndecryptedSecret raises, naming the variable
    return None


_BECOME_METHODS = frozenset({"sudo", "su", "doas"})


def _become(host: HostInfo) -> Become | None:
    if not host.become:
        return None
    method = str(host.vars.get("ansible_become_method") or "sudo")
    method = method.removeprefix("ansible.builtin.").removeprefix("community.general.")
    if method not in _BECOME_METHODS:
        raise RouteError(
            f"host {host.name}: ansible_become_method {method!r}: checks can become another "
            f"user with {', '.join(sorted(_BECOME_METHODS))}"
        )
    password = next(
        (str(host.vars[v]) for v in _BECOME_PASSWORD_VARS if host.vars.get(v) is not None),
        None,
    )
    if password is not None and ("\n" in password or "\r" in password):
        raise RouteError(f"host {host.name}: the become password contains a line break")
    if password is not None and method != "sudo":
        raise RouteError(
            f"host {host.name}: a become password with ansible_become_method {method}: "
            "that needs a terminal; checks give a password to sudo only"
        )
    exe = host.vars.get("ansible_become_exe")
    flags = host.vars.get("ansible_become_flags")
    return Become(
        method=method,
        user=host.become_user,
        password=password,
        exe=None if exe is None else str(exe),
        flags=None if flags is None else str(flags),
    )

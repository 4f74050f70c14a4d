"""Run a script on a host over SSH with paramiko: one connection, one round trip.

Host keys are verified against the system, user and project known_hosts files; an
unknown or changed key is an error naming its SHA256 fingerprint and no file is
touched, unless ``accept_new`` (``--accept-new-host-keys``) lets an unknown key be
appended to the project file (``Execution.new_host_key`` says so, for the caller to
name the key). A changed key is never accepted. No agent forwarding.
Small SSH packets meet Nagle and delayed ACKs: TCP_NODELAY on our side, and on Linux
TCP_QUICKACK before every read, so that a server holding back its reply until we
acknowledge its last packet (OpenSSH does, right after authentication) does not wait
the ~40 ms of a delayed ACK: on loopback, connecting and running a command took ~60 ms
and now takes ~20.
Ciphers: AES-GCM first (authenticated encryption: no separate MAC to compute and
compare in Python per packet), then AES-CTR; paramiko's CBC and 3DES are not offered.

The remote command prints its pid first (the process group of the whole script, see
``remote_command``); a stop, or the deadline, kills that group from a second channel on
the same connection, so nothing of the script is left running on the host. Output is
read within ``OutputLimits``: what is beyond them is counted and hashed, not kept.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import shlex
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from butler_maint.errors import ButlerError
from butler_maint.executors import (
    Become,
    Capture,
    Execution,
    OutputLimits,
    Streams,
    kill_group_command,
    remote_command,
    stdin_prefix,
    when_stopped,
)
from butler_maint.executors._paramiko import paramiko
from butler_maint.executors.hostcert import (
    CERT_SUFFIX,
    Authority,
    check_host_certificate,
    read_authorities,
)
from butler_maint.executors.route import SSH_PORT, Hop, Route, direct_route
from butler_maint.inventory import HostInfo

if TYPE_CHECKING:
    from _typeshed import FileDescriptorOrPath

SYSTEM_KNOWN_HOSTS = (Path("/etc/ssh/ssh_known_hosts"), Path("~/.ssh/known_hosts"))
DEFAULT_SSH_CONFIGS = (Path("~/.ssh/config"), Path("/etc/ssh/ssh_config"))
"""The ssh_config files OpenSSH reads, in its order."""
_POLL_S = 0.05


@dataclass(frozen=True)
class SshOptions:
    """Connection settings shared by every host of a run."""

    project_known_hosts: Path
    trusted_known_hosts: tuple[Path, ...] = SYSTEM_KNOWN_HOSTS
    accept_new: bool = False
    connect_timeout: float = 10
    banner_timeout: float = 10
    auth_timeout: float = 10
    command_timeout: float = 300
    keepalive: float = 15
    ssh_config: tuple[Path, ...] = DEFAULT_SSH_CONFIGS  # read by checks (``ssh -F``: one)


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


def _transport(
    sock: socket.socket | str | tuple[str, int] | paramiko.Channel | paramiko.ProxyCommand,
    /,
    *,
    disabled_algorithms: Mapping[str, Iterable[str]] | None = None,
    gss_kex: bool = False,
    gss_deleg_creds: bool = False,
) -> paramiko.Transport:
    """paramiko's Transport, offering ``_CIPHERS`` in that order (``transport_factory``).

    The GSS-API flags are in the signature the type stubs declare; GSS-API key
    exchange is never used here (current paramiko has none)."""
    del gss_kex, gss_deleg_creds
    transport = paramiko.Transport(sock, disabled_algorithms=disabled_algorithms)
    transport.get_security_options().ciphers = _CIPHERS
    return transport


class _CertFirstTransport(paramiko.Transport):
    """Asks for the host's certificate before its plain key (a @cert-authority applies)."""

    @property
    def preferred_keys(self) -> tuple[str, ...]:
        keys = tuple(super().preferred_keys)
        return tuple(k for k in keys if k.endswith(CERT_SUFFIX)) + tuple(
            k for k in keys if not k.endswith(CERT_SUFFIX)
        )


def _cert_transport(
    sock: socket.socket | str | tuple[str, int] | paramiko.Channel | paramiko.ProxyCommand,
    /,
    *,
    disabled_algorithms: Mapping[str, Iterable[str]] | None = None,
    gss_kex: bool = False,
    gss_deleg_creds: bool = False,
) -> paramiko.Transport:
    """``_transport`` for a host whose certificate a trusted authority may sign."""
    del gss_kex, gss_deleg_creds
    transport = _CertFirstTransport(sock, disabled_algorithms=disabled_algorithms)
    transport.get_security_options().ciphers = _CIPHERS
    return transport


class _HostKeyRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


UNKNOWN_HOST_KEY = "unknown host key for "
CHANGED_HOST_KEY = "CHANGED: got "


def is_host_key_error(message: str) -> bool:
    """True for the message of a host key that was refused (unknown or changed)."""
    return message.startswith(UNKNOWN_HOST_KEY) or (
        message.startswith("host key for ") and CHANGED_HOST_KEY in message
    )


class _Policy(paramiko.MissingHostKeyPolicy):
    """Unknown keys: reject (default), or append to the project known_hosts. A host
    certificate is checked against the ``@cert-authority`` lines instead, never added."""

    def __init__(self, options: SshOptions, authorities: Sequence[Authority] = ()) -> None:
        self.options = options
        self.authorities = authorities
        self.accepted: str | None = None  # "TYPE SHA256:..." of a key trusted just now

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        shown = f"{key.get_name()} {fingerprint(key)}"
        blob = key.public_blob
        if blob is not None and blob.key_type.endswith(CERT_SUFFIX):
            names = [hostname, _bare_name(hostname)]
            refusal = check_host_certificate(blob.key_blob, names, self.authorities)
            if refusal is None:
                return
            raise _HostKeyRejected(
                f"{UNKNOWN_HOST_KEY}{hostname} ({shown}): {refusal}; not connecting"
            )
        if not self.options.accept_new:
            raise _HostKeyRejected(
                f"{UNKNOWN_HOST_KEY}{hostname} ({shown}); if that is the host's key, run "
                f"once with --accept-new-host-keys, or add it to the project known_hosts: "
                f"{_keyscan(hostname, key)} >> {self.options.project_known_hosts}"
            )
        _append_known_host(self.options.project_known_hosts, hostname, key)
        self.accepted = shown


def _keyscan(hostname: str, key: paramiko.PKey) -> str:
    """The ``ssh-keyscan`` command that prints this host's key of this type."""
    address, port = hostname, SSH_PORT
    if hostname.startswith("[") and "]:" in hostname:
        address, _, rest = hostname[1:].partition("]:")
        port = int(rest)
    flag = f"-p {port} " if port != SSH_PORT else ""
    return f"ssh-keyscan {flag}-t {key.get_name()} {shlex.quote(address)}"


def _append_known_host(path: Path, hostname: str, key: paramiko.PKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="ascii") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class TrustedKeys(paramiko.HostKeys):
    """paramiko's HostKeys, plus the ``@cert-authority`` lines it skips."""

    def __init__(self) -> None:
        super().__init__()
        self.authorities: list[Authority] = []

    def load(self, filename: FileDescriptorOrPath) -> None:
        """paramiko's ``load``, skipping marker lines (``@cert-authority``, ``@revoked``:
        see ``hostcert``) and malformed ones as OpenSSH does, rather than failing."""
        with open(filename, encoding="utf-8", errors="replace") as handle:
            for number, raw in enumerate(handle, 1):
                line = raw.strip()
                if not line or line.startswith(("#", "@")):
                    continue
                try:
                    entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
                except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey):
                    continue
                if entry is None:
                    continue
                entry.hostnames = [h for h in entry.hostnames if not self.check(h, entry.key)]
                if entry.hostnames:  # what paramiko's load does (entries not in its stubs)
                    vars(self)["_entries"].append(entry)


def known_hosts(options: SshOptions) -> TrustedKeys:
    """Every trusted host key, read once per run (system, user, project files)."""
    keys = TrustedKeys()
    paths = (*options.trusted_known_hosts, options.project_known_hosts)
    for path in paths:
        expanded = path.expanduser()
        if expanded.is_file():
            keys.load(str(expanded))
    keys.authorities = read_authorities(paths)
    return keys


def _bare_name(name: str) -> str:
    if name.startswith("[") and "]:" in name:
        return name[1:].partition("]:")[0]
    return name


def _authorities(
    trusted: paramiko.HostKeys | None, options: SshOptions, hop: Hop
) -> list[Authority]:
    """The @cert-authority lines that apply to ``hop`` (its own known_hosts files too)."""
    found = list(getattr(trusted, "authorities", ()))
    if trusted is None:
        found = read_authorities((*options.trusted_known_hosts, options.project_known_hosts))
    found += read_authorities(Path(p) for p in hop.known_hosts)
    names = (hop.key_name, _bare_name(hop.key_name))
    return [a for a in found if any(a.matches(n) for n in names)]


def _client(
    options: SshOptions, trusted: paramiko.HostKeys | None, hop: Hop, policy: _Policy
) -> paramiko.SSHClient:
    """A client that knows the trusted keys of ``hop`` only (and its own known_hosts
    files, when its options name some).

    Copying every known key into every client costs O(n^2) per client in paramiko
    (each insert scans the entries): seconds of CPU for a fleet of a hundred hosts.
    """
    client = paramiko.SSHClient()
    keys = trusted if trusted is not None else known_hosts(options)
    name = hop.key_name
    found: list[Mapping[str, paramiko.PKey]] = [keys.lookup(name) or {}]
    for extra in hop.known_hosts:
        if Path(extra).is_file():
            with contextlib.suppress(OSError, paramiko.SSHException):
                extra_keys = TrustedKeys()
                extra_keys.load(extra)
                found.append(extra_keys.lookup(name) or {})
    for entry in found:
        for keytype, key in entry.items():
            client.get_host_keys().add(name, keytype, key)
    client.set_missing_host_key_policy(policy)
    return client


_Sock = socket.socket | paramiko.Channel | paramiko.ProxyCommand


def run_ssh(
    host: HostInfo,
    script: str,
    options: SshOptions,
    trusted: paramiko.HostKeys | None = None,
    *,
    stop: threading.Event | None = None,
    limits: OutputLimits | None = None,
    route: Route | None = None,
) -> Execution:
    """Connect to ``host``, run ``script`` on ``sh -s``, return its output.

    ``trusted`` is ``known_hosts(options)``, passed in so a run reads the files once.
    ``route`` says how to reach it (jump hosts, ProxyCommand, become); without one, the
    host's inventory vars alone. Every hop's host key is verified the same way.
    Once ``stop`` is set (from any thread) the script's process group is killed on the
    host and the result, ``stopped``, comes back within about a second. ``limits``
    bound the output kept in memory (defaults: :class:`OutputLimits`).
    """
    if stop is not None and stop.is_set():
        return Execution("error", message=_STOPPED_BEFORE, stopped=True)
    try:
        chosen = route or direct_route(host)
    except ButlerError as exc:
        return Execution("error", message=str(exc))
    opened = _first_socket(chosen, options)
    if isinstance(opened, Execution):
        return opened
    chain = _Chain(opened)
    try:
        with when_stopped(stop, chain.shut):
            reached = _through(chain, chosen, options, trusted)
        if stop is not None and stop.is_set():
            return Execution("error", message=_STOPPED_BEFORE, stopped=True)
        if isinstance(reached, Execution):
            return reached
        client, policy = reached
        done = _run(client, script, options, _Job(stop, limits, chosen.become))
        return replace(done, new_host_key=policy.accepted is not None)
    finally:
        chain.close()


class _Chain:
    """The first socket (or ProxyCommand) and every client opened through it."""

    def __init__(self, first: socket.socket | paramiko.ProxyCommand) -> None:
        self.first = first
        self.clients: list[paramiko.SSHClient] = []

    def shut(self) -> None:
        """Make a connect in progress fail at once (its thread is blocked in paramiko)."""
        if isinstance(self.first, socket.socket):
            _shut(self.first)
        else:
            with contextlib.suppress(OSError, paramiko.SSHException):
                self.first.close()

    def close(self) -> None:
        for client in reversed(self.clients):
            client.close()
        with contextlib.suppress(OSError, paramiko.SSHException):
            self.first.close()


def _first_socket(
    route: Route, options: SshOptions
) -> socket.socket | paramiko.ProxyCommand | Execution:
    """The connection to the first hop: TCP (TCP_NODELAY), or the ProxyCommand's pipes."""
    first = route.hops[0]
    if route.proxy_command is not None:
        # OpenSSH runs it with the user's shell (``exec`` in front); paramiko splits its
        # argument with shlex and runs it without one: quoted whole for ``sh -c``.
        try:
            return paramiko.ProxyCommand(
                shlex.join(["/bin/sh", "-c", "exec " + route.proxy_command])
            )
        except (paramiko.SSHException, OSError) as exc:
            return Execution("unreachable", message=f"cannot start the ProxyCommand: {exc}")
    try:
        sock = _tcp(first, options.connect_timeout)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = "" if len(route.hops) == 1 else "jump host "
        return Execution(
            "unreachable",
            message=f"cannot connect to {where}{first.address}:{first.port}: {reason}",
        )
    return _quick(sock)


def _tcp(hop: Hop, timeout: float) -> socket.socket:
    """A TCP connection to ``hop`` (only over IPv4 or IPv6 when its AddressFamily says)."""
    if not hop.family:
        return socket.create_connection((hop.address, hop.port), timeout)
    failure: OSError = OSError(f"no {socket.AddressFamily(hop.family).name} address")
    for family, kind, proto, _, where in socket.getaddrinfo(
        hop.address, hop.port, hop.family, socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(where)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    raise failure


def _through(
    chain: _Chain, route: Route, options: SshOptions, trusted: paramiko.HostKeys | None
) -> tuple[paramiko.SSHClient, _Policy] | Execution:
    """Log in to each hop in turn, each next one through a ``direct-tcpip`` channel."""
    sock: _Sock = chain.first
    for index, hop in enumerate(route.hops):
        last = index == len(route.hops) - 1
        strict = replace(options, accept_new=options.accept_new and not hop.strict)
        policy = _Policy(strict, _authorities(trusted, options, hop))
        client = _client(options, trusted, hop, policy)
        chain.clients.append(client)
        password = route.password if last else None
        refused = _connect(client, sock, hop, options, password, authorities=policy.authorities)
        label = "" if last else f"jump host {hop.shown}: "
        if refused is not None:
            if policy.accepted is not None:  # trusted, then refused
                refused = replace(refused, host_key=policy.accepted, new_host_key=True)
            return replace(refused, message=label + refused.message)
        if last:
            return client, policy
        following = route.hops[index + 1]
        transport = client.get_transport()
        assert transport is not None  # connect() succeeded
        try:
            sock = transport.open_channel(
                "direct-tcpip",
                (following.address, following.port),
                ("127.0.0.1", 0),
                timeout=options.connect_timeout,
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            return Execution(
                "unreachable",
                message=f"{label}cannot reach {following.address}:{following.port}: "
                f"{exc or type(exc).__name__}",
            )
    raise AssertionError("a route has at least one hop")  # pragma: no cover


_STOPPED_BEFORE = "stopped before the check script started"


def _shut(sock: socket.socket) -> None:
    """Make a connect in progress fail at once (its thread is blocked in paramiko)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _QuickAckSocket(socket.socket):
    """A TCP socket that asks for an immediate ACK before each read (Linux)."""

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        assert _QUICKACK is not None  # only made where the option exists
        self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        return super().recv(bufsize, flags)


def _quick(sock: socket.socket) -> socket.socket:
    """``sock`` with TCP_NODELAY, as a ``_QuickAckSocket`` where TCP_QUICKACK exists."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if _QUICKACK is None:
        return sock
    timeout = sock.gettimeout()
    quick = _QuickAckSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    quick.settimeout(timeout)
    return quick


def _connect(
    client: paramiko.SSHClient,
    sock: _Sock,
    hop: Hop,
    options: SshOptions,
    password: str | None,
    *,
    authorities: Sequence[Authority] = (),
) -> Execution | None:
    """Handshake, host key and login; the reason as an ``Execution`` when they fail."""
    keys = [f for f in hop.identity_files if Path(f).is_file()]  # OpenSSH skips missing ones
    if hop.key_alias:  # paramiko files the key under [hostname]:port unless port is 22
        hostname, port = hop.key_alias, SSH_PORT
    else:
        hostname, port = hop.address, hop.port
    try:
        client.connect(
            hostname,
            port=port,
            username=hop.user or _local_user(),
            password=password,
            key_filename=keys or None,  # type: ignore[arg-type]  # a list works too
            look_for_keys=not hop.identity_files,
            allow_agent=hop.agent and not hop.identities_only,
            sock=sock,
            timeout=options.connect_timeout,
            banner_timeout=options.banner_timeout,
            auth_timeout=options.auth_timeout,
            channel_timeout=options.connect_timeout,
            transport_factory=_cert_transport if authorities else _transport,
        )
    except _HostKeyRejected as exc:
        return Execution("error", message=exc.message)
    except paramiko.BadHostKeyException as exc:
        return Execution(
            "error",
            message=f"host key for {hop.address}:{hop.port} {CHANGED_HOST_KEY}"
            f"{exc.key.get_name()} {fingerprint(exc.key)}, known_hosts has "
            f"{fingerprint(exc.expected_key)}; possible man-in-the-middle, not connecting",
        )
    except paramiko.AuthenticationException as exc:
        missing = [f for f in hop.identity_files if f not in keys]
        hint = f" (identity file not found: {', '.join(missing)})" if missing else ""
        return Execution("error", message=f"authentication failed as {hop.user}: {exc}{hint}")
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return Execution(
            "error", message=f"SSH handshake with {hop.address}:{hop.port} failed: {exc}"
        )
    return None


def _local_user() -> str:
    import getpass

    return getpass.getuser()


@dataclass(frozen=True)
class _Job:
    """What a script run needs besides the host: its stop event and output limits."""

    stop: threading.Event | None
    limits: OutputLimits | None
    become: Become | None = None


def _run(client: paramiko.SSHClient, script: str, options: SshOptions, job: _Job) -> Execution:
    transport = client.get_transport()
    assert transport is not None  # connect() succeeded
    key = transport.get_remote_server_key()
    seen = f"{key.get_name()} {fingerprint(key)}"
    if options.keepalive:
        transport.set_keepalive(int(options.keepalive))
    result = _exec(transport, script, options.command_timeout, job)
    return replace(result, host_key=seen)


def _exec(transport: paramiko.Transport, script: str, deadline_s: float, job: _Job) -> Execution:
    become = job.become
    try:
        channel = transport.open_session(timeout=deadline_s)
        channel.exec_command(remote_command(deadline_s, become))
        channel.sendall(stdin_prefix(become) + script.encode())
        channel.shutdown_write()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        return Execution("error", message=f"cannot start the check script: {exc}")
    streams = Streams.open(job.limits)
    stdout = _Stdout(streams.out)
    try:
        finished = _wait(channel, stdout, streams.err, time.monotonic() + deadline_s, job.stop)
        if finished:
            stdout.flush()
            return streams.execution("ok", channel.recv_exit_status())
        stopped = job.stop is not None and job.stop.is_set()
        if stopped and stdout.pgid is None:  # the first line is on its way: wait a little
            limit = time.monotonic() + _PGID_WAIT_S
            _wait(channel, stdout, streams.err, limit, None, until_pgid=True)
        killed = stdout.pgid is not None and _kill_group(transport, stdout.pgid, become)
        stdout.flush()
    finally:
        channel.close()
    if not stopped:
        message = f"no answer within {deadline_s:g} s; remote script killed"
    elif killed:
        message = "stopped: the check script was killed on the host"
    else:
        message = (
            "stopped, but the check script could not be killed on the host: "
            f"it ends at its deadline ({deadline_s:g} s)"
        )
    return streams.execution("error", None, message, stopped=stopped)


_PGID_WAIT_S = 0.5  # after a stop, how long to wait for the script's first line
_KILL_S = 1.0  # after a stop, how long killing the script's process group may take


def _wait(
    channel: paramiko.Channel,
    stdout: _Stdout,
    stderr: Capture,
    deadline: float,
    stop: threading.Event | None,
    *,
    until_pgid: bool = False,
) -> bool:
    """Read until the script exits (True), or the deadline, a stop or a closed channel
    (False); with ``until_pgid``, also once the script's process group is known."""
    channel.settimeout(_POLL_S)
    while time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            return False
        _drain(channel, stdout, stderr)
        if (
            channel.exit_status_ready()
            and not channel.recv_ready()
            and not channel.recv_stderr_ready()
        ):
            _drain(channel, stdout, stderr)
            return True
        if channel.closed and not channel.recv_ready():
            return False
        if until_pgid and stdout.pgid is not None:
            return False
    return False


def _kill_group(transport: paramiko.Transport, pgid: int, become: Become | None) -> bool:
    """Kill the script's process group from a second channel; True once that ran."""
    limit = time.monotonic() + _KILL_S
    try:
        channel = transport.open_session(timeout=_KILL_S)
    except (paramiko.SSHException, OSError, EOFError):
        return False
    try:
        channel.exec_command(kill_group_command(pgid, become))
        channel.shutdown_write()
        return channel.status_event.wait(max(0.0, limit - time.monotonic()))
    except (paramiko.SSHException, OSError, EOFError):
        return False
    finally:
        channel.close()


class _Stdout:
    """The remote command's stdout: its first line is the script's process group id."""

    _LINE_MAX = 32

    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.pgid: int | None = None
        self._head: bytes | None = b""  # None once the first line was read

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the remote command's stdout."""
        if self._head is None:
            self.capture.feed(chunk)
            return
        self._head += chunk
        line, newline, rest = self._head.partition(b"\n")
        if not newline and len(self._head) <= self._LINE_MAX:
            return
        head, self._head = self._head, None
        if newline and line.strip().isdigit():
            self.pgid = int(line)
            self.capture.feed(rest)
        else:  # not the line we print first: a login shell's chatter; keep it as output
            self.capture.feed(head)

    def flush(self) -> None:
        """The stream is over (or abandoned): a partial first line is output."""
        if self._head:
            self.capture.feed(self._head)
        self._head = None


_READ = 2**20


def _drain(channel: paramiko.Channel, stdout: _Stdout, stderr: Capture) -> None:
    """Read what is there, waiting at most one poll interval."""
    try:
        chunk = channel.recv(_READ)
    except TimeoutError:
        chunk = None
    if chunk:
        stdout.feed(chunk)
    elif chunk == b"":  # EOF on stdout: wait for the exit status rather than spin
        channel.status_event.wait(_POLL_S)
    while channel.recv_stderr_ready():
        stderr.feed(channel.recv_stderr(_READ))

"""OpenSSH host certificates, trusted through ``@cert-authority`` lines of known_hosts.

paramiko skips ``@cert-authority`` lines and never checks a host certificate; this
module does what OpenSSH does with them: a line ``@cert-authority PATTERNS KEYTYPE KEY``
trusts host certificates signed by that key for the host names matching PATTERNS
(``*``/``?`` wildcards, ``!`` negation, ``[host]:port`` for other ports). A certificate
is accepted when it is a *host* certificate, signed by such a key (signature verified),
valid now, and names the host among its principals (an empty principal list is refused,
as by OpenSSH). ``@revoked`` lines refuse a key outright.

Pure apart from :func:`read_authorities`, which reads the files.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from butler_maint.executors._paramiko import paramiko

CERT_SUFFIX = "-cert-v01@openssh.com"
_HOST_CERT = 2
# Public-key fields (all read as SSH strings) between the nonce and the serial.
_KEY_FIELDS = {"ssh-ed25519": 1, "ssh-rsa": 2, "ecdsa-sha2-nistp256": 2}
_KEY_FIELDS |= {"ecdsa-sha2-nistp384": 2, "ecdsa-sha2-nistp521": 2}


@dataclass(frozen=True)
class Authority:
    """One ``@cert-authority`` (or ``@revoked``) line."""

    patterns: tuple[str, ...]
    key_blob: bytes  # the CA's public key, SSH wire format
    revoked: bool = False

    def matches(self, name: str) -> bool:
        """Whether the line's host patterns admit ``name`` (negations win)."""
        hit = False
        for pattern in self.patterns:
            negated = pattern.startswith("!")
            if _glob(pattern.removeprefix("!")).fullmatch(name.lower()):
                if negated:
                    return False
                hit = True
        return hit


def _glob(pattern: str) -> re.Pattern[str]:
    """known_hosts patterns: ``*`` and ``?`` only (``[`` is literal, as in ``[host]:port``)."""
    escaped = re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(escaped)


def parse_authorities(text: str) -> list[Authority]:
    """The ``@cert-authority`` and ``@revoked`` lines of a known_hosts text."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 4 or words[0] not in {"@cert-authority", "@revoked"}:
            continue
        try:
            blob = base64.b64decode(words[3], validate=True)
        except ValueError:
            continue  # OpenSSH skips a malformed line too
        found.append(Authority(tuple(words[1].split(",")), blob, words[0] == "@revoked"))
    return found


def read_authorities(paths: Iterable[Path]) -> list[Authority]:
    """The ``@cert-authority``/``@revoked`` lines of the known_hosts files that exist."""
    found: list[Authority] = []
    for path in paths:
        expanded = path.expanduser()
        if expanded.is_file():
            try:
                found += parse_authorities(expanded.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return found


@dataclass(frozen=True)
class Certificate:
    """The fields of an OpenSSH certificate that decide whether to trust it."""

    cert_type: int
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: bytes
    signature_key: bytes
    signed: bytes  # everything the signature covers
    signature: bytes


def parse_certificate(blob: bytes) -> Certificate:
    """Read a certificate blob; raise ValueError when it is not one we can read."""
    try:
        msg = paramiko.Message(blob)
        cert_name = msg.get_text()
        base = cert_name.removesuffix(CERT_SUFFIX)
        if base == cert_name or base not in _KEY_FIELDS:
            raise ValueError(f"not a certificate type butler-maint reads: {cert_name}")
        msg.get_string()  # nonce
        for _ in range(_KEY_FIELDS[base]):
            msg.get_string()
        msg.get_int64()  # serial
        cert_type = msg.get_int()
        key_id = msg.get_text()
        principals_msg = paramiko.Message(msg.get_string())
        principals = []
        while principals_msg.get_remainder():
            principals.append(principals_msg.get_text())
        valid_after, valid_before = msg.get_int64(), msg.get_int64()
        critical = msg.get_string()
        msg.get_string()  # extensions
        msg.get_string()  # reserved
        signature_key = msg.get_string()
        signed = blob[: msg.packet.tell()]
        signature = msg.get_string()
    except (paramiko.SSHException, IndexError, UnicodeDecodeError, TypeError) as exc:
        raise ValueError(f"unreadable certificate: {exc}") from None
    return Certificate(
        cert_type, key_id, tuple(principals), valid_after, valid_before, critical,
        signature_key, signed, signature,
    )  # fmt: skip


def check_host_certificate(
    blob: bytes,
    names: Sequence[str],
    authorities: Sequence[Authority],
    now: float | None = None,
) -> str | None:
    """None when the certificate is trusted for one of ``names``; else why not."""
    try:
        cert = parse_certificate(blob)
    except ValueError as exc:
        return str(exc)
    if any(a.revoked and a.key_blob == cert.signature_key for a in authorities):
        return "its certificate authority is marked @revoked"
    trusted = [a for a in authorities if not a.revoked and any(a.matches(name) for name in names)]
    if not any(a.key_blob == cert.signature_key for a in trusted):
        return "its certificate is not signed by a @cert-authority trusted for this host"
    if cert.cert_type != _HOST_CERT:
        return "its certificate is not a host certificate"
    moment = int(time.time() if now is None else now)
    if not cert.valid_after <= moment < cert.valid_before:
        return "its certificate is not valid now (expired or not yet valid)"
    if not set(cert.principals) & {_bare(n) for n in names}:
        shown = ", ".join(cert.principals) or "none"
        return f"its certificate does not name this host (principals: {shown})"
    if cert.critical_options:
        return "its certificate has critical options, which no host certificate may have"
    try:
        ca_type = paramiko.Message(cert.signature_key).get_text()
        ca = paramiko.PKey.from_type_string(ca_type, cert.signature_key)
        valid = ca.verify_ssh_sig(cert.signed, paramiko.Message(cert.signature))
    except (paramiko.SSHException, ValueError, TypeError, UnicodeDecodeError) as exc:
        return f"its certificate signature cannot be checked: {exc}"
    return None if valid else "its certificate signature is invalid"


def _bare(name: str) -> str:
    """``[host]:port`` -> ``host``: principals name hosts without ports."""
    if name.startswith("[") and "]:" in name:
        return name[1:].partition("]:")[0]
    return name

"""SSH signatures (OpenSSH's SSHSIG format, what ``ssh-keygen -Y sign`` writes and git
uses for SSH-signed commits): checked in-process, made by ``ssh-keygen``.

A signature signs a message under a *namespace*; butler-maint uses two, one per role:
``butler-maint-report`` (an operator signs the digest text of a run's report) and
``butler-maint-approval`` (an approver signs the digest text of an approval entry).
``allowed_signers`` (OpenSSH's format, ``ssh-keygen(1)`` "ALLOWED SIGNERS") names whose
keys may sign; an entry's ``namespaces="..."`` option limits it to those roles, so
``namespaces="butler-maint-approval"`` makes a key an approver only, and the stock
``ssh-keygen -Y verify`` enforces the same.

Verification is in-process (``cryptography``): Ed25519, ECDSA (P-256/384/521) and RSA
(``rsa-sha2-256``/``rsa-sha2-512``) keys. Signing runs ``ssh-keygen -Y sign`` with the
key file named in ``butler.yaml`` or, through ssh-agent, a public key whose private half
the agent holds.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from butler_maint.errors import ExitCode
from butler_maint.evidence.errors import EvidenceError

REPORT_NAMESPACE = "butler-maint-report"
APPROVAL_NAMESPACE = "butler-maint-approval"
ROLES = {"operator": REPORT_NAMESPACE, "approver": APPROVAL_NAMESPACE}
MAGIC = b"SSHSIG"
ARMOR_BEGIN = "-----BEGIN SSH SIGNATURE-----"
ARMOR_END = "-----END SSH SIGNATURE-----"
SIGN_TIMEOUT = 60.0
"""Seconds ``ssh-keygen -Y sign`` may take (an agent may ask for confirmation)."""
_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    }
)
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


class SignatureError(EvidenceError):
    """A signature that does not hold, or a signing key that cannot be used."""


class SignersFileError(EvidenceError):
    """An ``allowed_signers`` line that cannot be read (names ``file:line``)."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, path: Path | None = None, line: int = 0) -> None:
        super().__init__(message)
        self.path, self.line = path, line


def fingerprint(blob: bytes) -> str:
    """``SHA256:...`` of a public key blob, as ``ssh-keygen -l`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


# -- the wire format ---------------------------------------------------------------


class _Buffer:
    """Reads SSH wire-format values (RFC 4251) from bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise SignatureError("truncated signature")
        part = self.data[self.at : self.at + n]
        self.at += n
        return part

    def uint32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def done(self) -> bool:
        return self.at == len(self.data)


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class Sshsig:
    """A parsed SSHSIG blob."""

    public_key: bytes
    namespace: str
    hash_algorithm: str
    signature: bytes

    @classmethod
    def parse(cls, text: str) -> Sshsig:
        """A signature from its armored text or the base64 of its blob."""
        body = "".join(
            line.strip() for line in text.strip().splitlines() if not line.startswith("-----")
        )
        try:
            blob = base64.b64decode(body, validate=True)
        except ValueError:
            raise SignatureError("the signature is not base64") from None
        buf = _Buffer(blob)
        if buf.take(6) != MAGIC or buf.uint32() != 1:
            raise SignatureError("not an SSH signature (SSHSIG version 1)")
        key, namespace = buf.string(), buf.string()
        buf.string()  # reserved
        algorithm, signature = buf.string(), buf.string()
        if not buf.done():
            raise SignatureError("trailing bytes after the signature")
        return cls(key, namespace.decode("utf-8", "replace"), algorithm.decode(), signature)

    def signed_data(self, message: bytes) -> bytes:
        """What the key signed: the SSHSIG preamble and the hash of ``message``."""
        digest = _HASHES[self.hash_algorithm](message).digest()
        return (
            MAGIC
            + _string(self.namespace.encode())
            + _string(b"")
            + _string(self.hash_algorithm.encode())
            + _string(digest)
        )


def armor(blob_b64: str) -> str:
    """The armored form ``ssh-keygen -Y verify -s`` reads, of a signature's base64."""
    lines = [blob_b64[i : i + 70] for i in range(0, len(blob_b64), 70)]
    return "\n".join([ARMOR_BEGIN, *lines, ARMOR_END]) + "\n"


def _public_key(blob: bytes) -> Any:
    key_type = _Buffer(blob).string().decode("ascii", "replace")
    line = f"{key_type} {base64.b64encode(blob).decode()}".encode()
    try:
        return serialization.load_ssh_public_key(line)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"unusable public key ({key_type}): {exc}") from None


def _check(key: Any, sig: bytes, data: bytes) -> None:
    """Raise InvalidSignature unless ``sig`` (SSH wire signature) signs ``data``."""
    buf = _Buffer(sig)
    algorithm, raw = buf.string().decode("ascii", "replace"), buf.string()
    if isinstance(key, ed25519.Ed25519PublicKey) and algorithm == "ssh-ed25519":
        key.verify(raw, data)
    elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm.startswith("ecdsa-sha2-"):
        size = key.curve.key_size
        chosen: hashes.HashAlgorithm = hashes.SHA512()
        if size <= 384:
            chosen = hashes.SHA256() if size <= 256 else hashes.SHA384()
        inner = _Buffer(raw)
        key.verify(encode_dss_signature(inner.mpint(), inner.mpint()), data, ec.ECDSA(chosen))
    elif isinstance(key, rsa.RSAPublicKey) and algorithm in ("rsa-sha2-256", "rsa-sha2-512"):
        chosen_rsa = hashes.SHA256() if algorithm == "rsa-sha2-256" else hashes.SHA512()
        key.verify(raw, data, padding.PKCS1v15(), chosen_rsa)
    else:
        raise SignatureError(f"signature algorithm {algorithm} does not fit the key")


# -- allowed_signers ------------------------------------------------------------------


@dataclass(frozen=True)
class SignerEntry:
    """One ``allowed_signers`` line: principals, roles (namespaces) and the key."""

    principals: tuple[str, ...]
    namespaces: tuple[str, ...] | None
    key_type: str
    blob: bytes
    line: int

    @property
    def fingerprint(self) -> str:
        """The key's ``SHA256:...`` fingerprint."""
        return fingerprint(self.blob)

    def allows(self, namespace: str) -> bool:
        """True when this key may sign in ``namespace`` (no option: every namespace)."""
        return self.namespaces is None or namespace in self.namespaces

    def roles(self) -> list[str]:
        """The roles this key holds (``operator``, ``approver``)."""
        return [role for role, ns in ROLES.items() if self.allows(ns)]


@dataclass
class AllowedSigners:
    """The parsed ``allowed_signers`` file: who may sign, with which key, in which role."""

    path: Path
    entries: list[SignerEntry]
    _keys: dict[bytes, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path) -> AllowedSigners:
        """Read ``path``; SignersFileError naming ``path:line`` for a bad line."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SignersFileError(
                f"{path}: no allowed_signers file (signing is on in butler.yaml): list "
                'the keys that may sign, one `PRINCIPAL [namespaces="..."] KEYTYPE KEY` '
                "line each"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SignersFileError(f"{path}: cannot read allowed_signers: {exc}") from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> AllowedSigners:
        """Parse allowed_signers text (``path`` names it in errors)."""
        entries = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if line and not line.startswith("#"):
                entries.append(_entry(line, number, path))
        return cls(path, entries)

    def by_key(self, blob: bytes) -> list[SignerEntry]:
        """The entries of the key ``blob``."""
        return [e for e in self.entries if e.blob == blob]

    def principal_of(self, blob: bytes, namespace: str) -> str | None:
        """The first principal that may sign in ``namespace`` with key ``blob``."""
        for entry in self.by_key(blob):
            if entry.allows(namespace):
                return entry.principals[0]
        return None

    def principals_for(self, namespace: str) -> list[tuple[str, str]]:
        """(principal, fingerprint) of every key allowed in ``namespace``."""
        return [(e.principals[0], e.fingerprint) for e in self.entries if e.allows(namespace)]

    def verify(self, signature: str, message: bytes, namespace: str, principal: str) -> str:
        """Check ``signature`` of ``message``: a valid signature in ``namespace`` by a
        key that ``allowed_signers`` lists for ``principal`` in that role. Return the
        key's fingerprint; SignatureError saying why not."""
        sig = Sshsig.parse(signature)
        if sig.namespace != namespace:
            raise SignatureError(f"signed for {sig.namespace!r}, not {namespace!r}")
        if sig.hash_algorithm not in _HASHES:
            raise SignatureError(f"unknown hash algorithm {sig.hash_algorithm!r}")
        entries = self.by_key(sig.public_key)
        if not entries:
            raise SignatureError(
                f"signed by key {fingerprint(sig.public_key)}, which {self.path.name} does not list"
            )
        if not any(principal in e.principals and e.allows(namespace) for e in entries):
            raise SignatureError(
                f"signed by key {fingerprint(sig.public_key)}, which {self.path.name} does not "
                f"allow for {principal!r} in {namespace}"
            )
        key = self._keys.get(sig.public_key)
        if key is None:
            key = self._keys[sig.public_key] = _public_key(sig.public_key)
        try:
            _check(key, sig.signature, sig.signed_data(message))
        except InvalidSignature:
            raise SignatureError("the signature does not match (content or key)") from None
        return fingerprint(sig.public_key)


def _split_unquoted(text: str, sep: str) -> tuple[list[str], str]:
    """``text`` cut at ``sep`` outside double quotes (quotes removed), up to the first
    unquoted whitespace; the parts and what follows the whitespace."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for at, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch.isspace():
            parts.append("".join(current))
            return parts, text[at:].strip()
        elif not quoted and ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ValueError("No closing quotation")
    parts.append("".join(current))
    return parts, ""


def _entry(line: str, number: int, path: Path) -> SignerEntry:
    where = f"{path}:{number}"
    principals_text, _, rest = line.partition(" ")
    principals = tuple(p for p in principals_text.split(",") if p)
    options: dict[str, str] = {}
    rest = rest.strip()
    if rest and rest.split()[0] not in _KEY_TYPES:
        try:
            raw_options, rest = _split_unquoted(rest, ",")
        except ValueError as exc:
            raise SignersFileError(f"{where}: {exc}", path, number) from None
        for option in raw_options:
            name, _, value = option.partition("=")
            options[name.lower()] = value
    words = rest.split()
    if len(words) < 2 or not principals:
        raise SignersFileError(
            f"{where}: expected `PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]` with a key "
            f"type of {', '.join(sorted(_KEY_TYPES))}",
            path,
            number,
        )
    unknown = set(options) - {"namespaces"}
    if unknown:
        raise SignersFileError(
            f"{where}: option {sorted(unknown)[0]!r} is not supported (only namespaces=)",
            path,
            number,
        )
    try:
        blob = base64.b64decode(words[1], validate=True)
        if _Buffer(blob).string().decode() != words[0]:
            raise ValueError
    except (ValueError, SignatureError):
        raise SignersFileError(
            f"{where}: the {words[0]} key is not valid base64", path, number
        ) from None
    names = options.get("namespaces")
    namespaces = tuple(n.strip() for n in names.split(",")) if names is not None else None
    return SignerEntry(principals, namespaces, words[0], blob, number)


# -- signing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """A key that signs through ``ssh-keygen -Y sign``: a private key file, or a public
    key file whose private half ssh-agent holds (``SSH_AUTH_SOCK``)."""

    path: Path
    """What ``ssh-keygen -f`` is given."""
    public: bytes
    """The public key blob."""
    principal: str
    """The principal ``allowed_signers`` lists for the key."""

    @property
    def fingerprint(self) -> str:
        """The key's ``SHA256:...`` fingerprint."""
        return fingerprint(self.public)

    def sign(self, message: bytes, namespace: str) -> str:
        """The base64 SSHSIG blob of ``message`` in ``namespace``."""
        try:
            done = subprocess.run(
                ["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(self.path)],
                input=message, capture_output=True, timeout=SIGN_TIMEOUT, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SignatureError(f"ssh-keygen -Y sign with {self.path}: {exc}") from None
        text = done.stdout.decode("ascii", "replace")
        if done.returncode != 0 or ARMOR_BEGIN not in text:
            why = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
            raise SignatureError(f"ssh-keygen -Y sign with {self.path} failed: {why}")
        body = "".join(ln.strip() for ln in text.splitlines() if not ln.startswith("-----"))
        if Sshsig.parse(body).public_key != self.public:
            raise SignatureError(f"ssh-keygen signed with another key than {self.path}")
        return body


def read_public_key(text: str, where: str) -> bytes:
    """The blob of an OpenSSH public key line (``TYPE BASE64 [COMMENT]``)."""
    parts = text.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
        if parts[0] not in _KEY_TYPES or _Buffer(blob).string().decode() != parts[0]:
            raise ValueError
    except (IndexError, ValueError, SignatureError):
        raise SignatureError(f"{where}: not an OpenSSH public key") from None
    return blob


def key_from_file(path: Path) -> bytes:
    """The public key blob of a key file: a ``.pub`` file, the ``.pub`` beside a private
    key, or what ``ssh-keygen -y`` derives from an unencrypted private key."""
    pub = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
    if pub.is_file():
        return read_public_key(pub.read_text(encoding="utf-8", errors="replace"), str(pub))
    if not path.is_file():
        raise SignatureError(f"{path}: no such signing key file")
    done = subprocess.run(
        ["ssh-keygen", "-y", "-P", "", "-f", str(path)],
        capture_output=True, timeout=SIGN_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise SignatureError(f"{path}: cannot read its public key (put {pub.name} beside it)")
    return read_public_key(done.stdout.decode("ascii", "replace"), str(path))


def agent_keys() -> list[str]:
    """The public key lines ssh-agent offers (``ssh-add -L``); none without an agent."""
    if not os.environ.get("SSH_AUTH_SOCK"):
        return []
    try:
        done = subprocess.run(
            ["ssh-add", "-L"], capture_output=True, timeout=SIGN_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [ln for ln in done.stdout.decode("ascii", "replace").splitlines() if ln.strip()]


def agent_key_file(line: str) -> Path:
    """A private temporary ``.pub`` file holding ``line``, for ``ssh-keygen -f`` to find
    the agent's key by (the file is removed when the process exits)."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
        "w", prefix="butler-agent-key-", suffix=".pub", delete=False
    )
    with handle:
        handle.write(line.strip() + "\n")
    _TEMP_FILES.append(Path(handle.name))
    return Path(handle.name)


_TEMP_FILES: list[Path] = []


def _cleanup() -> None:
    for path in _TEMP_FILES:
        path.unlink(missing_ok=True)


atexit.register(_cleanup)


def choose_key(
    signers: AllowedSigners, namespace: str, key_file: Path | None, agent: Iterable[str]
) -> SigningKey:
    """The key that signs in ``namespace``: ``key_file`` when given, else the first key
    the agent offers that ``allowed_signers`` allows there. SignatureError naming what
    to do when there is none."""
    if key_file is not None:
        blob = key_from_file(key_file)
        principal = signers.principal_of(blob, namespace)
        if principal is None:
            raise SignatureError(
                f"the signing key {key_file} ({fingerprint(blob)}) is not listed in "
                f"{signers.path} for {namespace}: add `PRINCIPAL {_role_hint(namespace)}"
                "KEYTYPE KEY` for it"
            )
        return SigningKey(key_file, blob, principal)
    offered = list(agent)
    for line in offered:
        blob = read_public_key(line, "ssh-agent")
        principal = signers.principal_of(blob, namespace)
        if principal is not None:
            return SigningKey(agent_key_file(line), blob, principal)
    where = "ssh-agent offers no key" if not offered else "no key of ssh-agent's is"
    raise SignatureError(
        f"cannot sign: {where} listed in {signers.path} for {namespace}; load one with "
        "`ssh-add`, or name a key file in butler.yaml (signing: key:)"
    )


def _role_hint(namespace: str) -> str:
    return f'namespaces="{namespace}" '

"""Real OpenSSH signing keys and ssh-agents for tests of signed evidence.

``People`` makes one ed25519 key per person with ``ssh-keygen`` and, on demand, a real
``ssh-agent`` per person holding only that person's key (the environment a command run
"as" that person gets). Agents run in the foreground under this process and are killed
by pid when the ``People`` is closed; their sockets live in a short private directory
(a UNIX socket path is limited to 108 bytes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from butler_maint.evidence.sshsig import SigningKey, fingerprint, key_from_file

AGENT_WAIT = 5.0


@dataclass
class Person:
    """One person: a principal and their key files."""

    principal: str
    key: Path

    @property
    def pub(self) -> Path:
        return self.key.with_name(self.key.name + ".pub")

    @property
    def public_line(self) -> str:
        return " ".join(self.pub.read_text().split()[:2])

    @property
    def fingerprint(self) -> str:
        return fingerprint(key_from_file(self.pub))

    def signing_key(self, principal: str | None = None) -> SigningKey:
        """A ``SigningKey`` for this person's key file (ssh-keygen signs)."""
        return SigningKey(self.key, key_from_file(self.pub), principal or self.principal)


@dataclass
class People:
    """Keys and agents under ``base``."""

    base: Path
    people: dict[str, Person] = field(default_factory=dict)
    agents: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)
    _sock_dir: Path | None = None

    def person(self, name: str, principal: str) -> Person:
        """Make (once) the key of ``name``, who signs as ``principal``."""
        if name not in self.people:
            key = self.base / f"{name}_ed25519"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(key)],
                check=True,
            )
            self.people[name] = Person(principal, key)
        return self.people[name]

    def agent_env(self, name: str) -> dict[str, str]:
        """The environment of a command run as ``name``: their own ssh-agent holding
        their key (started once)."""
        if name not in self.agents:
            if self._sock_dir is None:
                self._sock_dir = Path(tempfile.mkdtemp(prefix="bsig-"))
            sock = self._sock_dir / f"{name}.sock"
            proc = subprocess.Popen(
                ["ssh-agent", "-D", "-a", str(sock)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + AGENT_WAIT
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.agents[name] = (proc, sock)
            env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
            subprocess.run(
                ["ssh-add", "-q", str(self.people[name].key)], env=env, check=True,
                capture_output=True,
            )  # fmt: skip
        return {"SSH_AUTH_SOCK": str(self.agents[name][1])}

    def close(self) -> None:
        """Kill the agents this object started (by pid) and remove their sockets."""
        for proc, _ in self.agents.values():
            proc.kill()
            proc.wait(timeout=AGENT_WAIT)
        self.agents.clear()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)


def allowed_signers(*lines: tuple[Person, str | None] | tuple[Person, str | None, str]) -> str:
    """``allowed_signers`` text: per line a person, a ``namespaces=`` value (None: every
    role) and optionally another principal for the same key."""
    out = []
    for item in lines:
        person, namespaces = item[0], item[1]
        principal = item[2] if len(item) > 2 else person.principal  # type: ignore[misc]
        option = f'namespaces="{namespaces}" ' if namespaces else ""
        out.append(f"{principal} {option}{person.public_line}")
    return "\n".join(out) + "\n"

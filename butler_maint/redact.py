"""Keep secrets out of results, messages, logs and terminal output.

Secrets are: vault-encrypted inventory vars, variables read from the environment
through templates, and everything observed by a check marked ``secret: true``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MASK = "********"
_MIN_SECRET_LEN = 4  # masking "1" or "on" everywhere would make output unreadable


@dataclass
class Redactor:
    """Replaces known secret values by a mask; thread-safe for reading."""

    secrets: set[str] = field(default_factory=set)
    secret_checks: set[str] = field(default_factory=set)

    def add(self, values: Iterable[Any]) -> None:
        """Remember more secret values (strings of at least 4 characters)."""
        for value in values:
            text = str(value)
            if len(text) >= _MIN_SECRET_LEN:
                self.secrets.add(text)

    def text(self, text: str) -> str:
        """``text`` with every known secret masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, check_id: str, value: Any) -> Any:
        """An observed value: masked whole for secret checks, else scrubbed."""
        if value is None:
            return None
        if check_id in self.secret_checks:
            return MASK
        if isinstance(value, str):
            return self.text(value)
        return value

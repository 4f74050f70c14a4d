"""What a schedule's ``notify:`` section may contain: webhook and email targets.

Only the schemas live here (the model layer imports nothing above it); delivery over
HTTP and SMTP is ``butler_maint.notify``. A webhook URL may carry credentials (a
``user:password@`` part, a ``?token=`` query): ``mask_url`` is how every message shows
one, and ``Notify.target`` names a webhook by scheme and host only.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator

from butler_maint.model.base import Frozen, Text

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_TRIES = 3
MASK = "***"

_SECRET_PARAM = re.compile(
    r"token|key|secret|pass|pwd|auth|sig|credential|session|code", re.IGNORECASE
)
"""Query parameter names whose values are masked (``token=``, ``api_key=``, ``sig=``...)."""


def _host_port(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def mask_url(url: str) -> str:
    """``url`` with its userinfo password and secret-looking query values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # not even parseable: show nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        user, has_password, _ = netloc.rpartition("@")[0].partition(":")
        shown = f"{user}:{MASK}" if has_password else MASK  # a lone user is often a token
        netloc = f"{shown}@{_host_port(netloc)}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        masked = [(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs]
        query = urlencode(masked, safe="*", quote_via=quote)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment and MASK))


def url_secrets(url: str) -> list[str]:
    """The secret parts of ``url`` (password or lone user, secret query values, fragment),
    to scrub from messages."""
    try:
        parts = urlsplit(url)
        password = parts.password
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return [url]
    found = [password or parts.username or ""] if "@" in parts.netloc else []
    found += [v for k, v in pairs if v and _SECRET_PARAM.search(k)]
    if parts.fragment:
        found.append(parts.fragment)
    return found


class Email(Frozen):
    """An email notification sent through an SMTP relay (no authentication)."""

    to: list[Text] = Field(min_length=1)
    sender: Text = Field(alias="from")
    smtp: Text = Field(description="host:port of the SMTP relay, e.g. mail.example.com:25")
    starttls: bool = False

    @field_validator("smtp")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, e.g. 'mail.example.com:25', got {value!r}")
        return value

    @property
    def address(self) -> tuple[str, int]:
        """The relay's host and port."""
        host, _, port = self.smtp.rpartition(":")
        return host.strip("[]"), int(port)


class Notify(Frozen):
    """One notification target of a schedule, and when it fires."""

    on: Literal["failure", "recovery", "always"]
    webhook: Text | None = Field(None, description="URL receiving a JSON POST.")
    email: Email | None = None
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=300)
    tries: int = Field(DEFAULT_TRIES, ge=1, le=10)

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parts = urlsplit(value)
                ok = parts.scheme in ("http", "https") and bool(parts.hostname)
                ok = ok and (parts.port is None or parts.port > 0)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"expected an http(s) URL, got {mask_url(value)!r}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Notify:
        if (self.webhook is None) == (self.email is None):
            raise ValueError("a notification has exactly one of `webhook` or `email`")
        return self

    @property
    def target(self) -> str:
        """The target as messages show it: a webhook by scheme and host only."""
        if self.webhook is not None:
            parts = urlsplit(self.webhook)
            return f"webhook {parts.scheme}://{_host_port(parts.netloc)}"
        assert self.email is not None
        return f"email to {', '.join(self.email.to)} via {self.email.smtp}"

"""Notifications of scheduled runs: a webhook (JSON POST) or an email (SMTP).

A schedule's ``notify:`` section::

    notify:
      - on: failure                  # failure | recovery | always
        webhook: https://chat.example.internal/hooks/ops
      - on: recovery
        email: {to: [ops@example.com], from: butler@example.com, smtp: "mail.example.com:25"}
        timeout_s: 10                # whole delivery, retries included (default 10)

When:

- ``failure``: the run's result is ``fail``, ``error`` or ``interrupted``;
- ``recovery``: the run passed and the schedule's previous run did not;
- ``always``: every run.

Delivery happens after the evidence is written and never changes it: each target gets
at most ``tries`` attempts (default 3; a webhook answering 4xx other than 408/429 is not
retried) with a backoff between them, all within ``timeout_s``. A notification that
cannot be delivered is logged (stderr) and the run goes on; nothing is raised. Logs name
a webhook by scheme and host only (its path often holds a token).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import click
from pydantic import Field, field_validator, model_validator

from butler_maint.evidence.model import Report, iso_z
from butler_maint.model.base import Frozen, Text

if TYPE_CHECKING:
    from butler_maint.model.schedule import Schedule

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_TRIES = 3
BACKOFF_S = 0.5
"""First pause between attempts; doubled after each failed attempt."""
FAILED_RESULTS = frozenset({"fail", "error", "interrupted"})
_RETRY_4XX = frozenset({408, 429})  # 4xx statuses still worth a retry


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
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> Notify:
        if (self.webhook is None) == (self.email is None):
            raise ValueError("a notification has exactly one of `webhook` or `email`")
        return self

    @property
    def target(self) -> str:
        """The target as logs show it (a webhook's path and query are hidden)."""
        if self.webhook is not None:
            parts = urlsplit(self.webhook)
            return f"webhook {parts.scheme}://{parts.netloc}"
        assert self.email is not None
        return f"email to {', '.join(self.email.to)} via {self.email.smtp}"


def fires(rule: Notify, result: str, previous_result: str | None) -> bool:
    """Whether ``rule`` fires for a run with ``result`` after ``previous_result``."""
    if rule.on == "always":
        return True
    if rule.on == "failure":
        return result in FAILED_RESULTS
    return result == "pass" and previous_result is not None and previous_result != "pass"


def payload(schedule: str, report: Report, previous_result: str | None) -> dict[str, Any]:
    """The JSON document a webhook receives (and the body of an email)."""
    return {
        "schedule": schedule,
        "kind": str(report.kind),
        "report": report.id,
        "result": str(report.result),
        "previous_result": previous_result,
        "summary": report.summary.model_dump(by_alias=True),
        "failures": [
            {"host": f.host, "check": f.check, "status": str(f.status), "message": f.message}
            for f in report.failures
        ],
        "occurrence": iso_z(report.trigger.occurrence) if report.trigger.occurrence else None,
        "started": iso_z(report.started),
        "finished": iso_z(report.finished),
    }


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification."""

    target: str
    delivered: bool
    attempts: int
    error: str | None = None


class _Permanent(Exception):
    """A failure retrying cannot fix (e.g. HTTP 404)."""


Sleep = Callable[[float], None]
Clock = Callable[[], float]


def post_json(url: str, document: dict[str, Any], timeout_s: float) -> None:
    """POST ``document`` as JSON; raise on a non-2xx answer or a network error."""
    import urllib.error  # imported when sending, not with the models
    import urllib.request

    if urlsplit(url).scheme not in ("http", "https"):
        raise _Permanent(f"not an http(s) URL: {url!r}")
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "butler-maint"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            answer.read(65536)
    except urllib.error.HTTPError as exc:
        exc.close()
        message = f"HTTP {exc.code} {exc.reason}"
        if exc.code < 500 and exc.code not in _RETRY_4XX:
            raise _Permanent(message) from None
        raise OSError(message) from None


def send_email(email: Email, subject: str, text: str, timeout_s: float) -> None:
    """Send one plain-text email through the relay; raise on any SMTP or network error."""
    import smtplib  # imported when sending, not with the models
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = email.sender
    message["To"] = ", ".join(email.to)
    message.set_content(text)
    host, port = email.address
    with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
        if email.starttls:
            smtp.starttls()
        smtp.send_message(message)


def deliver(
    send: Callable[[float], None],
    target: str,
    *,
    tries: int = DEFAULT_TRIES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> Delivery:
    """Call ``send(attempt_timeout)`` up to ``tries`` times within ``timeout_s``; never raise."""
    deadline = clock() + timeout_s
    pause = BACKOFF_S
    error = "no attempt made"
    attempts = 0
    for attempt in range(1, tries + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        attempts = attempt
        try:
            send(remaining)
        except _Permanent as exc:
            error = str(exc)
            break
        except Exception as exc:  # network, HTTP, SMTP, TLS: log it, never raise
            error = str(exc) or type(exc).__name__
        else:
            return Delivery(target, True, attempts)
        if attempt < tries:
            sleep(max(0.0, min(pause, deadline - clock())))
            pause *= 2
    return Delivery(target, False, attempts, error)


def _report(delivery: Delivery, schedule: str) -> None:
    if delivery.delivered:
        log.info("notified %s of %s", delivery.target, schedule)
        return
    line = (
        f"notify: {schedule}: could not deliver to {delivery.target} after "
        f"{delivery.attempts} attempt(s): {delivery.error} (the evidence is not affected)"
    )
    log.warning("%s", line)
    click.echo(line, err=True)


def _subject(schedule: str, report: Report) -> str:
    return f"[butler-maint] {schedule}: {str(report.result).upper()} ({report.id})"


def notify_run(
    schedule: Schedule,
    report: Report,
    previous_result: str | None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Delivery]:
    """Send the notifications of ``schedule`` that fire for ``report``.

    Call it after the report is written. Never raises: failures are logged to stderr.
    """
    rules, name = schedule.notify, schedule.name
    result = str(report.result)
    wanted = [rule for rule in rules if fires(rule, result, previous_result)]
    if not wanted:
        return []
    document = payload(name, report, previous_result)
    done = []
    for rule in wanted:
        send = _sender(rule, name, report, document)
        delivery = deliver(
            send, rule.target, tries=rule.tries, timeout_s=rule.timeout_s, sleep=sleep, clock=clock
        )
        _report(delivery, name)
        done.append(delivery)
    return done


def _sender(
    rule: Notify, name: str, report: Report, document: dict[str, Any]
) -> Callable[[float], None]:
    if rule.webhook is not None:
        url = rule.webhook
        return lambda timeout: post_json(url, document, timeout)
    assert rule.email is not None
    email, subject = rule.email, _subject(name, report)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return lambda timeout: send_email(email, subject, text, timeout)

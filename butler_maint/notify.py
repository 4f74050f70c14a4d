"""Delivery of schedule notifications: a webhook (JSON POST) or an email (SMTP).

The schemas of a schedule's ``notify:`` section (``Notify``, ``Email``) live in
``butler_maint.model.notify``; this module decides when a rule fires and delivers it.

When:

- ``failure``: the run's result is ``fail``, ``error`` or ``interrupted``;
- ``recovery``: the run passed and the schedule's previous run did not;
- ``always``: every run.

Delivery happens after the evidence is written and never changes it: each target gets
at most ``tries`` attempts (default 3; a webhook answering 4xx other than 408/429 is not
retried) with a backoff between them, all within ``timeout_s``. Nothing is raised and
nothing is printed: ``notify_run`` returns one ``Delivery`` per target and logs failures
through ``logging``; the command line prints ``problems(...)``.

Credentials never leave in a message: a webhook is named by scheme and host only, a
``user:password@`` part is sent as HTTP Basic authentication (not in the request line),
and every error text is scrubbed of the URL's password and secret query values.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from butler_maint.evidence.model import Report, Result, iso_z
from butler_maint.evidence.summary import explain, iter_results
from butler_maint.model.notify import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_TRIES,
    MASK,
    Email,
    Notify,
    mask_url,
    url_secrets,
)

if TYPE_CHECKING:
    from butler_maint.model.schedule import Schedule

__all__ = [
    "Delivery",
    "Email",
    "Notify",
    "deliver",
    "fires",
    "notify_run",
    "notify_system",
    "payload",
    "post_json",
    "problems",
    "send_email",
]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # a library logs; the application decides where to

BACKOFF_S = 0.5
"""First pause between attempts; doubled after each failed attempt."""
FAILED_RESULTS = frozenset({"fail", "error", "interrupted"})
_RETRY_4XX = frozenset({408, 429})  # 4xx statuses still worth a retry


def fires(rule: Notify, result: str, previous_result: str | None) -> bool:
    """Whether ``rule`` fires for a run with ``result`` after ``previous_result``."""
    if rule.on == "always":
        return True
    if rule.on == "failure":
        return result in FAILED_RESULTS
    return result == "pass" and previous_result is not None and previous_result != "pass"


def payload(
    schedule: str,
    report: Report,
    previous_result: str | None,
    diagnosis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document a webhook receives (and the body of an email); with the run's
    diagnosis by system when the repository has systems."""
    document = {
        "schedule": schedule,
        "kind": str(report.kind),
        "report": report.id,
        "result": str(report.result),
        "previous_result": previous_result,
        "summary": report.summary.model_dump(by_alias=True),
        "failures": _failures(report),
        "stopped": report.stopped,
        "occurrence": iso_z(report.trigger.occurrence) if report.trigger.occurrence else None,
        "started": iso_z(report.started),
        "finished": iso_z(report.finished),
    }
    if diagnosis is not None:
        document["diagnosis"] = diagnosis
    return document


def _failures(report: Report) -> list[dict[str, Any]]:
    """The report's failures, each with why in words (never a null message) and what the
    check is: title, severity and controls, each when the report records it."""
    results = {(n, r.host, r.check): r for n, r in iter_results(report.steps)}
    out = []
    for f in report.failures:
        result = results.get((f.step, f.host, f.check))
        why = f.message or (explain(result) if result is not None else str(f.status))
        item: dict[str, Any] = {"host": f.host, "check": f.check, "status": str(f.status)}
        item["message"] = why
        if result is not None:
            item.update(_described(result))
        out.append(item)
    return out


def _described(result: Result) -> dict[str, Any]:
    """A result's title, severity and controls (schema 1.1), those it has."""
    known = {"title": result.title, "severity": result.severity, "controls": result.controls}
    return {key: value for key, value in known.items() if value}


@dataclass(frozen=True)
class Delivery:
    """What happened to one notification (``target`` and ``error`` hold no secret)."""

    target: str
    delivered: bool
    attempts: int
    error: str | None = None


class _Permanent(Exception):
    """A failure retrying cannot fix (e.g. HTTP 404)."""


Sleep = Callable[[float], None]
Clock = Callable[[], float]


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without ``user:password@``, and the Basic auth header that carries it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, {"Authorization": f"Basic {token}"}


def post_json(url: str, document: dict[str, Any], timeout_s: float) -> None:
    """POST ``document`` as JSON; raise on a non-2xx answer or a network error."""
    import urllib.error  # imported when sending, not with the models
    import urllib.request

    if urlsplit(url).scheme not in ("http", "https"):
        raise _Permanent(f"not an http(s) URL: {mask_url(url)!r}")
    bare, auth = _without_userinfo(url)
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        bare,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "butler-maint", **auth},
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
        except Exception as exc:  # network, HTTP, SMTP, TLS: returned, never raised
            error = str(exc) or type(exc).__name__
        else:
            return Delivery(target, True, attempts)
        if attempt < tries:
            sleep(max(0.0, min(pause, deadline - clock())))
            pause *= 2
    return Delivery(target, False, attempts, error)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (raw and percent-decoded) replaced by ***.

    Error texts no longer quote the URL; this is the second line of defence. Secrets
    shorter than 3 characters protect nothing and would mangle the message."""
    found = {s for v in secrets for s in (v, unquote(v)) if len(s) >= 3}
    for secret in sorted(found, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def problem(schedule: str, delivery: Delivery) -> str | None:
    """The line to show for a delivery that failed (None when it was delivered)."""
    if delivery.delivered:
        return None
    return (
        f"notify: {schedule}: could not deliver to {delivery.target} after "
        f"{delivery.attempts} attempt(s): {delivery.error} (the evidence is not affected)"
    )


def problems(schedule: str, deliveries: Iterable[Delivery]) -> list[str]:
    """One line per notification of ``schedule`` that could not be delivered."""
    return [line for d in deliveries if (line := problem(schedule, d)) is not None]


def _subject(schedule: str, report: Report) -> str:
    return f"[butler-maint] {schedule}: {str(report.result).upper()} ({report.id})"


def notify_run(
    schedule: Schedule,
    report: Report,
    previous_result: str | None,
    *,
    diagnosis: dict[str, Any] | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Delivery]:
    """Send the notifications of ``schedule`` that fire for ``report``.

    Call it after the report is written. Never raises and never prints: the returned
    deliveries say what failed (``problems`` words it), and failures are logged.
    """
    name = schedule.name
    document = payload(name, report, previous_result, diagnosis)
    result = str(report.result)
    return _send(
        schedule.notify, name, report, document,
        results=(result, previous_result), sleep=sleep, clock=clock,
    )  # fmt: skip


def notify_system(
    system: SystemRoute,
    schedule: str,
    report: Report,
    previous_result: str | None,
    *,
    diagnosis: dict[str, Any] | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> list[Delivery]:
    """Send a system's own notifications (to its owner) for a scheduled run on its
    hosts: ``failure`` when the run has failing results on the system, ``recovery`` when
    it has none after a run that did not pass, ``always`` every time."""
    document = payload(schedule, report, previous_result, diagnosis)
    document.update(system=system.name, owner=system.owner)
    result = "fail" if system.failing else "pass"
    name = f"{schedule} ({system.name})"
    return _send(
        system.rules, name, report, document,
        results=(result, previous_result), sleep=sleep, clock=clock,
    )  # fmt: skip


@dataclass(frozen=True)
class SystemRoute:
    """A system's notification rules, its owner, and whether the run failed on it."""

    name: str
    owner: str | None
    rules: list[Notify]
    failing: bool


def _send(
    rules: list[Notify],
    name: str,
    report: Report,
    document: dict[str, Any],
    *,
    results: tuple[str, str | None],
    sleep: Sleep,
    clock: Clock,
) -> list[Delivery]:
    wanted = [rule for rule in rules if fires(rule, *results)]
    done = []
    for rule in wanted:
        send = _sender(rule, name, report, document)
        delivery = deliver(
            send, rule.target, tries=rule.tries, timeout_s=rule.timeout_s, sleep=sleep, clock=clock
        )
        if delivery.error is not None and rule.webhook is not None:
            delivery = replace(delivery, error=_scrub(delivery.error, url_secrets(rule.webhook)))
        _log(name, delivery)
        done.append(delivery)
    return done


def _log(schedule: str, delivery: Delivery) -> None:
    line = problem(schedule, delivery)
    if line is None:
        log.info("notified %s of %s", delivery.target, schedule)
    else:
        log.warning("%s", line)


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

"""Notifications against real receivers on 127.0.0.1: an HTTP server (500, 500, 200; one
that hangs) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from butler_maint.evidence.model import Failure, Kind, Overall, Report, Status, Summary, Trigger
from butler_maint.model.schedule import Schedule
from butler_maint.notify import Notify, deliver, fires, notify_run, payload, problems
from tests.harness.http_server import QuietHandler, serving

START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def _report(result: Overall = Overall.FAIL) -> Report:
    return Report(
        id="20261129T010000Z-daily-health",
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        result=result,
        summary=Summary(total=3, **{"pass": 2}, fail=1),
        failures=[Failure(step=1, host="web01", check="disk-root", status=Status.FAIL,
                          message="93% used")],
        trigger=Trigger(by="cron", schedule="daily-health", occurrence=START),
        operator="cron@ops",
        started=START,
        finished=START.replace(minute=1),
        duration_ms=60000,
        previous=None,
        digest="sha256:00",
    )  # fmt: skip


def _schedule(notify: list[dict[str, Any]]) -> Schedule:
    return Schedule.model_validate(
        {"routine": "daily-health", "checklist": "linux-baseline", "every": "0 6 * * *",
         "notify": notify}
    )  # fmt: skip


@dataclass
class Receiver:
    """A webhook receiver answering statuses from a script (then 200)."""

    statuses: list[int]
    hang_s: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(statuses=[])

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.hang_s:
                state.release.wait(state.hang_s)
            state.bodies.append(json.loads(body))
            code = state.statuses.pop(0) if state.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as port:
        try:
            yield state, f"http://127.0.0.1:{port}/hooks/secret-token"
        finally:
            state.release.set()  # a hanging handler ends before the server closes


def test_500_twice_then_200_is_delivered_once_after_retries(
    receiver: tuple[Receiver, str],
) -> None:
    state, url = receiver
    state.statuses = [500, 500, 200]
    schedule = _schedule([{"on": "failure", "webhook": url}])
    [delivery] = notify_run(schedule, _report(), "pass", sleep=lambda s: None)
    assert delivery.delivered and delivery.attempts == 3
    assert len(state.bodies) == 3  # two refused, the third accepted: delivered once
    body = state.bodies[-1]
    assert body["schedule"] == "daily-health" and body["result"] == "fail"
    assert body["report"] == "20261129T010000Z-daily-health"
    assert body["failures"] == [
        {"host": "web01", "check": "disk-root", "status": "fail", "message": "93% used"}
    ]
    assert body["summary"]["pass"] == 2 and body["started"] == "2026-11-29T01:00:00.000Z"


def test_a_hanging_receiver_is_abandoned_within_the_timeout(
    receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = receiver
    state.hang_s = 30
    schedule = _schedule([{"on": "always", "webhook": url, "timeout_s": 0.5}])
    began = time.monotonic()
    [delivery] = notify_run(schedule, _report(Overall.PASS), None)
    assert time.monotonic() - began < 20  # gave up long before the receiver would answer
    assert not delivery.delivered
    [line] = problems("daily-health", [delivery])
    assert "could not deliver to webhook http://127.0.0.1:" in line
    assert "could not deliver to webhook http://127.0.0.1:" in caplog.text
    assert "secret-token" not in line + caplog.text  # the URL's path is never shown


def test_4xx_is_not_retried(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    state.statuses = [404]
    schedule = _schedule([{"on": "always", "webhook": url}])
    [delivery] = notify_run(schedule, _report(), None, sleep=lambda s: None)
    assert not delivery.delivered and delivery.attempts == 1 and "404" in (delivery.error or "")


def test_nobody_listening_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    schedule = _schedule([{"on": "failure", "webhook": f"http://127.0.0.1:{port}/"}])
    [delivery] = notify_run(schedule, _report(), None, sleep=lambda s: None)
    assert not delivery.delivered and delivery.attempts == 3
    assert "could not deliver" in caplog.text


def test_when_rules_fire() -> None:
    rule = {"failure": Notify(on="failure", webhook="http://x/"),
            "recovery": Notify(on="recovery", webhook="http://x/"),
            "always": Notify(on="always", webhook="http://x/")}  # fmt: skip
    assert fires(rule["failure"], "fail", "pass") and fires(rule["failure"], "error", None)
    assert fires(rule["failure"], "interrupted", None)
    assert not fires(rule["failure"], "pass", "fail")
    assert fires(rule["recovery"], "pass", "fail")
    assert not fires(rule["recovery"], "pass", "pass") and not fires(rule["recovery"], "pass", None)
    assert not fires(rule["recovery"], "fail", "fail")
    assert fires(rule["always"], "pass", "pass")


def test_no_rule_fires_no_delivery() -> None:
    schedule = _schedule([{"on": "recovery", "webhook": "http://127.0.0.1:9/"}])
    assert notify_run(schedule, _report(Overall.PASS), "pass") == []


def test_deliver_bounds_attempts_and_backoff() -> None:
    calls: list[float] = []
    pauses: list[float] = []

    def send(timeout: float) -> None:
        calls.append(timeout)
        raise OSError("down")

    out = deliver(send, "t", tries=3, timeout_s=60, sleep=pauses.append)
    assert not out.delivered and out.attempts == 3 and out.error == "down"
    assert pauses == [0.5, 1.0]


def test_schedule_notify_is_validated(tmp_path: Path) -> None:
    from butler_maint.errors import ContentError
    from butler_maint.model.content import load_schedule

    path = tmp_path / "daily.yaml"
    path.write_text(
        "routine: daily\nchecklist: x\nevery: '0 6 * * *'\nnotify:\n"
        "  - on: failure\n    webhook: ftp://x\n"
        "  - on: sometimes\n    email: {to: [a@b], from: c@d, smtp: 'mail:25'}\n"
    )
    with pytest.raises(ContentError) as caught:
        load_schedule(path)
    text = caught.value.render()
    assert "daily.yaml:6:" in text and "expected an http(s) URL" in text
    assert "daily.yaml:7:" in text and "notify[1].on" in text


# -- SMTP ----------------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content.decode("utf-8", "replace")
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_email_is_sent_through_a_real_smtp_server(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    email = {"to": ["ops@example.com"], "from": "butler@example.com", "smtp": f"127.0.0.1:{port}"}
    schedule = _schedule([{"on": "failure", "email": email}])
    [delivery] = notify_run(schedule, _report(), "pass")
    assert delivery.delivered, delivery.error
    [(sender, to, content)] = inbox.messages
    assert sender == "butler@example.com" and to == ["ops@example.com"]
    assert "Subject: [butler-maint] daily-health: FAIL (20261129T010000Z-daily-health)" in content
    assert '"check": "disk-root"' in content


def test_payload_of_a_pass_has_no_failures() -> None:
    doc = payload("daily-health", _report(Overall.PASS).model_copy(update={"failures": []}), "fail")
    assert doc["result"] == "pass" and doc["failures"] == [] and doc["previous_result"] == "fail"


ROUTINE_CHECKLIST = """checklist: app-health
hosts: all
checks:
  - id: flag
    file: {path: "{{ app_dir }}/healthy"}
"""


def test_run_due_notifies_failure_then_recovery_and_nothing_else(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    """run-due -> evidence -> webhook, end to end: one POST per rule that fires."""
    from click.testing import CliRunner

    from butler_maint.cli import cli
    from butler_maint.evidence.index import read_entries

    state, url = receiver
    app = tmp_path / "app"
    app.mkdir()
    for sub in ("checklists", "schedules", "inventories"):
        (tmp_path / sub).mkdir()
    (tmp_path / "inventories" / "local.yml").write_text(
        f"all:\n  hosts:\n    localhost: {{ansible_connection: local, app_dir: '{app}'}}\n"
    )
    (tmp_path / "checklists" / "app-health.yaml").write_text(ROUTINE_CHECKLIST)
    routine = {
        "routine": "hourly-app", "timezone": "UTC", "every": "0 * * * *", "duration": "30m",
        "checklist": "app-health",
        "notify": [{"on": "failure", "webhook": url}, {"on": "recovery", "webhook": url}],
    }  # fmt: skip
    (tmp_path / "schedules" / "hourly-app.yaml").write_text(json.dumps(routine))
    (tmp_path / "butler.yaml").write_text("inventory: inventories/local.yml\n")
    base = (datetime.now(UTC) - timedelta(hours=5)).replace(minute=5, second=0, microsecond=0)

    def run_due(hours: int) -> Any:
        at = (base + timedelta(hours=hours)).isoformat()
        return CliRunner().invoke(cli, ["-C", str(tmp_path), "run-due", "--at", at])

    failed = run_due(1)  # no flag file: fail -> the failure rule fires
    assert failed.exit_code == 1, failed.output
    (app / "healthy").write_text("ok\n")
    recovered = run_due(2)  # pass after fail -> recovery
    assert recovered.exit_code == 0, recovered.output
    steady = run_due(3)  # pass after pass -> no rule fires
    assert steady.exit_code == 0, steady.output

    ids = [e.id for e in read_entries(tmp_path / "evidence" / "index.jsonl")]
    assert len(ids) == 3
    sent = [(b["schedule"], b["report"], b["result"], b["previous_result"]) for b in state.bodies]
    assert sent == [
        ("hourly-app", ids[0], "fail", None),
        ("hourly-app", ids[1], "pass", "fail"),
    ]
    assert state.bodies[0]["failures"][0]["check"] == "flag"
    for result in (failed, recovered, steady):
        assert "secret-token" not in result.output + result.stderr


def test_payload_failures_say_why_and_the_stop_reason() -> None:
    """A failing check without a message is worded from observed vs expected, never null;
    a window that stopped early says why."""
    from butler_maint.evidence.model import ChecklistStep, Result

    result = Result(host="web01", check="disk-root", status=Status.FAIL, observed=93,
                    expected="<= 85")  # fmt: skip
    report = _report().model_copy(
        update={
            "failures": [Failure(step=1, host="web01", check="disk-root", status=Status.FAIL)],
            "steps": [ChecklistStep(checklist="linux-baseline", results=[result])],
            "stopped": "max_fail_percentage 10 exceeded: 1 of 2 hosts failed (web01)",
        }
    )
    doc = payload("patch", report, None)
    assert doc["failures"] == [{"host": "web01", "check": "disk-root", "status": "fail",
                                "message": "observed 93, expected <= 85"}]  # fmt: skip
    assert doc["stopped"].startswith("max_fail_percentage 10 exceeded")

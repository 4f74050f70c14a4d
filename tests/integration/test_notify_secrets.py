"""Webhook credentials never show: a real receiver on 127.0.0.1 answering 500, a port
refusing connections, and URLs with ``user:password@`` and ``?token=`` parts. Nothing
printed, logged or returned holds the password or a token; the receiver still gets them
(Basic authentication, the query string) so such URLs work."""

from __future__ import annotations

import base64
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from butler_maint.evidence.model import Kind, Overall, Report, Summary, Trigger
from butler_maint.model.notify import mask_url
from butler_maint.model.schedule import Schedule
from butler_maint.notify import Delivery, notify_run, problems
from tests.harness.http_server import QuietHandler, serving

PASSWORD = "S3cr3t-pa55"
ENCODED_PASSWORD = "p%40ss%3Aw0rd"  # p@ss:w0rd, percent-encoded as a URL requires
TOKEN = "T0ken-Xyz-42"
KEY = "K3y-abcdef"
SECRETS = (PASSWORD, "p@ss:w0rd", ENCODED_PASSWORD, TOKEN, KEY)
START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def _report() -> Report:
    return Report(
        id="20261129T010000Z-daily-health",
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        result=Overall.FAIL,
        summary=Summary(total=1, fail=1),
        trigger=Trigger(by="cron", schedule="daily-health", occurrence=START),
        operator="cron@ops",
        started=START,
        finished=START,
        duration_ms=0,
        previous=None,
        digest="sha256:00",
    )


def _schedule(url: str, **rule: Any) -> Schedule:
    return Schedule.model_validate(
        {"routine": "daily-health", "checklist": "linux-baseline", "every": "0 6 * * *",
         "notify": [{"on": "failure", "webhook": url, **rule}]}
    )  # fmt: skip


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)


@pytest.fixture
def failing_receiver() -> Iterator[tuple[Seen, int]]:
    """An HTTP server on 127.0.0.1 answering every POST with 500."""
    seen = Seen()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.paths.append(self.path)
            seen.auth.append(self.headers.get("Authorization"))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as port:
        yield seen, port


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connecting is refused


def _everything_shown(
    deliveries: list[Delivery], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> str:
    captured = capsys.readouterr()
    records = [f"{r.getMessage()} {r.args!r} {r.msg!r}" for r in caplog.records]
    lines = problems("daily-health", deliveries)
    return "\n".join([captured.out, captured.err, caplog.text, *records, *lines, repr(deliveries)])


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in:\n{text}"


def test_a_500_with_credentials_shows_no_password_or_token(
    failing_receiver: tuple[Seen, int],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen, port = failing_receiver
    url = f"http://alice:{PASSWORD}@127.0.0.1:{port}/hooks/ops?token={TOKEN}&key={KEY}&room=ops"
    caplog.set_level(logging.DEBUG)
    deliveries = notify_run(_schedule(url, tries=2), _report(), "pass", sleep=lambda s: None)
    [delivery] = deliveries
    assert not delivery.delivered and delivery.attempts == 2
    assert delivery.error == "HTTP 500 Internal Server Error"
    assert delivery.target == f"webhook http://127.0.0.1:{port}"
    shown = _everything_shown(deliveries, caplog, capsys)
    _assert_no_secret(shown)
    assert f"could not deliver to webhook http://127.0.0.1:{port} after 2 attempt(s)" in shown
    # the receiver did get the credentials: Basic auth, and the query string as written
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert seen.auth == [expected, expected]
    assert seen.paths == [f"/hooks/ops?token={TOKEN}&key={KEY}&room=ops"] * 2


def test_a_refused_connection_with_credentials_shows_no_password(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    urls = [
        f"http://alice:{PASSWORD}@127.0.0.1:{port}/hook?secret={TOKEN}",
        f"http://bob:{ENCODED_PASSWORD}@127.0.0.1:{port}/hook?api_key={KEY}",
    ]
    caplog.set_level(logging.DEBUG)
    deliveries = [
        d for url in urls for d in notify_run(_schedule(url), _report(), None, sleep=lambda s: None)
    ]
    assert [d.delivered for d in deliveries] == [False, False]
    assert all("refused" in (d.error or "").lower() for d in deliveries), deliveries
    _assert_no_secret(_everything_shown(deliveries, caplog, capsys))


def test_a_url_without_a_port_does_not_leak_through_the_port_parser(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """``user:pw@host`` handed to http.client whole made 'nonnumeric port: pw@host'."""
    caplog.set_level(logging.DEBUG)
    url = f"http://alice:{PASSWORD}@127.0.0.1/hook"
    deliveries = notify_run(
        _schedule(url, tries=1, timeout_s=2), _report(), None, sleep=lambda s: None
    )
    assert "nonnumeric port" not in (deliveries[0].error or "")
    _assert_no_secret(_everything_shown(deliveries, caplog, capsys))


def test_notify_prints_nothing_and_logs_the_problem(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    caplog.set_level(logging.INFO, logger="butler_maint.notify")
    deliveries = notify_run(_schedule(url, tries=1), _report(), None)
    assert capsys.readouterr() == ("", "")
    [line] = problems("daily-health", deliveries)
    assert line.startswith(f"notify: daily-health: could not deliver to webhook {url[:-5]}")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", line)]


def test_invalid_url_error_masks_its_password(tmp_path: Path) -> None:
    from butler_maint.errors import ContentError
    from butler_maint.model.content import load_schedule

    path = tmp_path / "daily.yaml"
    path.write_text(
        "routine: daily\nchecklist: x\nevery: '0 6 * * *'\nnotify:\n"
        f"  - on: failure\n    webhook: ftp://alice:{PASSWORD}@files.example/x?token={TOKEN}\n"
    )
    with pytest.raises(ContentError) as caught:
        load_schedule(path)
    text = caught.value.render()
    assert "expected an http(s) URL" in text and "ftp://alice:***@files.example/x" in text
    _assert_no_secret(text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/x", "https://hooks.example/x"),
        ("https://u:pw@hooks.example:8443/x", "https://u:***@hooks.example:8443/x"),
        ("https://tok@hooks.example/x", "https://***@hooks.example/x"),
        (
            "https://h.example/x?token=a&Key=b&api_key=c&room=ops&sig=d",
            "https://h.example/x?token=***&Key=***&api_key=***&room=ops&sig=***",
        ),
        ("https://h.example/x#access_token=z", "https://h.example/x#***"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_schemas_import_nothing_above_the_model_and_delivery_no_click() -> None:
    code = (
        "import sys, butler_maint.model.schedule as s\n"
        "assert 'butler_maint.notify' not in sys.modules, 'model imports notify'\n"
        "assert not [m for m in sys.modules if m.startswith('butler_maint.evidence')]\n"
        "import butler_maint.notify\n"
        "assert 'click' not in sys.modules, 'notify imports click'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr

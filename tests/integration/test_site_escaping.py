"""The evidence site in headless Chromium with hostile host text: host names, check ids,
messages, observed values and outputs carrying ``<script>``, ``<img onerror>``, ``<svg
onload>`` and ESC/BEL. No dialog opens, no element comes from host text, the CSP reports
nothing blocked, and the text shows as text.

Chromium is driven over its DevTools pipe (``--remote-debugging-pipe``: JSON messages on
file descriptors 3 and 4), which reports every ``alert()`` as an event; a control page
with a real ``alert()`` shows the event does arrive.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from butler_maint.evidence import ChecklistStep, EvidenceStore, Kind, ReportDraft, Result, Status
from butler_maint.evidence.model import Output
from butler_maint.site import render_site
from tests.integration.test_site import _chromium

pytestmark = pytest.mark.integration

SCRIPT = "<script>alert('script')</script>"
IMG = "<img src=x onerror=alert('img')>"
SVG = '"><svg onload=alert("svg")>'
HOSTS = ("web\x1b]0;pwned\x0701", IMG)
TIMEOUT = 40.0


def _draft() -> ReportDraft:
    started = datetime(2026, 11, 29, 1, 0, 2, tzinfo=UTC)
    results = [
        Result(
            host=host,
            check=SCRIPT,
            status=Status.FAIL,
            observed=SVG,
            expected=f"<= 85 {IMG}",
            message=f"{IMG} \x1b[2J\x07 [x](javascript:alert('md'))",
            output=Output(text=f"</pre>{SCRIPT}<pre>\n{SVG}"),
        )
        for host in HOSTS
    ]
    return ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        operator="ops@bastion",
        started=started,
        finished=started + timedelta(seconds=1),
        steps=[ChecklistStep(checklist="linux-baseline", results=results)],
    )


@dataclass
class DevTools:
    """Headless Chromium on a DevTools pipe: one page, its dialogs and console messages."""

    proc: subprocess.Popen[bytes]
    to_browser: int
    from_browser: int
    dialogs: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    buffer: bytes = b""
    next_id: int = 0
    session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session is not None:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        reply = self.wait(lambda m: m.get("id") == self.next_id)
        assert "error" not in reply, reply
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait(self, wanted: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                self._event(message)
                if wanted(message):
                    return message  # type: ignore[no-any-return]
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer in time"
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                assert chunk, "Chromium closed its DevTools pipe"
                self.buffer += chunk

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(str(params.get("message")))
            reply = {"id": 10**6 + len(self.dialogs), "method": "Page.handleJavaScriptDialog",
                     "params": {"accept": True}, "sessionId": message.get("sessionId")}  # fmt: skip
            os.write(self.to_browser, json.dumps(reply).encode() + b"\0")
        elif method == "Log.entryAdded":
            self.logs.append(str(params.get("entry", {}).get("text")))
        elif method == "Runtime.consoleAPICalled":
            self.logs.append(json.dumps(params.get("args")))

    def open(self, url: str) -> None:
        """Load ``url`` and let it run (its dialogs and messages are collected)."""
        self.send("Page.navigate", {"url": url})
        self.wait(lambda m: m.get("method") == "Page.loadEventFired")
        time.sleep(0.3)  # onerror/onload handlers of failed images fire around the load

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return reply["result"].get("value")


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(fd)
    return moved


@pytest.fixture
def devtools(tmp_path: Path) -> Iterator[DevTools]:
    browser_in, to_browser = (_high(fd) for fd in os.pipe())
    from_browser, browser_out = (_high(fd) for fd in os.pipe())

    def on_3_and_4() -> None:  # Chromium reads commands on fd 3, answers on fd 4
        os.dup2(browser_in, 3)
        os.dup2(browser_out, 4)

    args = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--no-pings",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-pipe", "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(
        args,
        preexec_fn=on_3_and_4,  # noqa: PLW1509 (two dup2 calls, nothing else)
        close_fds=False,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    os.close(browser_in)
    os.close(browser_out)
    tools = DevTools(proc, to_browser, from_browser)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        tools.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable")
        yield tools
    finally:
        proc.kill()
        proc.wait(10)
        os.close(to_browser)
        os.close(from_browser)


PROBE = """JSON.stringify({
  scripts: Array.from(document.scripts).map(s => s.textContent.slice(0, 40)),
  images: document.images.length,
  svgs: document.querySelectorAll("svg[onload], svg:not([viewBox]):not([width])").length,
  handlers: Array.from(document.querySelectorAll("*")).filter(
    e => Array.from(e.attributes).some(a => a.name.startsWith("on"))).length,
  links: Array.from(document.links).map(a => a.getAttribute("href"))
    .filter(h => !/^(\\.\\.\\/)?(index|kpi|runs\\/|hosts\\/)/.test(h)),
  text: document.body.innerText,
})"""


def test_hostile_host_text_stays_text_in_chromium(tmp_path: Path, devtools: DevTools) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    written = store.write(_draft())
    out = tmp_path / "site"
    render_site(store.root, out)
    pages = [out / "index.html", out / "kpi.html", out / f"runs/{written.id}.html"]
    pages += sorted((out / "hosts").glob("*.html"))
    assert len(pages) == 5
    for page in pages:
        devtools.open(page.as_uri())
        found = json.loads(devtools.evaluate(PROBE))
        name = page.relative_to(out).as_posix()
        legit = ["(function () {"] if name == "index.html" else []
        assert [s[:14] for s in found["scripts"]] == legit, name
        assert (found["images"], found["svgs"], found["handlers"]) == (0, 0, 0), name
        assert found["links"] == [], name
        if name.startswith(("runs/", "hosts/")):
            assert SCRIPT in found["text"], name  # shown as the text it is
        if name.startswith("runs/"):
            assert IMG in found["text"] and SVG.strip('"') in found["text"]
            assert "javascript:alert('md')" in found["text"]
    assert devtools.dialogs == []
    blocked = [line for line in devtools.logs if "Content Security Policy" in line]
    assert blocked == []  # nothing from host text even tried to run


def test_the_dialog_probe_sees_a_real_alert(tmp_path: Path, devtools: DevTools) -> None:
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><p>control</p><script>alert('control')</script>")
    devtools.open(control.as_uri())
    assert devtools.dialogs == ["control"]

"""The static evidence site in a real browser: Debian's headless Chromium opens the
rendered pages from file:// (the test command installs it, as it installs sshd).

Chromium runs with every http(s) request sent to a proxy the test listens on, loopback
included: a request leaving file:// would reach it. A control page with a remote image
shows the listener does see such a request.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from butler_maint.evidence import (
    ChecklistStep,
    EvidenceStore,
    Kind,
    ReportDraft,
    Result,
    Status,
    Trigger,
    WrittenReport,
)
from butler_maint.site import render_site

pytestmark = pytest.mark.integration

FAILING_CHECK = "disk-root-usage"
FAILING_MESSAGE = "/ is 91% used"
BROWSER_TIMEOUT = 40
BROWSER_OWN = ("update.googleapis.com", "accounts.google.com", "clients2.google.com/time/")
"""Chromium's own background requests (component updater, sign-in, network time) that
no flag of Debian's build turns off; they come from the browser, not from the page."""


def _chromium() -> str:
    """Chromium's path; as root its absence is an error (the test command installs it)."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found:
        return found
    if os.geteuid() == 0:
        pytest.fail("chromium is missing: the test command (bash scripts/test.sh) installs it")
    pytest.skip("chromium is missing; install it: sudo apt-get install -y chromium")


def _draft(n: int, *, failing: bool) -> ReportDraft:
    started = datetime(2026, 11, 28, 1, 0, 2, tzinfo=UTC) + timedelta(days=n)
    results = [
        Result(host="web01", check="ntp-sync", status=Status.PASS, ms=2),
        Result(
            host="web01",
            check=FAILING_CHECK,
            status=Status.FAIL if failing else Status.PASS,
            observed=91 if failing else 40,
            expected="<= 85",
            message=FAILING_MESSAGE if failing else None,
        ),
        Result(host="db01", check="ntp-sync", status=Status.PASS),
    ]
    return ReportDraft(
        kind=Kind.CHECKLIST,
        name="linux-baseline",
        trigger=Trigger(by="cron", schedule="nightly-baseline", occurrence=started),
        operator="ops@bastion",
        started=started,
        finished=started + timedelta(seconds=4),
        tools={"butler_maint": "0.1.0"},
        steps=[ChecklistStep(checklist="linux-baseline", results=results)],
    )


class Listener:
    """A TCP listener counting connections (the proxy every request would go to)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    first = conn.recv(512).split(b"\r\n", 1)[0]
                except OSError:
                    first = b"?"
                self.requests.append(first.decode("latin-1"))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def _dump_dom(url: str, tmp: Path, proxy: Listener) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    args = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-component-extensions-with-background-pages",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--no-pings",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(tmp)}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=BROWSER_TIMEOUT, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, list[WrittenReport]]:
    store = EvidenceStore(tmp_path / "evidence")
    written = [store.write(_draft(0, failing=False)), store.write(_draft(1, failing=True))]
    render_site(store.root, tmp_path / "site")
    return tmp_path / "site", written


_EXTERNAL = re.compile(
    r"""(?:src|href|action|xlink:href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I
)


def test_no_page_references_anything_outside_the_site(
    site: tuple[Path, list[WrittenReport]],
) -> None:
    out, _ = site
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 2 + 2 + 2  # index, kpi, two runs, two hosts
    for page in pages:
        text = page.read_text("utf-8")
        assert not _EXTERNAL.search(text), page
        assert "http://" not in text and "https://" not in text, page
        assert "default-src 'none'" in html.unescape(text), page


def test_chromium_shows_the_failing_check_and_sends_no_request(
    site: tuple[Path, list[WrittenReport]], proxy: Listener, tmp_path: Path
) -> None:
    out, written = site
    passing, failing = written
    index = _dump_dom((out / "index.html").as_uri() + "?result=fail", tmp_path, proxy)
    assert 'data-filters="ready"' in index  # the filter script ran (its CSP hash matches)
    assert "1 of 2 runs shown" in index
    rows = dict(re.findall(r'<tr class="run[^"]*" data-id="([^"]+)"([^>]*)>', index))
    assert set(rows) == {passing.id, failing.id}
    assert "hidden" not in rows[failing.id] and "hidden" in rows[passing.id]

    page = next(out.glob(f"runs/{failing.id}.html"))
    run = _dump_dom(page.as_uri(), tmp_path, proxy)
    assert f'<h1 id="run-id">{failing.id}</h1>' in run
    failures = run.split('id="failures"')[1].split("</section>")[0]
    assert FAILING_CHECK in failures and FAILING_MESSAGE in failures and "web01" in failures
    assert failing.digest in run and "verified" in run
    from_pages = [r for r in proxy.requests if not any(own in r for own in BROWSER_OWN)]
    assert from_pages == [], "\n".join(from_pages)


def test_the_proxy_listener_does_see_a_remote_request(proxy: Listener, tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">', "utf-8")
    _dump_dom(control.as_uri(), tmp_path, proxy)
    assert any("example.invalid" in r for r in proxy.requests)


def _pages(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "runs").iterdir()}


def test_render_is_incremental(site: tuple[Path, list[WrittenReport]], tmp_path: Path) -> None:
    out, _ = site
    before = _pages(out)
    again = render_site(tmp_path / "evidence", out)
    assert again.written == [] and again.kept == 2
    assert _pages(out) == before
    added = EvidenceStore(tmp_path / "evidence").write(_draft(2, failing=False))
    third = render_site(tmp_path / "evidence", out)
    assert third.written == [added.id]
    after = _pages(out)
    assert {k: after[k] for k in before} == before and f"{added.id}.html" in after
    assert added.id in (out / "index.html").read_text("utf-8")
    assert added.id in (out / "hosts/web01.html").read_text("utf-8")

"""Browser journeys: headless Debian Chromium driven by Playwright against a real server on the test database.

The server is the real WSGI app (werkzeug's threaded server in a thread) on the session's database, with the
simulators; background jobs run eagerly in the request that queued them, so the pages show their outcome at once.
Screenshots of the main pages go to tests/browser/screenshots/ (gitignored; README names the folder).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}  # the office screens the UI must work on (issue 6, item 9)
# Never fetch Playwright's own browser builds: Debian's Chromium, kept off the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_REASON = f"browser tests need Debian's Chromium at {CHROMIUM} (.ci/run installs it: apt-get install -y chromium)"


def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test here `browser`; skip them all, saying why, when Chromium is not installed."""
    here = str(Path(__file__).resolve().parent)
    missing = not os.path.exists(CHROMIUM)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# Console noise that is not a fault: 404s are caught by URL below; dmn-js's bundle warns about its Inferno build.
HARMLESS_CONSOLE = ("Failed to load resource", "development build of Inferno")


def _harmless(text: str) -> bool:
    return any(part in text for part in HARMLESS_CONSOLE)


class LiveServer:
    """A running server: its base URL and the app object (for setting up data in tests)."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="browser-live-server", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def drain(self, timeout: float = 15.0) -> int:
        """Run any due job now (jobs already run eagerly; timers and retries may be due)."""
        from processes.platform import get_platform

        with self.app.app_context():
            return get_platform(self.app).jobs.drain(timeout)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture(scope="session")
def live_server(make_app) -> Iterator[LiveServer]:
    """The web app served over HTTP on a loopback port (jobs run eagerly, whatever the backend)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(SKIP_REASON)
    app = make_app(JOB_MODE="eager", REDIS_URL="")
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Debian Chromium."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(live_server, simulator) -> Iterator[LiveServer]:
    """The live server, with business tables (drafts included) and simulator faults cleared after each journey."""
    yield live_server
    import requests

    from tests.conftest import clean

    clean(live_server.app)
    requests.delete(simulator.url + "/_admin/faults", timeout=5)


@pytest.fixture
def page(browser, server) -> Iterator:
    """A fresh browser context (no cookies) at 1366×768; `page.js_errors` collects script and console errors."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and not _harmless(m.text) else None)
    # A missing script, stylesheet or font is an error; the browser's own favicon probe is not.
    tab.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status == 404 and "favicon" not in r.url else None,
    )
    tab.js_errors = errors
    yield tab
    context.close()

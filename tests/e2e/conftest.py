"""The verifier in a real browser: the service on a real port, Debian's
Chromium driven by Playwright with a phone's screen. Nothing is installed
here: run.sh puts in `chromium` (Debian) and `playwright` (the test extra);
no `playwright install`, the browser is /usr/bin/chromium."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("ECERT_CHROMIUM", "/usr/bin/chromium")
# A committee member's phone: 390×844 CSS pixels at 2× (an ordinary recent phone).
PHONE = dict(
    viewport={"width": 390, "height": 844},
    device_scale_factor=2,
    is_mobile=True,
    has_touch=True,
    locale="zh-CN",
    timezone_id="Asia/Shanghai",
)


@pytest.fixture
def db_url(sqlite_url):
    """SQLite only: the pages are the same on either database, and
    tests/web covers the verifier on both; a browser run per database would
    double the slowest tests for nothing."""
    return sqlite_url


def _missing(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why} (run.sh installs it)")
    pytest.skip(f"{why}; ./run.sh test installs it")


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def live(keyed, monkeypatch):
    """The bureau's full service on 127.0.0.1:PORT in a thread. ECERT_BASE_URL
    names that port, so certificates issued after this point carry QR codes
    that lead to it."""
    from werkzeug.serving import make_server

    from issuer.config import load_settings
    from issuer.web import create_app
    from verifier.web import limiter

    def not_yet(environ, start_response):
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"not ready"]

    # The port is known only once bound; the app is made after, with the
    # base URL that names it, and put behind the bound server.
    server = make_server("127.0.0.1", 0, not_yet, threaded=True)
    base = f"HTTP://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("ECERT_BASE_URL", base)
    app = create_app(load_settings(), KEYS_TTL=0)
    server.app = app
    limiter.reset()
    thread = threading.Thread(target=server.serve_forever, name="ecert-e2e", daemon=True)
    thread.start()
    try:
        yield Live(base=base, app=app, run=keyed)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        app.extensions["ecert_verifier"].close()
        app.extensions["ecert_engine"].dispose()


class Live:
    def __init__(self, base: str, app, run) -> None:
        self.base, self.app, self.run = base, app, run


class Phone:
    """One browser tab at a phone's size that remembers every request it
    made and every console error or uncaught script error."""

    def __init__(self, page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        self.errors.append(f"console: {message.text} ({where})")

    def open(self, url: str) -> str:
        """Go to `url` as the phone's browser does after a scan; the text of
        the verdict banner (#verdict)."""
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status in (200, 400), response and response.status
        self.page.wait_for_load_state("networkidle")
        return self.page.locator("#verdict").inner_text()

    def assert_local_and_quiet(self) -> None:
        """Everything came from the service itself, and nothing complained."""
        assert self.requests, "no requests recorded"
        outside = [u for u in self.requests if urlsplit(u).hostname != "127.0.0.1"]
        assert not outside, f"external requests: {outside}"
        assert not self.errors, self.errors

    def fits_the_screen(self) -> bool:
        """No sideways scrolling on the phone."""
        return self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def phone(chromium):
    context = chromium.new_context(**PHONE)
    try:
        yield Phone(context.new_page())
    finally:
        context.close()


@pytest.fixture
def screenshot_path(tmp_path):
    """Where the genuine page's screenshot goes: tmp_path, or the folder in
    ECERT_SCREENSHOT_DIR (docs/verifier-phone.png was made with
    ECERT_SCREENSHOT_DIR=docs)."""
    folder = Path(os.environ.get("ECERT_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "verifier-phone.png"


LAPTOP = dict(viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")


@pytest.fixture
def laptop(chromium):
    """A tab at a laptop's size that takes downloads and keeps every script
    error (`page.errors`), for the office's end-to-end tests."""
    context = chromium.new_context(**LAPTOP, accept_downloads=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.errors = errors
        yield page
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: ECERT_SCREENSHOT_DIR (docs/ was made so), else tmp_path."""
    folder = Path(os.environ.get("ECERT_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder

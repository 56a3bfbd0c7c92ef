"""Browser tests: a real Steady server (uvicorn in a thread, on SQLite; one per session, emptied before each test)
driven by Debian's Chromium through Playwright (one Chromium per test process, a fresh context per test). Every visited
page is checked with axe-core and for CSP violations."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.engine import make_url

from server.accounts.models import User
from server.app import create_app
from server.settings import PROJECT_ROOT, Settings
from tests.conftest import PASSWORD, Database, empty_sqlite

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
AXE_SOURCE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Collect CSP violations from the first moment of every document (init scripts are not subject to the CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || ''));
});
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    settings: Settings
    db: Database


class _ThreadedServer(uvicorn.Server):
    thread: threading.Thread

    def install_signal_handlers(self) -> None:  # the test thread owns signals
        pass


def _start_server(sqlite_template: Path, data_dir: Path, **overrides: Any) -> tuple[LiveServer, _ThreadedServer]:
    """A Steady server on a free port in a thread of this process, on a copy of the migrated SQLite template."""
    data_dir.mkdir()
    db_path = data_dir / "steady.db"
    shutil.copy(sqlite_template, db_path)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "STEADY_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "SECRET_KEY": "browser-test-secret-" + "y" * 30,
        "BASE_URL": base_url,
        "STEADY_PUSH_ALLOW_LOOPBACK_FOR_TESTS": "1",
    }
    options: dict[str, Any] = {"migrate_on_start": False, "run_dispatcher_in_app": False}
    options.update(overrides)
    settings = Settings.from_env(env, **options)
    server = _ThreadedServer(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    server.thread = threading.Thread(target=server.run, daemon=True)
    server.thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(url=base_url, settings=settings, db=Database(settings.database_url)), server


def _stop(server: _ThreadedServer) -> None:
    server.should_exit = True
    server.thread.join(timeout=10)


@pytest.fixture
def live_server_factory(sqlite_template: Path, tmp_path: Path) -> Iterator[Any]:
    """A server of the test's own, for one that needs other settings (`live_server_factory(**overrides)`)."""
    servers: list[_ThreadedServer] = []

    def start(**overrides: Any) -> LiveServer:
        live, server = _start_server(sqlite_template, tmp_path / f"data{len(servers)}", **overrides)
        servers.append(server)
        return live

    yield start
    for server in servers:
        _stop(server)


@pytest.fixture(scope="session")
def shared_live_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live, server = _start_server(sqlite_template, tmp_path_factory.mktemp("live") / "data")
    yield live
    _stop(server)


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    """The session's one server (per xdist worker), its data emptied before each test, as the non-browser tests'
    shared app: starting uvicorn per test cost more than most tests. Its pooled connections keep pointing at the
    same file, and every store it keeps (sessions, throttling) lives in that database."""
    empty_sqlite(Path(make_url(shared_live_server.settings.database_url).database or ""))
    return shared_live_server


# One Playwright (its Node driver) and one Chromium per test process, started by the first browser test and stopped
# after the last one of a run of browser tests: launching both cost about 0.6 s of CPU, once per module before. They
# are stopped before any other test runs because Playwright's sync API keeps an event loop running in the main thread
# while it is active, which would break asyncio.run() in the non-browser tests (under pytest-xdist a worker can run
# them between two browser modules); the next browser test starts them again.
_PLAYWRIGHT: list[Playwright] = []
_CHROMIUM: list[Browser] = []


def _stop_chromium() -> None:
    while _CHROMIUM:
        _CHROMIUM.pop().close()
    while _PLAYWRIGHT:
        _PLAYWRIGHT.pop().stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)
    finally:
        if nextitem is None or "tests/browser/" not in str(nextitem.path).replace("\\", "/"):
            _stop_chromium()


@pytest.fixture
def playwright_instance() -> Playwright:
    if not _PLAYWRIGHT:
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
        _PLAYWRIGHT.append(sync_playwright().start())
    return _PLAYWRIGHT[0]


# The phone every test browses with: 390 px wide, touch, in New York.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "timezone_id": "America/New_York",
}


def _ready(ctx: BrowserContext) -> BrowserContext:
    ctx.add_init_script(CSP_LISTENER)
    ctx.set_default_timeout(15_000)
    return ctx


def new_phone(browser: Browser, locale: str = "en-US") -> BrowserContext:
    """A fresh phone (its own cookies, storage, service workers and caches) in the process's one Chromium: a new
    context costs milliseconds where launching Chromium costs about a second."""
    return _ready(browser.new_context(locale=locale, **PHONE))


def launch_phone(playwright: Playwright, profile: Path, locale: str = "en-US") -> BrowserContext:
    """The same phone as a Chromium of its own with a profile on disk, for the tests marked `persistent_profile`:
    an incognito context (what `browser.new_context()` makes) always reports 'in-incognito' as an installability
    error, and has no push service to try."""
    return _ready(
        playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            locale=locale,
            **PHONE,
        )
    )


@pytest.fixture
def browser(playwright_instance: Playwright) -> Browser:
    """The test process's one Chromium (see _PLAYWRIGHT above), launched again if a test lost it."""
    if _CHROMIUM and not _CHROMIUM[0].is_connected():
        _CHROMIUM.pop()
    if not _CHROMIUM:
        chromium = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        _CHROMIUM.append(chromium)
    return _CHROMIUM[0]


def wait_for(condition: Any, timeout: float = 20.0, message: str = "") -> None:
    """Poll `condition` (a server-side count, the phone's queue) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message or "condition not met in time")


def wait_for_control(page: Page, *, reload: bool = False, timeout: float = 15.0) -> None:
    """Wait until the service worker controls the page; with `reload`, load the page again while it doesn't (a page
    opened before the worker activated stays uncontrolled until it loads again). Asked with page.evaluate, not
    wait_for_function: that evaluates a string predicate with eval() in the page, which the CSP (no 'unsafe-eval')
    refused now and then, failing the test."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate("navigator.serviceWorker.controller !== null"):
                return
            if reload:
                page.reload()
        except PlaywrightError:
            pass  # the page was between two documents: ask again
        if time.monotonic() > deadline:
            raise AssertionError("the service worker did not take control of the page")
        time.sleep(0.1)


@pytest.fixture
def context(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrowserContext]:
    if request.node.get_closest_marker("persistent_profile"):
        ctx = launch_phone(request.getfixturevalue("playwright_instance"), tmp_path / "chromium-profile")
    else:
        ctx = new_phone(request.getfixturevalue("browser"))
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.pages[0] if context.pages else context.new_page()
    page.csp_console_errors = []  # type: ignore[attr-defined]

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            page.csp_console_errors.append(message.text)  # type: ignore[attr-defined]

    page.on("console", on_console)
    return page


# What axe-core's verdict depends on: the document, the viewport, the media features and the focused element. Tokens
# that differ on every render (CSRF tokens, idempotency keys, session owners) are left out, so a page seen again as
# it was (the same screen after a reload, in the next test, on another phone) is not checked again.
AXE_STATE = """() => [document.documentElement.outerHTML, innerWidth, innerHeight,
  ['(prefers-color-scheme: dark)', '(prefers-reduced-motion: reduce)', '(forced-colors: active)']
    .map((query) => matchMedia(query).matches),
  document.activeElement === document.body ? '' : (document.activeElement?.outerHTML || '').slice(0, 500)]"""
VARYING_TOKENS = re.compile(r"[0-9a-f]{16,}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.IGNORECASE)
_AXE_PASSED: set[str] = set()  # states axe found no violation in, in this test process


@lru_cache(maxsize=1)
def _axe_script() -> str:
    return AXE_SOURCE.read_text(encoding="utf-8")


def check_page(page: Page) -> None:
    """Fail on any axe-core accessibility violation or any Content-Security-Policy violation. axe-core runs once per
    distinct page state (AXE_STATE): it costs a few hundred ms of Chromium's CPU per run."""
    page.wait_for_load_state("load")
    state = hashlib.sha256(VARYING_TOKENS.sub("…", json.dumps(page.evaluate(AXE_STATE))).encode()).hexdigest()
    if state not in _AXE_PASSED:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(_axe_script())
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5])
            for v in result["violations"]
        ]
        assert not violations, f"accessibility violations on {page.url}:\n" + "\n".join(violations)
        _AXE_PASSED.add(state)
    csp = page.evaluate("window.__cspViolations || []") + list(getattr(page, "csp_console_errors", []))
    assert not csp, f"CSP violations on {page.url}: {csp}"


def login_page(page: Page, server: LiveServer, user: User, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/login")
    check_page(page)
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url, page.content()[:500]

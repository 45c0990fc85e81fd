"""Fixtures for the phone page in a real browser: Debian's Chromium, driven by Playwright.

Playwright's own browser downloads are never used (there is no internet where
this runs, and ``playwright install`` would fetch one): the page is tested in
the ``chromium`` Debian package, as a phone-sized headless window. Outside CI
a missing Chromium skips these tests; under ``CI=true`` it fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.support.parts import require_binary

if TYPE_CHECKING:  # playwright is imported lazily: a missing browser skips, it does not break collection
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in CSS pixels
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


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_binary("chromium")


@pytest.fixture(scope="module")  # sync Playwright keeps a loop running: not past this module
def browser(chromium: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Phone:
    """A phone-sized page, and what went wrong in it (checked after each test)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # requests leaving the service: must stay empty
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url) of every request

    def screenshot(self, name: str, **kwargs: Any) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), **kwargs)
        return path


def _open_phone(browser: Browser) -> Phone:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    phone = Phone(page)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            phone.errors.append(f"console: {msg.text}")

    def on_request(request: Request) -> None:
        phone.requests.append((request.method, request.url))
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in ("127.0.0.1", "localhost"):
            phone.foreign.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: phone.errors.append(f"page error: {exc}"))
    page.on("request", on_request)
    return phone


def _ignorable(error: str) -> bool:
    # Chromium logs every refused fetch/EventSource while the service is down
    # (the stale test stops it on purpose); those are the network, not the page.
    return "net::ERR_CONNECTION_REFUSED" in error or "Failed to load resource" in error


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phone]:
    phone = _open_phone(browser)
    yield phone
    phone.page.context.close()
    assert phone.foreign == [], f"the page made requests outside the service: {phone.foreign}"
    errors = [e for e in phone.errors if not _ignorable(e)]
    assert errors == [], f"the page logged errors: {errors}"


@pytest.fixture
def second_phone(browser: Browser) -> Iterator[Phone]:
    """Another phone in the kitchen (its own context: its own storage and stream)."""
    phone = _open_phone(browser)
    yield phone
    phone.page.context.close()

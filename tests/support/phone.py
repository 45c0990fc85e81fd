"""A phone-sized page in a real browser, and what went wrong in it.

The fixtures that launch the browser are in tests/e2e/conftest.py; the
``Phone`` itself is here, so that a test module can name the type without
importing a conftest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # playwright is imported lazily: a missing browser skips, it does not break collection
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in CSS pixels


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


def open_phone(browser: Browser) -> Phone:
    """A new phone-sized page in its own context (its own storage), recording what goes wrong."""
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


def ignorable(error: str) -> bool:
    """Whether a page error is the network being down, not the page being wrong."""
    # Chromium logs every refused fetch/EventSource while the service is down
    # (the stale test stops it on purpose); those are the network, not the page.
    return "net::ERR_CONNECTION_REFUSED" in error or "Failed to load resource" in error

"""Fixtures for the phone page in a real browser: Debian's Chromium, driven by Playwright.

Playwright's own browser downloads are never used (there is no internet where
this runs, and ``playwright install`` would fetch one): the page is tested in
the ``chromium`` Debian package, as a phone-sized headless window. Outside CI
a missing Chromium skips these tests; under ``CI=true`` it fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support.parts import require_binary
from tests.support.phone import Phone, ignorable, open_phone
from tests.support.power_cut import kitchen  # noqa: F401  (the power-cut tests' fixture)

if TYPE_CHECKING:  # playwright is imported lazily: a missing browser skips, it does not break collection
    from playwright.sync_api import Browser

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


@pytest.fixture
def phone(browser: Browser) -> Iterator[Phone]:
    phone = open_phone(browser)
    yield phone
    phone.page.context.close()
    assert phone.foreign == [], f"the page made requests outside the service: {phone.foreign}"
    errors = [e for e in phone.errors if not ignorable(e)]
    assert errors == [], f"the page logged errors: {errors}"


@pytest.fixture
def second_phone(browser: Browser) -> Iterator[Phone]:
    """Another phone in the kitchen (its own context: its own storage and stream)."""
    phone = open_phone(browser)
    yield phone
    phone.page.context.close()

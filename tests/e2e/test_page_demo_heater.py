"""The phone page of ``potwatch demo --heater``: the heater card is there, and follows the plug potwatch switches.

A real ``potwatch demo`` at its default speed, its ``--heater`` on a real
Mosquitto this test starts, and the page in Debian's Chromium: what a cook
trying the demo on a phone sees. The loop itself is judged in
tests/e2e/test_demo_heater.py; here, only that the demo's heater reaches the
page, on as the plug says on and off as it says off while the braise is held.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.net import free_port
from tests.support.service import ServiceProcess

if TYPE_CHECKING:
    from tests.support.broker import Broker
    from tests.support.phone import Phone

pytest_plugins = ["tests.support.broker"]
pytestmark = [pytest.mark.real_part("chromium"), pytest.mark.real_part("mosquitto")]

SEEN_MS = 30_000  # at 60× the braise comes up in ~7 real s; an on or off run in the window lasts 0.5 s or more


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def test_the_demo_page_shows_the_heater_card_on_and_off_as_the_plug_says(
    tmp_path: Path, mosquitto: Broker, phone: Phone
) -> None:
    """Pass: the page of ``potwatch demo --heater`` has the card "Heater: Simulated hotplate", available; it says
    ON with "Plug says on", and later OFF with "Plug says off" and the braise's "Holding" reason, not reloaded."""
    heater = f"mqtt://{mosquitto.host}:{mosquitto.port}"
    args = ["demo", "--heater", heater, "--state-dir", str(tmp_path / "state")]
    with ServiceProcess(args, tmp_path / "demo.log", free_port()) as service:
        page = phone.page
        page.goto(service.base + "/")
        card = page.locator('#heaters .heater[data-id="hob"]')
        expect(card.locator(".heater-name")).to_have_text("Heater: Simulated hotplate", timeout=SEEN_MS)
        expect(card).to_have_attribute("data-on", "true", timeout=SEEN_MS)
        expect(card.locator(".heater-state")).to_have_text("ON", timeout=SEEN_MS)
        expect(card.locator(".heater-plug")).to_have_text("Plug says on", timeout=SEEN_MS)
        expect(card.locator(".heater-link")).to_have_text("available")
        expect(card).to_have_attribute("data-on", "false", timeout=SEEN_MS)
        expect(card.locator(".heater-plug")).to_have_text("Plug says off", timeout=SEEN_MS)
        expect(card.locator(".heater-reason")).to_contain_text("Holding", timeout=SEEN_MS)
        phone.screenshot("page-demo-heater.png")

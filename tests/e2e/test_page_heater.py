"""The page's heater card in real headless Chromium, against a real ``potwatch run`` heating a pot.

The service is the heater fault tests' (tests/support/heater_service.py): the
caramel on a USB probe on a pty reading 150 °F, the heat through the Tasmota
plug double on the test's Mosquitto. What the page must show is the service's
``heaters`` and then its ``heater`` events, live: once the page has loaded,
``/api/status`` is refused to it, so that a change can only reach it through
the event stream, and it is never reloaded. Screenshots at phone size land in
``test-artifacts/`` (page-heater-on.png, page-heater-probe-lost.png,
page-heater-forced-off.png).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from service.runtime.heaters import DUTY_EVERY_S
from tests.support.heater_service import heater, heater_service, heating
from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until

pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]
pytestmark = [pytest.mark.real_part("chromium"), pytest.mark.real_part("mosquitto"), pytest.mark.real_part("pty")]

NBSP = "\u00a0"
LIVE_MS = 5_000  # a change on the service to the page: one event through SSE, on a loaded machine


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def open_live(phone: Phone, service: ServiceProcess) -> Any:
    """The page, live, then cut off from ``/api/status``: from here on only the event stream can change it."""
    page = phone.page
    page.goto(service.base + "/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=20_000)
    page.route(re.compile(r".*/api/status$"), lambda route: route.abort())
    return page


def percent(text: str | None) -> int:
    """The number of "on 83 % of the last 10 min"."""
    return int((text or "").split()[1])


def page_loads(phone: Phone, service: ServiceProcess) -> int:
    return sum(1 for method, url in phone.requests if method == "GET" and url == service.base + "/")


def test_the_page_shows_the_heater_on_then_off_when_the_probe_is_unplugged(
    tmp_path: Path, device: PtyDevice, mosquitto: Any, plug: TasmotaDouble, phone: Phone
) -> None:
    """Pass: with the plug on, the heater's card says ON, "Heating to target (225 °F)", the plug on, available,
    and its duty; the probe's pty closed (the cable pulled), the same page, not reloaded and refused the status,
    says OFF and "Probe lost" within 5 s, the plug off, the card marked for attention."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        page = open_live(phone, service)
        card = page.locator('#heaters .heater[data-id="hob"]')
        expect(page.locator("#heaters")).to_be_visible()
        expect(card.locator(".heater-name")).to_have_text("Heater: hob")
        expect(card.locator(".heater-state")).to_have_text("ON")
        expect(card.locator(".heater-reason")).to_have_text(f"Heating to target (225{NBSP}°F)")
        expect(card.locator(".heater-plug")).to_have_text("Plug says on")
        expect(card.locator(".heater-link")).to_have_text("available")
        duty = card.locator(".heater-duty")
        expect(duty).to_have_text(re.compile(rf"^on \d+{NBSP}% of the last 10{NBSP}min$"))
        # the page's duty follows the service's (the duty alone is sent at most every DUTY_EVERY_S: it climbs
        # fast in the first seconds of a cook, so the page may be a few points behind, not more, for longer)
        wait_until(
            lambda: abs(percent(duty.text_content()) - round(heater(service)["duty"] * 100)) <= 5,
            DUTY_EVERY_S + 5.0,
            lambda: f"the page's duty {duty.text_content()!r} near the service's {heater(service)['duty']}",
        )
        expect(card).to_have_attribute("data-attention", "false")
        expect(card.locator(".heater-off")).to_have_text("Heat off")
        phone.screenshot("page-heater-on.png")

        device.unplug()
        expect(card.locator(".heater-state")).to_have_text("OFF", timeout=LIVE_MS)
        expect(card.locator(".heater-reason")).to_have_text(re.compile(r"^Probe lost"), timeout=LIVE_MS)
        expect(card.locator(".heater-plug")).to_have_text("Plug says off", timeout=LIVE_MS)
        expect(card).to_have_attribute("data-attention", "true")
        expect(card.locator(".heater-off")).to_have_text("Keep off")  # off already: the tap keeps it so
        assert heater(service)["reason"].startswith("probe lost")
        assert page_loads(phone, service) == 1, phone.requests
        phone.screenshot("page-heater-probe-lost.png")


def test_the_page_says_the_heaters_own_duty_window(
    tmp_path: Path, device: PtyDevice, mosquitto: Any, plug: TasmotaDouble, phone: Phone
) -> None:
    """Pass: with ``duty_window = "5min"`` in the heater's config, the status carries ``duty_window_s`` 300 and
    the card says the duty of the last 5 min, not of a fixed 10 min."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", duty_window="5min")
    with serving(service), Thermometer(device, 150.0, 0.2):
        shown = heating(service, plug)
        assert shown["duty_window_s"] == 300.0, shown
        page = open_live(phone, service)
        duty = page.locator('#heaters .heater[data-id="hob"] .heater-duty')
        expect(duty).to_have_text(re.compile(rf"^on \d+{NBSP}% of the last 5{NBSP}min$"))


def test_a_tap_on_heat_off_turns_the_plug_off(
    tmp_path: Path, device: PtyDevice, mosquitto: Any, plug: TasmotaDouble, phone: Phone
) -> None:
    """Pass: with a token set (that the page does not have) and the plug on, one tap on "Heat off" turns the
    double's relay off within 3 s, no token asked for; the card then says OFF, "Override: off", the plug off,
    and the button is gone (it is forced off already)."""
    service = heater_service(tmp_path, device, mosquitto, deadman="60s", token="s3cret")
    with serving(service), Thermometer(device, 150.0, 0.2):
        heating(service, plug)
        page = open_live(phone, service)
        card = page.locator('#heaters .heater[data-id="hob"]')
        expect(card.locator(".heater-state")).to_have_text("ON")
        card.locator(".heater-off").tap()
        wait_until(lambda: not plug.relay_on, 3.0, lambda: f"the relay off; heater {heater(service)}")
        expect(page.locator("#token-dialog")).not_to_be_visible()
        expect(card.locator(".heater-state")).to_have_text("OFF", timeout=LIVE_MS)
        expect(card.locator(".heater-reason")).to_have_text("Override: off", timeout=LIVE_MS)
        expect(card.locator(".heater-plug")).to_have_text("Plug says off", timeout=LIVE_MS)
        expect(card.locator(".heater-off")).to_be_hidden()
        assert heater(service)["override"] == "force_off"
        phone.screenshot("page-heater-forced-off.png")


def test_without_heaters_the_page_has_no_heater_section(tmp_path: Path, phone: Phone) -> None:
    """Pass: a service with no [[heaters]] (the demo) serves a page whose heater section is hidden and empty."""
    service = ServiceProcess(
        ["demo", "--speed", "20", "--state-dir", str(tmp_path)], tmp_path / "demo.log", free_port()
    )
    with serving(service):
        assert service.get("/api/status")["heaters"] == []
        page = phone.page
        page.goto(service.base + "/")
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=20_000)
        expect(page.locator("#temp")).to_have_text(re.compile(r"^\d{2,3}$"))
        expect(page.locator("#heaters")).to_be_hidden()
        assert page.locator("#heaters .heater").count() == 0

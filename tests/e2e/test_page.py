"""The phone page in real headless Chromium, against a real ``potwatch`` process.

Select them with ``-k page``. Screenshots at phone size (390×844) land in
``test-artifacts/``: page-cooking.png, page-alarm.png,
page-alarm-reduced-motion.png, page-acked.png, page-stale.png, page-token.png.

Every wait is on a condition of the page or of the service, with a timeout:
the demo pot is a simulation sped up 200 times, and how long it takes on a
loaded machine is not ours to guess.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.phone import Phone
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.real_part("chromium")

# The demo's rillons: a 2 h braise, then the caramel to 225 °F. At 200× that
# is ~45 s of wall-clock time to the alarm.
DEMO_SPEED = "200"
ALARM_TIMEOUT_MS = 120_000
# the alarm overlay is gone, or shows none of the alerts `ids` (comma-separated)
GONE = """ids => {
  const a = document.getElementById('alarm');
  const now = (a.dataset.ids || '').split(',');
  return a.hidden || !ids.split(',').some(i => now.includes(i));
}"""
# a no-break space between the number and its unit: \s matches it
STALE_TEXT = re.compile(r"last update (\d+)\ss ago — alarm not guaranteed")


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def demo_process(state: Path, speed: str = DEMO_SPEED) -> ServiceProcess:
    return ServiceProcess(["demo", "--speed", speed, "--state-dir", str(state)], state / "demo.log", free_port())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One demo for the page tests that follow its cook (they run in file order: braise, then the alarm)."""
    svc = demo_process(tmp_path_factory.mktemp("demo")).start()
    yield svc
    if svc.proc is not None and svc.proc.poll() is None:
        svc.stop()


def wait_live(phone: Phone, timeout_ms: float = 20_000) -> None:
    expect(phone.page.locator("#live")).to_have_attribute("data-state", "live", timeout=timeout_ms)


def shown_fahrenheit(phone: Phone) -> float:
    return float(phone.page.locator("#temp").get_attribute("data-value") or "nan")


def wait_new_reading(phone: Phone) -> None:
    """Wait until the big number shows a reading newer than the one on screen now."""
    before = phone.page.locator("#temp").get_attribute("data-at")
    phone.page.wait_for_function("at => document.getElementById('temp').dataset.at !== at", arg=before)


def chart_has_ink(phone: Phone) -> bool:
    """Whether the chart canvas has a drawn curve (pixels of the line colour)."""
    return bool(
        phone.page.evaluate(
            """() => {
              const c = document.getElementById('chart');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i] === 0x6c && d[i+1] === 0xb6 && d[i+2] === 0xff) n++;
              return n > 50;
            }"""
        )
    )


def acknowledge_until_quiet(phone: Phone) -> set[str]:
    """Tap Acknowledge until no critical alert is left; return the ids acknowledged.

    The demo pot does not stop at 225 °F (nobody takes it off the heat), so
    target_overshoot may come just after target_reached: the overlay then
    shows it, and it is acknowledged too.
    """
    page = phone.page
    alarm = page.locator("#alarm")
    acked: set[str] = set()
    for _ in range(6):
        if alarm.is_hidden():
            return acked
        ids = alarm.get_attribute("data-ids") or ""
        page.locator("#ack").click()
        # one tap acknowledges every alert shown: wait until none of them is left
        page.wait_for_function(GONE, arg=ids, timeout=10_000)
        acked.update(i for i in ids.split(",") if i)
    raise AssertionError("the alarm kept coming back after six acknowledgements")


def test_page_shows_temperature_and_stage(demo: ServiceProcess, phone: Phone) -> None:
    page = phone.page
    page.goto(demo.base + "/")
    wait_live(phone)
    expect(page.locator("#temp")).to_have_text(re.compile(r"^\d{2,3}$"))
    expect(page.locator("#temp-unit")).to_have_text("°F")
    expect(page.locator("#step")).to_have_text(re.compile(r"^(Braise|Caramel) · step [12] of 2$"))
    expect(page.locator("#stage")).to_have_attribute("data-stage", re.compile(r"^(heating|holding|approaching)$"))
    expect(page.locator("#probe-state")).to_have_attribute("data-state", "ok")
    expect(page.locator("#eta")).to_be_visible()
    expect(page.locator("#speed")).to_have_text("demo ×200")
    expect(page.locator("#boils")).to_be_hidden()  # no boil test, barometer or altitude: nothing moves the target
    # no token in the demo: the page says what that means
    expect(page.locator("#open-notice")).to_contain_text("anyone on this network can stop the cook")

    # the big number is the service's, live
    status = demo.get("/api/status")
    assert abs(shown_fahrenheit(phone) - status["probes"][0]["fahrenheit"]) < 15
    wait_new_reading(phone)  # readings keep coming
    wait_until(lambda: chart_has_ink(phone), 10, "the chart to draw the cook so far")
    phone.screenshot("page-cooking.png")

    # °C, remembered across a reload
    page.locator("#unit").click()
    expect(page.locator("#temp-unit")).to_have_text("°C")
    page.reload()
    wait_live(phone)
    expect(page.locator("#temp-unit")).to_have_text("°C")
    celsius = shown_fahrenheit(phone)  # data-value is in the unit shown
    assert 15 < celsius < 130
    page.locator("#unit").click()
    expect(page.locator("#temp-unit")).to_have_text("°F")

    # the controls are big enough for a wet thumb
    for selector in ("#unit", "#sound", "#advance", "#stop", "#start-box > summary"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 48, (selector, box)


def test_page_says_where_water_boils_and_how_far_the_target_moved(tmp_path: Path, phone: Phone) -> None:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        'altitude = "5000ft"\n'
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?speed=20&kind=caramel"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    svc = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port()).start()
    page = phone.page
    try:
        page.goto(svc.base + "/")
        wait_live(phone)
        boils = page.locator("#boils")
        expect(boils).to_have_text("Water boils at 202.9 °F here (5,000 ft): targets 9.1 °F lower")
        expect(page.locator("#eta")).to_contain_text("216 °F")  # 225 °F − 9.1 °F, the line above it
        page.locator("#unit").click()
        expect(boils).to_have_text("Water boils at 94.9 °C here (1,524 m): targets 5.1 °C lower")
        page.locator("#unit").click()
    finally:
        svc.stop()


def test_page_alarm_at_225_and_acknowledge(demo: ServiceProcess, phone: Phone, second_phone: Phone) -> None:
    page = phone.page
    page.goto(demo.base + "/")
    second_phone.page.goto(demo.base + "/")
    wait_live(phone)
    wait_live(second_phone)

    alarm = page.locator("#alarm")
    expect(alarm).to_be_visible(timeout=ALARM_TIMEOUT_MS)
    expect(alarm).to_have_attribute("role", "alertdialog")
    expect(alarm).to_have_attribute("data-kinds", re.compile(r"target_reached"))
    expect(page.locator("#alarm-title")).to_have_text(re.compile(r"TARGET REACHED|PAST THE TARGET"))
    expect(page.locator("#alarm-text")).to_have_attribute("aria-live", "assertive")
    expect(page.locator("#alarm-text")).to_contain_text("°F")
    status = demo.get("/api/status")
    reached = [a for a in status["alerts"] if a["kind"] == "target_reached"]
    assert reached and reached[0]["level"] == "critical" and reached[0]["fahrenheit"] >= 224.0
    assert status["cook"]["step"] == "caramel"

    # the overlay covers the whole phone, and its button is big
    box = alarm.bounding_box()
    assert box is not None and box["width"] >= 390 and box["height"] >= 844
    ack_box = page.locator("#ack").bounding_box()
    assert ack_box is not None and ack_box["height"] >= 96

    # "disabled" stops the flashing on its first (red) frame for the picture
    phone.screenshot("page-alarm.png", animations="disabled")
    page.emulate_media(reduced_motion="reduce")
    phone.screenshot("page-alarm-reduced-motion.png")
    page.emulate_media(reduced_motion="no-preference")

    second = second_phone.page.locator("#alarm")
    expect(second).to_be_visible()

    acked = acknowledge_until_quiet(phone)
    assert acked
    expect(alarm).to_be_hidden()
    # the other phone never tapped anything: its overlay goes on the `ack` events
    expect(second).to_be_hidden(timeout=10_000)
    assert not [m for m, _ in second_phone.requests if m == "POST"]

    status = demo.get("/api/status")
    by_id = {a["id"]: a for a in status["alerts"]}
    assert all(by_id[i]["acked"] for i in acked), [by_id.get(i) for i in acked]
    assert reached[0]["id"] in acked
    phone.screenshot("page-acked.png")


def test_page_stale_banner_when_the_service_stops_and_returns(tmp_path: Path, phone: Phone) -> None:
    svc = demo_process(tmp_path, speed="20").start()
    page = phone.page
    try:
        page.goto(svc.base + "/")
        wait_live(phone)
        stale = page.locator("#stale")
        expect(stale).to_be_hidden()

        assert svc.stop() < 5.0  # SIGTERM, with this phone's stream open
        expect(stale).to_be_visible(timeout=25_000)
        expect(page.locator("#live")).to_have_attribute("data-state", "stale")
        text = page.locator("#stale-text").inner_text()
        match = STALE_TEXT.fullmatch(text)
        assert match and int(match.group(1)) >= 12, text
        # it counts up
        page.wait_for_function("t => document.getElementById('stale-text').textContent !== t", arg=text)
        phone.screenshot("page-stale.png")

        restarted_at = time.time()
        svc.start()
        expect(stale).to_be_hidden(timeout=30_000)
        wait_live(phone)
        # …and it gets the new service's readings (whose event ids began again at 1)
        page.wait_for_function(
            "t => Date.parse(document.getElementById('temp').dataset.at) > t",
            arg=restarted_at * 1000,
            timeout=15_000,
        )
    finally:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop()


def test_page_reconnects_after_eventsource_gives_up(tmp_path: Path, phone: Phone) -> None:
    """A proxy's 503 makes EventSource stop for good: the page must open a new one itself."""
    svc = demo_process(tmp_path, speed="20").start()
    page = phone.page
    refused: list[str] = []

    def events(route: Any) -> None:
        if len(refused) < 2:
            refused.append(route.request.url)
            route.fulfill(status=503, content_type="text/plain", body="upstream restarting")
        else:
            route.continue_()

    try:
        page.route(re.compile(r".*/api/events.*"), events)
        page.goto(svc.base + "/")
        wait_live(phone, timeout_ms=30_000)
        assert len(refused) == 2
        streams = [url for method, url in phone.requests if method == "GET" and "/api/events" in url]
        assert len(streams) >= 3
        # a fresh EventSource sends no Last-Event-ID header: the id goes in the query
        assert all(re.search(r"[?&]last_event_id=\d+", url) for url in streams), streams
        wait_new_reading(phone)
    finally:
        svc.stop()


def test_page_asks_for_the_token_to_acknowledge(tmp_path: Path, phone: Phone) -> None:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        '[server]\ntoken = "s3cret"\n\n'
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?speed=200&kind=caramel"\nlabel = "Caramel pot"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    svc = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port()).start()
    page = phone.page
    try:
        page.goto(svc.base + "/")
        alarm = page.locator("#alarm")
        expect(alarm).to_be_visible(timeout=ALARM_TIMEOUT_MS)
        shown = alarm.get_attribute("data-ids")
        expect(page.locator("#open-notice")).to_be_hidden()  # a token is set: no "anyone can stop it"
        page.locator("#ack").click()
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        phone.screenshot("page-token.png")
        page.locator("#token-input").fill("wrong")
        page.locator("#token-form button[type=submit]").click()
        # 401: asked again, saying why; nothing acknowledged
        expect(page.locator("#token-why")).to_contain_text("refused")
        expect(dialog).to_be_visible()
        assert not [a for a in svc.get("/api/status")["alerts"] if a["acked"]]
        page.locator("#token-input").fill("s3cret")
        page.locator("#token-form button[type=submit]").click()
        expect(dialog).to_be_hidden()
        page.wait_for_function(GONE, arg=shown)
        acknowledge_until_quiet(phone)  # whatever came meanwhile: the token is kept, no question asked
        expect(dialog).to_be_hidden()
        assert page.evaluate("() => localStorage.getItem('potwatch.token')") == "s3cret"
        alerts = svc.get("/api/status")["alerts"]
        critical = [a for a in alerts if a["level"] == "critical"]
        assert critical and all(a["acked"] for a in critical), alerts
    finally:
        svc.stop()


def test_page_controls_stop_start_calibrate_and_history(tmp_path: Path, phone: Phone) -> None:
    svc = demo_process(tmp_path, speed="20").start()
    page = phone.page
    try:
        page.goto(svc.base + "/")
        wait_live(phone)
        expect(page.locator("#step")).to_contain_text("Braise")

        # Stop takes two taps: a wet thumb brushing the screen must not end the cook
        stop = page.locator("#stop")
        stop.click()
        expect(stop).to_have_text("Tap again to stop")
        assert svc.get("/api/status")["cook"] is not None
        stop.click()
        expect(page.locator("#step")).to_have_text("No cook running")
        expect(page.locator("#cook-controls")).to_be_hidden()
        assert svc.get("/api/status")["cook"] is None

        # start the caramel alone on the same probe
        page.locator("#start-box > summary").click()
        expect(page.locator("#start-profile option[value=caramel]")).to_have_count(1)
        expect(page.locator("#start-profile option[value=boil]")).to_have_count(0)  # that is calibration
        page.locator("#start-profile").select_option("caramel")
        page.locator("#start-probe").select_option("pot")
        page.locator("#start-form button[type=submit]").click()
        expect(page.locator("#step")).to_have_text("Caramel")
        cook = svc.get("/api/status")["cook"]
        assert cook["profile"] == "caramel" and cook["probe"] == "pot"
        # a second cook on a busy probe: the service says no, and the page says why
        page.locator("#start-box > summary").click()
        page.locator("#start-form button[type=submit]").click()
        expect(page.locator("#message")).to_have_attribute("data-error", "true")
        expect(page.locator("#message")).to_contain_text("Start:")

        # calibration needs the probe free
        stop.click()
        stop.click()
        expect(page.locator("#step")).to_have_text("No cook running")
        page.locator("#calibrate-box > summary").click()
        page.locator("#calibrate-probe").select_option("pot")
        page.locator("#calibrate-form button[type=submit]").click()
        label = svc.get("/api/status")["probes"][0]["label"] or "pot"  # the page names probes by their label
        expect(page.locator("#calibration")).to_contain_text(f"Calibrating {label}")
        assert svc.get("/api/status")["cook"]["profile"] == "boil"

        # past cooks, and one's chart
        page.locator("#history-box > summary").click()
        items = page.locator("#history .history-item")
        expect(items).to_have_count(3)  # rillons, caramel, boil
        items.filter(has_text="rillons").click()
        dialog = page.locator("#history-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#history-summary")).to_contain_text("ended: stopped")
        href = page.locator("#history-csv").get_attribute("href") or ""
        assert href.endswith("/readings.csv")
        page.locator("#history-close").click()
        expect(dialog).to_be_hidden()
    finally:
        svc.stop()

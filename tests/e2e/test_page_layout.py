"""The phone page's layout in real headless Chromium, one held moment of a cook at a time.

A scripted stand-in service (tests/support/fake_kitchen.py) serves the page's
real files and holds the moment still: approaching with an ETA, the alarm, a
warning, a silent stream. Each test measures what Chromium laid out
(getBoundingClientRect, computed styles, the canvas' pixels), upright
(390 × 844) and on its side (844 × 390). Screenshots land in test-artifacts/
as layout-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_kitchen import FakeKitchen, alert, probe, reach_cook
from tests.support.phone import Phone

pytestmark = pytest.mark.real_part("chromium")

PORTRAIT = {"width": 390, "height": 844}
LANDSCAPE = {"width": 844, "height": 390}
VIEWS = pytest.mark.parametrize("size", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
NBSP = "\u00a0"


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


@pytest.fixture
def stand_in() -> Iterator[FakeKitchen]:
    k = FakeKitchen().start()
    yield k
    k.close()


def open_page(phone: Phone, stand_in: FakeKitchen, size: dict[str, int] = PORTRAIT) -> Any:
    page = phone.page
    page.set_viewport_size(size)
    page.goto(stand_in.base + "/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#temp")).to_have_text(re.compile(r"^\d+$"))
    return page


def box(page: Any, selector: str) -> dict[str, float]:
    return page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,"
        " right: r.right, bottom: r.bottom, font: parseFloat(getComputedStyle(e).fontSize)}; }",
    )


def inside(b: dict[str, float], size: dict[str, int]) -> bool:
    return (
        b["w"] > 0
        and b["h"] > 0
        and b["x"] >= 0
        and b["y"] >= 0
        and b["right"] <= size["width"] + 0.5
        and (b["bottom"] <= size["height"] + 0.5)
    )


def shot(phone: Phone, name: str, size: dict[str, int]) -> None:
    phone.screenshot(f"layout-{name}-{size['width']}x{size['height']}.png", animations="disabled")


@VIEWS
def test_the_eta_is_the_big_line_while_approaching(stand_in: FakeKitchen, phone: Phone, size: dict[str, int]) -> None:
    page = open_page(phone, stand_in, size)
    big = page.locator("#eta-big")
    expect(big).to_have_text(f"~1{NBSP}min{NBSP}17{NBSP}s")
    expect(page.locator("#eta")).to_contain_text(f"225{NBSP}°F")
    expect(page.locator("#eta")).to_contain_text(f"±{NBSP}6{NBSP}s")
    digits, eta = box(page, "#temp"), box(page, "#eta-big")
    assert eta["font"] >= 0.4 * digits["font"], (eta, digits)
    assert eta["h"] >= 0.4 * digits["h"], (eta, digits)
    assert inside(eta, size) and inside(digits, size), (eta, digits)
    # beside the digits (on its side) or under them (upright), never on top of them
    assert eta["y"] >= digits["bottom"] - 1 or eta["x"] >= digits["right"] - 1, (eta, digits)
    shot(phone, "approaching", size)

    # heating: the ETA is an ordinary line again
    stand_in.send("cook", reach_cook(stage="heating"))
    expect(big).to_be_hidden()
    expect(page.locator("#eta")).to_contain_text(f"225{NBSP}°F in ~1{NBSP}min{NBSP}17{NBSP}s")


@VIEWS
def test_the_alarm_fits_the_screen(stand_in: FakeKitchen, phone: Phone, size: dict[str, int]) -> None:
    stand_in.status["alerts"] = [
        alert("target_reached", "critical", "caramel: 225 °F reached (225.2 °F) — take it off the heat", "a2"),
        alert("probe_lost", "critical", "pot: no reading for 15 s near the target", "a1", at="2026-11-28T14:03:00Z"),
    ]
    page = open_page(phone, stand_in, size)
    expect(page.locator("#alarm")).to_be_visible()
    expect(page.locator("#alarm-title")).to_have_text("TARGET REACHED")
    for selector in (".alarm-icon", "#alarm-title", "#alarm-text", "#alarm-now", "#ack"):
        b = box(page, selector)
        assert inside(b, size), (selector, b, size)
    ack = box(page, "#ack")
    assert ack["h"] >= 64 and ack["w"] >= 0.6 * size["width"], ack
    assert page.eval_on_selector("#alarm", "e => e.scrollTop") == 0
    expect(page.locator("#alarm-text")).to_contain_text(f"225{NBSP}°F reached (225.2{NBSP}°F)")
    shot(phone, "alarm", size)


def test_the_alarm_says_how_old_its_reading_is(stand_in: FakeKitchen, phone: Phone) -> None:
    stand_in.status["probes"] = [probe(age_s=10.0)]
    stand_in.status["alerts"] = [alert("target_reached", "critical", "caramel: 225 °F reached", "a2")]
    page = open_page(phone, stand_in)
    expect(page.locator("#alarm-now")).to_have_text(re.compile(rf"^219\.2{NBSP}°F, 1\d{NBSP}s ago$"))
    stand_in.send("reading", {"probe": "pot", "celsius": 107.4, "fahrenheit": 225.3, "at": "x", "state": "ok"})
    expect(page.locator("#alarm-now")).to_have_text(f"Now 225.3{NBSP}°F")


@VIEWS
def test_a_warning_does_not_move_the_digits(stand_in: FakeKitchen, phone: Phone, size: dict[str, int]) -> None:
    page = open_page(phone, stand_in, size)
    before = box(page, "#temp")
    stand_in.send("alert", alert("target_approaching", "warning", "caramel: 219.2 °F, 225 °F in about 77 s", "a3"))
    banner = page.locator("#warnings .warning")
    expect(banner).to_be_visible()
    # one way of writing a duration: the banner's "77 s" is the ETA's "1 min 17 s"
    expect(banner).to_contain_text(f"225{NBSP}°F in about 1{NBSP}min{NBSP}17{NBSP}s")
    after = box(page, "#temp")
    assert abs(after["y"] - before["y"]) < 2, (before, after)
    assert inside(box(page, "#warnings"), size)
    shot(phone, "warning", size)


def test_numbers_and_units_never_part(stand_in: FakeKitchen, phone: Phone) -> None:
    page = open_page(phone, stand_in)
    for selector in ("#eta", "#rate", "#sugar", "#alarm-now", "#chart-legend"):
        text = page.locator(selector).text_content() or ""
        loose = re.findall(r"\d (?:°[FC]|min|s\b|h\b)|± ", text)
        assert not loose, (selector, text)
    # and a narrow line really keeps them together: no rendered line starts with a unit
    lines = page.eval_on_selector(
        "#eta",
        """e => { e.style.width = '120px'; const r = document.createRange(); const out = [];
          const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
          let top = null, line = '';
          for (let n = walk.nextNode(); n; n = walk.nextNode()) for (let i = 0; i < n.length; i++) {
            r.setStart(n, i); r.setEnd(n, i + 1); const y = Math.round(r.getBoundingClientRect().top);
            if (top !== null && y > top + 4) { out.push(line); line = ''; }
            top = y; line += n.data[i]; }
          out.push(line); e.style.width = ''; return out; }""",
    )
    assert len(lines) > 1, lines
    # no line begins with a unit, none ends on a "±" cut from its number
    assert not [line for line in lines if re.match(r"^\s*(°|min|s\b)", line) or line.strip().endswith("±")], lines


def series_braise_then_caramel() -> dict[str, Any]:
    """Two flat hours at 195 °F, then ten minutes of the caramel climbing to 224 °F."""
    points: list[list[float]] = [[float(t), 90.6] for t in range(0, 7200, 30)]
    points += [[7200.0 + t, 90.6 + (106.7 - 90.6) * t / 600] for t in range(0, 601, 10)]
    return {
        "points": points,
        "stages": [[0.0, "heating"], [300.0, "holding"], [7200.0, "heating"], [7500.0, "approaching"]],
        "alerts": [],
    }


def ink(page: Any) -> dict[str, float]:
    """The curve's pixels on the chart: how far it rises in the left half of the plot, in plot heights."""
    return page.evaluate(
        """() => {
          const c = document.getElementById('chart');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const left = 40, right = c.width - 8, mid = (left + right) / 2;
          let lo = Infinity, hi = -Infinity, cols = new Set();
          for (let y = 0; y < c.height; y++) for (let x = left; x < right; x++) {
            const i = (y * c.width + x) * 4;
            if (d[i] === 0x6c && d[i+1] === 0xb6 && d[i+2] === 0xff) {
              cols.add(x);
              if (x < mid) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
            }
          }
          return {rise: (hi - lo) / (c.height - 28), width: cols.size / (right - left)};
        }"""
    )


@VIEWS
def test_the_chart_zooms_to_the_step(stand_in: FakeKitchen, phone: Phone, size: dict[str, int]) -> None:
    stand_in.series = series_braise_then_caramel()
    stand_in.status["cook"] = reach_cook(profile="rillons", steps=["braise", "caramel"], step_index=1)
    page = open_page(phone, stand_in, size)
    page.wait_for_function("() => document.getElementById('chart').dataset.from === '7200'")
    step = ink(page)
    # the caramel's climb fills the chart: half of it is in the left half of the plot
    assert step["rise"] > 0.3 and step["width"] > 0.8, step
    ticks = page.eval_on_selector("#chart", "c => c.dataset.ticks").split()
    assert ticks and all(re.fullmatch(r"\d+:\d\d", t) for t in ticks), ticks
    legend = page.locator("#chart-legend li")
    expect(legend).to_have_text(["reading", f"target 225{NBSP}°F", f"too far 230{NBSP}°F"])
    # the legend is under the chart, not written across its lines
    assert box(page, "#chart-legend")["y"] >= box(page, "#chart")["bottom"]
    page.locator("#chart").scroll_into_view_if_needed()
    shot(phone, "chart-step", size)

    toggle = page.locator("#chart-view")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => document.getElementById('chart').dataset.from === '0'")
    whole = ink(page)
    assert whole["rise"] < 0.1, whole  # the left half of the whole cook is the flat braise
    ticks = page.eval_on_selector("#chart", "c => c.dataset.ticks").split()
    assert ticks[0] == "0:00" and all(re.fullmatch(r"\d+:\d\d", t) for t in ticks), ticks
    toggle_box = box(page, "#chart-view")
    assert toggle_box["h"] >= 48 and toggle_box["w"] >= 48, toggle_box
    shot(phone, "chart-whole", size)


def test_not_live_nothing_looks_reassuring(stand_in: FakeKitchen, phone: Phone) -> None:
    page = open_page(phone, stand_in)
    pstate = page.locator("#probe-state")
    expect(pstate).to_have_text("probe ok")
    green = pstate.evaluate("e => getComputedStyle(e).color")
    stand_in.silence()
    expect(page.locator("#live")).to_have_attribute("data-state", "stale", timeout=25_000)
    expect(pstate).to_have_text("probe: unknown")
    assert pstate.evaluate("e => getComputedStyle(e).color") != green
    for selector in ("#advance", "#stop"):
        button = page.locator(selector)
        expect(button).to_be_disabled()
        assert float(button.evaluate("e => getComputedStyle(e).opacity")) <= 0.5
    stage_bg = page.locator("#stage").evaluate("e => getComputedStyle(e).backgroundColor")
    assert stage_bg != "rgb(255, 197, 61)", stage_bg  # not the lit amber of "approaching"
    eta_colour = page.locator("#eta-big").evaluate("e => getComputedStyle(e).color")
    assert eta_colour != "rgb(255, 197, 61)", eta_colour  # an old countdown is not a live one
    shot(phone, "not-live", PORTRAIT)


def test_the_page_speaks_like_a_cook(stand_in: FakeKitchen, phone: Phone) -> None:
    stand_in.status["cook"] = reach_cook(stage="heating", sugar_stage=None, next_sugar_stage="syrup")
    stand_in.profiles = [{"name": "caramel", "title": "Caramel: red-wine caramel to 225 °F", "steps": []}]
    page = open_page(phone, stand_in)
    expect(page.locator("#probe-name")).to_have_text("Caramel pot")
    expect(page.locator("#sugar")).to_be_hidden()  # nothing to say before it is syrup
    stand_in.send("cook", reach_cook(stage="heating", sugar_stage="syrup", next_sugar_stage="glaze"))
    expect(page.locator("#sugar")).to_contain_text("Sugar: syrup")
    stand_in.status["cook"] = None
    stand_in.send("cook_ended", {"cook": "1-c1", "outcome": "stopped", "at": "x"})
    expect(page.locator("#message")).to_have_text("The caramel cook was stopped.")


def heater_view(**fields: Any) -> dict[str, Any]:
    """A ``heaters`` entry of /api/status (service/runtime/views.py HeaterView)."""
    view = {
        "id": "hob",
        "label": "",
        "probe": "pot",
        "on": True,
        "reported": "on",
        "reason": "heating to target (225 °F)",
        "duty": 0.83,
        "duty_window_s": 600.0,
        "available": True,
        "override": "auto",
        "safety": False,
    }
    return view | fields


@VIEWS
def test_the_heater_cards_fit_and_say_what_is_wrong(stand_in: FakeKitchen, phone: Phone, size: dict[str, int]) -> None:
    """Pass: two heaters, one off at its target while its plug still says on, one whose link is down: each card
    is on the screen's width, ON/OFF in letters at least 28 px, the reason at least 20 px, the button at least
    48 × 48; the disagreeing plug and the unavailable one are marked in words, not colour alone."""
    stand_in.status["heaters"] = [
        heater_view(on=False, reported="on", reason="target reached (225 °F)", duty=0.4),
        heater_view(
            id="oven",
            label="Oven plug",
            on=False,
            reported=None,
            available=False,
            reason="link to the plug down",
            safety=True,
        ),
    ]
    page = open_page(phone, stand_in, size)
    hob, oven = page.locator('.heater[data-id="hob"]'), page.locator('.heater[data-id="oven"]')
    expect(hob.locator(".heater-state")).to_have_text("OFF")
    expect(hob.locator(".heater-reason")).to_have_text(f"Target reached (225{NBSP}°F)")
    expect(hob.locator(".heater-plug")).to_have_text("Plug says on")
    expect(hob).to_have_attribute("data-attention", "true")  # the plug disagrees ...
    expect(hob).to_have_attribute("data-safety", "false")  # ... but reaching the target is no fault
    expect(oven).to_have_attribute("data-safety", "true")
    expect(hob.locator(".heater-duty")).to_have_text(f"on 40{NBSP}% of the last 10{NBSP}min")
    expect(oven.locator(".heater-name")).to_have_text("Heater: Oven plug")
    expect(oven.locator(".heater-plug")).to_have_text("Plug not heard yet")
    expect(oven.locator(".heater-link")).to_have_text("UNAVAILABLE")
    expect(oven.locator(".heater-reason")).to_have_text("Link to the plug down")
    for card in ('.heater[data-id="hob"]', '.heater[data-id="oven"]'):
        b = box(page, card)
        assert b["x"] >= 0 and b["right"] <= size["width"] + 0.5, (card, b)
        assert box(page, f"{card} .heater-state")["font"] >= 28
        assert box(page, f"{card} .heater-reason")["font"] >= 20
        button = box(page, f"{card} .heater-off")
        assert button["w"] >= 48 and button["h"] >= 48, button
    page.locator(".heater-off").first.scroll_into_view_if_needed()
    shot(phone, "heaters", size)

    page.locator("#unit").click()  # the service says °F; the page says the unit it shows
    expect(hob.locator(".heater-reason")).to_have_text(f"Target reached (107.2{NBSP}°C)")


def test_the_heater_card_says_the_window_its_duty_is_over(stand_in: FakeKitchen, phone: Phone) -> None:
    """Pass: each card says the duty over its own heater's ``duty_window_s`` (5 min, 1 min 30 s), not a fixed
    10 min, and a ``heater`` event with another window (1 h) changes the words."""
    stand_in.status["heaters"] = [
        heater_view(duty=0.4, duty_window_s=300.0),
        heater_view(id="oven", duty=0.25, duty_window_s=90.0),
    ]
    page = open_page(phone, stand_in)
    hob, oven = page.locator('.heater[data-id="hob"]'), page.locator('.heater[data-id="oven"]')
    expect(hob.locator(".heater-duty")).to_have_text(f"on 40{NBSP}% of the last 5{NBSP}min")
    expect(oven.locator(".heater-duty")).to_have_text(f"on 25{NBSP}% of the last 1{NBSP}min{NBSP}30{NBSP}s")
    stand_in.send("heater", heater_view(duty=0.5, duty_window_s=3600.0))
    expect(hob.locator(".heater-duty")).to_have_text(f"on 50{NBSP}% of the last 1{NBSP}h")


def test_a_heater_event_updates_its_card_and_not_live_it_says_unknown(stand_in: FakeKitchen, phone: Phone) -> None:
    """Pass: a ``heater`` event turns the card from ON to OFF, "Probe lost", at once; with the stream silent,
    the card no longer claims ON or OFF: it says "unknown"."""
    stand_in.status["heaters"] = [heater_view()]
    page = open_page(phone, stand_in)
    card = page.locator('.heater[data-id="hob"]')
    expect(card.locator(".heater-state")).to_have_text("ON")
    stand_in.send("heater", heater_view(on=False, reported="off", reason="probe lost"))
    expect(card.locator(".heater-state")).to_have_text("OFF")
    expect(card.locator(".heater-reason")).to_have_text("Probe lost")
    expect(card.locator(".heater-off")).to_have_text("Keep off")
    stand_in.silence()
    expect(page.locator("#live")).to_have_attribute("data-state", "stale", timeout=25_000)
    expect(card.locator(".heater-state")).to_have_text("unknown")

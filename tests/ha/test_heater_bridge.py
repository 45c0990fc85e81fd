"""The Home Assistant switch heater (``kind=homeassistant``) against a real Home Assistant, on one real Mosquitto.

The bridge is the two automations of docs/heat-drivers.md, read from that
page's YAML block for this release (so the page and this test cannot
drift), loaded into Home Assistant's ``automations.yaml`` and reloaded. Its
``switch.hotplate`` is a template switch on an ``input_boolean``
(tests/support/home_assistant.py's configuration). The driver is potwatch's
own, in this process, with the wall clock. What is judged is what Home
Assistant says of its entity (``/api/states``) and what the driver reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest
import yaml

from drivers.heater import open_heater
from drivers.homeassistant_plug import HomeAssistantPlug
from tests.support.broker import Broker
from tests.support.home_assistant import HomeAssistant, documented_heater_bridge
from tests.support.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.real_part("home-assistant")

ENTITY = "switch.hotplate"
WAIT_S = 15.0  # a round trip through Home Assistant's automation engine, on a loaded 2-core machine
NOISY = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")
ABOUT_BRIDGE = re.compile(r"hotplate|ha-switch", re.IGNORECASE)  # the bridge's automations, entity and topics
SLACK_S = 1.5  # Home Assistant's delay, its service call and the state automation's publish, loaded


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def entity(hass: HomeAssistant) -> dict[str, Any]:
    state = hass.state(ENTITY)
    assert state is not None, f"{ENTITY} is not in Home Assistant\n{hass.output()}"
    return state


def load_bridge(hass: HomeAssistant) -> None:
    """The docs' bridge automations for this release, in automations.yaml, reloaded; the switch off."""
    automations = documented_heater_bridge(hass.version)
    hass.automations_path.write_text(yaml.safe_dump(automations, allow_unicode=True, sort_keys=False))
    hass.call("automation", "reload", {})
    aliases = {a["alias"] for a in automations}

    def loaded() -> bool:
        states = hass.states()
        on = {s["attributes"].get("friendly_name") for e, s in states.items() if e.startswith("automation.")}
        return aliases <= on and all(
            s["state"] == "on" for s in states.values() if s["attributes"].get("friendly_name") in aliases
        )

    wait_until(loaded, 30, lambda: f"Home Assistant to load the bridge automations {sorted(aliases)}")
    hass.call("switch", "turn_off", {"entity_id": ENTITY})
    wait_until(lambda: entity(hass)["state"] == "off", WAIT_S, f"{ENTITY} off")


@contextlib.asynccontextmanager
async def bridged(hass: HomeAssistant, broker: Broker, *, quiet: bool = True) -> AsyncIterator[HomeAssistantPlug]:
    """The bridge loaded, and potwatch's driver for it, available (Home Assistant answered).

    ``quiet``: at the end, no warning or error in Home Assistant's log about the bridge.
    """
    await asyncio.to_thread(load_bridge, hass)
    plug = open_heater("hob", f"mqtt://{broker.host}:{broker.port}/hotplate?kind=homeassistant")
    assert isinstance(plug, HomeAssistantPlug)
    async with plug:
        await wait_until_async(
            lambda: plug.available, WAIT_S, lambda: f"Home Assistant to answer: {plug.unavailable_reason}"
        )
        yield plug
    if not quiet:
        return
    noisy = [line for line in hass.log().splitlines() if NOISY.search(line) and ABOUT_BRIDGE.search(line)]
    assert not noisy, "Home Assistant logged:\n" + "\n".join(noisy)


async def ha_state(hass: HomeAssistant) -> str:
    return str((await asyncio.to_thread(entity, hass))["state"])


async def wait_entity(hass: HomeAssistant, want: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while (now := await ha_state(hass)) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {ENTITY} is {now!r}")
        await asyncio.sleep(0.1)


async def test_a_command_switches_the_entity_and_its_state_comes_back_from_home_assistant(
    home_assistant: HomeAssistant, ha_broker: Broker, record_property: Callable[[str, object], None]
) -> None:
    """Pass: at link-up the driver's ``reported`` is Home Assistant's ``off``; an ON turns ``switch.hotplate``
    on in Home Assistant and the driver then reports True (from the state automation); an OFF turns it off and
    the driver reports False; a second ON turned off by Home Assistant's own service call (by hand, in the UI)
    is reported False: the state is Home Assistant's, not the command's."""
    async with bridged(home_assistant, ha_broker) as plug:
        assert plug.reported is False
        sent = time.time()
        assert await plug.command(True, hold_s=60)
        await wait_entity(home_assistant, "on", WAIT_S, "the ON to reach the entity")
        await wait_until_async(lambda: plug.reported is True, WAIT_S, "the driver to hear the entity on")
        record_property("ha_switch_on_latency_ms", round((epoch(entity(home_assistant)["last_changed"]) - sent) * 1000))
        assert await plug.command(False, hold_s=60)
        await wait_entity(home_assistant, "off", WAIT_S, "the OFF to reach the entity")
        await wait_until_async(lambda: plug.reported is False, WAIT_S, "the driver to hear the entity off")
        assert await plug.command(True, hold_s=60)
        await wait_until_async(lambda: plug.reported is True, WAIT_S, "the entity on again")
        await asyncio.to_thread(home_assistant.call, "switch", "turn_off", {"entity_id": ENTITY})
        await wait_until_async(lambda: plug.reported is False, WAIT_S, "the driver to hear the entity off by hand")
        assert plug.dropped == 0


async def test_the_documented_automation_turns_the_entity_off_after_hold_s_unless_re_armed(
    home_assistant: HomeAssistant, ha_broker: Broker, record_property: Callable[[str, object], None]
) -> None:
    """The dead-man, in Home Assistant's own automation. Pass: re-commanded ON every 1 s with a 4 s hold for
    7 s, the entity never leaves ``on`` (its ``last_changed`` stays the first ON's); left alone, Home Assistant
    turns it off 4 s (−0.1, +SLACK_S) after the last ON, and the driver hears it."""
    hold = 4.0
    async with bridged(home_assistant, ha_broker) as plug:
        assert await plug.command(True, hold_s=hold)
        await wait_entity(home_assistant, "on", WAIT_S, "the first ON")
        first = entity(home_assistant)["last_changed"]
        end = time.monotonic() + 7.0
        while time.monotonic() < end:
            assert await plug.command(True, hold_s=hold)
            last_on = time.time()
            await asyncio.sleep(1.0)  # the controller's re-arming: the period this test is about
        state = entity(home_assistant)
        assert state["state"] == "on" and state["last_changed"] == first, "re-armed in time: it never went off"
        await wait_entity(home_assistant, "off", hold + 2 * SLACK_S, "Home Assistant's delay to turn it off")
        held = epoch(entity(home_assistant)["last_changed"]) - last_on
        record_property("ha_switch_deadman_off_after_s", round(held, 3))
        assert hold - 0.1 <= held <= hold + SLACK_S, f"off {held:.2f} s after the last ON (hold {hold} s)"
        await wait_until_async(lambda: plug.reported is False, WAIT_S, "the driver to hear it went off")


async def test_the_entity_goes_off_by_itself_with_the_broker_dead(
    home_assistant: HomeAssistant, ha_broker: Broker, record_property: Callable[[str, object], None]
) -> None:
    """The timer runs inside Home Assistant: it needs no MQTT. Pass: the entity on with a 4 s hold, the broker
    SIGKILLed: the driver is unavailable, and Home Assistant turns the entity off 4 s (+SLACK_S) after the ON.
    The broker started again, the driver comes back and hears ``off`` (it asks; the state automation's own
    publish of the change failed while the broker was dead, and Home Assistant logged that as an error).
    Home Assistant is then restarted, as the other tests that kill the broker do, so that the next test's
    look at its log starts from a log without this outage in it."""
    hold = 4.0
    async with bridged(home_assistant, ha_broker, quiet=False) as plug:
        assert await plug.command(True, hold_s=hold)
        on_sent = time.time()
        await wait_entity(home_assistant, "on", WAIT_S, "the ON")
        ha_broker.kill()
        try:
            await wait_until_async(lambda: not plug.available, 5.0, "the driver to see the broker gone")
            await wait_entity(home_assistant, "off", hold + 2 * SLACK_S, "the delay to turn it off, broker dead")
            held = epoch(entity(home_assistant)["last_changed"]) - on_sent
            record_property("ha_switch_deadman_broker_dead_off_after_s", round(held, 3))
            assert held <= hold + SLACK_S, f"off {held:.2f} s after the ON (hold {hold} s)"
        finally:
            await asyncio.to_thread(ha_broker.start)
        await wait_until_async(lambda: plug.available, 60.0, lambda: f"the driver back: {plug.unavailable_reason}")
        assert plug.reported is False
    await asyncio.to_thread(home_assistant.restart)


async def test_home_assistant_stopping_makes_the_switch_unavailable_and_its_return_asks_again(
    home_assistant: HomeAssistant, ha_broker: Broker, record_property: Callable[[str, object], None]
) -> None:
    """Home Assistant's will and birth, as the driver reads them. Pass: Home Assistant stopped (SIGTERM, as
    ``systemctl stop``) → the driver unavailable within 5 s of the stop's end, the reason saying it is offline
    (Home Assistant does not DISCONNECT, so the broker publishes its will); started again → available once its
    bridge has answered, ``reported`` False (asked again at its birth and, while unanswered, at the controller's
    commands; not taken from the retained state)."""
    async with bridged(home_assistant, ha_broker) as plug:
        await asyncio.to_thread(home_assistant.stop)
        stopped = time.monotonic()
        await wait_until_async(lambda: not plug.available, 5.0, "Home Assistant's will")
        record_property("ha_switch_unavailable_after_ha_stop_s", round(time.monotonic() - stopped, 3))
        assert "offline" in (plug.unavailable_reason or ""), plug.unavailable_reason
        await asyncio.to_thread(home_assistant.start)
        deadline = time.monotonic() + 60.0
        while not plug.available:  # the controller's OFF every second meanwhile: it asks again while unanswered
            assert time.monotonic() < deadline, f"the bridge to answer again: {plug.unavailable_reason}"
            assert not await plug.command(False, hold_s=60)
            await asyncio.sleep(1.0)
        assert plug.reported is False

"""What only the Zigbee2MQTT, ESPHome and Home Assistant drivers do, through a real Mosquitto, against their doubles.

The scenarios every kind shares are in test_heater_plugs.py and
test_heater_plug_safety.py; here: Zigbee2MQTT's bridge state and legacy
payloads, its question and its ``on_time``; ESPHome's retained state read
without a question; a Home Assistant switch's retained state *not* taken for
the present, its entity going unavailable, its command payloads; and, for
all three, the dead-man's switch potwatch cannot see: a plug whose own timer
is missing looks exactly like one whose timer works, which is why
docs/heat-drivers.md asks for a test by hand.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import paho.mqtt.publish as paho_publish
import pytest

from drivers.homeassistant_plug import HomeAssistantPlug
from tests.support.plug_rig import SLACK_S, WAIT_S, driver
from tests.support.plugs import EsphomeDouble, HomeAssistantDouble, PlugDouble, Z2mDouble
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")

SET = "zigbee2mqtt/kitchen/plug/set"
GET = "zigbee2mqtt/kitchen/plug/get"
HA = "potwatch/ha-switch/hotplate"


def z2m(double: PlugDouble) -> Z2mDouble:
    assert isinstance(double, Z2mDouble)
    return double


async def test_a_z2m_plug_is_unavailable_while_zigbee2mqtt_itself_is_offline(mosquitto: Broker) -> None:
    """Pass: Zigbee2MQTT's bridge/state says offline (its will) while the device's availability still says
    online: the plug is unavailable within a round trip, the reason naming Zigbee2MQTT; an ON is refused and
    never heard; the bridge back online → available again."""
    async with driver(mosquitto, "z2m") as rig:
        z2m(rig.double).bridge(False)
        await wait_until_async(lambda: not rig.plug.available, WAIT_S, "the bridge's offline to be heard")
        assert "Zigbee2MQTT is offline" in (rig.plug.unavailable_reason or "")
        heard = len(rig.double.commands)
        assert not await rig.plug.command(True, hold_s=30)
        z2m(rig.double).bridge(True)
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the bridge back online")
        assert not [c for c in rig.double.commands[heard:] if c[1] == SET], "no ON while the bridge was offline"
        assert not rig.double.relay_on


async def test_a_z2m_plug_waits_for_the_bridge_state_at_link_up(mosquitto: Broker) -> None:
    """Pass: no retained bridge/state on the broker (a Zigbee2MQTT that never started): the device's
    availability alone does not make the plug available; the reason says what it waits for."""

    def no_bridge(double: PlugDouble) -> None:
        z2m(double).publish_bridge = False  # each test has a broker of its own: nothing retained there

    async with driver(mosquitto, "z2m", prepare=no_bridge, available=False) as rig:
        await wait_until_async(lambda: rig.plug.reported is not None, WAIT_S, "the device's answer")
        assert not rig.plug.available
        assert "waiting for Zigbee2MQTT" in (rig.plug.unavailable_reason or "")
        z2m(rig.double).bridge(True)
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the bridge's online")


async def test_z2m_legacy_plain_availability_payloads_are_read(mosquitto: Broker) -> None:
    """Pass: with ``legacy_availability_payload`` (plain online/offline on both topics) the plug is
    available, goes unavailable on its will and comes back."""

    def legacy(double: PlugDouble) -> None:
        z2m(double).legacy = True
        double.client = double._make_client()  # the will is set when the client is made

    async with driver(mosquitto, "z2m", prepare=legacy) as rig:
        rig.double.go_offline()
        await wait_until_async(lambda: not rig.plug.available, WAIT_S, "the plain 'offline' will")
        rig.double.come_back()
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the plain 'online'")
        assert rig.plug.dropped == 0


async def test_z2m_asks_with_get_and_sends_on_time_with_on_only(mosquitto: Broker) -> None:
    """Pass: the link-up question is ``{"state":""}`` on …/get; an ON with hold 1.99 s is
    ``{"state":"ON","on_time":1.9}`` (rounded down, no off_wait_time); an OFF is ``{"state":"OFF"}``."""
    async with driver(mosquitto, "z2m") as rig:
        await wait_until_async(lambda: any(c[1] == GET for c in rig.double.commands), WAIT_S, "the question")
        gets = [json.loads(p) for _, t, p in rig.double.commands if t == GET]
        assert gets and all(g == {"state": ""} for g in gets), gets
        assert await rig.plug.command(True, hold_s=1.99)
        assert await rig.plug.command(False, hold_s=1.99)
        await wait_until_async(lambda: len([c for c in rig.double.commands if c[1] == SET]) >= 2, WAIT_S, "both")
        sets = [json.loads(p) for _, t, p in rig.double.commands if t == SET]
        assert sets == [{"state": "ON", "on_time": 1.9}, {"state": "OFF"}]


async def test_a_z2m_plug_that_does_not_report_after_a_timed_on_is_not_taken_for_on(mosquitto: Broker) -> None:
    """Zigbee2MQTT publishes no state of its own for On With Timed Off: a device that does not report its
    OnOff attribute leaves ``reported`` at False after the ON, though its relay is on. Pass: the relay on,
    ``reported`` still False after a barrier (garbage the driver drops), so the controller raises the
    mismatch; then its own timer turns it off."""

    def silent(double: PlugDouble) -> None:
        z2m(double).reports_attribute = False

    async with driver(mosquitto, "z2m", prepare=silent) as rig:
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the answer to the question")
        assert await rig.plug.command(True, hold_s=1.0)
        await wait_until_async(lambda: rig.double.relay_on, WAIT_S, "the relay on")
        sent = rig.double.send_garbage()
        await wait_until_async(lambda: rig.plug.dropped >= sent, WAIT_S, "the barrier after the ON")
        assert rig.plug.reported is False, "never assumed from the command"
        await wait_until_async(lambda: not rig.double.relay_on, 1.0 + 2 * SLACK_S, "on_time to turn it off")


async def test_esphome_state_is_read_from_the_retained_topic_without_a_question(mosquitto: Broker) -> None:
    """Pass: ESPHome has no question over MQTT: the driver publishes nothing at link-up, and ``reported``
    is the node's retained state: ON, set before the driver connected."""

    def on_before(double: PlugDouble) -> None:
        double.relay_on = True

    async with driver(mosquitto, "esphome", prepare=on_before) as rig:
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the retained state")
        await wait_until_async(lambda: rig.reports(), WAIT_S, "its StateReport")  # the collector is a turn late
        assert rig.double.commands == [], "nothing asked, nothing commanded"
        assert rig.reports()[-1].on is True and rig.reports()[-1].retained


def home_assistant(double: PlugDouble) -> HomeAssistantDouble:
    assert isinstance(double, HomeAssistantDouble)
    return double


async def test_a_retained_state_from_a_gone_home_assistant_is_not_taken_for_the_present(mosquitto: Broker) -> None:
    """A Home Assistant that died long ago leaves its last retained ``on`` on ``…/state`` (its will, not
    retained, is gone). Pass: the driver hears that retained ``on`` and yet ``reported`` stays None and the
    switch unavailable, the reason naming Home Assistant; an ON is refused and never heard; the driver asks
    (``…/get``) and asks again while unanswered; once Home Assistant answers (the relay is really off),
    ``reported`` is False and the switch available."""

    def gone(double: PlugDouble) -> None:
        paho_publish.single(f"{HA}/state", b"on", qos=1, retain=True, hostname=mosquitto.host, port=mosquitto.port)
        double.ignore_commands = True  # hears everything, answers nothing: a Home Assistant that is not there

    async with driver(mosquitto, "homeassistant", prepare=gone, available=False) as rig:
        plug = rig.plug
        assert isinstance(plug, HomeAssistantPlug)
        await wait_until_async(lambda: plug.retained_states >= 1, WAIT_S, "the retained state to be heard")
        await wait_until_async(
            lambda: any(t == f"{HA}/get" for _, t, _ in rig.double.commands), WAIT_S, "the driver's question"
        )
        assert plug.reported is None and not plug.available
        assert "waiting for Home Assistant to answer" in (plug.unavailable_reason or "")
        assert not await plug.command(True, hold_s=30)
        asked = len([c for c in rig.double.commands if c[1] == f"{HA}/get"])
        rig.clock.advance(2.5)  # past ASK_AGAIN_S on the driver's clock: the next command asks again
        assert not await plug.command(False, hold_s=30), "unavailable: an OFF goes, but is not 'done'"
        await wait_until_async(
            lambda: len([c for c in rig.double.commands if c[1] == f"{HA}/get"]) > asked, WAIT_S, "a second question"
        )
        assert not [c for c in rig.double.commands if c[1] == f"{HA}/set" and b'"ON"' in c[2]], "no ON was sent"
        rig.double.ignore_commands = False  # Home Assistant is back and answers
        rig.clock.advance(2.5)
        await plug.command(False, hold_s=30)
        await wait_until_async(lambda: plug.available, WAIT_S, "Home Assistant's answer")
        assert plug.reported is False, "the relay's real state, not the retained 'on'"


async def test_a_retained_home_assistant_birth_does_not_make_the_switch_available(mosquitto: Broker) -> None:
    """A user who made Home Assistant's birth retained (its MQTT options) leaves ``online`` on
    ``homeassistant/status`` for good, dead or alive. Pass: with that retained ``online`` and a Home Assistant
    that answers nothing, the driver hears it (``device_online`` True) and still holds the switch unavailable,
    waiting for the switch's state; the answer comes → available."""

    def retained_birth(double: PlugDouble) -> None:
        paho_publish.single(
            "homeassistant/status", b"online", qos=1, retain=True, hostname=mosquitto.host, port=mosquitto.port
        )
        double.ignore_commands = True

    async with driver(mosquitto, "homeassistant", prepare=retained_birth, available=False) as rig:
        await wait_until_async(lambda: rig.plug.device_online is True, WAIT_S, "the retained birth")
        await wait_until_async(
            lambda: any(t == f"{HA}/get" for _, t, _ in rig.double.commands), WAIT_S, "the driver's question"
        )
        assert not rig.plug.available and rig.plug.reported is None
        assert "waiting for Home Assistant to say the switch's state" in (rig.plug.unavailable_reason or "")
        rig.double.ignore_commands = False
        rig.clock.advance(2.5)  # past ASK_AGAIN_S: the next command asks again
        await rig.plug.command(False, hold_s=30)
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "Home Assistant's answer")
        assert rig.plug.reported is False


async def test_a_home_assistant_entity_gone_unavailable_makes_the_switch_unavailable(mosquitto: Broker) -> None:
    """Pass: the entity says ``unavailable`` (its plug lost from Z-Wave, its cloud down): the driver is
    unavailable within a round trip, ``reported`` back to None, the reason quoting Home Assistant; an ON is
    refused; the entity back (``off``) → available, reported False."""
    async with driver(mosquitto, "homeassistant") as rig:
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the first answer")
        home_assistant(rig.double).entity("unavailable")
        await wait_until_async(lambda: not rig.plug.available, WAIT_S, "the entity's unavailable")
        assert rig.plug.reported is None
        assert "Home Assistant says the switch is unavailable" in (rig.plug.unavailable_reason or "")
        assert not await rig.plug.command(True, hold_s=30)
        home_assistant(rig.double).entity(None)
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the entity back")
        assert rig.plug.reported is False and not rig.double.relay_on


async def test_home_assistant_commands_carry_hold_s_with_on_only(mosquitto: Broker) -> None:
    """Pass: an ON with hold 1.99 s is ``{"state":"ON","hold_s":1.9}`` on …/set (rounded down); an OFF is
    ``{"state":"OFF"}``; the questions go to …/get, never to …/set."""
    async with driver(mosquitto, "homeassistant") as rig:
        assert await rig.plug.command(True, hold_s=1.99)
        assert await rig.plug.command(False, hold_s=1.99)

        def sets() -> list[object]:
            return [json.loads(p) for _, t, p in rig.double.commands if t == f"{HA}/set"]

        await wait_until_async(lambda: len(sets()) >= 2, WAIT_S, "both commands")
        assert sets() == [{"state": "ON", "hold_s": 1.9}, {"state": "OFF"}]


@pytest.mark.parametrize("kind", ["z2m", "esphome", "homeassistant"])
async def test_a_plug_without_its_own_timer_looks_the_same_to_the_driver(mosquitto: Broker, kind: str) -> None:
    """What potwatch cannot verify, shown: a Zigbee plug that ignores ``on_time``, an ESPHome node
    flashed without the dead-man YAML, or a Home Assistant whose command automation has no delay, is
    available, obeys, reports ON, and is still on well past the
    hold: nothing the driver hears differs. Pass: all of that (if the driver ever learnt to tell, this
    test is where to say so)."""

    def no_timer(double: PlugDouble) -> None:
        if isinstance(double, Z2mDouble):
            double.honours_on_time = False
        elif isinstance(double, EsphomeDouble):
            double.own_period_s = None
        elif isinstance(double, HomeAssistantDouble):
            double.own_timer = False

    hold = 0.5
    async with driver(mosquitto, kind, prepare=no_timer) as rig:
        assert await rig.plug.command(True, hold_s=hold)
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
        await asyncio.sleep(hold + 2 * SLACK_S)  # the period this test is about: the timer that is not there
        assert rig.double.relay_on and rig.plug.available and rig.plug.reported is True
        assert rig.plug.dropped == 0


# An ON on …/set and the delay the documented command automation then runs, as Home Assistant renders
# ``{{ trigger.payload_json.hold_s | float(60) }}`` (its float filter falls back on a ValueError or
# TypeError only; a missing key is Jinja's Undefined, whose float() raises, and the run stops there):
# None is no timer at all, the entity left on.
DELAYS = [
    ({"state": "ON", "hold_s": 45}, 45.0),
    ({"state": "ON"}, None),  # "Error rendering … delay template": no turn_off ever comes
    ({"state": "ON", "hold_s": None}, 60.0),
    ({"state": "ON", "hold_s": "soon"}, 60.0),
    ({"state": "ON", "hold_s": [30]}, 60.0),
    ({"state": "ON", "hold_s": "45"}, 45.0),
    ({"state": "ON", "hold_s": -5}, None),  # the delay's positive_timedelta refuses it: stopped too
]


async def test_the_home_assistant_double_times_an_on_as_the_documented_automation_does(mosquitto: Broker) -> None:
    """Pass: the docs' command automations (both spellings) still delay by ``DELAY_TEMPLATE``; and for each
    ON of ``DELAYS`` published on …/set, after an OFF, the double turns the entity on with the delay Home
    Assistant would render (within ``SLACK_S``), or with none where the real run stops at its delay."""
    from tests.support.home_assistant import documented_heater_bridge
    from tests.support.plugs import DELAY_TEMPLATE

    for release in ("2024.10.0", "2024.9.0"):
        command = next(a for a in documented_heater_bridge(release) if a["id"].endswith("_command"))
        steps = command.get("actions", command.get("action"))
        delays = [s["delay"]["seconds"] for branch in steps for s in branch["then"] if "delay" in s]
        assert delays == [DELAY_TEMPLATE], (release, delays)

    async with driver(mosquitto, "homeassistant") as rig:
        double = home_assistant(rig.double)

        def publish(payload: object) -> int:
            heard = len(double.commands)
            text = json.dumps(payload)
            paho_publish.single(f"{HA}/set", text, qos=1, hostname=mosquitto.host, port=mosquitto.port)
            return heard

        for payload, delay in DELAYS:
            heard = publish({"state": "OFF"})
            await wait_until_async(lambda: len(double.commands) > heard and not double.relay_on, WAIT_S, "off")  # noqa: B023
            heard = publish(payload)
            await wait_until_async(lambda: len(double.commands) > heard, WAIT_S, f"the double to hear {payload}")  # noqa: B023
            left = double.off_in()
            assert double.relay_on, payload
            if delay is None:
                assert left is None, (payload, left)
            else:
                assert left is not None and delay - SLACK_S <= left <= delay, (payload, left)

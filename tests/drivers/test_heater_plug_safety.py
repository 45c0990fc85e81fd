"""What a plug driver must not get wrong however the plug, the broker or a neighbour behaves.

Each test here was written for a flaw found in review, and seen failing
before its fix: a Tasmota in ``PowerOnState 5`` (PulseTime inverted), an OFF
refused for its ``hold_s``, a state reported before an outage taken for the
present, a retained command left on the plug's command topic by somebody
else's automation. (A command written into a socket that was already dead:
tests/drivers/test_mqtt_link_liveness.py, at the link.)
All through a real Mosquitto, against the doubles of tests/support/plugs.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

import paho.mqtt.publish as paho_publish
import pytest

from drivers.mqtt_plug import MqttPlug
from tests.support.link_proxy import link_proxy
from tests.support.plug_rig import KEEPALIVE_S, SLACK_S, WAIT_S, asks_on, driver
from tests.support.plugs import PlugDouble, ShellyDouble, TasmotaDouble
from tests.support.waiting import wait_until, wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")


def ons_heard(double: PlugDouble, since: int = 0) -> list[tuple[float, str, bytes]]:
    """Commands the double heard since ``since`` that ask for ON."""
    return [c for c in double.commands[since:] if asks_on(c[2])]


def tasmota(double: PlugDouble) -> TasmotaDouble:
    assert isinstance(double, TasmotaDouble)
    return double


def shelly(double: PlugDouble) -> ShellyDouble:
    assert isinstance(double, ShellyDouble)
    return double


# ---------------------------------------------------------------------------
# 1. Tasmota PowerOnState 5


def test_the_tasmota_double_in_power_on_state_5_turns_the_relay_on_after_the_pulse(mosquitto: Broker) -> None:
    """The double's own semantics, as Tasmota's ExecuteCommandPower: with PowerOnState 5 an OFF starts the
    pulse, and its end turns the relay ON; an ON runs with no timer. Pass: ON 0.5 s (+SLACK_S) after OFF."""
    with TasmotaDouble(mosquitto, "kitchen_plug") as plug:
        plug.publish("cmnd/kitchen_plug/PowerOnState", "5")
        plug.publish("cmnd/kitchen_plug/PulseTime", "5")  # 0.5 s
        plug.publish("cmnd/kitchen_plug/POWER", "OFF")
        wait_until(lambda: len(plug.commands) >= 3, WAIT_S, "the double to hear the three commands")
        assert plug.relay.power_on_state == 5 and not plug.relay_on
        off_at = plug.commands[-1][0]
        wait_until(lambda: plug.relay_on, 0.5 + 2 * SLACK_S, "PowerOnState 5: the pulse's end to turn the relay ON")
        on_at = plug.switches[-1][0]
        assert 0.5 - 0.05 <= on_at - off_at <= 0.5 + SLACK_S, on_at - off_at
        assert plug._deadline is None, "and the ON has no pulse of its own"


async def test_a_tasmota_in_power_on_state_5_is_unavailable_and_never_gets_an_on(mosquitto: Broker) -> None:
    """Pass: the driver reads PowerOnState 5 at link-up and stays unavailable, saying why; an ON is refused
    (False) and never sent; an OFF still goes, with PulseTime 0 before it, so no inverted pulse turns the
    heat on after it (checked for the 0.5 s pulse plus slack)."""

    def mode_5(double: PlugDouble) -> None:
        tasmota(double).relay.power_on_state = 5
        tasmota(double).relay.pulsetime = 5  # left by an earlier cook: 0.5 s

    async with driver(mosquitto, "tasmota", prepare=mode_5, available=False) as rig:
        await wait_until_async(
            lambda: any("PowerOnState 5" in r for r in rig.unavailable_reasons()), WAIT_S, "the reason"
        )
        assert not rig.plug.available
        assert rig.plug.unavailable_reason is not None and "inverts PulseTime" in rig.plug.unavailable_reason
        assert not await rig.plug.command(True, hold_s=30)
        heard = len(rig.double.commands)
        assert not await rig.plug.command(False, hold_s=30), "tried, but not done: the plug is unusable"
        await wait_until_async(lambda: len(rig.double.commands) >= heard + 2, WAIT_S, "PulseTime 0 and OFF")
        assert [(t, p) for _, t, p in rig.double.commands[heard:]] == [
            ("cmnd/kitchen_plug/PulseTime", b"0"),
            ("cmnd/kitchen_plug/POWER", b"OFF"),
        ]
        await asyncio.sleep(0.5 + 2 * SLACK_S)  # the period this test is about: the pulse an OFF would start
        assert not rig.double.relay_on
        assert not ons_heard(rig.double)


async def test_a_tasmota_that_does_not_say_its_power_on_state_is_unavailable_until_it_does(
    mosquitto: Broker,
) -> None:
    """Pass: a plug that answers nothing is unavailable, "waiting for the plug's PowerOnState"; once it
    answers, a command asks again (after ASK_AGAIN_S on the injected clock) and the plug is available."""

    def deaf(double: PlugDouble) -> None:
        double.ignore_commands = True

    async with driver(mosquitto, "tasmota", prepare=deaf, available=False) as rig:
        await wait_until_async(lambda: rig.unavailable_reasons(), WAIT_S, "the driver to say why it waits")
        assert "waiting for the plug's PowerOnState" in rig.unavailable_reasons()[-1]
        assert not await rig.plug.command(True, hold_s=30)
        rig.double.ignore_commands = False
        rig.clock.advance(3.0)
        assert not await rig.plug.command(True, hold_s=30), "still unknown: asked again, not sent"
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the answer to the question asked again")
        assert tasmota(rig.double).relay.power_on_state == 3 and not ons_heard(rig.double)


async def test_power_on_state_5_set_while_connected_makes_the_plug_unavailable(mosquitto: Broker) -> None:
    """Pass: somebody sets PowerOnState 5 on a plug in use: its answer, heard by the driver, makes it
    unavailable within one round trip."""
    async with driver(mosquitto, "tasmota") as rig:
        rig.double.publish("cmnd/kitchen_plug/PowerOnState", "5")
        await wait_until_async(lambda: not rig.plug.available, WAIT_S, "the driver to hear PowerOnState 5")
        assert "PowerOnState 5" in (rig.plug.unavailable_reason or "")


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [("initial_state", "restore_last", "initial_state"), ("initial_state", "on", "initial_state"),
     ("auto_on", True, "auto_on")],
)  # fmt: skip
async def test_a_shelly_that_could_turn_itself_on_is_unavailable(
    mosquitto: Broker, setting: str, value: object, words: str
) -> None:
    """Pass: Switch.GetConfig read at link-up; initial_state other than "off", or auto_on true: unavailable,
    the reason naming the setting; an ON refused and never sent."""

    def risky(double: PlugDouble) -> None:
        shelly(double).config[setting] = value

    async with driver(mosquitto, "shelly", prepare=risky, available=False) as rig:
        await wait_until_async(lambda: any(words in r for r in rig.unavailable_reasons()), WAIT_S, "the reason")
        assert not await rig.plug.command(True, hold_s=30)
        assert not ons_heard(rig.double) and not rig.plug.available


# ---------------------------------------------------------------------------
# 2. an OFF is never refused


@pytest.mark.parametrize("hold", [0.0, -1.0, math.nan, 1e9])
async def test_an_off_is_sent_whatever_its_hold(mosquitto: Broker, kind: str, hold: float) -> None:
    """Pass: the plug on; OFF with a hold_s an ON would be refused for → True, and the relay goes off."""
    async with driver(mosquitto, kind) as rig:
        assert await rig.plug.command(True, hold_s=30)
        await wait_until_async(lambda: rig.double.relay_on, WAIT_S, "the relay on")
        assert await rig.plug.command(False, hold_s=hold)
        await wait_until_async(lambda: not rig.double.relay_on, WAIT_S, "the OFF to reach the relay")
        with pytest.raises(ValueError, match="hold_s"):
            await rig.plug.command(True, hold_s=hold)


# ---------------------------------------------------------------------------
# 3. reported is not carried across an outage


async def test_a_change_missed_during_an_outage_is_asked_for_not_assumed(mosquitto: Broker, kind: str) -> None:
    """Pass: the plug reported on; potwatch's link dies (half-open), the relay goes off meanwhile (its
    button: the report is lost to us, not retained); after the reconnect ``reported`` is None until the
    driver's question is answered, then False."""
    with link_proxy(mosquitto.host, mosquitto.port) as proxy:
        async with driver(mosquitto, kind, via=(proxy.host, proxy.port)) as rig:
            assert await rig.plug.command(True, hold_s=30)
            await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
            proxy.cut()
            await wait_until_async(lambda: not rig.plug.available, 3 * KEEPALIVE_S, "the driver to see the cut")
            with rig.double._lock:
                rig.double.set_relay(False, "button")
            proxy.heal()
            await wait_until_async(lambda: rig.plug.reported is not True, 10.0, "the stale ON to be forgotten")
            await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the plug's answer")
            assert rig.plug.available


async def test_a_plug_back_online_is_asked_its_state_again(mosquitto: Broker, kind: str) -> None:
    """Pass: the plug on, then gone (its will) and back with its relay off (it rebooted); the driver's
    link never dropped, yet ``reported`` becomes False: asked again when the plug said it was online."""
    async with driver(mosquitto, kind) as rig:
        assert await rig.plug.command(True, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
        rig.double.go_offline()
        await wait_until_async(lambda: not rig.plug.available, WAIT_S, "the will")
        rig.double.relay_on = False  # rebooted: the relay starts off, and says nothing until asked
        rig.double.come_back()
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the driver to ask again")
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "available again")


# ---------------------------------------------------------------------------
# 4. retained commands left by somebody else


def stray_command(kind: str) -> tuple[str, bytes]:
    if kind == "tasmota":
        return "cmnd/kitchen_plug/POWER", b"ON"
    if kind == "z2m":
        return "zigbee2mqtt/kitchen/plug/set", b'{"state":"ON"}'
    if kind == "esphome":
        return "kitchen-plug/switch/relay/command", b"ON"
    if kind == "homeassistant":
        return "potwatch/ha-switch/hotplate/set", b'{"state":"ON","hold_s":30}'
    frame = b'{"id":1,"src":"ha","method":"Switch.Set","params":{"id":0,"on":true}}'
    return "shellyplusplugs-a8032ab12345/rpc", frame


async def test_a_retained_command_is_cleared_and_the_plug_unavailable_until_it_is_gone(
    mosquitto: Broker, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Pass: an automation published ON with retain on the plug's command topic; the driver, connecting,
    counts it, warns once naming the topic, clears it (nothing retained there after), says the plug was
    unavailable for it, and then is available; the plug, reconnecting, is not switched on by it again."""
    from tests.support.broker import retained_now  # here: the module is loaded (and rewritten) as a plugin first

    topic, payload = stray_command(kind)
    paho_publish.single(topic, payload, qos=1, retain=True, hostname=mosquitto.host, port=mosquitto.port)
    caplog.set_level(logging.WARNING, logger="drivers.mqtt_plug")
    async with driver(mosquitto, kind) as rig:
        assert isinstance(rig.plug, MqttPlug)
        assert rig.plug.retained_commands == 1
        assert any("retained command" in r and topic in r for r in rig.unavailable_reasons()), rig.events
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and topic in r.getMessage()]
        assert len(warnings) == 1
        assert retained_now(mosquitto, topic) == {}
        assert await rig.plug.command(False, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the plug off")
        switches = len(rig.double.switches)
        rig.double.go_offline()
        rig.double.come_back()
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the plug back")
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "its state after the reconnect")
        assert rig.double.switches[switches:] == [] and not rig.double.relay_on

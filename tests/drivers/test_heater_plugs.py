"""The plug drivers (Tasmota, Shelly Gen2, Zigbee2MQTT, ESPHome) against their test doubles, through a real Mosquitto.

Every scenario runs for every kind: the doubles (tests/support/plugs.py) are
real MQTT clients speaking each firmware's topics, with their own
dead-man's timer on their own clock. The test waits on conditions with a
timeout; the only sleeps are the periods a scenario is about (keeping a
plug on by re-commanding it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import pytest

from drivers.heater import AvailabilityChange
from tests.support.link_proxy import link_proxy
from tests.support.plug_rig import KEEPALIVE_S, SLACK_S, WAIT_S, asks_off, asks_on, driver
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker
    from tests.support.plugs import PlugDouble

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")


async def test_a_command_switches_the_plug_and_the_driver_reports_what_the_plug_said(
    mosquitto: Broker, kind: str
) -> None:
    """Pass: ON → the double's relay on, the driver's ``reported`` True from a StateReport stamped by the
    injected clock; OFF → relay off, reported False."""
    async with driver(mosquitto, kind) as rig:
        # asked at link-up: the plug's answer, not a guess
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the plug's answer to the state query")
        before = rig.clock()
        assert await rig.plug.command(True, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
        assert rig.double.relay_on
        # the rig's collector reads the events a turn later than ``reported`` changes
        await wait_until_async(lambda: any(r.on for r in rig.reports()), WAIT_S, "the StateReport")
        report = next(r for r in rig.reports() if r.on)
        assert before <= report.at <= rig.clock(), "stamped with the injected clock when it arrived"
        assert await rig.plug.command(False, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the plug to report off")
        assert not rig.double.relay_on


async def test_the_dead_mans_switch_turns_the_plug_off_after_its_period_unless_re_armed(
    mosquitto: Broker, kind: str
) -> None:
    """Pass: re-commanded ON every 0.4 s with a 1.5 s hold for 2.5 s, the relay never goes off; left
    alone, it goes off by itself 1.5 s (−0.05, +SLACK_S) after the last ON, and the driver hears it."""
    hold = 1.5
    async with driver(mosquitto, kind) as rig:
        rig.double.set_own_period(hold)  # ESPHome: the period is the node's YAML, not the command's
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            assert await rig.plug.command(True, hold_s=hold)
            last_on = time.monotonic()
            await asyncio.sleep(0.4)  # the controller's tick: the period this test is about
        assert rig.double.relay_on
        assert [on for _, on in rig.double.switches] == [True], "re-armed in time: it never went off"
        await wait_until_async(lambda: not rig.double.relay_on, hold + 2 * SLACK_S, "the dead-man's switch")
        off_at = rig.double.switched_off_at()
        assert off_at is not None
        held = off_at - last_on
        print(f"{kind}: off by itself {held:.3f} s after the last ON (hold {hold} s)")
        assert hold - 0.05 <= held <= hold + SLACK_S, f"off {held:.2f} s after the last ON (hold {hold} s)"
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the driver to hear it went off")


async def test_the_broker_killed_mid_on_the_plug_still_turns_off_within_its_period(
    mosquitto: Broker, kind: str
) -> None:
    """Pass: the broker SIGKILLed while the plug is on: the driver is unavailable within 1 s, and the
    plug, on its own clock, off within the 2 s hold of the last ON (+SLACK_S)."""
    hold = 2.0
    async with driver(mosquitto, kind) as rig:
        rig.double.set_own_period(hold)
        assert await rig.plug.command(True, hold_s=hold)
        on_sent = time.monotonic()
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
        mosquitto.kill()
        killed = time.monotonic()
        await wait_until_async(lambda: not rig.plug.available, 1.0, "the driver to be unavailable")
        print(f"{kind}: unavailable {time.monotonic() - killed:.3f} s after the broker's SIGKILL")
        assert not await rig.plug.command(True, hold_s=hold), "a command over a dead link is not done"
        await wait_until_async(lambda: not rig.double.relay_on, hold + 2 * SLACK_S, "the plug to turn itself off")
        off_at = rig.double.switched_off_at()
        assert off_at is not None
        print(f"{kind}: off by itself {off_at - on_sent:.3f} s after the ON, broker dead (hold {hold} s)")
        assert off_at - on_sent <= hold + SLACK_S, f"off {off_at - on_sent:.2f} s after the ON"


async def test_a_plug_that_ignores_a_command_keeps_its_old_reported_state(mosquitto: Broker, kind: str) -> None:
    """Pass: the double hears the ON but does nothing; a message it sends after (a barrier: payloads
    the driver drops, so they cannot change the state) arrives, and ``reported`` is still False: the
    driver never takes its own command for the plug's state. Then a real report from the plug: False."""
    async with driver(mosquitto, kind) as rig:
        assert await rig.plug.command(False, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "the plug to report off")
        rig.double.ignore_commands = True
        heard = len(rig.double.commands)
        assert await rig.plug.command(True, hold_s=30), "sent: whether it worked is the plug's to say"
        await wait_until_async(lambda: len(rig.double.commands) > heard, WAIT_S, "the plug to hear the ON")
        sent = rig.double.send_garbage()
        await wait_until_async(lambda: rig.plug.dropped >= sent, WAIT_S, "the barrier after the ignored ON")
        assert not rig.double.relay_on
        assert rig.plug.reported is False
        seen = len(rig.reports())
        with rig.double._lock:
            rig.double.report("telemetry")  # what it says after the command it ignored
        await wait_until_async(lambda: len(rig.reports()) > seen, WAIT_S, "the plug's next report")
        assert rig.plug.reported is False


async def test_a_plug_that_reports_the_wrong_state_is_believed_over_the_command(mosquitto: Broker, kind: str) -> None:
    """Pass: a lying plug (relay on, says off) → ``reported`` False after an ON: what the plug says, so
    the controller sees commanded ≠ reported and raises it.

    The plug lies from the start (its relay off, it says on), so the answers to the driver's link-up
    questions, however late they come, cannot be mistaken for its word after the ON."""

    def liar(double: PlugDouble) -> None:
        double.lie = True

    async with driver(mosquitto, kind, prepare=liar) as rig:
        assert await rig.plug.command(True, hold_s=30)
        await wait_until_async(lambda: rig.double.relay_on, WAIT_S, "the relay to go on")
        # the rig's collector reads the events a turn later than ``reported`` changes: wait on the events
        await wait_until_async(
            lambda: any(not r.on for r in rig.reports()), WAIT_S, "the plug's (lying) report after the ON"
        )
        said = [r.on for r in rig.reports()]
        after_on = said[said.index(False) :]
        assert after_on == [False] * len(after_on), said
        assert rig.plug.reported is False


async def test_the_plug_going_offline_makes_it_unavailable_at_once_and_commands_are_not_done(
    mosquitto: Broker, kind: str
) -> None:
    """Pass: the plug vanishes → its will arrives and ``available`` is False within 1 s, with an
    AvailabilityChange saying the device is offline; an ON then returns False and never reaches the
    plug; back online → available again."""
    async with driver(mosquitto, kind) as rig:
        rig.double.go_offline()
        await wait_until_async(lambda: not rig.plug.available, 1.0, "the driver to be unavailable")
        gone = rig.double.vanished_at
        assert gone is not None
        print(f"{kind}: unavailable {time.monotonic() - gone:.3f} s after the plug vanished")
        change = [e for e in rig.events if isinstance(e, AvailabilityChange) and not e.available]
        assert change and "offline" in change[-1].reason, rig.events
        assert not await rig.plug.command(True, hold_s=30)
        rig.double.come_back()
        await wait_until_async(lambda: rig.plug.available, WAIT_S, "the plug to be available again")
        assert not rig.double.relay_on
        assert not any(asks_on(p) for _, _, p in rig.double.commands), rig.double.commands


async def test_garbage_reports_are_counted_and_dropped_and_the_driver_carries_on(
    mosquitto: Broker, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Pass: every unreadable payload on the plug's state and will topics (JSON nested past the parser's
    stack too) counted in ``dropped``, with no warning or traceback; the state and availability untouched
    by them; a good report after them still read."""
    caplog.set_level(logging.WARNING)
    async with driver(mosquitto, kind) as rig:
        assert await rig.plug.command(True, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is True, WAIT_S, "the plug to report on")
        sent = rig.double.send_garbage()
        await wait_until_async(lambda: rig.plug.dropped >= sent, WAIT_S, f"{sent} payloads dropped")
        assert rig.plug.available and rig.plug.reported is True
        assert await rig.plug.command(False, hold_s=30)
        await wait_until_async(lambda: rig.plug.reported is False, WAIT_S, "a good report after the garbage")
        assert rig.plug.dropped == sent
        assert not [r for r in caplog.records if r.name.startswith("drivers.")], caplog.records


async def test_an_on_asked_for_while_potwatchs_link_is_down_never_reaches_the_plug_later(
    mosquitto: Broker, kind: str
) -> None:
    """Pass: potwatch's own link to the broker dies (a half-open Wi-Fi link; the plug stays connected):
    an ON then is refused (False); the link healed and the driver available again, the plug has heard
    no command since the cut and is off. (paho would send a QoS 1 publish queued meanwhile after the
    reconnect: a stale ON.)"""
    with link_proxy(mosquitto.host, mosquitto.port) as proxy:
        async with driver(mosquitto, kind, via=(proxy.host, proxy.port)) as rig:
            heard = len(rig.double.commands)
            proxy.cut()
            await wait_until_async(lambda: not rig.plug.available, 3 * KEEPALIVE_S, "the driver to see the cut")
            assert not await rig.plug.command(True, hold_s=30)
            proxy.heal()
            await wait_until_async(lambda: rig.plug.available, 10.0, "the driver back")
            # a barrier: anything the driver's client had kept for later is written on reconnecting
            assert await rig.plug.command(False, hold_s=30)

            def switching() -> list[bytes]:  # what was heard since the cut, less the driver's questions
                since = [(t, p) for _, t, p in rig.double.commands[heard:]]
                return [p for t, p in since if p and b'"method":"Switch.Get' not in p and not t.endswith("/get")]

            await wait_until_async(switching, WAIT_S, "the OFF after the reconnect")
            assert len(switching()) == 1 and asks_off(switching()[0]), switching()
            assert not rig.double.relay_on

"""The stop's OFF against an ON already on its way: the OFF is the last word on the pin.

A driver may await inside ``command`` (a relay reached through a thread, a
slow bus). Here a GPIO relay on gpiozero's mock pins is held inside its ON
until the stop has asked for the heat off: the pin's own history must end low.
"""

from __future__ import annotations

import asyncio

import pytest
from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

from drivers.gpio_relay import GpioRelay, parse_gpio_url
from service.config import HeaterConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.heat.events import Decision, Reason
from service.profiles import load_profiles
from service.runtime.heaters import CLOSE_OFF_S, Heater
from service.runtime.hub import Hub
from tests.support.clock import HandClock
from tests.support.waiting import wait_until_async

PIN = 17


class HeldRelay(GpioRelay):
    """A real mock-pin relay whose ON waits at ``gate`` before it reaches the pin."""

    def __init__(self, factory: MockFactory) -> None:
        super().__init__("hob", parse_gpio_url(f"gpio://{PIN}"), pin_factory=factory)
        self.gate = asyncio.Event()
        self.waiting = False

    async def command(self, on: bool, *, hold_s: float) -> bool:
        if on:
            self.waiting = True
            await self.gate.wait()
        return await super().command(on, hold_s=hold_s)


@pytest.mark.parametrize("held_s", [0.0, CLOSE_OFF_S + 0.2], ids=["released at once", "held past the bound"])
async def test_the_stops_off_is_never_overtaken_by_an_on_in_flight(held_s: float) -> None:
    """Pass: the pin's history ends on, then off, whether the ON is let go as soon as the stop waits for it,
    or held longer than the stop will wait (the OFF then goes first, and the ON's return turns it off again)."""
    factory = MockFactory()
    relay = HeldRelay(factory)
    hub = Hub(Kitchen([ProbeSetup("pot", 3.0)]), HandClock(), load_profiles())
    heater = Heater(HeaterConfig(id="hob", url=f"gpio://{PIN}", probe="pot"), relay, hub)
    async with relay:
        heater.decision = Decision(
            1000.0, True, Reason.HEATING_TO_TARGET, "heating to target (225 °F)", 0.0, 60.0, True, False
        )
        sending = asyncio.create_task(heater._apply())
        await wait_until_async(lambda: relay.waiting, 2.0, "the ON inside the driver")
        stopping = asyncio.create_task(heater.off())
        await wait_until_async(lambda: heater.stopping, 2.0, "the stop to begin")
        if held_s:
            await wait_until_async(stopping.done, held_s + 2.0, "the stop to give up waiting and send its OFF")
            assert factory.pin(PIN).state is False
        relay.gate.set()
        await asyncio.gather(sending, stopping)
        pin = factory.pin(PIN)
        assert [s.state for s in pin.states][-2:] == [True, False], pin.states  # on, then off: off last
        assert pin.state is False

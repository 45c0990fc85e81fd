"""Link down or plug offline: the controller is told by the driver's ``link_up``, never by its words.

A real heater task on a real hub, cooking the caramel at 150 °F (it wants
heat), drives a real Tasmota driver through a real Mosquitto to the Tasmota
double. The driver's ``unavailable_reason`` is reworded, as a later edit of
the messages could word it: a broker outage that no longer says "link to…",
and a plug's last will that does. What the heater decides must follow what
happened (``Reason.LINK_DOWN`` for the broker, ``Reason.DEVICE_OFFLINE`` for
the plug), whatever the sentence says.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from drivers.heater import parse_heater_url
from drivers.tasmota_plug import TasmotaPlug
from service.config import HeaterConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Sample, StartCook
from service.core.heat.events import Reason
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.heaters import Heater
from service.runtime.hub import Hub
from tests.support.clock import HandClock
from tests.support.plugs import TasmotaDouble
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:  # not imported here: the plugin below loads it, rewritten first
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")

WAIT_S = 5.0  # a round trip through a real broker, on a loaded machine
BROKER_GONE = "broker unreachable"  # a link down that does not begin "link to"
PLUG_GONE = "link to the plug lost (its last will)"  # a plug offline that does


class RewordedTasmota(TasmotaPlug):
    """The real Tasmota driver, its reasons worded otherwise: the facts under them are the driver's own."""

    @property
    def unavailable_reason(self) -> str | None:
        if not self.link_up:
            return BROKER_GONE
        if self.device_online is False:
            return PLUG_GONE
        return super().unavailable_reason


@dataclass
class Kitchen150:
    """The heater "hob" on the caramel's probe "pot", which reads 150 °F; its plug and the double."""

    hub: Hub
    heater: Heater
    plug: RewordedTasmota
    double: TasmotaDouble

    def reason(self) -> Reason | None:
        return self.heater.decision.reason if self.heater.decision is not None else None


@contextlib.asynccontextmanager
async def heating(broker: Broker) -> AsyncIterator[Kitchen150]:
    """The heater's task heating through the reworded driver; stopped (and the double gone) at the end."""
    url = broker.url("kitchen_plug", "kind=tasmota")
    clock = HandClock()
    hub = Hub(Kitchen([ProbeSetup("pot")]), clock, load_profiles())
    plug = RewordedTasmota("hob", parse_heater_url(url))
    heater = Heater(HeaterConfig.model_validate({"id": "hob", "url": url, "probe": "pot"}), plug, hub)
    # as Heaters.attach wires it: every input and output wakes the heater's task
    hub.on_input.append(lambda _: heater.wake.set())
    hub.on_output.append(lambda _: heater.wake.set())
    with TasmotaDouble(broker, "kitchen_plug") as double:
        async with plug:
            tasks = [asyncio.create_task(hub.run()), asyncio.create_task(heater.run())]
            try:
                hub.apply(StartCook(clock.t, hub.profiles["caramel"], "pot"))
                clock.t += 1.0
                hub.apply(Sample(clock.t, "pot", "", f_to_c(150.0), None))
                kitchen = Kitchen150(hub, heater, plug, double)
                await wait_until_async(
                    lambda: kitchen.reason() is Reason.HEATING_TO_TARGET and double.relay_on,
                    WAIT_S,
                    lambda: f"the heat on through the plug; decided {kitchen.reason()}, {plug.unavailable_reason}",
                )
                yield kitchen
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_broker_outage_worded_otherwise_is_still_the_link_down(mosquitto: Broker) -> None:
    """Pass: the broker SIGKILLed, the driver's reason says "broker unreachable" (not "link to…"), and the
    heater decides off for ``LINK_DOWN`` ("link to the plug down"), never "plug offline"."""
    async with heating(mosquitto) as kitchen:
        mosquitto.kill()
        await wait_until_async(
            lambda: kitchen.reason() is Reason.LINK_DOWN,
            WAIT_S,
            lambda: f"the link down; decided {kitchen.reason()} on {kitchen.plug.unavailable_reason!r}",
        )
        assert kitchen.plug.unavailable_reason == BROKER_GONE
        shown = kitchen.heater.view()
        assert shown["on"] is False and shown["reason"] == "link to the plug down", shown


async def test_a_plug_offline_worded_like_a_link_is_still_the_plug_offline(mosquitto: Broker) -> None:
    """Pass: the plug drops off the network (the broker sends its will), the driver's reason says "link to
    the plug lost…", and the heater decides off for ``DEVICE_OFFLINE`` ("plug offline"), not the link."""
    async with heating(mosquitto) as kitchen:
        kitchen.double.go_offline()
        await wait_until_async(
            lambda: kitchen.reason() is Reason.DEVICE_OFFLINE,
            WAIT_S,
            lambda: f"the plug offline; decided {kitchen.reason()} on {kitchen.plug.unavailable_reason!r}",
        )
        assert kitchen.plug.unavailable_reason == PLUG_GONE and kitchen.plug.link_up
        shown = kitchen.heater.view()
        assert shown["on"] is False and shown["reason"] == "plug offline", shown

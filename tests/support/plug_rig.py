"""A plug double with a driver for it, through a real Mosquitto: the rig of tests/drivers/test_heater_*.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from drivers.heater import AvailabilityChange, HeaterEvent, StateReport, open_heater
from drivers.mqtt_plug import MqttPlug
from tests.support.clock import OffsetClock
from tests.support.plugs import (
    EsphomeDouble,
    HomeAssistantDouble,
    PlugDouble,
    ShellyDouble,
    TasmotaDouble,
    Z2mDouble,
)
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker

WAIT_S = 5.0  # one round trip through a real broker, on a loaded machine
SLACK_S = 0.5  # the double's 10 ms timer tick, the broker, a loaded machine's late wakeups
KINDS = ("tasmota", "shelly", "z2m", "esphome", "homeassistant")
KEEPALIVE_S = 2  # the proxied driver's: a half-open link is noticed within ~1.5 × this


@dataclass
class Rig:
    """A plug double, its URL and a driver for it, with every event the driver gave."""

    double: PlugDouble
    plug: MqttPlug
    clock: OffsetClock
    events: list[HeaterEvent]

    def reports(self) -> list[StateReport]:
        return [e for e in self.events if isinstance(e, StateReport)]

    def unavailable_reasons(self) -> list[str]:
        return [e.reason for e in self.events if isinstance(e, AvailabilityChange) and not e.available]


def asks_on(payload: bytes) -> bool:
    """A command payload, of any kind, that asks for ON (Tasmota/ESPHome, Shelly, Zigbee2MQTT)."""
    return payload.strip().upper() == b"ON" or b'"on":true' in payload or b'"state":"ON"' in payload


def asks_off(payload: bytes) -> bool:
    """A command payload, of any kind, that asks for OFF."""
    return payload.strip().upper() == b"OFF" or b'"on":false' in payload or b'"state":"OFF"' in payload


def double_for(broker: Broker, kind: str) -> tuple[PlugDouble, str]:
    if kind == "tasmota":
        return TasmotaDouble(broker, "kitchen_plug"), broker.url("kitchen_plug", "kind=tasmota")
    if kind == "z2m":
        return Z2mDouble(broker, "kitchen/plug"), broker.url("kitchen/plug", "kind=z2m")
    if kind == "esphome":
        return EsphomeDouble(broker, "kitchen-plug", "relay"), broker.url("kitchen-plug/relay", "kind=esphome")
    if kind == "homeassistant":
        return HomeAssistantDouble(broker, "hotplate"), broker.url("hotplate", "kind=homeassistant")
    return ShellyDouble(broker, "shellyplusplugs-a8032ab12345"), broker.url(
        "shellyplusplugs-a8032ab12345", "kind=shelly"
    )


@contextlib.asynccontextmanager
async def driver(
    broker: Broker,
    kind: str,
    via: tuple[str, int] | None = None,
    *,
    prepare: Callable[[PlugDouble], None] | None = None,
    available: bool = True,
) -> AsyncIterator[Rig]:
    """A plug double and a driver for it; ``via``: the driver reaches the broker there (a proxy).

    ``prepare`` sets the double up before it connects; ``available=False``:
    do not wait for the driver to find the plug usable (a test of why not).
    """
    plug_double, url = double_for(broker, kind)
    if prepare is not None:
        prepare(plug_double)
    clock = OffsetClock()
    clock.advance(1000.0)  # so that a stamp from time.monotonic instead would show
    actuator = open_heater("stove", url, clock=clock)
    assert isinstance(actuator, MqttPlug)
    if via is not None:
        link = replace(actuator.url.link, host=via[0], port=via[1], keepalive=KEEPALIVE_S)
        actuator = type(actuator)("stove", actuator.url, clock=clock, link=link)
    events: list[HeaterEvent] = []

    async def collect() -> None:
        async for event in actuator.events():
            events.append(event)

    with plug_double:
        async with actuator:
            task = asyncio.get_running_loop().create_task(collect())
            try:
                rig = Rig(plug_double, actuator, clock, events)
                if available:
                    await wait_until_async(lambda: actuator.available, WAIT_S, "the plug to be available")
                yield rig
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

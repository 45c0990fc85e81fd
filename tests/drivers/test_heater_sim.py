"""The simulated pot's heater input, alone and driven by a plug double through a real Mosquitto.

Without a heater attached the simulator is unchanged: tests/drivers/test_simulated.py
runs as it did, and one test here compares whole traces.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

from drivers.base import Reading
from drivers.heater import open_heater
from drivers.simulated import HeaterInput, PotScenario, SimulatedProbe, simulate
from tests.support.plugs import TasmotaDouble
from tests.support.pot_heater import PotOnRelay
from tests.support.waiting import wait_until_async

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker"]

WATER = PotScenario(kind="water", noise_c=0.0, tau_s=0.5)


def test_a_heater_that_stays_off_leaves_the_pot_at_the_kitchens_temperature() -> None:
    samples = list(simulate(WATER, 600.0, heater=HeaterInput(on=False)))
    assert max(s.pot_c for s in samples) == pytest.approx(WATER.ambient_c, abs=1e-9)


def test_the_pot_heats_while_the_heater_is_on_and_cools_once_it_is_off() -> None:
    """Pass: on for 300 s: the pot climbs (1.8 kW into ~2.3 kJ/K: ~0.75 K/s, less its losses); off
    from then: the pot's temperature falls at every sample after."""
    heater = HeaterInput(power_w=1800.0, on=True)
    trace = []
    for sample in simulate(WATER, 900.0, heater=heater):
        heater.on = sample.t < 300.0
        trace.append(sample)
    at_300 = next(s.pot_c for s in trace if s.t >= 300.0)
    assert at_300 > WATER.ambient_c + 60.0
    after = [s.pot_c for s in trace if s.t > 310.0]
    assert all(b < a for a, b in itertools.pairwise(after)), "cooling once the heater is off"
    assert after[-1] < at_300 - 5.0


def test_an_attached_heater_replaces_the_scenarios_stove_and_cook() -> None:
    """The caramel's stove gives 800 W from the start; with a heater attached and off, nothing heats it.
    (Without a heater the simulator is unchanged: tests/drivers/test_simulated.py, untouched, checks it.)"""
    scenario = PotScenario(kind="caramel", seed=4)
    stove = list(simulate(scenario, 600.0))
    plug_off = list(simulate(scenario, 600.0, heater=HeaterInput(on=False)))
    assert stove[-1].pot_c > stove[0].pot_c + 20.0
    assert plug_off[-1].pot_c <= plug_off[0].pot_c


def readings_of(probe: SimulatedProbe, readings: list[float]) -> Callable[[], Awaitable[None]]:
    async def read() -> None:
        async for event in probe.events():
            if isinstance(event, Reading) and event.celsius is not None:
                readings.append(event.celsius)

    return read


def last(values: list[float]) -> float:
    return values[-1] if values else float("nan")


@pytest.mark.real_part("mosquitto")
async def test_the_pot_follows_the_plugs_relay_over_mqtt(mosquitto: Broker) -> None:
    """Pass: the whole loop, command → the driver → Mosquitto → Tasmota double's relay → the pot → the
    sim:// probe's readings: the readings climb 5 °C after an ON, and after the plug's 2 s dead-man's
    switch fires (no re-arming) they fall below the peak."""
    url = mosquitto.url("kitchen_plug", "kind=tasmota")
    heater = HeaterInput(power_w=1800.0)
    probe = SimulatedProbe("pot", WATER, speed=20.0, heater=heater)
    readings: list[float] = []

    with TasmotaDouble(mosquitto, "kitchen_plug") as plug, PotOnRelay(heater, plug) as pot:
        async with open_heater("stove", url) as stove:
            task = asyncio.get_running_loop().create_task(readings_of(probe, readings)())
            try:
                await wait_until_async(lambda: stove.available and len(readings) > 5, 5.0, "the plug and readings")
                start = last(readings)
                assert not heater.on and abs(start - WATER.ambient_c) < 0.5
                assert await stove.command(True, hold_s=2.0)
                on_at = time.monotonic()
                await wait_until_async(lambda: heater.on, 5.0, "the pot to get the relay's current")
                await wait_until_async(lambda: last(readings) > start + 5.0, 5.0, "the pot to heat up")
                await wait_until_async(lambda: not plug.relay_on, 4.0, "the plug's dead-man's switch")
                assert time.monotonic() - on_at <= 2.0 + 0.5
                assert not heater.on
                peak = max(readings)
                await wait_until_async(lambda: last(readings) < peak - 0.5, 10.0, "the pot to cool")
                assert pot.followed >= 2
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@pytest.mark.real_part("mosquitto")
async def test_a_plug_that_reports_off_with_its_relay_on_heats_the_pot(mosquitto: Broker) -> None:
    """Pass: a lying plug (relay on, reporting off, a welded relay): the driver hears "off", yet the pot
    climbs 10 °C, as a real one on that relay would; the controller must see commanded ≠ reported, not
    a cooling pot. (A pot following the reports stayed at the kitchen's temperature.)"""
    url = mosquitto.url("kitchen_plug", "kind=tasmota")
    heater = HeaterInput(power_w=1800.0)
    probe = SimulatedProbe("pot", WATER, speed=20.0, heater=heater)
    readings: list[float] = []

    with TasmotaDouble(mosquitto, "kitchen_plug") as plug, PotOnRelay(heater, plug):
        plug.lie = True
        async with open_heater("stove", url) as stove:
            task = asyncio.get_running_loop().create_task(readings_of(probe, readings)())
            try:
                await wait_until_async(lambda: stove.available and len(readings) > 5, 5.0, "the plug and readings")
                start = last(readings)
                assert await stove.command(True, hold_s=30.0)
                await wait_until_async(lambda: plug.relay_on, 5.0, "the relay to close")
                await wait_until_async(lambda: last(readings) > start + 10.0, 5.0, "the pot to heat up")
                assert stove.reported is False, "the plug says off all along"
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

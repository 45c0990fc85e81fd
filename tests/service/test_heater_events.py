"""The ``heater`` SSE event: a heater's view goes on the bus when it changes, and only then.

A real hub and a real heater task, with a plug that answers in memory: the
heater's turn runs on every reading, so a view published per turn would be an
event per reading per phone. What must come out: one event per change of the
decision, the plug's report, its availability or the override, each of the
shape ``SSE_EVENTS`` declares; nothing for turns that change nothing; the
duty's creep at most every ``DUTY_EVERY_S`` of real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import TypeAdapter

from drivers.heater import HeaterEvent, StateReport
from service.config import HeaterConfig
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import ProbeGone, Sample, StartCook
from service.core.heat.events import OverrideMode
from service.core.units import f_to_c
from service.profiles import load_profiles
from service.runtime.bus import Subscription
from service.runtime.heaters import DUTY_EVERY_S, Heater
from service.runtime.hub import Hub
from service.runtime.views import SSE_EVENTS
from tests.support.api import client_for
from tests.support.clock import HandClock
from tests.support.waiting import wait_until_async

WAIT_S = 5.0


class MemoryPlug:
    """A plug that does what it is told and says so at once, or stays quiet when ``deaf``."""

    heater_id = "hob"

    def __init__(self) -> None:
        self.reported: bool | None = None
        self.available = True
        self.link_up = True  # in memory: no link to lose
        self.dropped = 0
        self.deaf = False
        self._said: asyncio.Queue[HeaterEvent] = asyncio.Queue()

    async def command(self, on: bool, *, hold_s: float) -> bool:
        if not self.deaf:
            self.say(on)
        return True

    def say(self, on: bool) -> None:
        """The plug's own report of its relay, as the driver would hand it over."""
        self.reported = on
        self._said.put_nowait(StateReport("hob", on, 0.0, "stat/kitchen_plug/POWER"))

    async def events(self) -> AsyncIterator[HeaterEvent]:
        while True:
            yield await self._said.get()

    async def __aenter__(self) -> MemoryPlug:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Rig:
    """A hub cooking the caramel on "pot", its heater "hob" on a memory plug, and the heater events seen."""

    def __init__(self, **settings: Any) -> None:
        """``settings``: more of the heater's ``[[heaters]]`` keys, as the config file writes them."""
        self.clock = HandClock()
        self.hub = Hub(Kitchen([ProbeSetup("pot")]), self.clock, load_profiles())
        self.plug = MemoryPlug()
        url = "mqtt://127.0.0.1:1883/kitchen_plug?kind=tasmota"
        config = HeaterConfig.model_validate({"id": "hob", "url": url, "probe": "pot", **settings})
        self.heater = Heater(config, self.plug, self.hub)
        self.real = 0.0
        self.heater.real_time = lambda: self.real
        # as service/runtime/heaters.py's Heaters.attach does: every input and output wakes the heater
        self.hub.on_input.append(lambda _: self.heater.wake.set())
        self.hub.on_output.append(lambda _: self.heater.wake.set())
        self.sub: Subscription = self.hub.bus.subscribe(100_000)
        self.events: list[dict[str, Any]] = []

    def heard(self) -> list[dict[str, Any]]:
        """Every ``heater`` event published so far."""
        self.events += [dict(e.data) for e in self.sub.take_queued(self.sub.queued) if e.name == "heater"]
        return self.events

    async def reading(self, fahrenheit: float) -> None:
        """One reading, and the heater's turn on it (it has seen the tracker's level of this instant)."""
        self.clock.t += 1.0
        self.hub.apply(Sample(self.clock.t, "pot", "", f_to_c(fahrenheit), None))
        at = self.clock.t
        await wait_until_async(lambda: self.heater.seen.level_at == at, WAIT_S, f"the heater's turn at {at}")

    async def last(self, what: str, **fields: Any) -> dict[str, Any]:
        """Wait for a heater event with these fields (the newest)."""

        def found() -> dict[str, Any] | None:
            seen = self.heard()
            return seen[-1] if seen and all(seen[-1][k] == v for k, v in fields.items()) else None

        got: dict[str, Any] = await wait_until_async(found, WAIT_S, lambda: f"{what}; heard {self.heard()}")
        return got


@contextlib.asynccontextmanager
async def cooking(rig: Rig) -> AsyncIterator[Rig]:
    """The caramel started on "pot" and the heater's task running, until the block ends."""
    rig.hub.apply(StartCook(rig.clock.t, rig.hub.profiles["caramel"], "pot"))
    task = asyncio.create_task(rig.heater.run())
    try:
        yield rig
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with cooking(Rig()) as running:
        yield running


async def test_a_heater_event_comes_on_a_change_and_not_on_a_turn_that_changes_nothing(rig: Rig) -> None:
    """Pass: heating, the event says on, reported on, "heating to target (225 °F)", in HeaterView's shape;
    30 more readings (30 turns) bring no event; the plug then reporting off brings exactly one."""
    await rig.reading(150.0)
    shown = await rig.last("the heat on, as the plug says", on=True, reported="on")
    assert shown["reason"] == "heating to target (225 °F)", shown
    assert shown["id"] == "hob" and shown["probe"] == "pot" and shown["available"] is True, shown
    for event in rig.heard():
        assert set(event) == set(SSE_EVENTS["heater"].__annotations__), event
        TypeAdapter(SSE_EVENTS["heater"]).validate_python(event, strict=True)
    before = len(rig.heard())
    for _ in range(30):
        await rig.reading(150.0)
    assert len(rig.heard()) == before, rig.heard()[before:]

    rig.plug.deaf = True
    rig.plug.say(False)  # the relay dropped out by itself
    shown = await rig.last("the plug's report of off", reported="off")
    assert shown["on"] is True, shown
    await rig.reading(150.0)
    assert len(rig.heard()) == before + 1, rig.heard()[before:]


async def test_the_override_says_why_at_once_and_then_what_the_plug_did(rig: Rig) -> None:
    """Pass: forced off, an event says off, "override: off", ``force_off``; then one says the plug is off."""
    await rig.reading(150.0)
    await rig.last("the heat on", on=True, reported="on")
    rig.heater.override(OverrideMode.FORCE_OFF)
    await rig.last("the override", on=False, reason="override: off", override="force_off")
    await rig.last("the plug off", on=False, reported="off", reason="override: off")


async def test_the_duty_alone_is_sent_at_most_every_few_seconds(rig: Rig) -> None:
    """Pass: after 20 s on, forced off: the duty falls at every reading, but with real time standing still
    no event carries it; once ``DUTY_EVERY_S`` of real time has passed, the next turn sends the new duty."""
    await rig.reading(150.0)
    for _ in range(20):
        await rig.reading(150.0)
    rig.heater.override(OverrideMode.FORCE_OFF)
    await rig.last("forced off, as the plug says", override="force_off", reported="off")
    before = len(rig.heard())
    duty = rig.heard()[-1]["duty"]
    for _ in range(10):
        await rig.reading(150.0)
    assert len(rig.heard()) == before, rig.heard()[before:]
    assert rig.heater.view()["duty"] < duty - 0.1, (rig.heater.view(), duty)
    rig.real += DUTY_EVERY_S
    await rig.reading(150.0)
    shown = await rig.last("the duty moved on", override="force_off")
    assert len(rig.heard()) == before + 1 and shown["duty"] < duty - 0.1, rig.heard()[before:]


async def test_the_view_says_when_the_heat_is_off_because_something_is_wrong(rig: Rig) -> None:
    """Pass: heating is no fault; the probe gone, the heater's view says off, "probe lost", ``safety`` true
    (what the page marks in red: the service's word, not the page's reading of the reason's text)."""
    await rig.reading(150.0)
    shown = await rig.last("the heat on", on=True)
    assert shown["safety"] is False, shown
    rig.clock.t += 1.0
    rig.hub.apply(ProbeGone(rig.clock.t, "pot", "the cable was pulled"))
    lost = await rig.last("the heat off for the lost probe", on=False, reason="probe lost")
    assert lost["safety"] is True, lost


@pytest.mark.parametrize(("duty_window", "seconds"), [(None, 600.0), ("5min", 300.0), ("90s", 90.0)])
async def test_the_view_carries_the_window_its_duty_is_over(duty_window: str | None, seconds: float) -> None:
    """Pass: the heater's ``duty_window`` (unset: the controller's 10 min) is the ``duty_window_s`` of its
    ``heater`` event and of its ``heaters`` entry in ``GET /api/status``, so a page can say what the duty is of."""
    rig = Rig(**({} if duty_window is None else {"duty_window": duty_window}))
    rig.hub.heater_views = lambda: [rig.heater.view()]  # as Heaters.attach wires it
    async with cooking(rig):
        await rig.reading(150.0)
        shown = await rig.last("the heat on", on=True, reported="on")
        assert shown["duty_window_s"] == seconds, shown
        async with client_for(rig.hub) as client:
            status = (await client.get("/api/status")).json()
    assert [h["duty_window_s"] for h in status["heaters"]] == [seconds], status["heaters"]


async def test_a_heat_up_onto_the_boil_is_not_anticipated_as_the_caramels_target() -> None:
    """Pass: with a lead and cap wide enough for a hotplate (20 s, 30 °F), a syrup climbing at 1 °F/s
    through 205-215 °F keeps its heat: the tracker has seen no boil yet, so that rate (the heat-up's) is
    not carried on. Told nothing by the tracker, the heater called 225 °F at 205 °F and stayed off."""
    async with cooking(Rig(lead="20s", max_lead="30F")) as rig:
        for f in range(150, 216):
            await rig.reading(float(f))
        shown = await rig.last("still heating at 215 °F", reported="on")
        assert shown["on"] is True and shown["reason"] == "heating to target (225 °F)", rig.heard()[-3:]

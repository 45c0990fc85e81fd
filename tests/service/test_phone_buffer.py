"""How far a phone may fall behind, and how long the bus keeps events for it to resume: seconds, not events.

A restaurant line publishes some 550 events a second. Counted in events, a
phone 500 behind (under a second) was cut, and the ring of 2,000 (under 4 s)
no longer held its place when it came back: it lost events for good. Here the
bus's clock is a hand clock, the phone's stream is ``/api/events``' own
(service/api/sse.py, read straight from its generator), and a stall is simply
not reading while the hub publishes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio

from service.api.sse import event_stream
from service.runtime.bus import BEHIND_MIN, PHONE_BEHIND_S, PHONE_MAX_EVENTS, RING_MAX, RING_MIN, RING_S, Bus
from service.runtime.clock import Clock
from tests.support.clock import HandClock

RATE = 550  # events a second, the line of 500 probes in docs/benchmarks.md
IDS = re.compile(rb"^id: (\d+)\r?$", re.M)


def pour(bus: Bus, clock: HandClock, seconds: float, rate: int = RATE) -> None:
    """``seconds`` of a busy line: ``rate`` readings a second, the clock moving with them."""
    for _ in range(int(seconds * rate)):
        clock.t += 1.0 / rate
        bus.publish("reading", {"probe": "m0001", "celsius": 61.5})


class Phone:
    """One ``/api/events`` stream, read only when the test says so."""

    def __init__(self, bus: Bus, last_id: int | None) -> None:
        self.response = event_stream(bus, Clock(), last_id, anyio.Event())
        self.stream: AsyncIterator[Any] = self.response.body_iterator  # type: ignore[assignment]
        self.ids: list[int] = []
        self.resets = 0
        self.ended = False

    async def follow(self) -> None:
        """The stream's opening comment: the phone is following now."""
        await anext(self.stream)

    async def read_up_to(self, last: int) -> None:
        """Read until event ``last`` has come, or the stream ends (cut off: the page resumes)."""
        while not self.ended and (not self.ids or self.ids[-1] < last):
            try:
                item = await anext(self.stream)
            except StopAsyncIteration:
                self.ended = True
                break
            if isinstance(item, bytes):
                self.ids.extend(int(n) for n in IDS.findall(item))
            elif getattr(item, "event", None) == "reset":
                self.resets += 1

    async def close(self) -> None:
        await self.stream.aclose()  # type: ignore[attr-defined]


async def test_a_phone_seconds_behind_within_the_bound_gets_every_event_without_being_cut() -> None:
    clock = HandClock()
    bus = Bus(clock=clock.monotonic)
    phone = Phone(bus, None)
    await phone.follow()
    first = bus.last_id + 1
    stall = PHONE_BEHIND_S - 5.0
    pour(bus, clock, stall)  # the phone's Wi-Fi holds it up: 25 s, 13,750 events
    await phone.read_up_to(bus.last_id)
    assert not phone.ended, f"cut off after {len(phone.ids)} of {bus.last_id - first + 1} events"
    assert phone.ids == list(range(first, bus.last_id + 1))
    assert phone.resets == 0
    await phone.close()


async def test_a_phone_past_the_bound_is_cut_then_resumes_from_the_ring_without_loss() -> None:
    clock = HandClock()
    bus = Bus(clock=clock.monotonic)
    phone = Phone(bus, None)
    await phone.follow()
    pour(bus, clock, 2.0)
    await phone.read_up_to(bus.last_id)
    assert not phone.ended and phone.ids, "cut off within 2 s of a busy line"
    seen = phone.ids[-1]
    pour(bus, clock, PHONE_BEHIND_S + 5.0)  # stalled past the bound
    assert bus.subscribers == 0, "the stalled phone was not cut off"
    await phone.read_up_to(bus.last_id)
    assert phone.ended  # told to resume: its stream ends, and the page reconnects with its last id
    assert phone.ids[-1] == seen  # nothing more was written to it
    pour(bus, clock, 10.0)  # the page's retry, and a slow reconnect on bad Wi-Fi
    back = Phone(bus, phone.ids[-1])
    await back.read_up_to(bus.last_id)
    assert back.resets == 0, "the ring no longer held the phone's place"
    assert phone.ids + back.ids == list(range(phone.ids[0], bus.last_id + 1))
    await back.close()


async def test_what_the_bus_keeps_is_bounded_whatever_the_rate() -> None:
    clock = HandClock()
    bus = Bus(clock=clock.monotonic)
    stalled = bus.subscribe(PHONE_MAX_EVENTS, behind_s=float("inf"), phone=True)  # only the event cap applies
    pour(bus, clock, 90.0, rate=1000)  # faster than the line: the caps, not the seconds, bind
    assert bus.kept == RING_MAX
    assert stalled.overflowed and stalled.queued == 0  # cut at its cap, and what it held let go
    pour(bus, clock, 120.0)  # the line's rate: the ring holds its 60 s
    assert abs(bus.kept - RING_S * RATE) <= 1
    assert RING_S * RATE < RING_MAX


async def test_a_quiet_kitchen_keeps_minutes_of_events_as_before() -> None:
    clock = HandClock()
    bus = Bus(clock=clock.monotonic)
    phone = bus.subscribe(PHONE_MAX_EVENTS, behind_s=PHONE_BEHIND_S, phone=True)
    pour(bus, clock, 200.0, rate=2)  # a home kitchen: 2 events a second, the phone 200 s behind
    assert not phone.overflowed and phone.queued == 400 < BEHIND_MIN
    pour(bus, clock, 1800.0, rate=2)
    assert bus.kept == RING_MIN  # far more than 60 s of them: 1,000 s

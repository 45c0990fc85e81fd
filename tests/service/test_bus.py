"""The bus hands each listener every event, even when the listener's wait is cancelled around it.

A phone's stream waits for the next event with its heartbeat's timeout around
the wait; a timeout that fell a loop turn after an event arrived used to drop
that event (taken off the queue by a helper task whose result the cancel
discarded): the phone never heard it, and it could be the alarm.
"""

from __future__ import annotations

import asyncio
import contextlib

from service.runtime.bus import Bus, BusEvent


async def test_a_wait_cancelled_any_turn_after_an_event_arrived_never_loses_it() -> None:
    bus = Bus()
    sub = bus.subscribe()
    for turns in range(6):  # the cancel lands 0, 1, … loop turns after the publish
        waiting = asyncio.create_task(sub.get())
        await asyncio.sleep(0)  # the listener is waiting
        bus.publish("alert", {"n": turns})
        for _ in range(turns):
            await asyncio.sleep(0)
        waiting.cancel()
        got: BusEvent | None = None
        with contextlib.suppress(asyncio.CancelledError):
            got = await waiting
        if got is None:  # cancelled before it returned: the event is still there for the next wait
            got = await asyncio.wait_for(sub.get(), 1.0)
        assert got is not None and got.data == {"n": turns}
    assert sub.queued == 0


async def test_a_timeout_around_each_wait_loses_nothing_of_a_burst() -> None:
    """The stream's own shape: ``asyncio.wait_for(sub.get(), deadline)`` in a loop while events pour in."""
    bus = Bus()
    sub = bus.subscribe(maxsize=10_000)
    sent = 2000

    async def pour() -> None:
        for n in range(sent):
            bus.publish("reading", {"n": n})
            if n % 7 == 0:
                await asyncio.sleep(0)

    producer = asyncio.create_task(pour())
    seen: list[int] = []
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 20.0
    timeouts = 0
    while len(seen) < sent and loop.time() < give_up:
        try:
            event = await asyncio.wait_for(sub.get(), 0.0001 * (1 + len(seen) % 5))
        except TimeoutError:
            timeouts += 1
            continue
        assert event is not None
        seen.append(event.data["n"])
    await producer
    assert seen == list(range(sent)), f"{sent - len(seen)} events lost over {timeouts} timeouts"


async def test_closing_hands_over_what_was_queued_then_ends() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.publish("stage", {"n": 1})
    waiting = asyncio.create_task(sub.get())
    sub.close()
    first = await asyncio.wait_for(waiting, 1.0)
    assert first is not None and first.data == {"n": 1}
    assert await asyncio.wait_for(sub.get(), 1.0) is None


async def test_a_listener_draining_a_burst_lets_other_tasks_run() -> None:
    """Events already queued are handed over without a loop turn, but never more than 32 in a row.

    Pass: while one listener drains a burst of 2,000 queued events, another task
    gets a turn at least once per 32 events (the hub and the other phones are
    such tasks; a listener that never yields would freeze them for the whole burst).
    """
    bus = Bus()
    sub = bus.subscribe(maxsize=10_000)
    burst = 2000
    for n in range(burst):
        bus.publish("reading", {"n": n})
    turns = 0
    stop = asyncio.Event()

    async def other_task() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)  # the other task is running
    turns = 0
    seen: list[int] = []
    for _ in range(burst):
        event = await sub.get()
        assert event is not None
        seen.append(event.data["n"])
    stop.set()
    await other
    assert seen == list(range(burst))
    assert turns >= burst // 32, f"the other task ran {turns} times while {burst} events were handed over"

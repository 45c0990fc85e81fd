"""What the hub emits, numbered, kept for a while, and handed to each listener.

Every event gets the next integer id; the last ``keep`` are kept so a phone
that reconnects with ``Last-Event-ID`` gets what it missed. Each listener has
its own bounded queue: a slow phone or a dead broker never holds up the pot.
A listener that falls ``maxsize`` behind is cut off (``overflowed``) and must
resubscribe from the last id it saw, which the ring buffer makes lossless for
a short stall.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Hand over at most this many queued events in a row before yielding to the loop.
YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class BusEvent:
    id: int
    name: str
    data: Mapping[str, Any]  # one of service.runtime.views.SSE_EVENTS, by name


class Subscription:
    def __init__(self, bus: Bus, maxsize: int, phone: bool = False) -> None:
        self._bus = bus
        self.phone = phone  # a page following /api/events, not a part of the service
        self.queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.closed = asyncio.Event()
        self._ready = asyncio.Event()  # set when an event is queued or the subscription ends
        self._handed = 0  # events handed over in a row without a trip round the loop

    def offer(self, event: BusEvent) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # cut off rather than block the hub; it resubscribes from its last id
            self.overflowed = True
            self.closed.set()
            self._bus.unsubscribe(self)
        self._ready.set()

    async def get(self) -> BusEvent | None:
        """The next event, or None once cut off or closed (after what was queued before the close).

        An event already queued is handed over at once, with no trip round the
        loop (which would put every other ready callback between a phone and
        the alert right behind the reading); but every ``YIELD_EVERY``-th such
        hand-over in a row yields to the loop first, so that a burst drained by
        one listener cannot starve the other tasks (the hub, the other phones).

        Safe to cancel, as a phone stream's heartbeat timeout does: an event
        leaves the queue only when it is returned. A helper task that took it
        off the queue lost it when the caller was cancelled a turn later, and
        that event could be the alarm.
        """
        while True:
            if self.overflowed:
                return None
            if not self.queue.empty():
                self._handed += 1
                if self._handed >= YIELD_EVERY:
                    self._handed = 0
                    await asyncio.sleep(0)  # the event stays queued: cancel-safe
                    continue
                return self.queue.get_nowait()
            self._handed = 0
            if self.closed.is_set():
                return None
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        self.closed.set()
        self._ready.set()
        self._bus.unsubscribe(self)


class Bus:
    def __init__(self, keep: int = 2000) -> None:
        self._ring: deque[BusEvent] = deque(maxlen=keep)
        self._next_id = 1
        self._subs: set[Subscription] = set()

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @property
    def phones(self) -> int:
        """Pages following ``/api/events`` now: the alarm's self-test says whether the page can ring."""
        return sum(1 for sub in self._subs if sub.phone)

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, name: str, data: Mapping[str, Any]) -> BusEvent:
        event = BusEvent(self._next_id, name, data)
        self._next_id += 1
        self._ring.append(event)
        for sub in list(self._subs):
            sub.offer(event)
        return event

    def subscribe(self, maxsize: int = 500, *, phone: bool = False) -> Subscription:
        sub = Subscription(self, maxsize, phone)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def since(self, last_id: int) -> tuple[Iterable[BusEvent], bool]:
        """Events after ``last_id`` still kept, and whether some in between were lost."""
        ring = self._ring
        if not ring:
            return [], last_id < self.last_id
        lost = last_id < ring[0].id - 1
        return [e for e in ring if e.id > last_id], lost

    def close_all(self) -> None:
        for sub in list(self._subs):
            sub.close()

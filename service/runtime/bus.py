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

    async def get(self) -> BusEvent | None:
        """The next event, or None once cut off or closed."""
        if self.overflowed:
            return None
        if not self.queue.empty():
            # already here: no tasks, no trip round the loop (which would put every other
            # ready callback between a phone and the alert right behind the reading)
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        closer = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closer.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done and not getter.cancelled():
            return getter.result()
        return None

    def close(self) -> None:
        self.closed.set()
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

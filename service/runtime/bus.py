"""What the hub emits, numbered, kept for a while, and handed to each listener.

Every event gets the next integer id and the time it was published (the
injected ``clock``, real seconds: what a phone on slow Wi-Fi lives by). The
ring keeps the last ``keep_s`` seconds of events (at least the last
``keep_min``, at most ``keep_max``), so a phone that reconnects with
``Last-Event-ID`` gets what it missed. Each listener has its own bounded
queue: a slow phone or a dead broker never holds up the pot. A listener is cut
off (``overflowed``) when it holds ``maxsize`` events, or when it holds more
than ``BEHIND_MIN`` and the oldest is more than ``behind_s`` seconds old; it
then resubscribes from the last id it saw, which the ring makes lossless as
long as it comes back within ``keep_s - behind_s`` seconds.

Why seconds: counted in events, a phone at a restaurant line's 550 events a
second was cut after under a second of stall and resumed from a ring holding
under 4 s, less than the page's 2 s retry and its catch-up (docs/benchmarks.md,
"Where it bends"); at a home kitchen's few events a second the same counts were
minutes. The event caps bound the memory whatever the rate (docs/api.md).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

# Hand over at most this many queued events in a row before yielding to the loop.
YIELD_EVERY = 16

# A phone may fall this far behind before it is cut off and told to resume (the same 30 s
# a socket may hold back-pressure before service/api/connections.py cuts it) ...
PHONE_BEHIND_S: Final = 30.0
BEHIND_MIN: Final = 500  # ... unless it holds fewer events than this (a quiet kitchen: minutes of them)
PHONE_MAX_EVENTS: Final = 20_000  # and never more than this many, whatever the rate (36 s at 550 a second)
# The ring keeps this long for resuming: a phone cut at 30 s behind has 30 s more to come back.
RING_S: Final = 60.0
RING_MIN: Final = 2_000  # at least this many events, however old (a quiet kitchen: many minutes)
# and at most this many, whatever the rate (73 s at 550 a second): ~21 MiB of readings (docs/api.md)
RING_MAX: Final = 40_000


@dataclass(frozen=True, slots=True)
class BusEvent:
    id: int
    name: str
    data: Mapping[str, Any]  # one of service.runtime.views.SSE_EVENTS, by name
    at: float = 0.0  # when it was published, by the bus's clock (seconds)


class Subscription:
    def __init__(self, bus: Bus, maxsize: int, behind_s: float = math.inf, phone: bool = False) -> None:
        self._bus = bus
        self.phone = phone  # a page following /api/events, not a part of the service
        self.maxsize = maxsize
        self.behind_s = behind_s
        self._queue: deque[BusEvent] = deque()
        self.overflowed = False
        self.closed = asyncio.Event()
        self._ready = asyncio.Event()  # set when an event is queued or the subscription ends
        self._handed = 0  # events handed over in a row without a trip round the loop

    @property
    def queued(self) -> int:
        """Events waiting for this listener."""
        return len(self._queue)

    def offer(self, event: BusEvent) -> None:
        if self.overflowed:
            return
        queue = self._queue
        full = len(queue) >= self.maxsize
        late = len(queue) >= BEHIND_MIN and event.at - queue[0].at > self.behind_s
        if full or late:
            # cut off rather than block the hub or hold unbounded memory; it resubscribes from its last id
            self.overflowed = True
            queue.clear()  # never handed over now (``get`` says None): free them at once
            self.closed.set()
            self._bus.unsubscribe(self)
        else:
            queue.append(event)
        self._ready.set()

    def take_queued(self, limit: int) -> list[BusEvent]:
        """Up to ``limit`` events already waiting, oldest first, taken without waiting (one write of them)."""
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]

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
            if self._queue:
                self._handed += 1
                if self._handed >= YIELD_EVERY:
                    self._handed = 0
                    await asyncio.sleep(0)  # the event stays queued: cancel-safe
                    continue
                return self._queue.popleft()
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
    def __init__(
        self,
        keep_s: float = RING_S,
        keep_min: int = RING_MIN,
        keep_max: int = RING_MAX,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_s, self.keep_min, self.keep_max = keep_s, keep_min, keep_max
        self._clock = clock
        self._ring: deque[BusEvent] = deque()
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
        now = self._clock()
        event = BusEvent(self._next_id, name, data, now)
        self._next_id += 1
        ring = self._ring
        ring.append(event)
        oldest = now - self.keep_s
        while len(ring) > self.keep_max or (len(ring) > self.keep_min and ring[0].at < oldest):
            ring.popleft()
        for sub in list(self._subs):
            sub.offer(event)
        return event

    @property
    def kept(self) -> int:
        """Events in the ring now."""
        return len(self._ring)

    def subscribe(self, maxsize: int = 500, *, behind_s: float = math.inf, phone: bool = False) -> Subscription:
        """A listener cut off at ``maxsize`` queued events, or ``behind_s`` seconds behind (see the module)."""
        sub = Subscription(self, maxsize, behind_s, phone)
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

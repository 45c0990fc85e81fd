"""One broker connection shared by every MQTT probe that points at the same broker.

A connection per probe URL was the limit of a large kitchen (docs/benchmarks.md,
"Where it bends"): 500 MQTT probes were 500 connections, each with its own
keepalive, liveness watch and connect, and at start-up 500 connects at once
that a loaded broker and core could not answer in time. Probes on the same
broker with the same ``LinkSettings`` (host, port, TLS, credentials, client
options) now share one ``MqttLink``:

* each probe has a ``Tap``: its subscriptions and its own queue, bounded like
  a link's (``max_queued`` messages, ``max_queued_bytes`` of payload), with
  its own ``dropped`` count, so a chatty probe fills only its own queue;
* a message goes to every tap with a filter that matches its topic (exact
  topics by lookup, wildcards by match), so ``rtl_433/#`` and
  ``rtl_433/+/temp`` both hear a message that matches both;
* ``LinkUp``/``LinkDown`` go to every tap (each ``LinkUp`` naming only the
  tap's own refused subscriptions); a tap that joins a connected link gets its
  ``LinkUp`` at the broker's SUBACK of its own subscriptions, and one that joins
  a failing link hears the current reason at once;
* retained messages: the broker resends them for a filter each time anyone
  subscribes to it, and marks them retained only then; they go to the tap whose
  SUBSCRIBE caused them (every tap after a reconnect), never again as an old
  value to a probe that already has fresher readings;
* a tap that leaves unsubscribes the filters no other tap uses, and the last
  one out closes the connection (cleanly).

Links are kept per event loop (tests run several loops in one process).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from drivers.mqtt_link import (
    EventQueue,
    LinkDown,
    LinkEvent,
    LinkSettings,
    LinkUp,
    Message,
    MqttLink,
    has_wildcard,
    topic_matches,
)

Clock = Callable[[], float]


@dataclass(eq=False, slots=True)
class Tap:
    """One probe's share of a connection: what it subscribes to and what is waiting for it."""

    filters: tuple[str, ...]
    queue: EventQueue  # bounded like a link's own, so a flooded tap drops only its own messages
    retained_ok: bool = False  # retained messages now are the answer to this tap's own SUBSCRIBE

    @property
    def dropped(self) -> int:
        """Messages refused because this tap's queue was full."""
        return self.queue.dropped

    def offer(self, event: LinkEvent) -> None:
        self.queue.put(event)

    async def get(self) -> LinkEvent:
        return await self.queue.get()


class SharedLink:
    """One ``MqttLink`` and the taps on it; messages routed by topic. Used from the event loop only."""

    def __init__(self, settings: LinkSettings, clock: Clock) -> None:
        self.settings = settings
        self.link = MqttLink(settings, clock=clock, name=f"mqtt-probes-{settings.server}", quiet=True, sink=self._route)
        self._clock = clock
        self.taps: list[Tap] = []
        self._refs: Counter[str] = Counter()  # filter -> taps using it
        self._exact: dict[str, list[Tap]] = {}  # a filter without wildcards: its taps, found by lookup
        self._wild: list[tuple[str, Tap]] = []
        self._last: LinkUp | LinkDown | None = None  # the link's state as last reported

    def attach(self, filters: list[str]) -> Tap:
        """A new tap on ``filters``; starts the link with its first tap."""
        s = self.settings
        tap = Tap(tuple(filters), EventQueue(s.max_queued, s.max_queued_bytes, f"MQTT probe on {filters[0]}"))
        self.taps.append(tap)
        for f in tap.filters:
            self._refs[f] += 1
            if has_wildcard(f):
                self._wild.append((f, tap))
            else:
                self._exact.setdefault(f, []).append(tap)
        if len(self.taps) == 1:
            for f in tap.filters:
                self.link.subscribe(f)
            self.link.start()
            return tap
        acked = self.link.subscribe_acked(list(tap.filters), lambda refused: self._acked(tap, refused))
        if not acked and isinstance(self._last, LinkDown):
            tap.offer(self._last)  # not connected now, and why; the next LinkUp covers this tap
        return tap

    def detach(self, tap: Tap) -> bool:
        """Take ``tap`` off; unsubscribe what nobody else uses. True when it was the last tap."""
        if tap not in self.taps:
            return not self.taps
        self.taps.remove(tap)
        self._wild = [(f, t) for f, t in self._wild if t is not tap]
        for f in tap.filters:
            users = self._exact.get(f)
            if users is not None and tap in users:
                users.remove(tap)
                if not users:
                    del self._exact[f]
            self._refs[f] -= 1
            if self._refs[f] <= 0:
                del self._refs[f]
                if self.taps:
                    self.link.unsubscribe(f)
        return not self.taps

    # -- routing (the link's sink, on the loop)

    def _acked(self, tap: Tap, refused: tuple[str, ...]) -> None:
        if tap not in self.taps:
            return
        for other in self.taps:
            other.retained_ok = other is tap  # what is retained from now on answers this SUBSCRIBE
        tap.offer(LinkUp(self._clock(), self.settings.server, refused=refused))

    def _route(self, event: LinkEvent) -> None:
        if isinstance(event, Message):
            self._message(event)
            return
        self._last = event
        for tap in self.taps:
            if isinstance(event, LinkUp):
                tap.retained_ok = True  # on_connect subscribed to everything: each filter's retained follow
                mine = tuple(f for f in event.refused if f in tap.filters)
                tap.offer(LinkUp(event.at, event.server, event.session_present, mine))
            else:
                tap.offer(event)

    def _message(self, msg: Message) -> None:
        exact = self._exact.get(msg.topic, ())
        wild = [t for f, t in self._wild if topic_matches(f, msg.topic)]
        seen: set[int] = set()
        for tap in [*exact, *wild]:
            if id(tap) in seen or (msg.retain and not tap.retained_ok):
                continue
            seen.add(id(tap))
            tap.offer(msg)


class LinkPool:
    """The shared links of one process, by event loop and settings."""

    def __init__(self) -> None:
        self._links: dict[tuple[int, LinkSettings], tuple[asyncio.AbstractEventLoop, SharedLink]] = {}

    def attach(self, settings: LinkSettings, filters: list[str], clock: Clock) -> tuple[SharedLink, Tap]:
        loop = asyncio.get_running_loop()
        key = (id(loop), settings)
        held = self._links.get(key)
        if held is None or held[0] is not loop:  # (an id reused by a new loop: that link is gone with its loop)
            held = self._links[key] = (loop, SharedLink(settings, clock))
        shared = held[1]
        return shared, shared.attach(filters)

    async def detach(self, shared: SharedLink, tap: Tap) -> None:
        if not shared.detach(tap):
            return
        key = (id(asyncio.get_running_loop()), shared.settings)
        held = self._links.get(key)
        if held is not None and held[1] is shared:
            del self._links[key]  # a probe that starts now gets a new connection
        await shared.link.stop()

    def connections(self) -> int:
        """Links open now (tests, diagnostics)."""
        return len(self._links)


POOL = LinkPool()

"""``GET /api/events``: the bus as server-sent events, with replay on reconnect.

The subscription is taken before the backlog is read, so nothing published
in between is lost; duplicates are skipped by id. Each event is encoded once
for every phone (``encoded``), and a phone that is behind gets what is queued
for it in one write: 20 phones each encoding and writing every event one by
one were most of the service's CPU on a line of 200 probes
(docs/benchmarks.md, "A restaurant line"). A heartbeat event every
5 s, busy or quiet, lets the page tell a live stream from a stale one; sse-starlette adds the keep-alive
comment and ends every stream on shutdown (a connected phone must not keep
the service from stopping).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from service.runtime.bus import PHONE_BEHIND_S, PHONE_MAX_EVENTS, Bus, BusEvent
from service.runtime.clock import Clock

HEARTBEAT_S = 5.0
KEEPALIVE_S = 15.0
RETRY_MS = 2000
BATCH = 100  # events at most in one write to a phone that is behind
# encoded events kept for the phones still to send them: a phone may be up to 20,000 behind
# (service/runtime/bus.py); one further back is encoded again, slower but the same bytes
ENCODED_KEEP = 20_000

log = logging.getLogger(__name__)


class _Encoded:
    """One bus's events as SSE bytes, each encoded once whichever phone asks first."""

    def __init__(self) -> None:
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def __call__(self, ev: BusEvent) -> bytes:
        got = self._cache.get(ev.id)
        if got is None:
            got = _event(ev).encode()
            self._cache[ev.id] = got
            if len(self._cache) > ENCODED_KEEP:
                self._cache.popitem(last=False)
        return got


_encoders: weakref.WeakKeyDictionary[Bus, _Encoded] = weakref.WeakKeyDictionary()


def encoded(bus: Bus, ev: BusEvent) -> bytes:
    """``ev`` of ``bus`` as it goes on the wire (ids are unique per bus, not per process)."""
    encoder = _encoders.get(bus)
    if encoder is None:
        encoder = _encoders[bus] = _Encoded()
    return encoder(ev)


def _event(ev: BusEvent) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(ev.data, ensure_ascii=False), event=ev.name, id=str(ev.id))


def event_stream(bus: Bus, clock: Clock, last_id: int | None, shutdown: anyio.Event) -> EventSourceResponse:
    # a phone falls behind in seconds, not events (service/runtime/bus.py): cut past it, it resumes from the ring
    sub = bus.subscribe(PHONE_MAX_EVENTS, behind_s=PHONE_BEHIND_S, phone=True)
    backlog: Iterable[BusEvent]
    if last_id is not None and last_id > bus.last_id:
        # an id from before a restart (ids start again at 1): say so, then go on live
        last_id = None
        backlog, lost = [], True
    else:
        backlog, lost = bus.since(last_id) if last_id is not None else ([], False)
    seen = last_id if last_id is not None else bus.last_id

    async def stream() -> AsyncIterator[ServerSentEvent | bytes]:
        nonlocal seen
        sent = 0
        try:
            yield ServerSentEvent(comment="potwatch", retry=RETRY_MS)
            if lost:
                yield ServerSentEvent(data="{}", event="reset")
            replay = list(backlog)
            for at in range(0, len(replay), BATCH):
                part = replay[at : at + BATCH]
                seen = part[-1].id
                yield b"".join(encoded(bus, old) for old in part)
                # Let the loop run between writes: uvicorn learns of a client gone only in a
                # callback, and until it runs every write of the backlog (tens of thousands of
                # events at a busy line) makes asyncio log "socket.send() raised exception". It
                # also keeps a long replay from holding up the hub and the other phones.
                await asyncio.sleep(0)
                sent += len(part)
            loop = asyncio.get_running_loop()
            next_beat = loop.time() + HEARTBEAT_S
            while True:
                ev: BusEvent | None
                try:
                    # asyncio.timeout, not wait_for: no task per event, so an event already
                    # queued (the alert right after its reading) is written at once
                    async with asyncio.timeout(max(next_beat - loop.time(), 0.0)):
                        ev = await sub.get()
                except TimeoutError:
                    # every 5 s, busy or not: the page's proof that this stream is alive
                    next_beat = loop.time() + HEARTBEAT_S
                    yield ServerSentEvent(data=json.dumps({"now": clock.iso(clock.monotonic())}), event="heartbeat")
                    continue
                if ev is None:
                    return  # fell too far behind: the client reconnects with its last id
                chunk = b""
                for each in [ev, *sub.take_queued(BATCH - 1)]:
                    if each.id > seen:
                        seen = each.id
                        chunk += encoded(bus, each)
                        sent += 1
                if chunk:
                    yield chunk
        finally:
            sub.close()
            log.debug("event stream ended after %d events", sent)

    return EventSourceResponse(
        stream(),
        ping=KEEPALIVE_S,
        # no send_timeout: it raised out of the response (a traceback per slow client) and then
        # left the socket to uvicorn's close(), which waits for a flush that never comes. A
        # client that stops reading is cut off by the connection guard (service/api/connections.py).
        send_timeout=None,
        shutdown_event=shutdown,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

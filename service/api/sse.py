"""``GET /api/events``: the bus as server-sent events, with replay on reconnect.

The subscription is taken before the backlog is read, so nothing published
in between is lost; duplicates are skipped by id. A heartbeat event every
5 s, busy or quiet, lets the page tell a live stream from a stale one; sse-starlette adds the keep-alive
comment and ends every stream on shutdown (a connected phone must not keep
the service from stopping).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from service.runtime.bus import Bus, BusEvent
from service.runtime.clock import Clock

HEARTBEAT_S = 5.0
KEEPALIVE_S = 15.0
RETRY_MS = 2000

log = logging.getLogger(__name__)


def _event(ev: BusEvent) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(ev.data, ensure_ascii=False), event=ev.name, id=str(ev.id))


def event_stream(bus: Bus, clock: Clock, last_id: int | None, shutdown: anyio.Event) -> EventSourceResponse:
    sub = bus.subscribe(phone=True)
    backlog: Iterable[BusEvent]
    if last_id is not None and last_id > bus.last_id:
        # an id from before a restart (ids start again at 1): say so, then go on live
        last_id = None
        backlog, lost = [], True
    else:
        backlog, lost = bus.since(last_id) if last_id is not None else ([], False)
    seen = last_id if last_id is not None else bus.last_id

    async def stream() -> AsyncIterator[ServerSentEvent]:
        nonlocal seen
        sent = 0
        try:
            yield ServerSentEvent(comment="potwatch", retry=RETRY_MS)
            if lost:
                yield ServerSentEvent(data="{}", event="reset")
            for old in backlog:
                seen = old.id
                yield _event(old)
                # Let the loop run between events: uvicorn learns of a client gone only in a
                # callback, and until it runs every write of the backlog (up to 2,000) makes
                # asyncio log "socket.send() raised exception". It also keeps a long replay
                # from holding up the hub and the other phones.
                await asyncio.sleep(0)
                sent += 1
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
                if ev.id <= seen:
                    continue
                seen = ev.id
                yield _event(ev)
                sent += 1
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

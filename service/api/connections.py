"""uvicorn's HTTP connections, guarded: a cap, a deadline for each request, a deadline to drain.

Why this exists. uvicorn's h11 protocol waits forever for a request whose
headers never complete (``timeout_keep_alive`` is unset by the first byte
received, and h11 has no header timeout), it has no cap on connections but
``limit_concurrency`` (which answers 503 to everyone, the cook's phone
included, once an attacker holds the sockets), and it keeps writing to a
client that never reads until the kernel's buffers (megabytes) are full. On
a Pi with a descriptor limit, 300 half-sent requests took the page down. So:

- every request must arrive whole (line, headers, body) within
  ``request_timeout_s`` of the connection waiting for it, or the connection is
  closed (a phone sends its few hundred bytes in milliseconds);
- at most ``max_connections`` are open; the one that opens past the cap
  evicts the connection that has waited longest for its request (an idle
  keep-alive, a half-sent request): so a cook's phone gets in while an
  attacker holds sockets. When none is idle, the oldest event stream is ended
  instead (its ``EventSource`` reconnects and resumes from ``Last-Event-ID``),
  never a request being answered otherwise; only with neither is the new
  connection refused;
- a response whose client stops reading is cut off after ``drain_timeout_s``
  of back-pressure; the socket's kernel send buffer is set small so that the
  back-pressure shows within a few hundred kilobytes, not megabytes;
- a client that vanished (a phone gone off the Wi-Fi: no FIN, no RST, no ACK
  ever again) is given up by the kernel once what was sent to it stays
  unacknowledged for ``user_timeout_s`` (``TCP_USER_TIMEOUT``). An event stream
  always has something in flight (its heartbeat every 5 s), so a vanished phone's
  stream ends within heartbeat + timeout; without it, the kernel retransmits
  for some 15 minutes and the stream's subscription stays open all that time.
  Linux applies the same timeout to a peer that keeps a zero receive window:
  a phone that is there but stopped reading is cut by whichever comes first,
  the drain timeout (a reset it sees) or the kernel's 20 s of zero window
  (silently: its page notices the missing heartbeat and reconnects with its
  last id). Set above the drain timeout, it would leave a vanished phone's
  stream open that much longer.

Each of these is counted in one throttled line a minute, never a line per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import resource
import socket
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from service.api.throttled_log import ThrottledLog

log = logging.getLogger(__name__)

# descriptors kept for everything but HTTP: stdio, the loop, the database and its
# WAL, serial ports, MQTT sockets, the listening socket, imports, certificates
RESERVED_FDS = 64
# asyncio accepts up to ``backlog`` sockets in one go before any of them reaches the
# guard: the cap leaves room for one such batch, so that accept() never hits EMFILE
ACCEPT_BACKLOG = 64
WAITING = (h11.IDLE, h11.SEND_BODY)  # the client's state while its request is not whole


@dataclass(frozen=True)
class ConnectionLimits:
    """The guard's numbers (docs/api.md, "Connection limits", says why these)."""

    max_connections: int = 128
    request_timeout_s: float = 10.0
    drain_timeout_s: float = 30.0
    send_buffer_bytes: int = 64 * 1024
    user_timeout_s: float = 20.0
    # answered for as long as the client stays, and resumed by it when cut (EventSource + Last-Event-ID)
    resumable_paths: frozenset[str] = frozenset({"/api/events"})

    def within(self, nofile: int | None = None) -> ConnectionLimits:
        """These limits with the cap lowered to fit the process's descriptor limit."""
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if nofile is None else nofile
        if soft == resource.RLIM_INFINITY:
            return self
        room = max(soft - RESERVED_FDS - ACCEPT_BACKLOG, 8)
        if room >= self.max_connections:
            return self
        return dataclasses.replace(self, max_connections=room)


def guarded_protocol(limits: ConnectionLimits, report: ThrottledLog | None = None) -> type[GuardedH11Protocol]:
    """An ``H11Protocol`` class for ``uvicorn.Config(http=...)`` that enforces ``limits``."""
    noted = report or ThrottledLog(log)

    class Guarded(GuardedH11Protocol):
        pass

    Guarded.limits = limits
    Guarded.report = noted
    return Guarded


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with the deadlines and the cap; the class attributes come from ``guarded_protocol``."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    report: ClassVar[ThrottledLog] = ThrottledLog(log)

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.waiting_since = self.loop.time()
        self.refused = False
        self._request_deadline: asyncio.TimerHandle | None = None
        self._drain_deadline: asyncio.TimerHandle | None = None

    # ---- opening: the cap ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._make_room():
            self.refused = True
            self.transport = transport
            self.report.note("connections refused: every one is busy answering", f"cap {self.limits.max_connections}")
            transport.abort()
            return
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # small, so that a client that stops reading shows as back-pressure at once
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
            if sock.family in (socket.AF_INET, socket.AF_INET6):  # a client gone without a word: see the docstring
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(self.limits.user_timeout_s * 1000))
        self._watch_request()

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for a request, else the oldest event
        stream (its client reconnects and resumes); False when neither is open."""
        guarded = [c for c in self.connections if isinstance(c, GuardedH11Protocol)]
        idle = [c for c in guarded if c.waiting_for_request()]
        if idle:
            what, victims = "connections evicted to make room", idle
        else:
            victims = [c for c in guarded if c.resumable()]
            what = "event streams ended to make room (their clients resume)"
        if not victims:
            return False
        self.report.note(what, f"cap {self.limits.max_connections}")
        min(victims, key=lambda c: c.waiting_since).close_now()
        return True

    def resumable(self) -> bool:
        """Whether this connection answers a request its client repeats on its own when cut (SSE)."""
        if not self.scope or self.transport.is_closing():
            return False
        return self.scope["path"] in self.limits.resumable_paths

    def waiting_for_request(self) -> bool:
        """Whether this connection is between requests or still receiving one: nothing to lose."""
        return not self.transport.is_closing() and self.conn.their_state in WAITING

    def close_now(self) -> None:
        """Drop the connection, its descriptor and its kernel buffers now, with a reset.

        ``close()`` would wait for a flush that a client who does not read never allows,
        and even a plain ``close(2)`` leaves the kernel sending what it holds (an orphan
        socket, for minutes): a zero linger discards it.
        """
        self.connections.discard(self)  # out of the count at once, before connection_lost runs
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_deadline()
        self._cancel_drain_deadline()
        if self.refused:
            return  # never counted, nothing started
        super().connection_lost(exc)

    # ---- the request deadline -----------------------------------------------------------

    def handle_events(self) -> None:
        super().handle_events()
        self._watch_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_request()

    def _watch_request(self) -> None:
        """Arm the deadline while a request is awaited or arriving; disarm it once it is whole."""
        if self.transport.is_closing() or self.conn.their_state not in WAITING:
            self._cancel_request_deadline()
        elif self._request_deadline is None:
            self.waiting_since = self.loop.time()
            self._request_deadline = self.loop.call_later(self.limits.request_timeout_s, self._request_too_slow)

    def _request_too_slow(self) -> None:
        self._request_deadline = None
        if not self.waiting_for_request():
            return
        if self.conn.their_state is h11.SEND_BODY or self.conn.trailing_data[0]:
            self.report.note(
                "connections closed: a request still not whole after the deadline",
                f"{self.limits.request_timeout_s:g} s",
            )
        else:  # nothing sent at all: a browser's spare connection, as normal as a keep-alive's end
            log.debug("closing a connection that sent nothing for %g s", self.limits.request_timeout_s)
        self.close_now()

    def _cancel_request_deadline(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    # ---- the drain deadline -------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._drain_deadline is None:
            self._drain_deadline = self.loop.call_later(self.limits.drain_timeout_s, self._not_draining)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_drain_deadline()

    def _not_draining(self) -> None:
        self._drain_deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        path = self.scope["path"] if self.scope else "?"
        waiting = self.transport.get_write_buffer_size()
        self.report.note(
            "connections closed: the client stopped reading",
            f"{client} {path}, {self.limits.drain_timeout_s:g} s, {waiting} bytes waiting",
        )
        self.close_now()

    def _cancel_drain_deadline(self) -> None:
        if self._drain_deadline is not None:
            self._drain_deadline.cancel()
            self._drain_deadline = None

"""One MQTT connection for asyncio code, on paho-mqtt 2.x (callback API v2), driven by the event loop.

paho can run its own network thread (``loop_start``), but then every message
crosses threads: paho's thread of a probe hands it to the event loop, and the
loop hands each publish back to paho's thread of the publisher. Each hand-over
waits for the interpreter (the GIL) while the other thread runs, up to the
switch interval (5 ms), and that was the tail of the MQTT probe's latency.
So paho runs without a thread of its own, in its documented external-loop
mode: the event loop watches the socket (``add_reader`` → ``loop_read``,
``add_writer`` → ``loop_write`` while paho has bytes it could not write),
a task calls ``loop_misc`` every second (keepalive pings, a silent broker
noticed), and a publish is written at once, in the caller's turn. Every paho
callback then runs on the event loop; each is still guarded (count, log,
never propagate), since an exception out of paho's read would end the
connection. Only ``connect()`` itself, which blocks (TCP connect, TLS
handshake), runs on a short-lived thread of its own; the socket callbacks it
triggers there are passed to the loop with ``call_soon_threadsafe``.

The traps this file exists to avoid, seen with paho 2.2 and Mosquitto 2.0:

* ``connect()`` raises when the broker is down at start, and paho's own retry
  loop backs off up to 120 s and throws the error away. We run the connect /
  reconnect loop ourselves (a task): every error is described in words, the
  backoff starts at 0.25 s and is capped at 2 s, so a restarted broker is back
  in use within about 2 s of accepting again.
* A refused CONNACK (bad password, not authorised) still calls ``on_connect``;
  it is a failure, not a connection.
* ``on_disconnect`` can fire twice for one loss, and a refused CONNACK is
  followed by one: problems are reported once per change, not per retry.
* Subscriptions are forgotten by a restarted (and by a killed) broker: they
  are renewed in ``on_connect``, every time, and ``LinkUp`` waits for the
  SUBACK, so nothing published after it is missed.
* A link that dies without a word (Wi-Fi gone: no EOF, no error) is noticed
  by paho's keepalive only a little after twice the keepalive; the broker
  gives up on us after 1.5 ×. ``mqtt_liveness`` asks the broker after half a
  keepalive of silence, and the link's watch closes the socket when a whole
  keepalive more brings no answer. It closes it with a reset (``SO_LINGER``
  0): a plain shutdown keeps what is still unsent in the kernel, and a
  command written into the dead link would reach the broker whenever the
  link healed, long after it was meant.

Errors are converted once, here: the event stream carries ``LinkDown`` with
a reason a person can act on ("connection refused (is the broker running?)",
"broker refused the connection: Not authorized"), never a paho exception.

``MqttLink`` is general on purpose: the MQTT probes subscribe with it (one link
per broker, shared: drivers/mqtt_shared.py, through ``sink``), and the
service's publisher can use ``publish``, a ``Will`` and the ``on_connect`` hook
(run after every (re)connect, to republish retained state and Home Assistant
discovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import select
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from drivers.mqtt_liveness import Liveness, Verdict
from drivers.tcp_options import QuickAck, set_nodelay

log = logging.getLogger(__name__)

Clock = Callable[[], float]

DEFAULT_PORT: Final = 1883
DEFAULT_TLS_PORT: Final = 8883
WATCH_S: Final = 0.1  # how often the link looks at the connection's liveness
# Packets read in one turn of the loop while the socket has more: paho's loop_read
# reads one (with nothing in flight), and one connection shared by 500 probes then
# carried one message per turn of a busy loop, far fewer than arrived.
READ_BURST: Final = 100
_LINGER_RESET: Final = struct.pack("ii", 1, 0)  # struct linger {l_onoff = 1, l_linger = 0}: close() resets


# ---------------------------------------------------------------------------
# settings and events


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for us when we vanish (not on a clean stop)."""

    topic: str
    payload: bytes = b"offline"
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Where and how to connect. Defaults suit a broker on the kitchen LAN."""

    host: str
    port: int = DEFAULT_PORT
    tls: bool = False
    cafile: str | None = None  # None: the system's CA store
    username: str | None = None
    password: str | None = None
    client_id: str = ""  # "": potwatch-<random>, so two instances never kick each other off
    keepalive: int = 15  # a silently dead broker (Wi-Fi gone) is noticed within ~1.5 × this
    will: Will | None = None
    reconnect_min: float = 0.25
    reconnect_max: float = 2.0
    connect_timeout: float = 5.0
    max_payload: int = 128 * 1024  # longer payloads are cut here, as they arrive; ``size`` keeps the truth
    max_queued: int = 10_000  # messages waiting for the consumer; beyond it they are dropped and counted
    # and their payload bytes: 10,000 payloads cut to 128 KiB would be 1.25 GiB, more than a Pi has
    max_queued_bytes: int = 16 * 1024 * 1024
    # Nagle holds a small packet that follows another until the broker's
    # delayed ACK, up to ~40 ms: an alert published right after a state update.
    tcp_nodelay: bool = True
    # and the broker's Nagle (on by default in Mosquitto) holds a small packet
    # to us until we ACK the one before; Linux delays that ACK up to 40 ms
    # (drivers/tcp_options.py; Linux only, skipped cleanly elsewhere).
    tcp_quickack: bool = True

    @property
    def server(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class LinkUp:
    """Connected, and the broker acknowledged our subscriptions: retained messages follow.

    ``refused`` lists subscriptions the broker turned down (an ACL, usually).
    """

    at: float
    server: str
    session_present: bool = False
    refused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkDown:
    """Not connected, and why. ``was_up`` False: still failing, for a new reason."""

    at: float
    reason: str
    was_up: bool


@dataclass(frozen=True, slots=True)
class Message:
    """One received message, stamped by the injected clock when it reached the event loop.

    ``retain`` is True for a retained message the broker delivered because we
    (re)subscribed: an old value, not news. ``size`` is the payload's real
    length; ``payload`` is cut to ``LinkSettings.max_payload``.
    """

    at: float
    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0
    size: int = -1

    @property
    def truncated(self) -> bool:
        return self.size > len(self.payload)


LinkEvent = LinkUp | LinkDown | Message


class EventQueue:
    """Link events waiting for their consumer: messages bounded in count and in payload bytes.

    A message past either bound is dropped and counted (``dropped``), never
    queued: a consumer that fell behind a flood must not take the Pi's memory.
    ``LinkUp``/``LinkDown`` are always queued (a handful per outage).
    """

    def __init__(self, max_messages: int, max_bytes: int, name: str) -> None:
        self.max_messages, self.max_bytes, self.name = max_messages, max_bytes, name
        self.dropped = 0
        self._queue: asyncio.Queue[LinkEvent] = asyncio.Queue()
        self._messages = 0
        self._bytes = 0  # payload bytes of the messages waiting

    def put(self, event: LinkEvent) -> None:
        if isinstance(event, Message):
            size = len(event.payload)
            full = self._bytes + size > self.max_bytes and self._messages > 0
            if self._messages >= self.max_messages or full:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning("%s: consumer too slow, %d messages dropped", self.name, self.dropped)
                return
            self._messages += 1
            self._bytes += size
        self._queue.put_nowait(event)

    async def get(self) -> LinkEvent:
        event = await self._queue.get()
        if isinstance(event, Message):
            self._messages -= 1
            self._bytes -= len(event.payload)
        return event

    def qsize(self) -> int:
        return self._queue.qsize()


class LinkError(Exception):
    """The link was used wrongly (bad topic filter, started twice): a bug or a bad URL."""


# What paho's callbacks hand over. Internal: these become LinkEvents,
# deduplicated, in ``_deliver``.


@dataclass(frozen=True, slots=True)
class _Up:
    session_present: bool
    refused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Down:
    reason: str


@dataclass(frozen=True, slots=True)
class _Msg:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    size: int


_Handover = _Up | _Down | _Msg


# ---------------------------------------------------------------------------
# pure helpers


def _acknowledged(info: paho.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):  # paho will never send it: nothing to wait for
        return True


def check_topic_filter(topic: str) -> str | None:
    """Why ``topic`` is not a valid subscription filter, or None (MQTT 3.1.1 §4.7)."""
    if not topic:
        return "the topic is empty"
    if "\0" in topic:
        return "the topic contains a NUL character"
    if len(topic.encode("utf-8")) > 65535:
        return "the topic is longer than 65535 bytes"
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level, and the last one (e.g. rtl_433/#)"
        if "+" in level and level != "+":
            return "'+' must be a whole level (e.g. tele/+/SENSOR)"
    return None


def has_wildcard(topic: str) -> bool:
    return any(level in ("+", "#") for level in topic.split("/"))


def topic_matches(subscription: str, topic: str) -> bool:
    """Does ``topic`` fall under ``subscription`` (wildcards included)?"""
    return paho.topic_matches_sub(subscription, topic)


def _more_to_read(sock: object) -> bool:
    """Has ``sock`` bytes waiting now (without blocking)? TLS counts what it decrypted already."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
        return True
    if not isinstance(sock, socket.socket) or sock.fileno() < 0:
        return False
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def describe_os_error(exc: BaseException, settings: LinkSettings) -> str:
    """A connect error in words the person at the Pi can act on."""
    where = settings.server
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {where} refused (is the broker running, on this port?)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {settings.host!r} ({exc.strerror})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer from {where} within {settings.connect_timeout:g} s (wrong address, or a firewall?)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} rejected: {exc.verify_message} (set cafile=?)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc} (is that port TLS?)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot connect to {where}: {exc.strerror}"
    return f"cannot connect to {where}: {exc}"


def describe_connack(reason: ReasonCode) -> str:
    hint = ""
    name = str(reason).lower()
    if "authori" in name or "user name" in name or "password" in name:
        hint = " (check the user and password in the URL)"
    return f"broker refused the connection: {reason}{hint}"


# ---------------------------------------------------------------------------
# the link


class MqttLink:
    """A self-reconnecting MQTT client whose events are read with ``await get()`` / ``async for``.

    Use as ``async with MqttLink(settings, subscriptions=[...]) as link:``;
    leaving the block disconnects cleanly and ends the link's task.
    ``subscribe``/``publish`` are called from the event loop.
    """

    def __init__(
        self,
        settings: LinkSettings,
        *,
        subscriptions: Iterable[str | tuple[str, int]] = (),
        clock: Clock = time.monotonic,
        on_connect: Callable[[], None] | None = None,
        name: str = "mqtt",
        quiet: bool = False,
        sink: Callable[[LinkEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        # quiet: the owner reports connection changes itself (the probe's
        # notices), so the link logs them at debug instead of twice.
        self._quiet = quiet
        self._clock = clock
        self._on_connect_hook = on_connect
        # sink: every event handed to this callable, on the loop, instead of
        # queued for ``get()``; the owner bounds what it keeps (drivers/mqtt_shared.py)
        self._sink = sink
        self._subs: dict[str, int] = {}
        for sub in subscriptions:
            topic, qos = (sub, 0) if isinstance(sub, str) else sub
            self._add_subscription(topic, qos)
        self._client_id = settings.client_id or f"potwatch-{secrets.token_hex(4)}"
        self._client: paho.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._queue = EventQueue(settings.max_queued, settings.max_queued_bytes, name)
        self._quickack = QuickAck(settings.tcp_quickack)
        self._sock: socket.socket | None = None  # the socket the loop watches, while it does
        self._writing = False  # a writer is registered for it
        self._reading = False  # inside paho's loop_read: a publish from a callback is written after it
        # QoS 1/2 publishes not yet acknowledged, oldest first, with when they were handed to paho
        self._unacked: deque[tuple[float, paho.MQTTMessageInfo]] = deque()
        # the link's view, changed only in _deliver
        self._up = False
        self._problem: str | None = None
        self.callback_errors = 0  # exceptions caught in paho's callbacks; the connection survived each one
        # the current connection's bookkeeping
        self._ended: asyncio.Event | None = None  # set by on_disconnect: paho is done with this connection
        self._refused = False
        self._session_present = False
        self._pending: tuple[int, list[str]] | None = None  # (mid, topics) of on_connect's SUBSCRIBE
        self._connection = 0  # counts CONNACKs and delivered downs: a deferred "up" is for one connection
        # later SUBSCRIBEs of this connection whose SUBACK someone waits for: mid -> (topics, callback)
        self._acks: dict[int, tuple[list[str], Callable[[tuple[str, ...]], None]]] = {}
        self._liveness: Liveness | None = None  # the current connection's, from its CONNACK on
        self._silence: str | None = None  # why the watch closed the connection, for on_disconnect
        # the broker must answer an UNSUBSCRIBE, even of a filter nobody uses: our question when it goes quiet
        self._liveness_topic = f"potwatch-liveness/{self._client_id}"

    # -- lifecycle (event loop)

    async def __aenter__(self) -> MqttLink:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start(self) -> None:
        """Create the paho client and the link's task; returns at once (no I/O here)."""
        if self._task is not None:
            raise LinkError("this MqttLink was already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._ended = asyncio.Event()
        self._client = self._make_client()
        self._task = self._loop.create_task(self._run(), name=f"{self.name}-network")

    async def stop(self, timeout: float = 7.0) -> None:
        """Disconnect cleanly (no will is sent) and wait for the link's task to end."""
        self._stopping = True
        client, task = self._client, self._task
        if task is None:
            return
        if client is not None and self._sock is not None:
            with contextlib.suppress(Exception):
                client.disconnect()  # queued after anything published before: the broker gets it all
                self._flush()
        elif not task.done():
            task.cancel()  # connecting, or waiting to retry: no connection to close
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            log.warning("%s: still busy disconnecting after %.0f s; closing the socket", self.name, timeout)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def acknowledged(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the broker has acknowledged every QoS 1/2 publish; True if it has.

        For a clean stop: a DISCONNECT written, and the socket closed, right
        after a QoS 1 PUBLISH reaches the broker before its PUBACK can go back;
        Mosquitto (before 2.0.22) then fails writing that PUBACK and drops us as
        an unclean disconnect ("disconnected due to out of memory"), will and all.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._up:
            if not self.backlog:
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return not self.backlog

    @property
    def backlog(self) -> int:
        """QoS 1/2 publishes the broker has not acknowledged yet, counted from the oldest one not acknowledged."""
        unacked = self._unacked
        while unacked and _acknowledged(unacked[0][1]):
            unacked.popleft()
        return len(unacked)

    def unacknowledged_for(self) -> float:
        """Seconds since the oldest QoS 1/2 publish still waiting for the broker was handed over; 0 if none.

        A few milliseconds at most while the broker answers; it grows only while
        the link is silently dead (before the liveness check cuts it) or the
        broker is swamped, and then a publisher can stop handing paho messages
        that a newer one will supersede: paho keeps every one and sends them all
        once the broker answers again.
        """
        if not self.backlog:
            return 0.0
        return max(0.0, self._clock() - self._unacked[0][0])

    # -- reading (event loop)

    async def get(self) -> LinkEvent:
        return await self._queue.get()

    @property
    def dropped(self) -> int:
        """Messages beyond ``max_queued``/``max_queued_bytes`` waiting for a slow consumer."""
        return self._queue.dropped

    def __aiter__(self) -> MqttLink:
        return self

    async def __anext__(self) -> LinkEvent:
        return await self.get()

    # -- state (event loop)

    @property
    def connected(self) -> bool:
        return self._up

    @property
    def thread_alive(self) -> bool:
        """Is the link's network task running (its reconnect loop, and the socket it watches)?

        Nothing a payload or a callback does may end it. (The name is from the
        days of paho's own thread; the health report keeps it.)
        """
        return self._task is not None and not self._task.done()

    # -- subscribing and publishing (event loop)

    def subscribe(self, topic: str, qos: int = 0) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        self._add_subscription(topic, qos)
        client = self._client
        if client is not None and client.is_connected():
            client.subscribe(topic, qos)
            self._flush()

    def subscribe_acked(self, topics: list[str], on_ack: Callable[[tuple[str, ...]], None]) -> bool:
        """Subscribe to ``topics`` (QoS 0) now and after every reconnect; True if sent on this connection.

        ``on_ack(refused)`` runs at the broker's SUBACK, with the topics it
        refused; retained messages for them follow it. Not up yet (False), or
        the connection lost before the SUBACK: it never runs, and the coming
        ``LinkUp`` covers these topics.
        """
        for topic in topics:
            self._add_subscription(topic, 0)
        client = self._client
        if client is None or not client.is_connected():
            return False
        # connected but before LinkUp: on_connect's SUBSCRIBE left these out; its LinkUp covers them
        result, mid = client.subscribe([(topic, 0) for topic in topics])
        self._flush()
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None or not self._up:
            return False
        self._acks[mid] = (list(topics), on_ack)
        return True

    def unsubscribe(self, topic: str) -> None:
        self._subs.pop(topic, None)
        client = self._client
        if client is not None and client.is_connected():
            client.unsubscribe(topic)
            self._flush()

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool:
        """Hand a message to paho and write it now; False when it is certainly lost.

        While disconnected paho drops QoS 0 messages and queues QoS 1/2 ones
        (and its return code does not say so): publish what must survive an
        outage with QoS 1, and republish retained state from ``on_connect``.
        """
        client = self._client
        if client is None:
            return False
        try:
            info = client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError as exc:
            raise LinkError(f"cannot publish to {topic!r}: {exc}") from None
        self._flush()
        if qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            # (one taken while paho was disconnected, rc NO_CONN, is sent on reconnect; paho's
            # is_published() raises for it for ever, so it is not counted)
            self._unacked.append((self._clock(), info))
            _ = self.backlog  # drop the acknowledged ones from the front
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return True
        return qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN

    # -- internals: setup

    def _add_subscription(self, topic: str, qos: int) -> None:
        problem = check_topic_filter(topic)
        if problem is not None:
            raise LinkError(f"cannot subscribe to {topic!r}: {problem}")
        self._subs[topic] = qos

    def _make_client(self) -> paho.Client:
        s = self.settings
        # reconnect_on_failure=False: our task (_run) reconnects, with the backoff and the error in hand.
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=True,
            protocol=paho.MQTTv311,
            reconnect_on_failure=False,
        )
        client.suppress_exceptions = True  # belt and braces: our callbacks already catch everything
        client.connect_timeout = s.connect_timeout
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.will is not None:
            client.will_set(s.will.topic, s.will.payload, s.will.qos, s.will.retain)
        if s.tls:
            client.tls_set(ca_certs=s.cafile)
        client.on_connect = self._guarded(self._on_connect)
        guarded_disconnect = self._guarded(self._on_disconnect)

        def on_disconnect(*args: Any) -> None:
            try:
                guarded_disconnect(*args)
            finally:
                self._on_loop(self._connection_over)  # whatever happens, _run must learn it is over

        client.on_disconnect = on_disconnect
        client.on_message = self._guarded(self._on_message)
        client.on_subscribe = self._guarded(self._on_subscribe)
        client.on_unsubscribe = self._guarded(self._on_unsubscribe)
        client.on_socket_open = self._guarded(self._on_socket_open)
        client.on_socket_close = self._guarded(self._on_socket_close)
        client.on_socket_register_write = self._guarded(self._on_register_write)
        client.on_socket_unregister_write = self._guarded(self._on_unregister_write)
        return client

    # -- internals: the link's task
    #
    # Connect on a thread of its own (a blocking call that raises with the
    # reason), then let the event loop drive the socket until paho says the
    # connection is over (on_disconnect); back off, and connect again.

    async def _run(self) -> None:
        """Connect, let the loop run the connection until it ends, wait, again; until stopped."""
        delay = self.settings.reconnect_min
        try:
            while not self._stopping:
                try:
                    if await self._attempt():
                        delay = self.settings.reconnect_min
                except Exception as exc:  # never let the link's task die
                    self.callback_errors += 1
                    log.warning("%s: unexpected error in the network loop: %r", self.name, exc, exc_info=True)
                    self._deliver(_Down(f"internal error: {exc!r}"))
                if self._stopping:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max)
        finally:
            self._unwatch()
            sock = self._client.socket() if self._client is not None else None
            if isinstance(sock, socket.socket):
                sock.close()  # cancelled mid-connection; after a clean stop paho closed it already

    async def _attempt(self) -> bool:
        """One connection, from TCP connect to its end. True when it got as far as CONNACK accepted."""
        client, ended = self._client, self._ended
        assert client is not None and ended is not None
        self._refused = False
        self._liveness, self._silence = None, None
        ended.clear()
        try:
            await self._connect_on_a_thread(client)
        except (OSError, ValueError) as exc:
            self._deliver(_Down(describe_os_error(exc, self.settings)))
            return False
        if self._stopping:
            client.disconnect()  # stop() came while we were connecting
            self._flush()
        misc = asyncio.get_running_loop().create_task(self._misc(client), name=f"{self.name}-keepalive")
        try:
            await ended.wait()
        finally:
            misc.cancel()
        return not self._refused

    async def _connect_on_a_thread(self, client: paho.Client) -> None:
        """``client.connect()``, which blocks (DNS, TCP, TLS), on a daemon thread: a stop never waits for it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(exc: BaseException | None) -> None:
            if done.done():
                return
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

        def connect() -> None:
            error: BaseException | None = None
            try:
                client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
            except BaseException as exc:  # handed to the loop, which decides
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, error)

        threading.Thread(target=connect, name=f"{self.name}-connect", daemon=True).start()
        await done

    async def _misc(self, client: paho.Client) -> None:
        """The liveness watch every 0.1 s, and paho's timekeeping (its keepalive) once a second, as its loop does."""
        loop = asyncio.get_running_loop()
        looked = loop.time()
        while True:
            await asyncio.sleep(WATCH_S)
            self._reading = True
            try:
                self._check_liveness(client)
                if loop.time() - looked >= 1.0:
                    looked = loop.time()
                    client.loop_misc()
            except Exception:  # never let the watch end: a dead broker would go unnoticed
                self.callback_errors += 1
                log.warning("%s: error in the link's keepalive", self.name, exc_info=True)
            finally:
                self._reading = False
            self._flush()

    def _check_liveness(self, client: paho.Client) -> None:
        """Ask a quiet broker for an answer; close a connection that gave none (``mqtt_liveness``)."""
        liveness = self._liveness
        if liveness is None or self._stopping:
            return
        now = time.monotonic()
        verdict = liveness.check(now)
        if verdict is Verdict.ASK:
            client.unsubscribe(self._liveness_topic)
        elif verdict is Verdict.DEAD and self._silence is None:
            self._silence = f"no answer from the broker for {liveness.silent_for(now):.0f} s (the network is down?)"
            sock = client.socket()
            if isinstance(sock, socket.socket):
                # not disconnect(): a DISCONNECT reaching the broker after all would cancel our will.
                # SO_LINGER on, 0 s: when paho closes the socket (right after the reader sees the end),
                # the kernel resets the connection and throws away what it still holds to send (a
                # command written into the dead link) instead of delivering it whenever the link heals.
                # A reset is no DISCONNECT: the broker still publishes our will.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                with contextlib.suppress(OSError):
                    # SHUT_RD sends nothing (no FIN queued behind the stale bytes); the reader sees the end
                    # and paho closes the socket, which then resets, and reports the loss
                    sock.shutdown(socket.SHUT_RD)

    def _heard(self) -> None:
        liveness = self._liveness
        if liveness is not None:
            liveness.heard(time.monotonic())

    def _connection_over(self) -> None:
        if self._ended is not None:
            self._ended.set()

    # -- internals: the socket, watched by the event loop

    def _on_loop(self, fn: Callable[..., None], *args: Any, later: bool = False) -> None:
        """Run ``fn`` on the event loop: now if we are on it, else as soon as it turns (connect's thread).

        ``later``: not now, even on the loop: once the paho callback running now has returned.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if not later and threading.get_ident() == self._loop_thread:
            fn(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: object) -> None:
        if self.settings.tcp_nodelay:
            set_nodelay(sock)
        self._on_loop(self._watch, sock)

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: object) -> None:
        self._on_loop(self._unwatch)

    def _on_register_write(self, client: paho.Client, userdata: object, sock: object) -> None:
        self._on_loop(self._want_write, sock)

    def _on_unregister_write(self, client: paho.Client, userdata: object, sock: object) -> None:
        self._on_loop(self._stop_writing)

    def _watch(self, sock: object) -> None:
        client, loop = self._client, self._loop
        if client is None or loop is None or client.socket() is not sock or not isinstance(sock, socket.socket):
            return  # already closed again (a connect that failed after opening it)
        if self._stopping:
            sock.close()  # a connect that finished after stop(): nobody is left to use it
            return
        self._unwatch()
        self._sock = sock
        loop.add_reader(sock, self._readable)

    def _unwatch(self) -> None:
        sock, loop = self._sock, self._loop
        self._sock = None
        if sock is None or loop is None or loop.is_closed():
            return
        loop.remove_reader(sock)
        if self._writing:
            loop.remove_writer(sock)
            self._writing = False

    def _want_write(self, sock: object) -> None:
        loop, current = self._loop, self._sock
        if loop is None or current is None or sock is not current or self._writing:
            return
        self._writing = True  # even if paho has nothing left by now: loop_write then unregisters it
        loop.add_writer(current, self._writable)

    def _stop_writing(self) -> None:
        loop, sock = self._loop, self._sock
        if self._writing and loop is not None and sock is not None:
            loop.remove_writer(sock)
        self._writing = False

    def _readable(self) -> None:
        client = self._client
        if client is None:
            return
        sock = client.socket()
        self._heard()  # bytes from the broker (a PINGRESP, a PUBACK, a message): it is there
        self._reading = True
        try:
            client.loop_read()
            for _ in range(READ_BURST - 1):
                if client.socket() is not sock or not _more_to_read(sock):
                    break
                client.loop_read()
            # TLS may hold decrypted bytes the socket no longer shows as readable
            tls = sock if isinstance(sock, ssl.SSLSocket) else None
            while tls is not None and tls.pending() > 0 and client.socket() is tls:
                client.loop_read()
        except Exception:  # paho's read raised (a broken pipe): the connection is over
            self.callback_errors += 1
            log.warning("%s: error reading from the broker", self.name, exc_info=True)
            self._abandon(client)
        finally:
            self._reading = False
        if client.socket() is sock:
            self._quickack.rearm(sock)  # once per read: the broker's Nagle waits for our ACK
        self._flush()  # what callbacks published while we read (acks, subscriptions)

    def _writable(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.loop_write()
        except Exception:
            self.callback_errors += 1
            log.warning("%s: error writing to the broker", self.name, exc_info=True)
            self._abandon(client)

    def _flush(self) -> None:
        """Write what paho queued, now, in this turn: a publish leaves before anything else runs.

        Not from inside paho's read (paho is not reentrant there): ``_readable``
        flushes after it. What the socket does not take waits for its writer.
        """
        client = self._client
        if client is None or self._reading or self._sock is None or threading.get_ident() != self._loop_thread:
            return
        if client.want_write():
            self._writable()

    def _abandon(self, client: paho.Client) -> None:
        """Close a connection paho could not carry on with; on_disconnect may not have run."""
        self._unwatch()
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.close()
        self._deliver(_Down(f"connection to {self.settings.server} lost"))
        self._connection_over()

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap a paho callback: whatever it raises is counted and logged, never propagated."""

        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                self._on_loop(self._count_failure)
                log.warning("%s: error in %s (the connection carries on)", self.name, callback.__name__, exc_info=True)

        return guarded

    def _count_failure(self) -> None:
        self.callback_errors += 1

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: paho.ConnectFlags, reason: ReasonCode, props: object
    ) -> None:
        if reason.is_failure:
            self._refused = True
            self._deliver(_Down(describe_connack(reason)))
            return
        self._session_present = bool(flags.session_present)
        self._connection += 1
        self._acks.clear()  # a SUBSCRIBE of the last connection: this one subscribes to everything again
        self._liveness = Liveness(self.settings.keepalive, time.monotonic())
        subs = list(self._subs.items())
        if not subs:
            # Up once paho has resent what the outage left queued (QoS 1), which it does when this
            # callback returns: "up" runs the hook, whose fresh retained state must go out after
            # those older messages, or the broker keeps the old one.
            self._on_loop(self._up_if_still, self._connection, _Up(self._session_present), later=True)
            return
        # "Up" waits for the SUBACK: a message published right after we say
        # "connected, waiting for <topic>" must not be lost to a race.
        result, mid = client.subscribe(subs)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            return  # the connection already dropped: on_disconnect reports it, the next connect retries
        self._pending = (mid, [topic for topic, _ in subs])

    def _on_subscribe(
        self, client: paho.Client, userdata: object, mid: int, reasons: list[ReasonCode], props: object
    ) -> None:
        acked = self._acks.pop(mid, None)
        if acked is not None:
            topics, on_ack = acked
            on_ack(tuple(topic for topic, reason in zip(topics, reasons, strict=False) if reason.is_failure))
            return
        pending = self._pending
        if pending is None or pending[0] != mid:
            return  # a later subscribe() from the loop: nothing to announce
        self._pending = None
        refused = tuple(topic for topic, reason in zip(pending[1], reasons, strict=False) if reason.is_failure)
        self._deliver(_Up(self._session_present, refused))

    def _on_unsubscribe(
        self, client: paho.Client, userdata: object, mid: int, reasons: list[ReasonCode], props: object
    ) -> None:
        self._heard()

    def _up_if_still(self, connection: int, up: _Up) -> None:
        if connection == self._connection and not self._stopping:  # not down (nor up again) meanwhile
            self._deliver(up)

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        if self._refused or self._stopping:
            return  # the refusal was already reported; a stop is not a problem
        detail = "" if str(reason) in ("Success", "Unspecified error") else f": {reason}"
        if self._silence is not None:
            detail = f": {self._silence}"
        self._on_loop(self._deliver, _Down(f"connection to {self.settings.server} lost{detail}"))

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._deliver(self._handover_message(msg))

    def _handover_message(self, msg: paho.MQTTMessage) -> _Msg:
        payload = msg.payload
        return _Msg(msg.topic, bytes(payload[: self.settings.max_payload]), bool(msg.retain), msg.qos, len(payload))

    # -- internals: on the event loop

    def _deliver(self, item: _Handover) -> None:
        """The one place the link's state changes; problems reported once per change."""
        now = self._clock()
        if isinstance(item, _Msg):
            self._deliver_message(now, item)
        elif isinstance(item, _Up):
            self._up, self._problem = True, None
            log.log(
                logging.DEBUG if self._quiet else logging.INFO, "%s: connected to %s", self.name, self.settings.server
            )
            if item.refused:
                log.warning("%s: subscription refused: %s", self.name, ", ".join(item.refused))
            self._emit(LinkUp(now, self.settings.server, item.session_present, item.refused))
            self._run_hook()
        else:
            self._connection += 1  # however it was found (paho's callback, an abandoned socket): over
            self._down(now, item)

    def _down(self, now: float, item: _Down) -> None:
        if self._up or item.reason != self._problem:
            was_up = self._up
            self._up, self._problem = False, item.reason
            log.log(logging.DEBUG if self._quiet else logging.WARNING, "%s: %s", self.name, item.reason)
            self._acks.clear()
            self._emit(LinkDown(now, item.reason, was_up))
        else:
            log.debug("%s: still: %s", self.name, item.reason)

    def _emit(self, event: LinkEvent) -> None:
        if self._sink is None:
            self._queue.put(event)
            return
        try:
            self._sink(event)
        except Exception:  # the owner's bug must not end the connection
            self.callback_errors += 1
            log.warning("%s: the link's sink failed", self.name, exc_info=True)

    def _deliver_message(self, now: float, item: _Msg) -> None:
        if self._sink is not None:  # the sink bounds what it keeps, per consumer
            self._emit(Message(now, item.topic, item.payload, item.retain, item.qos, item.size))
            return
        self._queue.put(Message(now, item.topic, item.payload, item.retain, item.qos, item.size))

    def _run_hook(self) -> None:
        if self._on_connect_hook is None:
            return
        try:
            self._on_connect_hook()
        except Exception:
            log.warning("%s: on_connect hook failed", self.name, exc_info=True)

"""One MQTT connection for asyncio code, on paho-mqtt 2.x (callback API v2).

paho runs its network loop on a thread of its own; asyncio code must never be
touched from there. So every paho callback here does three things only: copy
what paho handed it into a frozen value, pass that value to the event loop
with ``loop.call_soon_threadsafe``, and swallow (count, log) any exception,
because an exception escaping a callback ends paho's network thread for good
and the connection silently dies.

The traps this file exists to avoid, seen with paho 2.2 and Mosquitto 2.0:

* ``connect()`` raises when the broker is down at start, and paho's own retry
  loop backs off up to 120 s and throws the error away. We run the connect /
  reconnect loop ourselves on the network thread: every error is described in
  words, the backoff starts at 0.25 s and is capped at 2 s, so a restarted
  broker is back in use within about 2 s of accepting again.
* A refused CONNACK (bad password, not authorised) still calls ``on_connect``;
  it is a failure, not a connection.
* ``on_disconnect`` can fire twice for one loss, and a refused CONNACK is
  followed by one: problems are reported once per change, not per retry.
* Subscriptions are forgotten by a restarted (and by a killed) broker: they
  are renewed in ``on_connect``, every time, and ``LinkUp`` waits for the
  SUBACK, so nothing published after it is missed.

Errors are converted once, here: the event stream carries ``LinkDown`` with
a reason a person can act on ("connection refused (is the broker running?)",
"broker refused the connection: Not authorized"), never a paho exception.

``MqttLink`` is general on purpose: the MQTT probe subscribes with it, and the
service's publisher can use ``publish``, a ``Will`` and the ``on_connect`` hook
(run on the event loop after every (re)connect, to republish retained state
and Home Assistant discovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

Clock = Callable[[], float]

DEFAULT_PORT: Final = 1883
DEFAULT_TLS_PORT: Final = 8883


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
    max_payload: int = 128 * 1024  # longer payloads are cut here, in paho's thread; ``size`` keeps the truth
    max_queued: int = 10_000  # messages waiting for the consumer; beyond it they are dropped and counted
    # Nagle holds a small packet that follows another until the broker's
    # delayed ACK, up to ~40 ms: an alert published right after a state update.
    tcp_nodelay: bool = True
    # and the broker's Nagle (on by default in Mosquitto) holds a small packet
    # to us until we ACK the one before; Linux delays that ACK up to 40 ms.
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


class LinkError(Exception):
    """The link was used wrongly (bad topic filter, started twice): a bug or a bad URL."""


# What the network thread hands to the loop. Internal: the loop turns these
# into LinkEvents, deduplicated, in ``_deliver``.


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


@dataclass(frozen=True, slots=True)
class _Failed:
    """An exception was caught on the network thread (counted on the loop)."""


_Handover = _Up | _Down | _Msg | _Failed


# ---------------------------------------------------------------------------
# pure helpers


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


def _is_tcp(sock: object) -> bool:
    return isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6)


def _set_nodelay(client: paho.Client, userdata: object, sock: object) -> None:
    """Our small packets leave at once, not after the broker's delayed ACK of the one before."""
    if _is_tcp(sock):
        assert isinstance(sock, socket.socket)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# Linux only; elsewhere the option does not exist and the re-arming is skipped.
_TCP_QUICKACK: Final = getattr(socket, "TCP_QUICKACK", None)


def _rearm_quickack(sock: object) -> None:
    """ACK what we just read now, not up to 40 ms later: the broker's Nagle waits for that ACK.

    Mosquitto leaves Nagle's algorithm on by default (``set_tcp_nodelay
    false``): a small message it writes to us while an earlier one is not yet
    acknowledged stays in its kernel until our ACK comes. Linux delays that
    ACK (up to 40 ms, the delayed-ACK timer) once a connection both sends and
    receives, as ours do (PUBACKs, pings, our own publishes). TCP_QUICKACK
    turns the delay off, but Linux resets it after use, so it is set again
    after every read.
    """
    if _TCP_QUICKACK is not None and _is_tcp(sock):
        assert isinstance(sock, socket.socket)
        with contextlib.suppress(OSError):  # the socket closed under us: paho reports that itself
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)


class _QuickAckClient(paho.Client):
    """paho's client, re-arming TCP_QUICKACK after every read from the broker (see ``_rearm_quickack``).

    paho has no hook after a read, so its one reading method is wrapped; the
    method is paho 2.x's (``Client._sock_recv``), pinned by pyproject.toml.
    """

    def _sock_recv(self, bufsize: int) -> bytes:
        data = super()._sock_recv(bufsize)
        _rearm_quickack(self._sock)
        return data


# ---------------------------------------------------------------------------
# the link


class MqttLink:
    """A self-reconnecting MQTT client whose events are read with ``await get()`` / ``async for``.

    Use as ``async with MqttLink(settings, subscriptions=[...]) as link:``;
    leaving the block disconnects cleanly and ends the network thread.
    ``subscribe``/``publish`` may be called at any time from the event loop.
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
    ) -> None:
        self.settings = settings
        self.name = name
        # quiet: the owner reports connection changes itself (the probe's
        # notices), so the link logs them at debug instead of twice.
        self._quiet = quiet
        self._clock = clock
        self._on_connect_hook = on_connect
        self._subs: dict[str, int] = {}
        self._subs_lock = threading.Lock()  # the loop edits, the network thread reads in on_connect
        for sub in subscriptions:
            topic, qos = (sub, 0) if isinstance(sub, str) else sub
            self._add_subscription(topic, qos)
        self._client_id = settings.client_id or f"potwatch-{secrets.token_hex(4)}"
        self._client: paho.Client | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[LinkEvent] = asyncio.Queue()
        self._queued_messages = 0
        # loop-side view, changed only in _deliver
        self._up = False
        self._problem: str | None = None
        self.dropped = 0
        self.callback_errors = 0  # exceptions caught in paho's thread; it survived each one
        # network-side bookkeeping, written by the supervisor and paho's thread
        # (the loop only reads _net_thread, to report liveness)
        self._ended = threading.Event()  # set by on_disconnect: paho's loop for this connection is over
        self._net_thread: threading.Thread | None = None  # paho's thread of the current connection
        self._refused = False
        self._session_present = False
        self._pending: tuple[int, list[str]] | None = None  # (mid, topics) of on_connect's SUBSCRIBE

    # -- lifecycle (event loop)

    async def __aenter__(self) -> MqttLink:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start(self) -> None:
        """Create the paho client and the network thread; returns at once (no I/O here)."""
        if self._thread is not None:
            raise LinkError("this MqttLink was already started")
        self._loop = asyncio.get_running_loop()
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-network", daemon=True)
        self._thread.start()

    async def stop(self, timeout: float = 7.0) -> None:
        """Disconnect cleanly (no will is sent) and wait for the network thread to end."""
        self._stop.set()
        client, thread = self._client, self._thread
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if thread.is_alive():
            log.warning("%s: network thread still busy after %.0f s; leaving it (daemon)", self.name, timeout)

    # -- reading (event loop)

    async def get(self) -> LinkEvent:
        event = await self._queue.get()
        if isinstance(event, Message):
            self._queued_messages -= 1
        return event

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
        """Are the network threads running: ours, and paho's while connected?

        Nothing a payload or a callback does may end them.
        """
        if self._thread is None or not self._thread.is_alive():
            return False
        net = self._net_thread
        return not self._up or (net is not None and net.is_alive())

    # -- subscribing and publishing (event loop, or any thread)

    def subscribe(self, topic: str, qos: int = 0) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        self._add_subscription(topic, qos)
        client = self._client
        if client is not None and client.is_connected():
            client.subscribe(topic, qos)

    def unsubscribe(self, topic: str) -> None:
        with self._subs_lock:
            self._subs.pop(topic, None)
        client = self._client
        if client is not None and client.is_connected():
            client.unsubscribe(topic)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> bool:
        """Hand a message to paho; False when it is certainly lost.

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
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            return True
        return qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN

    # -- internals: setup

    def _add_subscription(self, topic: str, qos: int) -> None:
        problem = check_topic_filter(topic)
        if problem is not None:
            raise LinkError(f"cannot subscribe to {topic!r}: {problem}")
        with self._subs_lock:
            self._subs[topic] = qos

    def _make_client(self) -> paho.Client:
        s = self.settings
        client_id = self._client_id
        # reconnect_on_failure=False: paho's thread ends with the connection
        # and our supervisor (_run) reconnects, with the backoff and the error in hand.
        client = (_QuickAckClient if s.tcp_quickack else paho.Client)(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
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
                self._ended.set()  # whatever happens, the supervisor must learn the connection is over

        client.on_disconnect = on_disconnect
        client.on_message = self._guarded(self._on_message)
        client.on_subscribe = self._guarded(self._on_subscribe)
        if s.tcp_nodelay:
            client.on_socket_open = self._guarded(_set_nodelay)
        return client

    # -- internals: the supervisor thread and paho's network thread
    #
    # Our thread connects (a blocking call that raises with the reason), then
    # hands the connection to paho's own thread with loop_start(): paho's
    # documented threaded mode, in which publish()/subscribe() from the event
    # loop are safe (they queue and wake paho's select). With
    # reconnect_on_failure=False paho's thread ends with the connection;
    # ours waits for that, backs off, and connects again.

    def _run(self) -> None:
        """Connect, let paho run the connection until it ends, wait, again; until stopped."""
        delay = self.settings.reconnect_min
        while not self._stop.is_set():
            try:
                if self._attempt():
                    delay = self.settings.reconnect_min
            except Exception as exc:  # never let the network thread die
                self._post(_Failed())
                log.warning("%s: unexpected error in the network loop: %r", self.name, exc, exc_info=True)
                self._post(_Down(f"internal error: {exc!r}"))
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.settings.reconnect_max)

    def _attempt(self) -> bool:
        """One connection, from TCP connect to its end. True when it got as far as CONNACK accepted."""
        client = self._client
        assert client is not None
        self._refused = False
        self._ended.clear()
        try:
            client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
        except (OSError, ValueError) as exc:
            self._post(_Down(describe_os_error(exc, self.settings)))
            return False
        client.loop_start()
        if self._stop.is_set():
            client.disconnect()  # stop() came while we were connecting
        while not self._ended.wait(1.0):
            if not self._paho_thread_running():
                break  # paho's thread died without on_disconnect (a paho bug): reconnect anyway
        client.loop_stop()  # joins paho's thread, which ends with the connection
        return not self._refused

    def _paho_thread_running(self) -> bool:
        # paho names its loop_start() thread after the client id.
        name = f"paho-mqtt-client-{self._client_id}"
        return any(t.name == name and t.is_alive() for t in threading.enumerate())

    def _guarded(self, callback: Callable[..., None]) -> Callable[..., None]:
        """Wrap a paho callback: whatever it raises is counted and logged, never propagated."""

        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                self._post(_Failed())
                log.warning("%s: error in %s (the connection carries on)", self.name, callback.__name__, exc_info=True)

        return guarded

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: paho.ConnectFlags, reason: ReasonCode, props: object
    ) -> None:
        if reason.is_failure:
            self._refused = True
            self._post(_Down(describe_connack(reason)))
            return
        self._net_thread = threading.current_thread()
        self._session_present = bool(flags.session_present)
        with self._subs_lock:
            subs = list(self._subs.items())
        if not subs:
            self._post(_Up(self._session_present))
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
        pending = self._pending
        if pending is None or pending[0] != mid:
            return  # a later subscribe() from the loop: nothing to announce
        self._pending = None
        refused = tuple(topic for topic, reason in zip(pending[1], reasons, strict=False) if reason.is_failure)
        self._post(_Up(self._session_present, refused))

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        if self._refused or self._stop.is_set():
            return  # the refusal was already reported; a stop is not a problem
        detail = "" if str(reason) in ("Success", "Unspecified error") else f": {reason}"
        self._post(_Down(f"connection to {self.settings.server} lost{detail}"))

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self._post(self._handover_message(msg))

    def _handover_message(self, msg: paho.MQTTMessage) -> _Msg:
        payload = msg.payload
        return _Msg(msg.topic, bytes(payload[: self.settings.max_payload]), bool(msg.retain), msg.qos, len(payload))

    def _post(self, item: _Handover) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self._deliver, item)

    # -- internals: back on the event loop

    def _deliver(self, item: _Handover) -> None:
        """The one place the link's loop-side state changes; problems reported once per change."""
        now = self._clock()
        if isinstance(item, _Msg):
            self._deliver_message(now, item)
        elif isinstance(item, _Failed):
            self.callback_errors += 1
        elif isinstance(item, _Up):
            self._up, self._problem = True, None
            log.log(
                logging.DEBUG if self._quiet else logging.INFO, "%s: connected to %s", self.name, self.settings.server
            )
            if item.refused:
                log.warning("%s: subscription refused: %s", self.name, ", ".join(item.refused))
            self._queue.put_nowait(LinkUp(now, self.settings.server, item.session_present, item.refused))
            self._run_hook()
        elif self._up or item.reason != self._problem:
            was_up = self._up
            self._up, self._problem = False, item.reason
            log.log(logging.DEBUG if self._quiet else logging.WARNING, "%s: %s", self.name, item.reason)
            self._queue.put_nowait(LinkDown(now, item.reason, was_up))
        else:
            log.debug("%s: still: %s", self.name, item.reason)

    def _deliver_message(self, now: float, item: _Msg) -> None:
        if self._queued_messages >= self.settings.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("%s: consumer too slow, %d messages dropped", self.name, self.dropped)
            return
        self._queued_messages += 1
        self._queue.put_nowait(Message(now, item.topic, item.payload, item.retain, item.qos, item.size))

    def _run_hook(self) -> None:
        if self._on_connect_hook is None:
            return
        try:
            self._on_connect_hook()
        except Exception:
            log.warning("%s: on_connect hook failed", self.name, exc_info=True)

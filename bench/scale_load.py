"""The load on a restaurant line, one process each: the probes' publisher, the phones, the MQTT subscriber.

Each runs as its own process (``multiprocessing`` spawn) so that the load is
not one GIL, and stamps what it does with ``time.monotonic()``, which on Linux
is one clock for every process of the machine: a publish stamped here and an
arrival stamped there are comparable. Each returns what it saw through a pipe
when told to stop; nothing is judged here (``bench/scale_judge.py`` does).

- :func:`publish_probes`: every MQTT probe gets one reading a second, the
  probes spread evenly over the second, QoS 1 as a Wi-Fi probe publishes; each
  value is unique for its probe (150 °F plus a hundredth per reading), so an
  arrival names the publish it came from;
- :func:`follow_phones`: ``phones`` SSE streams on plain non-blocking sockets
  in one thread (chunked transfer decoded), keeping every event id and the
  arrival of every reading of an MQTT probe;
- :func:`subscribe_all`: one paho subscriber on ``<base>/#``.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

Key = tuple[str, float]  # (probe id, °F as published)

FIRST_F = 150.0
STEP_F = 0.01


def value_f(seq: int) -> float:
    """The ``seq``-th reading of an MQTT probe: unique for that probe over any run shorter than 6 hours."""
    return round(FIRST_F + seq * STEP_F, 2)


def publish_probes(host: str, port: int, topics: dict[str, str], stop: MpEvent, out: Connection) -> None:
    """One reading a second per topic until ``stop``; sends ``{(probe, °F): monotonic publish time}``."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="scale-probes")
    client.max_inflight_messages_set(0)  # no cap: a thousand probes in flight at QoS 1
    client.max_queued_messages_set(0)
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    sent: dict[Key, float] = {}
    items = list(topics.items())
    n = len(items)
    start = time.monotonic()
    seq = 0
    late = 0  # publishes that went out more than 100 ms after their slot: the publisher itself fell behind
    while not stop.is_set():
        second = start + seq
        for i, (probe, topic) in enumerate(items):
            slot = second + i / n
            wait = slot - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            value = value_f(seq)
            now = time.monotonic()
            if now - slot > 0.1:
                late += 1
            sent[(probe, value)] = now
            client.publish(topic, f"{value:.2f}", qos=1)
        seq += 1
    client.disconnect()
    client.loop_stop()
    out.send({"sent": sent, "late": late})


@dataclass
class _Stream:
    sock: socket.socket
    raw: bytearray = field(default_factory=bytearray)  # bytes off the socket, chunked framing still on
    body: bytearray = field(default_factory=bytearray)  # the event stream itself
    headers_done: bool = False
    reconnects: int = 0
    reconnect_at: float | None = None
    ids: array[int] = field(default_factory=lambda: array("q"))
    readings: dict[Key, float] = field(default_factory=dict)
    sim_readings: int = 0


def _connect(host: str, port: int, last_id: int | None = None) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    resume = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{resume}\r\n".encode())
    sock.setblocking(False)
    return sock


def _dechunk(stream: _Stream) -> None:
    raw = stream.raw
    if not stream.headers_done:
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            return
        del raw[: end + 4]
        stream.headers_done = True
    while True:
        line_end = raw.find(b"\r\n")
        if line_end < 0:
            return
        size = int(bytes(raw[:line_end]).split(b";")[0], 16)
        if size == 0:
            return  # the end of the response: the socket's close follows
        if len(raw) < line_end + 2 + size + 2:
            return
        stream.body += raw[line_end + 2 : line_end + 2 + size]
        del raw[: line_end + 2 + size + 2]


def _events(stream: _Stream, now: float) -> None:
    body = stream.body
    while True:
        end = body.find(b"\r\n\r\n")
        if end < 0:
            return
        block = bytes(body[:end])
        del body[: end + 4]
        event_id, name, data = None, b"", b""
        for line in block.split(b"\r\n"):
            if line.startswith(b"id: "):
                event_id = int(line[4:])
            elif line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if event_id is None:
            continue  # the comment, a heartbeat: per stream, not bus events
        stream.ids.append(event_id)
        if name == b"reading":
            reading: dict[str, Any] = json.loads(data)
            probe = reading["probe"]
            if probe.startswith("m"):
                stream.readings[(probe, reading["fahrenheit"])] = now
            else:
                stream.sim_readings += 1


RETRY_S = 2.0  # the service's ``retry:``, which a browser's EventSource waits before it reconnects


def _reconnect(selector: selectors.BaseSelector, stream: _Stream, host: str, port: int) -> None:
    """As EventSource does: the same stream resumed from the last id it saw."""
    stream.reconnect_at = None
    stream.raw.clear()
    stream.body.clear()
    stream.headers_done = False
    stream.reconnects += 1
    stream.sock = _connect(host, port, stream.ids[-1] if stream.ids else None)
    selector.register(stream.sock, selectors.EVENT_READ, stream)


def follow_phones(host: str, port: int, phones: int, stop: MpEvent, out: Connection) -> None:
    """``phones`` event streams until ``stop``, each resumed when cut as a page's EventSource does.

    Sends each one's ids, MQTT-probe arrivals, and how often it was cut.
    """
    selector = selectors.DefaultSelector()
    streams = [_Stream(_connect(host, port)) for _ in range(phones)]
    for stream in streams:
        selector.register(stream.sock, selectors.EVENT_READ, stream)
    out.send("connected")
    while not stop.is_set():
        mono = time.monotonic()
        for stream in streams:
            if stream.reconnect_at is not None and mono >= stream.reconnect_at:
                _reconnect(selector, stream, host, port)
        for key, _ in selector.select(0.2):
            stream = key.data
            try:
                chunk = stream.sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.monotonic()
            if not chunk:
                selector.unregister(stream.sock)
                stream.sock.close()
                stream.reconnect_at = now + RETRY_S
                continue
            stream.raw += chunk
            _dechunk(stream)
            _events(stream, now)
    for stream in streams:
        stream.sock.close()
    out.send(
        [{"ids": s.ids, "readings": s.readings, "sim": s.sim_readings, "reconnects": s.reconnects} for s in streams]
    )


def subscribe_all(host: str, port: int, base: str, stop: MpEvent, out: Connection) -> None:
    """Every message under ``base/#`` until ``stop``; sends the MQTT-probe readings' arrivals and a count of all."""
    arrivals: dict[Key, float] = {}
    counts = {"messages": 0}
    prefix = f"{base}/probe/m"

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        now = time.monotonic()
        counts["messages"] += 1
        topic = message.topic
        if topic.startswith(prefix) and topic.endswith("/temperature"):
            payload = json.loads(message.payload)
            arrivals[(payload["probe"], payload["fahrenheit"])] = now

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="scale-subscriber")
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{base}/#", qos=1)
    client.on_subscribe = lambda *a: out.send("subscribed")
    client.on_message = on_message
    client.connect(host, port, keepalive=30)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()
    out.send({"arrivals": arrivals, "messages": counts["messages"]})

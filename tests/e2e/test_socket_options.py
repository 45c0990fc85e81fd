"""The socket options that keep an MQTT probe's reading in milliseconds, read back from a real ``potwatch run``.

Why each option (docs/mqtt.md, "Latency"; figures in bench/mqtt_probe_latency.py):

- TCP_NODELAY on every connection potwatch writes small messages on: its
  MQTT publisher, its MQTT probe, and each phone's SSE stream (asyncio sets it
  on accepted sockets: checked here, not assumed);
- TCP_QUICKACK re-armed after every read on its MQTT connections, so that the
  broker's Nagle (Mosquitto's default) never waits for our delayed ACK.

Each option is read from the service's own socket (a duplicate of its
descriptor, tests/support/peer_socket.py), on connections to a real
Mosquitto. Figures belong in the benchmark, not here. Borrowing a descriptor
needs ptrace rights over the service (its user, or root): without them
(``EPERM``) the tests skip saying so, and under ``CI=true`` they fail, since
this reading back is the part they exist for.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from drivers.mqtt_link import LinkSettings
from service.mqtt.publisher import KEEPALIVE_S as PUBLISHER_KEEPALIVE_S
from tests.support.broker import Broker, Publisher, mosquitto, mosquitto_binary, mosquitto_factory  # noqa: F401
from tests.support.net import free_port
from tests.support.parts import missing_part
from tests.support.peer_socket import TcpEnds, borrow, tcp_connections
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until

PROBE_TOPIC = "kitchen/pot/temperature"
CONNECTED = re.compile(r"New client connected from 127\.0\.0\.1:(\d+) as \S+ \(p\d+, c\d+, k(\d+)")
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)  # Linux's number, for a Python built without the name


@pytest.fixture
def service(tmp_path: Path, mosquitto: Broker) -> Iterator[ServiceProcess]:  # noqa: F811
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{mosquitto.host}:{mosquitto.port}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "{mosquitto.url(PROBE_TOPIC, "format=number&unit=F")}"\n'
        'stale_after = "30s"\n'
    )
    svc = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port()).start()
    try:
        wait_until(lambda: svc.get("/healthz")["mqtt"]["state"] == "connected", 20, "the publisher to connect")
        yield svc
    finally:
        svc.stop()


def _borrow(pid: int, fd: int) -> socket.socket:
    """The service's socket, or a skip (a failure under CI) when this user may not take it."""
    try:
        return borrow(pid, fd)
    except PermissionError as exc:
        missing_part(f"cannot read the service's socket options: {exc} (run as the service's user or root)")


def _pid(service: ServiceProcess) -> int:
    assert service.proc is not None
    return service.proc.pid


def _to_broker(service: ServiceProcess, broker: Broker, count: int = 2) -> list[TcpEnds]:
    """The service's connections to the broker: its publisher's and its probe's."""

    def found() -> list[TcpEnds]:
        ends = [e for e in tcp_connections(_pid(service)) if e.remote_port == broker.port]
        return ends if len(ends) == count else []

    return wait_until(found, 10, f"{count} connections from potwatch to the broker")


def _reading_arrives(service: ServiceProcess, publisher: Publisher, value: float) -> None:
    publisher.publish(PROBE_TOPIC, f"{value:.2f}", qos=1)

    def arrived() -> bool:
        probe = next(p for p in service.get("/api/status")["probes"] if p["id"] == "pot")
        return bool(probe.get("fahrenheit") == value)

    wait_until(arrived, 10, f"the reading {value} to reach the service")


def test_every_connection_to_the_broker_and_each_phone_stream_sets_tcp_nodelay(
    service: ServiceProcess,
    mosquitto: Broker,  # noqa: F811
) -> None:
    pid = _pid(service)
    for ends in _to_broker(service, mosquitto):
        with _borrow(pid, ends.fd) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1, ends

    # a phone's event stream: the service's end of it is the accepted socket
    with socket.create_connection(("127.0.0.1", service.port)) as phone:
        phone.sendall(b"GET /api/events HTTP/1.1\r\nHost: potwatch\r\nAccept: text/event-stream\r\n\r\n")
        assert phone.recv(4096).startswith(b"HTTP/1.1 200")
        mine = phone.getsockname()[1]
        ends = wait_until(
            lambda: next((e for e in tcp_connections(pid) if e.remote_port == mine), None), 5, "the stream's socket"
        )
        assert ends.local_port == service.port
        with _borrow(pid, ends.fd) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def _probe_connection(service: ServiceProcess, broker: Broker) -> TcpEnds:
    """The probe's connection to the broker, told from the publisher's by its keepalive in the broker's log."""
    probe_keepalive = LinkSettings("broker").keepalive
    assert probe_keepalive != PUBLISHER_KEEPALIVE_S

    def found() -> TcpEnds | None:
        ports = [int(p) for p, k in CONNECTED.findall(broker.log()) if int(k) == probe_keepalive]
        ends = [e for e in tcp_connections(_pid(service)) if e.remote_port == broker.port and e.local_port in ports]
        return ends[-1] if ends else None

    return wait_until(found, 10, "the probe's connection in the broker's log")


def test_quickack_is_re_armed_after_every_read_from_the_broker(
    service: ServiceProcess,
    mosquitto: Broker,  # noqa: F811
) -> None:
    """The probe's connection is put in Linux's "interactive" mode from outside (quick ACKs off:
    ACKs wait up to 40 ms for data to ride on), then a reading is published: by the time the
    service has sent that reading to a phone, its read of it turned quick ACKs back on.

    Without the re-arming, Linux itself turns them back on only when its delayed-ACK timer
    fires (40 ms at least after the data came): on a machine so loaded that the reading takes
    longer than that to reach the phone, this test could pass without the fix, never fail with it.
    """
    pid = _pid(service)
    device = Publisher(mosquitto, client_id="test-wifi-probe")
    try:
        _reading_arrives(service, device, 150.0)
        ends = _probe_connection(service, mosquitto)
        with (
            _borrow(pid, ends.fd) as sock,
            socket.create_connection(("127.0.0.1", service.port)) as phone,
        ):
            phone.sendall(b"GET /api/events HTTP/1.1\r\nHost: potwatch\r\nAccept: text/event-stream\r\n\r\n")
            stream = phone.makefile("rb")
            assert stream.readline().startswith(b"HTTP/1.1 200")
            for value in (151.0, 152.0, 153.0):
                sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 0)
                assert sock.getsockopt(socket.IPPROTO_TCP, TCP_QUICKACK) == 0
                device.publish(PROBE_TOPIC, f"{value:.2f}", qos=1)
                _read_reading(stream, value)
                assert sock.getsockopt(socket.IPPROTO_TCP, TCP_QUICKACK) == 1, value
    finally:
        device.close()


def _read_reading(stream: BinaryIO, value: float) -> None:
    """Read the event stream until the ``reading`` event carrying ``value``."""
    name = ""
    for raw in stream:
        line = raw.decode(errors="replace").strip()
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:") and name == "reading" and json.loads(line[5:])["fahrenheit"] == value:
            return
    raise AssertionError(f"the stream ended before the reading {value}")

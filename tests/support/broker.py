"""A real Mosquitto for tests: started from the binary on a free port with a temporary config.

Never the broker at 127.0.0.1:1883: a developer's own broker (and its retained
messages) must not leak into a test, nor a test into it. The port is chosen
once per ``Broker`` and kept across ``restart()``, so a client reconnecting to
the same address is exactly what happens when a real broker restarts.

Fixtures:

* ``mosquitto``: a running broker, stopped (SIGKILL if need be) after the test;
* ``mosquitto_factory``: make brokers with other configs (not started yet);
* ``publisher``: a paho client connected to ``mosquitto``, to play the device;
* ``make_publisher``: more such clients (with a will, a fixed client id).

A test module loads them with ``pytest_plugins = ["tests.support.broker"]``.

Outside CI a missing ``mosquitto`` binary skips these tests; with ``CI=true`` it
fails them (tests.support.parts.require_binary).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.net import accepting, drop_without_goodbye, free_port
from tests.support.parts import require_binary
from tests.support.tied_child import popen_tied
from tests.support.waiting import wait_until

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0


class BrokerError(RuntimeError):
    pass


class Broker:
    """One Mosquitto process on a fixed port that a test can start, stop, kill and restart.

    ``extra_config`` lines are appended to the listener block (e.g. TLS
    ``certfile``/``keyfile``, or ``allow_anonymous false`` to refuse everyone).
    ``persistence``: keep retained messages in a file of the workdir across a
    clean stop (SIGTERM), as Debian's default configuration does; a SIGKILL
    loses whatever was not saved yet either way.
    """

    def __init__(
        self,
        binary: str,
        workdir: Path,
        extra_config: Sequence[str] = (),
        anonymous: bool = True,
        persistence: bool = False,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.extra_config = list(extra_config)
        self.anonymous = anonymous
        self.persistence = persistence
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"
        self.accepting_at: float | None = None  # time.monotonic() when it last began accepting
        self.starts = 0

    # -- config

    def write_config(self) -> Path:
        path = self.workdir / "mosquitto.conf"
        # Run as root (a CI container), Mosquitto drops to the "mosquitto" user and
        # can then no longer read the test's private temp dir (password file,
        # TLS key): keep it as the user that started it.
        user = ["user root"] if os.geteuid() == 0 else []
        lines = [
            *user,
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'true' if self.anonymous else 'false'}",
            *self.extra_config,
            *(
                ["persistence true", f"persistence_location {self.workdir}/"]
                if self.persistence
                else ["persistence false"]
            ),
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- lifecycle

    def start(self, timeout: float = START_TIMEOUT_S) -> float:
        """Start and wait until the port accepts connections; returns that moment (monotonic)."""
        if self.running:
            raise BrokerError("broker already running")
        config = self.write_config()
        self.proc = popen_tied(  # no Mosquitto outlives a killed test run
            [self.binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.starts += 1
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                raise BrokerError(f"mosquitto exited with {proc.returncode}:\n{self.log()}")
            return accepting(self.host, self.port)

        wait_until(up, timeout, lambda: f"mosquitto to accept on port {self.port}:\n{self.log()}", every=0.01)
        self.accepting_at = time.monotonic()
        return self.accepting_at

    def terminate(self) -> None:
        """SIGTERM: Mosquitto closes every connection and exits cleanly."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: the process vanishes; clients see their sockets die."""
        self._signal(signal.SIGKILL)

    def restart(self, down_for: float = 0.0, kill: bool = False) -> float:
        """Stop (SIGTERM or SIGKILL), stay down ``down_for`` seconds, start on the same port."""
        if kill:
            self.kill()
        else:
            self.terminate()
        time.sleep(down_for)
        return self.start()

    def stop(self) -> None:
        if not self.running:
            return
        self.terminate()

    def _signal(self, sig: signal.Signals) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    # -- addresses

    @contextlib.contextmanager
    def publishing(self, topic: str, payload: str, every: float = 0.02) -> Iterator[None]:
        """A device publishing ``payload`` every ``every`` s from its own thread, reconnecting as needed."""
        stop = threading.Event()

        def run() -> None:
            device: Publisher | None = None
            while not stop.is_set():
                try:
                    device = device or Publisher(self)
                    device.publish(topic, payload, qos=0)
                except Exception:
                    device = None  # broker not back yet: a real device retries too
                stop.wait(every)
            if device is not None:
                device.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)

    def url(self, topic: str, query: str = "", scheme: str = "mqtt", userinfo: str = "") -> str:
        """A probe URL for ``topic`` on this broker (``#`` in the topic is encoded for you)."""
        auth = f"{userinfo}@" if userinfo else ""
        path = topic.replace("#", "%23")
        return f"{scheme}://{auth}{self.host}:{self.port}/{path}" + (f"?{query}" if query else "")

    def __enter__(self) -> Broker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class Publisher:
    """A paho client that plays a device: publish, publish retained, die without a goodbye.

    Blocking calls (``publish`` waits for the broker's PUBACK), for use from
    tests; from async tests call them through ``asyncio.to_thread`` when the
    event loop must keep running meanwhile.
    """

    def __init__(
        self,
        broker: Broker,
        client_id: str = "",
        will: tuple[str, bytes] | None = None,
        connect: bool = True,
    ) -> None:
        self.broker = broker
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.reconnect_delay_set(1, 2)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self._connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self._connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda c, u, f, rc, p: self._connected.clear()
        if connect:
            self.connect()

    def connect(self, timeout: float = 5.0) -> None:
        self.client.connect(self.broker.host, self.broker.port, keepalive=5)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise BrokerError("publisher could not connect")

    def wait_connected(self, timeout: float = 10.0) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5.0)

    def clear_retained(self, topic: str) -> None:
        self.publish(topic, b"", retain=True)

    def vanish(self) -> None:
        """Drop the TCP connection without DISCONNECT, as a device losing power: the broker sends the will."""
        drop_without_goodbye(self.client)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.loop_stop()


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture
def mosquitto_binary() -> str:
    return require_binary("mosquitto")


@pytest.fixture
def mosquitto_factory(mosquitto_binary: str, tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    made: list[Broker] = []

    def make(extra_config: Sequence[str] = (), anonymous: bool = True, persistence: bool = False) -> Broker:
        workdir = tmp_path / f"broker{len(made)}"
        workdir.mkdir()
        broker = Broker(mosquitto_binary, workdir, extra_config, anonymous, persistence)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.kill()


@pytest.fixture
def mosquitto(mosquitto_factory: Callable[..., Broker]) -> Broker:
    broker = mosquitto_factory()
    broker.start()
    return broker


@pytest.fixture
def publisher(mosquitto: Broker) -> Iterator[Publisher]:
    pub = Publisher(mosquitto, client_id=f"test-device-{os.getpid()}")
    yield pub
    pub.close()


@pytest.fixture
def make_publisher() -> Iterator[Callable[..., Publisher]]:
    """``make_publisher(broker, client_id=..., will=(topic, payload))``: more devices, closed after the test."""
    made: list[Publisher] = []

    def make(broker: Broker, client_id: str = "", will: tuple[str, bytes] | None = None) -> Publisher:
        pub = Publisher(broker, client_id, will)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()


def retained_now(broker: Broker, *patterns: str, timeout: float = 5.0) -> dict[str, bytes]:
    """What a fresh subscriber to ``patterns`` gets retained, right now: topic → payload.

    No waiting for silence: the same connection subscribes to the patterns and
    to a marker topic, then publishes on the marker. The broker handles one
    connection's packets in order, so it queued every retained message before
    the marker's; the marker arriving means nothing retained is still to come.
    """
    marker = f"test/retained-barrier/{uuid.uuid4().hex}"
    got: dict[str, bytes] = {}
    done = threading.Event()
    subscribed = threading.Event()
    connected = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        if message.topic == marker:
            done.set()
        elif message.retain and message.payload:
            got[message.topic] = bytes(message.payload)

    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"retained-{uuid.uuid4().hex[:8]}")
    client.on_message = on_message
    client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise BrokerError("could not connect to read the retained messages")
        client.subscribe([(p, 1) for p in (*patterns, marker)])
        if not subscribed.wait(timeout):
            raise BrokerError("could not subscribe to read the retained messages")
        client.publish(marker, b"barrier", qos=1)
        if not done.wait(timeout):
            raise BrokerError("the barrier message never came back")
        return dict(got)
    finally:
        client.disconnect()
        client.loop_stop()

"""What the broker fault scenarios drive and watch around a real ``potwatch run``.

* ``Pot``: a serial probe on a pty printing the temperature it is set to, a few
  times a second, so the cook keeps being fed while the broker is gone;
* ``Recorder``: an MQTT subscriber that keeps every message with its arrival
  time and its retain flag (a message forwarded live has it 0, one replayed
  because we subscribed has it 1: MQTT 3.1.1 §3.3.1.3);
* ``PortHold``: the broker's port held by the test for a moment, so that the
  subscriber is on a returning broker before potwatch is (an alert is not
  retained: sent before the subscriber is there, nobody would hear it);
* ``Serving``: ``/api/status`` polled on a thread all along, every failure and
  the slowest answer kept;
* ``mqtt_config``: the ``[mqtt]`` and probe lines of such a service.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.net import free_port
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess

# What potwatch keeps retained with one probe "pot" (docs/mqtt.md, Topics), discovery aside.
RETAINED_STATE = (
    "potwatch/availability",
    "potwatch/probe/pot/temperature",
    "potwatch/probe/pot/availability",
    "potwatch/cook/state",
    "potwatch/cook/ack/availability",
)
# one probe: temperature, stage, eta, rate, target, sugar stage, active alerts, reached, alert, ack
DISCOVERY_ENTITIES = 10


def is_discovery(topic: str) -> bool:
    return topic.startswith("homeassistant/") and topic.endswith("/config")


def service_with_broker(
    tmp_path: Path, device: PtyDevice, host: str, port: int, mqtt_extra: str = ""
) -> ServiceProcess:
    """``potwatch run`` cooking the caramel on ``device``, publishing to ``host:port`` (not started yet)."""
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{host}:{port}"\n{mqtt_extra}\n\n'
        f'[[probes]]\nid = "pot"\nlabel = "Caramel pot"\n'
        f'url = "serial://{device.path}?baud=9600&format=number&unit=F"\nstale_after = "5s"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


class Pot(threading.Thread):
    """A serial thermometer in the pot: prints ``fahrenheit`` every ``period`` s until stopped.

    ``climb`` walks it to a temperature in small steps, like a syrup boiling
    down (a jump would be rejected as a spike, and rightly).
    """

    def __init__(self, device: PtyDevice, fahrenheit: float = 100.0, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.device, self.fahrenheit, self.period = device, fahrenheit, period
        self.stop_event = threading.Event()
        self.lines = 0
        self._lock = threading.Lock()
        os.set_blocking(device.master, False)

    def run(self) -> None:
        while not self.stop_event.is_set():
            with self._lock:
                self._write(self.fahrenheit)
            self.stop_event.wait(self.period)

    def _write(self, fahrenheit: float) -> None:
        try:
            os.write(self.device.master, f"{fahrenheit:.2f}\n".encode())
            self.lines += 1
        except BlockingIOError:
            pass  # nobody reading yet: a UART drops too
        except OSError:
            self.stop_event.set()

    def climb(self, to_f: float, from_f: float | None = None, step_f: float = 0.1, every: float = 0.01) -> None:
        with self._lock:
            value = self.fahrenheit if from_f is None else from_f
            while value < to_f:
                value = min(to_f, value + step_f)
                self._write(value)
                time.sleep(every)
            self.fahrenheit = to_f

    def say(self, fahrenheit: float) -> None:
        """One line now (a barrier: its reading comes out after everything sent before it)."""
        with self._lock:
            self.fahrenheit = fahrenheit
            self._write(fahrenheit)

    def __enter__(self) -> Pot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.join(2)


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    at: float  # time.monotonic() when it arrived

    @property
    def text(self) -> str:
        return self.payload.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.payload)


class Recorder:
    """A paho subscriber on its own thread, connected once (it does not follow a broker's restart)."""

    def __init__(self, host: str, port: int, topics: tuple[str, ...] = ("potwatch/#", "homeassistant/#")) -> None:
        self.messages: list[Seen] = []
        self._changed = threading.Condition()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"recorder-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not subscribed.wait(5):
            self.close()
            raise AssertionError(f"the recorder could not subscribe on {host}:{port}")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        seen = Seen(message.topic, bytes(message.payload), bool(message.retain), message.qos, time.monotonic())
        with self._changed:
            self.messages.append(seen)
            self._changed.notify_all()

    def all(self, topic: str | None = None, after: int = 0) -> list[Seen]:
        with self._changed:
            return [m for m in self.messages[after:] if topic is None or m.topic == topic]

    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def wait_for(self, check: Callable[[Seen], bool], timeout: float, after: int = 0, what: str = "") -> Seen:
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages[after:]:
                    if check(message):
                        return message
                left = end - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages[after:]})
                    raise AssertionError(f"no message {what} within {timeout} s; topics seen since: {topics}")
                self._changed.wait(left)

    def live(self, after: int = 0) -> dict[str, Seen]:
        """The first live (not replayed) message on each topic since ``after``."""
        first: dict[str, Seen] = {}
        for message in self.all(after=after):
            if not message.retain:
                first.setdefault(message.topic, message)
        return first

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        with contextlib.suppress(Exception):
            self.client.loop_stop()


@contextlib.contextmanager
def recording(host: str, port: int, *topics: str) -> Iterator[Recorder]:
    recorder = Recorder(host, port, topics or ("potwatch/#", "homeassistant/#"))
    try:
        yield recorder
    finally:
        recorder.close()


class PortHold:
    """The broker's port held by the test: connections are accepted and left unanswered.

    potwatch's attempt then waits for a CONNACK that does not come, so it is
    surely not on the broker that starts next; ``release`` closes the held
    connections, and potwatch tries again at once (its shortest backoff).
    """

    def __init__(self, host: str, port: int) -> None:
        self.opened_at = time.monotonic()
        self.listener = socket.create_server((host, port))
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop_listening(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(2)

    def release(self) -> None:
        for conn in self.held:
            with contextlib.suppress(OSError):
                conn.close()
        self.held = []


class Serving(threading.Thread):
    """``GET /api/status`` every ``every`` s until stopped: every failure and the slowest answer, kept."""

    def __init__(self, service: ServiceProcess, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.service, self.every = service, every
        self.answers = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self.probe_states: set[str] = set()
        self.stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.service.base, timeout=5.0) as client:
            while not self.stop_event.is_set():
                start = time.monotonic()
                try:
                    response = client.get("/api/status")
                    took = time.monotonic() - start
                    if response.status_code != 200:
                        self.failures.append(f"HTTP {response.status_code}")
                    else:
                        self.answers += 1
                        self.slowest = max(self.slowest, took)
                        self.probe_states.update(p["state"] for p in response.json()["probes"])
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.stop_event.wait(self.every)

    def __enter__(self) -> Serving:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.join(6)


def mqtt_health(service: ServiceProcess) -> str:
    return str(service.get("/healthz")["mqtt"]["state"])

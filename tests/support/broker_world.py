"""What the broker fault scenarios drive and watch around a real ``potwatch run``.

* ``PortHold``: the broker's port held by the test for a moment, so that the
  subscriber is on a returning broker before potwatch is (an alert is not
  retained: sent before the subscriber is there, nobody would hear it);
* ``Serving``: ``/api/status`` polled on a thread all along, every failure and
  the slowest answer kept;
* ``service_with_broker``: such a service, cooking on a pty probe.

The pot itself is ``tests.support.pty_device.Thermometer``, the subscriber
``tests.support.mqtt_watch.Recorder``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx

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

"""MQTT latency, end to end: a line on a serial pty → an MQTT subscriber, beside the broker's own floor.

    .venv/bin/python -m bench.mqtt_latency [--readings 300] [--alerts 300] [--nagle] [--sse] [--broker-nodelay both]

Starts a Mosquitto of its own (from the binary, on a free port; never the one
on :1883) and a real ``potwatch run`` reading a serial pty
(``serial://<pty>?baud=9600&format=number&unit=F``) with a caramel cook and
``[mqtt]`` pointed at that broker. A paho subscriber in this process
time-stamps every message as paho hands it over.

- reading: a line with a unique temperature is written to the pty; the clock
  stops when ``potwatch/probe/<id>/temperature`` carrying that value arrives;
- alert: a fresh cook is fed a climb through 225 °F, a line every 20 ms (each
  value unique); the clock starts when the line that decided was written (the
  reading published in the same hub step as the alert) and stops when
  ``potwatch/cook/alert`` arrives; with ``--sse`` the same alert's arrival on
  an SSE client (a phone) is timed too, to tell the hub's share from MQTT's —
  the SSE client's thread in this process then slows the time-stamping a little;
- floor: in the same run, with the same broker and subscriber, a paho
  publisher in this process (TCP_NODELAY set, as the service sets it)
  publishes payloads of the same sizes: publisher → Mosquitto → subscriber,
  the least any MQTT publisher can do here. Also each message right after
  another small one (the shape of the service's traffic: a reading, then the
  cook's state), which is where Nagle's algorithm bites.

Each is run against Mosquitto as installed (``set_tcp_nodelay false``, its
default) and with ``set_tcp_nodelay true``: the broker's own sockets to the
subscriber are the other half of the story. ``--nagle`` also runs the service
with TCP_NODELAY left off (the bench patches it out; the service has no such
switch).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.service import RawSse  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.pty_device import PtyDevice  # noqa: E402
from tests.support.tied_child import popen_tied, stop_group  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

LAUNCH = (
    "import sys\n"
    "from bench.fixes import disable\n"
    "disable(sys.argv.pop(1))\n"
    "from service.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):6.2f} ms   p99 {pct(values, 0.99):6.2f} ms   (n={len(values)})"


class Subscriber:
    """Every message on ``topics``, stamped with perf_counter() when paho hands it over."""

    def __init__(self, broker: Broker, topics: list[str], name: str = "sub") -> None:
        self.messages: list[tuple[float, str, bytes]] = []
        self.cond = threading.Condition()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{name}-{os.getpid()}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not ready.wait(5):
            raise SystemExit("the subscriber could not subscribe")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        with self.cond:
            self.messages.append((now, message.topic, bytes(message.payload)))
            self.cond.notify_all()

    def wait_for(self, after: int, match: Callable[[str, bytes], bool], timeout: float = 5.0) -> tuple[int, float]:
        """The index after, and the arrival time of, the first message from ``after`` on that matches."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.messages)):
                    at, topic, payload = self.messages[i]
                    if match(topic, payload):
                        return i + 1, at
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the message never came")
                self.cond.wait(left)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _nodelay(client: paho.Client, userdata: object, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _numbered(topic: str, k: int) -> Callable[[str, bytes], bool]:
    return lambda t, p: t == topic and json.loads(p)["k"] == k


def floor(
    broker: Broker, sub: Subscriber, count: int, size: int, *, nodelay: bool, qos: int, lead: bool = False
) -> list[float]:
    """paho → Mosquitto → paho for ``count`` messages of ``size`` bytes.

    ``lead``: each right after a small message, as the service's traffic goes (a
    reading, then the cook's state): the shape in which Nagle's algorithm bites.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}-{nodelay}-{qos}-{lead}")
    if nodelay:
        client.on_socket_open = _nodelay
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    topic = f"bench/floor/{int(nodelay)}/{qos}/{int(lead)}"
    lat: list[float] = []
    try:
        time.sleep(0.2)
        seen = len(sub.messages)
        for k in range(count):
            body = json.dumps({"k": k, "pad": "x" * size})
            if lead:
                client.publish(f"{topic}/lead", b"{}", qos=0)
            start = time.perf_counter()
            client.publish(topic, body, qos=qos)
            seen, at = sub.wait_for(seen, _numbered(topic, k))
            lat.append((at - start) * 1000)
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return lat


@contextlib.contextmanager
def potwatch(broker: Broker, device: PtyDevice, tmp: Path, nagle: bool) -> Iterator[str]:
    """A ``potwatch run`` on the pty and the broker; yields its base URL."""
    url = f"serial://{device.path}?baud=9600&format=number&unit=F"
    with potwatch_on(broker, url, tmp, "nodelay" if nagle else "") as base:
        yield base


@contextlib.contextmanager
def potwatch_on(broker: Broker, probe_url: str, tmp: Path, disabled: str = "") -> Iterator[str]:
    """A ``potwatch run`` with one probe ``pot`` at ``probe_url``, a caramel cook on it and ``[mqtt]``
    on ``broker``; ``disabled``: the latency fixes to leave out (bench/fixes.py). Yields its base URL."""
    config = tmp / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "{probe_url}"\n'
        'stale_after = "30s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    port = free_port()
    log = (tmp / "service.log").open("ab")
    proc = popen_tied(  # no potwatch outlives a bench killed or interrupted
        [
            sys.executable,
            "-c",
            LAUNCH,
            disabled or "-",
            "run",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"potwatch exited: {(tmp / 'service.log').read_text()[-2000:]}")
        try:
            state = httpx.get(base + "/healthz", timeout=1).json().get("mqtt", {}).get("state")
            return bool(state == "connected")
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 30, "potwatch to serve and connect to the broker")
        yield base
    finally:
        stop_group(proc)
        log.close()


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure_service(
    base: str, port: int, device: PtyDevice, sub: Subscriber, readings: int, alerts: int, with_sse: bool
) -> dict[str, list[float]]:
    """Latencies of readings and alerts to the MQTT subscriber (and of the same alerts to an SSE client)."""
    probe_topic = "potwatch/probe/pot/temperature"
    sse = RawSse(port) if with_sse else None

    def is_reading(value: float) -> Callable[[str, bytes], bool]:
        return lambda t, p: t == probe_topic and json.loads(p)["fahrenheit"] == value

    # the serial driver drops what came before it opened the port
    wait_until(lambda: _arrived(device, sub, is_reading(100.0)), 20, "the first reading on MQTT", every=0.0)
    seen = len(sub.messages)
    rlat: list[float] = []
    for k in range(readings):
        value = round(150.0 + (k % 400) * 0.01 + (k // 400) * 5, 2)
        start = time.perf_counter()
        device.write(f"{value:.2f}\n".encode())
        seen, at = sub.wait_for(seen, is_reading(value))
        rlat.append((at - start) * 1000)
        time.sleep(0.01)

    alat: list[float] = []
    slat: list[float] = []
    timer_decided = 0
    while len(alat) < alerts:
        httpx.post(base + "/api/cooks/current/stop", timeout=5)
        httpx.post(base + "/api/cooks", json={"profile": "caramel", "probe": "pot"}, timeout=5)
        mark = len(sub.messages)
        sse_mark = len(sse.events) if sse is not None else 0
        written: dict[float, float] = {}
        got = None
        for j in range(400):
            value = round(224.2 + j * 0.02, 2)
            written[value] = time.perf_counter()
            device.write(f"{value:.2f}\n".encode())
            try:
                got = sub.wait_for(
                    mark,
                    lambda t, p: t == "potwatch/cook/alert" and json.loads(p)["kind"] == "target_reached",
                    timeout=0.02,
                )
                break
            except TimeoutError:
                continue
        if got is None:
            raise SystemExit("no target_reached alert on MQTT in a climb through 225 °F")
        index, at = got
        alert = json.loads(sub.messages[index - 1][2])
        # The alert's temperature is the tracker's filtered level, not the line's. The line
        # that decided is the reading of the same hub step: it has the alert's time (to the
        # millisecond) and reaches MQTT just after the alert, which goes first.
        sub.wait_for(index, lambda t, p: t == probe_topic)
        when = _iso(alert["at"])
        decider = next(
            (
                json.loads(p)["fahrenheit"]
                for _, t, p in sub.messages[index : index + 5]
                if t == probe_topic and abs(_iso(json.loads(p)["at"]) - when) <= 0.002
            ),
            None,
        )
        if decider is None:
            # decided by a timer between two lines (a confirmation deadline of the tracker),
            # not by a line: there is no write to start the clock at
            timer_decided += 1
            continue
        decided = written[round(float(decider), 2)]
        alat.append((at - decided) * 1000)
        if sse is not None:
            _, sse_at = sse.wait_for(sse_mark, lambda n, d, i=alert["id"]: n == "alert" and d.get("id") == i)
            slat.append((sse_at - decided) * 1000)
    if timer_decided:
        print(f"  ({timer_decided} alerts decided by a timer rather than a line were not counted)", flush=True)
    out = {"pty line → MQTT reading": rlat, "deciding pty line → MQTT alert": alat}
    if sse is not None:
        out["deciding pty line → SSE alert (same alerts)"] = slat
    return out


def _try(call: Callable[[], object]) -> bool:
    try:
        call()
        return True
    except TimeoutError:
        return False


def _arrived(device: PtyDevice, sub: Subscriber, match: Callable[[str, bytes], bool]) -> bool:
    mark = len(sub.messages)
    device.write(b"100.00\n")
    return _try(lambda: sub.wait_for(mark, match, timeout=0.2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--nagle", action="store_true", help="also run the service without TCP_NODELAY")
    parser.add_argument(
        "--sse", action="store_true", help="a phone too: time the same alerts on an SSE client (all a bit slower)"
    )
    parser.add_argument(
        "--broker-nodelay",
        choices=["off", "on", "both"],
        default="both",
        help="Mosquitto's set_tcp_nodelay (its default is off)",
    )
    args = parser.parse_args(argv)
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
    tmp = Path(tempfile.mkdtemp(prefix="pw-mqtt-bench-"))
    brokers = {"off": [False], "on": [True], "both": [False, True]}[args.broker_nodelay]
    results: dict[str, list[float]] = {}
    for broker_nodelay in brokers:
        where = tmp / f"broker-nodelay-{broker_nodelay}"
        where.mkdir()
        broker = Broker(binary, where, ["set_tcp_nodelay true"] if broker_nodelay else [])
        broker.start()
        sub = Subscriber(broker, ["potwatch/#", "bench/#"])
        tag = f"Mosquitto set_tcp_nodelay {'true' if broker_nodelay else 'false (default)'}"
        try:
            rows: dict[str, list[float]] = {}
            n = args.readings
            rows["floor: paho → Mosquitto → paho, QoS 0, 260 B"] = floor(broker, sub, n, 260, nodelay=True, qos=0)
            rows["floor: paho → Mosquitto → paho, QoS 1, 420 B"] = floor(broker, sub, n, 420, nodelay=True, qos=1)
            rows["floor, QoS 1 right after another message"] = floor(
                broker, sub, n, 420, nodelay=True, qos=1, lead=True
            )
            for nagle in [False, True] if args.nagle else [False]:
                label = "potwatch without TCP_NODELAY" if nagle else "potwatch"
                with PtyDevice() as device:
                    run_tmp = where / ("nagle" if nagle else "nodelay")
                    run_tmp.mkdir()
                    with potwatch(broker, device, run_tmp, nagle) as base:
                        port = int(base.rsplit(":", 1)[1])
                        measured = measure_service(base, port, device, sub, args.readings, args.alerts, args.sse)
                rows.update({f"{label}: {what}": values for what, values in measured.items()})
            if args.nagle:
                rows["floor, QoS 1 right after another, publisher without TCP_NODELAY"] = floor(
                    broker, sub, n, 420, nodelay=False, qos=1, lead=True
                )
        finally:
            sub.close()
            broker.kill()
        print(f"\n{tag}")
        width = max(len(k) for k in rows)
        for name, values in rows.items():
            print(f"  {name:<{width}}  {summary(values)}", flush=True)
        results.update({f"{tag}: {k}": v for k, v in rows.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An MQTT probe, end to end: potwatch beside a Node-RED flow and the broker's floor, in one run.

    .venv/bin/python -m bench.mqtt_probe_latency [--readings 300] [--alerts 100]
        [--broker-nodelay both] [--without nodelay,quickack] [--gap 0.01]

A Wi-Fi probe is played by a paho client in this process publishing a plain
number (°F) at QoS 1 on ``kitchen/pot/temperature``, as ESPHome or Tasmota
would, with paho's defaults (Nagle on, as on a device's lwIP). On the same
Mosquitto (started from the binary, on a free port) and in the same run:

- **potwatch**: a real ``potwatch run`` with the probe
  ``mqtt://…/kitchen/pot/temperature?format=number&unit=F`` and a caramel cook
  on it; the clock stops when ``potwatch/probe/pot/temperature`` carrying the
  value reaches a paho subscriber, and when the ``reading`` event carrying it
  reaches an SSE client (a phone);
- **Node-RED 4** (bench/node_red.py): mqtt in → switch → mqtt out, the reading
  republished on ``nodered/probe/pot/temperature``, one at or past 225 °F on
  ``nodered/alert``; the clock stops when the subscriber has it;
- **the floor**: a second paho client publishing the same payload at QoS 1 on
  another topic, straight to the subscriber: probe → Mosquitto → paho, the
  least any relay can add to.

Each reading is published once and timed on every path it takes (potwatch,
Node-RED and the SSE client at once); the floor is interleaved with it.
Alerts: a fresh cook climbs through 225 °F, a publish every 20 ms (each value
unique); the clock starts at the publish of the value that decided (the
reading potwatch published in the same hub step as the alert) and stops when
``potwatch/cook/alert`` reaches the subscriber and the ``alert`` event the SSE
client; Node-RED's alert is timed from the first value at or past 225 °F.

All of it against Mosquitto as installed (``set_tcp_nodelay false``, its
default) and with ``set_tcp_nodelay true``. ``--without`` leaves out some of
potwatch's fixes (bench/fixes.py), to show what each is worth.

The subscriber and the SSE client live in this process, each on its own
thread: their time stamps (``perf_counter``, the system's monotonic clock)
are taken as their thread gets the interpreter, so every path pays the same
small share of that.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import node_red  # noqa: E402
from bench.fixes import parse as parse_fixes  # noqa: E402
from bench.mqtt_latency import Subscriber, _iso, potwatch_on  # noqa: E402
from bench.service import RawSse  # noqa: E402
from bench.stats import summary  # noqa: E402
from tests.support.broker import Broker  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

PROBE_TOPIC = "kitchen/pot/temperature"
FLOOR_TOPIC = "kitchen/floor/temperature"
POTWATCH_TOPIC = "potwatch/probe/pot/temperature"
NODERED_TOPIC = node_red.READING_TOPIC.format(probe="pot")
TARGET_F = 225.0


class Probe:
    """A Wi-Fi probe: a paho client publishing at QoS 1 with its defaults (no TCP_NODELAY)."""

    def __init__(self, broker: Broker, name: str) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{name}-{os.getpid()}")
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5, f"the {name} to connect")

    def publish(self, topic: str, value: float) -> float:
        """Publish ``value`` (°F, two decimals); the moment it was handed to paho."""
        start = time.perf_counter()
        self.client.publish(topic, f"{value:.2f}", qos=1)
        return start

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _value_on(topic: str, value: float) -> Callable[[str, bytes], bool]:
    if topic == POTWATCH_TOPIC:
        return lambda t, p: t == topic and json.loads(p)["fahrenheit"] == value
    return lambda t, p: t == topic and p and float(p) == value


def _sse_reading(value: float) -> Callable[[str, dict[str, object]], bool]:
    return lambda n, d: n == "reading" and d.get("probe") == "pot" and d.get("fahrenheit") == value


@dataclass(frozen=True)
class Listeners:
    """One subscriber per path, each on its own connection, and a phone on SSE.

    Apart, as a consumer of each would be: one subscriber hearing two relays
    gets two small messages at once, and with the broker's default the second
    waits for that subscriber's delayed ACK (the floor's "right after another
    message" in bench/mqtt_latency.py), whichever relay it came from.
    """

    potwatch: Subscriber
    node_red: Subscriber
    floor: Subscriber
    sse: RawSse

    def close(self) -> None:
        for sub in (self.potwatch, self.node_red, self.floor):
            sub.close()


def readings(probe: Probe, floor_probe: Probe, ears: Listeners, count: int, gap: float) -> dict[str, list[float]]:
    """Each value published once, timed to potwatch's MQTT, its SSE, Node-RED; then a floor publish."""
    out: dict[str, list[float]] = {k: [] for k in ("potwatch MQTT", "potwatch SSE", "Node-RED", "floor")}
    for k in range(count):
        value = round(150.0 + (k % 400) * 0.01 + (k // 400) * 5, 2)
        pw, red, sse = len(ears.potwatch.messages), len(ears.node_red.messages), len(ears.sse.events)
        start = probe.publish(PROBE_TOPIC, value)
        _, at = ears.potwatch.wait_for(pw, _value_on(POTWATCH_TOPIC, value))
        out["potwatch MQTT"].append((at - start) * 1000)
        _, at = ears.node_red.wait_for(red, _value_on(NODERED_TOPIC, value))
        out["Node-RED"].append((at - start) * 1000)
        _, at = ears.sse.wait_for(sse, _sse_reading(value))
        out["potwatch SSE"].append((at - start) * 1000)
        time.sleep(gap)
        seen = len(ears.floor.messages)
        start = floor_probe.publish(FLOOR_TOPIC, value)
        _, at = ears.floor.wait_for(seen, _value_on(FLOOR_TOPIC, value))
        out["floor"].append((at - start) * 1000)
        time.sleep(gap)
    return out


def alerts(base: str, probe: Probe, ears: Listeners, count: int) -> dict[str, list[float]]:
    """A fresh cook climbing through 225 °F, ``count`` times: the deciding publish → the alert."""
    out: dict[str, list[float]] = {k: [] for k in ("potwatch MQTT", "potwatch SSE", "Node-RED")}
    timer_decided = 0
    while len(out["potwatch MQTT"]) < count:
        httpx.post(base + "/api/cooks/current/stop", timeout=5)
        httpx.post(base + "/api/cooks", json={"profile": "caramel", "probe": "pot"}, timeout=5)
        sub, sse = ears.potwatch, ears.sse
        mark, red_mark, sse_mark = len(sub.messages), len(ears.node_red.messages), len(sse.events)
        published: dict[float, float] = {}
        got = None
        for j in range(400):
            value = round(224.2 + j * 0.02, 2)
            published[value] = probe.publish(PROBE_TOPIC, value)
            if got is None:
                with contextlib.suppress(TimeoutError):
                    got = sub.wait_for(
                        mark,
                        lambda t, p: t == "potwatch/cook/alert" and json.loads(p)["kind"] == "target_reached",
                        timeout=0.02,
                    )
            else:
                time.sleep(0.02)
            if got is not None and value >= TARGET_F:
                break  # the climb goes on past 225 °F for Node-RED's switch, when potwatch rang before it
        if got is None:
            raise SystemExit("no target_reached alert on MQTT in a climb through 225 °F")
        index, at = got
        alert = json.loads(sub.messages[index - 1][2])
        # the line that decided: the reading of the same hub step, with the alert's time (it goes
        # out just before the alert, in the hub's step; a later reading is waited for in case)
        sub.wait_for(index, lambda t, p: t == POTWATCH_TOPIC)
        when = _iso(alert["at"])
        decider = next(
            (
                json.loads(p)["fahrenheit"]
                for _, t, p in sub.messages[max(0, index - 6) : index + 5]
                if t == POTWATCH_TOPIC and abs(_iso(json.loads(p)["at"]) - when) <= 0.002
            ),
            None,
        )
        first_past = min(v for v in published if v >= TARGET_F)
        _, red_at = ears.node_red.wait_for(
            red_mark, lambda t, p, v=first_past: t == node_red.ALERT_TOPIC and float(p) == v
        )
        out["Node-RED"].append((red_at - published[first_past]) * 1000)
        if decider is None:
            timer_decided += 1  # decided by a tracker deadline between two publishes: no start to time from
            continue
        start = published[round(float(decider), 2)]
        out["potwatch MQTT"].append((at - start) * 1000)
        _, sse_at = sse.wait_for(sse_mark, lambda n, d, i=alert["id"]: n == "alert" and d.get("id") == i)
        out["potwatch SSE"].append((sse_at - start) * 1000)
    if timer_decided:
        print(f"  ({timer_decided} alerts decided by a timer rather than a publish were not counted)", flush=True)
    return out


def run_one(broker: Broker, where: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    topics = {"potwatch": "potwatch/#", "nodered": "nodered/#", "floor": FLOOR_TOPIC}
    subs = [Subscriber(broker, [topic], f"sub-{name}") for name, topic in topics.items()]
    probe = Probe(broker, "probe")
    floor_probe = Probe(broker, "floor-probe")
    probe_url = f"mqtt://{broker.host}:{broker.port}/{PROBE_TOPIC}?format=number&unit=F"
    rows: dict[str, list[float]] = {}
    try:
        with (
            node_red.running(broker, where, PROBE_TOPIC, "pot", TARGET_F),
            potwatch_on(broker, probe_url, where, args.without) as base,
        ):
            port = int(base.rsplit(":", 1)[1])
            ears = Listeners(*subs, RawSse(port))
            # warm up: both relays subscribed and forwarding
            wait_until(
                lambda: (
                    probe.publish(PROBE_TOPIC, 100.0),
                    _arrived(ears, 100.0),
                )[1],
                30,
                "the first reading through potwatch and Node-RED",
                every=0.2,
            )
            time.sleep(0.5)
            got = readings(probe, floor_probe, ears, args.readings, args.gap)
            rows.update({f"probe → {k} reading": v for k, v in got.items()})
            if args.alerts:
                got = alerts(base, probe, ears, args.alerts)
                rows.update({f"probe → {k} alert": v for k, v in got.items()})
    finally:
        probe.close()
        floor_probe.close()
        for sub in subs:
            sub.close()
    return rows


def _arrived(ears: Listeners, value: float) -> bool:
    try:
        ears.potwatch.wait_for(0, _value_on(POTWATCH_TOPIC, value), timeout=0.2)
        ears.node_red.wait_for(0, _value_on(NODERED_TOPIC, value), timeout=0.2)
        return True
    except TimeoutError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.01, help="seconds between one message's arrival and the next")
    parser.add_argument(
        "--broker-nodelay", choices=["off", "on", "both"], default="both", help="Mosquitto's set_tcp_nodelay"
    )
    parser.add_argument("--without", default="", help="potwatch's fixes to leave out, comma-separated (bench/fixes.py)")
    args = parser.parse_args(argv)
    parse_fixes(args.without)
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
    red_version = node_red.version(node_red.ensure_installed())
    tmp = Path(tempfile.mkdtemp(prefix="pw-mqtt-probe-bench-"))
    fixes = f"without {args.without}" if args.without else "all fixes"
    print(f"potwatch ({fixes}), Node-RED {red_version}, gap {args.gap * 1000:g} ms", flush=True)
    for broker_nodelay in {"off": [False], "on": [True], "both": [False, True]}[args.broker_nodelay]:
        where = tmp / f"broker-nodelay-{broker_nodelay}"
        where.mkdir()
        broker = Broker(binary, where, ["set_tcp_nodelay true"] if broker_nodelay else [])
        broker.start()
        try:
            rows = run_one(broker, where, args)
        finally:
            broker.kill()
        print(f"\nMosquitto set_tcp_nodelay {'true' if broker_nodelay else 'false (default)'}")
        width = max(len(k) for k in rows)
        for name, values in rows.items():
            print(f"  {name:<{width}}  {summary(values)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A Node-RED 4 flow to compare potwatch with: mqtt in → switch → mqtt out, on the bench's broker.

Node-RED is installed from npm (``npm install node-red@4``) into a cache
directory outside the checkout, once: ``$POTWATCH_NODE_RED`` if set, else
``$XDG_CACHE_HOME/potwatch/node-red`` (``~/.cache/potwatch/node-red``). It runs
on the machine's Node.js (20 or later) with a user dir of its own per run.

The flow is what a Node-RED user writes for a probe: an ``mqtt in`` on the
probe's topic at QoS 0, exactly as potwatch's own MQTT probe subscribes (the
probe publishes at QoS 1; the broker delivers at the lower of the two, so
neither relay owes the broker a PUBACK), a ``switch`` on the
payload with two rules checked together, and two ``mqtt out``: every numeric
reading to ``nodered/probe/<id>/temperature`` (retained, QoS 0, as potwatch
publishes its readings), and a reading at or past the target to
``nodered/alert`` (QoS 1, as potwatch's alert). No confirmation, no filter:
the cheapest alarm there is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.broker import Broker
from tests.support.net import free_port
from tests.support.tied_child import popen_tied, sigterm_raises, stop_group
from tests.support.waiting import wait_until

VERSION = "4"
# node ids as the editor makes them (16 hex digits): a plain word such as "switch" can be
# taken for a node type and fail the flow ("Circular config node dependency")
IDS = {
    "tab": "a1b2c3d4e5f60001",
    "broker": "a1b2c3d4e5f60002",
    "in": "a1b2c3d4e5f60003",
    "switch": "a1b2c3d4e5f60004",
    "reading": "a1b2c3d4e5f60005",
    "alert": "a1b2c3d4e5f60006",
}
READING_TOPIC = "nodered/probe/{probe}/temperature"
ALERT_TOPIC = "nodered/alert"
# potwatch's MQTT probe subscribes at QoS 0 (drivers/mqtt_probe.py): the same here, or the
# comparison measures the QoS (a PUBACK on the relay's connection), not the relay
PROBE_QOS = 0


def home() -> Path:
    """Where Node-RED is installed: never inside the checkout."""
    explicit = os.environ.get("POTWATCH_NODE_RED")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "potwatch" / "node-red"


def ensure_installed() -> Path:
    """``red.js`` of an installed Node-RED 4, installing it from npm the first time."""
    where = home()
    red = where / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("Node-RED needs Node.js and npm (Debian: apt-get install nodejs npm)")
    where.mkdir(parents=True, exist_ok=True)
    print(f"installing Node-RED {VERSION} into {where} (once)…", flush=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(where), f"node-red@{VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if not red.exists():
        raise SystemExit(f"npm installed Node-RED, but {red} is missing")
    return red


def version(red: Path) -> str:
    package = red.parent / "package.json"
    return str(json.loads(package.read_text())["version"])


def flow(broker: Broker, probe_topic: str, probe_id: str, target_f: float) -> list[dict[str, object]]:
    """The flow, as the editor exports it."""
    return [
        {"id": IDS["tab"], "type": "tab", "label": "probe"},
        {
            "id": IDS["broker"],
            "type": "mqtt-broker",
            "name": "bench",
            "broker": broker.host,
            "port": str(broker.port),
            "clientid": f"nodered-bench-{os.getpid()}",
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "15",
            "cleansession": True,
        },
        {
            "id": IDS["in"],
            "type": "mqtt in",
            "z": IDS["tab"],
            "topic": probe_topic,
            "qos": str(PROBE_QOS),
            "datatype": "auto-detect",
            "broker": IDS["broker"],
            "nl": False,
            "rap": True,
            "rh": 0,
            "inputs": 0,
            "wires": [[IDS["switch"]]],
        },
        {
            "id": IDS["switch"],
            "type": "switch",
            "z": IDS["tab"],
            "property": "payload",
            "propertyType": "msg",
            "rules": [
                {"t": "gte", "v": "-1000", "vt": "num"},
                {"t": "gte", "v": str(target_f), "vt": "num"},
            ],
            "checkall": "true",
            "repair": False,
            "outputs": 2,
            "wires": [[IDS["reading"]], [IDS["alert"]]],
        },
        {
            "id": IDS["reading"],
            "type": "mqtt out",
            "z": IDS["tab"],
            "topic": READING_TOPIC.format(probe=probe_id),
            "qos": "0",
            "retain": "true",
            "broker": IDS["broker"],
            "wires": [],
        },
        {
            "id": IDS["alert"],
            "type": "mqtt out",
            "z": IDS["tab"],
            "topic": ALERT_TOPIC,
            "qos": "1",
            "retain": "false",
            "broker": IDS["broker"],
            "wires": [],
        },
    ]


@contextlib.contextmanager
def running(broker: Broker, workdir: Path, probe_topic: str, probe_id: str, target_f: float) -> Iterator[str]:
    """A Node-RED with the flow deployed, connected to ``broker``; yields its version."""
    with sigterm_raises():  # a bench stopped with SIGTERM stops its Node-RED as Ctrl-C does
        red = ensure_installed()
        user_dir = workdir / "node-red"
        user_dir.mkdir(parents=True, exist_ok=True)
        (user_dir / "flows.json").write_text(json.dumps(flow(broker, probe_topic, probe_id, target_f), indent=1))
        log_path = workdir / "node-red.log"
        log = log_path.open("ab")
        proc = popen_tied(  # no Node-RED outlives a bench killed or interrupted
            ["node", str(red), "--userDir", str(user_dir), "--port", str(free_port()), "flows.json"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def connected() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"Node-RED exited: {log_path.read_text()[-2000:]}")
            text = log_path.read_text(errors="replace")
            if "Error:" in text or "[error]" in text:
                raise SystemExit(f"Node-RED could not start the flow: {text[-2000:]}")
            return "Connected to broker" in text

        try:
            wait_until(connected, 60, "Node-RED to start and connect to the broker", every=0.2)
            yield version(red)
        finally:
            stop_group(proc)
            log.close()

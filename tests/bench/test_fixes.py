"""The latency benches' switches: each name leaves out one real fix in a real ``potwatch run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.fixes import FIXES, parse

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_checked_before_anything_runs() -> None:
    assert parse("") == [] and parse("-") == []
    assert parse("nodelay, quickack") == ["nodelay", "quickack"]
    with pytest.raises(SystemExit, match="unknown fix 'nagle'"):
        parse("nodelay,nagle")


@pytest.mark.parametrize("name", FIXES)
def test_each_fix_is_left_out_where_the_service_reads_it(name: str) -> None:
    """In a fresh interpreter, as the benches' launcher does: the service's own code, after ``disable``."""
    probe = {
        "nodelay": "import drivers.mqtt_link as m, socket; s = socket.socket(); m.set_nodelay(s); "
        "print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))",
        "quickack": "import drivers.tcp_options as t, socket; s = socket.socket(); "
        "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0); t.QuickAck().rearm(s); "
        "print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))",
        # the QoS each of the publisher's reading senders sees by the name it reads (it fails if one
        # stops reading PROBE_QOS, and the switch would leave nothing out there)
        "reading-qos1": "import inspect, service.mqtt.publisher as p; print(sorted({inspect.getclosurevars(f)"
        ".globals['PROBE_QOS'] for f in (p.MqttPublisher._send_reading, p.MqttPublisher._send_held, "
        "p.MqttPublisher._send_probe_change, p.MqttPublisher._send_probe)}))",
    }[name]
    on, off = (
        subprocess.run(
            [sys.executable, "-c", f"from bench.fixes import disable; disable({which!r}); {probe}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for which in ("", name)
    )
    assert on != off, (name, on, off)

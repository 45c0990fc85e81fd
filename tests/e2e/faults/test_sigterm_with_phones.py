"""Scenario 7: SIGTERM (``systemctl stop``, a reboot) while three phones follow the cook.

A real ``potwatch run`` on a serial pty, publishing to a real Mosquitto that a
subscriber watches, three phones on ``/api/events``. A reading goes in, is seen
on every phone, and SIGTERM follows at once. What must hold: the process exits
in under 5 s (a phone's open stream must not hold it, see FIELD-NOTES on
uvicorn), every phone's stream is ended, ``offline`` reaches the broker's
subscribers on ``potwatch/availability`` (published by the service itself:
the will is not sent on a clean disconnect), and the reading sent just before
the signal is in the SQLite history once the process is gone.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

from tests.support.broker import Broker
from tests.support.figures import FigureRecorder
from tests.support.mqtt_watch import recording
from tests.support.net import free_port
from tests.support.pty_device import PtyDevice, prime
from tests.support.service import ServiceProcess, sse

pytest_plugins = ["tests.support.broker"]

EXIT_WITHIN_S = 5.0
LAST_F = 123.45  # the reading sent just before the signal


def service_for(tmp_path: Path, device: PtyDevice, broker: Broker) -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\ndiscovery_prefix = ""\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "5s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


def test_sigterm_with_three_phones_connected(tmp_path: Path, mosquitto: Broker, figure: FigureRecorder) -> None:
    """Pass: exit code 0 within 5 s of SIGTERM with three phones attached; the three streams end; ``offline``
    arrives on ``potwatch/availability``; the reading seen on the phones just before the signal is the last
    reading in the history file."""
    with (
        PtyDevice() as device,
        recording(mosquitto.host, mosquitto.port, "potwatch/availability") as watch,
        contextlib.ExitStack() as phones,
    ):
        svc = service_for(tmp_path, device, mosquitto).start()
        try:
            streams = [phones.enter_context(sse(svc.base + "/api/events")).attached() for _ in range(3)]
            watch.take("potwatch/availability", 10, lambda h: h.text == "online")
            prime(device, streams[0])
            mark = watch.mark()
            device.write(f"{LAST_F:.2f}\n".encode())
            for stream in streams:
                stream.take("reading", 10, lambda e: abs(e.data["fahrenheit"] - LAST_F) < 0.01)
            took = svc.stop(signal.SIGTERM)
        finally:
            if svc.proc is not None and svc.proc.poll() is None:
                svc.stop(signal.SIGKILL)
        figure("exit_after_sigterm", took, "s", f"< {EXIT_WITHIN_S:g} s")
        assert took < EXIT_WITHIN_S, svc.log()
        assert svc.proc is not None and svc.proc.returncode == 0, svc.log()
        assert all(stream.ended.wait(5) for stream in streams)
        watch.take("potwatch/availability", 5, lambda h: h.text == "offline", after=mark)
        assert "offline published" in svc.log()  # the service's own word, not the broker's will

    db = tmp_path / "state" / "potwatch.db"
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        last = conn.execute("SELECT celsius FROM readings WHERE probe = 'pot' ORDER BY seq DESC LIMIT 1").fetchone()
    assert last is not None and abs(last[0] - (LAST_F - 32) / 1.8) < 1e-6, last

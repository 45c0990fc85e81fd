"""Scenario 6: a phone that vanishes without closing its connection, 100 times.

A phone that leaves the Wi-Fi (the cook walks to the garden, the screen locks
and the radio sleeps) never says goodbye: no FIN, no RST, and no ACK for what
the service keeps sending. The phones here follow ``/api/events`` from a
network namespace of their own, and the test takes their link down
(tests/support/wifi.py): the service's sockets to them see only silence. The
service must notice by itself (the heartbeat it writes every 5 s stays
unacknowledged, and the kernel gives up on it after the service's
``TCP_USER_TIMEOUT``), end those streams and forget their subscriptions.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.figures import FigureRecorder
from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess, serial_service, serving, sse
from tests.support.waiting import wait_until
from tests.support.wifi import WifiLink, open_stream

ROUNDS, PHONES = 2, 50  # 100 vanished phones, fifty at a time (within the connection cap of 128)
HEARTBEAT_S, USER_TIMEOUT_S = 5.0, 20.0  # service/api/sse.py, service/api/connections.py
NOTICED_WITHIN_S = HEARTBEAT_S + USER_TIMEOUT_S + 10.0  # the timer's own slack, and a loaded machine
MEMORY_GROWTH_BOUND = 5 * 1024 * 1024


@pytest.fixture
def wifi() -> Iterator[WifiLink]:
    with WifiLink() as link:
        yield link


def test_a_hundred_phones_that_vanish_are_forgotten(tmp_path: Path, wifi: WifiLink, figure: FigureRecorder) -> None:
    """Pass: after each wave of phones leaves the Wi-Fi, ``potwatch_sse_clients`` falls back to the phones still
    there (one on loopback, which keeps its stream throughout) within heartbeat + TCP user timeout (+ slack),
    and VmRSS grows by less than 5 MiB over the 100."""
    with PtyDevice() as device:
        svc = serial_service(tmp_path, device.path, stale_after="5s")
        svc.host = "0.0.0.0"  # the phones' namespace reaches it through the veth
        with serving(svc), sse(svc.base + "/api/events") as staying:
            staying.attached()
            wait_until(lambda: svc.metric("potwatch_sse_clients") == 1.0, 10, "the staying phone counted")
            # one wave first, so the figure is growth over the hundred, not the first stream's imports
            _wave(svc, wifi, 5)
            before = svc.rss_bytes()
            slowest = 0.0
            for _ in range(ROUNDS):
                slowest = max(slowest, _wave(svc, wifi, PHONES))
            grown = svc.rss_bytes() - before
            beat = staying.take("heartbeat", 2 * HEARTBEAT_S)  # the phone that stayed never lost its stream
            assert not staying.ended.is_set() and beat.data["now"]
        figure("vanished_phones_forgotten_after", slowest, "s", f"≤ {NOTICED_WITHIN_S:g} s")
        figure("rss_growth_over_100_vanished", grown / 1024 / 1024, "MiB", "< 5 MiB")
        assert grown < MEMORY_GROWTH_BOUND, f"VmRSS grew {grown / 1024:.0f} KiB over {ROUNDS * PHONES} phones"
        assert "Traceback" not in svc.log_path.read_text(errors="replace")


def _wave(svc: ServiceProcess, wifi: WifiLink, count: int) -> float:
    """``count`` phones attach from the namespace, then vanish; the seconds until the service counts them gone."""
    base = svc.metric("potwatch_sse_clients")
    phones: list[socket.socket] = wifi.inside(lambda: [open_stream(wifi.host_address, svc.port) for _ in range(count)])
    try:
        wait_until(
            lambda: svc.metric("potwatch_sse_clients") == base + count, 15, f"{count} phones counted\n{svc.log()}"
        )
        wifi.drop()
        dropped = time.monotonic()
        wait_until(
            lambda: svc.metric("potwatch_sse_clients") == base,
            NOTICED_WITHIN_S,
            lambda: f"the vanished phones forgotten (still {svc.metric('potwatch_sse_clients'):g})\n{svc.log()}",
            every=0.2,
        )
        return time.monotonic() - dropped
    finally:
        for phone in phones:
            with contextlib.suppress(OSError):
                phone.close()
        wifi.restore()

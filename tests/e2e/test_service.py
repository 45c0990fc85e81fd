"""``potwatch run`` as a real process: a serial pty in, server-sent events out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.pty_device import PtyDevice, prime
from tests.support.service import ServiceProcess, sse
from tests.support.waiting import wait_until


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


def service_for(tmp_path: Path, device: PtyDevice, extra: str = "") -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n{extra}\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{device.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "5s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


@pytest.fixture
def service(tmp_path: Path, device: PtyDevice) -> Iterator[ServiceProcess]:
    svc = service_for(tmp_path, device).start()
    yield svc
    if svc.proc is not None and svc.proc.poll() is None:
        svc.stop()


def test_readings_become_events_with_increasing_ids(service: ServiceProcess, device: PtyDevice) -> None:
    with sse(service.base + "/api/events") as stream:
        prime(device, stream)
        for i in range(20):
            device.write(f"{200 + i * 0.1:.2f}\n".encode())
        got = [stream.take("reading", 10) for _ in range(20)]
    ids = [int(e.id or 0) for e in got]
    assert ids == sorted(ids) and len(set(ids)) == 20
    assert got[0].data["fahrenheit"] == pytest.approx(200.0, abs=0.01)
    assert got[-1].data["celsius"] == pytest.approx((201.9 - 32) / 1.8, abs=0.01)
    assert stream.retry == "2000"


def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(service: ServiceProcess, device: PtyDevice) -> None:
    with sse(service.base + "/api/events") as first:
        prime(device, first)
        device.write(b"150.00\n")
        seen = first.take("reading", 10)
    last = int(seen.id or 0)
    for i in range(10):  # while nobody listens
        device.write(f"{151 + i}.00\n".encode())
    wait_until(lambda: service.get("/api/status")["probes"][0]["fahrenheit"] == 160.0, 10, "the last reading")
    for headers, url in (
        ({"Last-Event-ID": str(last)}, service.base + "/api/events"),
        ({}, service.base + f"/api/events?last_event_id={last}"),
    ):
        with sse(url, headers) as again:
            missed = [again.take("reading", 10) for _ in range(10)]
            time.sleep(0.5)
            extra = [e for e in again.drain() if e.event == "reading"]
        assert [e.data["fahrenheit"] for e in missed] == [151.0 + i for i in range(10)]
        assert extra == []  # no duplicates after the backlog


def test_heartbeat_and_keepalive_on_a_quiet_stream(service: ServiceProcess) -> None:
    with sse(service.base + "/api/events") as stream:
        start = time.monotonic()
        beats = [stream.take("heartbeat", 8), stream.take("heartbeat", 8)]
        assert all("now" in b.data for b in beats)
        wait_until(lambda: any(text == "ping" or "ping" in text for _, text in stream.comments), 17, "a ping comment")
    assert time.monotonic() - start <= 17.0


def test_an_alert_reaches_the_stream_and_ack_is_broadcast(service: ServiceProcess, device: PtyDevice) -> None:
    with sse(service.base + "/api/events") as stream:
        prime(device, stream)
        for i in range(60):
            device.write(f"{222 + i * 0.1:.2f}\n".encode())
            time.sleep(0.01)
        alert = stream.take("alert", 15, lambda e: e.data["kind"] == "target_reached")
        assert alert.data["level"] == "critical" and alert.data["fahrenheit"] >= 224.0
        r = service.post(f"/api/alerts/{alert.data['id']}/ack")
        assert r.status_code == 200
        ack = stream.take("ack", 5)
        assert ack.data["id"] == alert.data["id"]


def test_a_phone_that_stops_reading_is_dropped(service: ServiceProcess, device: PtyDevice) -> None:
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", service.port))
    stalled.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")

    def clients() -> float:
        text = httpx.get(service.base + "/metrics", timeout=5).text
        line = next(x for x in text.splitlines() if x.startswith("potwatch_sse_clients "))
        return float(line.split()[1])

    wait_until(lambda: clients() == 1.0, 10, "the stalled client to be counted")
    line = b"".join(f"{100 + (i % 50) * 0.5:.2f}\n".encode() for i in range(200))
    deadline = time.monotonic() + 60
    while clients() != 0.0:
        assert time.monotonic() < deadline, "the stalled client was never dropped"
        device.write(line)
        time.sleep(0.02)
    # the service still serves everyone else
    assert service.get("/api/status")["probes"][0]["state"] == "ok"
    stalled.close()


def test_demo_serves_the_page_and_reaches_an_alert_on_its_own(tmp_path: Path) -> None:
    demo = ServiceProcess(
        ["demo", "--speed", "1000", "--state-dir", str(tmp_path)], tmp_path / "demo.log", free_port()
    ).start()
    try:
        page = httpx.get(demo.base + "/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        reached = wait_until(
            lambda: [a for a in demo.get("/api/status")["alerts"] if a["kind"] == "target_reached"],
            90,
            "the demo cook to reach 225 °F",
            every=0.5,
        )
        assert reached[0]["level"] == "critical"
    finally:
        assert demo.stop() < 5.0


def test_https_with_a_self_signed_certificate_kept_across_restarts(tmp_path: Path, device: PtyDevice) -> None:
    svc = service_for(tmp_path, device, '[server]\ntls = "self-signed"\n')
    svc.scheme = "https"
    svc.start()
    try:
        status = httpx.get(svc.base + "/api/status", verify=False, timeout=5).json()
        assert status["secure"] is True
        first = (tmp_path / "state" / "potwatch-cert.pem").read_bytes()
        assert b"BEGIN CERTIFICATE" in first
    finally:
        svc.stop()
    svc.start()
    try:
        assert (tmp_path / "state" / "potwatch-cert.pem").read_bytes() == first  # the phone's exception still holds
    finally:
        svc.stop()


def test_an_id_from_before_a_restart_gets_a_reset_then_live_events(service: ServiceProcess, device: PtyDevice) -> None:
    with sse(service.base + "/api/events", {"Last-Event-ID": "999999"}) as stream:
        reset = stream.take("reset", 10)
        assert reset.id is None
        prime(device, stream)  # live readings still come after the reset

"""No request can stall the tracker: huge and hostile bodies against a real ``potwatch``.

The HTTP server shares its event loop with the hub, so a body read or parsed
whole once held the loop for seconds: /healthz stopped answering and the
probe's stale timeout fired, a false "probe lost" in the middle of a cook.
Here a caramel climbs on a pty probe (stale after 2 s) while 200 MB bodies
(chunked and with a declared length, without and with the token) and a
600,000-key object are sent; another thread polls /healthz the whole time.

The figures (the slowest /healthz, the service's peak RSS) are printed and
recorded as JUnit properties: docs/security.md quotes them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.pty_device import PtyDevice
from tests.support.service import ServiceProcess, serial_service, serving
from tests.support.waiting import wait_until

TOKEN = "s3cret"
BIG = 200 * 1024 * 1024
CHUNK = 64 * 1024
MAX_HEALTHZ_S = 0.25
MAX_RSS_KIB = 100 * 1024


@dataclass(eq=False)  # a thread must stay hashable
class Climb(threading.Thread):
    """The pot: a caramel rising 6 °F a minute, a reading every 100 ms, until stopped."""

    device: PtyDevice
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            self.device.write(f"{170 + (time.monotonic() - start) * 0.1:.2f}\n".encode())
            self.stop.wait(0.1)


@dataclass(eq=False)  # a thread must stay hashable
class HealthPoller(threading.Thread):
    """Asks /healthz back to back; keeps when each ask began and how long it took (a failure: its wait)."""

    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    samples: list[tuple[float, float, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        with httpx.Client(timeout=30.0) as client:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    ok = client.get(self.base + "/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((began, time.monotonic() - began, ok))
                self.stop.wait(0.02)

    def slowest(self, since: float = 0.0, until: float = float("inf")) -> float:
        """The slowest answer to an ask in flight between ``since`` and ``until``; a failed ask counts 30 s."""
        during = [
            (took if ok else 30.0) for began, took, ok in self.samples if since <= began + took and began <= until
        ]
        return max(during, default=0.0)


def send_body(port: int, path: str, headers: dict[str, str], body: Iterator[bytes], length: int | None) -> str:
    """POST ``body`` over a raw socket as fast as the server takes it; the status line, or how it ended.

    httpx would stop at the first refused write; a real attacker keeps pushing.
    """
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for chunk in body:
                sock.sendall(chunk if length is not None else b"%x\r\n%b\r\n" % (len(chunk), chunk))
            if length is None:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed on us: what it answered may still be in our buffer
        try:
            answer = sock.recv(200)
        except OSError as exc:
            return f"reset ({exc.__class__.__name__})"
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"


def spaces(total: int) -> Iterator[bytes]:
    chunk = b" " * CHUNK
    for _ in range(total // CHUNK):
        yield chunk


def many_keys(n: int) -> Iterator[bytes]:
    yield b"{"
    for start in range(0, n, 10_000):
        keys = b",".join(b'"k%d":0' % i for i in range(start, min(n, start + 10_000)))
        yield keys + (b"," if start + 10_000 < n else b"")
    yield b"}"


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[ServiceProcess, PtyDevice]]:
    # stale after 2 s: a loop held that long raises a false probe_lost
    with (
        PtyDevice() as device,
        serving(serial_service(tmp_path, device.path, stale_after="2s", server=f'token = "{TOKEN}"')) as svc,
    ):
        yield svc, device


def test_huge_and_hostile_bodies_never_stall_the_tracker(
    service: tuple[ServiceProcess, PtyDevice], record_property: pytest.RecordProperty
) -> None:
    service, device = service
    assert "anyone on this network" not in service.log()  # a token is set: no warning
    assert service.proc is not None
    climb = Climb(device)
    climb.start()
    try:
        wait_until(lambda: service.get("/api/status")["probes"][0]["state"] == "ok", 20, "the pot's first reading")
        poller = HealthPoller(service.base)
        poller.start()
        wait_until(lambda: len(poller.samples) >= 5, 10, "/healthz to answer the poller")
        good = {"Authorization": f"Bearer {TOKEN}"}
        sends = {
            "200 MB chunked, no token": ("/api/cooks", {}, spaces(BIG), None),
            "200 MB declared, no token": ("/api/cooks", {}, spaces(BIG), BIG),
            "200 MB chunked, token": ("/api/cooks", good, spaces(BIG), None),
            "200 MB declared, token": ("/api/cooks", good, spaces(BIG), BIG),
            "600,000 keys chunked, token": ("/api/cooks", good, many_keys(600_000), None),
            "200 MB to ack, declared, token": ("/api/alerts/all/ack", good, spaces(BIG), BIG),
        }
        answers: dict[str, tuple[str, float, float]] = {}
        for what, (path, headers, body, length) in sends.items():
            began = time.monotonic()
            answer = send_body(service.port, path, headers, body, length)
            answers[what] = (answer, began, time.monotonic())
        # a few more polls after the last body: a stall that outlasts the sending is caught too
        after = len(poller.samples)
        wait_until(lambda: len(poller.samples) >= after + 10, 60, "/healthz to be polled after the bodies")
        poller.stop.set()
        poller.join(40)
        status = service.get("/api/status")
        rss = peak_rss_kib(service.proc.pid)
    finally:
        climb.stop.set()
        climb.join(5)
    slowest = poller.slowest()
    polls = len(poller.samples)
    print(f"\nslowest /healthz {slowest * 1000:.0f} ms over {polls} polls; peak RSS {rss / 1024:.1f} MiB")
    for what, (answer, began, ended) in answers.items():
        during = poller.slowest(began, ended) * 1000
        print(f"  {what}: {answer} in {ended - began:.2f} s, slowest /healthz {during:.0f} ms")
    record_property("slowest_healthz_ms", round(slowest * 1000))
    record_property("peak_rss_mib", round(rss / 1024, 1))
    for what, (answer, _, _) in answers.items():
        assert not answer.startswith("HTTP/1.1 2"), (what, answer)
        if answer.startswith("HTTP/"):
            assert answer.split()[1] in ("401", "413"), (what, answer)
    assert [a["kind"] for a in status["alerts"] if a["kind"].startswith("probe_")] == []
    assert status["probes"][0]["state"] == "ok"
    assert [c["profile"] for c in status["cooks"]] == ["caramel"]  # the configured cook, nothing started
    assert slowest < MAX_HEALTHZ_S, f"/healthz took {slowest:.2f} s"
    assert rss < MAX_RSS_KIB, f"peak RSS {rss / 1024:.0f} MiB"

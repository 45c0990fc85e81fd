"""The live service, measured: pty line → SSE event latency, alert latency, memory and idle CPU.

    .venv/bin/python -m bench.service [--readings 300] [--alerts 300] [--idle 30]

Starts a real ``potwatch run`` with four serial probes on pseudo-terminals and
a caramel cook on the first. Latency: a line is written to the pty and the
clock stops when the matching ``reading`` event arrives at an SSE client (a
plain socket in this process). Alerts: the cook is restarted, fed below the
target, then one line past it; the clock stops at the ``target_reached``
event. Memory: resident set of the service with the four probes and five SSE
clients connected. Idle CPU: the four probes at 1 Hz, five clients, no one
doing anything, over ``--idle`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.net import free_port  # noqa: E402
from tests.support.pty_device import PtyDevice  # noqa: E402
from tests.support.service import ServiceProcess  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402


class RawSse:
    """A minimal SSE client on a socket: time-stamps each event as its last byte arrives."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        self.buffer = b""
        self.events: list[tuple[float, str, dict[str, object]]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.perf_counter()
            self.buffer += chunk
            while b"\n\n" in self.buffer or b"\r\n\r\n" in self.buffer:
                sep = b"\r\n\r\n" if b"\r\n\r\n" in self.buffer else b"\n\n"
                block, self.buffer = self.buffer.split(sep, 1)
                name, data = "", ""
                for line in block.decode(errors="replace").splitlines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                if name and data.startswith("{"):
                    with self.cond:
                        self.events.append((now, name, json.loads(data)))
                        self.cond.notify_all()

    def wait_for(self, after: int, match: object, timeout: float = 5.0) -> tuple[int, float]:
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.events)):
                    at, name, data = self.events[i]
                    if match(name, data):  # type: ignore[operator]
                        return i + 1, at
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("event never came")
                self.cond.wait(left)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--readings", type=int, default=300)
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args(argv)
    devices = [PtyDevice() for _ in range(4)]
    tmp = Path(tempfile.mkdtemp(prefix="pw-bench-"))
    probes = "".join(
        f'[[probes]]\nid = "p{i}"\nurl = "serial://{d.path}?baud=115200&format=number&unit=F"\nstale_after = "30s"\n'
        for i, d in enumerate(devices)
    )
    config = tmp / "potwatch.toml"
    config.write_text(f'[storage]\nstate_dir = "{tmp}"\n{probes}\n[cook]\nprofile = "caramel"\nprobe = "p0"\n')
    svc = ServiceProcess(["run", "--config", str(config)], tmp / "service.log", free_port()).start()
    assert svc.proc is not None
    pid = svc.proc.pid
    base = svc.base
    try:
        clients = [RawSse(svc.port) for _ in range(5)]
        sse = clients[0]
        # the serial driver drops what came before it opened the port: prime each probe
        seen = 0
        for i, dev in enumerate(devices):
            probe_id = f"p{i}"
            wait_until(
                lambda d=dev, p=probe_id: (
                    d.write(b"100.00\n"),  # type: ignore[func-returns-value]
                    _state(base, p) == "ok",
                )[1],
                20,
                f"{probe_id} to read",
            )
        seen = len(sse.events)

        # 1. reading latency
        lat: list[float] = []
        for k in range(args.readings):
            value = 150.0 + (k % 200) * 0.01
            text = f"{value:.2f}"
            start = time.perf_counter()
            devices[0].write(f"{text}\n".encode())
            seen, at = sse.wait_for(
                seen, lambda n, d, v=value: n == "reading" and d.get("probe") == "p0" and d.get("fahrenheit") == v
            )
            lat.append((at - start) * 1000)
            time.sleep(0.01)
        print(f"pty line → SSE reading: p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms over {len(lat)}")

        # 2. alert latency: a fresh cook climbing through 225 °F, a line every 20 ms with a unique value;
        # the alert carries the reading that decided it, so the clock starts when that line was written
        alat: list[float] = []
        for _ in range(args.alerts):
            httpx.post(base + "/api/cooks/current/stop", timeout=5)
            httpx.post(base + "/api/cooks", json={"profile": "caramel", "probe": "p0"}, timeout=5)
            mark = len(sse.events)
            written: dict[float, float] = {}
            got = None
            for j in range(400):
                value = round(224.2 + j * 0.02, 2)
                written[value] = time.perf_counter()
                devices[0].write(f"{value:.2f}\n".encode())
                try:
                    got = sse.wait_for(
                        mark, lambda n, d: n == "alert" and d.get("kind") == "target_reached", timeout=0.02
                    )
                    break
                except TimeoutError:
                    continue
            if got is None:
                raise SystemExit("no target_reached alert in a climb through 225 °F")
            seen, at = got
            alert = sse.events[seen - 1][2]
            decided_by = round(float(alert["fahrenheit"]), 2)  # type: ignore[arg-type]
            alat.append((at - written[decided_by]) * 1000)
        print(
            f"pty line that decides → SSE target_reached: p50 {pct(alat, 0.5):.2f} ms, "
            f"p99 {pct(alat, 0.99):.2f} ms over {len(alat)}"
        )

        # 3. memory and idle CPU: four probes at 1 Hz, five clients
        stop = threading.Event()

        def feed() -> None:
            while not stop.is_set():
                for dev in devices:
                    dev.write(b"200.00\n")
                stop.wait(1.0)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(5)
        before, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        used, spent = cpu_seconds(pid) - before, time.monotonic() - t0
        stop.set()
        print(f"idle CPU, 4 probes at 1 Hz, 5 SSE clients: {100 * used / spent:.2f} % of a core over {spent:.0f} s")
        print(f"resident memory, 4 probes, 5 SSE clients: {rss_mib(pid):.1f} MiB")
        print(f"(SSE clients connected: {len(clients)}; median of {statistics.median(lat):.2f} ms reading latency)")
    finally:
        svc.stop()
        for dev in devices:
            dev.unplug()
    return 0


def _state(base: str, probe: str) -> str:
    status = httpx.get(base + "/api/status", timeout=5).json()
    return str(next(p["state"] for p in status["probes"] if p["id"] == probe))


if __name__ == "__main__":
    sys.exit(main())

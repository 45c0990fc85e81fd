"""Scenario 3: garbage floods on a serial line and on a probe's MQTT topic, at full rate.

A wrong baud rate, a cable next to an induction hob, a Wi-Fi probe with a
firmware bug or a neighbour's device on the same topic: the input turns to
garbage, as fast as it can come, for seconds. Pass for each: the process keeps
serving (``/api/status`` answered throughout, the event stream still open),
its memory stays bounded, no value that was not a valid reading ever reaches
the cook, no alert fires, valid readings sent between the garbage still
arrive, and the garbage is counted (``potwatch_probe_input_dropped_total`` on
``/metrics``).

The garbage is fuzzed with a seeded ``random.Random`` (the seed is in the
failure message), not with hypothesis: a flood is one long stateful example
against one running process, not many small independent ones to shrink.
The garbage is also made to look like a reading past the caramel's target
(226 °F) wherever it could leak one: a runaway line of ``226.0``, ``226.5``
behind a bad byte, a 1 MiB payload whose first field is ``226.0``.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.figures import FigureRecorder
from tests.support.pty_device import PtyDevice
from tests.support.service import (
    ServiceProcess,
    SseReader,
    cook_readings_f,
    probe_service,
    serial_service,
    serving,
    sse,
)
from tests.support.waiting import wait_until

if TYPE_CHECKING:  # imported at run time by pytest_plugins, so that pytest rewrites its asserts
    from tests.support.broker import Broker, Publisher

pytest_plugins = ["tests.support.broker"]

FLOOD_S = 4.0
SEED = 17
MEMORY_BOUND_MIB = 32.0  # VmHWM growth over the flood: well above the drivers' caps, far below a leak
KIB = 1024


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB, from /proc/<pid>/status."""
    text = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    hwm = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    assert rss is not None and hwm is not None, text
    return int(rss.group(1)), int(hwm.group(1))


def dropped_total(service: ServiceProcess) -> float:
    text = httpx.get(service.base + "/metrics", timeout=5.0).text
    found = re.search(r'^potwatch_probe_input_dropped_total\{probe="pot"\} (\S+)$', text, re.M)
    assert found is not None, text
    return float(found.group(1))


class StatusWatch(threading.Thread):
    """Asks ``/api/status`` every 0.2 s during the flood; keeps the slowest answer and any failure."""

    def __init__(self, service: ServiceProcess) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.stop = threading.Event()
        self.slowest = 0.0
        self.asked = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.service.base, timeout=5.0) as client:
            while not self.stop.wait(0.2):
                start = time.monotonic()
                try:
                    ok = client.get("/api/status").status_code == 200
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.asked += 1
                self.slowest = max(self.slowest, time.monotonic() - start)
                if not ok:
                    self.failures.append("status not 200")

    def __enter__(self) -> StatusWatch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(10)


def check_survived(
    service: ServiceProcess,
    watch: StatusWatch,
    before_kib: tuple[int, int],
    valid: set[float],
    figure: FigureRecorder,
) -> list[float | None]:
    """The shared pass criterion; returns the cook's recorded readings (°F, None for a fault).

    What reached the cook is read from its history, which records every reading
    the tracker was given: a phone's stream that falls behind a flood is cut
    off by design (it reconnects with its last id), so it is no witness.
    """
    assert service.proc is not None and service.proc.poll() is None, service.log()
    assert watch.failures == [] and watch.asked >= FLOOD_S / 0.2 / 2, (watch.failures, watch.asked)
    figure("status_slowest_answer_during_flood", watch.slowest, "s", "answered throughout")
    with sse(service.base + "/api/events") as after:
        after.take("heartbeat", 10)  # the event stream still serves
    rss, hwm = memory_kib(service.proc.pid)
    figure("rss_growth", (rss - before_kib[0]) / KIB, "MiB", f"VmRSS, ≤ {MEMORY_BOUND_MIB:g} MiB")
    figure("hwm_growth", (hwm - before_kib[1]) / KIB, "MiB", f"VmHWM, ≤ {MEMORY_BOUND_MIB:g} MiB")
    assert (hwm - before_kib[1]) / KIB <= MEMORY_BOUND_MIB, (before_kib, (rss, hwm))
    status = service.get("/api/status")
    recorded = cook_readings_f(service, status["cook"]["id"])
    leaked = sorted({v for v in recorded if v is not None and round(v, 2) not in valid})
    assert leaked == [], f"values never sent as readings reached the cook: {leaked[:10]} (seed {SEED})"
    assert status["alerts"] == [], f"alerts fired from garbage (seed {SEED}): {status['alerts']}"
    assert status["probes"][0]["state"] == "ok"
    return recorded


# ---------------------------------------------------------------------------
# serial


def serial_garbage(rng: random.Random) -> bytes:
    """One piece of what a noisy or misconfigured serial line delivers."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 4 * KIB))  # noise: wrong baud, a bad cable
    if kind == 1:
        return b"226.0" * (64 * KIB // 5) + b"\n"  # a 64 KiB runaway line whose tail reads like a temperature
    if kind == 2:
        return b"\xff\xfe226.5\n"  # invalid UTF-8 before a number
    if kind == 3:
        return b"\x1b[2J\x00226.5\n"  # control characters before a number
    if kind == 4:
        return rng.choice([b'{"temp": "hot"}\n', b'{"temp": [226.0]}\n', b"true\n", b"null\n", b"[[[[[[[[\n"])
    if kind == 5:
        return rng.choice([b"hello\n", b"Requesting temperatures...DONE\n", b"226 degrees maybe\n", b"\n\n\n"])
    if kind == 6:
        return bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 64))) + b"\n"
    if kind == 7:
        return b"\r" * rng.randrange(1, 200)  # line ends only
    if kind == 8:
        return rng.choice([b"nan\n", b"NaN\n", b"inf\n", b"-inf\n", b"1e999\n"])  # a fault value, alone
    return rng.randbytes(64 * KIB)  # 64 KiB of noise without a line end


@pytest.mark.real_part("pty")
def test_a_serial_line_flooded_with_garbage(tmp_path: Path, figure: FigureRecorder) -> None:
    """Pass: 4 s of fuzzed garbage at full rate (random bytes, 64 KiB lines, invalid UTF-8, control
    characters, wrong JSON, text, a lone NaN or inf), each piece followed by 20 valid readings: the service answers
    /api/status throughout and keeps its event stream, VmHWM grows ≤ 32 MiB, every value that reaches
    the stream is one sent as a reading, no alert, valid readings arrive during the flood, and
    ``potwatch_probe_input_dropped_total`` counts at least one dropped line per piece of garbage."""
    rng = random.Random(SEED)
    with PtyDevice() as device:
        service = serial_service(tmp_path, device.path, stale_after="10s")
        with serving(service), sse(service.base + "/api/events") as stream:
            stream.attached()
            wait_until(lambda: primed(device, stream), 20, "a first reading through the pty")
            before = memory_kib(service.proc.pid if service.proc else 0)
            assert dropped_total(service) == 0
            valid: set[float] = {150.0}
            pieces = 0
            written = 0
            with StatusWatch(service) as watch:
                end = time.monotonic() + FLOOD_S
                i = 0
                while time.monotonic() < end:
                    garbage = serial_garbage(rng)
                    lines = []
                    for _ in range(20):
                        value = 150.0 + (i % 1000) / 100
                        i += 1
                        valid.add(round(value, 2))
                        lines.append(f"{value:.2f}\n".encode())
                    # a runaway without a line end swallows what follows it up to the next one
                    data = garbage + b"\n" + b"".join(lines)
                    device.write(data)  # as fast as the pty takes it: the driver's own pace
                    written += len(data)
                    pieces += 1
                # the last line through: everything before it was read
                device.write(b"149.50\n")
                valid.add(149.5)
                wait_until(lambda: service.get("/api/status")["probes"][0]["fahrenheit"] == 149.5, 20, "the last line")
            recorded = check_survived(service, watch, before, valid, figure)
            figure("serial_flood_bytes", written / KIB / KIB, "MiB", f"in {FLOOD_S:g} s")
            through = [v for v in recorded if v is not None]
            figure("serial_valid_readings_through", len(through), "readings", f"> {pieces} of {20 * pieces} sent")
            assert len(through) > pieces, (len(through), pieces)
            dropped = dropped_total(service)
            figure("serial_dropped_counted", dropped, "lines", f"≥ {pieces} pieces of garbage")
            assert dropped >= pieces


def primed(device: PtyDevice, stream: SseReader) -> bool:
    """Write a reading until one is through (the driver drops what came before it opened the port)."""
    device.write(b"150.00\n")
    try:
        stream.take("reading", 0.5)
    except AssertionError:
        return False
    return True


# ---------------------------------------------------------------------------
# MQTT


def mqtt_garbage(rng: random.Random) -> tuple[bytes, bool]:
    """One payload of garbage, and whether it is a fault reading (a no-value) rather than unreadable."""
    kind = rng.randrange(10)
    if kind == 0:
        pad = "x" * (1024 * KIB)
        return json.dumps({"temperature": 226.0, "pad": pad}).encode(), False  # 1 MiB: cut, never read
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 2 * KIB)), False
    if kind == 2:
        return b'{"temperature": 22\xff6.0}', False  # invalid UTF-8
    if kind == 3:
        return rng.choice([b'{"temperature": "hot"}', b'{"temperature": [226.0]}', b'{"temperature": {}}']), False
    if kind == 4:
        return rng.choice([b'{"temperature": true}', b"[226.0]", b"226.0", b'"226.0"', b"{}"]), False
    if kind == 5:
        return b"[" * rng.randrange(1000, 200_000), False  # nesting deeper than any parser's recursion
    if kind == 6:
        return b'{"temperature": 226.0', False  # cut short
    if kind == 7:
        return b"", False
    if kind == 8:
        return b'{"temperature": 226.0, "temperature": "x", "\xed\xa0\x80": 1}', False
    return rng.choice([b'{"temperature": NaN}', b'{"temperature": Infinity}', b'{"temperature": -1e999}']), True


@pytest.mark.real_part("mosquitto")
def test_an_mqtt_topic_flooded_with_garbage(
    tmp_path: Path, mosquitto: Broker, make_publisher: Callable[..., Publisher], figure: FigureRecorder
) -> None:
    """Pass: 4 s of fuzzed payloads at full rate (1 MiB payloads, random bytes, invalid UTF-8, wrong JSON
    types, nesting 200,000 deep, NaN and ±Infinity), each followed by a valid reading: the service
    answers /api/status throughout and keeps its event stream, VmHWM grows ≤ 32 MiB, every valid
    reading arrives and nothing else reaches the cook as a temperature, no alert (a lone NaN between
    readings is a glitch, not a fault), and ``potwatch_probe_input_dropped_total`` is exactly the
    number of unreadable payloads sent."""
    rng = random.Random(SEED)
    topic = "kitchen/pot/json"
    device = make_publisher(mosquitto, client_id="flooding-probe")
    service = probe_service(
        tmp_path, mosquitto.url(topic, "format=json&channel=temperature&unit=F&lwt="), stale_after="10s"
    )
    with serving(service), sse(service.base + "/api/events") as stream:
        stream.attached()

        def primed_mqtt() -> bool:
            device.publish(topic, b'{"temperature": 150.0}')
            try:
                stream.take("reading", 0.5)
            except AssertionError:
                return False
            return True

        wait_until(primed_mqtt, 20, "a first reading through the broker")
        assert service.proc is not None
        before = memory_kib(service.proc.pid)
        assert dropped_total(service) == 0
        valid: set[float] = {150.0}
        sent_valid: list[float] = []
        unreadable = faults = 0
        payload_bytes = 0
        with StatusWatch(service) as watch:
            end = time.monotonic() + FLOOD_S
            i = 0
            while time.monotonic() < end:
                garbage, fault = mqtt_garbage(rng)
                info = device.client.publish(topic, garbage, qos=1)
                if len(garbage) > 64 * KIB:
                    info.wait_for_publish(10)  # flow control for the test's own memory, not a wait on potwatch
                unreadable += not fault
                faults += fault
                payload_bytes += len(garbage)
                value = round(150.0 + (i % 1000) / 100, 2)
                i += 1
                valid.add(value)
                sent_valid.append(value)
                last = device.client.publish(topic, json.dumps({"temperature": value}).encode(), qos=1)
            last.wait_for_publish(10)
            want = sent_valid[-1]
            wait_until(lambda: service.get("/api/status")["probes"][0]["fahrenheit"] == want, 20, "the last reading")
        recorded = check_survived(service, watch, before, valid, figure)
        figure("mqtt_flood_payloads", unreadable + faults, "payloads", f"{payload_bytes / KIB / KIB:.0f} MiB in 4 s")
        through = [round(v, 2) for v in recorded if v is not None]
        figure("mqtt_valid_readings_through", len(through) - 1, "readings", f"all {len(sent_valid)}")
        assert through[-len(sent_valid) :] == sent_valid, (len(through), len(sent_valid))
        dropped = dropped_total(service)
        figure("mqtt_dropped_counted", dropped, "payloads", f"= {unreadable} unreadable sent")
        assert dropped == unreadable
        # a NaN between two readings reached the tracker as a fault reading, not as a temperature
        assert recorded.count(None) == faults, (recorded.count(None), faults)

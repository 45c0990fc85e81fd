"""Scenario 9: an exception in a probe decoder, in the MQTT publisher and in a push notifier.

A real ``potwatch run`` with two serial probes on ptys (``pot``, cooking the
caramel, and ``side``), a real Mosquitto with a subscriber, and two push
channels pointed at two HTTP receivers. The faults are put in from outside,
with no hook in potwatch: tests/support/inject/ is on the child's PYTHONPATH
and its ``sitecustomize`` makes the ``number`` decoder raise on the line
``666.25``, the publisher raise on a probe message of 150.5 °F, and the second
push channel raise on its first delivery. Each must be logged, once; the other
probe, the other messages and the other channel must not notice; and the part
that failed must work again for its next good input.
"""

from __future__ import annotations

import itertools
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import Broker
from tests.support.figures import FigureRecorder
from tests.support.mqtt_watch import recording
from tests.support.net import free_port
from tests.support.power_cut import until
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.receiver import Receiver
from tests.support.service import ServiceProcess, SseEvent, SseReader, sse
from tests.support.waiting import wait_until

pytest_plugins = ["tests.support.broker"]

INJECT = Path(__file__).resolve().parents[2] / "support" / "inject"
DECODER_MARK, PUBLISHER_MARK_F = "666.25", 150.5  # tests/support/inject/sitecustomize.py
SIDE_GAP_S = 1.0  # the side probe prints every 0.1 s: a gap this long means it was held up


@pytest.fixture
def probes() -> Iterator[tuple[PtyDevice, Thermometer, PtyDevice, Thermometer]]:
    with (
        PtyDevice() as pot_device,
        PtyDevice() as side_device,
        Thermometer(pot_device, 100.0) as pot,
        Thermometer(side_device, 70.0) as side,
    ):
        yield pot_device, pot, side_device, side


def service_for(
    tmp_path: Path, pot: PtyDevice, side: PtyDevice, broker: Broker, receivers: list[Receiver]
) -> ServiceProcess:
    urls = ", ".join(f'"ntfy://{r.host}:{r.port}/kitchen"' for r in receivers)
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[mqtt]\nurl = "mqtt://{broker.host}:{broker.port}"\ndiscovery_prefix = ""\n\n'
        f'[[probes]]\nid = "pot"\nurl = "serial://{pot.path}?baud=9600&format=number&unit=F"\nstale_after = "5s"\n\n'
        f'[[probes]]\nid = "side"\nurl = "serial://{side.path}?baud=9600&format=number&unit=F"\n'
        'stale_after = "3s"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n\n'
        f"[notify]\nurls = [{urls}]\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(INJECT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env["POTWATCH_INJECT"] = "decoder,publisher,notifier"
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), env=env)


def log_count(svc: ServiceProcess, text: str) -> int:
    return svc.log_path.read_text(errors="replace").count(text)


def side_gap(events: list[SseEvent], arrived: list[float]) -> float:
    """The longest wait between two readings of ``side`` on the stream."""
    times = [t for e, t in zip(events, arrived, strict=True) if e.event == "reading" and e.data["probe"] == "side"]
    return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


def collect(stream: SseReader, seconds: float) -> tuple[list[SseEvent], list[float]]:
    """Everything the phone gets for ``seconds``, with when it arrived."""
    got, at = [], []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            got.append(stream.events.get(timeout=left))
            at.append(time.monotonic())
        except queue.Empty:
            break
    return got, at


def pot_reading(f: float) -> Any:
    def match(e: SseEvent) -> bool:
        return e.event == "reading" and e.data["probe"] == "pot" and abs((e.data["fahrenheit"] or 0.0) - f) < 0.01

    return match


def test_an_exception_in_a_decoder_a_publisher_and_a_notifier(
    tmp_path: Path,
    mosquitto: Broker,
    probes: tuple[PtyDevice, Thermometer, PtyDevice, Thermometer],
    figure: FigureRecorder,
) -> None:
    """Pass: each injected exception is in the log exactly once; the service stays up; the side probe's readings
    go on without a gap over 1 s; no false ``probe_lost`` for the pot; the pot's next good line is a reading,
    its next message is published on MQTT, and the failed push channel delivers the next alert."""
    pot_device, pot, _, side = probes
    with (
        Receiver() as first,
        Receiver() as second,
        recording(mosquitto.host, mosquitto.port, "potwatch/probe/+/temperature") as watch,
    ):
        svc = service_for(tmp_path, pot_device, probes[2], mosquitto, [first, second]).start()
        try:
            with sse(svc.base + "/api/events") as stream:
                stream.attached()
                stream.take("reading", 20, pot_reading(100.0))
                stream.take("reading", 20, lambda e: e.data["probe"] == "side")

                # ---- the decoder: one marked line among the pot's good ones
                stream.drain()
                os.write(pot_device.master, f"{DECODER_MARK}\n".encode())
                events, arrived = collect(stream, 3.0)
                pot_back = [e for e in events if pot_reading(100.0)(e)]
                assert pot_back, "the pot's good lines after the bad one were not read"
                decoder_gap = side_gap(events, arrived)
                figure("side_probe_gap_during_decoder_fault", decoder_gap, "s", f"< {SIDE_GAP_S:g} s")
                assert decoder_gap < SIDE_GAP_S
                assert log_count(svc, "the number decoder failed on '666.25'") == 1, svc.log()

                # ---- the publisher: the pot's 150.5 °F cannot be published; the next reading can
                mark = watch.mark()
                failed_before = svc.get("/healthz")["mqtt"]["failed"]
                pot.fahrenheit = PUBLISHER_MARK_F
                stream.take("reading", 10, pot_reading(PUBLISHER_MARK_F))
                # several 150.5 readings fail: each raises, and must not each be a traceback
                wait_until(
                    lambda: svc.get("/healthz")["mqtt"]["failed"] >= failed_before + 3,
                    10,
                    lambda: f"three failed publications counted\n{svc.log()}",
                )
                pot.fahrenheit = 151.0
                watch.take("potwatch/probe/pot/temperature", 10, lambda h: h.json()["fahrenheit"] == 151.0, after=mark)
                watch.take("potwatch/probe/side/temperature", 10, after=mark)
                assert not [
                    h
                    for h in watch.messages[mark:]
                    if h.topic.endswith("/pot/temperature") and h.json()["fahrenheit"] == PUBLISHER_MARK_F
                ]
                raised = log_count(svc, "mqtt: could not publish reading")
                failed = svc.get("/healthz")["mqtt"]["failed"] - failed_before
                figure("publisher_fault_log_lines", raised, "lines", f"≤ 1 per minute ({failed} failures)")
                # three failures or more, one traceback: the throttle was exercised, not merely untested
                assert failed >= 3, failed
                assert raised == 1, f"{raised} tracebacks for {failed} failures of one message kind:\n{svc.log()}"

                # ---- the notifier: the second channel raises on its first alert, delivers the next
                side.printing.clear()
                lost = until(svc, "side probe_lost", lambda s: [a for a in s["alerts"] if a["kind"] == "probe_lost"])
                assert lost[0]["probe"] == "side"
                first.wait_for(1, 10)
                side.printing.set()
                pot.fahrenheit = 226.0
                until(svc, "target_reached", lambda s: [a for a in s["alerts"] if a["kind"] == "target_reached"])
                first.wait_until(lambda: len(first.requests) >= 2, 10, "the second alert on the first channel")
                reached = second.wait_for(1, 10)
                assert "225" in reached.json()["title"], reached.json()
                assert log_count(svc, "raised on delivery") == 1, svc.log()
                assert "injected into push:ntfy#2" in svc.log_path.read_text()

            status = svc.get("/api/status")
            assert {p["id"]: p["state"] for p in status["probes"]} == {"pot": "ok", "side": "ok"}
            assert not [a for a in status["alerts"] if a["kind"] == "probe_lost" and a["probe"] == "pot"]
            assert svc.healthy()
            assert svc.get("/healthz")["mqtt"]["failed"] >= raised  # every failure counted, logged or not
        finally:
            svc.stop()

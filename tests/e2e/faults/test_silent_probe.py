"""Scenario 2: a probe that stays connected but goes silent, just below the caramel's target.

Two ways a probe falls silent without a disconnect the driver could see: a
USB probe whose firmware hangs (the tty stays open, nothing more comes), and
a Wi-Fi probe whose publisher stays connected to the broker (its keepalive
answered, so no last will) but publishes nothing more. Either way, only the
stale timeout can tell, and nothing may ring from the last value: it was
0.7 °F short of the target and climbing, so a tracker that extrapolated it, or
that took the first reading back as a confirmation of it, would ring a
caramel that never got there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.figures import FigureRecorder
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, SseEvent, SseReader, probe_service, serial_service, serving, sse

if TYPE_CHECKING:  # imported at run time by pytest_plugins, so that pytest rewrites its asserts
    from tests.support.broker import Broker, Publisher

pytest_plugins = ["tests.support.broker"]

STALE_S = 3.0
PERIOD_S = 0.5
LAST_F = 224.3  # climbing 0.2 °F a reading: the crossing of 225 °F would be 2 s away
RESUMED_F = 223.8  # the cook turned the heat down meanwhile
EARLY_S = 0.5  # a lost alert this much before stale_after ran out from the last reading's stamp is early
LATE_S = 2.0  # and this much after it, late, even on a loaded 2-core machine


def stamped(event: SseEvent) -> float:
    """A reading's own time stamp (its ``at``, wall clock), as seconds since the epoch."""
    return datetime.fromisoformat(event.data["at"].replace("Z", "+00:00")).timestamp()


def climb_then_fall_silent(stream: SseReader, say: Callable[[float], None], silence: Callable[[], None]) -> float:
    """Climb to ``LAST_F`` through the service, go silent; when the last reading was stamped (wall clock).

    Its own stamp, not when it reached us: on a loaded machine the SSE hop may take a while, and the
    stale timeout runs from the reading, so a lost alert measured from its arrival could look early.
    """
    stream.attached()
    value = 221.5
    say(value)
    seen = stream.take("reading", 15)
    while value < LAST_F - 1e-9:
        value = round(value + 0.2, 2)
        say(value)
        seen = stream.take("reading", 5, lambda e, v=value: abs(e.data["fahrenheit"] - v) < 0.01)
    silence()
    assert abs(seen.data["fahrenheit"] - LAST_F) < 0.01
    return stamped(seen)


def check_lost_then_resumed(
    service: ServiceProcess,
    stream: SseReader,
    last_stamped_at: float,
    resume: Callable[[float], None],
    figure: FigureRecorder,
    name: str,
) -> None:
    """The shared pass criterion of both flavours, measured the same way."""
    lost = stream.take("alert", STALE_S + 5, lambda e: e.data["kind"] == "probe_lost")
    lost_after = time.time() - last_stamped_at  # the same clock the service stamps with: this machine's
    figure(f"{name}_lost_after_last_reading", lost_after, "s", f"{STALE_S:g} s stale_after, ≤ {STALE_S + LATE_S:g} s")
    # not early (never before the stale timeout ran out from the reading's stamp, less the stamp's
    # rounding and slack), not much later than the timeout: a loaded machine may be a turn or two late
    assert STALE_S - EARLY_S <= lost_after <= STALE_S + LATE_S, lost_after
    stage = service.get("/api/status")["cook"]["stage"]
    # critical once the caramel is approaching its target: the cook must look at the pot
    assert lost.data["level"] == ("critical" if stage == "approaching" else "warning"), (stage, lost.data)
    assert service.get("/api/status")["probes"][0]["state"] == "lost"
    before = stream.drain()
    # a few stale timeouts more of silence: the old value extrapolated would be long past 225 °F
    quiet_until = time.monotonic() + 2 * STALE_S
    while time.monotonic() < quiet_until:
        assert service.get("/api/status")["probes"][0]["state"] == "lost"
        time.sleep(0.5)  # the silence's own length
    silent = before + stream.drain()
    assert [e.data["kind"] for e in silent if e.event == "alert"] == [], silent

    # readings resume below the target: the stale value confirms nothing
    seen: list[SseEvent] = []
    levels: list[float] = []
    for _ in range(6):
        resume(RESUMED_F)
        stream.take("reading", 5, seen=seen)
        levels.append(service.get("/api/status")["cook"]["level_f"])
    seen += stream.drain()
    # the level the page shows (and every alarm decides on) is one the probe read, not the old climb
    # carried on across the silence
    assert max(level for level in levels if level is not None) <= LAST_F + 0.05, levels
    after = [e.data["kind"] for e in seen if e.event == "alert"]
    assert "probe_restored" in after, after
    alerts = [e.data for e in seen if e.event == "alert"]
    # nothing rings from the stale value, and no alert names a temperature that was never read
    assert [a["kind"] for a in alerts if a["kind"] in ("target_reached", "target_overshoot")] == [], alerts
    told = [float(t) for a in alerts for t in re.findall(r"(\d+\.\d) °F", a["message"])]
    assert [t for t in told if t > LAST_F + 0.05] == [], alerts
    cook = service.get("/api/status")["cook"]
    assert cook["stage"] in ("heating", "approaching"), cook
    assert [a["kind"] for a in service.get("/api/status")["alerts"] if a["kind"] == "target_reached"] == []


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


@pytest.mark.real_part("pty")
def test_a_serial_probe_open_but_silent_is_lost_within_its_stale_timeout(
    tmp_path: Path, device: PtyDevice, figure: FigureRecorder
) -> None:
    """Pass: ``probe_lost`` seen between 2.5 s and 5 s after the last reading's own stamp (``stale_after``
    is 3 s), with the tty still open; no alert from the last value (0.7 °F short and climbing) during 6 s more of
    silence; when readings resume below the target, ``probe_restored`` and no ``target_*`` alert."""
    service = serial_service(tmp_path, device.path, stale_after=f"{STALE_S:g}s")
    with serving(service), sse(service.base + "/api/events") as stream, Thermometer(device, 221.5, PERIOD_S) as probe:
        # the firmware hangs: the port stays open, the line stays up, nothing is written

        def say(value: float) -> None:
            probe.fahrenheit = value

        last_stamped_at = climb_then_fall_silent(stream, say, probe.stop.set)
        probe.join(2)
        assert not device.closed

        def resume(value: float) -> None:
            device.write(f"{value:.2f}\n".encode())
            time.sleep(PERIOD_S)  # the device's pace

        check_lost_then_resumed(service, stream, last_stamped_at, resume, figure, "serial")


@pytest.mark.real_part("mosquitto")
def test_an_mqtt_probe_connected_but_silent_is_lost_within_its_stale_timeout(
    tmp_path: Path, mosquitto: Broker, make_publisher: Callable[..., Publisher], figure: FigureRecorder
) -> None:
    """Pass: as for serial, with the probe's publisher still connected to the broker (no last will):
    ``probe_lost`` 2.5–5 s after the last reading's stamp, nothing from the old value, and no
    ``target_*`` alert when it publishes again below the target."""
    topic = "kitchen/pot/temperature"
    device = make_publisher(mosquitto, client_id="pot-probe", will=("kitchen/pot/status", b"offline"))
    service = probe_service(
        tmp_path, mosquitto.url(topic, "format=number&unit=F&lwt=kitchen/pot/status"), stale_after=f"{STALE_S:g}s"
    )
    with serving(service), sse(service.base + "/api/events") as stream:
        device.publish("kitchen/pot/status", b"online", retain=True)

        def say(value: float) -> None:
            time.sleep(PERIOD_S)  # the device's pace
            device.publish(topic, f"{value:.2f}".encode())

        # the first publications may come before the service subscribed: keep saying until one is seen
        deadline = time.monotonic() + 15
        stream.attached()
        while not service.get("/api/status")["probes"][0]["celsius"]:
            assert time.monotonic() < deadline, service.log()
            say(221.5)
        stream.drain()
        last_stamped_at = climb_then_fall_silent(stream, say, lambda: None)
        check_lost_then_resumed(service, stream, last_stamped_at, say, figure, "mqtt")
        assert device.wait_connected(0)  # it was connected throughout: no last will, only silence

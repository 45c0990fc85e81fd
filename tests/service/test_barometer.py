"""Calibration without a boil test: the barometer part, the altitude, and what the API says.

Three layers, as everywhere: the monitor's decisions as pure tables (time
passed in); the part in-process against a real Mosquitto on a free port, with
a real hub task and the app in front of it; and a real ``potwatch run``
process, where the config, the wiring, the SSE stream and the history meet.
Every wait is on a condition, with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drivers.barometer import barometer_settings
from service.config import parse_config, probe_setups
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import StartCook
from service.core.units import f_to_c, pressure_at_altitude_hpa, water_boils_at_c
from service.profiles import load_profiles
from service.runtime.barometer import Barometer, BarometerMonitor, Note, Post
from service.runtime.hub import Hub
from tests.support.api import client_for
from tests.support.broker import (  # noqa: F401
    Broker,
    Publisher,
    mosquitto,
    mosquitto_binary,
    mosquitto_factory,
    publisher,
)
from tests.support.clock import HandClock
from tests.support.net import free_port
from tests.support.service import ServiceProcess, sse
from tests.support.waiting import wait_until, wait_until_async

TOPIC = "tele/kitchen/SENSOR"
CARAMEL_C = f_to_c(225.0)  # 107.22 °C


def tasmota(hpa: float, unit: str = "hPa", sea: float | None = None) -> bytes:
    """A Tasmota BME280's SENSOR telemetry (SeaPressure is there once Tasmota knows its altitude)."""
    sea_part = f',"SeaPressure":{sea}' if sea is not None else ""
    return (
        f'{{"Time":"2024-02-01T18:00:00","BME280":{{"Temperature":21.3,"Humidity":45.0,'
        f'"DewPoint":8.9,"Pressure":{hpa}{sea_part}}},"PressureUnit":"{unit}","TempUnit":"C"}}'
    ).encode()


# ---- the monitor: pure decisions -----------------------------------------------------------


def monitor(stale_after: float = 3600.0, altitude_m: float | None = None) -> BarometerMonitor:
    return BarometerMonitor(barometer_settings(f"mqtt://pi/{TOPIC}?format=tasmota"), stale_after, altitude_m)


def posts(decisions: list[Post | Note]) -> list[float | None]:
    return [d.hpa for d in decisions if isinstance(d, Post)]


def warnings(decisions: list[Post | Note]) -> list[str]:
    return [d.text for d in decisions if isinstance(d, Note) and d.level >= logging.WARNING]


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # (at, hPa) in → what is posted for each
        ([(0, 843.0)], [[843.0]]),
        ([(0, 843.0), (10, 843.2)], [[843.0], []]),  # under 0.3 hPa: the sensor's noise
        ([(0, 843.0), (10, 843.2), (20, 843.31)], [[843.0], [], [843.31]]),  # from the last post, not the last reading
        ([(0, 843.0), (10, 842.6)], [[843.0], [842.6]]),
        ([(0, 843.0), (599, 843.1), (600, 843.1)], [[843.0], [], [843.1]]),  # again after 10 min
    ],
)
def test_a_change_of_03_hpa_or_ten_minutes_is_posted(
    readings: list[tuple[float, float]], expected: list[list[float]]
) -> None:
    m = monitor()
    got = [posts(m.on_message(at, tasmota(hpa))) for at, hpa in readings]
    assert got == [[pytest.approx(v) for v in row] for row in expected]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"garbage", "unreadable"),
        (b'{"DS18B20":{"Temperature":107.2}}', "unreadable"),
        (b'{"BME280":{"Pressure":NaN}}', "unreadable"),
        (b'{"BME280":{"Pressure":"843"}}', "unreadable"),
        (b'{"BME280":{"Pressure":843},"PressureUnit":"psi"}', "unreadable"),
        (tasmota(2000.0), "out_of_range"),
        (tasmota(0.5), "out_of_range"),
        (tasmota(-843.0), "out_of_range"),
        (tasmota(1e300), "out_of_range"),
        (tasmota(843.0, "inHg"), "out_of_range"),  # 843 inHg: a unit mix-up, not weather
    ],
)
def test_bad_payloads_are_counted_and_dropped(payload: bytes, kind: str) -> None:
    m = monitor()
    m.on_message(0.0, tasmota(843.0))
    decisions = m.on_message(1.0, payload)
    assert posts(decisions) == []
    assert m.counts[kind] == 1 and m.hpa == pytest.approx(843.0)
    assert len(warnings(decisions)) == 1 and "keeping 843.0 hPa" in warnings(decisions)[0]


def test_a_payload_cut_by_the_link_is_dropped_unparsed() -> None:
    m = monitor()
    decisions = m.on_message(0.0, b'{"BME280":', size=300_000)
    assert posts(decisions) == [] and m.counts["unreadable"] == 1
    assert "300000 bytes" in warnings(decisions)[0]


def test_one_warning_per_change_of_state_not_per_payload() -> None:
    m = monitor()
    said: list[list[str]] = []
    for at, payload in enumerate([b"x", b"y", b"z", tasmota(5.0), tasmota(6.0), b"w", tasmota(843.0), b"v"]):
        said.append(warnings(m.on_message(float(at), payload)))
    assert [len(w) for w in said] == [1, 0, 0, 1, 0, 1, 0, 1]
    assert m.counts == {**m.counts, "unreadable": 5, "out_of_range": 2, "readings": 1}


def test_readable_again_is_said_once() -> None:
    m = monitor()
    m.on_message(0.0, b"x")
    again = m.on_message(1.0, tasmota(843.0))
    assert any(isinstance(d, Note) and "readable again" in d.text for d in again)
    assert not [d for d in m.on_message(2.0, tasmota(850.0)) if isinstance(d, Note) and "again" in d.text]


@pytest.mark.parametrize(
    ("unit", "value", "hpa"),
    [("hPa", 843.0, 843.0), ("mmHg", 632.3, 843.0), ("inHg", 24.89, 842.9), ("kPa", 84.3, 843.0)],
)
def test_the_stated_unit_is_honoured(unit: str, value: float, hpa: float) -> None:
    m = monitor()
    assert posts(m.on_message(0.0, tasmota(value, unit))) == [pytest.approx(hpa, abs=0.1)]


def test_station_pressure_is_used_never_sea_pressure() -> None:
    m = monitor()
    assert posts(m.on_message(0.0, tasmota(843.0, sea=1013.2))) == [pytest.approx(843.0)]


def test_a_sea_level_value_at_altitude_is_suspected_once() -> None:
    m = monitor(altitude_m=1524.0)
    first = warnings(m.on_message(0.0, tasmota(1012.0)))
    assert len(first) == 1 and "sea-level" in first[0] and "SeaPressure" in first[0]
    assert warnings(m.on_message(1.0, tasmota(1013.0))) == []
    assert m.hpa == pytest.approx(1013.0)  # used as it is: the person decides
    assert not warnings(m.on_message(2.0, tasmota(843.0)))
    assert not warnings(monitor(altitude_m=1524.0).on_message(0.0, tasmota(843.0)))


def test_a_reading_older_than_stale_after_is_forgotten_once() -> None:
    m = monitor(stale_after=100.0)
    m.on_message(0.0, tasmota(843.0))
    assert m.deadline == 100.0
    assert m.on_tick(99.0) == []
    decisions = m.on_tick(100.0)
    assert posts(decisions) == [None] and len(warnings(decisions)) == 1
    assert m.hpa is None and m.deadline is None
    assert m.on_tick(500.0) == []
    assert posts(m.on_message(600.0, tasmota(843.0))) == [843.0]  # back: posted at once


def test_a_live_reading_keeps_it_fresh() -> None:
    m = monitor(stale_after=100.0)
    m.on_message(0.0, tasmota(843.0))
    m.on_message(90.0, tasmota(843.1))  # not posted (under 0.3 hPa), but heard
    assert m.on_tick(150.0) == [] and m.deadline == 190.0


def test_retained_values_never_extend_nor_bring_back_a_dead_sensor() -> None:
    m = monitor(stale_after=100.0)
    assert posts(m.on_message(0.0, tasmota(843.0), retained=True)) == [843.0]  # nothing else: better than none
    m.on_message(50.0, tasmota(843.0), retained=True)  # a reconnect re-delivers it: no younger for that
    assert m.counts["old"] == 1 and m.deadline == 100.0
    assert posts(m.on_tick(100.0)) == [None]
    assert posts(m.on_message(120.0, tasmota(843.0), retained=True)) == []  # the value that just went stale
    assert posts(m.on_message(130.0, tasmota(850.0), retained=True)) == [850.0]  # another one: the sensor spoke
    assert posts(m.on_message(140.0, tasmota(843.0))) == [843.0]  # live, whatever it says


def test_a_restored_reading_goes_stale_from_the_restart() -> None:
    m = monitor(stale_after=100.0)
    m.resume(1000.0, 843.0)
    assert posts(m.on_message(1010.0, tasmota(843.1))) == []  # the kitchen already holds it
    assert posts(m.on_tick(1110.0)) == [None]


# ---- the part, in-process, against a real broker ------------------------------------------------


@dataclass
class Running:
    hub: Hub
    part: Barometer
    clock: HandClock
    device: Publisher
    tasks: list[asyncio.Task[None]]

    async def send(self, payload: bytes, topic: str = TOPIC, retain: bool = False) -> None:
        await asyncio.to_thread(self.device.publish, topic, payload, retain)

    async def handled(self, count: int, what: str = "the payloads") -> None:
        c = self.part.monitor.counts
        await wait_until_async(lambda: c["readings"] + c["unreadable"] + c["out_of_range"] + c["old"] >= count, 5, what)

    def probe(self, probe_id: str) -> dict[str, Any]:
        return next(p for p in self.hub.status()["probes"] if p["id"] == probe_id)


@pytest.fixture
async def start(mosquitto: Broker, publisher: Publisher) -> AsyncIterator[Callable[..., Any]]:  # noqa: F811
    made: list[Running] = []

    async def make(setups: list[ProbeSetup], query: str = "format=tasmota", stale_after: float = 3600.0) -> Running:
        clock = HandClock()
        hub = Hub(Kitchen(setups), clock, load_profiles())
        part = Barometer(barometer_settings(mosquitto.url(TOPIC, query)), stale_after, tick_s=0.05)
        part.attach(hub)
        tasks = [asyncio.create_task(hub.run()), asyncio.create_task(part.run())]
        running = Running(hub, part, clock, publisher, tasks)
        made.append(running)
        await wait_until_async(lambda: part.connected, 10, "the barometer to subscribe")
        return running

    yield make
    for running in made:
        await running.part.close()
        for task in running.tasks:
            task.cancel()
        await asyncio.gather(*running.tasks, return_exceptions=True)


async def test_a_tasmota_bme280_at_843_hpa_moves_the_caramel_target(start: Callable[..., Any]) -> None:
    run: Running = await start([ProbeSetup("pot"), ProbeSetup("oven")])
    async with client_for(run.hub) as client:
        assert (await client.post("/api/cooks", json={"profile": "caramel", "probe": "pot"})).status_code == 201
        before = (await client.get("/api/status")).json()
        mark = run.hub.bus.last_id
        await run.send(tasmota(843.0, sea=1013.1))
        await wait_until_async(lambda: run.hub.kitchen.pressure_hpa is not None, 5, "the pressure to reach the kitchen")
        status = (await client.get("/api/status")).json()
    assert before["cook"]["calibration"] == "none" and before["cook"]["target_c"] == pytest.approx(CARAMEL_C, abs=0.01)
    pot = next(p for p in status["probes"] if p["id"] == "pot")
    assert pot["calibration"] == "pressure" and pot["pressure_hpa"] == 843.0 and pot["altitude_m"] is None
    assert pot["water_boils_c"] == pytest.approx(94.94, abs=0.01)
    assert pot["water_boils_f"] == pytest.approx(202.9, abs=0.02)
    assert pot["calibration_offset_c"] == pytest.approx(-5.06, abs=0.01)
    assert pot["calibration_offset_f"] == pytest.approx(-9.10, abs=0.02)  # a difference: ×1.8, no 32
    assert {"lag_s", "boil_c"} <= set(pot)
    cook = status["cook"]
    assert cook["calibration"] == "pressure" and cook["water_boils_c"] == pytest.approx(94.94, abs=0.01)
    assert cook["target_c"] == pytest.approx(CARAMEL_C - 5.057, abs=0.02)
    assert cook["target_f"] == pytest.approx(225.0 - 9.10, abs=0.05)
    # the page hears it without polling: where water boils, then the cook with its new target
    events, _ = run.hub.bus.since(mark)
    names = [(e.name, e.data.get("probe", e.data.get("id"))) for e in events]
    assert ("calibration", "pot") in names and ("calibration", "oven") in names
    cal = next(e for e in events if e.name == "calibration" and e.data["probe"] == "pot")
    assert cal.data["calibration"] == "pressure" and cal.data["water_boils_f"] == pytest.approx(202.9, abs=0.02)
    moved = [e for e in events if e.name == "cook" and e.id > cal.id]
    assert moved and moved[0].data["target_c"] == pytest.approx(CARAMEL_C - 5.057, abs=0.02)
    assert run.part.health()["pressure"]["hpa"] == 843.0  # type: ignore[index]


async def test_a_measured_boil_wins_over_the_barometer(start: Callable[..., Any]) -> None:
    run: Running = await start([ProbeSetup("pot", boil_c=f_to_c(210.0), altitude_m=1524.0), ProbeSetup("oven")])
    await run.hub.request(StartCook(run.clock.t, run.hub.profiles["caramel"], "pot"))
    await run.send(tasmota(843.0))
    await wait_until_async(
        lambda: run.probe("oven")["calibration"] == "pressure", 5, "the oven to follow the barometer"
    )
    pot = run.probe("pot")
    assert pot["calibration"] == "measured" and pot["water_boils_f"] == pytest.approx(210.0, abs=0.01)
    assert pot["pressure_hpa"] == 843.0  # known, but the boil test says more (the probe's own error too)
    cook = run.hub.status()["cook"]
    assert cook["calibration"] == "measured" and cook["target_f"] == pytest.approx(223.0, abs=0.01)


async def test_malformed_and_impossible_payloads_are_dropped_and_the_next_good_one_is_used(
    start: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    run: Running = await start([ProbeSetup("pot")])
    await run.send(tasmota(843.0))
    await wait_until_async(lambda: run.hub.kitchen.pressure_hpa == 843.0, 5, "the first reading")
    bad = [
        b"garbage",
        b"\xff\xfe\x00",
        b'{"DS18B20":{"Temperature":107.2},"TempUnit":"C"}',  # no pressure key
        b'{"BME280":{"Pressure":NaN},"PressureUnit":"hPa"}',
        b'{"BME280":{"Pressure":"843.0"},"PressureUnit":"hPa"}',  # a string
        b'{"BME280":{"Pressure":' + b"9" * 500 + b"}}",  # a number too big for a float
        b"[" * 5000 + b"]" * 5000,
        b"x" * 300_000,  # cut on paho's thread, refused unparsed
        tasmota(2000.0),
        tasmota(12.0),
        tasmota(843.0, "Pa"),  # 8.43 hPa
    ]
    with caplog.at_level(logging.DEBUG, logger="service.runtime.barometer"):
        for payload in bad:
            await run.send(payload)
        await run.handled(1 + len(bad), "every bad payload to be dropped")
        assert run.hub.kitchen.pressure_hpa == 843.0
        health = run.part.health()["pressure"]
        assert isinstance(health, dict) and health["thread_alive"] and health["state"] == "connected"
        assert health["unreadable"] == 8 and health["out_of_range"] == 3
        await run.send(tasmota(850.0))
        await wait_until_async(lambda: run.hub.kitchen.pressure_hpa == 850.0, 5, "a good reading after the bad ones")
    said = [r for r in caplog.records if r.name == "service.runtime.barometer" and r.levelno >= logging.WARNING]
    assert len(said) == 2, [r.getMessage() for r in said]  # unreadable, then out of range: not one per payload
    dropped = [r for r in caplog.records if r.levelno == logging.DEBUG and "dropped" in r.getMessage()]
    assert len(dropped) == len(bad)
    assert run.probe("pot")["water_boils_c"] == pytest.approx(water_boils_at_c(850.0), abs=0.01)


async def test_esphome_and_home_assistant_sources(start: Callable[..., Any]) -> None:
    esphome: Running = await start([ProbeSetup("pot")], "format=number&unit=inHg")
    await esphome.send(b"24.89")
    await wait_until_async(lambda: esphome.hub.kitchen.pressure_hpa is not None, 5, "the ESPHome reading")
    assert esphome.hub.kitchen.pressure_hpa == pytest.approx(842.9, abs=0.1)
    ha: Running = await start([ProbeSetup("pot")], "format=json&field=state")
    await ha.send(b'{"state": 632.3, "unit_of_measurement": "mmHg"}')
    await wait_until_async(lambda: ha.hub.kitchen.pressure_hpa is not None, 5, "the Home Assistant reading")
    assert ha.hub.kitchen.pressure_hpa == pytest.approx(843.0, abs=0.1)


async def test_a_stale_barometer_falls_back_to_the_altitude_or_to_none(start: Callable[..., Any]) -> None:
    run: Running = await start([ProbeSetup("pot", altitude_m=1524.0), ProbeSetup("oven")], stale_after=60.0)
    await run.send(tasmota(800.0))
    await wait_until_async(lambda: run.probe("pot")["calibration"] == "pressure", 5, "the barometer to be in force")
    assert run.probe("pot")["water_boils_c"] == pytest.approx(water_boils_at_c(800.0), abs=0.01)
    mark = run.hub.bus.last_id
    run.clock.t += 59.0
    ticks = run.part.ticks
    await wait_until_async(lambda: run.part.ticks >= ticks + 3, 5, "the part to look at the clock a few times")
    assert run.hub.kitchen.pressure_hpa == 800.0
    run.clock.t += 1.5
    await wait_until_async(lambda: run.hub.kitchen.pressure_hpa is None, 5, "the stale reading to be forgotten")
    pot, oven = run.probe("pot"), run.probe("oven")
    assert pot["calibration"] == "altitude" and pot["pressure_hpa"] is None
    assert pot["water_boils_c"] == pytest.approx(water_boils_at_c(pressure_at_altitude_hpa(1524.0)), abs=0.01)
    assert oven["calibration"] == "none" and oven["water_boils_c"] == 100.0 and oven["calibration_offset_f"] == 0.0
    events, _ = run.hub.bus.since(mark)
    assert {e.data["calibration"] for e in events if e.name == "calibration"} == {"altitude", "none"}
    assert run.part.health()["pressure"]["stale"] == 1  # type: ignore[index]


# ---- the altitude alone: no barometer at all ----------------------------------------------------------


async def test_altitude_in_the_config_shifts_the_targets_without_a_barometer() -> None:
    config = parse_config(
        {
            "altitude": "5000ft",
            "probes": [
                {"id": "pot", "url": "sim://"},
                {"id": "oven", "url": "sim://", "altitude": "1500m"},
                {"id": "jam", "url": "sim://", "altitude": "0ft", "lag": "15s"},
            ],
        },
        "t.toml",
    )
    hub = Hub(Kitchen(probe_setups(config)), HandClock(), load_profiles())
    task = asyncio.create_task(hub.run())
    try:
        async with client_for(hub) as client:
            for probe in ("pot", "oven"):
                r = await client.post("/api/cooks", json={"profile": "caramel", "probe": probe})
                assert r.status_code == 201
            status = (await client.get("/api/status")).json()
    finally:
        task.cancel()
    probes = {p["id"]: p for p in status["probes"]}
    pot = probes["pot"]
    assert pot["calibration"] == "altitude" and pot["altitude_m"] == pytest.approx(1524.0)
    assert pot["water_boils_f"] == pytest.approx(202.9, abs=0.02) and pot["pressure_hpa"] is None
    assert probes["oven"]["altitude_m"] == pytest.approx(1500.0)
    assert probes["jam"]["calibration"] == "altitude" and probes["jam"]["lag_s"] == 15.0
    assert probes["jam"]["calibration_offset_c"] == pytest.approx(0.0, abs=0.01)
    cooks = {c["probe"]: c for c in status["cooks"]}
    assert cooks["pot"]["calibration"] == "altitude"
    assert cooks["pot"]["target_c"] == pytest.approx(CARAMEL_C - 5.055, abs=0.02)
    assert cooks["pot"]["target_f"] == pytest.approx(215.9, abs=0.05)
    oven_shift = water_boils_at_c(pressure_at_altitude_hpa(1500.0)) - 100.0
    assert cooks["oven"]["target_c"] == pytest.approx(CARAMEL_C + oven_shift, abs=0.02)


# ---- a real potwatch run ---------------------------------------------------------------------------------


def service_for(tmp_path: Path, broker: Broker, pressure: bool = True) -> ServiceProcess:
    config = tmp_path / ("with.toml" if pressure else "without.toml")
    table = f'[pressure]\nurl = "{broker.url(TOPIC, "format=tasmota")}"\nstale_after = "1h"\n' if pressure else ""
    config.write_text(
        f'altitude = "5000ft"\n[storage]\nstate_dir = "{tmp_path / "state"}"\n{table}\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?kind=caramel"\n\n'
        '[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    return ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port())


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for svc in started:
        if svc.proc is not None and svc.proc.poll() is None:
            svc.stop(signal.SIGKILL)


def test_potwatch_run_reads_the_barometer_and_a_restart_without_one_forgets_it(
    tmp_path: Path,
    mosquitto: Broker,  # noqa: F811
    publisher: Publisher,  # noqa: F811
    processes: list[ServiceProcess],
) -> None:
    svc = service_for(tmp_path, mosquitto)
    processes.append(svc)
    svc.start()
    wait_until(lambda: svc.get("/healthz").get("pressure", {}).get("state") == "connected", 15, "the barometer")
    assert svc.get("/api/status")["cook"]["calibration"] == "altitude"
    with sse(svc.base + "/api/events") as stream:
        stream.attached()
        publisher.publish(TOPIC, tasmota(843.0))
        event = stream.take("calibration", 10, lambda e: e.data["probe"] == "pot")
        cook = stream.take("cook", 10, lambda e: e.data["calibration"] == "pressure")
    assert event.data["calibration"] == "pressure" and event.data["pressure_hpa"] == 843.0
    assert cook.data["target_c"] == pytest.approx(CARAMEL_C - 5.057, abs=0.02)
    pot = svc.get("/api/status")["probes"][0]
    assert pot["calibration"] == "pressure" and pot["altitude_m"] == pytest.approx(1524.0)
    svc.stop()
    # the history kept the reading; without a [pressure] table nobody would ever make it stale
    again = service_for(tmp_path, mosquitto, pressure=False)
    processes.append(again)
    again.start()
    status = again.get("/api/status")
    assert status["cook"] is not None and status["cook"]["calibration"] == "altitude"
    assert status["probes"][0]["pressure_hpa"] is None
    assert "pressure" not in again.get("/healthz")


def test_check_config_names_the_pressure_key(tmp_path: Path) -> None:
    from service.cli import config_problems

    path = tmp_path / "bad.toml"
    path.write_text('[pressure]\nurl = "mqtt://pi/tele/k/SENSOR?format=number&unit=psi"\nstale_after = 6\n')
    _, problems = config_problems(path)
    assert sorted(p.split(": ", 2)[1] for p in problems) == ["pressure.stale_after", "pressure.url"]
    assert any("unit='psi'" in p for p in problems)

"""1-Wire (DS18B20) probes: the w1_slave parser (pure) and the driver on a folder laid out like sysfs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.base import ProbeDown, ProbeEvent, ProbeNotice, ProbeUrlError, Reading
from drivers.registry import open_probe, parse_probe_url
from drivers.w1_probe import W1Dropped, W1Value, parse_w1_slave, settings_from_url, w1_decoded
from service.core.units import parse_duration
from tests.support.clock import OffsetClock
from tests.support.events import EventCollector, is_down

SENSOR = "28-0316a2791cff"

# What the kernel's w1_therm driver really writes (Raspberry Pi OS, DS18B20).
GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
HOT = "b2 06 4b 46 7f ff 0e 10 8c : crc=8c YES\n b2 06 4b 46 7f ff 0e 10 8c t=107125\n"
CRC_NO = "72 01 4b 46 7f ff 0e 10 57 : crc=a1 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
NO_SENSOR = "ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n"
POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
ZEROS = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"
NEG = "5e ff 4b 46 7f ff 0c 10 d8 : crc=d8 YES\n5e ff 4b 46 7f ff 0c 10 d8 t=-10125\n"
MINUS_127 = "10 f8 4b 46 7f ff 0c 10 4e : crc=4e YES\n10 f8 4b 46 7f ff 0c 10 4e t=-127000\n"


def slave(milli: int, crc: str = "YES") -> str:
    return f"72 01 4b 46 7f ff 0e 10 57 : crc=57 {crc}\n72 01 4b 46 7f ff 0e 10 57 t={milli}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, W1Value(23125, "72 01 4b 46 7f ff 0e 10 57 t=23125")),
        (HOT, W1Value(107125, "b2 06 4b 46 7f ff 0e 10 8c t=107125")),
        (NEG, W1Value(-10125, "5e ff 4b 46 7f ff 0c 10 d8 t=-10125")),
        (CRC_NO, W1Dropped("CRC check failed")),
        (NO_SENSOR, W1Dropped("CRC check failed")),
        ("", W1Dropped("expected 2 lines, got 0")),
        ("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", W1Dropped("expected 2 lines, got 1")),
        ("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff t=23125\n", W1Dropped("no t= value")),
        ("72 01 4b 46 7f ff 0e 10 57 : crc=57\nx t=1\n", W1Dropped("no CRC verdict")),
    ],
)
def test_parse_w1_slave(text: str, expected: W1Value | W1Dropped) -> None:
    assert parse_w1_slave(text) == expected


@pytest.mark.parametrize(
    ("text", "previous", "celsius", "fault"),
    [
        (GOOD, None, 23.125, None),
        (POWER_ON, None, None, "85 °C power-on value"),  # right after power-on: the reset value
        (POWER_ON, 23.1, None, "85 °C power-on value"),  # a jump to exactly 85.000: the sensor reset
        (POWER_ON, 84.9, 85.0, None),  # a pot climbing through 85 °C
        (MINUS_127, 20.0, None, "-127"),
        (ZEROS, 20.0, None, "all-zero scratchpad"),
        (NEG, None, -10.125, None),
    ],
)
def test_ds18b20_error_values(text: str, previous: float | None, celsius: float | None, fault: str | None) -> None:
    value = parse_w1_slave(text)
    assert isinstance(value, W1Value)
    decoded = w1_decoded(value, previous)
    assert decoded.celsius == celsius
    if fault is None:
        assert decoded.fault is None
    else:
        assert fault in (decoded.fault or "")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("w1://28-0316a2791cff?bus=1", "unknown option 'bus'"),
        ("w1://sensor1", "not a 1-Wire temperature sensor id"),
        ("w1://28-0316a2791cff/w1_slave", "right after w1://"),
        ("w1://?root=relative/path", "absolute path"),
        ("w1://?interval=0", "between 50ms and 600s"),
        ("w1://?interval=often", "not a duration"),
    ],
)
def test_bad_urls(url: str, says: str) -> None:
    with pytest.raises(ProbeUrlError) as info:
        open_probe("pot", url)
    assert says in str(info.value)


def test_url_defaults() -> None:
    s = settings_from_url(parse_probe_url(f"w1://{SENSOR}"))
    assert (s.sensor, str(s.root), s.interval) == (SENSOR, "/sys/bus/w1/devices", 1.0)
    assert settings_from_url(parse_probe_url("w1://")).sensor is None


# ---------------------------------------------------------------------------
# the driver on a folder laid out like /sys/bus/w1/devices


class Bus:
    """A temporary /sys/bus/w1/devices with sensors that a test can plug, unplug and rewrite."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "w1_bus_master1").mkdir(parents=True)

    def put(self, sensor: str, text: str) -> None:
        folder = self.root / sensor
        folder.mkdir(exist_ok=True)
        tmp = folder / "w1_slave.tmp"
        tmp.write_text(text)
        tmp.replace(folder / "w1_slave")  # atomic, like the kernel's single read

    def unplug(self, sensor: str) -> None:
        for child in (self.root / sensor).iterdir():
            child.unlink()
        (self.root / sensor).rmdir()


def w1(root: Path, sensor: str = SENSOR) -> str:
    return f"w1://{sensor}?root={root}&interval=50ms"


def reading(celsius: float | None) -> Callable[[ProbeEvent], bool]:
    return lambda e: isinstance(e, Reading) and e.celsius == celsius


async def test_reads_a_sensor(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put(SENSOR, GOOD)
    async with EventCollector(open_probe("pot", w1(tmp_path))) as events:
        got = await events.wait_for(reading(23.125))
    assert isinstance(got, Reading)
    assert (got.probe, got.channel, got.raw, got.fault) == (
        "pot",
        "",
        "72 01 4b 46 7f ff 0e 10 57 t=23125",
        None,
    )


async def test_first_sensor_when_none_is_named(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put("28-ffffffffffff", slave(30000))
    bus.put("28-000000000001", slave(20000))
    async with EventCollector(open_probe("pot", f"w1://?root={tmp_path}&interval=50ms")) as events:
        await events.wait_for(reading(20.0))


async def test_crc_failures_are_dropped_and_30_s_of_them_is_a_fault(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put(SENSOR, CRC_NO)
    clock = OffsetClock()
    probe = open_probe("pot", w1(tmp_path), clock=clock)
    async with EventCollector(probe) as events:
        fault: ProbeEvent | None = None
        for _ in range(40):  # let time pass in 2 s steps while the bus keeps failing
            clock.advance(2.0)
            try:
                fault = await events.wait_for(lambda e: isinstance(e, Reading), timeout=0.1)
                break
            except AssertionError:
                continue
        bus.put(SENSOR, slave(99000))
        await events.wait_for(reading(99.0))
    assert isinstance(fault, Reading)
    assert fault.celsius is None
    assert fault.fault == "only unreadable data for 30 s (CRC check failed)"
    assert [r.celsius for r in events.readings()][-1] == 99.0


async def test_power_on_85_then_real_values(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put(SENSOR, POWER_ON)
    async with EventCollector(open_probe("pot", w1(tmp_path))) as events:
        fault = await events.wait_for(lambda e: isinstance(e, Reading) and e.celsius is None)
        bus.put(SENSOR, GOOD)
        await events.wait_for(reading(23.125))
    assert isinstance(fault, Reading) and "power-on" in (fault.fault or "")


async def test_minus_127_is_a_fault(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put(SENSOR, MINUS_127)
    async with EventCollector(open_probe("pot", w1(tmp_path))) as events:
        fault = await events.wait_for(lambda e: isinstance(e, Reading) and e.celsius is None)
    assert isinstance(fault, Reading) and "-127" in (fault.fault or "")


async def test_unplug_and_replug(tmp_path: Path) -> None:
    bus = Bus(tmp_path)
    bus.put(SENSOR, GOOD)
    async with EventCollector(open_probe("pot", w1(tmp_path))) as events:
        await events.wait_for(reading(23.125))
        bus.unplug(SENSOR)
        down = await events.wait_for(is_down)
        mark = len(events.events)
        bus.put(SENSOR, POWER_ON)  # a sensor that comes back has just been powered
        await events.wait_for(lambda e: isinstance(e, Reading) and e.celsius is None, after=mark)
        bus.put(SENSOR, slave(24000))
        await events.wait_for(reading(24.0), after=mark)
    assert isinstance(down, ProbeDown) and SENSOR in down.reason
    assert sum(1 for e in events.events if is_down(e)) == 1


async def test_no_bus_and_no_sensor_say_what_to_check(tmp_path: Path) -> None:
    async with EventCollector(open_probe("pot", w1(tmp_path / "nowhere"))) as events:
        notice = await events.wait_for(lambda e: isinstance(e, ProbeNotice))
        await events.wait_for(is_down)
    assert isinstance(notice, ProbeNotice) and "dtoverlay=w1-gpio" in notice.message

    Bus(tmp_path)
    async with EventCollector(open_probe("pot", f"w1://?root={tmp_path}&interval=50ms")) as events:
        notice = await events.wait_for(lambda e: isinstance(e, ProbeNotice))
    assert isinstance(notice, ProbeNotice) and "pull-up" in notice.message

    async with EventCollector(open_probe("pot", w1(tmp_path))) as events:
        notice = await events.wait_for(lambda e: isinstance(e, ProbeNotice))
    assert isinstance(notice, ProbeNotice) and f"{SENSOR} not found" in notice.message


@pytest.mark.parametrize("text", ["2s", "500ms", "1min", "1m30s", "90 seconds", "2"])
def test_an_interval_means_what_the_config_means(text: str) -> None:
    # One grammar for durations: a probe URL and the config read the same text alike.
    interval = settings_from_url(parse_probe_url(f"w1://?interval={text}")).interval
    assert interval == parse_duration(text, bare_seconds=True)

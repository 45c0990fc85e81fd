"""Random bytes never become temperatures: the noise meter and the serial stream it guards. Pure, no I/O."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from drivers.base import ProbeEvent, Reading
from drivers.noise import WINDOW_S, NoiseMeter
from drivers.serial_probe import SerialSettings, StreamMonitor, Timing

BAUDS = [50, 300, 1200, 9600, 19200, 57600, 74880, 115200, 230400, 921600]
GARBAGE_FAULT = "only unreadable data for 30 s"


def random_stream(
    seed: int, baud: int, seconds: float, fmt: str = "number", unit: str = "F", opened_at: float = 0.0
) -> tuple[StreamMonitor, list[ProbeEvent]]:
    """A device already babbling random bytes when the port opens, read in chunks as they arrive."""
    rng = random.Random(seed)
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", baud=baud, fmt=fmt, unit=unit), opened_at)
    bytes_per_s = baud / 10.0  # 8N1: ten bits a byte
    sent = 0.0
    at = opened_at
    events: list[ProbeEvent] = []
    ticked = opened_at
    while at - opened_at < seconds:
        size = rng.randint(1, 512)
        sent += size
        at = opened_at + sent / bytes_per_s
        while ticked + 0.25 < at:  # the driver's ticks between chunks
            ticked += 0.25
            events += monitor.on_tick(ticked)
        events += monitor.on_chunk(at, rng.randbytes(size))
    return monitor, events


def readings(events: list[ProbeEvent]) -> list[Reading]:
    return [e for e in events if isinstance(e, Reading)]


# Found before the noise meter: a lone digit line among the random bytes became a reading.
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    baud=st.sampled_from(BAUDS),
    seconds=st.floats(min_value=0.05, max_value=60.0),
    fmt=st.sampled_from(["number", "auto", "unit", "keyvalue", "csv", "json"]),
)
@example(seed=3, baud=115200, seconds=20.0, fmt="number")
@example(seed=1, baud=115200, seconds=20.0, fmt="auto")
def test_random_bytes_at_any_baud_never_become_readings(seed: int, baud: int, seconds: float, fmt: str) -> None:
    # at most 256 KiB an example, so the fast bauds do not take the suite's time
    seconds = min(seconds, 262_144 / (baud / 10.0))
    _, events = random_stream(seed, baud, seconds, fmt)
    got = readings(events)
    assert [r for r in got if r.celsius is not None] == []
    assert {r.fault for r in got} <= {GARBAGE_FAULT}


def test_random_bytes_give_the_garbage_fault_after_30_s() -> None:
    for baud in (9600, 115200):
        monitor, events = random_stream(7, baud, 32.0)
        faults = readings(events)
        assert faults, f"no fault at {baud} baud"
        assert all(r.celsius is None and r.fault == GARBAGE_FAULT for r in faults)
        assert 30.0 <= faults[0].at <= 30.5
        assert monitor.suspect > 0 or baud < 115200  # at 115200 lone digits do come, and are doubted


def test_a_real_probe_after_a_bootloader_babble_reads_once_the_babble_is_behind() -> None:
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", baud=115200, fmt="number"), opened_at=0.0)
    rng = random.Random(11)
    boot = rng.randbytes(300) + b"\r\n"  # an ESP8266's ROM talks at 74880: junk at 115200
    assert readings(monitor.on_chunk(0.2, boot)) == []
    got: list[Reading] = []
    for second in range(1, 12):
        got += readings(monitor.on_chunk(float(second), b"107.25\r\n"))
    assert got, "never read again"
    assert got[0].at <= 0.2 + WINDOW_S + 1.0
    assert {r.celsius for r in got} == {107.25}
    assert [r.at for r in got] == [float(s) for s in range(int(got[0].at), 12)]  # and every line since


def test_a_fast_probe_recovers_from_a_glitch_within_a_few_lines() -> None:
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", fmt="number"), opened_at=0.0)
    monitor.on_chunk(1.0, b"107.25\r\n")
    assert readings(monitor.on_chunk(1.1, b"\xff\xfe\x80\x00\x11garbage!\r\n")) == []
    got = [r for i in range(20) for r in readings(monitor.on_chunk(1.2 + 0.1 * i, b"107.25\r\n"))]
    assert len(got) >= 18  # at most a line or two doubted after 14 bytes of noise


def test_printable_chatter_is_not_noise() -> None:
    """DallasTemperature sketches print a status line between readings: not the format, but not noise."""
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", fmt="number"), opened_at=0.0)
    got: list[Reading] = []
    for second in range(1, 31):
        got += readings(monitor.on_chunk(float(second), b"Requesting temperatures...DONE\r\n23.50\r\n"))
    assert len(got) == 30


def test_the_meter_weighs_bytes_over_a_window_of_lines_and_seconds() -> None:
    meter = NoiseMeter(window_s=5.0, window_lines=4)
    meter.weigh(0.0, 100, 0)
    assert meter.noisy(0.0)
    meter.weigh(1.0, 0, 8)
    assert meter.noisy(1.0)  # 100 noise bytes against 8 good
    assert not meter.noisy(5.5)  # the noise is more than 5 s old
    meter.weigh(6.0, 100, 0)
    for i in range(4):
        meter.weigh(6.1 + i / 10, 0, 8)
    assert not meter.noisy(6.5)  # four good lines since: the noise is out of the window
    meter.weigh(7.0, 0, 0)  # a line that says nothing changes nothing
    assert (meter.noise, meter.good) == (0, 32)
    assert "0 of the last 32 bytes" in meter.describe()


def test_suspect_lines_keep_the_garbage_clock_running() -> None:
    timing = Timing(garbage_notice=5.0, garbage_fault=30.0)
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", fmt="number"), opened_at=0.0, timing=timing)
    events: list[ProbeEvent] = []
    for i in range(1, 32):
        # every second: a burst of junk, and in it a line that would read as 9 °C
        events += monitor.on_chunk(float(i), b"\x8f\xa2\x01\x9c\x00\xfe\xdd\x83\r9\r")
        events += monitor.on_tick(i + 0.5)
    got = readings(events)
    assert [r for r in got if r.celsius is not None] == []
    assert got and got[0].fault == GARBAGE_FAULT and 30.0 <= got[0].at <= 31.0
    notices = [e for e in events if not isinstance(e, Reading)]
    assert any("inside noise" in getattr(n, "message", "") for n in notices)


def test_a_lucky_digit_in_a_burst_is_doubted_when_good_lines_follow_in_the_same_chunk() -> None:
    """Found by the garbage flood: the chunk's verdict came after its last 16 good lines had pushed the noise out."""
    rng = random.Random(5)
    burst = b"".join(bytes(b for b in rng.randbytes(64) if b not in b"\r\n0123456789") + b"\n" for _ in range(12))
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", fmt="number"), opened_at=0.0)
    monitor.on_chunk(1.0, b"150.00\n")
    good = b"".join(b"150.%02d\n" % i for i in range(20))
    for lucky_at in (0, 6, 12):  # at the burst's start, inside it, at its end
        pieces = burst.split(b"\n")
        data = b"\n".join([*pieces[:lucky_at], b"3", *pieces[lucky_at:]]) + good
        got = readings(monitor.on_chunk(2.0 + lucky_at, data))
        assert 3.0 not in {r.celsius for r in got}, f"the digit at line {lucky_at} of the burst was read"
        assert got, "the good lines after the burst never read"

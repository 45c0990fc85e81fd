"""The serial driver on real pseudo-terminals, through pyserial, as on the Pi.

Each test plays the device on a pty master (tests/support/pty_device.py)
and waits on the events it expects, with a timeout: no sleep-and-hope.
Writes start with a newline: the driver drops whatever comes before the first
line end right after it opens the port (it may be the tail of a line).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from drivers.base import Probe, ProbeDown, ProbeEvent, ProbeNotice, ProbeUrlError, Reading, dropped_by
from drivers.noise import WINDOW_S
from drivers.registry import open_probe, parse_probe_url
from drivers.serial_probe import (
    OpenProblem,
    SerialProbe,
    SerialSettings,
    StreamMonitor,
    Timing,
    explain_open_error,
    settings_from_url,
)
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import AlertRaised, Output, Sample, StartCook, Tick
from service.core.profile import HoldStep, Profile
from service.core.units import f_to_c
from tests.support.clock import OffsetClock
from tests.support.events import EventCollector, Predicate, is_down, is_notice, is_reading
from tests.support.pty_device import ByIdLink, FakeTc4Board, PtyDevice, Streamer, UrandomDevice
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.real_part("pty")


def probe_for(path: str, query: str = "baud=9600&format=number&unit=C", clock: OffsetClock | None = None) -> Probe:
    return open_probe("pot", f"serial://{path}?{query}", clock=clock or time.monotonic)


@pytest.fixture
def device() -> Iterator[PtyDevice]:
    with PtyDevice() as dev:
        yield dev


# ---------------------------------------------------------------------------
# URL options: checked before any I/O


def test_url_defaults() -> None:
    s = settings_from_url(parse_probe_url("serial:///dev/serial/by-id/usb-FTDI_A50285BI-if00-port0"))
    assert s == SerialSettings(path="/dev/serial/by-id/usb-FTDI_A50285BI-if00-port0")
    tc4 = settings_from_url(parse_probe_url("serial:///dev/ttyACM0?format=tc4&unit=F&interval=500ms&chan=1230"))
    assert (tc4.baud, tc4.unit, tc4.interval, tc4.tc4_channels) == (115200, "F", 0.5, 3)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial://", "three slashes"),
        ("serial:///dev/ttyUSB0?baud=fast", "baud='fast'"),
        ("serial:///dev/ttyUSB0?baud=0", "baud='0'"),
        ("serial:///dev/ttyUSB0?format=xml", "format='xml'"),
        ("serial:///dev/ttyUSB0?unit=K", "unit='K'"),
        ("serial:///dev/ttyUSB0?bauds=9600", "unknown option 'bauds'"),
        ("serial:///dev/ttyUSB0?interval=1s", "only apply to format=tc4"),
        ("serial:///dev/ttyUSB0?format=tc4&interval=0", "between 100ms and 60s"),
        ("serial:///dev/ttyUSB0?format=tc4&interval=soon", "not a duration"),
        ("serial:///dev/ttyUSB0?format=tc4&chan=0000", "chan='0000'"),
        ("serial:///dev/ttyUSB0?format=tc4&chan=12", "chan='12'"),
    ],
)
def test_bad_url_options_are_refused_before_any_io(url: str, says: str) -> None:
    with pytest.raises(ProbeUrlError) as info:
        open_probe("pot", url)
    assert says in str(info.value)


def test_a_missing_device_is_not_a_url_error() -> None:
    probe = open_probe("pot", "serial:///dev/does-not-exist?format=auto")
    assert probe.probe_id == "pot"


# ---------------------------------------------------------------------------
# the stream


async def test_the_contract_check_line(device: PtyDevice) -> None:
    """What the shared contract check does through `potwatch probe --json`."""
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading", device.path, "9600 baud"))
        sent_at = time.monotonic()
        device.write(b"\n107.25\n")
        got = await events.wait_for(is_reading(107.25))
    assert isinstance(got, Reading)
    assert (got.probe, got.channel, got.raw, got.fault, got.live) == ("pot", "", "107.25", None, True)
    assert sent_at <= got.at <= time.monotonic()


async def test_each_reading_is_stamped_when_its_line_arrives(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\n1.5\n")
        first = await events.wait_for(is_reading(1.5))
        await asyncio.sleep(0.3)  # the device's pace, not a wait for the driver
        written_at = time.monotonic()
        device.write(b"2.5\n")
        second = await events.wait_for(is_reading(2.5))
        received_at = time.monotonic()
    assert isinstance(first, Reading) and isinstance(second, Reading)
    # Stamped when the line arrived: not before it was written, not when the consumer got it.
    assert written_at <= second.at <= received_at
    assert second.at - first.at >= 0.3


async def test_line_ends_lf_crlf_and_lone_cr(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\n1.5\r2.5\r\n3.5\n4.5\r")
        await events.wait_for(is_reading(4.5))
        device.write(b"\n5.5\r\n")  # the \n of a \r\n split across reads is not an empty line
        await events.wait_for(is_reading(5.5))
    assert [r.celsius for r in events.readings()] == [1.5, 2.5, 3.5, 4.5, 5.5]


async def test_the_first_line_after_opening_may_be_cut_off_and_is_dropped(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"7.25\n107.25\n")  # "7.25": the tail of a line sent before we listened
        await events.wait_for(is_reading(107.25))
    assert [r.celsius for r in events.readings()] == [107.25]


async def test_several_channels_and_channel_selection(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path, "format=keyvalue")) as all_of_them:
        await all_of_them.wait_for(is_notice("reading"))
        device.write(b"\nT1=107.25,T2=98.5\n")
        await all_of_them.wait_for(is_reading(98.5, "T2"))
    assert [(r.channel, r.celsius) for r in all_of_them.readings()] == [("T1", 107.25), ("T2", 98.5)]

    async with EventCollector(probe_for(device.path, "format=keyvalue&channel=T2")) as one:
        await one.wait_for(is_notice("reading"))
        device.write(b"\nT1=107.25,T2=98.5\n")
        await one.wait_for(is_reading(98.5, "T2"))
    assert [(r.channel, r.celsius) for r in one.readings()] == [("T2", 98.5)]


async def test_auto_says_once_which_format_it_recognised(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path, "format=auto")) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\nC = 107.25\nC = 107.5\nC = 107.75\n")
        await events.wait_for(is_reading(107.75))
    told = [e for e in events.events if isinstance(e, ProbeNotice) and "format=auto:" in e.message]
    assert len(told) == 1
    assert "format=unit" in told[0].message


async def test_max31855_fault_lines(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path, "format=auto")) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\nMAX31855 test\r\nInternal Temp = 24.12\r\nThermocouple fault(s) detected!\r\n")
        device.write(b"FAULT: Thermocouple is open - no connections.\r\nC = 107.25\r\n")
        await events.wait_for(is_reading(107.25))
    got = [(r.channel, r.celsius, r.fault) for r in events.readings()]
    assert got[0] == ("Internal", 24.12, None)
    assert got[1][:2] == ("", None) and "fault(s) detected" in (got[1][2] or "")
    assert got[2][:2] == ("", None) and "open" in (got[2][2] or "")
    assert got[3] == ("", 107.25, None)


# ---------------------------------------------------------------------------
# TC4 / aArtisan


def tc4_reply(units: str) -> str:
    """An aArtisan board reading ambient 23.5 °C, BT 107.25 °C, ET 98.5 °C; heater 0, fan 0."""
    if units == "C":
        return "23.50,107.25,98.50,0,0"
    return "74.30,225.05,209.30,0,0"


async def test_tc4_sets_channels_and_units_then_polls(device: PtyDevice) -> None:
    with FakeTc4Board(device, tc4_reply) as board:
        probe = probe_for(device.path, "format=tc4&interval=200ms")
        async with EventCollector(probe) as events:
            first = await events.wait_for(is_reading(98.5, "2"))
            later = await events.wait_for(is_reading(98.5, "2"), after=events.events.index(first) + 1)
    assert board.commands[:2] == ["CHAN;1200", "UNITS;C"]
    assert set(board.commands[2:]) == {"READ"}
    readings = {(r.channel, r.celsius) for r in events.readings()}
    assert {("ambient", 23.5), ("1", 107.25), ("2", 98.5)} <= readings
    assert isinstance(first, Reading) and isinstance(later, Reading)
    assert 0.15 <= later.at - first.at < 0.6  # polled every 200 ms (slack for a loaded CI box)


async def test_tc4_in_fahrenheit(device: PtyDevice) -> None:
    with FakeTc4Board(device, tc4_reply) as board:
        async with EventCollector(probe_for(device.path, "format=tc4&unit=F&interval=200ms")) as events:
            await events.wait_for(is_reading(channel="1"))
    assert "UNITS;F" in board.commands
    assert events.readings()[1].celsius == pytest.approx(107.25)


async def test_tc4_old_firmware_ambient_bt_et(device: PtyDevice) -> None:
    with FakeTc4Board(device, lambda units: "23.50,107.25,98.50"):
        async with EventCollector(probe_for(device.path, "format=tc4&interval=200ms")) as events:
            await events.wait_for(is_reading(98.5, "2"))


async def test_tc4_reads_the_channels_chan_switched_on(device: PtyDevice) -> None:
    # CHAN;1000 and a running PID: ambient, BT, then heater 0, fan 0 and SV, which are no temperatures.
    with FakeTc4Board(device, lambda units: "22.81,107.25,0,0,0.00") as board:
        async with EventCollector(probe_for(device.path, "format=tc4&chan=1000&interval=200ms")) as events:
            first = await events.wait_for(is_reading(107.25, "1"))
            await events.wait_for(is_reading(107.25, "1"), after=events.events.index(first) + 1)
    assert board.commands[0] == "CHAN;1000"
    assert {r.channel for r in events.readings()} == {"ambient", "1"}


async def test_tc4_retries_setup_while_the_board_boots(device: PtyDevice) -> None:
    # Opening the port resets an Arduino (DTR); for a moment it hears nothing.
    settings = settings_from_url(parse_probe_url(f"serial://{device.path}?format=tc4&interval=200ms"))
    timing = Timing(tc4_ack_wait=0.2)
    with FakeTc4Board(device, tc4_reply, deaf_for=0.5) as board:
        async with EventCollector(SerialProbe("pot", settings, time.monotonic, timing)) as events:
            await events.wait_for(is_reading(107.25, "1"))
    assert board.commands[0] in ("CHAN;1200", "UNITS;C")
    assert "READ" in board.commands


def test_tc4_sets_up_again_when_the_board_stops_answering() -> None:
    # Pure: a board that reset mid-cook forgets UNITS;C and would answer in F.
    settings = SerialSettings("/dev/ttyUSB0", fmt="tc4", interval=1.0)
    monitor = StreamMonitor("pot", settings, opened_at=0.0)
    assert monitor.commands(0.0)[0] == [b"CHAN;1200\n", b"UNITS;C\n"]
    monitor.on_chunk(0.1, b"# Active channels set to 1200\r\n# Changed units to C\r\n")
    sent = [monitor.commands(float(t))[0] for t in range(1, 6)]
    assert sent == [[b"READ\n"]] * 5  # five unanswered polls…
    commands, notices = monitor.commands(6.0)  # …then set up again
    assert commands == [b"CHAN;1200\n", b"UNITS;C\n"]
    assert "stopped answering READ" in notices[0].message


def test_tc4_polls_anyway_when_old_firmware_never_acks() -> None:
    settings = SerialSettings("/dev/ttyUSB0", fmt="tc4")
    monitor = StreamMonitor("pot", settings, opened_at=0.0)
    for t in range(4):
        assert monitor.commands(float(t))[0][0].startswith(b"CHAN;")
    commands, notices = monitor.commands(4.0)
    assert commands == [b"READ\n"]
    assert "did not acknowledge" in notices[0].message


# ---------------------------------------------------------------------------
# unplug and replug


async def test_unplug_yields_probe_down_at_once(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\n107.25\n")
        await events.wait_for(is_reading(107.25))
        pulled_at = time.monotonic()
        device.unplug()
        down = await events.wait_for(is_down, timeout=1.0)
        await events.wait_for(is_notice("not found", device.path), timeout=2.0)
        await asyncio.sleep(1.2)  # two more path polls: still just one ProbeDown
    assert isinstance(down, ProbeDown)
    assert down.at - pulled_at < 0.5
    assert "gone" in down.reason
    assert sum(1 for e in events.events if is_down(e)) == 1


async def test_replug_through_a_by_id_symlink_resumes_within_2_s(tmp_path: Path) -> None:
    link = tmp_path / "usb-Arduino_Uno_85736323-if00"
    first = PtyDevice()
    link.symlink_to(first.path)
    async with EventCollector(probe_for(str(link))) as events:
        await events.wait_for(is_notice("reading", str(link), first.path))
        first.write(b"\n107.25\n")
        await events.wait_for(is_reading(107.25))
        first.unplug()
        await events.wait_for(is_down, timeout=1.0)
        await asyncio.sleep(0.7)  # unplugged for a while: the driver keeps polling
        with PtyDevice() as second, Streamer(second, b"108.5\n"):
            fresh = tmp_path / "fresh"
            fresh.symlink_to(second.path)
            fresh.replace(link)  # udev re-points the by-id link at the new ttyUSBn
            back_at = time.monotonic()
            resumed = await events.wait_for(is_reading(108.5), timeout=3.0)
            took = time.monotonic() - back_at
            await events.wait_for(is_notice("reading", str(link), second.path))
    print(f"replug resumed after {took:.3f} s")
    assert isinstance(resumed, Reading)
    assert took < 2.0


async def test_a_device_that_is_absent_at_start(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    async with EventCollector(probe_for(str(link))) as events:
        down = await events.wait_for(is_down)
        await events.wait_for(is_notice("not found", "plugged in"))
        with PtyDevice() as dev, Streamer(dev, b"21.5\n"):
            link.symlink_to(dev.path)
            await events.wait_for(is_reading(21.5), timeout=3.0)
    assert isinstance(down, ProbeDown) and "not found" in down.reason


# ---------------------------------------------------------------------------
# garbage


WRONG_BAUD = bytes.fromhex("80f800f880fe0078f8800080f8f8fe80e0") * 20  # 107.25\r\n at 115200 read at 9600


async def test_garbage_and_binary_never_become_readings(device: PtyDevice) -> None:
    noise = random.Random(3).randbytes(8192)
    async with EventCollector(probe_for(device.path, "format=auto")) as events:
        await events.wait_for(is_notice("reading"))
        for chunk in (WRONG_BAUD, b"\n\n\r\n", noise, b"\n\x00\x01\x02\n", b"10", b"7.2\xff5\n", b"\n"):
            await device.send(chunk)
        # Right after noise a line is suspect: the device printing on is read once the noise is behind it.
        with Streamer(device, b"107.25\n"):
            await events.wait_for(is_reading(107.25))
    assert {r.celsius for r in events.readings()} == {107.25}


async def test_a_64_kib_line_is_capped_and_the_stream_goes_on(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        await device.send(b"\n" + b"1" * 65536)
        await device.send(b"11\n")
        with Streamer(device, b"107.25\n"):  # the runaway line is noise: read once it is behind
            await events.wait_for(is_reading(107.25))
    assert {r.celsius for r in events.readings()} == {107.25}


async def test_a_device_that_opens_on_bootloader_noise_reads_once_it_stops(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path, "baud=115200&format=number")) as events:
        await events.wait_for(is_notice("reading"))
        await device.send(random.Random(5).randbytes(600) + b"\r\n")  # the ROM's boot log at the wrong baud
        stopped_at = time.monotonic()
        with Streamer(device, b"107.25\r\n", period=0.25):
            first = await events.reading(is_reading(107.25), timeout=WINDOW_S + 3.0)
    assert first.at - stopped_at <= WINDOW_S + 1.0
    assert {r.celsius for r in events.readings()} == {107.25}


async def test_what_is_dropped_is_counted(tmp_path: Path) -> None:
    """``dropped`` (read by /metrics) counts each line dropped, across reopenings of the port: the
    probe unplugged and plugged back in (a real pty closed, another opened behind its by-id link) goes
    on counting from where it was; no reopening resets it."""
    link = ByIdLink(tmp_path / "by-id")
    first = PtyDevice()
    link.plug(first)
    probe = probe_for(str(link.path))
    async with EventCollector(probe) as events:
        await events.wait_for(is_notice("reading", str(link.path), first.path))
        first.write(b"\nhello\n{}\n107.25\n")  # text, not a number: dropped, not noise
        await events.wait_for(is_reading(107.25))
        assert dropped_by(probe) == 2
        first.write(b"9" * 2000 + b"\n")  # a runaway line: dropped, and noise
        with Streamer(first, b"107.5\n"):
            await events.wait_for(is_reading(107.5))
        before_unplug = dropped_by(probe)
        assert before_unplug >= 3
        link.unplug()
        first.unplug()
        await events.wait_for(is_down, timeout=2.0)
        with PtyDevice() as second:
            link.plug(second)
            await events.wait_for(is_notice("reading", str(link.path), second.path), timeout=5.0)
            # good lines until one is believed (the runaway line is still in the noise window), then
            # two more lines to drop, on the port as reopened
            with Streamer(second, b"108.25\n"):
                await events.wait_for(is_reading(108.25))
                assert dropped_by(probe) == before_unplug
                second.write(b"hello again\n{}\n")
                await wait_until_async(
                    lambda: dropped_by(probe) >= before_unplug + 2, 5, "two lines dropped after the reopening"
                )
            assert dropped_by(probe) == before_unplug + 2, (before_unplug, dropped_by(probe))


async def test_invalid_utf8_is_dropped(device: PtyDevice) -> None:
    async with EventCollector(probe_for(device.path, "format=auto")) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\n\xff\xfe107.25\n\xc3(\n1\xe2\x82\n")
        with Streamer(device, b"107.5\n"):
            await events.wait_for(is_reading(107.5))
    assert {r.celsius for r in events.readings()} == {107.5}


async def garbage_until(
    device: PtyDevice, events: EventCollector, clock: OffsetClock, want: Predicate, step: float
) -> ProbeEvent:
    """Keep the device babbling while time passes in ``step``s, until the driver says ``want``."""
    for _ in range(60):
        device.write(b"\xff\xfe\x80garbage\n")
        clock.advance(step)
        try:
            return await events.wait_for(want, timeout=0.1)
        except AssertionError:
            continue
    raise AssertionError(f"never got it; events: {events.events!r}")


async def test_30_s_of_garbage_is_a_fault(device: PtyDevice) -> None:
    clock = OffsetClock()
    async with EventCollector(probe_for(device.path, "format=number", clock)) as events:
        await events.wait_for(is_notice("reading"))
        device.write(b"\n107.25\n")
        await events.wait_for(is_reading(107.25))
        started = clock()
        notice = await garbage_until(device, events, clock, is_notice("only unreadable data"), 1.0)
        fault = await garbage_until(device, events, clock, lambda e: isinstance(e, Reading) and e.celsius is None, 1.0)
        faulted_after = clock() - started
        with Streamer(device, b"107.5\n"):  # the garbage stops, the device prints on
            await events.wait_for(is_reading(107.5))
    assert isinstance(notice, ProbeNotice)
    assert "tried 9600" in notice.message and "format=number" in notice.message
    assert isinstance(fault, Reading)
    assert (fault.channel, fault.fault) == ("", "only unreadable data for 30 s")
    assert 30 <= faulted_after <= 33
    assert sum(1 for e in events.events if is_notice("only unreadable")(e)) == 1  # once per change


class KitchenFeed:
    """Hands a probe's readings to a Kitchen as the service would, with the ticks it asks for."""

    def __init__(self, events: EventCollector, kitchen: Kitchen) -> None:
        self.events, self.kitchen, self.done = events, kitchen, 0
        self.outputs: list[Output] = []

    def pump(self) -> None:
        for event in self.events.events[self.done :]:
            if isinstance(event, Reading):
                sample = Sample(event.at, event.probe, event.channel, event.celsius, event.fault, event.live)
                self.outputs += self.kitchen.handle(sample)
        self.done = len(self.events.events)
        now = time.monotonic()
        deadline = self.kitchen.next_deadline()
        if deadline is not None and deadline <= now:
            self.outputs += self.kitchen.handle(Tick(now))

    def alerts(self) -> list[str]:
        return [o.alert.kind.value for o in self.outputs if isinstance(o, AlertRaised)]


async def test_urandom_at_115200_during_a_hold_is_a_fault_never_a_reading(device: PtyDevice) -> None:
    """The braise of the garbage report: random bytes on the line must not read as a cold pot."""
    timing = Timing(garbage_notice=0.5, garbage_fault=2.0)  # 30 s shrunk, so real time stays short
    settings = settings_from_url(parse_probe_url(f"serial://{device.path}?baud=115200&format=number&unit=F"))
    braise = HoldStep("braise", f_to_c(185.0), f_to_c(205.0), duration_s=3600.0, grace_s=0.5)
    kitchen = Kitchen([ProbeSetup("pot")])
    kitchen.handle(StartCook(time.monotonic(), Profile("braise", "braise", (braise,)), "pot"))
    feed = KitchenFeed(EventCollector(SerialProbe("pot", settings, time.monotonic, timing)), kitchen)
    async with feed.events as events:
        await events.wait_for(is_notice("reading", "115200 baud"))
        with Streamer(device, b"195.00\r\n", period=0.05):

            def holding() -> bool:
                feed.pump()
                return kitchen.cooks["c1"].machine.stage == "holding"

            await wait_until_async(holding, 5.0, "the hold to start on the real readings")
        noise_from = events.mark()
        with UrandomDevice(device, 115200) as noise:

            def faulted() -> bool:
                feed.pump()
                return "probe_fault" in feed.alerts()

            await wait_until_async(faulted, 10.0, lambda: f"probe_fault; alerts so far {feed.alerts()}")
            await wait_until_async(lambda: noise.sent >= 4 * 11_520, 10.0, "four seconds of noise")
        feed.pump()
        noise_bytes = noise.sent
    during = events.readings(noise_from)
    print(f"{noise_bytes} random bytes at 115200 baud: {len(during)} fault readings, 0 accepted")
    assert [r for r in during if r.celsius is not None] == []
    assert during and {r.fault for r in during} == {"only unreadable data for 2 s"}
    assert feed.alerts() == ["hold_reached", "probe_fault"]
    assert kitchen.cooks["c1"].machine.stage == "holding"


async def test_a_silent_port_gives_no_readings_and_one_notice(device: PtyDevice) -> None:
    clock = OffsetClock()
    async with EventCollector(probe_for(device.path, clock=clock)) as events:
        await events.wait_for(is_notice("reading"))
        clock.advance(6)
        notice = await events.wait_for(is_notice("no data for", "is the baud right? tried 9600"))
        clock.advance(6)
        await asyncio.sleep(0.6)  # a couple more ticks: still one notice
        assert not events.done
    assert isinstance(notice, ProbeNotice)
    assert events.readings() == []
    assert sum(1 for e in events.events if is_notice("no data for")(e)) == 1


async def test_the_read_does_not_block_the_event_loop(device: PtyDevice) -> None:
    lags: list[float] = []
    async with EventCollector(probe_for(device.path)) as events:
        await events.wait_for(is_notice("reading"))
        for _ in range(40):
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        assert events.readings() == []
    # A blocking read on this silent port would stall the loop for good; 0.2 s
    # leaves room for a loaded machine.
    assert max(lags) < 0.2


# ---------------------------------------------------------------------------
# busy and forbidden ports


async def test_a_busy_port_is_named_and_retried(device: PtyDevice) -> None:
    holder = serial.Serial(device.path, 9600, exclusive=True)
    try:
        async with EventCollector(probe_for(device.path)) as events:
            await events.wait_for(is_notice(device.path, "is busy"))
            await asyncio.sleep(1.2)  # more retries: still one notice
            holder.close()
            with Streamer(device, b"107.25\n"):
                await events.wait_for(is_reading(107.25), timeout=3.0)
    finally:
        holder.close()
    assert sum(1 for e in events.events if is_notice("is busy")(e)) == 1
    assert not any(is_down(e) for e in events.events)  # busy is not unplugged


def _first_open_notice_as(uid: int, gid: int, path: str) -> str:
    """Run the driver in a forked child with dropped privileges; its first notice comes back on a pipe.

    The test runs as root, for whom chmod denies nothing: only another user
    gets EACCES from the kernel, through pyserial's real os.open.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

            async def first_notice() -> str:
                probe = open_probe("pot", f"serial://{path}?baud=9600")
                async for event in probe.events():
                    if isinstance(event, ProbeNotice):
                        return event.message
                return ""

            message = asyncio.run(asyncio.wait_for(first_notice(), 5))
            os.write(write_end, message.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode()


def test_permission_denied_names_the_device_and_its_group(device: PtyDevice, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        os.chmod(device.path, 0o660)
        message = _first_open_notice_as(65534, 65534, device.path)  # nobody:nogroup
        path = device.path
    else:
        path = str(tmp_path / "ttyUSB0")
        Path(path).touch(mode=0o000)
        message = asyncio.run(_first_notice(path))
    assert message.startswith(f"permission denied opening {path}")
    assert "usermod -aG" in message
    group = os.popen(f"stat -c %G {path}").read().strip()
    assert f"group {group!r}" in message


async def _first_notice(path: str) -> str:
    async for event in open_probe("pot", f"serial://{path}").events():
        if isinstance(event, ProbeNotice):
            return event.message
    return ""


def _open_error(code: int | None, text: str) -> serial.SerialException:
    """What pyserial raises: ``SerialException(errno, message)``, as in its ``open()``."""
    return serial.SerialException(code, text) if code is not None else serial.SerialException(text)


@pytest.mark.parametrize(
    ("code", "text", "problem", "says"),
    [
        (errno.EACCES, "could not open port X: [Errno 13] Permission denied", OpenProblem.FORBIDDEN,
         "permission denied opening /dev/ttyUSB0"),
        (errno.EAGAIN, "Could not exclusively lock port X: [Errno 11]", OpenProblem.BUSY,
         "/dev/ttyUSB0 is busy"),
        (errno.EBUSY, "could not open port X: [Errno 16] Device or resource busy", OpenProblem.BUSY,
         "is busy"),
        (errno.ENOENT, "could not open port X: [Errno 2] No such file", OpenProblem.MISSING,
         "/dev/ttyUSB0 not found"),
        (None, "could not open port X: [Errno 5] Input/output error", OpenProblem.MISSING, "not found"),
    ],
)  # fmt: skip
def test_open_errors_are_translated_once_at_the_edge(
    code: int | None, text: str, problem: OpenProblem, says: str
) -> None:
    failure = explain_open_error("/dev/ttyUSB0", _open_error(code, text))
    assert failure.problem is problem
    assert says in failure.message


def test_permission_message_names_dialout_for_a_usb_adapter(tmp_path: Path) -> None:
    node = tmp_path / "ttyUSB0"
    node.touch()
    try:
        os.chown(node, -1, int(os.popen("getent group dialout | cut -d: -f3").read().strip() or "20"))
    except (OSError, ValueError):
        pytest.skip("cannot give a file to group dialout here")
    failure = explain_open_error(str(node), serial.SerialException(errno.EACCES, "Permission denied"))
    assert "group 'dialout'" in failure.message
    assert "sudo usermod -aG dialout" in failure.message


def test_json_lines_become_plain_readings() -> None:
    # The CLI prints readings as JSON; make sure every field is plain data.
    monitor = StreamMonitor("pot", SerialSettings("/dev/x", fmt="json"), opened_at=0.0)
    events = monitor.on_chunk(1.0, b'{"t": 107.25, "oven": null}\n')
    assert [json.dumps([e.channel, e.celsius, e.fault, e.raw]) for e in events if isinstance(e, Reading)] == [
        '["t", 107.25, null, "{\\"t\\": 107.25, \\"oven\\": null}"]',
        '["oven", null, "null (the sketch\'s NaN)", "{\\"t\\": 107.25, \\"oven\\": null}"]',
    ]

"""1-Wire probes (DS18B20 and kin) read through the Linux w1-gpio / w1_therm sysfs files.

``w1://28-0316a2791cff`` reads one sensor, ``w1://`` the first one found;
``root=`` moves the sysfs folder (tests use a temporary one), ``interval=``
sets the pace (default 1 s; a 12-bit conversion takes 750 ms anyway).

The kernel does the bus work; each read of ``w1_slave`` blocks for the
conversion, so it runs in a worker thread and never stalls the event loop.
The file looks like this::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from drivers.base import Clock, Decoded, ProbeDown, ProbeEvent, ProbeNotice, ProbeUrlError, Reading
from drivers.registry import ProbeUrl

log = logging.getLogger(__name__)

DEFAULT_ROOT: Final = "/sys/bus/w1/devices"
OPTIONS: Final = ("root", "interval")
# w1_therm families: DS18S20 (10), DS1822 (22), DS18B20 (28), MAX31850 (3b), DS28EA00 (42).
SENSOR_ID: Final = re.compile(r"(?:10|22|28|3b|42)-[0-9a-f]{12}")
POWER_ON_C: Final = 85.0
# A DS18B20 that has just been powered (or browned out mid-cook) reports its
# reset value, 85.000 °C, which looks perfectly real. We trust 85.000 only when
# the previous reading was already near it: a pot does not jump this far in
# one second.
POWER_ON_JUMP_C: Final = 5.0
UNREADABLE_FAULT_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class W1Settings:
    sensor: str | None  # None: the first sensor found
    root: Path = Path(DEFAULT_ROOT)
    interval: float = 1.0


def settings_from_url(url: ProbeUrl) -> W1Settings:
    """Validate a ``w1://`` URL before any I/O; ProbeUrlError says what is wrong."""
    unknown = sorted(set(url.query) - set(OPTIONS))
    if unknown:
        raise ProbeUrlError(f"unknown option {unknown[0]!r} in {url.text!r} (known: {', '.join(OPTIONS)})")
    if url.path not in ("", "/"):
        raise ProbeUrlError(f"{url.text!r}: put the sensor id right after w1://, e.g. w1://28-0316a2791cff")
    sensor = url.host or None
    if sensor is not None and not SENSOR_ID.fullmatch(sensor):
        raise ProbeUrlError(
            f"{sensor!r} is not a 1-Wire temperature sensor id (like 28-0316a2791cff; ls {DEFAULT_ROOT})"
        )
    root = url.option("root", DEFAULT_ROOT)
    if not root.startswith("/"):
        raise ProbeUrlError(f"root={root!r} must be an absolute path")
    return W1Settings(sensor, Path(root), url.duration("interval", "1", 0.05, 600.0))


def from_url(probe_id: str, url: ProbeUrl, clock: Clock) -> W1Probe:
    """The registry's entry point: validate now, read files only in ``events()``."""
    return W1Probe(probe_id, settings_from_url(url), clock)


# ---------------------------------------------------------------------------
# pure: the w1_slave file → a value or why not


@dataclass(frozen=True, slots=True)
class W1Value:
    millis: int
    raw: str  # the t= line, for Reading.raw


@dataclass(frozen=True, slots=True)
class W1Dropped:
    reason: str


_T_LINE = re.compile(r"(?P<bytes>(?:[0-9a-f]{2} ){9})t=(?P<t>-?[0-9]+)")


def parse_w1_slave(text: str) -> W1Value | W1Dropped:
    """Read w1_slave's two lines; a failed CRC means the bus garbled it: drop it."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) != 2:
        return W1Dropped(f"expected 2 lines, got {len(lines)}")
    crc_line, t_line = lines
    if not crc_line.endswith("YES"):
        return W1Dropped("CRC check failed" if crc_line.endswith("NO") else "no CRC verdict")
    m = _T_LINE.fullmatch(t_line)
    if m is None:
        return W1Dropped("no t= value")
    return W1Value(int(m.group("t")), t_line)


def w1_decoded(value: W1Value, previous_c: float | None) -> Decoded:
    """The value as a reading, with the DS18B20's own error values as faults.

    ``previous_c`` is the last good reading of this sensor, None right after
    start or after the sensor was away.
    """
    if value.raw.startswith("00 00 00 00 00 00 00 00 00"):
        # A sensor that stopped answering with the data line held low reads
        # as all zeros, and the CRC of all zeros is zero: it passes.
        return Decoded("", None, "sensor not answering (all-zero scratchpad)")
    celsius = value.millis / 1000.0
    if celsius == POWER_ON_C and (previous_c is None or abs(previous_c - POWER_ON_C) > POWER_ON_JUMP_C):
        return Decoded("", None, "85 °C power-on value: the sensor has just been powered or reset")
    return Decoded.of("", celsius)


# ---------------------------------------------------------------------------
# the driver


@dataclass(frozen=True, slots=True)
class _Missing:
    message: str


class W1Probe:
    """One 1-Wire sensor: ``events()`` reads it for ever, through unplugs and bad reads."""

    def __init__(self, probe_id: str, settings: W1Settings, clock: Clock) -> None:
        self.probe_id = probe_id
        self.settings = settings
        self._clock = clock

    async def events(self) -> AsyncIterator[ProbeEvent]:
        previous_c: float | None = None
        down_told = False
        told: str | None = None
        unreadable_since: float | None = None
        interval = self.settings.interval
        while True:
            got = await self._read()
            now = self._clock()
            if isinstance(got, _Missing):
                previous_c, unreadable_since = None, None
                if got.message != told:
                    told = got.message
                    log.debug("%s: %s", self.probe_id, got.message)
                    yield ProbeNotice(self.probe_id, now, got.message, "warning")
                if not down_told:
                    down_told = True
                    yield ProbeDown(self.probe_id, now, got.message)
                await asyncio.sleep(interval)
                continue
            down_told, told = False, None
            parsed = parse_w1_slave(got)
            if isinstance(parsed, W1Dropped):
                log.debug("%s: dropped a read: %s", self.probe_id, parsed.reason)
                unreadable_since = unreadable_since if unreadable_since is not None else now
                if now - unreadable_since >= UNREADABLE_FAULT_S:
                    why = f"only unreadable data for {UNREADABLE_FAULT_S:g} s ({parsed.reason})"
                    yield Reading(self.probe_id, "", None, now, got.strip()[-60:], why)
            else:
                unreadable_since = None
                decoded = w1_decoded(parsed, previous_c)
                previous_c = decoded.celsius
                yield Reading(self.probe_id, "", decoded.celsius, now, parsed.raw, decoded.fault)
            await asyncio.sleep(interval)

    async def _read(self) -> str | _Missing:
        path = self._sensor_dir()
        if isinstance(path, _Missing):
            return path
        try:
            # Blocks for the conversion (up to 750 ms): keep it off the loop.
            return await asyncio.to_thread((path / "w1_slave").read_text, errors="replace")
        except FileNotFoundError:
            return _Missing(f"1-Wire sensor {path.name} is gone (unplugged, or a loose wire?)")
        except OSError as exc:
            return _Missing(f"cannot read {path / 'w1_slave'}: {exc.strerror or exc}")

    def _sensor_dir(self) -> Path | _Missing:
        root = self.settings.root
        if not root.is_dir():
            return _Missing(
                f"no 1-Wire bus at {root}: enable it with dtoverlay=w1-gpio in the Pi's config.txt and reboot"
            )
        if self.settings.sensor is not None:
            path = root / self.settings.sensor
            if path.is_dir():
                return path
            return _Missing(f"1-Wire sensor {self.settings.sensor} not found under {root} ({_found(root)})")
        sensors = sorted(p for p in root.iterdir() if SENSOR_ID.fullmatch(p.name))
        if sensors:
            return sensors[0]
        return _Missing(
            f"no 1-Wire temperature sensor under {root}: check the wiring (data on GPIO4 with a "
            "4.7 kΩ pull-up to 3.3 V)"
        )


def _found(root: Path) -> str:
    names = sorted(p.name for p in root.iterdir() if SENSOR_ID.fullmatch(p.name))
    return "found: " + ", ".join(names) if names else "no sensors found"

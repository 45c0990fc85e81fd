"""What every driver yields, and the few rules all of them share.

A driver is an async iterator of events: readings (a temperature or a fault),
``ProbeDown`` when the device is known to be gone (unplugged, its gateway said
offline), and ``ProbeNotice`` lines meant for the person setting the probe up.
Drivers handle their own reconnects and never end on a bad line or payload.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]

# Kitchen probes never legitimately read outside this: below it is a
# disconnected sensor (DS18B20 -127, MAX31856 -196.6), above it an unplugged
# iBBQ (6552.x) or an rtl_433 decoder sentinel (2635.8).
PLAUSIBLE_MIN_C = -50.0
PLAUSIBLE_MAX_C = 550.0

# Sentinels that fall inside the plausible range are not possible to tell from
# a real value by range alone; these are exact firmware error codes.
SENTINELS_C = (-127.0, -196.6)


def f_to_c(f: float) -> float:
    return (f - 32.0) * 5.0 / 9.0


def c_to_f(c: float) -> float:
    return c * 9.0 / 5.0 + 32.0


def fault_reason(celsius: float) -> str | None:
    """Why a decoded number cannot be a temperature, or None when it can."""
    if math.isnan(celsius) or math.isinf(celsius):
        return "not a number"
    if celsius in SENTINELS_C:
        return f"sensor error value {celsius:g}"
    if not PLAUSIBLE_MIN_C <= celsius <= PLAUSIBLE_MAX_C:
        return f"impossible value {celsius:g} C"
    return None


@dataclass(frozen=True, slots=True)
class Decoded:
    """One channel of one line or payload, before it is stamped with a time."""

    channel: str
    celsius: float | None
    fault: str | None = None

    @staticmethod
    def of(channel: str, celsius: float) -> Decoded:
        """A decoded number, turned into a fault when it cannot be real."""
        reason = fault_reason(celsius)
        if reason is not None:
            return Decoded(channel, None, reason)
        return Decoded(channel, celsius)


@dataclass(frozen=True, slots=True)
class Reading:
    """A temperature (or a fault) of one channel, stamped when it arrived.

    ``at`` is monotonic seconds from the driver's injected clock. ``live`` is
    False for a value that is known to be old (an MQTT retained message): it
    may be shown, but must not count as the probe being alive.
    """

    probe: str
    channel: str
    celsius: float | None
    at: float
    raw: str
    fault: str | None = None
    live: bool = True


@dataclass(frozen=True, slots=True)
class ProbeDown:
    """The device is gone (unplugged, its source said offline): lost at once."""

    probe: str
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class ProbeNotice:
    """A line for the person setting the probe up: what went wrong, what next."""

    probe: str
    at: float
    message: str
    level: str = "info"  # "debug" | "info" | "warning" | "error"


ProbeEvent = Reading | ProbeDown | ProbeNotice


class ProbeError(Exception):
    """Base of every error a driver raises on purpose."""


class ProbeUrlError(ProbeError):
    """The probe URL cannot be used (unknown scheme, bad option): fatal, not retried."""


class Probe(Protocol):
    """A source of readings. ``events()`` runs until cancelled and reconnects by itself.

    A driver that drops input (garbage lines, unreadable payloads) also counts
    it in a ``dropped`` attribute, an int that only grows: a flood of garbage is
    then a figure on ``/metrics``, not only a debug line (``dropped_by``).
    """

    probe_id: str

    def events(self) -> AsyncIterator[ProbeEvent]: ...


def dropped_by(probe: object) -> int:
    """How much input ``probe`` dropped so far; 0 for a driver that drops nothing (simulated, 1-Wire)."""
    count = getattr(probe, "dropped", 0)
    return count if isinstance(count, int) else 0

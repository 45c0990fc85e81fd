"""Temperatures and durations as people write them: ``"225F"``, ``"107.2C"``, ``"90min"``.

Inside potwatch every temperature is a float in degrees Celsius; a unit is only
ever attached at the edges, so a bare number in a config file is refused
rather than guessed.
"""

from __future__ import annotations

import math
import re

_TEMPERATURE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:°\s*)?([CcFf])\s*$")
# One grammar for every duration potwatch reads, in the config and in probe URLs
# alike: one or more "<number><unit>" parts ("15s", "90 min", "1h30min").
_DURATION_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_DURATION_PART = re.compile(
    rf"\s*({_DURATION_NUMBER})\s*(ms|milliseconds?|msecs?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)(?![a-z])\s*",
    re.IGNORECASE,
)
_DURATION_BARE = re.compile(rf"\s*\+?({_DURATION_NUMBER})\s*")


def c_to_f(c: float) -> float:
    return c * 1.8 + 32.0


def f_to_c(f: float) -> float:
    return (f - 32.0) / 1.8


def parse_temperature(text: str) -> float:
    """``"225F"`` / ``"107.2 C"`` / ``"225 °F"`` → degrees Celsius."""
    value, unit = _split_temperature(text)
    return f_to_c(value) if unit == "F" else value


def parse_temperature_delta(text: str) -> float:
    """A difference (``"5F"``, ``"2.8C"``) → Celsius degrees: no 32 °F offset."""
    value, unit = _split_temperature(text)
    return value / 1.8 if unit == "F" else value


def _split_temperature(text: str) -> tuple[float, str]:
    match = _TEMPERATURE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'expected a temperature with its unit, like "225F" or "107.2C", got {text!r}')
    return float(match.group(1)), match.group(2).upper()


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """``"15s"`` / ``"90min"`` / ``"2h"`` / ``"1h30min"`` / ``"500ms"`` → seconds.

    The same grammar serves the config and every probe URL, so a duration
    means the same wherever it is written. A bare number is refused (seconds
    or minutes?) unless ``bare_seconds``: probe URLs have always taken
    ``interval=1`` as one second.
    """
    if not isinstance(text, str):
        raise ValueError(f'expected a duration with its unit, like "15s", "90min" or "2h", got {text!r}')
    bare = _DURATION_BARE.fullmatch(text) if bare_seconds else None
    if bare is not None:
        return _finite_seconds(float(bare.group(1)), text)
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(part.group(0) for part in parts) != text:
        raise ValueError(f'expected a duration with its unit, like "15s", "90min" or "2h", got {text!r}')
    seconds = 0.0
    for part in parts:
        seconds += float(part.group(1)) * _unit_seconds(part.group(2).lower())
    return _finite_seconds(seconds, text)


def _unit_seconds(unit: str) -> float:
    if unit.startswith(("ms", "milli")):
        return 0.001
    if unit.startswith("s"):
        return 1.0
    if unit.startswith("m"):
        return 60.0
    return 3600.0


def _finite_seconds(seconds: float, text: str) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"duration out of range: {text!r}")
    return seconds


_ALTITUDE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(ft|feet|foot|m|meters?|metres?)\s*$", re.IGNORECASE)
_PRESSURE_HPA = {"hpa": 1.0, "mbar": 1.0, "kpa": 10.0, "pa": 0.01, "inhg": 33.8639, "mmhg": 1.333224}

# The standard atmosphere (ICAO): pressure at an altitude, in hPa.
SEA_LEVEL_HPA = 1013.25
# Antoine's constants for water between 1 and 100 °C (pressure in mmHg).
ANTOINE_A, ANTOINE_B, ANTOINE_C = 8.07131, 1730.63, 233.426
HPA_PER_MMHG = 1.333224
PRESSURE_MIN_HPA, PRESSURE_MAX_HPA = 500.0, 1100.0  # Everest's base camp to the Dead Sea, and weather


def parse_altitude(text: str) -> float:
    """``"5000ft"`` / ``"1524 m"`` → metres above sea level."""
    match = _ALTITUDE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'expected an altitude with its unit, like "5000ft" or "1500m", got {text!r}')
    value = float(match.group(1))
    metres = value * 0.3048 if match.group(2).lower().startswith("f") else value
    if not -450.0 <= metres <= 5500.0:
        raise ValueError(f"an altitude between -450 m and 5500 m, where people cook, got {text!r}")
    return metres


def pressure_to_hpa(value: float, unit: str = "hPa") -> float:
    """A barometer's reading in its unit (hPa, mbar, kPa, Pa, inHg, mmHg) → hPa."""
    factor = _PRESSURE_HPA.get(unit.strip().lower())
    if factor is None:
        raise ValueError(f"unknown pressure unit {unit!r} (known: hPa, mbar, kPa, Pa, inHg, mmHg)")
    return value * factor


def pressure_at_altitude_hpa(metres: float) -> float:
    """The standard atmosphere's pressure at this altitude (the weather moves it by ±3 %)."""
    return SEA_LEVEL_HPA * math.pow(1.0 - 2.25577e-5 * metres, 5.25588)


def water_boils_at_c(pressure_hpa: float) -> float:
    """Where water boils under this (station, not sea-level) pressure: Antoine's equation.

    1013.25 hPa → 100.0 °C; 843 hPa (5,000 ft) → 94.9 °C: about 1 °F lower per 550 ft,
    the "2 °F per 1,000 ft" of candy books.
    """
    mmhg = pressure_hpa / HPA_PER_MMHG
    boils: float = ANTOINE_B / (ANTOINE_A - math.log10(mmhg)) - ANTOINE_C
    return boils


def format_duration(seconds: float) -> str:
    """Short, human: ``"1 min 30 s"``, ``"2 h 5 min"``, ``"45 s"``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"

"""Temperatures and durations as people write them: ``"225F"``, ``"107.2C"``, ``"90min"``.

Inside potwatch every temperature is a float in degrees Celsius; a unit is only
ever attached at the edges, so a bare number in a config file is refused
rather than guessed.
"""

from __future__ import annotations

import math
import re

_TEMPERATURE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:°\s*)?([CcFf])\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h|hr)\s*$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


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


def parse_duration(text: str) -> float:
    """``"15s"`` / ``"90min"`` / ``"2h"`` → seconds."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'expected a duration with its unit, like "15s", "90min" or "2h", got {text!r}')
    seconds = float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"duration out of range: {text!r}")
    return seconds


def format_temperature(c: float, unit: str = "F") -> str:
    return f"{c_to_f(c):.1f} °F" if unit == "F" else f"{c:.1f} °C"


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

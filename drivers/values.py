"""What one value in a device's output means: the unit rule and the value grammar.

Serial lines, MQTT payloads and the JSON inside either all say their unit in
the same few ways, so they are read by one rule, here, and a payload reads the
same whichever way it arrived. The most specific statement wins:

1. a unit on the value itself (``"212F"``, ``225.05 °F``);
2. a unit suffix on its key or label (``temp_f``, ``tempF``, ``T1-C``, ``Temp (F)``);
3. the nearest unit key around it (``"unit": "F"``, Tasmota's ``"TempUnit": "F"``);
4. the probe's ``unit=`` (default C), for numbers that say nothing.

A unit key that names something other than a temperature (``"unit": "%"``)
means the numbers beside it are not temperatures at all.

Pure: no I/O, no clock, standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from drivers.base import Decoded, f_to_c

Unit = Literal["C", "F"]

# A number as firmware prints it. ASCII digits only: Python's float() also
# takes "١٠٧" and "1_000", which no device prints and noise can look like.
NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"
_NUMBER = re.compile(NUMBER)

# ---------------------------------------------------------------------------
# unit words and suffixes

_UNIT_WORDS: dict[str, Unit] = {
    "c": "C",
    "°c": "C",
    "ºc": "C",
    "*c": "C",
    "℃": "C",
    "degc": "C",
    "deg c": "C",
    "celsius": "C",
    "f": "F",
    "°f": "F",
    "ºf": "F",
    "*f": "F",
    "℉": "F",
    "degf": "F",
    "deg f": "F",
    "fahrenheit": "F",
}
# temp_f, T1-C, temp_fahrenheit, and camelCase tempF (case-sensitive there,
# so "calc" is not "cal" in C).
_UNIT_SUFFIX = re.compile(r"(?:[_\-](?i:([cf]|celsius|fahrenheit))|(?<=[a-z])([CF]|Celsius|Fahrenheit))$")
_UNIT_BRACKETS = re.compile(r"\s*[(\[]\s*(?:°|º|\*)?\s*([CF])\s*[)\]]$", re.IGNORECASE)


def unit_word(text: object) -> Unit | None:
    """``"F"``, ``"°F"``, ``"fahrenheit"``, ``"℉"`` → ``"F"``; None for anything else."""
    if not isinstance(text, str):
        return None
    return _UNIT_WORDS.get(" ".join(text.split()).lower())


def label_unit(label: str) -> tuple[str, Unit | None]:
    """A key or label → (the label without its unit, the unit it names, if any).

    ``temp_f`` → ``("temp", "F")``, ``Temp (F)`` → ``("Temp", "F")``,
    ``Temperature °F`` → ``("Temperature", "F")``, ``F`` → ``("", "F")``,
    ``calc`` → ``("calc", None)``.
    """
    label = " ".join(label.split()).rstrip(":").strip()
    unit: Unit | None = None
    bracket = _UNIT_BRACKETS.search(label)
    if bracket is not None:
        unit = _as_unit(bracket.group(1))
        label = label[: bracket.start()]
    whole = unit_word(label)
    if whole is not None:
        return "", whole
    suffix = _UNIT_SUFFIX.search(label)
    if suffix is not None and len(label) > 1:
        unit = _as_unit(suffix.group(1) or suffix.group(2))
        label = label[: suffix.start()]
    words = label.split(" ")
    if len(words) > 1 and unit_word(words[-1]) is not None:
        unit = unit_word(words.pop())
    return " ".join(words), unit


def _as_unit(word: str) -> Unit:
    return "F" if word[:1].upper() == "F" else "C"


# ---------------------------------------------------------------------------
# one value: a number with an optional unit, or an error word


@dataclass(frozen=True, slots=True)
class Num:
    """A number as written, and the unit written on it (None: it says none)."""

    value: float
    unit: Unit | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    """A value the device wrote instead of a number, and what it means."""

    reason: str


_DEGREE = r"(?:°|º|\*|deg(?:rees?)?)"
_VALUE = re.compile(
    rf"(?P<num>{NUMBER})\s*(?:{_DEGREE}\s*)?(?P<unit>celsius|fahrenheit|c|f)?",
    re.IGNORECASE,
)
_DASHES = re.compile(r"-[-.]+-")  # "----", "--.-": a display with no sensor
# What Arduino's Print and common firmware write instead of a number.
FAULT_WORDS = {
    "nan": "not a number (nan)",
    "-nan": "not a number (nan)",
    "+nan": "not a number (nan)",
    "inf": "infinite (inf)",
    "-inf": "infinite (inf)",
    "+inf": "infinite (inf)",
    "ovf": "overflow (ovf)",  # Arduino Print::printFloat above 4294967040
    "error": "device says Error",
    "err": "device says Err",
    "fault": "device says fault",
    "null": "null (the sketch's NaN)",
}
# What an MQTT source publishes for a sensor without a value: printf's "nan"
# ("-nan" on some libcs), ESPHome's "None" (publish_nan_as_none), Home
# Assistant's words for a state it does not have.
NO_VALUE_WORDS = frozenset({"nan", "-nan", "+nan", "none", "null", "unknown", "unavailable"})


def parse_value(token: str) -> Num | Fault | None:
    """A number with an optional unit, an error word, or None when it is neither."""
    token = token.strip()
    reason = FAULT_WORDS.get(token.lower())
    if reason is not None:
        return Fault(reason)
    if _DASHES.fullmatch(token):
        return Fault(f"no value ({token})")
    m = _VALUE.fullmatch(token)
    if m is None:
        return None
    unit_text = (m.group("unit") or "").upper()[:1]
    unit: Unit | None = "C" if unit_text == "C" else "F" if unit_text == "F" else None
    return Num(float(m.group("num")), unit)


def bare_number(text: str) -> float | None:
    """A payload or cell that is just a number (``"107.25"``), else None; may be inf."""
    return float(text) if _NUMBER.fullmatch(text.strip()) else None


def to_decoded(channel: str, value: Num | Fault, unit: Unit) -> Decoded:
    """A parsed value as a channel reading: the unit on the value beats ``unit``;
    impossible numbers become faults."""
    if isinstance(value, Fault):
        return Decoded(channel, None, value.reason)
    celsius = value.value
    if (value.unit or unit) == "F" and math.isfinite(celsius):
        # Rounded far below any probe's resolution, so 225.05 °F shows as
        # 107.25 °C and not 107.25000000000001.
        celsius = round(f_to_c(celsius), 6)
    return Decoded.of(channel, celsius)


def as_number(value: object, strings: bool = False) -> float | None:
    """A finite number from JSON; ``strings`` also accepts ``"24.50"`` (old gateways)."""
    if isinstance(value, bool):
        return None  # True is an int to Python, not a temperature
    if isinstance(value, str):
        number = bare_number(value) if strings else None
        if number is None:
            return None
    elif isinstance(value, float):
        number = value
    elif isinstance(value, int):
        if abs(value) > 1e300:
            return None  # float() of a 400-digit JSON integer raises
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None

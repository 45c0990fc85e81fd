"""The one JSON walker: every value of a JSON document with its path and its stated unit.

Serial JSON lines (drivers/formats.py), MQTT JSON payloads (drivers/payloads.py)
and a barometer's pressure (drivers/barometer.py) are all read through here,
so a document means the same whichever way it arrived: the same channels, the
same unit rule (drivers/values.py), the same limits on depth and size.

A *unit key* (``unit``, Tasmota's ``TempUnit``, Home Assistant's
``unit_of_measurement``…) is not a value: it states the unit of the numbers
in its object and in every object nested inside, until a nearer one says
otherwise (Tasmota puts ``TempUnit`` beside the sensor objects, not in them).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from drivers.base import Decoded
from drivers.values import FAULT_WORDS, Fault, Num, Unit, as_number, label_unit, parse_value, to_decoded, unit_word

MAX_DEPTH = 6  # deeper than any firmware nests a reading; a bound on the walk
MAX_VALUES = 32  # channels kept from one document

TEMPERATURE_UNIT_KEYS = ("unit", "units", "temp_unit", "tempunit", "unit_of_measurement")
PRESSURE_UNIT_KEYS = ("pressureunit", "unit", "unit_of_measurement")


# ---------------------------------------------------------------------------
# parsing


class _NonFinite(ValueError):
    pass


def _refuse_constant(token: str) -> float:
    # Python's json accepts NaN and Infinity, which are not JSON: a payload
    # carrying them comes from a hand-written publisher, not a firmware.
    raise _NonFinite(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NonFinite(token)  # 1e400 parses to inf
    return value


@dataclass(frozen=True, slots=True)
class NotJson:
    """Why a text is not a JSON document we read."""

    reason: str


def parse_json(text: str, *, strict: bool) -> object | NotJson:
    """An object or array. ``strict`` refuses NaN/Infinity and numbers that overflow.

    Temperatures are never strict: a sketch printing ``NaN`` (old ArduinoJson)
    and a Python publisher (``json.dumps`` writes NaN and Infinity bare) mean
    "this sensor has no value", and the walk reads the non-finite float as a
    fault of that value alone. A barometer is strict: it has no fault to give.
    """
    if not text.startswith(("{", "[")):
        return NotJson("not JSON")
    try:
        if strict:
            doc: object = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        else:
            doc = json.loads(text)
    except _NonFinite as exc:
        return NotJson(f"{exc} is not valid JSON")
    except (ValueError, RecursionError):
        return NotJson("malformed JSON")
    return doc


# ---------------------------------------------------------------------------
# the walk


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar of a document: where it is, what it is, and the unit stated around it."""

    trail: tuple[str, ...]
    value: object
    stated: str | None = None  # the nearest unit key's word, as written
    in_object: bool = True  # False: an array element, whose "key" is an index

    @property
    def path(self) -> str:
        """The dotted path, exactly as written, which ``channel=``/``field=`` select."""
        return ".".join(self.trail)

    @property
    def key(self) -> str:
        return self.trail[-1] if self.trail else ""


def _stated(node: dict[object, object], unit_keys: tuple[str, ...], outer: str | None) -> str | None:
    words = {k.lower(): v for k, v in node.items() if isinstance(k, str) and isinstance(v, str) and v.strip()}
    for name in unit_keys:
        if name in words:
            return str(words[name]).strip()
    return outer


def leaves(doc: object, unit_keys: tuple[str, ...], max_depth: int = MAX_DEPTH) -> Iterator[Leaf]:
    """Every scalar in document order, unit keys left out; nothing below ``max_depth``."""
    yield from _walk(doc, (), None, unit_keys, max_depth)


def _walk(
    node: object, trail: tuple[str, ...], stated: str | None, keys: tuple[str, ...], depth: int
) -> Iterator[Leaf]:
    if depth < 0:
        return
    if isinstance(node, dict):
        stated = _stated(node, keys, stated)
        items = [(k, v, True) for k, v in node.items() if isinstance(k, str) and k.lower() not in keys]
    elif isinstance(node, list):
        items = [(str(i), v, False) for i, v in enumerate(node)]
    else:
        return
    for key, value, in_object in items:
        if isinstance(value, dict | list):
            yield from _walk(value, (*trail, key), stated, keys, depth - 1)
        else:
            yield Leaf((*trail, key), value, stated, in_object)


def find(doc: object, path: str, unit_keys: tuple[str, ...]) -> Leaf | NotJson:
    """The value at a dotted path (``probes.0.t``), with the unit stated around it."""
    node, stated, in_object = doc, None, True
    parts = tuple(path.split("."))
    if len(parts) > MAX_DEPTH + 1:
        return NotJson(f"field {path!r} is nested too deep")
    for part in parts:
        if isinstance(node, dict) and part in node:
            stated = _stated(node, unit_keys, stated)
            node, in_object = node[part], True
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node, in_object = node[int(part)], False
        else:
            return NotJson(f"no field {path!r} in the JSON")
    return Leaf(parts, node, stated, in_object)


# ---------------------------------------------------------------------------
# temperatures


@dataclass(frozen=True, slots=True)
class Temperature:
    """One channel of a document: its path, its reading, the other names it answers to."""

    channel: str
    value: Decoded
    aliases: tuple[str, ...] = field(default=())


def _key_unit(leaf: Leaf) -> Unit | None:
    return label_unit(leaf.key)[1] if leaf.in_object else None


# Unit-key words that say "this number is not a temperature" (a humidity, a pressure, a
# voltage beside the probe): the numbers under them are not read as degrees.
NOT_TEMPERATURE_UNITS = frozenset(
    {"%", "%rh", "rh", "hpa", "pa", "kpa", "mbar", "bar", "psi", "inhg", "mmhg", "v", "mv", "a", "ma", "w", "kw",
     "kwh", "wh", "lx", "lux", "ppm", "ppb", "db", "dbm", "m", "cm", "mm", "s", "ms", "min", "h", "rpm", "hz"}
)  # fmt: skip
# Unit systems some firmwares name instead of a unit (Tasmota-likes, weather stations).
SYSTEM_UNITS: dict[str, Unit] = {"metric": "C", "si": "C", "imperial": "F", "us": "F"}


def leaf_unit(leaf: Leaf, default: Unit) -> Unit | None:
    """The unit rule for a number that says none itself: its key, then the nearest
    unit key, then ``default``. None: the unit key names a unit that is not a temperature.

    A unit key holding a word that is neither (a device name, a firmware's own
    label) says nothing about degrees: the probe's ``unit=`` decides, as it did
    before the key was looked at.
    """
    own = _key_unit(leaf)
    if own is not None:
        return own
    if leaf.stated is not None:
        word = " ".join(leaf.stated.split()).lower()
        named = unit_word(word) or SYSTEM_UNITS.get(word)
        if named is not None:
            return named
        if word in NOT_TEMPERATURE_UNITS:
            return None
    return default


def _parsed(value: object) -> Num | Fault | None:
    if value is None:
        return Fault(FAULT_WORDS["null"])  # ArduinoJson and Tasmota write NaN as null
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = as_number(value)
        if number is None:
            return Fault("not a number" if isinstance(value, float) else "impossible value")
        return Num(number)
    if isinstance(value, str):
        return parse_value(value)
    return None


def temperature(leaf: Leaf, default: Unit) -> Decoded | str:
    """One leaf as a reading, or why it is none."""
    parsed = _parsed(leaf.value)
    if parsed is None:
        return f"field {leaf.path!r} is not a number"
    unit = leaf_unit(leaf, default)
    if isinstance(parsed, Num) and parsed.unit is None and unit is None:
        return f"field {leaf.path!r} is in {leaf.stated!r}, not a temperature unit"
    return to_decoded(leaf.path, parsed, unit or default)


def temperature_at(doc: object, path: str, default: Unit) -> Decoded | str:
    """The reading at the path ``channel=`` names, or why there is none.

    A missing path is a reason, not a fault: devices that print several kinds
    of JSON lines would otherwise flap (a driver turns a long run of it into a
    fault).
    """
    leaf = find(doc, path, TEMPERATURE_UNIT_KEYS)
    return leaf.reason if isinstance(leaf, NotJson) else temperature(leaf, default)


# Keys that hold what a device says about itself, never a probe's temperature: read without a
# ``channel=``, their numbers, nulls and words would be channels of their own ("time": 12345 ms
# reads as an impossible temperature, "error": null as a fault), flapping the probe.
METADATA_KEYS = frozenset(
    {"id", "name", "model", "type", "subtype", "error", "err", "errors", "status", "message", "msg", "time",
     "timestamp", "ts", "date", "millis", "ms", "uptime", "rssi", "snr", "battery", "battery_ok", "batt", "ip",
     "mac", "version", "ver", "firmware", "fw", "mode", "device", "host", "hostname", "label", "protocol", "mic",
     "seq", "sequence", "count", "interval"}
)  # fmt: skip


def _reads_unselected(leaf: Leaf) -> bool:
    """Whether a leaf counts as a probe when no ``channel=`` picked it.

    Every number, null and word does (``"oven": null`` is that probe's fault:
    a sketch writes NaN so), but for the device's own fields (``METADATA_KEYS``),
    unless the key names a temperature unit (``"time_f"`` is one).
    """
    if not leaf.in_object or _key_unit(leaf) is not None:
        return True
    return leaf.key.casefold() not in METADATA_KEYS


def temperatures(doc: object, default: Unit) -> list[Temperature]:
    """Every temperature in a document, in order; a ``_c``/``_f`` pair of one probe is one.

    A sketch printing ``{"temp_c":107.25,"temp_f":225.05}`` has one probe, not
    two: the Celsius twin is kept (nothing to convert or round). ``channel=``
    selects by path, so ``temp_f`` still reads the same probe.
    """
    read: list[tuple[Temperature, tuple[tuple[str, ...], str], Unit | None]] = []
    for leaf in leaves(doc, TEMPERATURE_UNIT_KEYS):
        if not _reads_unselected(leaf):
            continue
        decoded = temperature(leaf, default)
        if isinstance(decoded, str):
            continue
        stem, key_unit = label_unit(leaf.key) if leaf.in_object else (leaf.key, None)
        read.append((Temperature(leaf.path, decoded), (leaf.trail[:-1], stem.casefold()), key_unit))
    celsius = {twin for _, twin, unit in read if unit == "C"}
    found = [item for item, twin, unit in read if not (unit == "F" and twin in celsius)]
    return found[:MAX_VALUES]

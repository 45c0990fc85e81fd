"""A kitchen barometer over MQTT: its URL, and pure decoders from payload to pressure.

Candy targets are relative to boiling water, and water boils where its vapour
pressure meets the air's: a barometer in the kitchen tells the tracker where
water boils today without a boil test. This module only reads what the
barometer says; what the pressure means (and which values are plausible) is
the service's business (``service.core.units``), so a value comes out with the
unit the source stated, never converted here.

``mqtt://[user:password@]host[:1883]/<topic>?format=tasmota|number|json&unit=…&field=…&sensor=…``

* ``tasmota``: ``tele/<topic>/SENSOR`` (or ``Status 10``'s ``StatusSNS``) of a
  BME280 / BMP280 / BME680 / BMP388 / DPS310…: the sensor object's
  ``Pressure``, in the message's ``PressureUnit`` (Tasmota: ``hPa``, or
  ``mmHg`` / ``inHg`` with SetOption24 / SetOption139). Never ``SeaPressure``:
  that is the pressure reduced to sea level (Tasmota computes it when an
  altitude is set), and water at the stove boils by the pressure there.
* ``number``: ESPHome's ``<node>/sensor/<name>/state``, a bare number in
  ``unit=`` (ESPHome's BMP280/BME280 pressure sensors publish hPa).
* ``json``: anything else (Home Assistant republishing a sensor, a script):
  a bare number, or JSON with the value at ``field=a.b``; a sibling
  ``"unit"`` / ``"unit_of_measurement"`` beats ``unit=``.

Decoders never raise on bad input: a payload is a ``PressureValue`` or an
``Unreadable`` saying why (not JSON, no pressure in it, NaN, a string, far too
big), which the service counts and drops.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from drivers.base import ProbeUrlError
from drivers.json_walk import PRESSURE_UNIT_KEYS, Leaf, NotJson, find, leaves
from drivers.mqtt_link import LinkSettings, has_wildcard
from drivers.mqtt_probe import link_settings, topic_of
from drivers.payloads import PayloadResult, load_json, norm_channel, payload_text
from drivers.registry import ProbeUrl, parse_probe_url
from drivers.values import NO_VALUE_WORDS, as_number, bare_number

FORMATS: Final = ("tasmota", "number", "json")
OPTIONS: Final = ("format", "unit", "field", "sensor", "cafile")
DEFAULT_UNIT: Final = "hPa"
# Tasmota 13+'s "Global" repeats the first sensor's values; not a second barometer.
_TASMOTA_NOT_SENSORS = frozenset({"global"})

SOURCE_NAMES: Final = {"tasmota": "Tasmota", "number": "bare number (ESPHome)", "json": "JSON"}


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class PressureValue:
    """A pressure as the source stated it: ``value`` in ``unit`` (hPa, mmHg, inHg, …).

    ``source`` names where in the message it was (the Tasmota sensor, the JSON
    field); ``others`` the other barometers the same message carried.
    """

    value: float
    unit: str
    source: str = ""
    others: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A payload that carries no usable pressure, and why (for a debug line and a warning)."""

    reason: str


Decoded = PressureValue | Unreadable


# ---------------------------------------------------------------------------
# the URL


@dataclass(frozen=True, slots=True)
class BarometerSettings:
    """A barometer URL, checked once before any I/O."""

    link: LinkSettings
    topic: str
    fmt: str
    unit: str = DEFAULT_UNIT  # what a bare number means; Tasmota's PressureUnit and JSON's "unit" beat it
    field: str | None = None  # json: the dotted path of the value
    sensor: str | None = None  # tasmota: which sensor object, when the device has several
    fmt_guessed: bool = False
    url: str = ""  # redacted: safe to show and log

    @property
    def source_name(self) -> str:
        return SOURCE_NAMES.get(self.fmt, self.fmt)


def barometer_settings(text: str) -> BarometerSettings:
    """Validate a barometer URL; ``ProbeUrlError`` says what is wrong and how to write it."""
    if not isinstance(text, str) or urlsplit(text).scheme.lower() not in ("mqtt", "mqtts"):
        raise ProbeUrlError(
            f"a barometer is read over MQTT: expected mqtt://host:1883/<topic>?format=tasmota|number|json, got {text!r}"
        )
    url = parse_probe_url(text)
    unknown = sorted(set(url.query) - set(OPTIONS))
    if unknown:
        raise ProbeUrlError(f"unknown option {unknown[0]!r} in {url.redacted()!r} (known: {', '.join(OPTIONS)})")
    if "#" in text:
        raise ProbeUrlError("a barometer is one topic: '#' (a wildcard, or a URL fragment) has no place in its URL")
    if not url.host:
        raise ProbeUrlError(f"{url.redacted()!r}: the broker's host is missing, e.g. mqtt://192.168.1.10:1883/<topic>")
    if "cafile" in url.query and url.scheme != "mqtts":
        raise ProbeUrlError("cafile= only applies to mqtts:// (TLS)")
    topic = _topic(url)
    fmt, guessed = _format(url, topic)
    unit = url.option("unit", DEFAULT_UNIT).strip()
    if not unit:
        raise ProbeUrlError("unit= is empty: hPa, mbar, kPa, Pa, inHg or mmHg")
    field = url.option("field", "").strip() or None
    sensor = url.option("sensor", "").strip() or None
    if field is not None and fmt != "json":
        raise ProbeUrlError("field= picks a value in any JSON: it applies to format=json")
    if sensor is not None and fmt != "tasmota":
        raise ProbeUrlError("sensor= picks one of a Tasmota's sensors (sensor=BME280): it applies to format=tasmota")
    if field is not None and any(not part for part in field.split(".")):
        raise ProbeUrlError(f"field={field!r}: a dotted path like sensor.pressure")
    return BarometerSettings(link_settings(url), topic, fmt, unit, field, sensor, guessed, url.redacted())


def _topic(url: ProbeUrl) -> str:
    topic = topic_of(url)
    if has_wildcard(topic):
        # several barometers on one subscription would take turns moving every target
        raise ProbeUrlError(f"topic {topic!r}: a barometer is one topic, without wildcards")
    return topic


def guess_format(topic: str) -> str:
    """What a topic's shape gives away: Tasmota's ``tele/…/SENSOR``, ESPHome's ``…/sensor/<id>/state``."""
    levels = topic.split("/")
    if levels[-1] == "SENSOR" or re.fullmatch(r"STATUS\d*", levels[-1]) or "tele" in levels[:-1]:
        return "tasmota"
    if len(levels) >= 3 and levels[-3] == "sensor" and levels[-1] == "state":
        return "number"
    return "json"  # a bare number or JSON: the most forgiving


def _format(url: ProbeUrl, topic: str) -> tuple[str, bool]:
    if "format" not in url.query:
        return guess_format(topic), True
    fmt = url.query["format"].strip().lower()
    fmt = {"esphome": "number"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ProbeUrlError(f"format={url.query['format']!r} is not one of {', '.join(FORMATS)}")
    return fmt, False


# ---------------------------------------------------------------------------
# payloads


def decode(settings: BarometerSettings, payload: bytes) -> Decoded:
    """One message of the barometer's topic → its pressure, or why there is none."""
    if settings.fmt == "tasmota":
        return decode_tasmota(payload, settings.sensor)
    if settings.fmt == "number":
        return decode_number(payload, settings.unit)
    return decode_json(payload, settings.field, settings.unit)


def _text(payload: bytes) -> str | Unreadable:
    text = payload_text(payload)
    if isinstance(text, PayloadResult):
        return Unreadable(text.unreadable or "unreadable")
    return text


def _json(text: str) -> object | Unreadable:
    doc = load_json(text, strict=True)
    if isinstance(doc, PayloadResult):
        return Unreadable(doc.unreadable or "malformed JSON")
    return doc


def _bare_number(text: str, unit: str) -> Decoded | None:
    """A payload that is just a number (or says it has none); None when it is something else."""
    if text.lower() in NO_VALUE_WORDS:
        return Unreadable(f"the sensor has no value ({text!r})")
    value = bare_number(text)
    if value is None:
        return None
    if not math.isfinite(value):
        return Unreadable(f"{text[:20]!r} is not a finite number")
    return PressureValue(value, unit)


def decode_number(payload: bytes, unit: str = DEFAULT_UNIT) -> Decoded:
    """ESPHome's state topic: a bare number, no unit (``unit=`` says it)."""
    text = _text(payload)
    if isinstance(text, Unreadable):
        return text
    found = _bare_number(text, unit)
    return found if found is not None else Unreadable("not a number")


def _tasmota_pressures(doc: object) -> dict[str, Leaf]:
    """Each sensor's ``Pressure`` (a Zigbee device nests one level deeper), by sensor, in order.

    The walk is the one every JSON payload goes through (drivers/json_walk.py):
    ``PressureUnit`` beside the sensors, or inside a Zigbee device, states the unit.
    """
    found: dict[str, Leaf] = {}
    for leaf in leaves(doc, PRESSURE_UNIT_KEYS, max_depth=2):
        name = leaf.trail[0]
        if leaf.key != "Pressure" or len(leaf.trail) not in (2, 3) or name.lower() in _TASMOTA_NOT_SENSORS:
            continue
        if name not in found or len(leaf.trail) < len(found[name].trail):
            found[name] = leaf  # the sensor's own Pressure beats a nested one
    return found


def decode_tasmota(payload: bytes, sensor: str | None = None) -> Decoded:
    """Tasmota's SENSOR telemetry: the first sensor object with a ``Pressure`` (or the one ``sensor=`` names)."""
    text = _text(payload)
    if isinstance(text, Unreadable):
        return text
    doc = _json(text)
    if isinstance(doc, Unreadable):
        return doc
    if not isinstance(doc, dict):
        return Unreadable("not a Tasmota message (expected a JSON object)")
    status = doc.get("StatusSNS")
    if isinstance(status, dict):
        doc = status
    hits = [(".".join(leaf.trail[:-1]), leaf) for leaf in _tasmota_pressures(doc).values()]
    names = tuple(name for name, _ in hits)
    if sensor is not None:
        wanted = norm_channel(sensor)
        hits = [hit for hit in hits if wanted in (norm_channel(hit[0]), norm_channel(hit[1].trail[0]))]
        if not hits:
            return Unreadable(f"no {sensor!r} with a Pressure in the message (it has: {', '.join(names) or 'none'})")
    if not hits:
        return Unreadable("no sensor with a Pressure in the Tasmota message (SeaPressure is not used)")
    name, leaf = hits[0]
    if leaf.value is None:
        # Tasmota prints a reading it could not take as JSON null
        return Unreadable(f"{name}: the sensor has no value (null)")
    value = as_number(leaf.value)
    if value is None:
        return Unreadable(f"{name}: Pressure is not a number ({_show(leaf.value)})")
    return PressureValue(value, leaf.stated or DEFAULT_UNIT, name, tuple(n for n in names if n != name))


def decode_json(payload: bytes, field: str | None = None, unit: str = DEFAULT_UNIT) -> Decoded:
    """Any JSON: the number at ``field`` (a dotted path), or a bare number when there is no field."""
    text = _text(payload)
    if isinstance(text, Unreadable):
        return text
    bare = _bare_number(text, unit)
    if bare is not None:
        return bare
    doc = _json(text)
    if isinstance(doc, Unreadable):
        return doc
    if field is None:
        value = as_number(doc)
        if value is None:
            return Unreadable("not a number: name the value's path with field= (e.g. field=pressure)")
        return PressureValue(value, unit)
    leaf = find(doc, field, PRESSURE_UNIT_KEYS)
    if isinstance(leaf, NotJson):
        return Unreadable(leaf.reason)
    if leaf.value is None:
        return Unreadable(f"field {field!r} is null")
    value = as_number(leaf.value)
    if value is None:
        return Unreadable(f"field {field!r} is not a number ({_show(leaf.value)})")
    return PressureValue(value, leaf.stated or unit, field)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"

"""Pure decoders for what MQTT temperature sources publish: payload → decoded channels.

Nothing here does I/O or reads a clock. Every quirk is pinned by a table test
of real payloads (tests/drivers/test_payloads.py), shaped after the firmware
sources that print them: Tasmota's ``xsns_*.ino``, ESPHome's ``mqtt_sensor.cpp``,
rtl_433's ``output_mqtt.c`` and device decoders, the Theengs decoder's
``*_json.h`` files used by OpenMQTTGateway and Theengs Gateway.

Three outcomes, as for the serial formats (drivers/formats.py):

* ``values``: temperatures, or faults for values the device marks as errors;
  a sensor without a value is a fault however it says so: ``null``, a bare
  ``NaN``/``Infinity`` token (Python's ``json.dumps`` writes them, Node-RED
  passes them on), or a whole payload that is only ``nan``/``null``/``None``;
* ``unreadable``: a malformed payload (not UTF-8, not JSON, wrong types, far
  too big): counted and dropped by the driver;
* ``skipped``: a well-formed message that is simply not ours: another device
  on a shared rtl_433 events topic, a BLE beacon without a temperature, a
  Govee advert that carries the other probes. Not an error, not counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from drivers.base import Decoded
from drivers.json_walk import MAX_VALUES, NotJson, Temperature, parse_json, temperature_at, temperatures
from drivers.values import NO_VALUE_WORDS, Num, Unit, as_number, bare_number, to_decoded, unit_word

Missing = Literal["fault", "skip", "unreadable"]

FORMATS = ("auto", "number", "tasmota", "rtl_433", "omg", "json")

# What the person setting a probe up recognises each format as.
SOURCE_NAMES = {
    "number": "bare number (ESPHome)",
    "tasmota": "Tasmota",
    "rtl_433": "rtl_433",
    "omg": "OpenMQTTGateway / Theengs",
    "json": "JSON",
}

# The largest real payloads are a Tasmota ``Status 0`` (~3 KiB) and an
# rtl_433 event (its buffer is 2 KiB). Anything far bigger is not a reading,
# and parsing it would only cost the Pi time.
MAX_PAYLOAD_BYTES = 64 * 1024
RAW_LIMIT = 200

# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True)
class PayloadResult:
    """What one MQTT message said; see the module docstring for the three outcomes.

    ``channels`` names every temperature the message carried, selected or not,
    so the driver can tell the user what ``channel=`` could pick. ``device``
    names the sender on topics many devices share (rtl_433 events).
    """

    values: tuple[Decoded, ...] = ()
    unreadable: str | None = None
    skipped: str | None = None
    fmt: str = ""
    channels: tuple[str, ...] = ()
    device: str = ""
    # A fault that names no channel (a payload that is only "nan"): it applies to the
    # channel selected, or to every channel the probe has shown (the driver knows them).
    device_wide: bool = False


def _bad(reason: str) -> PayloadResult:
    return PayloadResult(unreadable=reason)


class PayloadDecoder(Protocol):
    """One format: ``decode(topic, payload)`` never raises for bad input."""

    @property
    def name(self) -> str: ...

    def decode(self, topic: str, payload: bytes) -> PayloadResult: ...


# ---------------------------------------------------------------------------
# bytes → text → JSON, refusing what is not a reading


def payload_text(payload: bytes) -> str | PayloadResult:
    """The payload as stripped text, or why it cannot be one."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return _bad(f"payload of {len(payload)} bytes is too big to be a reading")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _bad("invalid UTF-8")
    text = text.strip()
    if not text:
        return _bad("empty payload")
    if not text.replace("\t", " ").replace("\n", " ").replace("\r", " ").isprintable():
        return _bad("control characters in the payload")
    return text


def safe_raw(payload: bytes, limit: int = RAW_LIMIT) -> str:
    """A printable, bounded rendering of any payload, for ``Reading.raw`` and logs."""
    text = payload[:limit].decode("utf-8", errors="backslashreplace")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text + ("…" if len(payload) > limit else "")


def load_json(text: str, *, strict: bool = False) -> object | PayloadResult:
    """JSON (drivers/json_walk.py). A ``NaN``/``Infinity`` token or a number that overflows is
    read as a non-finite float, which the walk turns into a fault of that value alone: a
    publisher that wrote NaN meant "no value", not "ignore this message". ``strict`` refuses
    them instead (a barometer has no use for a fault)."""
    doc = parse_json(text, strict=strict)
    return _bad(doc.reason) if isinstance(doc, NotJson) else doc


def no_value(value: object) -> str | None:
    """Why a JSON value under a temperature key is the sensor saying it has none, or None."""
    if value is None:
        return "the sensor has no value (null)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the sensor has no value ({value!r})"
    return None


def word_fault(payload: bytes, fmt: str, channel: str | None) -> PayloadResult | None:
    """A payload that is only a word for "no value" (``nan``, ``NaN``, ``null``, ``None``…), as
    firmware and Home Assistant publish for a sensor without one: a fault of the selected
    channel, or of the whole probe. None for any other payload."""
    text = payload_text(payload)
    if isinstance(text, PayloadResult) or text.lower() not in NO_VALUE_WORDS:
        return None
    fault = Decoded(channel or "", None, f"the sensor has no value ({text!r})")
    return PayloadResult((fault,), fmt=fmt, channels=(fault.channel,), device_wide=channel is None)


def _json_object(payload: bytes) -> dict[str, object] | PayloadResult:
    text = payload_text(payload)
    if isinstance(text, PayloadResult):
        return text
    doc = load_json(text)
    if isinstance(doc, PayloadResult):
        return doc
    if not isinstance(doc, dict):
        return _bad("a JSON array, not an object")
    return doc


def decoded(channel: str, value: float, unit: Unit) -> Decoded:
    """A number in ``unit``, checked: impossible values (6552.6, 2635.8, -127) become faults."""
    return to_decoded(channel, Num(value), unit)


def norm_channel(name: str) -> str:
    """Channel names compared loosely: Tasmota writes ``DS18B20-1`` or ``DS18B20_1``
    (SetOption64), rtl_433 ``temperature_1_C`` or the older ``temperature1_C``."""
    return re.sub(r"[-_\s]", "", name).lower()


def _matches(want: str, name: str, aliases: Iterable[str] = ()) -> bool:
    wanted = norm_channel(want)
    return any(norm_channel(n) == wanted for n in (name, *aliases))


# ---------------------------------------------------------------------------
# picking channels


def _select(
    found: list[Temperature], channel: str | None, fmt: str, missing: Missing, device: str = ""
) -> PayloadResult:
    """All channels, or the one ``channel=`` names, or the ``missing`` policy's answer."""
    names = tuple(f.channel for f in found)
    if channel is None:
        values = tuple(f.value for f in found[:MAX_VALUES])
        return PayloadResult(values, fmt=fmt, channels=names, device=device)
    picked = tuple(f.value for f in found if _matches(channel, f.channel, f.aliases))
    if picked:
        return PayloadResult(picked[:1], fmt=fmt, channels=names, device=device)
    seen = ", ".join(names) or "none"
    if missing == "fault":
        fault = Decoded(channel, None, f"{channel} is missing from the message (unplugged?)")
        return PayloadResult((fault,), fmt=fmt, channels=names, device=device)
    if missing == "skip":
        return PayloadResult(skipped=f"no {channel} in this message", fmt=fmt, channels=names, device=device)
    return PayloadResult(unreadable=f"no {channel!r} in the message (it has: {seen})", fmt=fmt, channels=names)


# ---------------------------------------------------------------------------
# number: ESPHome's <node>/sensor/<id>/state


# ESPHome prints a sensor without a value (a MAX31855 with an open
# thermocouple, a DS18B20 that stopped answering) as "nan" with printf, "-nan"
# on some libcs, and "None" when ``publish_nan_as_none`` is set (ESPHome 2024.12+).


@dataclass(frozen=True, slots=True)
class NumberDecoder:
    """A bare number a topic, in ``unit`` (ESPHome payloads carry no unit).

    On a wildcard subscription each topic is a channel of its own, so one
    probe can follow ``kitchen/sensor/+/state``.
    """

    unit: Unit = "C"
    channel: str | None = None
    per_topic: bool = False
    name: str = "number"

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        text = payload_text(payload)
        if isinstance(text, PayloadResult):
            return text
        name = topic if self.per_topic else ""
        if self.channel is not None and self.per_topic and self.channel != topic:
            return PayloadResult(skipped=f"not {self.channel}", fmt=self.name)
        if text.lower() in NO_VALUE_WORDS:
            fault = Decoded(name, None, f"the sensor has no value ({text!r})")
            return PayloadResult((fault,), fmt=self.name, channels=(name,))
        value = bare_number(text)
        if value is None:
            return _bad("not a number")
        if not math.isfinite(value):
            return _bad("not a finite number")
        return PayloadResult((decoded(name, value, self.unit),), fmt=self.name, channels=(name,))


# ---------------------------------------------------------------------------
# tasmota: tele/<topic>/SENSOR and the StatusSNS reply


# Objects that are not a probe: Tasmota 13+'s "Global" repeats the first
# sensor, and ESP32 builds report the chip's own die temperature.
_TASMOTA_NOT_PROBES = frozenset({"global", "esp32", "esp8266"})
# "Temperature" on every driver, "TemperatureN" for ANALOG NTC inputs,
# "ProbeTemperature" on MAX31855 before Tasmota 9.x. ReferenceTemperature
# (the cold junction), DewPoint and Humidity are deliberately not matched.
_TASMOTA_TEMPERATURE = re.compile(r"(?:Probe)?Temperature(\d*)")
# MAX31855 fault bits (xsns_39_max31855.ino): 1 open circuit, 2 short to GND,
# 4 short to VCC. MAX31865 reports its own code in the same "Error" field.
_MAX31855_FAULTS = {1: "thermocouple open circuit", 2: "thermocouple shorted to GND", 4: "thermocouple shorted to VCC"}


def _tasmota_error(code: object) -> str | None:
    if isinstance(code, bool) or not isinstance(code, int) or code == 0:
        return None
    words = [text for bit, text in _MAX31855_FAULTS.items() if code & bit]
    detail = ", ".join(words) if words else "sensor error"
    return f"{detail} (Error {code})"


def _tasmota_sensor(name: str, obj: dict[str, object], unit: Unit) -> Iterator[Temperature]:
    error = _tasmota_error(obj.get("Error"))
    for key, value in obj.items():
        m = _TASMOTA_TEMPERATURE.fullmatch(key)
        if m is None:
            continue
        channel = f"{name}.{key}" if m.group(1) else name
        number = as_number(value)
        missing = no_value(value)
        if error is not None:
            yield Temperature(channel, Decoded(channel, None, error))
        elif missing is not None:
            # Tasmota prints a NaN reading as JSON null (MAX6675, a lost DS18B20).
            yield Temperature(channel, Decoded(channel, None, missing))
        elif number is not None:
            yield Temperature(channel, decoded(channel, number, unit))


def tasmota_channels(doc: dict[str, object], unit: Unit) -> list[Temperature]:
    """Every probe temperature in a SENSOR or StatusSNS object, in Tasmota's order."""
    found: list[Temperature] = []
    for name, obj in doc.items():
        if not isinstance(obj, dict) or name.lower() in _TASMOTA_NOT_PROBES:
            continue
        own = list(_tasmota_sensor(name, obj, unit))
        if not own:
            # The legacy DS18x20 driver nests one level: {"DS18x20":{"DS1":{...}}}.
            for sub, inner in obj.items():
                if isinstance(inner, dict):
                    own.extend(_tasmota_sensor(f"{name}.{sub}", inner, unit))
        found.extend(own)
    return found


@dataclass(frozen=True, slots=True)
class TasmotaDecoder:
    """Tasmota's SENSOR telemetry (or ``Status 10``'s StatusSNS), one object per sensor.

    ``TempUnit`` says the unit for the whole message (SetOption8); ``unit=``
    only applies when it is missing. A sensor selected with ``channel=`` that
    is absent is a fault: Tasmota drops a DS18B20 from the JSON once it stops
    answering on the bus.
    """

    unit: Unit = "C"
    channel: str | None = None
    name: str = "tasmota"

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        word = word_fault(payload, self.name, self.channel)
        if word is not None:
            return word
        doc = _json_object(payload)
        if isinstance(doc, PayloadResult):
            return doc
        status = doc.get("StatusSNS")
        if isinstance(status, dict):
            doc = status
        unit = unit_word(doc.get("TempUnit")) or self.unit
        found = tasmota_channels(doc, unit)
        if not found:
            return _bad("no temperature sensor in the Tasmota message")
        return _select(found, self.channel, self.name, "fault")


# ---------------------------------------------------------------------------
# rtl_433: <base>/events JSON and <base>/devices/.../<field>


# temperature_C, temperature_1_C, temperature_2_F, and the pre-2020
# temperature1_C. The …_LO_C / …_HI_C of ThermoPro TP828B are the alarm
# window set on the transmitter, not readings: the pattern leaves them out.
# ThermoPro's two-tip TempSpike XR (TP862b, TP863b) sends temperature_int_C
# (the tip in the meat) and temperature_amb_C (the one in the air): rtl_433
# src/devices/thermopro_tp86xb.c (model "ThermoPro-TempSpikeXR"; the older
# thermopro_tp862b.c says "ThermoPro-TP862b"), and PR #3485's captures.
_RTL_TEMPERATURE = re.compile(r"temperature(?:_?(\d+)|_(int|amb))?_([CF])")


def rtl_channel(key: str) -> tuple[str, Unit] | None:
    """``temperature_1_C`` → ``("temperature_1", "C")``; None for every other field."""
    m = _RTL_TEMPERATURE.fullmatch(key)
    if m is None:
        return None
    number, unit = m.group(1) or m.group(2), m.group(3)
    channel = f"temperature_{number}" if number else "temperature"
    return channel, ("F" if unit == "F" else "C")


def _rtl_found(event: dict[str, object]) -> list[Temperature]:
    by_channel: dict[str, Temperature] = {}
    for key, value in event.items():
        parsed = rtl_channel(key)
        number = as_number(value)
        missing = no_value(value) if isinstance(value, float) else None  # a NaN token, not a null
        if parsed is None or (number is None and missing is None):
            continue
        channel, unit = parsed
        if channel in by_channel and unit == "F":
            continue  # both units present (-C si beside the native one): Celsius wins
        reading = Decoded(channel, None, missing) if number is None else decoded(channel, number, unit)
        by_channel[channel] = Temperature(channel, reading, (key, key[:-2]))
    return list(by_channel.values())


@dataclass(frozen=True, slots=True)
class Rtl433Decoder:
    """rtl_433's MQTT output. The events topic carries every device in radio range,
    so ``model=``/``id=`` pick the thermometer; other devices are skipped.

    A probe of a multi-probe thermometer that is unplugged is left out of the
    event (ThermoPro TP829B: raw 0xEDD): selected with ``channel=``, its absence
    from an event of the right device is a fault.
    """

    channel: str | None = None
    model: str | None = None
    device_id: str | None = None
    name: str = "rtl_433"

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        text = payload_text(payload)
        if isinstance(text, PayloadResult):
            return text
        if text.startswith(("{", "[")) or topic.rsplit("/", 1)[-1] in ("events", "states"):
            return self._event(payload)
        return self._field(topic, payload)

    def _event(self, payload: bytes) -> PayloadResult:
        doc = _json_object(payload)
        if isinstance(doc, PayloadResult):
            return doc
        model, ident = doc.get("model"), doc.get("id")
        if not isinstance(model, str):
            return PayloadResult(skipped="not a device event (no model)", fmt=self.name)
        device = f"{model} id {ident}" if ident is not None else model
        if not self._wanted(model, ident):
            return PayloadResult(skipped=f"{device} is not the selected device", fmt=self.name, device=device)
        found = _rtl_found(doc)
        if not found:
            bad = [k for k in doc if rtl_channel(k) is not None]
            if bad:
                return _bad(f"{bad[0]} is not a number")
            return PayloadResult(skipped=f"{device} sends no temperature", fmt=self.name, device=device)
        return _select(found, self.channel, self.name, "fault", device)

    def _field(self, topic: str, payload: bytes) -> PayloadResult:
        levels = topic.split("/")
        parsed = rtl_channel(levels[-1])
        if parsed is None:
            return PayloadResult(skipped=f"{levels[-1]} is not a temperature", fmt=self.name)
        if self.model is not None and norm_channel(self.model) not in {norm_channel(x) for x in levels}:
            return PayloadResult(skipped="not the selected model", fmt=self.name)
        if self.device_id is not None and self.device_id not in levels[:-1]:
            return PayloadResult(skipped="not the selected id", fmt=self.name)
        channel, unit = parsed
        number = NumberDecoder(unit, None, False, self.name).decode(topic, payload)
        if number.unreadable is not None or not number.values:
            return number
        value = number.values[0]
        result = Decoded(channel, value.celsius, value.fault)
        return _select([Temperature(channel, result, (levels[-1],))], self.channel, self.name, "skip")

    def _wanted(self, model: str, ident: object) -> bool:
        if self.model is not None and norm_channel(model) != norm_channel(self.model):
            return False
        return self.device_id is None or str(ident).lower() == self.device_id.lower()


# ---------------------------------------------------------------------------
# omg: OpenMQTTGateway / Theengs Gateway BLE decodes


# tempc (iBBQ probe 1), tempc2…tempc6, Govee H5055's tempc1…tempc6, and
# suffixed variants such as IBS-TH1's tempc2_ext. tempf* repeat the same
# readings in Fahrenheit and are used only when a tempc twin is missing.
_OMG_TEMPERATURE = re.compile(r"temp([cf])(\d*)((?:_[a-z]+)?)")


def _omg_found(doc: dict[str, object]) -> list[Temperature]:
    celsius: dict[str, Temperature] = {}
    fahrenheit: dict[str, Temperature] = {}
    for key, value in doc.items():
        m = _OMG_TEMPERATURE.fullmatch(key)
        # Gateways before 0.9.6 sent every number as a string ("24.50").
        number = as_number(value, strings=True)
        missing = no_value(value) if isinstance(value, float) else None  # a NaN token, not a null
        if m is None or (number is None and missing is None):
            continue
        channel = f"tempc{m.group(2)}{m.group(3)}"
        target = celsius if m.group(1) == "c" else fahrenheit
        unit: Unit = "C" if m.group(1) == "c" else "F"
        reading = Decoded(channel, None, missing) if number is None else decoded(channel, number, unit)
        target[channel] = Temperature(channel, reading, (m.group(2),))
    return list(celsius.values()) + [f for ch, f in fahrenheit.items() if ch not in celsius]


@dataclass(frozen=True, slots=True)
class OmgDecoder:
    """BLE BBQ thermometers decoded by OpenMQTTGateway or Theengs Gateway.

    An unplugged probe's key is simply absent (Theengs drops iBBQ's 0xFFF6;
    older decoders sent it as 6552.6, which the range check turns into a
    fault). Govee's H5055 sends two probes per advert, so an absent channel
    is skipped, not a fault: staleness catches a probe that never comes back.
    """

    channel: str | None = None
    model: str | None = None
    device_id: str | None = None
    name: str = "omg"

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        doc = _json_object(payload)
        if isinstance(doc, PayloadResult):
            return doc
        ident = doc.get("id", doc.get("mac"))
        model = doc.get("model_id", doc.get("model"))
        device = " ".join(str(x) for x in (model, ident) if x is not None)
        if self.device_id is not None and norm_channel(str(ident)).replace(":", "") != _mac(self.device_id):
            return PayloadResult(skipped="not the selected id", fmt=self.name, device=device)
        if self.model is not None and not _model_matches(doc, self.model):
            return PayloadResult(skipped="not the selected model", fmt=self.name, device=device)
        found = _omg_found(doc)
        if not found:
            bad = [k for k in doc if _OMG_TEMPERATURE.fullmatch(k)]
            if bad:
                return _bad(f"{bad[0]} is not a number")
            return PayloadResult(skipped="no temperature in this advert", fmt=self.name, device=device)
        return _select(found, self.channel, self.name, "skip", device)


def _model_matches(doc: dict[str, object], model: str) -> bool:
    wanted = norm_channel(model)
    return any(isinstance(doc.get(k), str) and norm_channel(str(doc[k])) == wanted for k in ("model_id", "model"))


def _mac(text: str) -> str:
    return norm_channel(text).replace(":", "")


# ---------------------------------------------------------------------------
# json: any JSON, channel= a dotted path


@dataclass(frozen=True, slots=True)
class JsonDecoder:
    """Any JSON. ``channel=`` is a dotted path (``probe.temp_f``, ``probes.0``); without
    it every number is a channel named by its path. The walk and the unit rule are
    the serial JSON format's (drivers/json_walk.py, drivers/values.py), so a payload
    reads the same whichever way it arrives. ``null`` at the selected path is a
    fault; a missing path is unreadable.
    """

    unit: Unit = "C"
    channel: str | None = None
    name: str = "json"

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        text = payload_text(payload)
        if isinstance(text, PayloadResult):
            return text
        word = word_fault(payload, self.name, self.channel)
        if word is not None:
            return word
        doc = load_json(text)
        if isinstance(doc, PayloadResult):
            return doc
        if self.channel is not None:
            return self._selected(doc, self.channel)
        found = temperatures(doc, self.unit)
        if not found:
            return _bad("no number in the JSON")
        return _select(found, None, self.name, "unreadable")

    def _selected(self, doc: object, path: str) -> PayloadResult:
        value = temperature_at(doc, path, self.unit)
        if isinstance(value, str):
            return _bad(value)
        return PayloadResult((value,), fmt=self.name, channels=(path,))


# ---------------------------------------------------------------------------
# auto: the topic says, or the first readable payload


def guess_format(topic: str) -> str | None:
    """The format a topic's shape gives away, or None."""
    levels = topic.split("/")
    last = levels[-1]
    if last == "SENSOR" or re.fullmatch(r"STATUS\d*", last) or "tele" in levels[:-1]:
        return "tasmota"
    if len(levels) >= 3 and levels[-3] == "sensor" and last == "state":
        return "number"
    if levels[0] == "rtl_433" or "events" in levels or "devices" in levels[:-1]:
        return "rtl_433"
    if any(level.endswith("toMQTT") for level in levels):
        return "omg"
    return None


def sniff_format(payload: bytes) -> str | None:
    """The format one payload looks like, or None when it is not readable at all."""
    text = payload_text(payload)
    if isinstance(text, PayloadResult):
        return None
    if not text.startswith(("{", "[")):
        return "number" if NumberDecoder().decode("", payload).unreadable is None else None
    doc = load_json(text)
    if not isinstance(doc, dict):
        return None if isinstance(doc, PayloadResult) else "json"
    if "StatusSNS" in doc or ("TempUnit" in doc and any(isinstance(v, dict) for v in doc.values())):
        return "tasmota"  # TempUnit beside sensor objects; a flat {"TempUnit":…} is any JSON
    if "model" in doc and any(rtl_channel(k) for k in doc):
        return "rtl_433"
    if any(_OMG_TEMPERATURE.fullmatch(k) for k in doc):
        return "omg"
    return "json"


@dataclass(slots=True)
class AutoDecoder:
    """Picks the format from the first readable payload, then sticks to it.

    A payload that only says "no value" (``nan``) is a fault but picks nothing:
    it would read as the bare-number format and lock out the JSON to come.
    """

    make: Callable[[str], PayloadDecoder]
    chosen: PayloadDecoder | None = None
    name: str = "auto"
    channel: str | None = None

    def decode(self, topic: str, payload: bytes) -> PayloadResult:
        if self.chosen is None:
            word = word_fault(payload, self.name, self.channel)
            if word is not None:
                return word
            fmt = sniff_format(payload)
            if fmt is None:
                return _bad("not a payload any known format can read")
            self.chosen = self.make(fmt)
            self.name = fmt
        return self.chosen.decode(topic, payload)


@dataclass(frozen=True, slots=True)
class DecoderOptions:
    """What a probe URL says about decoding, checked before any I/O."""

    fmt: str = "auto"
    unit: Unit = "C"
    channel: str | None = None
    model: str | None = None
    device_id: str | None = None
    per_topic: bool = False


def make_decoder(options: DecoderOptions) -> PayloadDecoder:
    """The decoder for ``options.fmt``; ``auto`` defers the choice to the first payload."""

    def make(fmt: str) -> PayloadDecoder:
        o = options
        if fmt == "number":
            return NumberDecoder(o.unit, o.channel, o.per_topic)
        if fmt == "tasmota":
            return TasmotaDecoder(o.unit, o.channel)
        if fmt == "rtl_433":
            return Rtl433Decoder(o.channel, o.model, o.device_id)
        if fmt == "omg":
            return OmgDecoder(o.channel, o.model, o.device_id)
        return JsonDecoder(o.unit, o.channel)

    if options.fmt == "auto":
        return AutoDecoder(make, channel=options.channel)
    return make(options.fmt)


# ---------------------------------------------------------------------------
# source availability (LWT)


def default_lwt_topic(fmt: str, topic: str) -> str | None:
    """Where the source says online/offline, derived from its data topic; None if unknown.

    Tasmota: ``tele/<t>/LWT`` (also for ``stat/<t>/STATUS10``), ESPHome:
    ``<prefix>/status``, rtl_433: ``<base>/availability``, OpenMQTTGateway and
    Theengs Gateway: ``<base>/LWT`` (before ``BTtoMQTT``).
    """
    levels = topic.split("/")
    if fmt == "tasmota":
        if len(levels) < 2:
            return None
        return "/".join(["tele" if level == "stat" else level for level in levels[:-1]] + ["LWT"])
    if fmt == "number":
        if len(levels) >= 4 and levels[-3] == "sensor":
            return "/".join([*levels[:-3], "status"])
        return None
    if fmt == "rtl_433":
        for i, level in enumerate(levels):
            if i > 0 and level in ("events", "devices", "states"):
                return "/".join([*levels[:i], "availability"])
        return None
    if fmt == "omg":
        for i, level in enumerate(levels):
            if i > 0 and level.endswith("toMQTT"):
                return "/".join([*levels[:i], "LWT"])
        return None
    return None


def parse_availability(payload: bytes) -> bool | None:
    """``Online``/``online`` → True, ``Offline``/``offline`` → False, anything else None.

    Tasmota capitalises (``Offline``), ESPHome and OpenMQTTGateway do not.
    """
    word = payload[:32].decode("utf-8", errors="replace").strip().lower()
    if word in ("online", "true", "1", "connected"):
        return True
    if word in ("offline", "false", "0", "disconnected", "lost"):
        return False
    return None

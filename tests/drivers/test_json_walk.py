"""One JSON document, one answer: the serial JSON format and the MQTT JSON format agree.

Both read JSON through drivers/json_walk.py and the unit rule of
drivers/values.py; this table feeds each payload through both decoders, the
way a probe URL would set them up, and asserts the same readings. Only the
parsing differs on purpose (a serial ``NaN`` is a fault, an MQTT one is not
JSON), so no row carries NaN.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import PLAUSIBLE_MAX_C, PLAUSIBLE_MIN_C
from drivers.formats import LineResult, make_line_decoder
from drivers.json_walk import PRESSURE_UNIT_KEYS, TEMPERATURE_UNIT_KEYS, find, leaves
from drivers.payloads import DecoderOptions, PayloadResult, make_decoder
from drivers.values import Unit, label_unit, unit_word

Readings = list[tuple[str, float | None]]

# (payload, unit=, expected readings: channel and °C, None for a fault)
SAME: list[tuple[str, Unit, Readings]] = [
    # A unit key beside the number wins over unit= (it read 212 °C over serial).
    ('{"TempUnit":"F","Temperature":212}', "C", [("Temperature", 100.0)]),
    ('{"TempUnit":"C","Temperature":100}', "F", [("Temperature", 100.0)]),
    # A unit on the value wins (it was "no number" over MQTT).
    ('{"t":"212F"}', "C", [("t", 100.0)]),
    ('{"t":"100 °C"}', "F", [("t", 100.0)]),
    ('{"t":"107.2"}', "C", [("t", 107.2)]),
    # A unit suffix on the key wins over unit=.
    ('{"temp_f":225.05}', "C", [("temp_f", 107.25)]),
    ('{"tempF":225.05}', "C", [("tempF", 107.25)]),
    ('{"pot_c":107.25}', "F", [("pot_c", 107.25)]),
    ('{"temp_fahrenheit":212}', "C", [("temp_fahrenheit", 100.0)]),
    # ... and over a unit key around it: the most specific statement wins.
    ('{"unit":"F","pot_c":107.25}', "C", [("pot_c", 107.25)]),
    # A unit key covers the objects nested in it (Tasmota's TempUnit sits beside its sensors).
    ('{"unit":"F","probes":[{"t":225.05},{"t":212}]}', "C", [("probes.0.t", 107.25), ("probes.1.t", 100.0)]),
    ('{"unit":"F","probes":[{"t":100,"unit":"C"}]}', "C", [("probes.0.t", 100.0)]),
    ('{"DS18B20":{"Temperature":225.1},"TempUnit":"F"}', "C", [("DS18B20.Temperature", 107.28)]),
    ('{"state":"225","unit_of_measurement":"°F"}', "C", [("state", 107.22)]),
    # A unit key that names no temperature: its numbers are not temperatures.
    ('{"t":107.25,"humidity":{"value":40,"unit":"%"}}', "C", [("t", 107.25)]),
    # One probe printed in both units is one reading, not two (the Celsius one).
    ('{"temp_c":107.25,"temp_f":225.05}', "C", [("temp_c", 107.25)]),
    ('{"tempF":225.05,"tempC":107.25,"hum":40}', "F", [("tempC", 107.25), ("hum", 4.44)]),
    (
        '{"probe1":{"c":107.25,"f":225.05},"probe2":{"c":21.0,"f":69.8}}',
        "C",
        [("probe1.c", 107.25), ("probe2.c", 21.0)],
    ),
    # Faults: what sketches print instead of a number.
    ('{"t":null}', "C", [("t", None)]),
    ('{"t":"nan"}', "C", [("t", None)]),
    ('{"t":-127}', "C", [("t", None)]),
    ('{"t":6552.6}', "C", [("t", None)]),
    ('{"t":1' + "0" * 400 + "}", "C", [("t", None)]),  # a 400-digit integer
    # A device's own fields beside the probe are no channels: no flapping between a reading and a fault.
    ('{"temp":22.5,"error":null}', "C", [("temp", 22.5)]),
    ('{"id":"1234","temp":22.5,"name":"Err","time":12345}', "C", [("temp", 22.5)]),
    ('{"oven":null,"t":107.25}', "C", [("oven", None), ("t", 107.25)]),  # a probe's NaN is still its fault
    # A unit key naming no unit at all leaves unit= to decide; a unit system names one.
    ('{"unit":"esp32-kitchen","temperature":22.5}', "C", [("temperature", 22.5)]),
    ('{"units":"metric","temperature":22.5}', "F", [("temperature", 22.5)]),
    ('{"units":"imperial","temperature":72.5}', "C", [("temperature", 22.5)]),
    # Not temperatures at all.
    ('{"id":"pot","ok":true,"t":20}', "C", [("t", 20.0)]),
    ("[107.25, 98.5]", "C", [("0", 107.25), ("1", 98.5)]),
    # rtl_433's TempSpike XR, read as any JSON (format=rtl_433 names the tips; see test_payloads).
    (
        '{"time":"2026-02-26 21:55:23","model":"ThermoPro-TempSpikeXR","id":156,"color":"white",'
        '"temperature_int_C":21.1,"temperature_amb_C":21.9,"is_probe":1,"probe_batery":2,"mic":"CRC"}',
        "F",
        [  # the device's own id (156) is not a 68.89 °C probe
            ("temperature_int_C", 21.1),
            ("temperature_amb_C", 21.9),
            ("is_probe", -17.22),
            ("probe_batery", -16.67),
        ],
    ),
]

NOTHING = ['{"name":"pot"}', '{"humidity":40,"unit":"%"}', '{"ok":true}', "{}", "[]"]


def _serial(result: LineResult) -> Readings:
    assert result.readable, result.unreadable
    return [(d.channel, None if d.celsius is None else round(d.celsius, 2)) for d in result.values]


def _mqtt(result: PayloadResult) -> Readings:
    assert result.unreadable is None, result.unreadable
    return [(d.channel, None if d.celsius is None else round(d.celsius, 2)) for d in result.values]


@pytest.mark.parametrize(("payload", "unit", "expected"), SAME, ids=[p[:40] for p, _, _ in SAME])
def test_serial_and_mqtt_read_a_payload_alike(payload: str, unit: Unit, expected: Readings) -> None:
    serial = _serial(make_line_decoder("json", unit).decode(payload))
    mqtt = _mqtt(make_decoder(DecoderOptions(fmt="json", unit=unit)).decode("kitchen/probe", payload.encode()))
    assert serial == mqtt == expected


@pytest.mark.parametrize(("payload", "unit", "expected"), SAME, ids=[p[:40] for p, _, _ in SAME])
def test_selecting_a_channel_reads_it_alike(payload: str, unit: Unit, expected: Readings) -> None:
    channel, celsius = expected[0]
    serial = _serial(make_line_decoder("json", unit, channel).decode(payload))
    mqtt = _mqtt(make_decoder(DecoderOptions(fmt="json", unit=unit, channel=channel)).decode("t", payload.encode()))
    assert serial == mqtt == [(channel, celsius)]


@pytest.mark.parametrize(
    "payload",
    ['{"TempUnit":"F","Temperature":212}', '{"t":"212F"}', '{"temp_c":100,"temp_f":212}'],
)
def test_auto_reads_the_brief_examples_alike(payload: str) -> None:
    serial = _serial(make_line_decoder("auto").decode(payload))
    mqtt = _mqtt(make_decoder(DecoderOptions(fmt="auto")).decode("kitchen/probe", payload.encode()))
    assert serial == mqtt and len(serial) == 1 and serial[0][1] == 100.0


def test_the_fahrenheit_twin_still_selects_the_probe() -> None:
    payload = '{"temp_c":107.25,"temp_f":225.05}'
    serial = _serial(make_line_decoder("json", channel="temp_f").decode(payload))
    mqtt = _mqtt(make_decoder(DecoderOptions(fmt="json", channel="temp_f")).decode("t", payload.encode()))
    assert serial == mqtt == [("temp_f", 107.25)]


@pytest.mark.parametrize("payload", NOTHING)
def test_no_temperature_is_unreadable_on_both_paths(payload: str) -> None:
    assert not make_line_decoder("json").decode(payload).readable
    assert make_decoder(DecoderOptions(fmt="json")).decode("t", payload.encode()).unreadable is not None


def test_a_selected_field_in_a_foreign_unit_is_unreadable() -> None:
    payload = '{"humidity":40,"unit":"%"}'
    assert "not a temperature unit" in (make_line_decoder("json", channel="humidity").decode(payload).unreadable or "")
    mqtt = make_decoder(DecoderOptions(fmt="json", channel="humidity")).decode("t", payload.encode())
    assert "not a temperature unit" in (mqtt.unreadable or "")


# ---------------------------------------------------------------------------
# the walker and the unit rule themselves


def test_leaves_carry_the_nearest_unit_key_and_skip_unit_keys() -> None:
    doc = {"PressureUnit": "hPa", "BME280": {"Pressure": 843.0}, "Zb": {"dev": {"Pressure": 983.2, "unit": "mbar"}}}
    got = [(leaf.path, leaf.stated) for leaf in leaves(doc, PRESSURE_UNIT_KEYS)]
    assert got == [("BME280.Pressure", "hPa"), ("Zb.dev.Pressure", "mbar")]


def test_leaves_stop_at_the_depth_limit() -> None:
    doc: object = 1.0
    for _ in range(10):
        doc = {"a": doc}
    assert list(leaves(doc, TEMPERATURE_UNIT_KEYS, max_depth=3)) == []
    assert [leaf.path for leaf in leaves(doc, TEMPERATURE_UNIT_KEYS, max_depth=9)] == [".".join("a" * 10)]


def test_find_says_why_a_path_is_missing() -> None:
    found = find({"probes": [{"t": 1}]}, "probes.3.t", TEMPERATURE_UNIT_KEYS)
    assert not hasattr(found, "value") and "no field 'probes.3.t'" in getattr(found, "reason", "")


@pytest.mark.parametrize(
    ("label", "rest", "unit"),
    [
        ("temp_f", "temp", "F"),
        ("tempF", "temp", "F"),
        ("T1-C", "T1", "C"),
        ("temp_Fahrenheit", "temp", "F"),
        ("Temp (F)", "Temp", "F"),
        ("Temperature °F", "Temperature", "F"),
        ("F", "", "F"),
        ("calc", "calc", None),
        ("ETC", "ETC", None),
        ("0", "0", None),
    ],
)
def test_label_units(label: str, rest: str, unit: str | None) -> None:
    assert label_unit(label) == (rest, unit)


@pytest.mark.parametrize(
    ("word", "unit"),
    [("F", "F"), ("°F", "F"), (" fahrenheit ", "F"), ("℃", "C"), ("deg C", "C"), ("K", None), ("%", None), (3, None)],
)
def test_unit_words(word: object, unit: str | None) -> None:
    assert unit_word(word) == unit


# ---------------------------------------------------------------------------
# any document: both paths agree, nothing raises, nothing impossible comes out

_KEYS = st.sampled_from(["t", "temp_c", "temp_f", "tC", "tF", "unit", "TempUnit", "probe", "Temperature", "0", "hum"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["212F", "100 C", "nan", "Error", "F", "C", "%", "°F", "hot", "107.25", "----"]),
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=24,
)


@settings(max_examples=400, deadline=None)
@given(
    doc=st.one_of(st.lists(_DOCS, max_size=4), st.dictionaries(_KEYS, _DOCS, max_size=6)), unit=st.sampled_from("CF")
)
def test_any_document_reads_the_same_on_both_paths(doc: object, unit: str) -> None:
    text = json.dumps(doc)
    u: Unit = "F" if unit == "F" else "C"
    serial = make_line_decoder("json", u).decode(text)
    mqtt = make_decoder(DecoderOptions(fmt="json", unit=u)).decode("t", text.encode())
    assert serial.readable == (mqtt.unreadable is None)
    assert serial.values == mqtt.values
    for d in serial.values:
        assert (d.celsius is None) == (d.fault is not None)
        assert d.celsius is None or (math.isfinite(d.celsius) and PLAUSIBLE_MIN_C <= d.celsius <= PLAUSIBLE_MAX_C)

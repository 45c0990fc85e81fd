"""Barometer URLs and payloads: pure tables, shaped after what the firmware prints.

Tasmota's BMx280 / BME680 / BMP388 drivers write one object per sensor with a
``Pressure`` (and ``SeaPressure`` once an altitude is set) and a message-wide
``PressureUnit``; ESPHome publishes a bare number per state topic; anything
else (Home Assistant republishing a sensor) is a number or JSON.
"""

from __future__ import annotations

import pytest

from drivers.barometer import (
    PressureValue,
    Unreadable,
    barometer_settings,
    decode_json,
    decode_number,
    decode_tasmota,
)
from drivers.base import ProbeUrlError

BME280 = b'{"Time":"2024-02-01T18:00:00","BME280":{"Temperature":21.3,"Humidity":45.0,"DewPoint":8.9,"Pressure":843.0},"PressureUnit":"hPa","TempUnit":"C"}'  # noqa: E501
SEA = b'{"BME280":{"Temperature":21.3,"Pressure":843.0,"SeaPressure":1012.4},"PressureUnit":"hPa","TempUnit":"C"}'
BMP280_MMHG = b'{"Time":"2020-01-26T01:24:16","BMP280":{"Temperature":23.7,"Pressure":632.3},"PressureUnit":"mmHg","TempUnit":"C"}'  # noqa: E501
BME680_INHG = (
    b'{"BME680":{"Temperature":22.0,"Humidity":40.1,"DewPoint":8.0,"Pressure":24.89,"Gas":120.5},'
    b'"PressureUnit":"inHg","TempUnit":"F"}'
)
STATUS10 = b'{"StatusSNS":{"Time":"2022-07-20T20:19:54","BME280":{"Temperature":31.9,"Humidity":35.7,"Pressure":1002.9},"PressureUnit":"hPa","TempUnit":"C"}}'  # noqa: E501
TWO = b'{"BME280-76":{"Temperature":21.0,"Pressure":1001.0},"BMP388":{"Temperature":21.2,"Pressure":1001.4},"DS18B20":{"Temperature":107.2},"PressureUnit":"hPa"}'  # noqa: E501
ZIGBEE = b'{"ZbReceived":{"0x7C71":{"Voltage":3.035,"Temperature":19.91,"Pressure":983.25,"PressureUnit":"hPa","LinkQuality":47}}}'  # noqa: E501
GLOBAL = b'{"Global":{"Temperature":21.3,"Pressure":999.0},"BME280":{"Temperature":21.3,"Pressure":843.0},"PressureUnit":"hPa"}'  # noqa: E501


@pytest.mark.parametrize(
    ("payload", "sensor", "expected"),
    [
        (BME280, None, PressureValue(843.0, "hPa", "BME280")),
        (SEA, None, PressureValue(843.0, "hPa", "BME280")),  # station pressure, never SeaPressure
        (BMP280_MMHG, None, PressureValue(632.3, "mmHg", "BMP280")),
        (BME680_INHG, None, PressureValue(24.89, "inHg", "BME680")),
        (STATUS10, None, PressureValue(1002.9, "hPa", "BME280")),
        (TWO, None, PressureValue(1001.0, "hPa", "BME280-76", ("BMP388",))),
        (TWO, "bmp388", PressureValue(1001.4, "hPa", "BMP388", ("BME280-76",))),
        (TWO, "BME280_76", PressureValue(1001.0, "hPa", "BME280-76", ("BMP388",))),
        (ZIGBEE, None, PressureValue(983.25, "hPa", "ZbReceived.0x7C71")),
        (GLOBAL, None, PressureValue(843.0, "hPa", "BME280")),  # Tasmota 13's Global repeats a sensor
        (b'{"BME280":{"Pressure":1008}}', None, PressureValue(1008.0, "hPa", "BME280")),  # no PressureUnit: hPa
    ],
)
def test_tasmota_reads_the_sensors_station_pressure(payload: bytes, sensor: str | None, expected: object) -> None:
    assert decode_tasmota(payload, sensor) == expected


@pytest.mark.parametrize(
    ("payload", "sensor", "why"),
    [
        (b"garbage", None, "not JSON"),
        (b'{"BME280":{"Temperature":21.3', None, "malformed JSON"),
        (b"[1, 2]", None, "expected a JSON object"),
        (b'{"DS18B20":{"Temperature":107.2},"TempUnit":"C"}', None, "no sensor with a Pressure"),
        (b'{"BME280":{"SeaPressure":1012.4}}', None, "no sensor with a Pressure"),
        (b'{"BME280":{"Pressure":null}}', None, "no value"),
        (b'{"BME280":{"Pressure":"1008.2"}}', None, "not a number"),
        (b'{"BME280":{"Pressure":true}}', None, "not a number"),
        (b'{"BME280":{"Pressure":NaN}}', None, "not valid JSON"),
        (b'{"BME280":{"Pressure":1e400}}', None, "not valid JSON"),
        (b'{"BME280":{"Pressure":1008}}', "BMP388", "no 'BMP388'"),
        (b"\xff\xfe", None, "UTF-8"),
        (b"", None, "empty"),
        (b"{" + b'"a":' * 10 + b"1", None, "JSON"),
        (b" " * 70_000 + b"{}", None, "too big"),
    ],
)
def test_tasmota_refuses_what_carries_no_pressure(payload: bytes, sensor: str | None, why: str) -> None:
    result = decode_tasmota(payload, sensor)
    assert isinstance(result, Unreadable)
    assert why in result.reason


@pytest.mark.parametrize(
    ("payload", "unit", "expected"),
    [
        (b"1008.2", "hPa", PressureValue(1008.2, "hPa")),
        (b" 843 \n", "hPa", PressureValue(843.0, "hPa")),
        (b"100.82", "kPa", PressureValue(100.82, "kPa")),
        (b"29.77", "inHg", PressureValue(29.77, "inHg")),
        (b"nan", "hPa", Unreadable("the sensor has no value ('nan')")),
        (b"None", "hPa", Unreadable("the sensor has no value ('None')")),
        (b"1e400", "hPa", Unreadable("'1e400' is not a finite number")),
        (b"high", "hPa", Unreadable("not a number")),
        (b'{"pressure": 1008}', "hPa", Unreadable("not a number")),
        (b"", "hPa", Unreadable("empty payload")),
    ],
)
def test_number_is_a_bare_value_in_the_urls_unit(payload: bytes, unit: str, expected: object) -> None:
    assert decode_number(payload, unit) == expected


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        (b"1008.2", None, PressureValue(1008.2, "hPa")),  # mqtt_statestream: the state as it is
        (b"1008.2", "pressure", PressureValue(1008.2, "hPa")),
        (b"843", None, PressureValue(843.0, "hPa")),
        (b'{"pressure": 1008.2}', "pressure", PressureValue(1008.2, "hPa", "pressure")),
        (b'{"kitchen":{"baro":{"hpa":843.1}}}', "kitchen.baro.hpa", PressureValue(843.1, "hPa", "kitchen.baro.hpa")),
        (
            b'{"state": 29.77, "unit_of_measurement": "inHg"}',
            "state",
            PressureValue(29.77, "inHg", "state"),
        ),
        (b'{"p": {"value": 84.3, "unit": "kPa"}}', "p.value", PressureValue(84.3, "kPa", "p.value")),
        (b'{"readings": [843.0, 842.9]}', "readings.0", PressureValue(843.0, "hPa", "readings.0")),
    ],
)
def test_json_takes_a_number_or_the_field(payload: bytes, field: str | None, expected: object) -> None:
    assert decode_json(payload, field, "hPa") == expected


@pytest.mark.parametrize(
    ("payload", "field", "why"),
    [
        (b'{"pressure": 1008.2}', None, "field="),
        (b'{"pressure": 1008.2}', "station", "no field 'station'"),
        (b'{"pressure": "1008.2"}', "pressure", "not a number"),
        (b'{"pressure": null}', "pressure", "null"),
        (b'{"pressure": NaN}', "pressure", "not valid JSON"),
        (b'"1008.2"', None, "not JSON"),
        (b"unavailable", None, "no value"),
        (b"x" * 70_000, "pressure", "too big"),
    ],
)
def test_json_refuses_what_is_not_a_number(payload: bytes, field: str | None, why: str) -> None:
    result = decode_json(payload, field)
    assert isinstance(result, Unreadable)
    assert why in result.reason


@pytest.mark.parametrize(
    ("url", "fmt", "unit", "topic"),
    [
        ("mqtt://192.168.1.5:1883/tele/kitchen/SENSOR?format=tasmota", "tasmota", "hPa", "tele/kitchen/SENSOR"),
        ("mqtt://pi/tele/kitchen/SENSOR", "tasmota", "hPa", "tele/kitchen/SENSOR"),  # guessed
        ("mqtt://pi/kitchen/sensor/pressure/state", "number", "hPa", "kitchen/sensor/pressure/state"),
        ("mqtt://pi/kitchen/sensor/pressure/state?format=esphome&unit=inHg", "number", "inHg", None),
        ("mqtt://pi/home/kitchen/pressure?format=json&field=a.b", "json", "hPa", "home/kitchen/pressure"),
        ("mqtts://user:pw@pi/baro?cafile=/etc/ca.pem", "json", "hPa", "baro"),
    ],
)
def test_good_urls(url: str, fmt: str, unit: str, topic: str | None) -> None:
    settings = barometer_settings(url)
    assert settings.fmt == fmt and settings.unit == unit
    if topic is not None:
        assert settings.topic == topic
    assert "pw" not in settings.url


def test_url_options_reach_the_settings() -> None:
    s = barometer_settings("mqtts://u:secret@pi:8884/tele/k/SENSOR?format=tasmota&sensor=BME280")
    assert s.link.host == "pi" and s.link.port == 8884 and s.link.tls and s.link.username == "u"
    assert s.sensor == "BME280" and not s.fmt_guessed
    assert "secret" not in s.url
    j = barometer_settings("mqtt://pi/x?format=json&field=state&unit=mmHg")
    assert j.field == "state" and j.unit == "mmHg" and j.link.port == 1883


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://pi/x", "read over MQTT"),
        ("sim://", "read over MQTT"),
        ("mqtt:///tele/k/SENSOR", "host is missing"),
        ("mqtt://pi:1883", "topic is missing"),
        ("mqtt://pi/tele/+/SENSOR", "without wildcards"),
        ("mqtt://pi/tele/k/%23", "without wildcards"),
        ("mqtt://pi/tele/k/#", "'#'"),
        ("mqtt://pi/x?format=bmp", "format='bmp'"),
        ("mqtt://pi/x?channel=1", "unknown option 'channel'"),
        ("mqtt://pi/x?format=tasmota&field=a", "field= picks"),
        ("mqtt://pi/x?format=json&sensor=BME280", "sensor= picks"),
        ("mqtt://pi/x?format=json&field=a..b", "dotted path"),
        ("mqtt://pi/x?unit=", "unit= is empty"),
        ("mqtt://pi/x?cafile=/ca.pem", "cafile= only applies"),
        ("mqtt://pi:99999/x", "bad port"),
        ("mqtt://pi/x?unit=hPa&unit=Pa", "given twice"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(ProbeUrlError, match=None) as info:
        barometer_settings(url)
    assert why in str(info.value)

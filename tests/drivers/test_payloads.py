"""Decoder tables for MQTT payloads, each row a payload real firmware publishes.

Sources of the shapes (read in the projects' own code and issue threads):
Tasmota ``xsns_05_ds18x20.ino``, ``xsns_39_max31855.ino``, ``xsns_47_max31865.ino``
and captures quoted in TasmoAdmin #327 / Tasmota #16409; ESPHome
``mqtt_sensor.cpp`` (``nan``, and ``None`` with ``publish_nan_as_none``);
rtl_433 ``docs/OPERATION.md``, ``thermopro_tp82xb.c``, issue #2461 (ITH-20R);
Theengs decoder ``IBT_4XS_json.h``, ``H5055_json.h``, theengs/app #41.
"""

from __future__ import annotations

import pytest

from drivers.base import Decoded
from drivers.payloads import (
    MAX_PAYLOAD_BYTES,
    DecoderOptions,
    JsonDecoder,
    NumberDecoder,
    OmgDecoder,
    PayloadResult,
    Rtl433Decoder,
    TasmotaDecoder,
    default_lwt_topic,
    guess_format,
    make_decoder,
    norm_channel,
    parse_availability,
    rtl_channel,
    safe_raw,
    sniff_format,
)

Row = tuple[str, list[tuple[str, float | None]]]


def readings(result: PayloadResult) -> list[tuple[str, float | None]]:
    """(channel, celsius rounded to 0.01) for each value; faults have celsius None."""
    return [(d.channel, None if d.celsius is None else round(d.celsius, 2)) for d in result.values]


def faults(result: PayloadResult) -> list[str]:
    return [d.fault for d in result.values if d.fault is not None]


def b(text: str) -> bytes:
    return text.encode()


# ---------------------------------------------------------------------------
# number (ESPHome)


@pytest.mark.parametrize(
    ("payload", "unit", "expected"),
    [
        ("107.25", "C", [("", 107.25)]),
        ("  98.6\n", "C", [("", 98.6)]),
        ("225.0", "F", [("", 107.22)]),
        ("-3", "C", [("", -3.0)]),
        ("1.0725e2", "C", [("", 107.25)]),
        # ESPHome: a sensor without a state prints nan (-nan on some libcs), or
        # None with mqtt: publish_nan_as_none: true.
        ("nan", "C", [("", None)]),
        ("-nan", "C", [("", None)]),
        ("None", "C", [("", None)]),
        # Impossible or sentinel values: iBBQ unplugged, DS18B20 disconnected.
        ("6552.6", "C", [("", None)]),
        ("-127", "C", [("", None)]),
        ("-127.00", "C", [("", None)]),
    ],
)
def test_number(payload: str, unit: str, expected: list[tuple[str, float | None]]) -> None:
    decoder = NumberDecoder("F" if unit == "F" else "C")
    assert readings(decoder.decode("kitchen/sensor/pot/state", b(payload))) == expected


def test_number_faults_say_why() -> None:
    assert faults(NumberDecoder().decode("t", b"nan")) == ["the sensor has no value ('nan')"]
    assert "impossible" in faults(NumberDecoder().decode("t", b"6552.6"))[0]
    assert "sensor error value -127" in faults(NumberDecoder().decode("t", b"-127"))[0]


def test_number_per_topic_on_a_wildcard_subscription() -> None:
    decoder = NumberDecoder(per_topic=True)
    assert readings(decoder.decode("kitchen/sensor/pot/state", b"99.5")) == [("kitchen/sensor/pot/state", 99.5)]
    picky = NumberDecoder(channel="kitchen/sensor/oven/state", per_topic=True)
    assert picky.decode("kitchen/sensor/pot/state", b"99.5").skipped is not None
    assert readings(picky.decode("kitchen/sensor/oven/state", b"180")) == [("kitchen/sensor/oven/state", 180.0)]


# ---------------------------------------------------------------------------
# tasmota

TASMOTA: list[tuple[str, str | None, list[tuple[str, float | None]]]] = [
    # Two DS18B20 on one bus (tele/<t>/SENSOR, Tasmota 8+).
    (
        '{"Time":"2020-11-15T21:05:00","DS18B20-1":{"Id":"01183379C9FF","Temperature":46.9},'
        '"DS18B20-2":{"Id":"011833902FFF","Temperature":44.1},"TempUnit":"C"}',
        None,
        [("DS18B20-1", 46.9), ("DS18B20-2", 44.1)],
    ),
    (
        '{"Time":"2020-11-15T21:05:00","DS18B20-1":{"Id":"01183379C9FF","Temperature":46.9},'
        '"DS18B20-2":{"Id":"011833902FFF","Temperature":44.1},"TempUnit":"C"}',
        "DS18B20-2",
        [("DS18B20-2", 44.1)],
    ),
    # SetOption64 1 writes DS18B20_1; channel= matches either separator.
    (
        '{"Time":"2024-02-01T18:00:00","DS18B20_1":{"Id":"3C01F09620CB","Temperature":107.3},'
        '"DS18B20_2":{"Id":"1DA15B1E64FF","Temperature":21.0},"TempUnit":"C"}',
        "DS18B20-1",
        [("DS18B20_1", 107.3)],
    ),
    # One sensor, SetOption8 1: Fahrenheit for the whole message.
    (
        '{"Time":"2024-02-01T18:00:00","DS18B20":{"Id":"0316A279C0FF","Temperature":225.1},"TempUnit":"F"}',
        None,
        [("DS18B20", 107.28)],
    ),
    # MAX31855 K thermocouple; the cold-junction ReferenceTemperature is not a reading.
    (
        '{"Time":"2024-02-01T18:00:00","MAX31855":{"Temperature":107.25,"ReferenceTemperature":26.1,"Error":0},'
        '"TempUnit":"C"}',
        None,
        [("MAX31855", 107.25)],
    ),
    # MAX31855 with an open thermocouple: null and Error 1.
    (
        '{"Time":"2024-02-01T18:00:00","MAX31855":{"Temperature":null,"ReferenceTemperature":24.5,"Error":1},'
        '"TempUnit":"C"}',
        None,
        [("MAX31855", None)],
    ),
    # MAX6675 on an ESP32 (Tasmota #16409): the ESP32 chip temperature is ignored.
    (
        '{"Time":"2022-09-01T13:01:29","MAX6675":{"Temperature":0.0,"ReferenceTemperature":null,"Error":0},'
        '"ESP32":{"Temperature":53.3},"Shutter1":{"Position":0,"Direction":0,"Target":0,"Tilt":0},"TempUnit":"C"}',
        None,
        [("MAX6675", 0.0)],
    ),
    # Status 10 reply from Tasmota 7 (TasmoAdmin #327): StatusSNS, ProbeTemperature.
    (
        '{"StatusSNS":{"Time":"2019-12-03T13:15:32","MAX31855":{"ProbeTemperature":84.0,'
        '"ReferenceTemperature":38.4,"Error":0},"TempUnit":"C"}}',
        None,
        [("MAX31855", 84.0)],
    ),
    # PT100 on a MAX31865, index separator "-".
    (
        '{"Time":"2024-02-01T18:00:00","MAX31865-0":{"Temperature":107.4,"Resistance":141.6,"Error":0},"TempUnit":"C"}',
        "MAX31865-0",
        [("MAX31865-0", 107.4)],
    ),
    # A humidity sensor beside the probe: DewPoint and Tasmota 13's Global copy are ignored.
    (
        '{"Time":"2020-11-15T18:35:34","SHT3X-0x44":{"Temperature":22.1,"Humidity":57.5,"DewPoint":13.3},'
        '"Global":{"Temperature":22.1,"Humidity":57.5,"DewPoint":13.3},"TempUnit":"C"}',
        None,
        [("SHT3X-0x44", 22.1)],
    ),
    # NTC thermistor on the ADC.
    (
        '{"Time":"2024-02-01T18:00:00","ANALOG":{"Temperature1":21.6},"TempUnit":"C"}',
        None,
        [("ANALOG.Temperature1", 21.6)],
    ),
    # Legacy multi-sensor driver (Tasmota 5.x): one level deeper.
    (
        '{"Time":"2018-02-15T01:00:50","DS18x20":{"DS1":{"Type":"DS18B20","Address":"28FF8EC44C160483",'
        '"Temperature":19.5}},"TempUnit":"C"}',
        None,
        [("DS18x20.DS1", 19.5)],
    ),
    # The selected DS18B20 dropped off the bus: Tasmota leaves it out of the JSON.
    (
        '{"Time":"2024-02-01T18:00:00","DS18B20-1":{"Id":"01183379C9FF","Temperature":46.9},"TempUnit":"C"}',
        "DS18B20-2",
        [("DS18B20-2", None)],
    ),
]


@pytest.mark.parametrize(("payload", "channel", "expected"), TASMOTA)
def test_tasmota(payload: str, channel: str | None, expected: list[tuple[str, float | None]]) -> None:
    result = TasmotaDecoder(channel=channel).decode("tele/kitchen/SENSOR", b(payload))
    assert result.unreadable is None
    assert readings(result) == expected


def test_tasmota_fault_reasons() -> None:
    open_tc = '{"MAX31855":{"Temperature":null,"ReferenceTemperature":24.5,"Error":1},"TempUnit":"C"}'
    assert faults(TasmotaDecoder().decode("t", b(open_tc))) == ["thermocouple open circuit (Error 1)"]
    short = '{"MAX31855":{"Temperature":null,"ReferenceTemperature":24.5,"Error":4},"TempUnit":"C"}'
    assert faults(TasmotaDecoder().decode("t", b(short))) == ["thermocouple shorted to VCC (Error 4)"]
    lost = '{"MAX6675":{"Temperature":null,"Error":0},"TempUnit":"C"}'
    assert faults(TasmotaDecoder().decode("t", b(lost))) == ["the sensor has no value (null)"]
    missing = '{"DS18B20-1":{"Temperature":46.9},"TempUnit":"C"}'
    assert "missing" in faults(TasmotaDecoder(channel="DS18B20-3").decode("t", b(missing)))[0]


def test_tasmota_unit_option_only_when_tempunit_is_missing() -> None:
    bare = b'{"DS18B20":{"Temperature":225.0}}'
    assert readings(TasmotaDecoder(unit="F").decode("t", bare)) == [("DS18B20", 107.22)]
    stated = b'{"DS18B20":{"Temperature":107.0},"TempUnit":"C"}'
    assert readings(TasmotaDecoder(unit="F").decode("t", stated)) == [("DS18B20", 107.0)]


@pytest.mark.parametrize(
    "payload",
    [
        '{"Time":"2024-02-01T18:00:00","ENERGY":{"Power":5,"Voltage":230}}',  # a plug's SENSOR: no temperature
        '{"DS18B20":{"Id":"01","Temperature":"hot"},"TempUnit":"C"}',  # wrong type
        '{"DS18B20":{"Id":"01","Temperature":true},"TempUnit":"C"}',  # a bool is not a number
        '{"POWER":"ON"}',
    ],
)
def test_tasmota_without_a_temperature_is_unreadable(payload: str) -> None:
    assert TasmotaDecoder().decode("tele/kitchen/SENSOR", b(payload)).unreadable is not None


# ---------------------------------------------------------------------------
# rtl_433

NEXUS = (
    '{"time":"2019-08-29 08:38:19","model":"Nexus-TH","id":42,"channel":2,"battery_ok":1,'
    '"temperature_C":20.5,"humidity":83}'
)
TP828B = (
    '{"time":"2024-06-01 12:00:00","model":"ThermoPro-TP828b","id":119,"display_u":"Celsius",'
    '"temperature_1_C":107.2,"temperature_1_LO_C":100.0,"temperature_1_HI_C":110.0,'
    '"temperature_2_C":65.4,"temperature_2_HI_C":300.0,"flags":"c","mic":"CHECKSUM"}'
)
# rtl_433 -C customary: every _C field turned into _F, the alarm window too.
TP828B_F = (
    '{"time":"2024-06-01 12:00:00","model":"ThermoPro-TP828b","id":119,"temperature_1_F":225.0,'
    '"temperature_1_LO_F":212.0,"temperature_2_F":149.7,"temperature_2_HI_F":572.0}'
)
# Probe 3 unplugged: the TP829B decoder leaves the field out (raw 0xEDD).
TP829B = (
    '{"time":"2024-06-01 12:00:00","model":"ThermoPro-TP829b","id":92,"display_u":"Fahrenheit",'
    '"temperature_1_C":107.1,"temperature_2_C":98.0,"temperature_4_C":24.0,"flags":"f","mic":"CHECKSUM"}'
)
# Inkbird ITH-20R before the 2023 rename (temperature2_C), external probe unplugged.
ITH20R = (
    '{"time":"2022-12-01 20:00:00","model":"Inkbird-ITH20R","id":57658,"battery":90,"sensor_num":2,'
    '"temperature_C":21.8,"temperature2_C":2635.8,"humidity":40.0}'
)
# ThermoPro TempSpike XR (TP862b / TP863b): a meat tip and an ambient tip.
# rtl_433 src/devices/thermopro_tp86xb.c; the events are PR #3485's captures
# (a TP863b's booster repeats the probe's event with is_booster).
TEMPSPIKE = (
    '{"time" : "2026-02-26 21:55:23", "model" : "ThermoPro-TempSpikeXR", "id" : 156, "color" : "white", '
    '"temperature_int_C" : 21.100, "temperature_amb_C" : 21.900, "is_probe" : 1, "probe_batery" : 2, "mic" : "CRC"}'
)
TEMPSPIKE_BOOSTER = (
    '{"time" : "2026-02-26 21:55:23", "model" : "ThermoPro-TempSpikeXR", "id" : 156, "color" : "white", '
    '"temperature_int_C" : 21.100, "temperature_amb_C" : 21.900, "is_booster" : 1, "booster_battery" : 1, '
    '"mic" : "CRC"}'
)
# The first decoder (thermopro_tp862b.c) named the model after the TP862b; rtl_433 -C customary.
TP862B_F = (
    '{"time":"2026-02-01 18:00:00","model":"ThermoPro-TP862b","id":54,"color":"black","is_docked":0,'
    '"temperature_int_F":225.0,"temperature_amb_F":98.6,"flags":31,"mic":"CRC"}'
)
ACURITE = (
    '{"time":"2020-01-01 10:00:00","model":"Acurite-986","id":2752,"channel":"1R","battery_ok":1,'
    '"temperature_F":-1.0,"status":0}'
)


@pytest.mark.parametrize(
    ("payload", "channel", "expected"),
    [
        (NEXUS, None, [("temperature", 20.5)]),
        (TP828B, None, [("temperature_1", 107.2), ("temperature_2", 65.4)]),
        (TP828B, "temperature_2", [("temperature_2", 65.4)]),
        (TP828B_F, None, [("temperature_1", 107.22), ("temperature_2", 65.39)]),
        (TP829B, "temperature_1_C", [("temperature_1", 107.1)]),
        (TP829B, "temperature_3", [("temperature_3", None)]),
        (ITH20R, None, [("temperature", 21.8), ("temperature_2", None)]),
        (ITH20R, "temperature2", [("temperature_2", None)]),
        (ACURITE, None, [("temperature", -18.33)]),
        # Both tips of a TempSpike XR (they decoded to nothing).
        (TEMPSPIKE, None, [("temperature_int", 21.1), ("temperature_amb", 21.9)]),
        (TEMPSPIKE_BOOSTER, "temperature_int", [("temperature_int", 21.1)]),
        (TP862B_F, "temperature_amb_F", [("temperature_amb", 37.0)]),
        (TP862B_F, None, [("temperature_int", 107.22), ("temperature_amb", 37.0)]),
    ],
)
def test_rtl_433_events(payload: str, channel: str | None, expected: list[tuple[str, float | None]]) -> None:
    result = Rtl433Decoder(channel=channel).decode("rtl_433/pi/events", b(payload))
    assert result.unreadable is None and result.skipped is None
    assert readings(result) == expected


def test_rtl_433_sentinels_and_unplugged_probes_are_faults() -> None:
    ith = Rtl433Decoder().decode("rtl_433/pi/events", b(ITH20R))
    assert "impossible value 2635.8" in faults(ith)[0]
    tp = Rtl433Decoder(channel="temperature_3").decode("rtl_433/pi/events", b(TP829B))
    assert "missing" in faults(tp)[0]


def test_rtl_433_model_and_id_filters() -> None:
    mine = Rtl433Decoder(model="ThermoPro-TP829b", device_id="92")
    assert readings(mine.decode("rtl_433/pi/events", b(TP829B)))[0] == ("temperature_1", 107.1)
    other = mine.decode("rtl_433/pi/events", b(NEXUS))
    assert other.skipped is not None and other.device == "Nexus-TH id 42"
    wrong_id = Rtl433Decoder(device_id="93").decode("rtl_433/pi/events", b(TP829B))
    assert wrong_id.skipped is not None


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (
            '{"time":"2024-06-01 12:00:00","model":"Honeywell-Security","id":123456,"event":128,"state":"open"}',
            "no temp",
        ),
        ('{"time":"2024-06-01 12:00:00","frames":{"count":3},"stats":{"ok":42}}', "a states message"),
    ],
)
def test_rtl_433_messages_without_a_reading_are_skipped_not_errors(payload: str, why: str) -> None:
    result = Rtl433Decoder().decode("rtl_433/pi/events", b(payload))
    assert result.unreadable is None and result.skipped is not None, why


def test_rtl_433_per_field_device_topics() -> None:
    decoder = Rtl433Decoder(model="ThermoPro-TP829b", device_id="92")
    base = "rtl_433/pi/devices/ThermoPro-TP829b/92"
    assert readings(decoder.decode(f"{base}/temperature_1_C", b"107.1")) == [("temperature_1", 107.1)]
    assert readings(decoder.decode(f"{base}/temperature_2_F", b"225.0")) == [("temperature_2", 107.22)]
    assert decoder.decode(f"{base}/battery_ok", b"1").skipped is not None
    assert decoder.decode("rtl_433/pi/devices/Nexus-TH/2/42/temperature_C", b"20.5").skipped is not None
    assert decoder.decode(f"{base}/temperature_1_C", b"warm").unreadable is not None
    picky = Rtl433Decoder(channel="temperature_2")
    assert picky.decode(f"{base}/temperature_1_C", b"107.1").skipped is not None


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("temperature_C", ("temperature", "C")),
        ("temperature_F", ("temperature", "F")),
        ("temperature_1_C", ("temperature_1", "C")),
        ("temperature_2_F", ("temperature_2", "F")),
        ("temperature1_C", ("temperature_1", "C")),
        ("temperature_int_C", ("temperature_int", "C")),
        ("temperature_amb_F", ("temperature_amb", "F")),
        ("temperature_1_LO_C", None),
        ("temperature_2_HI_C", None),
        ("setpoint_C", None),
        ("humidity", None),
    ],
)
def test_rtl_433_field_names(key: str, expected: tuple[str, str] | None) -> None:
    assert rtl_channel(key) == expected


# ---------------------------------------------------------------------------
# omg: OpenMQTTGateway / Theengs Gateway

IBT2X = (
    '{"id":"49:22:05:17:0C:1F","name":"iBBQ","rssi":-73,"brand":"Inkbird","model":"iBBQ",'
    '"model_id":"IBT-2X","tempc":24,"tempf":75.2,"tempc2":107.5,"tempf2":225.5}'
)
# IBT-4XS with probes 3 and 4 unplugged: Theengs leaves their keys out (0xFFF6).
IBT4XS = (
    '{"id":"AB:CD:EF:01:02:03","name":"iBBQ","rssi":-60,"brand":"Inkbird","model":"iBBQ",'
    '"model_id":"IBT-4XS","tempc":106.9,"tempf":224.42,"tempc2":61.0,"tempf2":141.8}'
)
# A decoder from before the 0xFFF6 condition sent the sentinel through.
IBT4XS_OLD = '{"id":"AB:CD:EF:01:02:03","model":"IBT-4XS","tempc":106.9,"tempc2":6552.6,"tempf2":11826.68}'
GOVEE = (
    '{"id":"A4:C1:38:AA:BB:CC","name":"GVH5055_ABCD","rssi":-70,"brand":"Govee",'
    '"model":"Bluetooth BBQ Thermometer","model_id":"H5055","tempc1":23,"tempf1":73.4,"tempc2":106,'
    '"tempf2":222.8,"batt":100}'
)
OLD_GATEWAY = '{"id":"49:22:05:17:0C:1F","rssi":"-71","model":"iBBQ","tempc":"24.00","tempc2":"107.00"}'
IBS_TH1 = (
    '{"id":"","mac_type":0,"name":"sps","rssi":-64,"brand":"Inkbird","model":"TH Sensor","model_id":"IBS-TH1",'
    '"cidc":false,"tempc2_ext":25.17,"tempf2_ext":77.306,"hum":60.31,"batt":81}'
)


@pytest.mark.parametrize(
    ("payload", "channel", "expected"),
    [
        (IBT2X, None, [("tempc", 24.0), ("tempc2", 107.5)]),
        (IBT2X, "tempc2", [("tempc2", 107.5)]),
        (IBT2X, "2", [("tempc2", 107.5)]),
        (IBT4XS, None, [("tempc", 106.9), ("tempc2", 61.0)]),
        (IBT4XS_OLD, None, [("tempc", 106.9), ("tempc2", None)]),
        (GOVEE, None, [("tempc1", 23.0), ("tempc2", 106.0)]),
        (OLD_GATEWAY, None, [("tempc", 24.0), ("tempc2", 107.0)]),
        (IBS_TH1, None, [("tempc2_ext", 25.17)]),
        ('{"id":"11:22:33:44:55:66","model":"X","tempf":225.5}', None, [("tempc", 107.5)]),
    ],
)
def test_omg(payload: str, channel: str | None, expected: list[tuple[str, float | None]]) -> None:
    result = OmgDecoder(channel=channel).decode("home/OpenMQTTGateway/BTtoMQTT/49220517", b(payload))
    assert result.unreadable is None and result.skipped is None
    assert readings(result) == expected


def test_omg_absent_probe_is_skipped_and_filters_work() -> None:
    # Govee H5055 sends two of its six probes per advert: absence is not a fault.
    assert OmgDecoder(channel="tempc3").decode("t", b(GOVEE)).skipped is not None
    assert OmgDecoder(channel="tempc3").decode("t", b(IBT4XS)).skipped is not None
    assert OmgDecoder(device_id="49:22:05:17:0c:1f").decode("t", b(IBT4XS)).skipped is not None
    assert readings(OmgDecoder(device_id="492205170C1F").decode("t", b(IBT2X)))[0] == ("tempc", 24.0)
    assert OmgDecoder(model="H5055").decode("t", b(IBT2X)).skipped is not None
    assert readings(OmgDecoder(model="H5055").decode("t", b(GOVEE)))[0] == ("tempc1", 23.0)
    beacon = '{"id":"11:22:33:44:55:66","rssi":-80,"brand":"GENERIC","model":"MS-CDP","model_id":"MS-CDP"}'
    assert OmgDecoder().decode("t", b(beacon)).skipped is not None
    assert "impossible value 6552.6" in faults(OmgDecoder().decode("t", b(IBT4XS_OLD)))[0]


# ---------------------------------------------------------------------------
# json


@pytest.mark.parametrize(
    ("payload", "channel", "unit", "expected"),
    [
        ('{"probe":{"temp_f":225.1}}', "probe.temp_f", "C", [("probe.temp_f", 107.28)]),
        ('{"probe":{"temp":107.3,"unit":"C"}}', "probe.temp", "F", [("probe.temp", 107.3)]),
        ('{"probe":{"temp":225.0,"unit":"°F"}}', "probe.temp", "C", [("probe.temp", 107.22)]),
        ('{"t":[21.5,107.1]}', "t.1", "C", [("t.1", 107.1)]),
        ('{"pot":"107.5"}', "pot", "C", [("pot", 107.5)]),
        ('{"pot":225}', "pot", "F", [("pot", 107.22)]),
        ('{"tempF":225}', "tempF", "C", [("tempF", 107.22)]),
        ('{"probe":{"temp_c":null}}', "probe.temp_c", "C", [("probe.temp_c", None)]),
        # DallasTemperature's DEVICE_DISCONNECTED_C from a hand-written sketch.
        ('{"ds18b20":-127}', "ds18b20", "C", [("ds18b20", None)]),
        ('{"temp_c":107.2,"humidity":40,"ok":true,"name":"pot"}', None, "C", [("temp_c", 107.2), ("humidity", 40.0)]),
        # Shelly Gen2's temperature component (status/temperature:100, a DS18B20
        # on the Plus Add-on) carries tC and tF of one probe: one reading, not two.
        ('{"id":100,"tC":107.3,"tF":225.1}', "tC", "F", [("tC", 107.3)]),
        ('{"id":100,"tC":107.3,"tF":225.1}', None, "C", [("tC", 107.3)]),  # the component's id is no probe
        # A unit key (even Tasmota's TempUnit) or a unit on the value beats unit=, as over serial.
        ('{"TempUnit":"F","Temperature":212}', None, "C", [("Temperature", 100.0)]),
        ('{"t":"212F"}', None, "C", [("t", 100.0)]),
    ],
)
def test_json(payload: str, channel: str | None, unit: str, expected: list[tuple[str, float | None]]) -> None:
    result = JsonDecoder("F" if unit == "F" else "C", channel).decode("kitchen/probe", b(payload))
    assert result.unreadable is None
    assert readings(result) == expected


@pytest.mark.parametrize(
    ("payload", "channel"),
    [
        ('{"probe":{"temp_f":225.1}}', "probe.temp_c"),
        ('{"probe":{"temp_f":"hot"}}', "probe.temp_f"),
        ('{"probe":[1,2]}', "probe.5"),
        ('{"ok":true}', None),
    ],
)
def test_json_missing_or_wrong_field_is_unreadable(payload: str, channel: str | None) -> None:
    assert JsonDecoder(channel=channel).decode("t", b(payload)).unreadable is not None


# ---------------------------------------------------------------------------
# malformed payloads, whatever the format

MALFORMED: list[tuple[str, bytes]] = [
    ("not JSON", b"hello"),
    ("huge int", b'{"temperature_C":1' + b"0" * 400 + b',"model":"x","tempc":-1' + b"0" * 400 + b"}"),
    ("wrong type", b'{"temperature_C":"warm","model":"x","tempc":[1],"DS18B20":{"Temperature":"hot"}}'),
    ("truncated", b'{"DS18B20":{"Temperature":10'),
    ("invalid UTF-8", b'{"tempc":\xff\xfe}'),
    ("control chars", b"\x00\x01\x02\x03"),
    ("empty", b""),
    ("whitespace", b"  \n "),
    ("huge", b"{" + b" " * MAX_PAYLOAD_BYTES + b"}"),
    ("1 MiB", b"7" * (1 << 20)),
    ("deep", b"[" * 5000 + b"]" * 5000),
]


@pytest.mark.parametrize("fmt", ["number", "tasmota", "rtl_433", "omg", "json", "auto"])
@pytest.mark.parametrize(("why", "payload"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_payloads_are_unreadable_in_every_format(fmt: str, why: str, payload: bytes) -> None:
    decoder = make_decoder(DecoderOptions(fmt=fmt, channel="x" if fmt == "json" else None))
    # rtl_433's per-field topics carry plain strings ("OK", "CRC"): text is
    # only malformed where JSON is due, on its events topic.
    topic = "rtl_433/pi/events" if fmt == "rtl_433" else "some/topic"
    result = decoder.decode(topic, payload)
    assert result.unreadable is not None, f"{fmt}: {why} was read as {result}"
    assert result.values == ()


# A sensor without a value, however the publisher says so: never dropped, a fault of its channel.
# Python's json.dumps writes NaN and Infinity bare; firmware and Home Assistant publish the words.
NO_VALUE: list[tuple[str, str, bytes, str]] = [
    ("json", "temperature", b'{"temperature": NaN}', "temperature"),
    ("json", "temperature", b'{"temperature": null}', "temperature"),
    ("json", "temperature", b'{"temperature": Infinity}', "temperature"),
    ("json", "temperature", b'{"temperature": 1e400}', "temperature"),
    ("json", "temperature", b"nan", "temperature"),
    ("json", "temperature", b"NaN", "temperature"),
    ("json", "temperature", b"null", "temperature"),
    ("auto", "temperature", b'{"temperature": NaN}', "temperature"),
    ("auto", "temperature", b"NaN", "temperature"),
    ("auto", "", b'{"temperature": NaN}', "temperature"),
    ("tasmota", "DS18B20", b'{"DS18B20":{"Temperature":NaN},"TempUnit":"C"}', "DS18B20"),
    ("tasmota", "DS18B20", b"nan", "DS18B20"),
    ("tasmota", "", b'{"DS18B20":{"Temperature":NaN},"TempUnit":"C"}', "DS18B20"),
    ("rtl_433", "", b'{"model":"ThermoPro-TP829b","id":92,"temperature_1_C":NaN}', "temperature_1"),
    ("omg", "", b'{"id":"49:22:05:17:00:FF","model":"iBBQ","tempc":NaN}', "tempc"),
]


@pytest.mark.parametrize(
    ("fmt", "channel", "payload", "faulty"), NO_VALUE, ids=[f"{f}:{p[:40]!r}" for f, _, p, _ in NO_VALUE]
)
def test_a_sensor_without_a_value_is_a_fault_in_every_format(
    fmt: str, channel: str, payload: bytes, faulty: str
) -> None:
    decoder = make_decoder(DecoderOptions(fmt=fmt, channel=channel or None))
    topic = "rtl_433/pi/events" if fmt == "rtl_433" else "kitchen/probe"
    result = decoder.decode(topic, payload)
    assert result.unreadable is None, result.unreadable
    assert [(d.channel, d.celsius) for d in result.values] == [(faulty, None)]
    assert result.values[0].fault  # says why


def test_a_bare_no_value_word_names_no_channel_and_picks_no_format() -> None:
    decoder = make_decoder(DecoderOptions(fmt="auto"))
    word = decoder.decode("kitchen/probe", b"nan")
    assert word.device_wide and [(d.channel, d.celsius) for d in word.values] == [("", None)]
    # the JSON that follows is still read: "nan" did not lock the probe to the bare-number format
    assert readings(decoder.decode("kitchen/probe", b'{"temperature": 107.2}')) == [("temperature", 107.2)]
    assert decoder.name == "json"


def test_json_arrays_are_not_objects_for_object_formats() -> None:
    for fmt in ("tasmota", "rtl_433", "omg"):
        assert make_decoder(DecoderOptions(fmt=fmt)).decode("t", b"[1,2,3]").unreadable is not None


def test_safe_raw_is_bounded_and_printable() -> None:
    assert safe_raw(b"ok") == "ok"
    assert safe_raw(b"a\x00b") == "a\\x00b"
    assert safe_raw(b"\xff") == "\\xff"
    assert safe_raw(b"x" * 1000, 10) == "x" * 10 + "…"


# ---------------------------------------------------------------------------
# auto, topics and availability


@pytest.mark.parametrize(
    ("topic", "fmt"),
    [
        ("tele/kitchen/SENSOR", "tasmota"),
        ("stat/kitchen/STATUS10", "tasmota"),
        ("kitchen/tele/SENSOR", "tasmota"),
        ("kitchen/sensor/pot_temperature/state", "number"),
        ("home/kitchen/sensor/pot/state", "number"),
        ("rtl_433/raspberrypi/events", "rtl_433"),
        ("rtl_433/+/events", "rtl_433"),
        ("rtl_433/pi/devices/ThermoPro-TP829b/92/temperature_1_C", "rtl_433"),
        ("home/OpenMQTTGateway/BTtoMQTT/4922051700FF", "omg"),
        ("home/TheengsGateway/BTtoMQTT/#", "omg"),
        ("kitchen/probe", None),
    ],
)
def test_guess_format_from_topic(topic: str, fmt: str | None) -> None:
    assert guess_format(topic) == fmt


@pytest.mark.parametrize(
    ("payload", "fmt"),
    [
        (b"107.25", "number"),
        (b"nan", "number"),
        (b'{"DS18B20":{"Temperature":21.0},"TempUnit":"C"}', "tasmota"),
        (b'{"StatusSNS":{"MAX31855":{"Temperature":21.0}}}', "tasmota"),
        (NEXUS.encode(), "rtl_433"),
        (IBT2X.encode(), "omg"),
        (b'{"probe":{"temp":21}}', "json"),
        (b'{"TempUnit":"F","Temperature":212}', "json"),  # flat: no Tasmota sensor object
        (TEMPSPIKE.encode(), "rtl_433"),
        (b"hello", None),
        (b"\xff", None),
    ],
)
def test_sniff_format(payload: bytes, fmt: str | None) -> None:
    assert sniff_format(payload) == fmt


def test_auto_decoder_sticks_to_the_first_readable_format() -> None:
    decoder = make_decoder(DecoderOptions(fmt="auto"))
    assert decoder.decode("t", b"garbage").unreadable is not None
    assert readings(decoder.decode("t", IBT2X.encode())) == [("tempc", 24.0), ("tempc2", 107.5)]
    assert decoder.name == "omg"
    assert decoder.decode("t", b"107.0").unreadable is not None  # still omg


@pytest.mark.parametrize(
    ("fmt", "topic", "lwt"),
    [
        ("tasmota", "tele/kitchen/SENSOR", "tele/kitchen/LWT"),
        ("tasmota", "stat/kitchen/STATUS10", "tele/kitchen/LWT"),
        ("tasmota", "kitchen/tele/SENSOR", "kitchen/tele/LWT"),
        ("tasmota", "tele/+/SENSOR", "tele/+/LWT"),
        ("number", "kitchen/sensor/pot/state", "kitchen/status"),
        ("number", "home/kitchen/sensor/pot/state", "home/kitchen/status"),
        ("number", "pot/temperature", None),
        ("rtl_433", "rtl_433/pi/events", "rtl_433/pi/availability"),
        ("rtl_433", "rtl_433/pi/devices/ThermoPro-TP829b/92/temperature_1_C", "rtl_433/pi/availability"),
        ("omg", "home/OpenMQTTGateway/BTtoMQTT/4922051700FF", "home/OpenMQTTGateway/LWT"),
        ("omg", "home/TheengsGateway/BTtoMQTT", "home/TheengsGateway/LWT"),
        ("json", "kitchen/probe", None),
    ],
)
def test_default_lwt_topic(fmt: str, topic: str, lwt: str | None) -> None:
    assert default_lwt_topic(fmt, topic) == lwt


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"Online", True),
        (b"Offline", False),  # Tasmota capitalises
        (b"online", True),
        (b"offline", False),  # ESPHome, OpenMQTTGateway
        (b" offline\n", False),
        (b"maybe", None),
        (b"", None),
        (b"\xff\xfe", None),
    ],
)
def test_parse_availability(payload: bytes, online: bool | None) -> None:
    assert parse_availability(payload) is online


def test_channel_names_compare_loosely() -> None:
    assert norm_channel("DS18B20-1") == norm_channel("DS18B20_1") == "ds18b201"
    assert norm_channel("temperature_1") == norm_channel("temperature1")


def test_decoded_values_are_base_decoded() -> None:
    result = TasmotaDecoder().decode("t", b'{"DS18B20":{"Temperature":21.0},"TempUnit":"C"}')
    assert result.values == (Decoded("DS18B20", 21.0),)

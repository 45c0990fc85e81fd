"""Decoder tables from what real devices print, plus fuzzing: pure, no I/O."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import PLAUSIBLE_MAX_C, PLAUSIBLE_MIN_C, SENTINELS_C, Decoded, Reading
from drivers.formats import (
    LINE_FORMATS,
    MAX_LINE_BYTES,
    LineResult,
    LineSplitter,
    channel_name,
    decode_line,
    make_line_decoder,
    to_text,
)
from drivers.serial_probe import SerialSettings, StreamMonitor

F225_05 = 107.25  # 225.05 °F, as the Adafruit MAX6675 example prints both

# (format, line, expected [(channel, celsius or None, fault fragment or None)])
Row = tuple[str, str, list[tuple[str, float | None, str | None]]]

GOOD: list[Row] = [
    # bare numbers (ESP/Arduino "Serial.println(t)")
    ("number", "107.25", [("", 107.25, None)]),
    ("number", "-3.5", [("", -3.5, None)]),
    ("number", "+21", [("", 21.0, None)]),
    ("number", "1.0725e2", [("", 107.25, None)]),
    ("number", "107.25 C", [("", 107.25, None)]),
    ("number", "nan", [("", None, "nan")]),
    ("number", "NaN", [("", None, "nan")]),
    ("number", "-nan", [("", None, "nan")]),
    ("number", "inf", [("", None, "inf")]),
    ("number", "ovf", [("", None, "ovf")]),  # Arduino Print::printFloat overflow
    ("number", "Error", [("", None, "Error")]),
    ("number", "----", [("", None, "no value")]),
    ("number", "-127.00", [("", None, "sensor error value -127")]),  # DallasTemperature DEVICE_DISCONNECTED_C
    ("number", "-196.6", [("", None, "sensor error value -196.6")]),  # DEVICE_DISCONNECTED_F / MAX31856
    ("number", "2635.8", [("", None, "impossible value")]),  # rtl_433 ITH-20R
    ("number", "6552.7", [("", None, "impossible value")]),  # iBBQ unplugged
    ("number", "1e999", [("", None, "not a number")]),
    # units in the line
    ("unit", "107.2 C", [("", 107.2, None)]),
    ("unit", "107.2C", [("", 107.2, None)]),
    ("unit", "225.05 °F", [("", F225_05, None)]),
    ("unit", "225.05°F", [("", F225_05, None)]),
    ("unit", "225.05 ºF", [("", F225_05, None)]),  # masculine ordinal, a common keyboard slip
    ("unit", "225.05 *F", [("", F225_05, None)]),  # sketches that avoid the degree sign
    ("unit", "225.05 deg F", [("", F225_05, None)]),
    ("unit", "23.5°", [("", 23.5, None)]),
    # Adafruit MAX31855 / MAX6675 examples
    ("unit", "C = 107.25", [("", 107.25, None)]),
    ("unit", "F = 225.05", [("", F225_05, None)]),
    ("unit", "C = nan", [("", None, "nan")]),
    ("unit", "Internal Temp = 24.12", [("Internal", 24.12, None)]),
    ("unit", "Thermocouple fault(s) detected!", [("", None, "Thermocouple fault(s) detected")]),
    ("unit", "FAULT: Thermocouple is open - no connections.", [("", None, "Thermocouple is open")]),
    ("unit", "FAULT: Thermocouple is short-circuited to GND.", [("", None, "short-circuited to GND")]),
    # DallasTemperature examples
    ("unit", "Temperature for the device 1 (index 0) is: 23.50", [("", 23.5, None)]),
    ("unit", "Temperature for the device 2 (index 1) is: 98.50", [("1", 98.5, None)]),
    ("unit", "Temperature for the device 1 (index 0) is: -127.00", [("", None, "-127")]),
    ("unit", "Temperature for Device 1 is: 23.5", [("", 23.5, None)]),
    ("unit", "Error: Could not read temperature data", [("", None, "Could not read temperature data")]),
    # other labelled lines
    ("unit", "Temperature: 23.50°C", [("", 23.5, None)]),
    ("unit", "Temp (F): 225.05", [("", F225_05, None)]),
    ("unit", "tempF: 225.05", [("", F225_05, None)]),
    ("unit", "Température : 23.5 °C", [("", 23.5, None)]),
    # key=value lists
    ("keyvalue", "T1=107.25,T2=98.5", [("T1", 107.25, None), ("T2", 98.5, None)]),
    ("keyvalue", "T1=107.25 T2=98.5", [("T1", 107.25, None), ("T2", 98.5, None)]),
    ("keyvalue", "T1 = 107.25; T2 = 98.5", [("T1", 107.25, None), ("T2", 98.5, None)]),
    ("keyvalue", "t1:107.25 t2:nan", [("t1", 107.25, None), ("t2", None, "nan")]),
    ("keyvalue", "pot=225.05F&oven=180C", [("pot", F225_05, None), ("oven", 180.0, None)]),
    ("keyvalue", "temp_f=225.05", [("", F225_05, None)]),
    ("keyvalue", "T1=107.25,T2=Error", [("T1", 107.25, None), ("T2", None, "Error")]),
    # CSV
    ("csv", "107.25,98.5", [("1", 107.25, None), ("2", 98.5, None)]),
    ("csv", "107.25; 98.5", [("1", 107.25, None), ("2", 98.5, None)]),
    ("csv", "107.25\t98.5", [("1", 107.25, None), ("2", 98.5, None)]),
    ("csv", "107.25,nan,-127", [("1", 107.25, None), ("2", None, "nan"), ("3", None, "-127")]),
    ("csv", "107.25,,98.5", [("1", 107.25, None), ("2", None, "empty cell"), ("3", 98.5, None)]),
    # JSON lines (ESP/Arduino, ArduinoJson writes NaN as null)
    ("json", '{"t": 107.2}', [("t", 107.2, None)]),
    ("json", '{"t": null}', [("t", None, "null")]),
    ("json", '{"t": NaN}', [("t", None, "not a number")]),
    ("json", '{"t": "107.2"}', [("t", 107.2, None)]),
    ("json", '{"temp_f": 225.05}', [("temp_f", F225_05, None)]),
    ("json", '{"t": 225.05, "unit": "F"}', [("t", F225_05, None)]),
    (
        "json",
        '{"probes": [{"t": 1.5}, {"t": -127}]}',
        [("probes.0.t", 1.5, None), ("probes.1.t", None, "-127")],
    ),
    ("json", '{"id": "pot", "ok": true, "t": 20}', [("t", 20.0, None)]),
    ("json", "[107.25, 98.5]", [("0", 107.25, None), ("1", 98.5, None)]),
    # One probe in both units is one reading (it was two): a sketch printing
    # Shelly's temperature-component shape, and ArduinoJson examples' temp_c/temp_f.
    ("json", '{"tC":107.3,"tF":225.1}', [("tC", 107.3, None)]),
    ("json", '{"temp_c":107.25,"temp_f":225.05}', [("temp_c", 107.25, None)]),
    # A unit key or a unit on the value beats unit= (the same rule as MQTT's JSON).
    ("json", '{"TempUnit":"F","Temperature":212}', [("Temperature", 100.0, None)]),
    ("json", '{"t":"212F"}', [("t", 100.0, None)]),
    # TC4 / aArtisan READ replies (CHAN;1200: two channels)
    ("tc4", "23.50,107.25,98.50,0,0", [("ambient", 23.5, None), ("1", 107.25, None), ("2", 98.5, None)]),
    (
        "tc4",
        "23.50,107.25,98.50,35,100,150.0",
        [("ambient", 23.5, None), ("1", 107.25, None), ("2", 98.5, None)],
    ),
    (
        "tc4",
        "23.50,107.25,98.50",
        [("ambient", 23.5, None), ("1", 107.25, None), ("2", 98.5, None)],
    ),  # old fw
    ("tc4", "23.50,107.25,nan,0,0", [("ambient", 23.5, None), ("1", 107.25, None), ("2", None, "nan")]),
    ("tc4", "23.50, 107.25, 98.50, 0, 0", [("ambient", 23.5, None), ("1", 107.25, None), ("2", 98.5, None)]),
]

# TC4 / aArtisan 3.10 replies to READ after CHAN;<chan>: ambient, one value per
# logical slot switched on (in slot order), then heater, fan and SV while its
# PID runs (aArtisan.ino logger()). (chan, line, expected)
TC4: list[tuple[str, str, list[tuple[str, float | None, str | None]]]] = [
    # Four channels: 3 and 4 used to be lost.
    (
        "1234",
        "22.81,107.25,98.50,65.00,30.25,35,100,150.00",
        [("ambient", 22.81, None), ("1", 107.25, None), ("2", 98.5, None), ("3", 65.0, None), ("4", 30.25, None)],
    ),
    (
        "1234",
        "22.81,107.25,98.50,65.00,30.25",
        [("ambient", 22.81, None), ("1", 107.25, None), ("2", 98.5, None), ("3", 65.0, None), ("4", 30.25, None)],
    ),  # PID off
    # One channel: the heater duty "0" used to become channel 2 at 0 °C.
    ("1000", "22.81,107.25,0,0,0.00", [("ambient", 22.81, None), ("1", 107.25, None)]),
    ("1000", "22.81,107.25", [("ambient", 22.81, None), ("1", 107.25, None)]),
    # Slots are named by their place in CHAN;, not by their order in the reply.
    ("0200", "22.81,98.50", [("ambient", 22.81, None), ("2", 98.5, None)]),
    (
        "1034",
        "22.81,107.25,65.00,30.25,0,0,0.00",
        [("ambient", 22.81, None), ("1", 107.25, None), ("3", 65.0, None), ("4", 30.25, None)],
    ),
]

AUTO: list[tuple[str, str, list[tuple[str, float | None, str | None]]]] = [
    ("107.25", "number", [("", 107.25, None)]),
    ("225.05 °F", "number", [("", F225_05, None)]),
    ("C = 107.25", "unit", [("", 107.25, None)]),
    ("Internal Temp = 24.12", "unit", [("Internal", 24.12, None)]),
    ("FAULT: Thermocouple is open - no connections.", "unit", [("", None, "open")]),
    ("Temperature for the device 1 (index 0) is: 23.50", "unit", [("", 23.5, None)]),
    ("T1=107.25,T2=98.5", "keyvalue", [("T1", 107.25, None), ("T2", 98.5, None)]),
    ("107.25,98.5", "csv", [("1", 107.25, None), ("2", 98.5, None)]),
    ('{"t": 107.2}', "json", [("t", 107.2, None)]),
    ("nan", "number", [("", None, "nan")]),
]

UNREADABLE: list[tuple[str, str]] = [
    ("number", "107.25.3"),
    ("number", "1O7.25"),  # letter O, not zero
    ("number", "abc"),
    ("number", "1_000"),  # Python's float() would take it; no device prints it
    ("number", "١٠٧"),  # Arabic-Indic digits: float() takes them too
    ("number", "107.25 K"),
    ("unit", "MAX31855 test"),
    ("unit", "Requesting temperatures...DONE"),
    ("unit", "Initializing sensor...DONE."),
    ("unit", "C = "),
    ("unit", "C = hot"),
    ("keyvalue", "T1=107.25,T2"),
    ("keyvalue", "T1=107.25 and T2=98.5"),
    ("keyvalue", "=107.25"),
    ("keyvalue", "107.25"),
    ("csv", "107.25"),
    ("csv", "107.25,abc"),
    ("csv", "12:00:01,107.2"),
    ("json", '{"t": 107.2'),
    ("json", "t: 107.2"),
    ("json", '{"name": "pot"}'),
    ("json", "[" * 5000 + "]" * 5000),  # deeper than the parser's recursion limit
    ("tc4", "23.50,107.25"),  # fewer fields than ambient + the channels switched on
    ("tc4", "READ"),
    ("tc4", "abc,107.25,98.5,0,0"),
]


def _check(result: LineResult, expected: list[tuple[str, float | None, str | None]]) -> None:
    assert result.readable, result.unreadable
    got = [(d.channel, d.celsius, d.fault) for d in result.values]
    assert len(got) == len(expected), got
    for (channel, celsius, fault), (want_ch, want_c, want_fault) in zip(got, expected, strict=True):
        assert channel == want_ch
        if want_c is None:
            assert celsius is None
            assert fault is not None and want_fault is not None and want_fault.lower() in fault.lower()
        else:
            assert celsius == pytest.approx(want_c, abs=1e-4)
            assert fault is None


@pytest.mark.parametrize(("fmt", "line", "expected"), GOOD, ids=[f"{f}:{line[:40]}" for f, line, _ in GOOD])
def test_device_lines_decode(fmt: str, line: str, expected: list[tuple[str, float | None, str | None]]) -> None:
    _check(make_line_decoder(fmt).decode(line), expected)


@pytest.mark.parametrize(("fmt", "line", "expected"), GOOD, ids=[f"{f}:{line[:40]}" for f, line, _ in GOOD])
def test_device_lines_printed_once_a_second_are_never_suspect(
    fmt: str, line: str, expected: list[tuple[str, float | None, str | None]]
) -> None:
    """The noise meter (drivers/noise.py) must never doubt a real device's own lines."""
    monitor = StreamMonitor("pot", SerialSettings("/dev/ttyUSB0", fmt=fmt), opened_at=0.0)
    for second in range(1, 21):
        events = monitor.on_chunk(float(second), line.encode() + b"\r\n")
        readings = [e for e in events if isinstance(e, Reading)]
        _check(LineResult(tuple(Decoded(r.channel, r.celsius, r.fault) for r in readings)), expected)
    assert monitor.suspect == 0


@pytest.mark.parametrize(("chan", "line", "expected"), TC4, ids=[f"CHAN;{c}:{line}" for c, line, _ in TC4])
def test_tc4_replies_follow_chan(chan: str, line: str, expected: list[tuple[str, float | None, str | None]]) -> None:
    _check(make_line_decoder("tc4", chan=chan).decode(line), expected)


def test_tc4_reply_shorter_than_chan_says_so() -> None:
    result = make_line_decoder("tc4", chan="1234").decode("22.81,107.25,98.50")
    assert not result.readable and "CHAN;1234" in (result.unreadable or "")


@pytest.mark.parametrize(("line", "fmt", "expected"), AUTO, ids=[line[:40] for line, _, _ in AUTO])
def test_auto_recognises_each_format(line: str, fmt: str, expected: list[tuple[str, float | None, str | None]]) -> None:
    result = make_line_decoder("auto").decode(line)
    _check(result, expected)
    assert result.fmt == fmt


@pytest.mark.parametrize(("fmt", "line"), UNREADABLE, ids=[f"{f}:{line[:30]}" for f, line in UNREADABLE])
def test_malformed_lines_are_unreadable_not_readings(fmt: str, line: str) -> None:
    result = make_line_decoder(fmt).decode(line)
    assert not result.readable
    assert result.values == ()


@pytest.mark.parametrize("line", ["MAX31855 test", "Requesting temperatures...DONE", "hello world", ""])
def test_auto_leaves_banners_unreadable(line: str) -> None:
    assert not make_line_decoder("auto").decode(line).readable


def test_unit_option_says_what_a_bare_number_means() -> None:
    assert make_line_decoder("number", unit="F").decode("225.05").values[0].celsius == pytest.approx(F225_05)
    # A unit written in the line wins over unit=.
    assert make_line_decoder("number", unit="F").decode("107.25 C").values[0].celsius == pytest.approx(107.25)
    assert make_line_decoder("csv", unit="F").decode("212,32").values[1].celsius == pytest.approx(0.0)


def test_both_lines_of_the_max6675_example_agree() -> None:
    decoder = make_line_decoder("auto")
    c = decoder.decode("C = 107.25").values[0]
    f = decoder.decode("F = 225.05").values[0]
    assert c.channel == f.channel == ""
    assert c.celsius == pytest.approx(f.celsius or 0.0)


@pytest.mark.parametrize(
    ("label", "channel", "unit"),
    [
        ("C", "", "C"),
        ("F", "", "F"),
        ("°F", "", "F"),
        ("Temp", "", None),
        ("Temperature", "", None),
        ("temp_f", "", "F"),
        ("tempF", "", "F"),
        ("Temp (C)", "", "C"),
        ("Temperature °F", "", "F"),
        ("Internal Temp", "Internal", None),
        ("T1", "T1", None),
        ("calc", "calc", None),  # ends in c, but is no unit
        ("pot_c", "pot", "C"),
    ],
)
def test_channel_names(label: str, channel: str, unit: str | None) -> None:
    assert channel_name(label) == (channel, unit)


class TestChannelSelection:
    def test_keyvalue_by_key(self) -> None:
        result = make_line_decoder("keyvalue", channel="t2").decode("T1=107.25,T2=98.5")
        assert [(d.channel, d.celsius) for d in result.values] == [("t2", 98.5)]

    def test_csv_by_column_number_and_header(self) -> None:
        decoder = make_line_decoder("csv", channel="2")
        assert decoder.decode("107.25,98.5").values == (Decoded("2", 98.5),)
        named = make_line_decoder("csv", channel="pot")
        assert named.decode("oven,pot").readable  # the header
        assert named.decode("180,107.25").values == (Decoded("pot", 107.25),)

    def test_csv_header_names_channels_until_the_shape_changes(self) -> None:
        decoder = make_line_decoder("csv")
        assert decoder.decode("time,pot_f").values == ()
        assert [d.channel for d in decoder.decode("12,225.05").values] == ["time", "pot"]
        assert decoder.decode("12,225.05").values[1].celsius == pytest.approx(F225_05)
        assert [d.channel for d in decoder.decode("1,2,3").values] == ["1", "2", "3"]

    def test_json_dotted_path(self) -> None:
        decoder = make_line_decoder("json", channel="probes.1.t")
        assert decoder.decode('{"probes": [{"t": 1}, {"t": 107.2}]}').values == (Decoded("probes.1.t", 107.2),)
        assert decoder.decode('{"probes": [{"t": 1}, {"t": null}]}').values[0].celsius is None

    def test_json_missing_field_is_unreadable_not_a_fault(self) -> None:
        # Sketches that print several kinds of JSON lines would otherwise
        # flap between fault and restored; 30 s of it is a fault (driver).
        result = make_line_decoder("json", channel="t").decode('{"status": "boot"}')
        assert not result.readable
        assert "no field 't'" in (result.unreadable or "")

    def test_main_channel_by_name(self) -> None:
        # The MAX31855 example also prints its cold junction; keep the thermocouple.
        decoder = make_line_decoder("unit", channel="main")
        assert decoder.decode("C = 107.25").values == (Decoded("main", 107.25),)
        assert not decoder.decode("Internal Temp = 24.12").readable
        assert decoder.decode("FAULT: Thermocouple is open - no connections.").values[0].channel == "main"

    def test_tc4_channel(self) -> None:
        result = make_line_decoder("tc4", channel="2").decode("23.5,107.25,98.5,0,0")
        assert result.values == (Decoded("2", 98.5),)

    def test_a_line_without_the_channel_says_which_it_has(self) -> None:
        result = make_line_decoder("auto", channel="T3").decode("T1=107.25,T2=98.5")
        assert "no channel 'T3'" in (result.unreadable or "")
        assert "'T1'" in (result.unreadable or "")

    def test_device_wide_fault_reaches_the_selected_channel(self) -> None:
        result = make_line_decoder("unit", channel="0").decode("Error: Could not read temperature data")
        assert result.device_wide
        assert result.values[0].channel == "0" and result.values[0].celsius is None


def test_tc4_counts_channels_from_chan_not_from_fields() -> None:
    # CHAN;1230: three channels on. The heater/fan fields that follow must not
    # be read as channel 3 and 4 and vice versa.
    decoder = make_line_decoder("tc4", chan="1230")
    result = decoder.decode("23.5,107.25,98.5,60.0,35,100")
    assert [d.channel for d in result.values] == ["ambient", "1", "2", "3"]
    assert result.values[3].celsius == 60.0
    assert not make_line_decoder("tc4", chan="1234").decode("23.5,107.25,98.5").readable


def test_tc4_acks_are_protocol_lines() -> None:
    for ack in ("#", "# Active channels set to 1200", "# Changed units to C"):
        result = make_line_decoder("tc4").decode(ack)
        assert result.readable and result.values == ()


# ---------------------------------------------------------------------------
# framing and text


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"107.25\n"], [b"107.25"]),
        ([b"107.25\r\n98.5\r\n"], [b"107.25", b"98.5"]),
        ([b"107.25\r98.5\r"], [b"107.25", b"98.5"]),  # lone \r (old Mac-style sketches)
        ([b"107.25\r", b"\n98.5\n"], [b"107.25", b"98.5"]),  # \r\n split across reads
        ([b"10", b"7.2", b"5\n"], [b"107.25"]),  # readline-style half lines are joined
        ([b"\n\n107.25\n"], [b"", b"", b"107.25"]),  # empty lines reach the decoder, which drops them
        ([b"a\rb\nc\r\nd"], [b"a", b"b", b"c"]),
    ],
)
def test_splitter_line_ends(chunks: list[bytes], lines: list[bytes]) -> None:
    splitter = LineSplitter()
    got = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert got == lines


def test_splitter_drops_a_runaway_line_and_its_tail() -> None:
    splitter = LineSplitter()
    got = splitter.feed(b"1" * 65536)
    got += splitter.feed(b"111")  # the tail must not become the reading "111"
    got += splitter.feed(b"\n107.25\n")
    assert got == [b"107.25"]
    assert splitter.overlong == 1
    assert len(splitter._buf) == 0


def test_splitter_drops_a_long_line_within_one_chunk() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"2" * (MAX_LINE_BYTES + 1) + b"\n107.25\n") == [b"107.25"]


def test_unsynced_splitter_drops_the_cut_off_first_line() -> None:
    splitter = LineSplitter(synced=False)
    assert splitter.feed(b"7.25\n107.25\n") == [b"107.25"]  # "7.25" was the tail of "107.25"
    assert splitter.partial == 1


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"107.25", "107.25"),
        (b"  107.25 \t", "107.25"),
        ("225.05 °F".encode(), "225.05 °F"),
        (b"225.05 \xb0F", "225.05 °F"),  # Latin-1 degree sign from Serial.print((char)176)
    ],
)
def test_text(raw: bytes, text: str) -> None:
    assert to_text(raw) == text


@pytest.mark.parametrize("raw", [b"\xff\xfe107.25", b"\xc3(", b"107\x0025", b"\x1b[2J107.25", b"\x80\xf8\x00\xf8"])
def test_bad_bytes_are_unreadable(raw: bytes) -> None:
    result = to_text(raw)
    assert isinstance(result, LineResult) and not result.readable
    text, decoded = decode_line(make_line_decoder("auto"), raw)
    assert not decoded.readable and text.isprintable()


# ---------------------------------------------------------------------------
# fuzzing: nothing raises, nothing impossible comes out


def _plausible(result: LineResult) -> None:
    for d in result.values:
        if d.celsius is None:
            assert d.fault
        else:
            assert d.fault is None
            assert math.isfinite(d.celsius)
            assert PLAUSIBLE_MIN_C <= d.celsius <= PLAUSIBLE_MAX_C
            assert d.celsius not in SENTINELS_C


_ALPHABET = st.sampled_from([*"0123456789.-+eE ,;:=&|\t{}[]\"'°ºCFcfTnaNinfovErr#_*()\r\n\x00\xff", "null"])
_LINEISH = st.lists(_ALPHABET, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(fmt=st.sampled_from(LINE_FORMATS), text=st.one_of(st.text(max_size=200), _LINEISH))
def test_decoders_never_raise_nor_return_the_impossible(fmt: str, text: str) -> None:
    _plausible(make_line_decoder(fmt).decode(text))


@settings(max_examples=300, deadline=None)
@given(
    fmt=st.sampled_from(LINE_FORMATS),
    unit=st.sampled_from(["C", "F"]),
    channel=st.one_of(st.none(), st.sampled_from(["", "1", "T1", "t", "ambient", "a.0.b"])),
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30)),
)
def test_any_number_in_any_format_is_a_plausible_value_or_a_fault(
    fmt: str, unit: str, channel: str | None, value: float
) -> None:
    decoder = make_line_decoder(fmt, "F" if unit == "F" else "C", channel)
    for line in (
        f"{value}",
        f"T1={value}",
        f"{value},{value}",
        f'{{"t": {value}}}',
        f"23,{value},{value},0,0",
    ):
        _plausible(decoder.decode(line))


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8), fmt=st.sampled_from(LINE_FORMATS))
def test_any_bytes_through_the_splitter(chunks: list[bytes], fmt: str) -> None:
    splitter = LineSplitter(synced=False)
    decoder = make_line_decoder(fmt)
    for chunk in chunks:
        for line in splitter.feed(chunk):
            assert len(line) <= MAX_LINE_BYTES
            assert b"\n" not in line and b"\r" not in line
            text, result = decode_line(decoder, line)
            assert text.isprintable()
            _plausible(result)
    assert len(splitter._buf) <= MAX_LINE_BYTES

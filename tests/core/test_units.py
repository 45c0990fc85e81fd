from __future__ import annotations

import pytest

from service.core.units import format_duration, parse_duration, parse_temperature, parse_temperature_delta


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("225F", 107.222), ("107.2C", 107.2), ("225 °F", 107.222), ("-18c", -18.0), (" 212 F ", 100.0)],
)
def test_temperatures(text: str, celsius: float) -> None:
    assert parse_temperature(text) == pytest.approx(celsius, abs=1e-3)


@pytest.mark.parametrize("text", ["225", "", "225K", "hot", "F225", "1e3F"])
def test_bad_temperatures_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="with its unit"):
        parse_temperature(text)


def test_delta_has_no_offset() -> None:
    assert parse_temperature_delta("9F") == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15),
        ("90min", 5400),
        ("2h", 7200),
        ("1.5 m", 90),
        ("15 sec", 15),
        ("2hr", 7200),
        # what probe URLs took before there was one grammar
        ("500ms", 0.5),
        ("1h30min", 5400),
        ("1h 30min", 5400),
        ("90 minutes", 5400),
        ("2 hours", 7200),
        ("3 seconds", 3),
        ("15S", 15),
        (".5s", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
    assert parse_duration(text, bare_seconds=True) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["15", "soon", "-5s", "5 days", "", "1h30", "h", "5 s s", "1e999s", "1_000s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [("1", 1.0), (" 0.5 ", 0.5), ("15", 15.0), ("1e3", 1000.0)])
def test_a_bare_number_is_seconds_only_where_asked(text: str, seconds: float) -> None:
    assert parse_duration(text, bare_seconds=True) == seconds
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1e999", "soon"])
def test_bare_seconds_still_refuses_what_is_no_duration(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text, bare_seconds=True)


def test_format_duration() -> None:
    assert format_duration(90) == "1 min 30 s"
    assert format_duration(45.4) == "45 s"
    assert format_duration(7500) == "2 h 5 min"

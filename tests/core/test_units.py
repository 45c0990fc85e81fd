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


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15), ("90min", 5400), ("2h", 7200), ("1.5 m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15", "soon", "-5s", "5 days"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(90) == "1 min 30 s"
    assert format_duration(45.4) == "45 s"
    assert format_duration(7500) == "2 h 5 min"

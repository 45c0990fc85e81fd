"""The config file explains its own mistakes: one line per problem, with the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import config_problems, main
from service.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(text)
    return path


def test_example_config_holds_every_option_and_is_valid() -> None:
    config = load_config(ROOT / "config" / "example.toml")
    assert config.mqtt is not None and config.cook is not None
    assert config.mqtt.keepalive == 10  # the default, written out
    assert [p.id for p in config.probes] == ["pot", "oven"]
    assert config.probes[0].stale_after == 15.0
    assert config.probes[0].boil == pytest.approx(100.0)
    assert config.pressure is not None and config.pressure.stale_after == 6 * 3600.0
    # the example is copied as a live config: its altitude and lag must change nothing
    assert config.altitude == 0.0 and config.probes[1].altitude == 0.0
    assert config.probes[0].lag == 0.0
    _, problems = config_problems(ROOT / "config" / "example.toml")
    assert problems == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[probes]]\nid = "pot"\nurl = "sim://"\nstale_after = 15\n',
            "probes[0].stale_after: a bare number",
        ),
        (
            '[[probes]]\nid = "pot"\nurl = "sim://"\nboil = "212"\n',
            'probes[0].boil: \'212\' has no unit: write "212F" or "212C"',
        ),
        ("[server]\nprot = 80\n", "server.prot: unknown key"),
        ('[[probes]]\nid = "pot"\nurl = "http://x"\n', "probes[0].url: unknown probe scheme"),
        ('[[probes]]\nid = "pot"\n', "probes[0].url: required key is missing"),
        ('[cook]\nprofile = "rillons"\nprobe = "pot"\n', "cook.probe: 'pot' names no [[probes]] entry"),
        ("[server]\nport = 70000\n", "server.port: Input should be less than or equal to 65535"),
        ("[server\n", "not valid TOML"),
        ('[pressure]\nurl = "http://pi/baro"\n', "pressure.url: a barometer is read over MQTT"),
        ('[pressure]\nurl = "mqtt://pi/kitchen/baro?unit=psi"\n', "pressure.url: unit='psi': unknown pressure unit"),
        (
            '[pressure]\nurl = "mqtt://pi/tele/+/SENSOR"\n',
            "pressure.url: topic 'tele/+/SENSOR': a barometer is one topic",
        ),
        ('[pressure]\nurl = "mqtt://pi/x?format=bmp280"\n', "pressure.url: format='bmp280' is not one of"),
        ('[pressure]\nurl = "mqtt://pi/x"\nstale_after = "soon"\n', "pressure.stale_after:"),
        ('[pressure]\nurl = "mqtt://pi/x"\nseapressure = true\n', "pressure.seapressure: unknown key"),
        ('[mqtt]\nurl = "mqtt://pi"\nkeepalive = "1s"\n', "mqtt.keepalive: the MQTT keepalive is whole seconds from 2"),
        ('[mqtt]\nurl = "mqtt://pi"\nkeepalive = "2.5s"\n', "mqtt.keepalive: the MQTT keepalive is whole seconds"),
        ('[mqtt]\nurl = "mqtt://pi"\nkeepalive = 10\n', "mqtt.keepalive: a bare number"),
        ("[pressure]\n", "pressure.url: required key is missing"),
        ("altitude = 5000\n", "altitude: a bare number is ambiguous"),
        ('[mqtt]\nurl = "mqtt://pi"\ninstance = "Kitchen 2"\n', "mqtt.instance: expected a short name"),
        ('[mqtt]\nurl = "mqtt://pi"\nunit = "K"\n', 'mqtt.unit: unit is "F" or "C"'),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    _, problems = config_problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: ")
    assert expected in problems[0]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = "x"\nfoo = 1\n[[probes]]\nid = "a b"\nurl = "sim://"\n')
    _, problems = config_problems(path)
    assert len(problems) == 3
    assert any("server.port" in p for p in problems)
    assert any("server.foo: unknown key" in p for p in problems)
    assert any("probes[0].id" in p for p in problems)


def test_unknown_profile_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '[[probes]]\nid = "pot"\nurl = "sim://"\n[cook]\nprofile = "toffee"\nprobe = "pot"\n')
    _, problems = config_problems(path)
    assert problems == [f"{path}: cook.profile: no profile 'toffee' (known: boil, candy, caramel, rillons)"]


def test_check_config_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(ROOT / "config" / "example.toml")]) == 0
    bad = write(tmp_path, "[server]\nport = 0\n")
    assert main(["check-config", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "server.port" in out and "Traceback" not in out
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().out


def test_the_starter_config_is_valid_and_starts_no_cook(capsys: pytest.CaptureFixture[str]) -> None:
    """config/potwatch.toml is what an install copies: one probe, nothing cooking, no MQTT."""
    starter = ROOT / "config" / "potwatch.toml"
    assert main(["check-config", str(starter)]) == 0
    assert capsys.readouterr().out.strip() == f"{starter}: ok"
    config = load_config(starter)
    assert config.cook is None and config.mqtt is None
    assert [p.id for p in config.probes] == ["pot"]
    assert "# [mqtt]" in starter.read_text()  # there to uncomment, not on


@pytest.mark.parametrize(
    ("mqtt", "base_topic", "device"),
    [
        ("", "potwatch", "potwatch"),  # SPEC's default, unchanged
        ('instance = "kitchen"\n', "potwatch/kitchen", "potwatch kitchen"),
        ('instance = "kitchen"\nbase_topic = "home/pot"\n', "home/pot", "potwatch kitchen"),
        ('base_topic = "home/pot"\n', "home/pot", "potwatch"),
    ],
)
def test_an_instance_names_the_device_and_the_default_base_topic(
    tmp_path: Path, mqtt: str, base_topic: str, device: str
) -> None:
    config = load_config(write(tmp_path, f'[mqtt]\nurl = "mqtt://pi"\n{mqtt}'))
    assert config.mqtt is not None
    assert (config.mqtt.base_topic, config.mqtt.device_name) == (base_topic, device)


def test_an_instance_on_the_default_base_topic_is_refused_saying_what_to_change(tmp_path: Path) -> None:
    """It would share every topic and the discovery node with the potwatch that has no instance."""
    path = write(tmp_path, '[mqtt]\nurl = "mqtt://pi"\nbase_topic = "potwatch"\ninstance = "kitchen"\n')
    _, problems = config_problems(path)
    assert len(problems) == 1
    assert 'remove base_topic (it becomes "potwatch/kitchen")' in problems[0]

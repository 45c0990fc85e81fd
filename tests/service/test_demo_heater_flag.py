"""``potwatch demo --heater``: what the flag accepts, the config it builds, and the one line for what it refuses.

The whole loop on a real broker is tests/e2e/test_demo_heater.py; these are
the words and the wiring, in process: a bad URL, a broker that is not there
and a speed too fast for the heater each end the demo with one ``potwatch:``
line and exit 2, before anything starts, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from drivers.heater import parse_heater_url
from drivers.simulated import plug_from_query
from service.cli import main
from service.config_check import config_problems
from service.demo_heater import DEMO_TOPIC, DemoHeaterError, demo_plug_url, with_heater
from service.resources import demo_config
from tests.support.net import free_port


def demo_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``potwatch demo ARGS`` in process; it must refuse with exit 2 and say one line."""
    assert main(["demo", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("potwatch: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("192.168.1.10:1883", "give the MQTT broker's address, e.g. mqtt://127.0.0.1:1883"),
        ("http://192.168.1.10", "give the MQTT broker's address"),
        ("mqtt://", "give the MQTT broker's address"),
        ("mqtt://127.0.0.1:99999", "bad port"),
        ("mqtt://127.0.0.1:1883/a/b", "give the Tasmota Topic alone"),
        ("mqtt://[::1", "Invalid IPv6 URL; give the MQTT broker's address"),
        ("mqtt://127.0.0.1:port", "bad port"),
        ("mqtt://127.0.0.1:1883?kind=shelly", "unknown option 'kind' (the plug is always Tasmota)"),
        ("mqtt://127.0.0.1:1883?cafile=/x", "cafile= only applies to mqtts://"),
    ],
)
def test_a_bad_heater_url_is_one_line_naming_what_was_typed(
    capsys: pytest.CaptureFixture[str], given: str, says: str
) -> None:
    line = demo_line(capsys, "--heater", given)
    assert f"--heater {given!r}" in line and says in line, line


def test_a_bad_topics_example_is_one_the_flag_takes(capsys: pytest.CaptureFixture[str]) -> None:
    """The heater URL parser's example carries ?kind=, which the flag refuses: the demo gives its own."""
    line = demo_line(capsys, "--heater", "mqtt://127.0.0.1:1883/a/b")
    assert "kind=" not in line and "e.g. mqtt://127.0.0.1:1883/my_plug" in line, line


def test_a_cafile_that_is_not_there_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = demo_line(capsys, "--heater", f"mqtts://127.0.0.1:{free_port()}?cafile={tmp_path / 'nope.pem'}")
    assert "FileNotFoundError" in line, line


def test_a_password_in_a_bad_heater_url_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    line = demo_line(capsys, "--heater", "mqtt://cook:hunter2@127.0.0.1:99999")
    assert "hunter2" not in line and "cook:***@" in line, line


def test_a_broker_that_is_not_there_is_one_line_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens on it
    line = demo_line(capsys, "--heater", f"mqtt://127.0.0.1:{port}", "--port", str(free_port()))
    assert line == (
        f"potwatch: --heater mqtt://127.0.0.1:{port}: connection to 127.0.0.1:{port} refused "
        "(is the broker running, on this port?)"
    )


def test_a_speed_too_fast_to_hold_the_braise_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = demo_line(capsys, "--speed", "3000", "--heater", "mqtt://127.0.0.1:1883")
    assert "--speed 1000 or less" in line and "every 60 s" in line, line


def test_the_plug_url_is_a_tasmota_heater_url_with_the_demos_topic_unless_one_is_given() -> None:
    assert demo_plug_url("mqtt://127.0.0.1:1883") == f"mqtt://127.0.0.1:1883/{DEMO_TOPIC}?kind=tasmota"
    assert demo_plug_url("mqtt://10.0.0.2/") == f"mqtt://10.0.0.2/{DEMO_TOPIC}?kind=tasmota"
    assert demo_plug_url("mqtt://h:1884/other_plug") == "mqtt://h:1884/other_plug?kind=tasmota"
    tls = parse_heater_url(demo_plug_url("mqtts://u:p%26q@h/t?cafile=/etc/ca.pem"))
    assert (tls.link.tls, tls.link.port, tls.link.cafile, tls.link.password) == (True, 8883, "/etc/ca.pem", "p&q")
    with pytest.raises(DemoHeaterError):
        demo_plug_url("gpio://17")


def test_the_pot_carries_the_plug_the_heater_drives_and_the_timers_last_real_time() -> None:
    config, problems = config_problems(demo_config())
    assert config is not None and not problems, problems
    speed = 600.0
    probe = config.probes[0]
    config = config.model_copy(update={"probes": [probe.model_copy(update={"url": f"{probe.url}&speed=600"})]})
    plug_url = demo_plug_url("mqtts://cook:p%26q@broker.lan:8884/demo_plug?cafile=/etc/ca.pem")
    heated = with_heater(config, plug_url, speed)

    [pot] = heated.probes
    query = dict(parse_qsl(urlsplit(pot.url).query))
    assert query["kind"] == "rillons" and query["braise"] == "135min" and query["speed"] == "600", query
    plug, _ = plug_from_query(query)  # what the simulated pot reads: the same broker, login and topic
    assert plug is not None and plug == parse_heater_url(plug_url)
    assert plug.link.password == "p&q" and plug.target == "demo_plug"

    [heater] = heated.heaters
    assert (heater.id, heater.url, heater.probe) == ("hob", plug_url, pot.id)
    assert heater.deadman == 600.0 and heater.mismatch_grace == 300.0 and heater.stale_after == 300.0
    defaults = with_heater(config, plug_url, 20.0).heaters[0]
    assert (defaults.deadman, defaults.mismatch_grace, defaults.stale_after) == (60.0, 10.0, 15.0)
    assert (defaults.min_on, defaults.min_off, defaults.hold_law) == (30.0, 30.0, "hysteresis")

"""check-config judges probe URLs by the drivers' own rules, so ExecStartPre catches what run would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers import ProbeUrlError, open_probe
from service import cli
from service.cli import main

GOOD_FIRST = 'id = "oven"\nurl = "sim://"\n'

BAD = [
    ("serial:///dev/ttyUSB0?baud=abc", "baud='abc' is not a baud rate"),
    ("serial:///dev/ttyUSB0?format=maxx", "format='maxx' is not one of"),
    ("serial:///dev/ttyUSB0?unit=K", "unit='K' must be C or F"),
    ("serial:///dev/ttyUSB0?bauds=9600", "unknown option 'bauds'"),
    ("serial://ttyUSB0", "after three slashes"),
    ("mqtt://host", "the topic is missing"),
    ("sim://?kind=caramell", "kind='caramell': must be one of"),
    ("w1://xyz", "'xyz' is not a 1-Wire temperature sensor id"),
]

GOOD = [
    "serial:///dev/ttyUSB0?baud=9600&format=auto&unit=C",
    # one slash names the same absolute path: the driver reads /dev/ttyUSB0, so it is no mistake
    "serial:/dev/ttyUSB0",
    "mqtt://127.0.0.1:1883/tele/kitchen/SENSOR?format=tasmota&channel=DS18B20-1",
    # (a sped-up sim:// beside this file's first probe would need two clocks: test_run_sim_speed.py)
    "sim://?kind=caramel&seed=3",
    "w1://28-0316a2791cff",
    "w1://",
]


def write(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(f'[[probes]]\n{GOOD_FIRST}\n[[probes]]\nid = "pot"\nurl = "{url}"\n')
    return path


@pytest.mark.parametrize(("url", "expected"), BAD)
def test_a_url_the_driver_refuses_fails_check_config_naming_the_probe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, expected: str
) -> None:
    path = write(tmp_path, url)
    assert main(["check-config", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: probes[1].url: ")
    assert expected in lines[0]
    assert "Traceback" not in lines[0] and "Value error" not in lines[0]


@pytest.mark.parametrize(("url", "expected"), BAD)
def test_run_refuses_the_same_urls_before_it_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    served: list[object] = []
    monkeypatch.setattr(cli, "_serve", lambda *args, **kwargs: served.append(args) or 0)
    path = write(tmp_path, url)
    assert main(["run", "--config", str(path), "--state-dir", str(tmp_path / "state")]) == 2
    assert served == []
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("url", GOOD)
def test_good_urls_stay_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    path = write(tmp_path, url)
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.strip() == f"{path}: ok"


@pytest.mark.parametrize("url", [u for u, _ in BAD] + GOOD)
def test_check_config_and_the_driver_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    try:
        open_probe("pot", url)
        driver_ok = True
    except ProbeUrlError:
        driver_ok = False
    assert (main(["check-config", str(write(tmp_path, url))]) == 0) == driver_ok

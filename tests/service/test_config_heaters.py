"""``[[heaters]]``: each mistake is one ``file: key.path: what is wrong`` line, and check-config exits 2 on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.api.guard import HEATER_OVERRIDE
from service.cli import main
from service.config import ConfigError, HeaterConfig, load_config
from service.core.heat.params import HoldLaw
from service.profiles import load_profile

PROBES = '[[probes]]\nid = "pot"\nurl = "sim://"\n\n[[probes]]\nid = "oven"\nurl = "sim://"\n'
PLUG = "mqtt://127.0.0.1:1883/kitchen_plug?kind=tasmota"


def write(tmp_path: Path, heater: str) -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(f"{PROBES}\n[[heaters]]\n{heater}\n")
    return path


def test_a_heater_takes_its_settings_with_units_into_the_controllers_params(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmin_on = "45s"\nmin_off = "0s"\nmax_on = "2h"\n'
        'deadman = "20s"\nmax_temperature = "212F"\ncarryover = "1.8F"\nlead = "18s"\nhold_law = "pid"\n'
        'cycle = "5min"\nstale_after = "5s"\nmismatch_grace = "3s"\n',
    )
    heater = load_config(path).heaters[0]
    params = heater.params()
    assert (params.min_on_s, params.min_off_s, params.max_on_s, params.deadman_s) == (45.0, 0.0, 7200.0, 20.0)
    assert params.max_c == pytest.approx(100.0)
    assert params.carryover_c == pytest.approx(1.0)
    assert (params.lead_s, params.cycle_s, params.stale_after_s, params.mismatch_grace_s) == (18.0, 300.0, 5.0, 3.0)
    assert params.hold_law is HoldLaw.PID


def test_the_defaults_are_the_controllers_own(tmp_path: Path) -> None:
    from service.core.heat.params import HeatParams

    heater = load_config(write(tmp_path, f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\n')).heaters[0]
    assert heater.params() == HeatParams()


BAD = [
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pan"\n', "heaters[0].probe", "'pan' names no [[probes]] entry (oven, pot)"),
    (
        'id = "hob"\nurl = "mqtt://127.0.0.1:1883/plug?kind=zigbee"\nprobe = "pot"\n',
        "heaters[0].url",
        "kind='zigbee' is not one of tasmota, shelly",
    ),
    ('id = "hob"\nurl = "mqtt://127.0.0.1:1883/plug"\nprobe = "pot"\n', "heaters[0].url", "?kind=tasmota or ?kind="),
    (
        'id = "hob"\nurl = "http://plug/cm?cmnd=Power"\nprobe = "pot"\n',
        "heaters[0].url",
        "expected mqtt, mqtts or gpio",
    ),
    ('id = "hob"\nurl = "mqtt://127.0.0.1:1883/a/b?kind=tasmota"\nprobe = "pot"\n', "heaters[0].url", "one level"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmin_on = "30"\n', "heaters[0].min_on", "has no unit"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmin_on = 30\n', "heaters[0].min_on", "a bare number"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\ndeadman = "0s"\n', "heaters[0].deadman", "longer than zero"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmax_on = "-5min"\n', "heaters[0].max_on", "cannot be negative"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmax_on = "20s"\n', "heaters[0]", "max_on (20.0) must be longer"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nmax_temperature = "250"\n', "heaters[0].max_temperature", "no unit"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\nhold_law = "pi"\n', "heaters[0].hold_law", "'hysteresis' or 'pid'"),
    (f'id = "hob"\nurl = "{PLUG}"\nprobe = "pot"\ndeadmen = "5s"\n', "heaters[0].deadmen", "did you mean 'deadman'"),
    (f'id = "hob plate"\nurl = "{PLUG}"\nprobe = "pot"\n', "heaters[0].id", "a heater id is 1 to 32"),
    (f'url = "{PLUG}"\nprobe = "pot"\n', "heaters[0].id", "required key is missing"),
]


@pytest.mark.parametrize(("heater", "key", "expected"), BAD)
def test_check_config_names_the_heaters_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], heater: str, key: str, expected: str
) -> None:
    path = write(tmp_path, heater)
    assert main(["check-config", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {key}: "), lines[0]
    assert expected in lines[0], lines[0]
    assert "Traceback" not in lines[0] and "Value error" not in lines[0]


IDS = [("hob", True), ("slow_cooker-2", True), ("a" * 32, True), ("", False), ("a" * 33, False)]
IDS += [("hob plate", False), ("hob/x", False), ("h\u00f3b", False), ("hob.1", False), ("hob\n", False)]


@pytest.mark.parametrize(("heater_id", "valid"), IDS)
def test_the_config_and_the_api_take_a_heater_id_by_one_rule(heater_id: str, valid: bool) -> None:
    """Pass: an id the config accepts is exactly one whose override path the guard knows as a heater's (so
    that "off" passes without the token for every heater there can be)."""
    try:
        HeaterConfig(id=heater_id, url=PLUG, probe="pot")
        accepted = True
    except ValidationError as exc:
        assert 'a heater id is 1 to 32 letters, digits, "-" or "_" (like "hob")' in str(exc), exc
        accepted = False
    assert accepted is valid
    assert (HEATER_OVERRIDE.fullmatch(f"/api/heaters/{heater_id}/override") is not None) is valid


def test_two_heaters_on_one_plug_or_with_one_id_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.toml"
    path.write_text(
        f'{PROBES}\n[[heaters]]\nid = "hob"\nurl = "{PLUG}"\nprobe = "pot"\n'
        f'\n[[heaters]]\nid = "hob2"\nurl = "{PLUG}"\nprobe = "oven"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: heaters[1].url: heaters[0] drives the same plug: two controllers would fight over one relay"
    ]
    path.write_text(
        f'{PROBES}\n[[heaters]]\nid = "hob"\nurl = "{PLUG}"\nprobe = "pot"\n'
        '\n[[heaters]]\nid = "hob"\nurl = "mqtt://127.0.0.1:1883/other?kind=tasmota"\nprobe = "oven"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: heaters[1].id: 'hob' is already the id of heaters[0]: each heater needs its own"
    ]


def test_a_profile_step_may_keep_its_hands_off_the_heat(tmp_path: Path) -> None:
    path = tmp_path / "jam.toml"
    path.write_text(
        'name = "jam"\n[[steps]]\nkind = "reach"\nname = "set"\ntarget = "220F"\n'
        '[[steps]]\nkind = "hold"\nname = "rest"\nlow = "150F"\nhigh = "170F"\nduration = "5min"\nheat = "off"\n'
    )
    profile = load_profile(path)
    assert [s.heat_off for s in profile.steps] == [False, True]
    path.write_text('name = "jam"\n[[steps]]\nkind = "boil"\nheat = "of"\n')
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert caught.value.problems == [f"{path}: steps[0].boil.heat: Input should be 'auto' or 'off'"]

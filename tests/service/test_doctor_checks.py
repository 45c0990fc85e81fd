"""The doctor's checks one by one: the alarm through a real push receiver, MQTT probes on a real broker,
and the rules that read systemd's files and answers (a unit with its drop-ins, ``timedatectl show``)."""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from service.doctor.clock import check_clock, parse_show
from service.doctor.user import installed_unit, read_unit
from tests.support.net import free_port
from tests.support.receiver import Receiver
from tests.support.service import POTWATCH

if TYPE_CHECKING:
    from tests.support.broker import Broker, Publisher

pytest_plugins = ["tests.support.broker"]
pytestmark = pytest.mark.real_part("mosquitto")


def doctor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POTWATCH, "doctor", "--config", str(config), "--wait", "2", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def config_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "potwatch.toml"
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    path.write_text(f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n[storage]\nstate_dir = "{state}"\n\n{body}')
    return path


def finding(done: subprocess.CompletedProcess[str], start: str) -> str:
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(start):
            after = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("      → ") else ""
            return f"{line}\n{after}".rstrip()
    raise AssertionError(f"no line starting {start!r} in:\n{done.stdout}\n{done.stderr}")


# ---- the alarm's self-test --------------------------------------------------------------


def test_the_alarm_self_test_reaches_a_push_receiver_and_a_refused_push_fails(tmp_path: Path) -> None:
    with Receiver() as receiver:
        hook = f"json://127.0.0.1:{receiver.port}/hook"
        path = config_file(tmp_path, f'[[probes]]\nid = "pot"\nurl = "sim://"\n[notify]\nurls = ["{hook}"]\n')
        done = doctor(path, "--alarm-test")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok    alarm push:json: accepted in" in finding(done, "ok    alarm push:json")
        assert "tested from here: no service is running" in finding(done, "info  alarm: ")
        assert receiver.wait_for(1).json()  # the test alarm itself arrived
        receiver.fail(10, 500)
        done = doctor(path, "--alarm-test")
    assert done.returncode == 1, done.stdout
    line = finding(done, "FAIL  alarm push:json")
    assert "→ check the URL and the network" in line


def test_no_test_alarm_is_sent_unless_asked(tmp_path: Path) -> None:
    """A doctor run mid-cook must not sound the buzzer and push to every phone."""
    with Receiver() as receiver:
        hook = f"json://127.0.0.1:{receiver.port}/hook"
        path = config_file(tmp_path, f'[[probes]]\nid = "pot"\nurl = "sim://"\n[notify]\nurls = ["{hook}"]\n')
        done = doctor(path)
        assert done.returncode == 0, done.stdout
        assert "self-test not sent (--alarm-test sends" in finding(done, "info  alarm: ")
        # doctor waits for each channel's answer before it prints: had it sent one, it would be here
        assert receiver.requests == []


def test_a_buzzer_and_a_voice_get_their_devices_judged(tmp_path: Path) -> None:
    """The GPIO chip and the sound card the channels open, for the service user; here, whatever this machine has."""
    path = config_file(tmp_path, '[[probes]]\nid = "pot"\nurl = "sim://"\n[alarm]\nbuzzer_pin = 17\nspeak = true\n')
    done = doctor(path)
    assert "Traceback" not in done.stdout + done.stderr
    chips = sorted(glob.glob("/dev/gpiochip*"))
    if chips:  # a Raspberry Pi: judged like a serial node (root may open anything)
        (line,) = [line for line in done.stdout.splitlines() if "  buzzer: " in line]
        assert ", ".join(chips) in line
    else:
        assert "no /dev/gpiochip* here" in finding(done, "warn  buzzer: ")
    cards = sorted(glob.glob("/dev/snd/pcmC*D*p") + glob.glob("/dev/snd/controlC*"))
    if not cards:
        assert "no sound card here (/dev/snd)" in finding(done, "info  voice: ")


# ---- MQTT probes ------------------------------------------------------------------------------


def test_mqtt_probes_live_retained_and_silent(tmp_path: Path, mosquitto: Broker, publisher: Publisher) -> None:
    publisher.publish("kitchen/old/temp", "80.5", retain=True)
    body = "".join(
        f'[[probes]]\nid = "{pid}"\nurl = "{mosquitto.url(topic, "format=number&unit=C")}"\n\n'
        for pid, topic in (("live", "kitchen/live/temp"), ("old", "kitchen/old/temp"), ("quiet", "kitchen/quiet/t"))
    )
    path = config_file(tmp_path, body)
    with mosquitto.publishing("kitchen/live/temp", "101.5", every=0.1):
        done = doctor(path)
    assert done.returncode == 0, done.stdout  # nothing failed: an old value and a silence are warnings
    assert "214.7 °F (101.5 °C) on kitchen/live/temp: '101.5'" in finding(done, "ok    probe live: ")
    old = finding(done, "warn  probe old: ")
    assert "only a retained (old) value on kitchen/old/temp" in old and "176.9 °F (80.5 °C)" in old
    quiet = finding(done, "warn  probe quiet: ")
    assert "connected, but no message on kitchen/quiet/t in 2 s" in quiet
    assert f"mosquitto_sub -h {mosquitto.host} -p {mosquitto.port} -v -t 'kitchen/quiet/t'" in quiet


def test_home_assistant_not_seen_is_information_not_failure(tmp_path: Path, mosquitto: Broker) -> None:
    path = config_file(
        tmp_path, f'[[probes]]\nid = "pot"\nurl = "sim://"\n[mqtt]\nurl = "mqtt://{mosquitto.host}:{mosquitto.port}"\n'
    )
    done = doctor(path)
    assert done.returncode == 0, done.stdout
    assert "homeassistant/status not seen in 2 s" in finding(done, "info  home assistant: ")


# ---- systemd's files and answers ----------------------------------------------------------------


def test_a_unit_and_its_drop_ins_say_who_the_service_runs_as(tmp_path: Path) -> None:
    unit = tmp_path / "potwatch.service"
    unit.write_text(
        "[Unit]\nDescription=x\nUser=nobody\n[Service]\nUser=potwatch\nSupplementaryGroups=dialout\n"
        "StateDirectory=potwatch potwatch/extra\n# User=root\n"
    )
    drop_ins = tmp_path / "potwatch.service.d"
    drop_ins.mkdir()
    (drop_ins / "10-groups.conf").write_text("[Service]\nSupplementaryGroups=\nSupplementaryGroups=gpio audio\n")
    (drop_ins / "20-user.conf").write_text("[Service]\nUser=kitchen\n")
    read = read_unit(unit)
    assert (read.user, read.groups, read.state_directory) == ("kitchen", ("gpio", "audio"), "potwatch")
    assert installed_unit([tmp_path / "none", tmp_path]) == read
    assert installed_unit([tmp_path / "none"]) is None


def _answer(code: int, out: str = "", err: str = "") -> Any:
    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def _missing(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    raise FileNotFoundError("timedatectl")


SHOW_SYNCED = "Timezone=Europe/Paris\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=yes\nTimeUSec=Tue 2026-12-01\n"


@pytest.mark.parametrize(
    ("run", "status", "words"),
    [
        (_answer(0, SHOW_SYNCED), "ok", "synchronised"),
        (_answer(0, SHOW_SYNCED.replace("NTPSynchronized=yes", "NTPSynchronized=no")), "warn", "not synchronised yet"),
        (
            _answer(0, SHOW_SYNCED.replace("NTP=yes", "NTP=no").replace("NTPSynchronized=yes", "NTPSynchronized=no")),
            "warn",
            "network time is off",
        ),
        (_answer(1, err="System has not been booted with systemd as init system (PID 1).\n"), "info", "unknown"),
        (_missing, "info", "unknown: timedatectl is not installed"),
    ],
)
def test_timedatectl_answers_and_its_absence(run: Any, status: str, words: str) -> None:
    (found,) = check_clock(run, now=1_790_000_000.0)
    assert found.status == status and words in found.detail
    assert found.status != "FAIL"  # an unknown clock is never a failure


def test_a_clock_in_1970_fails_whatever_timedatectl_says() -> None:
    found = check_clock(_answer(0, SHOW_SYNCED), now=0.0)
    assert [f.status for f in found] == ["ok", "FAIL"]
    assert "1970-01-01" in found[1].detail


def test_this_machines_timedatectl_is_read_for_real() -> None:
    """Whatever this machine is (a Pi, a container without systemd), the real command gives a verdict."""
    (found, *_) = check_clock()
    assert found.check == "clock" and found.status in ("ok", "warn", "info")
    assert parse_show("NTP=yes\nbad line\nA=b=c\n") == {"NTP": "yes", "A": "b=c"}

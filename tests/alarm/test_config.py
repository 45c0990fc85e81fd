"""``[alarm]`` and ``[notify]``: the defaults, and one plain line per mistake from ``potwatch check-config``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import load_config

PROBE = '[[probes]]\nid = "pot"\nurl = "sim://"\n\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(PROBE + text)
    return path


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )


def test_the_defaults_are_the_issues() -> None:
    alarm = load_config(Path(__file__).resolve().parents[2] / "config" / "potwatch.toml").alarm
    assert alarm.buzzer_pin is None and not alarm.speak and alarm.sound is None and alarm.audio_device is None
    assert alarm.unit == "F"
    assert (alarm.push_every, alarm.voice_every, alarm.escalate_after) == (15.0, 30.0, 60.0)
    assert alarm.escalate_to == ["buzzer", "voice"]
    assert alarm.routes.info == ["page"]
    assert alarm.routes.warning == ["page", "mqtt", "push"]
    assert alarm.routes.critical == ["page", "mqtt", "push", "buzzer", "voice"]
    assert alarm.route_notes() == []  # the defaults need no note


def test_a_full_alarm_section_reads_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[alarm]\nbuzzer_pin = 17\nspeak = true\nsound = "/usr/share/sounds/alsa/Front_Center.wav"\n'
        'audio_device = "plughw:1,0"\nunit = "c"\npush_every = "20s"\nvoice_every = "45s"\n'
        'escalate_after = "2min"\nescalate_to = ["buzzer"]\n\n[alarm.routes]\ninfo = []\n'
        'warning = ["page", "mqtt", "push", "voice"]\n',
    )
    config = load_config(path)
    alarm = config.alarm
    assert alarm.buzzer_pin == 17 and alarm.speak and alarm.voice
    assert alarm.unit == "C" and alarm.push_every == 20.0 and alarm.voice_every == 45.0
    assert alarm.escalate_after == 120.0 and alarm.escalate_to == ["buzzer"]
    assert alarm.routes.warning == ["page", "mqtt", "push", "voice"]
    assert config.alarm_channels
    done = check_config(path)
    assert done.returncode == 0, done.stdout + done.stderr
    # page and MQTT carry every alert: a route without them is accepted, and told it changes nothing
    assert "note: alarm.routes.info: page carries every alert whatever the route says" in done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[alarm]\nbuzzer_pin = 1\n", "alarm.buzzer_pin: buzzer_pin is a BCM GPIO number from 2 to 27"),
        ("[alarm]\nbuzzer_pin = 28\n", "alarm.buzzer_pin: buzzer_pin is a BCM GPIO number from 2 to 27"),
        ("[alarm]\nbuzzer_pin = true\n", "alarm.buzzer_pin: buzzer_pin is a BCM GPIO number from 2 to 27"),
        ('[alarm]\nbuzzer_pin = "17"\n', "alarm.buzzer_pin: buzzer_pin is a BCM GPIO number from 2 to 27"),
        ('[alarm]\nspeak = "yes"\n', "alarm.speak: Input should be a valid boolean"),
        ('[alarm]\nsound = "beep.mp3"\n', "alarm.sound: sound is a WAV file (ending in .wav)"),
        ('[alarm]\nsound = "beep.wav"\n', "alarm.sound: sound needs an absolute path"),
        ('[alarm]\nunit = "K"\n', 'alarm.unit: unit is "F" or "C", not \'K\''),
        ("[alarm]\npush_every = 15\n", "alarm.push_every: a bare number is ambiguous"),
        ('[alarm]\npush_every = "2s"\n', "alarm.push_every: at least 5 s between two repeats"),
        ('[alarm]\nescalate_after = "0s"\n', "alarm.escalate_after: a duration must be longer than zero"),
        ('[alarm]\nescalate_to = ["siren"]\n', "alarm.escalate_to: 'siren' is not an alarm channel"),
        ("[alarm]\nspeek = true\n", "alarm.speek: unknown key — did you mean 'speak'?"),
        (
            '[alarm.routes]\nwarning = ["page", "psuh"]\n',
            "alarm.routes.warning: 'psuh' is not an alarm channel (page, mqtt, push, buzzer, voice)"
            " — did you mean 'push'?",
        ),
        ('[alarm.routes]\nurgent = ["push"]\n', "alarm.routes.urgent: unknown key"),
        (
            '[alarm.routes]\ncritical = "push"\n',
            "alarm.routes.critical: expected an array, like [\"push\"], got the string 'push'",
        ),
        ('[notify]\nurls = [""]\n', 'notify.urls[0]: an Apprise URL, like "ntfy://ntfy.sh/my-kitchen"'),
        (
            '[notify]\nurls = ["tgram://123456789:AAHsecretTOKEN/ 12345"]\n',  # never echoed: a token
            'notify.urls[0]: an Apprise URL, like "ntfy://ntfy.sh/my-kitchen": this one holds a space',
        ),
        ('[notify]\nurls = ["json://a/b", "json://a/b"]\n', "notify.urls: urls[1] is urls[0] again"),
    ],
)
def test_a_mistake_is_one_line_with_its_key_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    done = check_config(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}: {expected}" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "AAHsecretTOKEN" not in done.stdout + done.stderr
    assert len(done.stdout.strip().splitlines()) == 1


def test_each_notify_url_is_judged_by_the_push_channels_rules_and_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[notify]\nurls = ["json://127.0.0.1:8080/hook", "nosuchservice://x"]\n')
    done = check_config(path)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith(f"{path}: notify.urls[1]: ")

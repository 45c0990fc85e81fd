"""``potwatch check-config`` on a table of broken files: each gets exit 2 and one line naming its key (or line).

What tests/service/test_config.py, test_cli_words.py, test_config_probe_urls.py
and tests/alarm/test_config.py already cover is not repeated here; these are
the slips that used to pass unnoticed, or got a vague line: "(top level)" for
a key that has a name, pydantic's wording for a TOML shape, "no unit" for a
value that has one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from service.cli import main
from tests.support.service import POTWATCH

PROBE = '[[probes]]\nid = "pot"\nurl = "sim://"\n'

# (the file, the line check-config prints after "<file>: ")
BROKEN = [
    # TOML syntax: the line and column, and the line itself
    (
        "[server\nport = 1\n",
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8): [server",
    ),
    (
        'name = "unterminated\n',
        "not valid TOML: Illegal character '\\n' (at line 1, column 21): name = \"unterminated",
    ),
    ('a = "x"\na = "y"\n', 'not valid TOML: Cannot overwrite a value (at line 2, column 8): a = "y" — given twice?'),
    (
        "[server]\nport = 1\n[server]\n",
        "not valid TOML: Cannot declare ('server',) twice (at line 3, column 8): [server]",
    ),
    # unknown keys, with a did-you-mean
    (PROBE + "lable = 'Pot'\n", "probes[0].lable: unknown key — did you mean 'label'?"),
    ("[storage]\nretention_dayz = 30\n", "storage.retention_dayz: unknown key — did you mean 'retention_days'?"),
    ("[alarm]\nbuzzer_pn = 17\n", "alarm.buzzer_pn: unknown key — did you mean 'buzzer_pin'?"),
    # a number in quotes is still without its unit
    (PROBE + 'boil = "225"\n', 'probes[0].boil: \'225\' has no unit: write "225F" or "225C"'),
    (PROBE + 'stale_after = "15"\n', 'probes[0].stale_after: \'15\' has no unit: write "15s" or "15min"'),
    (PROBE + 'lag = "15"\n', 'probes[0].lag: \'15\' has no unit: write "15s" or "15min"'),
    # negative durations: they have a unit, and are still wrong
    (PROBE + 'stale_after = "-5s"\n', "probes[0].stale_after: a duration cannot be negative, got '-5s'"),
    (PROBE + 'lag = "-1s"\n', "probes[0].lag: a duration cannot be negative, got '-1s'"),
    ('[alarm]\nescalate_after = "-1min"\n', "alarm.escalate_after: a duration cannot be negative, got '-1min'"),
    # a boil that is no boil (a candy target in the wrong key)
    (PROBE + 'boil = "300F"\n', "probes[0].boil: where this probe says water boils is between 167F and 230F"),
    # cross-checks named at their key, not "(top level)"
    (PROBE + '[cook]\nprofile = "caramel"\nprobe = "pan"\n', "cook.probe: 'pan' names no [[probes]] entry (pot)"),
    (PROBE + PROBE, "probes[1].id: 'pot' is already the id of probes[0]: each probe needs its own"),
    (
        '[server]\ntls = "self-sign"\n',
        'server.tls: tls must be "", "self-signed" or "files", got \'self-sign\' — did you mean \'self-signed\'?',
    ),
    (
        '[server]\ntls = "files"\ntls_cert = "/etc/ssl/pot.pem"\n',
        'server.tls_key: tls = "files" needs tls_cert and tls_key',
    ),
    # probe URLs (the drivers' own rules; more in test_config_probe_urls.py)
    (
        '[[probes]]\nid = "pot"\nurl = "serial:///dev/ttyUSB0?baud=9600&baud=19200"\n',
        "probes[0].url: option 'baud' given twice",
    ),
    (
        '[[probes]]\nid = "pot"\nurl = "mqtt://pi:abc/tele/x/SENSOR"\n',
        "probes[0].url: bad port in 'mqtt://pi:abc/tele/x/SENSOR'",
    ),
    ('[[probes]]\nid = "pot"\nurl = "ftp://pi/x"\n', "probes[0].url: unknown probe scheme 'ftp'"),
    # the broker's URL: it used to pass with any port, no host, a path or a typo in an option
    (
        '[mqtt]\nurl = "http://pi:1883"\n',
        "mqtt.url: expected mqtt://host:port or mqtts://host:port, got 'http://pi:1883'",
    ),
    ('[mqtt]\nurl = "mqtt://pi:99999"\n', "mqtt.url: the port in 'mqtt://pi:99999' is not a number from 1 to 65535"),
    ('[mqtt]\nurl = "mqtt://pi:0"\n', "mqtt.url: the port in 'mqtt://pi:0' is not a number from 1 to 65535"),
    ('[mqtt]\nurl = "mqtt://"\n', "mqtt.url: no broker in 'mqtt://': write its address, like mqtt://192.168.1.5:1883"),
    (
        '[mqtt]\nurl = "mqtt://pi/kitchen"\n',
        "mqtt.url: 'mqtt://pi/kitchen' has a path ('/kitchen'), which this URL does not use",
    ),
    (
        '[mqtt]\nurl = "mqtt://pi?cafle=/etc/ca.pem"\n',
        "mqtt.url: unknown option 'cafle' in 'mqtt://pi?cafle=/etc/ca.pem' (known: cafile) — did you mean 'cafile'?",
    ),
    ('[mqtt]\nurl = "mqtt://pot:s3cret@pi:70000"\n', "mqtt.url: the port in 'mqtt://pot:***@pi:70000'"),
    (
        '[mqtt]\nurl = "mqtt://pi"\nbase_topic = "kitchen/+/pot"\n',
        "mqtt.base_topic: 'kitchen/+/pot': + and # are wildcards",
    ),
    (
        '[mqtt]\nurl = "mqtt://pi"\ndiscovery_prefix = "homeassistant/"\n',
        "mqtt.discovery_prefix: 'homeassistant/': no / at its start or end",
    ),
    # certificates the service opens at start: missing, they stopped it within a second, again and again
    (
        '[mqtt]\nurl = "mqtts://pi?cafile=/etc/potwatch/no-ca.pem"\n',
        "mqtt.url: cafile: /etc/potwatch/no-ca.pem: no such file",
    ),
    (
        '[server]\ntls = "files"\ntls_cert = "/home/pi/pot.pem"\ntls_key = "/etc/hostname"\n',
        "server.tls_cert: /home/pi/pot.pem: no such file (the systemd unit hides /home, /root and /run/user",
    ),
    (
        '[server]\ntls = "files"\ntls_cert = "pot.pem"\ntls_key = "/etc/hostname"\n',
        "server.tls_cert: 'pot.pem': give an absolute path",
    ),
    # the shape of a table, in TOML's words
    ('[probes]\nid = "pot"\nurl = "sim://"\n', "probes: [probes] is one table; write [[probes]] above each entry"),
    ("[[server]]\nport = 8000\n", "server: [[server]] makes a list of tables; write [server] (one table)"),
    ('probes = ["sim://"]\n', "probes[0]: expected a [[probes]] table, got the string 'sim://'"),
    ("server = 8000\n", "server: expected a table ([server] and its keys below it), got the number 8000"),
    ('profile_dirs = "recipes"\n', "profile_dirs: expected an array, like [\"recipes\"], got the string 'recipes'"),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_each_broken_file_is_one_line_naming_its_key_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert main(["check-config", str(path)]) == 2
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {expected}"), lines[0]
    for vague in ("(top level)", "Value error", "Traceback", "ServerConfig", "s3cret", "Input should be a valid"):
        assert vague not in out.out + out.err


def test_the_real_command_says_the_same(tmp_path: Path) -> None:
    """The entry point a Pi owner (and ExecStartPre) runs: the same line, exit 2, nothing on stderr."""
    path = write(tmp_path, PROBE + PROBE)
    done = subprocess.run([*POTWATCH, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == f"{path}: probes[1].id: 'pot' is already the id of probes[0]: each probe needs its own\n"
    assert done.stderr == ""


@pytest.mark.parametrize(
    "text",
    [
        '[mqtt]\nurl = "mqtt://pot:s3cret@192.168.1.5:1883"\n',
        '[mqtt]\nurl = "mqtts://pi?cafile=/etc/ssl/certs/ca-certificates.crt"\n',
        '[mqtt]\nurl = "mqtt://[::1]:1883/"\n',
        PROBE + 'boil = "202.9F"\nstale_after = "90s"\nlag = "0s"\n',
    ],
)
def test_what_is_right_stays_right(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = write(tmp_path, text)
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().out

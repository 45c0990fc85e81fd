"""``potwatch alarm-test``: the real entry point, its exit codes and its JSON.

It asks the running service first (its pins and its speaker stay the
service's) and tests the channels itself only when nothing answers, saying
which it did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port
from tests.support.service import ServiceProcess, serving, sse


def alarm_test(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "service.cli", "alarm-test", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def config_file(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "potwatch.toml"
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n\n[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        f'[[probes]]\nid = "pot"\nurl = "sim://?kind=caramel"\n\n{extra}'
    )
    return path


def test_a_bad_config_exits_2_with_its_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, free_port(), "[alarm]\nbuzzer_pin = 99\n")
    done = alarm_test(path)
    assert done.returncode == 2
    assert f"{path}: alarm.buzzer_pin: buzzer_pin is a BCM GPIO number from 2 to 27" in done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_no_service_and_no_channel_exits_1_saying_so(tmp_path: Path) -> None:
    path = config_file(tmp_path, free_port())
    done = alarm_test(path)
    assert done.returncode == 1
    assert "no service answers at http://127.0.0.1:" in done.stderr
    assert "configures no alarm channel" in done.stderr and "Traceback" not in done.stderr


def test_a_service_without_alarm_channels_says_so_and_exits_1(tmp_path: Path) -> None:
    port = free_port()
    path = config_file(tmp_path, port)
    with serving(ServiceProcess(["run", "--config", str(path)], tmp_path / "service.log", port)):
        done = alarm_test(path)
    assert done.returncode == 1, done.stderr
    assert "runs without alarm channels" in done.stderr


def test_the_service_answers_for_its_buzzer_and_without_it_the_command_tests_it_itself(tmp_path: Path) -> None:
    """A real buzzer channel on gpiozero's mock pins, in the service and then in the command."""
    port = free_port()
    path = config_file(tmp_path, port, "[alarm]\nbuzzer_pin = 17\n")
    mock = {"GPIOZERO_PIN_FACTORY": "mock"}
    service = ServiceProcess(["run", "--config", str(path)], tmp_path / "service.log", port, env=mock)
    with serving(service), sse(service.base + "/api/events") as phone:
        phone.attached()
        done = alarm_test(path, mock)
        assert done.returncode == 0, done.stdout + done.stderr
        answer = json.loads(done.stdout)
        assert answer["via"] == "service" and answer["ok"] is True
        kinds = {e["kind"]: e for e in answer["channels"]}
        assert set(kinds) == {"buzzer", "page"}
        assert kinds["buzzer"]["ok"] and kinds["buzzer"]["latency_ms"] < 500
        assert "asked the running service" in done.stderr
        health = service.get("/healthz")["alarm"]["channels"]
        assert next(iter(health.values()))["sent"] == 1
    done = alarm_test(path, mock)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert answer["via"] == "local" and [e["kind"] for e in answer["channels"]] == ["buzzer"]
    assert "testing the channels of" in done.stderr

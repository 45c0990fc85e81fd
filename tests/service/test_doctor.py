"""``potwatch doctor`` as a user runs it: a real subprocess, a real Mosquitto, a pty playing the probe.

Each test builds the machine's situation for real (a broker up or a port with
nothing behind it, a device that prints lines, a path with no device, a state
directory the service user cannot write) and reads what the command says, and
its exit code: 0 nothing failed, 1 a check failed, 2 the config cannot be used.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.net import free_port
from tests.support.parts import require_binary
from tests.support.pty_device import PtyDevice, Streamer
from tests.support.service import POTWATCH, ServiceProcess, serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker, Publisher

# The broker fixtures (mosquitto, publisher) live in tests/support/broker.py.
pytest_plugins = ["tests.support.broker"]
pytestmark = [pytest.mark.real_part("mosquitto"), pytest.mark.real_part("pty")]

WAIT = "3"  # seconds doctor reads the probes; a probe that answers ends it sooner


def doctor(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*POTWATCH, "doctor", "--config", str(config), "--wait", WAIT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
    )


def lines_of(done: subprocess.CompletedProcess[str], start: str) -> list[str]:
    """The lines that begin a finding with ``start`` ("ok    probe pot"), each with its fix line if any."""
    lines = done.stdout.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith(start):
            fix = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("      → ") else ""
            found.append(f"{line}\n{fix}".rstrip())
    return found


def config_file(tmp_path: Path, body: str, state: Path | None = None) -> Path:
    state = state or tmp_path / "state"
    path = tmp_path / "potwatch.toml"
    path.write_text(f'[server]\nhost = "127.0.0.1"\nport = {free_port()}\n\n[storage]\nstate_dir = "{state}"\n\n{body}')
    return path


def serial_probe(device: PtyDevice, probe_id: str = "pot", query: str = "baud=9600&format=auto") -> str:
    return f'[[probes]]\nid = "{probe_id}"\nurl = "serial://{device.path}?{query}"\n\n'


def assert_no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_all_well_a_pty_probe_read_with_its_format_guessed_and_the_broker_and_home_assistant_seen(
    tmp_path: Path, mosquitto: Broker, publisher: Publisher
) -> None:
    publisher.publish("homeassistant/status", "online", retain=True)
    (tmp_path / "state").mkdir()
    with PtyDevice() as device, Streamer(device, b"Temperature: 22.50 C\r\n", period=0.1):
        path = config_file(
            tmp_path,
            serial_probe(device) + f'[mqtt]\nurl = "mqtt://{mosquitto.host}:{mosquitto.port}"\n',
        )
        started = time.monotonic()
        done = doctor(path)
        took = time.monotonic() - started
    assert_no_traceback(done)
    assert done.returncode == 0, done.stdout
    (probe,) = lines_of(done, "ok    probe pot: ")
    assert "72.5 °F (22.5 °C) from the line 'Temperature: 22.50 C'" in probe
    assert "format=unit (guessed by format=auto: add format=unit to the URL to pin it)" in probe
    assert lines_of(done, f"ok    mqtt: broker mqtt://{mosquitto.host}:{mosquitto.port} reached")
    assert lines_of(done, "ok    home assistant: homeassistant/status is 'online' (retained)")
    assert lines_of(done, "ok    state dir: ")
    assert done.stdout.rstrip().endswith("(exit 0)")
    # the probe answered at once: doctor did not sit out its window for it (nor for the broker)
    assert took < float(WAIT) + 3.0, took
    # connected as the service would, but it published nothing: no will, no retained availability
    from tests.support.broker import retained_now

    assert retained_now(mosquitto, "potwatch/#") == {}


def test_no_broker_listening_fails_the_mqtt_check_with_what_to_do(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    path = config_file(tmp_path, f'[[probes]]\nid = "pot"\nurl = "sim://"\n\n[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\n')
    done = doctor(path)
    assert_no_traceback(done)
    assert done.returncode == 1, done.stdout
    (line,) = lines_of(done, "FAIL  mqtt: ")
    assert f"connection to 127.0.0.1:{port} refused" in line
    assert "→ start the broker (sudo systemctl status mosquitto), or fix the host:port in [mqtt] url" in line
    assert lines_of(done, "ok    probe pot: sim://")  # the other checks still ran
    assert not lines_of(done, "ok    home assistant")


def test_a_probe_path_with_no_device_fails_with_advice(tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB9"
    path = config_file(tmp_path, f'[[probes]]\nid = "pot"\nurl = "serial://{missing}?baud=9600"\n')
    done = doctor(path)
    assert_no_traceback(done)
    assert done.returncode == 1, done.stdout
    (line,) = lines_of(done, "FAIL  probe pot: ")
    assert f"{missing} does not exist" in line
    assert "→ plug the probe in, or put the path of the one plugged in into probes[0].url" in line


def test_a_silent_device_fails_with_the_drivers_words(tmp_path: Path) -> None:
    with PtyDevice() as device:
        path = config_file(tmp_path, serial_probe(device))
        done = doctor(path)
    assert done.returncode == 1, done.stdout
    (line,) = lines_of(done, "FAIL  probe pot: ")
    assert "no reading in 3 s" in line and "is the baud right?" in line


def test_the_service_user_outside_the_devices_group_and_a_state_dir_it_cannot_write(tmp_path: Path) -> None:
    """Judged for another user (``--user nobody``): the commands that fix it name that user and the group."""
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    with PtyDevice() as device, Streamer(device, b"22.50\r\n", period=0.1):
        os.chmod(device.path, 0o660)  # as a USB adapter's node: read and write for its owner and group
        with contextlib.suppress(KeyError, PermissionError):
            os.chown(device.path, -1, grp.getgrnam("dialout").gr_gid)  # and its group, where we may
        group = grp.getgrgid(os.stat(device.path).st_gid).gr_name
        path = config_file(tmp_path, serial_probe(device), state)
        done = doctor(path, "--user", "nobody")
    assert_no_traceback(done)
    assert done.returncode == 1, done.stdout
    assert lines_of(done, "info  user: judging for nobody (named with --user)")
    (node,) = lines_of(done, f"FAIL  device {device.path}: ")
    if group == "root":  # nobody is told to join root: a udev rule gives the node a group to join
        assert "nobody may not open it, and its group is root's" in node and 'GROUP="dialout"' in node
    else:
        assert f"nobody is not in group {group!r}" in node
        assert f"→ sudo usermod -aG {group} nobody, then restart the service" in node
    (line,) = lines_of(done, "FAIL  state dir: ")
    assert f"{state} ([storage] state_dir) (drwxr-xr-x" in line and "nobody cannot write to it" in line
    assert f"→ sudo chown -R nobody: {state}" in line


def test_a_state_dir_on_a_read_only_file_system_fails_saying_so(tmp_path: Path) -> None:
    """A card the kernel remounted read-only, for real: a read-only tmpfs in a mount namespace of doctor's own.

    ``unshare -rm`` (a user and a mount namespace) needs no privilege on Debian; the mount is gone with the
    process. Inside, doctor runs as the namespace's root, so only the file system can refuse the write.
    """
    unshare = require_binary("unshare", "util-linux")
    state = tmp_path / "state"
    state.mkdir()
    path = config_file(tmp_path, '[[probes]]\nid = "pot"\nurl = "sim://"\n', state)
    command = " ".join([*POTWATCH, "doctor", "--config", str(path), "--wait", WAIT])
    done = subprocess.run(
        [unshare, "-rm", "sh", "-c", f"mount -t tmpfs -o ro,size=1m tmpfs {state} && exec {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert_no_traceback(done)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = lines_of(done, "FAIL  state dir: ")
    assert "the file system is read-only" in line and "→ dmesg | grep -i -e remount" in line


def test_a_missing_state_dir_is_a_warning_when_it_can_be_made_and_a_failure_when_not(tmp_path: Path) -> None:
    with_room = config_file(tmp_path, '[[probes]]\nid = "pot"\nurl = "sim://"\n', tmp_path / "new" / "state")
    done = doctor(with_room)
    assert done.returncode == 0, done.stdout
    (line,) = lines_of(done, "warn  state dir: ")
    assert "does not exist yet" in line and "potwatch run makes it" in line
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    nowhere = config_file(tmp_path, '[[probes]]\nid = "pot"\nurl = "sim://"\n', locked / "state")
    done = doctor(nowhere, "--user", "nobody")
    assert done.returncode == 1, done.stdout
    (line,) = lines_of(done, "FAIL  state dir: ")
    assert f"nobody cannot make it in {locked}" in line
    assert f"→ sudo mkdir -p {locked / 'state'} && sudo chown nobody: {locked / 'state'}" in line


def test_a_broken_config_is_reported_as_check_config_does_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.toml"
    path.write_text('[[probes]]\nid = "pot"\nurl = "sim://"\nstale_after = 15\n[server]\nprot = 80\n')
    check = subprocess.run([*POTWATCH, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    done = doctor(path, "--state-dir", str(tmp_path / "state"))
    assert_no_traceback(done)
    assert done.returncode == 2 == check.returncode
    assert lines_of(done, f"FAIL  config: {path} cannot be used (2 problems)")
    for problem in check.stdout.splitlines():  # the same lines, word for word
        assert f"        {problem}" in done.stdout.splitlines()
    # what needs no config still ran
    assert lines_of(done, "info  clock: ") or lines_of(done, "ok    clock: ") or lines_of(done, "warn  clock: ")
    assert lines_of(done, "info  probes: not read: the config cannot be used")
    missing = doctor(tmp_path / "nothing.toml")
    assert missing.returncode == 2
    assert "no such file" in missing.stdout and "copy the starter" in missing.stdout


def test_json_says_the_same_for_machines(tmp_path: Path) -> None:
    path = config_file(tmp_path, f'[[probes]]\nid = "pot"\nurl = "serial://{tmp_path / "none"}"\n')
    done = doctor(path, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["exit"] == 1 and report["config"] == str(path)
    probe = next(f for f in report["findings"] if f["check"] == "probe pot")
    assert probe["status"] == "FAIL" and "does not exist" in probe["detail"] and "plug the probe in" in probe["fix"]
    assert report["counts"]["FAIL"] == sum(f["status"] == "FAIL" for f in report["findings"])


def test_a_port_held_by_the_running_service_is_judged_by_what_the_service_reads(tmp_path: Path) -> None:
    with PtyDevice() as device, Streamer(device, b"22.50\r\n", period=0.2):
        path = config_file(tmp_path, serial_probe(device))
        port = int(path.read_text().split("port = ")[1].split("\n")[0])
        service = ServiceProcess(["run", "--config", str(path)], tmp_path / "service.log", port)
        with serving(service):
            wait_until(
                lambda: any(p["state"] == "ok" for p in service.get("/api/status")["probes"]),
                10,
                "the service to read the pty",
            )
            done = doctor(path)
    assert done.returncode == 0, done.stdout + service.log()
    (line,) = lines_of(done, "ok    probe pot: ")
    assert "in use by the running potwatch, which reads it: 72.5 °F (22.5 °C), state ok" in line


def test_the_probe_command_still_prints_what_a_pty_says(tmp_path: Path) -> None:
    """``potwatch probe`` shares the pump doctor uses: one JSON line per reading, until stopped."""
    with PtyDevice() as device, Streamer(device, b"22.50\r\n", period=0.1):
        proc = subprocess.Popen(
            [*POTWATCH, "probe", f"serial://{device.path}?format=number", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            reading = json.loads(proc.stdout.readline())
        finally:
            proc.terminate()
            proc.wait(10)
    assert reading["celsius"] == 22.5 and reading["raw"] == "22.50" and reading["live"] is True

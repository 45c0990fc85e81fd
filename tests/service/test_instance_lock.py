"""One ``potwatch run`` per state directory: a second one refuses, naming the PID that holds it.

Real processes on one state directory: the second is refused with exit 2 and
the first PID named, and the first goes on serving; a lock file left by a
process that died (killed with SIGKILL, or only its PID left in the file)
blocks nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from service.runtime.instance_lock import LOCK_FILE, AlreadyRunning, InstanceLock
from tests.support.net import free_port
from tests.support.service import POTWATCH, ServiceProcess, serving

ROOT = Path(__file__).resolve().parents[2]


def config_file(tmp_path: Path) -> Path:
    config = tmp_path / "potwatch.toml"
    config.write_text(f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n[[probes]]\nid = "pot"\nurl = "sim://"\n')
    return config


def service(tmp_path: Path, name: str) -> ServiceProcess:
    return ServiceProcess(["run", "--config", str(config_file(tmp_path))], tmp_path / f"{name}.log", free_port())


def run_second(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    port = str(free_port())  # another port: the lock, not the port, must be what stops it
    return subprocess.run(
        [*POTWATCH, "run", "--config", str(config_file(tmp_path)), "--host", "127.0.0.1", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_second_run_on_the_same_state_directory_is_refused_naming_the_first(tmp_path: Path) -> None:
    with serving(service(tmp_path, "first")) as first:
        assert first.proc is not None
        second = run_second(tmp_path)
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert f"another potwatch (PID {first.proc.pid}) is running on the state directory {tmp_path / 'state'}" in line
        assert "systemctl stop potwatch" in line
        assert "Traceback" not in second.stderr
        # refused before it touched anything: the first one still serves, its history untouched
        assert first.healthy()
        assert first.get("/api/status")["probes"][0]["id"] == "pot"
        assert (tmp_path / "state" / LOCK_FILE).read_text().strip() == str(first.proc.pid)


def test_a_lock_left_by_a_killed_service_blocks_nothing(tmp_path: Path) -> None:
    first = service(tmp_path, "first").start()
    assert first.proc is not None
    first.stop(signal.SIGKILL)  # no cleanup ran: the lock file stays, with its PID
    assert (tmp_path / "state" / LOCK_FILE).read_text().strip() == str(first.proc.pid)
    with serving(service(tmp_path, "second")) as second:
        assert second.proc is not None
        assert (tmp_path / "state" / LOCK_FILE).read_text().strip() == str(second.proc.pid)


def test_a_lock_file_naming_a_dead_process_blocks_nothing(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / LOCK_FILE).write_text(f"{dead_pid()}\n")
    with serving(service(tmp_path, "only")) as only:
        assert only.proc is not None
        assert (tmp_path / "state" / LOCK_FILE).read_text().strip() == str(only.proc.pid)


def test_the_lock_is_per_open_file_so_one_process_cannot_take_it_twice(tmp_path: Path) -> None:
    held = InstanceLock(tmp_path).acquire()
    try:
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(tmp_path).acquire()
        assert refused.value.pid == os.getpid()
    finally:
        held.release()
    InstanceLock(tmp_path).acquire().release()  # released: free again


def test_a_state_directory_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Under the unit's ProtectSystem=strict any state_dir but /var/lib/potwatch is read-only: say so, exit 2."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "potwatch.toml"
    config.write_text(f'[storage]\nstate_dir = "{blocker / "state"}"\n\n[[probes]]\nid = "pot"\nurl = "sim://"\n')
    done = subprocess.run([*POTWATCH, "run", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"cannot use the state directory {blocker / 'state'}" in done.stderr
    assert "leave [storage] state_dir empty" in done.stderr

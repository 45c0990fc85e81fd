"""No child outlives the test run or bench that started it (tests/support/tied_child.py).

A helper process, started here as a test run or a bench would be, starts a
child the way tests/support and bench/node_red.py do (a plain one, a real
Mosquitto through ``Broker``, a real ``potwatch run`` on a pty through
``ServiceProcess``), says its pid, and is SIGKILLed: the child must be gone
soon after. Whatever the outcome, the test kills what it left by its pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.parts import require_binary
from tests.support.tied_child import popen_tied
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 10.0

STARTS = {
    "plain": """
        from tests.support.tied_child import popen_tied
        child = popen_tied(["sleep", "300"])
        pid = child.pid
    """,
    "broker": """
        from tests.support.broker import Broker
        broker = Broker(sys.argv[2], workdir)
        broker.start()
        pid = broker.proc.pid
    """,
    "service": """
        from tests.support.pty_device import PtyDevice
        from tests.support.service import serial_service
        device = PtyDevice()
        service = serial_service(workdir, device.path, stale_after="5s").start()
        pid = service.proc.pid
    """,
}


def helper_source(start: str) -> str:
    """A process that starts a child as ``start`` says, prints its pid, and waits to be killed."""
    return "import sys, time\nfrom pathlib import Path\nworkdir = Path(sys.argv[1])\n" + (
        textwrap.dedent(start) + "print(pid, flush=True)\ntime.sleep(600)\n"
    )


def start_time(pid: int) -> str | None:
    """The process's start time (``/proc/PID/stat`` field 22), None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


@contextlib.contextmanager
def reaped(pid: int) -> Iterator[None]:
    """Kill ``pid`` after the block if it is still the process it was: nothing left behind, pass or fail."""
    started = start_time(pid)
    try:
        yield
    finally:
        if started is not None and start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("what", ["plain", "broker", "service"])
def test_a_child_is_gone_soon_after_its_parent_is_sigkilled(tmp_path: Path, what: str) -> None:
    mosquitto = require_binary("mosquitto", "mosquitto") if what == "broker" else ""
    helper = subprocess.Popen(
        [sys.executable, "-c", helper_source(STARTS[what]), str(tmp_path), mosquitto],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdout is not None
        line = helper.stdout.readline()  # the helper waits for its child to be up before it says
        assert line.strip().isdigit(), f"the helper said {line!r}, exit {helper.poll()}"
        child = int(line)
        with reaped(child):
            born = start_time(child)
            assert born is not None, "the child was not running when its parent said it was"
            helper.kill()
            helper.wait(5)
            wait_until(lambda: start_time(child) != born, GONE_WITHIN_S, f"the {what} child {child} to die")
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait(5)


def test_a_child_started_for_a_thread_that_ends_lives_on() -> None:
    """The death signal follows the thread that forked: started for a short-lived thread, it must not
    die with it. Once the thread is gone from /proc the signal would have been sent (the kernel sends
    it before it removes the thread), and a process sent SIGKILL runs no more code: an echo after
    that proves the child alive."""
    started: list[subprocess.Popen[bytes]] = []
    thread_ids: list[int] = []

    def start() -> None:
        thread_ids.append(threading.get_native_id())
        started.append(popen_tied(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE))

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(10)
    assert started, "the thread did not start the child"
    child = started[0]
    try:
        task = Path(f"/proc/self/task/{thread_ids[0]}")
        wait_until(lambda: not task.exists(), 10, "the short-lived thread to be gone")
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"still here\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"still here\n", f"the child died with the thread: {child.poll()}"
    finally:
        child.kill()
        child.wait(5)


SIGTERMED = """
import sys, time
from tests.support.tied_child import popen_tied, sigterm_raises, stop_group
with sigterm_raises():
    child = popen_tied(["sleep", "300"], start_new_session=True)
    try:
        print(child.pid, flush=True)
        time.sleep(600)
    finally:
        stop_group(child)
        print("cleaned up", child.returncode, flush=True)
"""


def test_a_sigterm_runs_the_cleanup_that_a_ctrl_c_runs() -> None:
    """Python's default for SIGTERM skips every ``finally``: within ``sigterm_raises`` they run."""
    helper = subprocess.Popen([sys.executable, "-c", SIGTERMED], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert helper.stdout is not None
        child = int(helper.stdout.readline())
        with reaped(child):
            helper.send_signal(signal.SIGTERM)
            rest, _ = helper.communicate(timeout=10)
            assert rest == f"cleaned up {-signal.SIGTERM}\n", rest
            assert helper.returncode == 128 + signal.SIGTERM
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait(5)

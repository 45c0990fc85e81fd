"""A hung event loop → the service answering again, with systemd's part played as systemd plays it.

    .venv/bin/python -m bench.watchdog_restart [--runs 7] [--sim-speed 1]

The unit's own numbers are read from systemd/potwatch.service (``WatchdogSec=``,
``RestartSec=``, ``TimeoutStopSec=``, which ``TimeoutAbortSec=`` defaults to).
Each run then does what systemd does with a ``Type=notify`` unit:

1. runs ``ExecStartPre=`` (``potwatch check-config``), then ``potwatch run`` with
   ``NOTIFY_SOCKET`` (a datagram socket bound here), ``WATCHDOG_USEC`` and
   ``WATCHDOG_PID`` set, and waits for ``READY=1``;
2. hangs the service's event loop through the test-only hook
   (``POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S``) at a moment drawn at random over two
   ping periods, so the hang falls anywhere between two pings; the clock starts
   when the service says it blocks;
3. arms the watchdog at READY=1 and re-arms it at each ``WATCHDOG=1``; when
   ``WatchdogSec`` passes without one, sends SIGABRT to the whole process group
   (the unit's control group), then SIGKILL if it is still there after
   ``TimeoutAbortSec``;
4. waits ``RestartSec``, runs ``ExecStartPre=`` and starts ``potwatch run`` again
   (without the hook), on the same state directory, so the cook is restored
   from history as on a Pi;
5. stops the clock at the first ``GET /healthz`` answered with 200.

What it leaves out: systemd's own scheduling (microseconds) and a Pi's slower
start (measure on the Pi with this same command for its figures).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import pct  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.notify_socket import NotifySocket  # noqa: E402

UNIT = ROOT / "systemd" / "potwatch.service"
POTWATCH = [sys.executable, "-m", "service.cli"]
HANGS = "blocking the event loop"


def unit_seconds(name: str, default: float) -> float:
    """A ``Name=10s`` / ``Name=10`` / ``Name=1min`` setting of the unit, in seconds."""
    found = re.search(rf"^{name}=(\d+(?:\.\d+)?)(ms|s|min)?$", UNIT.read_text(), re.MULTILINE)
    if found is None:
        return default
    return float(found[1]) * {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[found[2]]


@dataclass
class Run:
    detected_s: float  # hang → SIGABRT (WatchdogSec minus the time since the last ping)
    died_s: float  # SIGABRT → the process gone
    restarted_s: float  # gone → READY=1 of the next (RestartSec, check-config, the start)
    answering_s: float  # hang → GET /healthz answered again
    killed: bool  # SIGKILL was needed after the abort timeout


class Manager:
    """systemd's share: the notify socket, the watchdog timer, the kill and the restart."""

    def __init__(self, folder: Path, speed: float) -> None:
        self.folder = folder
        self.config = folder / "potwatch.toml"
        url = "sim://?kind=caramel" + (f"&speed={speed:g}" if speed != 1 else "")
        self.config.write_text(
            f'[storage]\nstate_dir = "{folder / "state"}"\n\n'
            f'[[probes]]\nid = "pot"\nurl = "{url}"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
        )
        self.port = free_port()
        self.notify = NotifySocket()
        self.watchdog_s = unit_seconds("WatchdogSec", 10.0)
        self.restart_s = unit_seconds("RestartSec", 0.1)
        self.abort_s = unit_seconds("TimeoutAbortSec", unit_seconds("TimeoutStopSec", 90.0))
        self.log = folder / "service.log"
        self.proc: subprocess.Popen[bytes] | None = None  # the one running now, killed if the bench fails

    def check_config(self) -> None:
        subprocess.run([*POTWATCH, "check-config", str(self.config)], check=True, capture_output=True, cwd=ROOT)

    def start(self, hang_after_s: float | None) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.notify.env(self.watchdog_s)}
        for name in ("POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S", "POTWATCH_DEBUG_BLOCK_LOOP_FOR_S", "JOURNAL_STREAM"):
            env.pop(name, None)
        if hang_after_s is not None:
            env["POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S"] = f"{hang_after_s:.3f}"
        # WATCHDOG_PID is the main PID: exec keeps the shell's
        main_pid = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"']
        listen = ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*main_pid, *POTWATCH, "run", "--config", str(self.config), *listen],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        return self.proc

    def ready_after(self, since: float, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.notify.received("READY", since)
            if got:
                return got[0].at
            if proc.poll() is not None:
                raise SystemExit(f"potwatch exited with {proc.returncode} before READY=1:\n{self.tail()}")
            time.sleep(0.002)
        raise SystemExit(f"no READY=1 within {timeout} s:\n{self.tail()}")

    def answers(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def one(self, hang_after_s: float) -> Run:
        log_before = self.log.stat().st_size if self.log.exists() else 0
        self.check_config()
        started = time.monotonic()
        proc = self.start(hang_after_s)
        last_alive = self.ready_after(started, proc)  # the watchdog is armed at READY=1
        while HANGS.encode() not in self.log.read_bytes()[log_before:]:
            if time.monotonic() - last_alive > 30:
                raise SystemExit(f"the debug hang never started:\n{self.tail()}")
            time.sleep(0.002)
        hung = time.monotonic()
        # the watchdog timer: re-armed by every ping, fires WatchdogSec after the last
        while True:
            pings = self.notify.received("WATCHDOG", last_alive)
            if pings:
                last_alive = pings[-1].at
            if time.monotonic() >= last_alive + self.watchdog_s:
                break
            time.sleep(0.002)
        aborted = time.monotonic()
        os.killpg(proc.pid, signal.SIGABRT)
        killed = False
        try:
            proc.wait(self.abort_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
        gone = time.monotonic()
        time.sleep(self.restart_s)
        self.check_config()
        again = time.monotonic()
        proc = self.start(None)
        ready = self.ready_after(again, proc)
        while not self.answers():
            if proc.poll() is not None:
                raise SystemExit(f"the restarted potwatch exited with {proc.returncode}:\n{self.tail()}")
            time.sleep(0.002)
        answering = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        return Run(aborted - hung, gone - aborted, ready - gone, answering - hung, killed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=16, help="where in the ping period each hang falls")
    parser.add_argument("--sim-speed", type=float, default=1.0, help="the simulated pot's speed (default: real time)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="potwatch-watchdog-") as folder:
        manager = Manager(Path(folder), args.sim_speed)
        interval = manager.watchdog_s / 2
        draw = random.Random(args.seed)
        print(
            f"unit: WatchdogSec={manager.watchdog_s:g}s RestartSec={manager.restart_s:g}s "
            f"TimeoutAbortSec={manager.abort_s:g}s; each loop hangs {interval:g}-{3 * interval:g} s after READY=1",
            file=sys.stderr,
        )
        runs: list[Run] = []
        try:
            for i in range(args.runs):
                run = manager.one(draw.uniform(interval, 3 * interval))
                runs.append(run)
                print(
                    f"run {i + 1}: hang → SIGABRT {run.detected_s:5.2f} s, → exited {run.died_s:5.2f} s, "
                    f"→ READY=1 {run.restarted_s:5.2f} s; hang → answering {run.answering_s:5.2f} s"
                    + (" (SIGKILL needed)" if run.killed else ""),
                    file=sys.stderr,
                )
        finally:
            if manager.proc is not None and manager.proc.poll() is None:
                os.killpg(manager.proc.pid, signal.SIGKILL)  # a failed run leaves no service behind
                manager.proc.wait()
            manager.notify.close()
    for name, values in (
        ("hang → SIGABRT", [r.detected_s for r in runs]),
        ("SIGABRT → exited", [r.died_s for r in runs]),
        ("exited → READY=1 (RestartSec + check-config + start)", [r.restarted_s for r in runs]),
        ("hang → answering again", [r.answering_s for r in runs]),
    ):
        print(f"{name}: median {statistics.median(values):.2f} s, max {max(values):.2f} s (n={len(values)})")
    with contextlib.suppress(ValueError):
        print(f"p90 hang → answering: {pct([r.answering_s for r in runs], 0.9):.2f} s")


if __name__ == "__main__":
    main()

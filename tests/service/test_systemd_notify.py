"""``potwatch run`` under a service manager: READY=1, the watchdog, the status line, STOPPING=1.

The test plays systemd's part with a real ``AF_UNIX`` datagram socket and a
real ``potwatch run`` on a simulated pot, and hangs the service's event loop
through the debug hook to see the pings stop while the loop is blocked — the
case a thread that pinged on its own would hide.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import time
from pathlib import Path

import httpx

from tests.support.net import free_port
from tests.support.notify_socket import NotifySocket
from tests.support.service import POTWATCH, ServiceProcess
from tests.support.waiting import wait_until

WATCHDOG_S = 2.0  # pings every second: a loop late by up to a second under load still keeps it
HANG_AFTER_S = 4.5
HANG_FOR_S = 5.0
# systemd sets WATCHDOG_PID to the service's own PID: exec keeps the shell's
AS_MAIN_PID = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', *POTWATCH]


def caramel(tmp_path: Path, env: dict[str, str], command: list[str] | None = None) -> ServiceProcess:
    config = tmp_path / "potwatch.toml"
    config.write_text(
        f'[storage]\nstate_dir = "{tmp_path / "state"}"\n\n'
        '[[probes]]\nid = "pot"\nurl = "sim://?kind=caramel"\n\n[cook]\nprofile = "caramel"\nprobe = "pot"\n'
    )
    service = ServiceProcess(["run", "--config", str(config)], tmp_path / "service.log", free_port(), env=env)
    if command is not None:
        service.command = command
    return service


def answers(service: ServiceProcess, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(service.base + "/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def gaps(times: list[float]) -> list[tuple[float, float]]:
    """(start, length) of each silence between two consecutive pings."""
    return [(a, b - a) for a, b in itertools.pairwise(times)]


def test_ready_once_answering_then_pings_that_stop_while_the_loop_hangs(tmp_path: Path) -> None:
    with NotifySocket() as manager:
        env = {
            **manager.env(WATCHDOG_S),
            "POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S": str(HANG_AFTER_S),
            "POTWATCH_DEBUG_BLOCK_LOOP_FOR_S": str(HANG_FOR_S),
        }
        service = caramel(tmp_path, env, AS_MAIN_PID).start(wait=False)
        try:
            ready = manager.first("READY", 30.0)
            # told ready: the API answers now, not after a retry
            assert answers(service, timeout=2.0), service.log()
            assert ready.fields["READY"] == "1"
            # the status line comes with it, in the page's words and °F
            assert re.fullmatch(r"caramel: heating, \d+\.\d °F, on the way to 225 °F", ready.fields["STATUS"])

            # the hang: the loop is blocked, so the page does not answer and no ping comes
            wait_until(lambda: "blocking the event loop" in service.log(), 15.0, "the debug hang to start")
            hung_at = time.monotonic()
            assert not answers(service, timeout=1.0)
            wait_until(lambda: answers(service), 15.0, lambda: f"the service to answer after the hang\n{service.log()}")
            resumed_at = time.monotonic()
            wait_until(lambda: manager.received("WATCHDOG", since=resumed_at + 0.1), 10.0, "pings after the hang")

            pings = [n.at for n in manager.received("WATCHDOG")]
            before = [t for t in pings if t < hung_at - 1.0]
            assert pings[0] > ready.at, "no ping before READY=1 (systemd would arm the watchdog early)"
            assert len(before) >= 3, pings
            # healthy: a ping every half watchdog period, never a period without one
            assert max(length for _, length in gaps([ready.at, *before])) < WATCHDOG_S
            # hung: one silence as long as the hang, none of the pings inside it
            silences = [(start, length) for start, length in gaps(pings) if length > WATCHDOG_S]
            assert len(silences) == 1, silences
            start, length = silences[0]
            assert HANG_FOR_S - 0.6 < length < HANG_FOR_S + WATCHDOG_S + 1.0, silences
            assert start < hung_at < start + length
            assert "the event loop was held up for" in service.log()

            # the status line follows the pot, at most once a second
            statuses = [n for n in manager.received("STATUS") if "READY" not in n.fields]
            assert len({n.fields["STATUS"] for n in statuses}) >= 2
            assert min(b.at - a.at for a, b in itertools.pairwise(statuses)) > 0.9

            stop_sent = time.monotonic()
            assert service.stop(signal.SIGTERM) < 5.0
            assert service.proc is not None and service.proc.returncode == 0
            stopping = manager.first("STOPPING", 1.0, since=stop_sent)
            assert stopping.fields == {"STOPPING": "1", "STATUS": "stopping"}
            # nothing after the goodbye: a ping or a status there would contradict it
            assert [n for n in manager.notices if n.at > stopping.at] == []
        finally:
            if service.proc is not None and service.proc.poll() is None:
                service.stop(signal.SIGKILL)


def test_an_abstract_socket_and_a_watchdog_meant_for_another_process(tmp_path: Path) -> None:
    """``@name`` is the abstract namespace; a WATCHDOG_PID that is not ours means no pings from us."""
    with NotifySocket(abstract=True) as manager:
        env = {**manager.env(WATCHDOG_S), "WATCHDOG_PID": "1"}
        service = caramel(tmp_path, env).start(wait=False)
        try:
            ready = manager.first("READY", 30.0)
            assert answers(service, timeout=2.0)
            wait_until(lambda: manager.received("STATUS", since=ready.at + 0.1), 5.0, "a status line after READY")
            time.sleep(3.0)  # three ping periods: the absence of pings is what is tested, so time must pass
            assert manager.received("WATCHDOG") == []
            assert "watchdog" not in service.log()
        finally:
            service.stop()


def test_without_a_notify_socket_it_runs_as_before(tmp_path: Path) -> None:
    env = {name: "" for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    service = caramel(tmp_path, env).start()
    assert service.get("/api/status")["cook"]["profile"] == "caramel"
    assert service.stop() < 5.0
    assert service.proc is not None and service.proc.returncode == 0
    log = service.log()
    assert "service manager" not in log and "watchdog" not in log and "Traceback" not in log


def test_the_watchdogs_sigabrt_leaves_the_hung_stack_in_the_journal(tmp_path: Path) -> None:
    """systemd kills a hung service with SIGABRT: the journal then says where the loop was stuck."""
    with NotifySocket() as manager:
        env = {**manager.env(WATCHDOG_S), "POTWATCH_DEBUG_BLOCK_LOOP_AFTER_S": "0.5"}
        service = caramel(tmp_path, env).start(wait=False)
        try:
            manager.first("READY", 30.0)
            wait_until(lambda: "blocking the event loop" in service.log(), 10.0, "the debug hang to start")
        finally:
            assert service.proc is not None
            os.killpg(service.proc.pid, signal.SIGABRT)
            service.proc.wait(10)
    assert service.proc.returncode == -signal.SIGABRT
    log = service.log()
    assert "Fatal Python error: Aborted" in log
    assert re.search(r'File ".*loop_hang\.py", line \d+ in block_loop', log), log

"""The pieces behind ``Type=notify``, each against the real thing it talks to.

The notify protocol against a real datagram socket (a missing one, one that
stops reading); the watchdog's gate against a real socket and real tasks; the
status line from a real hub fed readings; the journal's priority prefixes
from a real ``potwatch`` whose stderr is the stream ``JOURNAL_STREAM`` names.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import socket
import time
from pathlib import Path

import pytest

from service.core.cook import Kitchen, ProbeSetup
from service.core.events import ProbeGone, Sample, StartCook, Tick
from service.core.units import f_to_c
from service.journal import stderr_is_journal
from service.profiles import load_profiles
from service.runtime.hub import Hub
from service.runtime.status_line import report_status, status_line
from service.runtime.systemd_notify import Notifier, watchdog_seconds
from service.runtime.watchdog import keep_alive, stalled
from service.serve import HUB_STALL_S
from tests.support.clock import HandClock
from tests.support.net import free_port
from tests.support.notify_socket import NotifySocket
from tests.support.service import ServiceProcess
from tests.support.waiting import wait_until_async

# ---- the protocol ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "pid", "seconds"),
    [
        ({"WATCHDOG_USEC": "10000000"}, 42, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "42"}, 42, 10.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "41"}, 42, None),  # a parent's, inherited
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "me"}, 42, None),
        ({"WATCHDOG_USEC": "0"}, 42, None),
        ({"WATCHDOG_USEC": "ten"}, 42, None),
        ({}, 42, None),
    ],
)
def test_the_watchdog_period_is_ours_only_when_it_names_our_pid(env: dict[str, str], pid: int, seconds: float) -> None:
    assert watchdog_seconds(env, pid) == seconds


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier.from_environment({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled and notifier.watchdog_s is None
    assert notifier.ready("x") is False and notifier.watchdog() is False


def test_a_socket_that_is_gone_is_a_logged_line_not_an_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "no-such-socket"))
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "cannot tell the service manager READY=1" in warnings[0]


def test_a_manager_that_stops_reading_never_blocks_the_sender() -> None:
    """The ping runs on the event loop: a full socket must drop a message, not hold the loop."""
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"potwatch-test-silent-{os.getpid()}"
    silent.bind(b"\0" + name.encode())  # bound, never read: its queue fills
    try:
        notifier = Notifier("@" + name)
        started = time.monotonic()
        sent = [notifier.status("x" * 200) for _ in range(5000)]
        assert time.monotonic() - started < 5.0
        assert sent[0] is True and sent[-1] is False
    finally:
        silent.close()


def test_a_status_line_stays_one_assignment() -> None:
    with NotifySocket() as manager:
        Notifier(manager.address).status("two\nlines")
        notice = manager.first("STATUS", 5.0)
        assert notice.fields == {"STATUS": "two lines"}


# ---- the watchdog's gate ------------------------------------------------------------------


async def test_pings_stop_while_something_is_wrong_and_resume_after(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with NotifySocket() as manager:
        wrong: list[str] = []
        pinger = asyncio.create_task(keep_alive(Notifier(manager.address), 0.05, lambda: list(wrong)))
        try:
            await wait_until_async(lambda: len(manager.received("WATCHDOG")) >= 3, 5.0, "pings")
            wrong.append("probe pot has stopped")
            await asyncio.sleep(0.3)  # pings sent before it are read off the socket
            count = len(manager.received("WATCHDOG"))
            await asyncio.sleep(0.5)  # ten periods: the absence of pings is what is tested
            assert len(manager.received("WATCHDOG")) == count
            since = time.monotonic()
            wrong.clear()
            await wait_until_async(lambda: manager.received("WATCHDOG", since=since), 5.0, "pings again")
        finally:
            pinger.cancel()
    said = [r.getMessage() for r in caplog.records]
    assert said.count("watchdog: not pinging systemd, so that it restarts the service: probe pot has stopped") == 1
    assert "watchdog: healthy again, pinging systemd" in said


@pytest.mark.parametrize(
    ("last", "now", "problem"),
    [(None, 100.0, None), (99.0, 100.0, None), (100.0 - HUB_STALL_S, 100.0, None), (90.0, 100.0, "10 s")],
)
def test_a_hub_that_has_not_turned_for_a_while_is_stuck(last: float | None, now: float, problem: str | None) -> None:
    found = stalled("the hub", last, now, HUB_STALL_S)
    assert found == (None if problem is None else f"the hub has not turned for {problem}")


async def test_the_hub_marks_each_turn() -> None:
    hub = Hub(Kitchen([ProbeSetup("pot")]), HandClock(), load_profiles())
    task = asyncio.create_task(hub.run())
    try:
        first = await wait_until_async(lambda: hub.turned_at, 5.0, "the hub's first turn")
        # idle, it still turns on its one-second tick
        await wait_until_async(lambda: hub.turned_at is not None and hub.turned_at > first, 5.0, "a tick")
    finally:
        task.cancel()


# ---- the status line ---------------------------------------------------------------------


async def test_the_status_line_follows_the_cook() -> None:
    clock = HandClock()
    profiles = load_profiles()
    hub = Hub(Kitchen([ProbeSetup("pot")]), clock, profiles)
    assert status_line(hub.status()) == "no cook; pot waiting for a reading"
    hub.apply(Sample(clock.t, "pot", "", f_to_c(71.2)))
    assert status_line(hub.status()) == "no cook; pot 71.2 °F"
    assert status_line(hub.status(), "C") == "no cook; pot 21.8 °C"
    hub.apply(StartCook(clock.t, profiles["caramel"], "pot"))
    assert status_line(hub.status()) == "caramel: heating, 71.2 °F, on the way to 225 °F"
    # a syrup on its boil, then climbing 6 °F a minute: approaching, with the ETA the page shows
    temp_f, seen = 212.0, set()
    while temp_f < 224.0:
        clock.t += 1.0
        temp_f += 0.01 if temp_f < 213.0 else 0.1
        hub.apply(Sample(clock.t, "pot", "", f_to_c(temp_f)))
        seen.add(status_line(hub.status()))
    cook = hub.status()["cook"]
    assert cook is not None and cook["stage"] == "approaching" and cook["eta_s"] is not None
    assert re.fullmatch(r"caramel: approaching, 22\d\.\d °F, 225 °F in about \d+ s", status_line(hub.status()))
    hub.apply(ProbeGone(clock.t, "pot", "unplugged"))
    assert status_line(hub.status()).startswith("caramel: approaching, probe pot lost")
    clock.t += 60.0
    hub.apply(Tick(clock.t))
    line = status_line(hub.status())
    assert line.endswith("; ALARM: PROBE LOST"), line


async def test_status_lines_are_sent_when_they_change_and_not_more_than_once_a_period() -> None:
    with NotifySocket() as manager:
        text = ["a"]
        task = asyncio.create_task(report_status(Notifier(manager.address), lambda: text[0], 0.2, sent="a"))
        try:
            await asyncio.sleep(0.5)
            assert manager.received("STATUS") == []  # unchanged since READY=1 carried it
            text[0] = "b"
            await wait_until_async(lambda: manager.received("STATUS"), 5.0, "the changed line")
            for letter in "cdefgh":  # changes faster than the period
                text[0] = letter
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
        finally:
            task.cancel()
        times = [n.at for n in manager.received("STATUS")]
        assert [n.fields["STATUS"] for n in manager.received("STATUS")][-1] == "h"
        assert all(b - a > 0.15 for a, b in itertools.pairwise(times))


# ---- the journal -------------------------------------------------------------------------


def test_journal_stream_is_believed_only_for_the_stream_it_names(tmp_path: Path) -> None:
    journal, other = tmp_path / "journal", tmp_path / "other"
    journal.touch()
    other.touch()
    st = os.stat(journal)
    with journal.open("w") as j, other.open("w") as o:
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, j.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, o.fileno())
        assert not stderr_is_journal({}, j.fileno())


def test_under_journald_each_line_carries_its_priority_and_no_time(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.touch()
    st = os.stat(log)
    config = tmp_path / "potwatch.toml"
    config.write_text(f'[storage]\nstate_dir = "{tmp_path / "state"}"\n[[probes]]\nid = "pot"\nurl = "sim://"\n')
    env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    service = ServiceProcess(["run", "--config", str(config)], log, free_port(), env=env).start()
    service.stop()
    lines = [line for line in log.read_text().splitlines() if line.startswith("<")]
    assert "<4>WARNING service.serve: no [server] token: anyone on this network can stop the cook" in "\n".join(lines)
    assert "<6>INFO service.serve: stopped" in lines
    # journald stamps the time itself: none in the text
    assert not [line for line in lines if re.search(r"\d\d:\d\d:\d\d", line)]


async def test_the_status_line_of_a_hold_says_how_long_is_left() -> None:
    clock = HandClock()
    profiles = load_profiles()
    hub = Hub(Kitchen([ProbeSetup("pot")]), clock, profiles)
    hub.apply(StartCook(clock.t, profiles["rillons"], "pot"))
    for _ in range(600):  # ten minutes of a gentle simmer
        clock.t += 1.0
        hub.apply(Sample(clock.t, "pot", "", f_to_c(190.2)))
    cook = hub.status()["cook"]
    assert cook is not None and cook["stage"] == "holding" and cook["hold_remaining_s"] is not None
    line = status_line(hub.status())
    assert re.fullmatch(r"braise: in the window, 190\.2 °F, 1 h \d+ min to go", line), line

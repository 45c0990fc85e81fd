"""A cook's override across a restart of a real ``potwatch run``: a Tasmota plug double, Mosquitto, a probe on a pty.

The same state directory (and so the same history) for both starts, as under
systemd; the first one ends with SIGTERM (an orderly stop) or SIGKILL (a kill,
a power cut: no chance to write anything more). A heater the cook forced off
must come back forced off: the plug never hears an ON after the restart until
the cook hands control back. A heater forced on comes back in auto
(docs/heat.md, Override): heat nobody has looked at since the restart is not
switched on by an override. And a forced off lost to a page of the history
damaged while potwatch was down comes back forced off too, saying why, rather
than in the "auto" the damage left.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.heater_service import heater, heater_service, heating, seconds_since
from tests.support.plugs import TasmotaDouble
from tests.support.pty_device import PtyDevice, Thermometer
from tests.support.service import ServiceProcess, serving
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.broker import Broker

pytest_plugins = ["tests.support.broker", "tests.support.heater_fixtures"]

PATH = "/api/heaters/hob/override"
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECORDED_WITHIN_S = 1.0  # from the request to the override's row in the file (written at once)
WATCHED_S = 3.0  # the restarted heater's turns watched (one a second) for an ON that must not come
RESTART_S = 20.0  # the second start: restore, the probe read, the plug found, on a loaded machine
KILLS = [signal.SIGTERM, signal.SIGKILL]
KILL_IDS = ["SIGTERM", "SIGKILL"]
DAMAGED = "history damaged at start: hand control back to resume"


def started(tmp_path: Path, device: PtyDevice, mosquitto: Broker) -> ServiceProcess:
    """The service of both starts: one heater, a token set (only "off" goes without it), one history."""
    return heater_service(tmp_path, device, mosquitto, deadman="60s", token=TOKEN)


def recorded_overrides(tmp_path: Path) -> list[str]:
    """The override rows of the history file, oldest first, read as the next start would find them."""
    path = tmp_path / "state" / "potwatch.db"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT detail FROM heater_log WHERE heater = 'hob' AND what = 'override' ORDER BY rowid")
        return [str(r[0]) for r in rows]


def ons_since(plug: TasmotaDouble, since: float) -> list[tuple[float, str, bytes]]:
    """Every POWER ON the plug heard since ``since`` (its own clock: the test's monotonic)."""
    return [c for c in list(plug.commands) if c[0] >= since and c[1].endswith("/POWER") and c[2] == b"ON"]


def switched_on_since(plug: TasmotaDouble, since: float) -> list[tuple[float, bool]]:
    return [s for s in list(plug.switches) if s[0] >= since and s[1]]


def watched(service: ServiceProcess) -> None:
    """``WATCHED_S`` of the service's own clock pass: turns enough for a heater that would switch on to do it."""
    then = datetime.fromisoformat(service.get("/api/status")["now"].replace("Z", "+00:00"))
    wait_until(lambda: seconds_since(service, then) >= WATCHED_S, WATCHED_S + 5.0, "the restarted heater's turns")


def held_off_since(plug: TasmotaDouble, restarted: float) -> None:
    """The plug heard no POWER ON since ``restarted`` and its relay never closed."""
    assert ons_since(plug, restarted) == [], plug.commands
    assert switched_on_since(plug, restarted) == [] and not plug.relay_on, plug.switches


def hand_back(service: ServiceProcess, plug: TasmotaDouble, restarted: float) -> None:
    """Hands control back with "auto" and the token: the plug is on again; no ON since the restart before it."""
    handed_back = time.monotonic()
    assert service.post(PATH, json={"mode": "auto"}, headers=AUTH).status_code == 202
    wait_until(lambda: plug.relay_on, 5.0, "the plug on again after auto")
    assert ons_since(plug, restarted)[0][0] >= handed_back, plug.commands


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
@pytest.mark.parametrize("kill", KILLS, ids=KILL_IDS)
def test_a_heater_forced_off_stays_off_across_a_restart_until_the_cook_says_auto(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, kill: signal.Signals
) -> None:
    """Pass: the plug on (the caramel's reach wants full heat), then "off" (no token): the relay opens and the
    override is in the history within 1 s. potwatch is stopped by ``kill`` and started again on the same
    state directory; the restarted heater shows "force_off", "override: off" (so a cook and a reading are there:
    auto would heat), and for 3 s of its turns after that the plug hears no POWER ON and its relay never closes.
    Then "auto" with the token hands control back: the plug is on again, and the first ON it heard since the
    restart came after that request."""
    with Thermometer(device, 150.0, 0.2):
        first = started(tmp_path, device, mosquitto)
        with serving(first, kill):
            heating(first, plug)
            answer = first.post(PATH, json={"mode": "off"})
            assert answer.status_code == 202, answer.text
            wait_until(lambda: recorded_overrides(tmp_path) == ["force_off"], RECORDED_WITHIN_S, "the override row")
            wait_until(lambda: not plug.relay_on, 3.0, "the plug off by the override")
            first.stop(kill)
        assert not plug.relay_on
        restarted = time.monotonic()
        second = started(tmp_path, device, mosquitto)
        with serving(second):
            shown = wait_until(
                lambda: (h := heater(second))["reason"] == "override: off" and h,
                RESTART_S,
                lambda: f"the restarted heater forced off; status {second.get('/api/status')['heaters']}",
            )
            assert shown["override"] == "force_off" and shown["on"] is False, shown
            assert second.get("/api/status")["cook"] is not None  # the cook resumed: auto would heat
            watched(second)
            assert heater(second)["override"] == "force_off", heater(second)
            held_off_since(plug, restarted)
            assert "heater hob: the last override was force_off: starting in force_off" in second.log()
            hand_back(second, plug, restarted)
            shown = wait_until(lambda: (h := heater(second))["on"] and h, 5.0, "the status to say on")
            assert shown["override"] == "auto" and shown["reason"].startswith("heating to target"), shown
    assert recorded_overrides(tmp_path) == ["force_off", "auto"]


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
@pytest.mark.parametrize("kill", KILLS, ids=KILL_IDS)
def test_a_heater_forced_on_comes_back_in_auto_after_a_restart(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble, kill: signal.Signals
) -> None:
    """Pass: the caramel's probe reads 226 °F, past its 225 °F target, so the controller keeps the heat off
    ("target reached"); the cook forces it on (with the token) and the plug is on. potwatch is stopped by
    ``kill`` (a SIGKILL leaves the relay on, to its 60 s PulseTime) and started again: the restarted heater
    shows "auto" and "target reached", the relay is off (after a SIGKILL, by the restarted potwatch's OFF), and
    for 3 s of its turns the plug hears no POWER ON. "on" with the token still forces it on."""
    with Thermometer(device, 226.0, 0.2):
        first = started(tmp_path, device, mosquitto)
        with serving(first, kill):
            wait_until(
                lambda: heater(first)["reason"].startswith("target reached"),
                RESTART_S,
                lambda: f"the target reached; status {first.get('/api/status')['heaters']}",
            )
            assert not plug.relay_on
            assert first.post(PATH, json={"mode": "on"}, headers=AUTH).status_code == 202
            wait_until(lambda: plug.relay_on, 5.0, "the plug forced on")
            shown = wait_until(lambda: (h := heater(first))["reported"] == "on" and h, 5.0, "the status to say on")
            assert shown["override"] == "force_on" and shown["reason"] == "override: on", shown
            wait_until(lambda: recorded_overrides(tmp_path) == ["force_on"], RECORDED_WITHIN_S, "the override row")
            first.stop(kill)
        if kill is signal.SIGKILL:
            assert plug.relay_on  # nobody said off: only its PulseTime would, in 60 s
        restarted = time.monotonic()
        second = started(tmp_path, device, mosquitto)
        with serving(second):
            shown = wait_until(
                lambda: (h := heater(second))["reason"].startswith("target reached") and h,
                RESTART_S,
                lambda: f"the restarted heater in auto; status {second.get('/api/status')['heaters']}",
            )
            assert shown["override"] == "auto" and shown["on"] is False, shown
            # an OFF sent before the link was up is sent again as soon as the plug is available
            wait_until(lambda: heater(second)["available"], 10.0, "the plug available to the restarted potwatch")
            available = time.monotonic()
            wait_until(lambda: not plug.relay_on, 5.0, lambda: f"the plug off; it heard {plug.commands}")
            if kill is signal.SIGKILL:  # the relay was still on: the restarted potwatch's OFF, not 5 s later
                off_at = plug.switched_off_at()
                assert off_at is not None and off_at - available <= 2.0, (off_at, available, plug.commands)
            watched(second)
            assert heater(second)["override"] == "auto", heater(second)
            held_off_since(plug, restarted)
            assert "heater hob: the last override was force_on: starting in auto" in second.log()
            assert second.post(PATH, json={"mode": "on"}, headers=AUTH).status_code == 202
            wait_until(lambda: plug.relay_on, 5.0, "the plug forced on again")


def scribble_the_row(path: Path, what: str) -> None:
    """Random bytes over the leaf of ``heater_log`` that holds the newest row of that ``what``, past its header.

    The log is only appended to, so a row's rowid is its place in the table: the leaves, in the b-tree's
    order (``dbstat``'s ``path``), hold rowids 1…n in turn.
    """
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the file itself, where the damage goes
        (rowid,) = db.execute("SELECT max(rowid) FROM heater_log WHERE what = ?", (what,)).fetchone()
        assert (
            db.execute("SELECT count(*) FROM heater_log").fetchone()
            == db.execute("SELECT max(rowid) FROM heater_log").fetchone()
        )  # dense: nothing deleted
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        leaves = db.execute(
            "SELECT pageno, ncell FROM dbstat WHERE name = 'heater_log' AND pagetype = 'leaf' ORDER BY path"
        ).fetchall()
    ends = itertools.accumulate(cells for _, cells in leaves)  # the last rowid on each leaf
    page = next(page for (page, _), end in zip(leaves, ends, strict=True) if end >= rowid)
    with path.open("r+b") as fh:
        fh.seek((page - 1) * page_size + 8)
        fh.write(os.urandom(page_size - 8))


@pytest.mark.real_part("mosquitto")
@pytest.mark.real_part("pty")
def test_a_forced_off_lost_to_a_damaged_page_comes_back_forced_off_saying_why(
    tmp_path: Path, device: PtyDevice, mosquitto: Broker, plug: TasmotaDouble
) -> None:
    """Pass: the plug on, then "off"; potwatch stopped, and while it is down the page of the history that held
    the override row is scribbled over. The restarted potwatch sets the file aside and salvages it (the cook
    resumes: auto would heat; the override row is gone), and the heater shows "force_off" with "history damaged
    at start: hand control back to resume", marked as needing the cook; the journal says so; for 3 s of its
    turns the plug hears no POWER ON. "auto" with the token hands control back and the plug is on again.
    Before, the heater came back in "auto" and heated by itself."""
    with Thermometer(device, 150.0, 0.2):
        first = started(tmp_path, device, mosquitto)
        with serving(first, signal.SIGTERM):
            heating(first, plug)
            assert first.post(PATH, json={"mode": "off"}).status_code == 202
            wait_until(lambda: recorded_overrides(tmp_path) == ["force_off"], RECORDED_WITHIN_S, "the override row")
            wait_until(lambda: not plug.relay_on, 3.0, "the plug off by the override")
            first.stop(signal.SIGTERM)
        scribble_the_row(tmp_path / "state" / "potwatch.db", "override")
        restarted = time.monotonic()
        second = started(tmp_path, device, mosquitto)
        with serving(second):
            shown = wait_until(
                lambda: (h := heater(second))["reason"] == DAMAGED and h,
                RESTART_S,
                lambda: f"the restarted heater forced off; status {second.get('/api/status')['heaters']}",
            )
            assert shown["override"] == "force_off" and shown["on"] is False and shown["safety"] is True, shown
            assert second.get("/api/status")["cook"] is not None  # the cook resumed: auto would heat
            recording = second.get("/healthz")["recording"]
            assert recording.startswith("salvaged into a new file: ") and "rows lost from heater_log" in recording
            watched(second)
            assert heater(second)["reason"] == DAMAGED, heater(second)
            held_off_since(plug, restarted)
            assert "heater hob: the history was damaged at this start (the file was damaged" in second.log()
            hand_back(second, plug, restarted)
    # the forced off potwatch kept was written as an override: a restart before "auto" had kept it too
    assert recorded_overrides(tmp_path) == ["force_off", "auto"]

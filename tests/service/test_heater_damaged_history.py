"""A heater the cook forced off, then a history damaged at the next start: the heat must not come back by itself.

Every file is written by the real recorder (the overrides the API hands it,
written at once, and a plug's commands between them), then damaged with real
byte writes as in test_history_recovery.py: a page of ``heater_log`` scribbled
over, the file emptied to 0 bytes, garbage over the write-ahead log's frames.
Each start is what ``potwatch run`` does: the restore opens (checks, salvages)
the file, then the heaters attach and read their last overrides through
``HistoryRecorder.remembered``, the wiring of service/cli.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drivers.heater import HeaterEvent, StateReport
from service.config import HeaterConfig
from service.core.cook import ProbeSetup
from service.core.events import Sample, StartCook
from service.core.heat.events import OverrideMode
from service.core.units import f_to_c
from service.history import HistoryRecorder
from service.history.integrity import wal_tail
from service.history.restore import restore_now
from service.history.schema import PAGE_SIZE
from service.history.store import Store
from service.runtime.heaters import Heater, Heaters
from service.runtime.hub import Hub
from service.runtime.views import HeaterCommand, HeaterOverride, HeaterRecord, HeaterView
from tests.support.clock import HandClock
from tests.support.history import PROFILES, fail_writes, recorder_for, start, stop
from tests.support.waiting import wait_until, wait_until_async

OFF, ON, AUTO = OverrideMode.FORCE_OFF, OverrideMode.FORCE_ON, OverrideMode.AUTO
DAMAGED = "history damaged at start: hand control back to resume"
COMMANDS = 400  # enough rows of heater_log for several pages of it
WAIT_S = 5.0


class Plug:
    """A plug in memory that does what it is told and says so at once; every command kept."""

    heater_id = "hob"

    def __init__(self, config: HeaterConfig, clock: Callable[[], float]) -> None:
        self.reported: bool | None = None
        self.available = True
        self.dropped = 0
        self.commands: list[bool] = []
        self._said: asyncio.Queue[HeaterEvent] = asyncio.Queue()
        self._said.put_nowait(StateReport("hob", False, 0.0, "stat/kitchen_plug/POWER"))  # heard: off

    async def command(self, on: bool, *, hold_s: float) -> bool:
        self.commands.append(on)
        self.reported = on
        self._said.put_nowait(StateReport("hob", on, 0.0, "stat/kitchen_plug/POWER"))
        return True

    async def events(self) -> AsyncIterator[HeaterEvent]:
        while True:
            event = await self._said.get()
            self.reported = event.on if isinstance(event, StateReport) else self.reported
            yield event

    async def __aenter__(self) -> Plug:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def said(hub: Hub, clock: HandClock, *items: OverrideMode | int) -> None:
    """Overrides of the hob, as the API hands them to the recorder; an int: that many plug commands."""
    for item in items:
        records: list[HeaterRecord] = []
        if isinstance(item, OverrideMode):
            clock.t += 1.0
            records.append(HeaterOverride(clock.t, "hob", "pot", str(item)))
        else:
            for i in range(item):
                clock.t += 1.0
                records.append(HeaterCommand(clock.t, "hob", "pot", i % 2 == 0, 60.0, True, "holding 180–190 °F"))
        for record in records:
            for hook in hub.on_heater:
                hook(record)


@dataclass
class Started:
    """A start of the service on the file: its hub, recorder, heaters and the hob's plug."""

    hub: Hub
    clock: HandClock
    recorder: HistoryRecorder
    heaters: Heaters

    @property
    def hob(self) -> Heater:
        return self.heaters.heaters["hob"]

    @property
    def plug(self) -> Plug:
        plug = self.hob.actuator
        assert isinstance(plug, Plug)
        return plug

    async def cooking(self) -> HeaterView:
        """The caramel on "pot" far below its target (the step wants full heat), and the heater's turn on it."""
        self.hub.apply(StartCook(self.clock.t, PROFILES["caramel"], "pot"))
        self.clock.t += 1.0
        self.hub.apply(Sample(self.clock.t, "pot", "", f_to_c(150.0), None))
        at = self.clock.t
        hob = self.hob
        await wait_until_async(
            lambda: hob.seen.level_at == at and hob.state.facts.online, WAIT_S, f"the heater's turn at {at}"
        )
        return hob.view()


@contextlib.asynccontextmanager
async def started(path: Path, clock: HandClock, **kwargs: Any) -> AsyncIterator[Started]:
    """A start: the restore opens the file, the heaters attach (``potwatch run``'s order) and run; then a stop."""
    hub, recorder = start(path, clock, **kwargs)
    config = HeaterConfig(id="hob", url="mqtt://127.0.0.1:1883/kitchen_plug?kind=tasmota", probe="pot")
    heaters = Heaters([config], opener=Plug, remembered=recorder.remembered)  # type: ignore[arg-type]
    heaters.attach(hub)
    task = asyncio.create_task(heaters.run())
    try:
        yield Started(hub, clock, recorder, heaters)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        stop(recorder, clean=False)  # as a power cut leaves it


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def checkpoint(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def scribble(path: Path, page: int) -> None:
    """Random bytes over page ``page`` (1-based), past its header, in place: a card's bad block."""
    with path.open("r+b") as fh:
        fh.seek((page - 1) * PAGE_SIZE + 8)
        fh.write(os.urandom(PAGE_SIZE - 8))


def forced_off_last(path: Path, clock: HandClock) -> None:
    """An "auto" on the first pages of heater_log, commands, then the cook's forced off on its last page; a kill."""
    hub, recorder = start(path, clock)
    said(hub, clock, AUTO, COMMANDS, OFF)
    stop(recorder, clean=False)
    checkpoint(path)  # the rows in the file, where the damage is


def damage_the_last_heater_log_page(path: Path) -> None:
    """Scribble over the leaf of heater_log that holds its newest rows (the forced off)."""
    # dbstat's ``path`` walks the b-tree in order: its last leaf holds the highest rowids
    leaves = rows(path, "SELECT pageno FROM dbstat WHERE name = 'heater_log' AND pagetype = 'leaf' ORDER BY path")
    assert len(leaves) > 3
    scribble(path, int(str(leaves[-1][0])))


def emptied(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.truncate(0)


@pytest.mark.parametrize(
    "damage",
    [damage_the_last_heater_log_page, emptied],
    ids=["the page that held the forced off", "the file emptied to 0 bytes"],
)
async def test_a_forced_off_lost_to_damage_starts_forced_off_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None]
) -> None:
    """Pass: forced off, the page, the API and MQTT saying why (their view), in red; the plug never told on.

    Before, the heater started in the "auto" the damage left readable (or in nothing: "auto") and heated."""
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    forced_off_last(path, clock)
    damage(path)
    with caplog.at_level(logging.WARNING):
        async with started(path, clock) as rig:
            view = await rig.cooking()
            assert (view["override"], view["on"], view["reason"], view["safety"]) == ("force_off", False, DAMAGED, True)
            assert True not in rig.plug.commands, rig.plug.commands
            assert rig.recorder.sync()
    # what the damage left says "auto", or nothing; the start wrote the forced off it kept as the newest row
    left = [r[0] for r in rows(path, "SELECT detail FROM heater_log WHERE what = 'override' ORDER BY rowid")]
    assert "force_off" not in left[:-1] and left[-1] == "force_off", left
    # ... told from a cook's own "off" by the row just before it, which says why
    newest = rows(path, "SELECT what, detail FROM heater_log WHERE what IN ('override', 'doubt') ORDER BY rowid")
    (what, why), last = newest[-2], newest[-1]
    assert (what, last) == ("doubt", ("override", "force_off")), newest
    assert why.startswith("history damaged at start (the file was ") and why.endswith("handed back"), why
    assert [w for w, _ in newest].count("doubt") == 1, newest
    assert "heater hob: the history was damaged at this start (the file was " in caplog.text
    assert "starting in force_off until control is handed back" in caplog.text


async def test_a_forced_off_lost_with_the_write_ahead_logs_frames_starts_forced_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A power cut's garbage over the log: SQLite drops its frames, and the forced off in them, without a word."""
    path = tmp_path / "potwatch.db"
    live = tmp_path / "live" / path.name
    live.parent.mkdir()
    clock = HandClock()
    recorder = recorder_for(live)
    kitchen, _ = restore_now(recorder, [ProbeSetup("pot")], clock)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    assert recorder.store.conn is not None
    recorder.store.conn.execute("PRAGMA wal_autocheckpoint = 0")  # every later commit stays in the -wal
    recorder.start()
    said(hub, clock, AUTO, 20)
    assert recorder.sync()
    checkpoint(live)  # "auto" in the file itself
    said(hub, clock, 20, OFF)
    assert recorder.sync()
    path.write_bytes(live.read_bytes())  # the files as a power cut leaves them, the log not yet copied back
    copied = path.with_name(path.name + "-wal")
    copied.write_bytes(live.with_name(live.name + "-wal").read_bytes())
    stop(recorder, clean=False)
    assert wal_tail(copied).frames > 0
    with copied.open("r+b") as fh:
        fh.seek(32 + 24 + 100)  # garbage in the first frame: SQLite ignores it and every frame after it
        fh.write(os.urandom(300))
    with caplog.at_level(logging.WARNING):
        async with started(path, clock) as rig:
            assert rig.recorder.status().startswith("recovered: the write-ahead log has ")
            view = await rig.cooking()
            assert (view["override"], view["reason"]) == ("force_off", DAMAGED)
            assert True not in rig.plug.commands
    assert "heater hob: the history was damaged at this start (the write-ahead log has " in caplog.text


async def test_handing_control_back_ends_it_and_until_then_a_clean_restart_keeps_it_off(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    forced_off_last(path, clock)
    damage_the_last_heater_log_page(path)
    async with started(path, clock) as rig:
        assert (await rig.cooking())["reason"] == DAMAGED
        assert rig.recorder.sync()
    clock.t += 10.0  # a power cut again, before the cook has looked; the file is sound now
    async with started(path, clock) as rig:
        assert rig.recorder.status() == "ok"
        view = await rig.cooking()
        assert (view["override"], view["reason"]) == ("force_off", "override: off")  # not the surviving "auto"
        assert rig.heaters.override("hob", AUTO)  # the cook hands control back (the API checked the token)
        await wait_until_async(lambda: True in rig.plug.commands, WAIT_S, "the heat on once handed back")
        view = rig.hob.view()
        assert view["override"] == "auto" and view["on"] and not view["safety"], view


async def test_a_first_start_a_sound_file_and_a_damage_that_lost_no_override_row_are_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No damage, or damage the salvage read every heater_log row past: what the rows say, as before."""
    clock = HandClock()
    first = tmp_path / "first" / "potwatch.db"
    first.parent.mkdir()
    with caplog.at_level(logging.WARNING):
        async with started(first, clock) as rig:  # no file yet
            view = await rig.cooking()
            assert (view["override"], view["on"]) == ("auto", True), view
        sound = tmp_path / "sound" / "potwatch.db"
        sound.parent.mkdir()
        forced_off_last(sound, clock)
        async with started(sound, clock) as rig:
            view = await rig.cooking()
            assert (view["override"], view["reason"]) == ("force_off", "override: off")
        header = tmp_path / "header" / "potwatch.db"
        header.parent.mkdir()
        hub, recorder = start(header, clock)
        said(hub, clock, OFF, COMMANDS, AUTO)
        stop(recorder, clean=False)
        checkpoint(header)
        with header.open("r+b") as fh:
            fh.write(os.urandom(100))  # the header: set aside as unreadable, every row salvaged
        async with started(header, clock) as rig:
            status = rig.recorder.status()
            assert status.startswith("salvaged into a new file: ") and "lost" not in status, status
            view = await rig.cooking()
            assert (view["override"], view["on"]) == ("auto", True), view
    assert "damaged at this start" not in caplog.text


def forced_off_into_the_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> tuple[Path, Path, HandClock, list[bool]]:
    """A run that said "auto", then had its file refuse writes (``refusal``) as the cook forced the heat off:
    the "off" is in the spill alone when the service goes down. The file, the spill, the clock, and the flag
    that keeps writes failing (clear it to let them through)."""
    path = tmp_path / "potwatch.db"
    spill = tmp_path / "run"  # the runtime directory: RAM on a real machine, another filesystem in any case
    spill.mkdir()
    clock = HandClock()
    hub, recorder = start(path, clock, retry_s=0.05, spill_dir=spill)
    said(hub, clock, AUTO, 5)
    assert recorder.sync()
    failing = fail_writes(monkeypatch, refusal)
    said(hub, clock, OFF)
    recorder._wake.set()

    def spilled() -> list[object]:
        return [
            row[10] for unit in recorder.spill.load() for key, row in unit if key == "heater" and row[5] == "override"
        ]

    wait_until(lambda: spilled() == ["force_off"], 5, "the forced off kept in the runtime directory")
    recorder._stopping = True  # the service stops (a kill leaves the same file and the same spill)
    recorder._wake.set()
    assert recorder._thread is not None
    recorder._thread.join(5)
    assert [r[0] for r in rows(path, "SELECT detail FROM heater_log WHERE what = 'override'")] == ["auto"]
    return path, spill, clock, failing


async def test_a_forced_off_still_in_a_paused_runs_spill_is_kept_when_the_file_still_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full: the cook's "off" goes to the spill, not the file; the service goes down, and the next start's
    file still refuses it. The heater starts in the spill's forced off, not in the file's older "auto".

    Before, the heaters read the file alone and started in "auto"."""
    path, spill, clock, failing = forced_off_into_the_spill(tmp_path, monkeypatch, "database or disk is full")
    async with started(path, clock, retry_s=0.05, spill_dir=spill) as rig:
        assert rig.recorder.status() == "paused: disk full"  # the spill is still not in the file
        view = await rig.cooking()
        assert (view["override"], view["reason"]) == ("force_off", "override: off"), view
        assert True not in rig.plug.commands
        failing[0] = False  # the disk has room again: the stop can write


async def test_a_forced_off_in_the_spill_is_kept_when_the_file_cannot_even_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card remounted read-only: the cook's "off" went to the spill, and at the next start the file refuses
    to open at all (SQLite cannot make its write-ahead log), so it is neither checked nor given the spill.
    The heater starts forced off (its rows in doubt) and the spill's "off" is read, not the file's "auto".

    Before, the spill was taken in only once the file opened: the heater started in "auto" and heated."""
    path, spill, clock, failing = forced_off_into_the_spill(
        tmp_path, monkeypatch, "attempt to write a readonly database"
    )
    real_open = Store.open

    def refused(self: Store, *args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(Store, "open", refused)
    async with started(path, clock, retry_s=0.05, spill_dir=spill) as rig:
        view = await rig.cooking()
        assert view["override"] == "force_off", view
        assert True not in rig.plug.commands
        monkeypatch.setattr(Store, "open", real_open)
        failing[0] = False

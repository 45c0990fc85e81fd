"""A damaged history file at start-up: what is checked, what is salvaged, what is resumed, what is said.

Every file here is written by the real recorder (a past cook, then a braise
and a caramel whose critical alarm is ringing, the service killed), then
damaged with real byte writes the way a dying SD card or a power cut damages
one: the header, the schema's pages, a page in the middle, the end cut off,
garbage in the write-ahead log, a file emptied to 0 bytes, a text file over
it. For each: what comes back in the kitchen, and what ``/healthz``'s
``recording`` and the log say.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api.app import AppSettings
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import Acknowledge, Sample, StartCook, StopCook, Tick
from service.core.heat.events import OverrideMode
from service.core.units import f_to_c
from service.history import HistoryReader, HistoryRecorder, schema
from service.history.overrides import recorded_overrides
from service.history.restore import restore_now
from service.history.schema import PAGE_SIZE, SCHEMA_VERSION
from service.runtime.hub import Hub
from service.runtime.views import HeaterOverride
from tests.support import api
from tests.support.clock import HandClock
from tests.support.history import PROFILES, climb, fail_writes, feed, past_cook, recorder_for, snapshot, start, stop
from tests.support.waiting import wait_until

SETUPS = [ProbeSetup("pot"), ProbeSetup("pan")]


@dataclass
class Killed:
    """The kitchen as it was when the service was killed, and the file it left."""

    path: Path
    kitchen: Kitchen
    clock: HandClock
    events: int


def reading(hub: Hub, clock: HandClock, probe: str, fahrenheit: float) -> None:
    hub.apply(Sample(clock.t, probe, "", f_to_c(fahrenheit)))


def cook_and_kill(path: Path, *, clean: bool = False, keep_wal: bool = False) -> Killed:
    """A past cook, then a braise on ``pot`` and a caramel on ``pan`` at its target (ringing); then a kill.

    The recorder writes in a folder of its own; ``path`` gets the files as a
    kill leaves them. With ``keep_wal`` they are copied while the recorder
    still has them open: the last commits are in the ``-wal``, as after a
    real SIGKILL. Otherwise the run is stopped (marked unclean unless
    ``clean``) and everything checkpointed into the file, so that damage done
    to it hits the data.
    """
    live = path.parent / "live" / path.name
    live.parent.mkdir()
    clock = HandClock()
    recorder = recorder_for(live, checkpoint_every_s=1e9)
    kitchen, _ = restore_now(recorder, SETUPS, clock)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    if keep_wal and recorder.store.conn is not None:
        # every commit stays in the -wal, none copied into the file: which of them a kill leaves is then certain
        recorder.store.conn.execute("PRAGMA wal_autocheckpoint = 0")
    recorder.start()
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pan"))
    for f in climb(200.0, 226.0, 200):
        clock.t += 1.0
        hub.apply(Tick(clock.t))
        reading(hub, clock, "pan", f)
    hub.apply(StopCook(clock.t, "1-c1"))
    hub.apply(StartCook(clock.t, PROFILES["rillons"], "pot"))
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pan"))
    for i, f in enumerate(climb(150.0, 226.0, 1500)):
        clock.t += 1.0
        hub.apply(Tick(clock.t))
        reading(hub, clock, "pot", 195.0 + (i % 7) * 0.1)
        reading(hub, clock, "pan", f)
        if i % 50 == 0:
            assert recorder.sync()  # a commit every 50 s of cooking, as the 3 s batches would make many
        if i == 700:
            recorder._close_unit()
            recorder._checkpoint()  # a snapshot of the kitchen, as the 10 min timer takes one
    alarms = [a for a in hub.kitchen.active_alerts() if a.kind.value == "target_reached"]
    assert alarms and alarms[0].level.value == "critical" and not alarms[0].acked
    assert recorder.sync()
    if keep_wal:
        wal = live.with_name(live.name + "-wal")
        assert wal.stat().st_size > 0
        path.write_bytes(live.read_bytes())
        path.with_name(path.name + "-wal").write_bytes(wal.read_bytes())
    stop(recorder, clean=clean)
    if not keep_wal:
        with contextlib.closing(sqlite3.connect(live)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path.write_bytes(live.read_bytes())
    events = int(str(rows(path, "SELECT count(*) FROM events")[0][0]))
    return Killed(path, hub.kitchen, clock, events)


def rows(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, args).fetchall()


def pages(path: Path, table: str, kind: str = "leaf") -> list[int]:
    """The page numbers (1-based) of ``table``'s b-tree of that kind, from SQLite's own ``dbstat``."""
    found = rows(path, "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno", table, kind)
    return [int(str(r[0])) for r in found]


def scribble(path: Path, page: int, start: int = 0, length: int = PAGE_SIZE) -> None:
    """Overwrite part of page ``page`` (1-based) with random bytes, in place."""
    with path.open("r+b") as fh:
        fh.seek((page - 1) * PAGE_SIZE + start)
        fh.write(os.urandom(length))


def resume(path: Path, **kwargs: Any) -> tuple[Kitchen, HistoryRecorder]:
    recorder = recorder_for(path, **kwargs)
    kitchen, _ = restore_now(recorder, SETUPS, HandClock())
    return kitchen, recorder


def ringing(kitchen: Kitchen) -> list[str]:
    """The critical alarms still ringing: the caramel's (and the past cook's, never acknowledged)."""
    return sorted(f"{a.cook_id} {a.kind.value}" for a in kitchen.active_alerts() if a.level.value == "critical")


RINGING = ["1-c1 target_reached", "1-c3 target_reached"]


def client_for(hub: Hub, recorder: HistoryRecorder) -> httpx.AsyncClient:
    return api.client_for(hub, AppSettings(history=HistoryReader(recorder.path), health=[recorder.health]))


def aside(path: Path, tag: str) -> Path:
    (found,) = [p for p in path.parent.glob(f"{path.name}.{tag}-*") if not p.name.endswith(("-wal", "-shm"))]
    return found


# ---- harmless complaints ---------------------------------------------------------------------------


async def test_unused_pages_are_harmless_and_the_cooks_resume_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:  # free some pages, then lose the freelist's head
        conn.execute("DELETE FROM events WHERE seq BETWEEN 10 AND 150")  # the past cook's, before the snapshot
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as fh:
        fh.seek(32)
        fh.write(b"\0" * 8)  # the first freelist trunk page and the freelist's count, as a torn header write
    assert any("is never used" in str(r[0]) for r in rows(path, "PRAGMA quick_check"))
    with caplog.at_level(logging.INFO):
        kitchen, recorder = resume(path)
    assert not list(tmp_path.glob("potwatch.db.corrupt-*"))  # the file was kept: nothing in it is at risk
    assert recorder.status() == "ok"
    assert "unused pages, harmless" in caplog.text
    assert {c.id for c in kitchen.cooks.values() if c.ended_at is None} == {"1-c2", "1-c3"}
    assert ringing(kitchen) == RINGING
    recorder.store.close()
    del killed


# ---- damage that matters: set aside, salvaged, resumed ------------------------------------------


@pytest.mark.parametrize("where", ["header", "header, newest pages in the -wal", "schema page"])
async def test_a_damaged_header_or_schema_page_is_rebuilt_and_everything_resumes_exactly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path, keep_wal="-wal" in where)
    if where.startswith("header"):
        scribble(path, 1, 0, 100)
    else:
        schema = pages(path, "sqlite_schema") + pages(path, "sqlite_master")
        assert len(schema) >= 2  # with 1 KiB pages the schema spans a few
        scribble(path, schema[-1])
    damaged = path.read_bytes()
    with caplog.at_level(logging.ERROR):
        kitchen, recorder = resume(path)
    moved = aside(path, "unreadable" if where.startswith("header") else "corrupt")
    assert moved.read_bytes() == damaged  # kept as it was, for its owner
    assert snapshot(kitchen, killed.clock.t) == snapshot(killed.kitchen, killed.clock.t)
    assert ringing(kitchen) == RINGING
    status = recorder.status()
    assert status.startswith(
        f"salvaged into a new file: 3 cooks and {killed.events} events salvaged; the old file was "
    )
    assert status.endswith(f"kept as {moved}")
    assert "lost" not in status
    assert any(r.levelname == "ERROR" and str(moved) in r.message for r in caplog.records)
    recorder.store.close()
    assert rows(path, "SELECT id, outcome FROM cooks ORDER BY first_seq") == [
        ("1-c1", "stopped"),
        ("1-c2", None),
        ("1-c3", None),
    ]


async def test_a_file_made_before_an_index_is_salvaged_whole_and_gets_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The salvage rebuilds a file's schema pages from a fresh file's. An index made after the tables
    has its pages where a file older than the index has its first rows: a template with it wrote over
    them (32 of 3,000 events lost)."""
    path = tmp_path / "potwatch.db"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "INDEXES", [])  # the file as a potwatch before the index wrote it
        killed = cook_and_kill(path)
    override_index = "SELECT count(*) FROM sqlite_master WHERE name = 'heater_log_override'"
    assert rows(path, override_index) == [(0,)]
    scribble(path, 1, 0, 100)
    _, recorder = resume(path)
    status = recorder.status()
    recorder.store.close()
    assert status.startswith(f"salvaged into a new file: 3 cooks and {killed.events} events salvaged"), status
    assert rows(path, override_index) == [(1,)]


@pytest.mark.parametrize("where", ["header", "schema page"])
def test_a_heater_forced_off_in_a_damaged_file_is_still_forced_off_in_the_salvaged_one(
    tmp_path: Path, where: str
) -> None:
    """The override rows are carried over with the rest: a card going bad is no word of the cook's either."""
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    for mode in (OverrideMode.FORCE_ON, OverrideMode.FORCE_OFF):
        clock.t += 1.0
        for hook in hub.on_heater:
            hook(HeaterOverride(clock.t, "hob", "pot", str(mode)))
    stop(recorder, clean=False)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows in the file, where the damage is
    if where == "header":
        scribble(path, 1, 0, 100)
    else:
        scribble(path, (pages(path, "sqlite_schema") + pages(path, "sqlite_master"))[-1])
    _, recorder = resume(path)
    recorder.store.close()
    assert aside(path, "unreadable" if where == "header" else "corrupt").exists()
    assert recorded_overrides(path, ["hob"]).modes == {"hob": OverrideMode.FORCE_OFF}


async def test_a_damaged_page_in_the_middle_costs_its_rows_not_the_cook(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path)
    leaves = pages(path, "events")
    scribble(path, leaves[len(leaves) // 3], 0, 200)  # a leaf of readings from before the snapshot
    kitchen, recorder = resume(path)
    status = recorder.status()
    assert status.startswith("salvaged into a new file: ") and "the old file was damaged (quick_check: " in status
    assert "events lost to the damage: after seq " in status
    salvaged = rows(path, "SELECT count(*) FROM events")[0][0]
    assert killed.events - 60 < int(str(salvaged)) < killed.events  # one leaf's worth of rows
    # the resume starts from the snapshot, after the hole: exact
    assert snapshot(kitchen, killed.clock.t) == snapshot(killed.kitchen, killed.clock.t)
    assert ringing(kitchen) == RINGING
    recorder.store.close()


async def test_damage_after_a_clean_stop_is_found_too(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path, clean=True)
    assert rows(path, "SELECT clean FROM runs") == [(1,)]
    leaves = pages(path, "events")
    scribble(path, leaves[len(leaves) // 2], 0, 200)
    kitchen, recorder = resume(path)
    assert "the old file was damaged (quick_check: " in recorder.status()
    assert "quick_check" in recorder.store.last_check and "ok" not in recorder.store.last_check
    assert ringing(kitchen) == RINGING
    assert {c.id for c in kitchen.cooks.values() if c.ended_at is None} == {"1-c2", "1-c3"}
    recorder.store.close()
    del killed


async def test_a_file_cut_short_keeps_its_first_part(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(size * 3 // 4)
    kitchen, recorder = resume(path)
    status = recorder.status()
    assert status.startswith("salvaged into a new file: ")
    salvaged = int(str(rows(path, "SELECT count(*) FROM events")[0][0]))
    assert killed.events // 2 < salvaged < killed.events
    # what the first three quarters hold comes back: the cooks running (the newest readings are lost)
    assert {c.id for c in kitchen.cooks.values() if c.ended_at is None} <= {"1-c2", "1-c3"}
    recorder.store.close()


async def test_a_file_that_goes_bad_while_recording_is_salvaged_into_the_new_one(tmp_path: Path) -> None:
    """The cook running began in the old file: the new one must have its start, or a later resume has nothing."""
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path)
    kitchen, recorder = resume(path)
    hub = Hub(kitchen, HandClock(killed.clock.t + 5.0), PROFILES)
    recorder.attach(hub)
    recorder.store.replace("damaged while recording (database disk image is malformed)", "corrupt")
    recorder.start()
    stop(recorder, clean=False)
    again, recorder2 = resume(path)
    assert ringing(again) == RINGING
    assert {c.id for c in again.cooks.values() if c.ended_at is None} == {"1-c2", "1-c3"}
    recorder2.store.close()


# ---- the write-ahead log ------------------------------------------------------------------------


async def test_garbage_in_the_write_ahead_log_is_said_and_kept(tmp_path: Path) -> None:
    from service.history.integrity import wal_tail

    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path, keep_wal=True)
    wal = path.with_name("potwatch.db-wal")
    before = wal_tail(wal)
    assert before.frames > 20 and before.problem is None
    frame = 24 + PAGE_SIZE
    with wal.open("r+b") as fh:  # garbage over a frame half-way through the log's current generation
        fh.seek(32 + frame * (before.frames // 2) + 24 + 100)
        fh.write(os.urandom(300))
    damaged = wal.read_bytes()
    after = wal_tail(wal)
    assert after.dropped >= before.frames // 2 - 1
    kitchen, recorder = resume(path)
    status = recorder.status()
    assert status.startswith("recovered: the write-ahead log has ") and "unreadable frames" in status
    kept = next(tmp_path.glob("potwatch.db-wal.damaged-*"))
    assert kept.read_bytes() == damaged
    # the file itself is sound: what the log held before the garbage is resumed from it, in place
    assert not list(tmp_path.glob("potwatch.db.corrupt-*"))
    assert "1-c2" in kitchen.cooks
    recorder.store.close()
    del killed


# ---- not a database at all ------------------------------------------------------------------------


async def test_a_zero_byte_file_is_an_error_said_aloud_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "potwatch.db"
    cook_and_kill(path)
    with path.open("r+b") as fh:
        fh.truncate(0)
    with caplog.at_level(logging.ERROR):
        kitchen, recorder = resume(path)
    kept = aside(path, "unreadable")
    assert kept.stat().st_size == 0
    status = recorder.status()
    assert (
        status
        == f"new database: the old file was empty (0 bytes) and is kept untouched as {kept}; nothing read from it"
    )
    assert recorder.health()["recording"] == status
    assert any(r.levelname == "ERROR" and "empty (0 bytes)" in r.message for r in caplog.records)
    assert not kitchen.cooks
    # recording goes on, into a new file beside the kept one
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    recorder.store.close()


async def test_a_zero_byte_file_keeps_its_write_ahead_log(tmp_path: Path) -> None:
    """SQLite deletes the -wal of a 0-byte file when it opens it: it must never get the chance."""
    path = tmp_path / "potwatch.db"
    cook_and_kill(path, keep_wal=True)
    wal = path.with_name("potwatch.db-wal")
    log_bytes = wal.read_bytes()
    with path.open("r+b") as fh:
        fh.truncate(0)
    _, recorder = resume(path)
    kept = aside(path, "unreadable")
    assert kept.with_name(kept.name + "-wal").read_bytes() == log_bytes
    recorder.store.close()


async def test_a_text_file_is_an_error_said_aloud_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "potwatch.db"
    text = b"this is not a database, it is a shopping list\n" * 200
    path.write_bytes(text)
    with caplog.at_level(logging.ERROR):
        kitchen, recorder = resume(path)
    kept = aside(path, "unreadable")
    assert kept.read_bytes() == text
    assert recorder.status().startswith("new database: the old file was without SQLite's header")
    assert f"kept untouched as {kept}" in recorder.status()
    assert any(r.levelname == "ERROR" and str(kept) in r.message for r in caplog.records)
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert not kitchen.cooks
    recorder.store.close()


# ---- a read that hits damage while the service runs ----------------------------------------------


async def test_a_damaged_past_cook_says_damaged_not_no_cook(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    clock = HandClock()
    past_cook(path, clock, 600)
    hub, recorder = start(path, HandClock(clock.t + 60.0))  # checked, sound: 1-c1 is in the file only
    assert recorder.status() == "ok" and "1-c1" not in hub.kitchen.cooks
    (page,) = rows(path, "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' LIMIT 1 OFFSET 2")
    scribble(path, int(str(page[0])), 0, 200)  # the card fails under the running service
    async with client_for(hub, recorder) as client:
        listed = (await client.get("/api/cooks")).json()
        assert "1-c1" in [c["id"] for c in listed]  # the cooks table still reads
        for route in ("/api/cooks/1-c1/series", "/api/cooks/1-c1/readings.csv"):
            answer = await client.get(route)
            assert answer.status_code == 503, route
            assert answer.json()["detail"].startswith("cook 1-c1 cannot be read: the history file is damaged")
        health = (await client.get("/healthz")).json()
        assert health["history_damage"].startswith("cook 1-c1 cannot be read")
        assert (await client.get("/api/cooks/9-c9/series")).status_code == 404  # an unknown cook is still 404
    stop(recorder)


# ---- a stop or a kill while recording is paused ------------------------------------------------------


async def test_what_the_hub_did_while_paused_survives_a_stop_before_the_disk_came_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full, the cook stopped and its alarm acknowledged meanwhile, then the service goes down.

    Before, the file ended at the pause: the stopped cook came back running, its alarm ringing again.
    """
    path = tmp_path / "potwatch.db"
    spill = tmp_path / "run"  # the runtime directory: RAM on a real machine, another filesystem in any case
    spill.mkdir()
    clock = HandClock()
    hub, recorder = start(path, clock, retry_s=0.05, spill_dir=spill)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, climb(200.0, 229.5, 60))
    assert recorder.sync()
    failing = fail_writes(monkeypatch, "database or disk is full")
    alarms = [a.id for a in hub.kitchen.active_alerts() if a.level.value == "critical"]
    assert alarms
    hub.apply(Acknowledge(clock.t, "all"))
    feed(hub, clock, [229.0] * 5)
    hub.apply(StopCook(clock.t, "1-c1"))
    recorder._close_unit()
    recorder._wake.set()
    kept = lambda: [op[0] for unit in recorder.spill.load() for op in unit]  # noqa: E731
    wait_until(lambda: "end" in kept(), 5, "the paused backlog, the cook's end with it, kept in the runtime directory")
    assert "ack" in kept()
    assert recorder.status() == "paused: disk full"
    recorder._stopping = True  # the service stops (a kill leaves the same file and the same spill)
    recorder._wake.set()
    assert recorder._thread is not None
    recorder._thread.join(5)
    assert rows(path, "SELECT outcome FROM cooks") == [(None,)]  # the file alone would say: still running
    failing[0] = False
    kitchen, recorder2 = resume(path, spill_dir=spill)
    assert not [c for c in kitchen.cooks.values() if c.ended_at is None]  # not resumed: it was stopped
    assert rows(path, "SELECT outcome FROM cooks") == [("stopped",)]
    recorded = {str(r[0]): bool(r[1]) for r in rows(path, "SELECT id, acked_at IS NOT NULL FROM alerts")}
    assert recorded == {a.id: a.acked for a in hub.kitchen.alerts.values()}  # the acknowledgements too
    assert all(recorded[a] for a in alarms)
    assert not list(spill.iterdir())
    recorder2.store.close()


async def test_cooks_and_alerts_lost_from_a_damaged_summary_are_rebuilt_from_their_events(tmp_path: Path) -> None:
    path = tmp_path / "potwatch.db"
    killed = cook_and_kill(path)
    recorded = rows(path, "SELECT id, cook, kind, level, acked_at, at, wall FROM alerts ORDER BY id")
    for table in ("cooks", "alerts"):  # each one page; the events that made them are intact
        (root,) = [int(str(r[0])) for r in rows(path, "SELECT rootpage FROM sqlite_master WHERE name = ?", table)]
        assert not pages(path, table, "internal")
        scribble(path, root)
    kitchen, recorder = resume(path)
    assert "rows lost from alerts, cooks" in recorder.status()
    assert snapshot(kitchen, killed.clock.t) == snapshot(killed.kitchen, killed.clock.t)
    assert ringing(kitchen) == RINGING
    recorder.store.close()
    listed = rows(path, "SELECT id, profile, outcome, first_seq > 0 FROM cooks ORDER BY first_seq")
    assert listed == [("1-c1", "caramel", "stopped", 1), ("1-c2", "rillons", None, 1), ("1-c3", "caramel", None, 1)]
    rebuilt = rows(path, "SELECT id, cook, kind, level, acked_at, at, wall FROM alerts ORDER BY id")
    assert [r[:6] for r in rebuilt] == [r[:6] for r in recorded]
    assert [r[6] for r in rebuilt] == pytest.approx([r[6] for r in recorded], abs=1.0)  # wall: of the event


async def test_without_room_for_a_scratch_copy_the_damaged_file_is_read_where_it_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card nearly full: the new file fits, a second copy of the old one does not (ENOSPC, raised at the copy)."""
    from service.history import salvage

    path = tmp_path / "potwatch.db"
    cook_and_kill(path)
    leaves = pages(path, "events")
    scribble(path, leaves[len(leaves) // 3], 0, 200)
    damaged = path.read_bytes()

    def no_room(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(salvage.shutil, "copyfile", no_room)
    kitchen, recorder = resume(path)
    assert recorder.status().startswith("salvaged into a new file: 3 cooks and ")
    assert ringing(kitchen) == RINGING
    assert aside(path, "corrupt").read_bytes() == damaged  # read, never written
    recorder.store.close()

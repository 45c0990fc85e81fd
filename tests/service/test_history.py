"""The history recorder, resume and routes against a real SQLite file.

The hub is real (``Hub.apply``), time is a clock the test moves. Disk full and
a read-only directory use real filesystems where this machine allows it (a
size-limited tmpfs, a read-only bind mount, ``chattr +i``: tests run as root
here); where it does not, the same sqlite3 errors are raised at the store's
boundary instead, and a warning says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.simulated import PotScenario, simulate
from service.api.app import AppSettings
from service.core.cook import Kitchen, ProbeSetup
from service.core.events import (
    Acknowledge,
    AlertPushed,
    AlertRaised,
    MarkPushed,
    Output,
    ProbeGone,
    Sample,
    StartCook,
    StopCook,
    Tick,
)
from service.core.profile import HoldStep, Profile
from service.core.units import f_to_c
from service.history import HistoryReader, HistoryRecorder
from service.history.codec import Kind, profile_from_json, profile_json
from service.history.restore import RunRow, restore_now, resumed_now
from service.history.schema import PAGE_SIZE, SCHEMA_VERSION, connect
from service.runtime.clock import Clock
from service.runtime.hub import Hub
from tests.support import api
from tests.support.clock import HandClock
from tests.support.history import PROFILES, climb, fail_writes, feed, recorder_for, snapshot, start, stop
from tests.support.waiting import wait_until

# The rillons recipe with a 15 min braise, so a whole cook is a few thousand samples.
SHORT_RILLONS = Profile(
    "short-rillons",
    "Rillons, short braise",
    (HoldStep("braise", f_to_c(185.0), f_to_c(205.0), 900.0, 60.0), PROFILES["rillons"].steps[1]),
)


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


def alerts_of(outputs: list[Output]) -> list[str]:
    return [o.alert.kind.value for o in outputs if isinstance(o, AlertRaised)]


def sim_trace(seconds: float) -> list[tuple[float, float | None]]:
    scenario = PotScenario(
        kind="rillons",
        seed=3,
        braise_s=1500.0,
        noise_c=0.1,
        spikes_at=(600.0, 2500.0),
        bursts_at=(900.0,),
        faults_at=(700.0, 701.0, 702.0),
        dropouts=((1000.0, 40.0), (2700.0, 25.0)),
    )
    return [(s.t, s.reading_c) for s in simulate(scenario, seconds)]


def play(hub: Hub, clock: HandClock, trace: list[tuple[float, float | None]], t0: float) -> list[Output]:
    """Feed a simulated trace as the live hub would see it: ticks each second, samples as they come."""
    out: list[Output] = []
    for t, celsius in trace:
        at = t0 + t
        while clock.t + 1.0 < at:
            clock.t += 1.0
            out += hub.apply(Tick(clock.t))
        clock.t = at
        out += hub.apply(Sample(at, "pot", "", celsius, None if celsius is not None else "simulated fault"))
    return out


# ---- schema ---------------------------------------------------------------------------------


def test_a_new_file_is_wal_at_the_current_schema(tmp_path: Path) -> None:
    conn = connect(tmp_path / "h.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    conn.close()
    # opening again migrates nothing and keeps the data
    again = connect(tmp_path / "h.db")
    assert again.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    again.close()


async def test_a_file_from_a_newer_potwatch_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
    clock = HandClock()
    hub, recorder = start(path, clock)
    feed(hub, clock, [200.0] * 3)
    wait_until(lambda: recorder.status().startswith("paused"), 5, "the recorder to pause")
    assert "newer potwatch" in recorder.status()
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_profiles_round_trip_exactly() -> None:
    for profile in [*PROFILES.values(), SHORT_RILLONS]:
        back = profile_from_json(json.loads(json.dumps(profile_json(profile))))
        assert back == profile
        # equal is not enough: a StrEnum equals its string, and the tracker reads .value
        assert [type(getattr(s, "end", None)) for s in back.steps] == [
            type(getattr(s, "end", None)) for s in profile.steps
        ]


# ---- recording -----------------------------------------------------------------------------------


async def test_every_input_and_output_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, climb(215.0, 227.0, 60))
    feed(hub, clock, [None, None])  # an open thermocouple: two fault readings make a fault
    clock.t += 1.0
    hub.apply(ProbeGone(clock.t, "pot", "unplugged"))
    feed(hub, clock, [227.0] * 10)
    active = [a.id for a in hub.kitchen.active_alerts()]
    hub.apply(Acknowledge(clock.t, active[0]))
    stop(recorder)

    readings = rows(path, "SELECT celsius, fault, live FROM readings ORDER BY seq")
    assert len(readings) == 72
    assert readings[60] == (None, "Error", 1)
    assert rows(path, "SELECT fault FROM events WHERE kind = ?", Kind.GONE) == [("unplugged",)]
    (cook,) = rows(path, "SELECT id, profile, probe, outcome, offset_c, run FROM cooks")
    assert cook == ("1-c1", "caramel", "pot", None, 0.0, 1)
    stages = [r[0] for r in rows(path, "SELECT stage FROM stages ORDER BY rowid")]
    assert stages[:3] == ["heating", "approaching", "reached"]
    recorded = rows(path, "SELECT id, kind, acked_at FROM alerts ORDER BY rowid")
    assert [r[0] for r in recorded] == list(hub.kitchen.alerts)
    assert {r[1] for r in recorded} >= {"target_approaching", "target_reached", "probe_fault", "probe_lost"}
    assert [r[0] for r in recorded if r[2] is not None] == [active[0]]
    # every row names its run, and the run its boot
    assert rows(path, "SELECT DISTINCT run FROM events") == [(1,)]
    assert rows(path, "SELECT id, chain, boot_id, clean FROM runs") == [(1, 1, "boot-A", 1)]


async def test_readings_are_batched_and_an_alert_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock, flush_every_s=30.0)
    wait_until(lambda: rows(path, "SELECT count(*) FROM runs") == [(1,)], 5, "the run row")
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    await asyncio.sleep(0)  # the hub's step ends: the recorder hands it to the writer
    wait_until(lambda: rows(path, "SELECT count(*) FROM cooks") == [(1,)], 5, "the cook row (written at once)")
    feed(hub, clock, [150.0] * 20)
    await asyncio.sleep(0)
    # plain readings wait for the next batch…
    assert rows(path, "SELECT count(*) FROM readings") == [(0,)]
    outputs = feed(hub, clock, climb(214.0, 226.5, 50))
    assert "target_approaching" in alerts_of(outputs)
    await asyncio.sleep(0)
    # …an alert takes everything before it along, at once
    wait_until(lambda: rows(path, "SELECT count(*) FROM alerts")[0][0] >= 1, 5, "the alert to be written")
    assert rows(path, "SELECT count(*) FROM readings")[0][0] >= 20
    stop(recorder)


async def test_a_tick_is_recorded_only_when_it_changed_something(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 5)
    for _ in range(30):  # silence: ticks only; one of them declares the probe lost
        clock.t += 1.0
        hub.apply(Tick(clock.t))
    stop(recorder)
    ticks = rows(path, "SELECT at FROM events WHERE kind = ?", Kind.TICK)
    assert len(ticks) == 1
    assert rows(path, "SELECT kind FROM alerts") == [("probe_lost",)]
    # a gap is a gap: no reading was invented for the silence
    assert rows(path, "SELECT count(*) FROM readings") == [(5,)]


# ---- resume --------------------------------------------------------------------------------------


async def test_resume_rebuilds_the_kitchen_exactly(tmp_path: Path) -> None:
    """Cut mid-braise and mid-reduction: the rebuilt kitchen equals the one that was running."""
    trace = sim_trace(3100.0)
    for cut in (1100.0, 2960.0):  # holding the braise; the caramel at its target
        path = tmp_path / f"cut-{cut:.0f}.db"
        clock = HandClock()
        hub, recorder = start(path, clock)
        hub.apply(StartCook(clock.t, SHORT_RILLONS, "pot"))
        t0 = clock.t
        before = [s for s in trace if s[0] <= cut]
        after = [s for s in trace if s[0] > cut]
        outputs = play(hub, clock, before[: len(before) // 2], t0)
        ringing = [a.id for a in hub.kitchen.active_alerts()]
        for alert_id in ringing[:1]:
            hub.apply(Acknowledge(clock.t, alert_id))
        outputs += play(hub, clock, before[len(before) // 2 :], t0)
        stop(recorder, clean=False)
        original = hub.kitchen

        fresh = recorder_for(path)
        restored, _ = restore_now(fresh, [ProbeSetup("pot")], HandClock())
        assert snapshot(restored) == snapshot(original)
        cook = restored.cooks["1-c1"]
        assert cook.ended_at is None
        if cut == 1100.0:
            assert (cook.step.name, cook.machine.stage) == ("braise", "holding")
            assert restored.cook_snapshot(cook, restored.now).progress.hold_elapsed_s > 400.0
        else:
            assert (cook.step.name, cook.machine.stage) == ("caramel", "reached")
            assert any(a.kind.value == "target_reached" and a.active for a in restored.alerts.values())
        # the future is the same too: both kitchens answer the rest of the trace identically
        twin_clock = HandClock(clock.t)
        twin = Hub(restored, twin_clock, PROFILES)
        assert play(twin, twin_clock, after, t0) == play(hub, clock, after, t0)
        assert fresh.run_info is not None and fresh.run_info.chain == 1 and fresh.run_info.id == 2
        fresh.store.close()


async def test_a_probe_taken_out_of_the_config_is_dropped_on_resume_unless_a_cook_follows_it(tmp_path: Path) -> None:
    """Else it lives on in the status, on the page and as a retained Home Assistant entity nothing feeds."""
    path = tmp_path / "h.db"
    clock = HandClock()
    recorder = recorder_for(path)
    kitchen, _ = restore_now(recorder, [ProbeSetup("pot"), ProbeSetup("spare"), ProbeSetup("oven")], clock)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    recorder.start()
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "oven"))
    for _ in range(5):
        clock.t += 1.0
        for probe in ("pot", "spare", "oven"):
            hub.apply(Sample(clock.t, probe, "", 90.0))
    stop(recorder, clean=False)

    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    # the spare is gone with all it held; the oven stays, for its running cook has to say it is lost
    assert set(restored.probes) == {"pot", "oven"}
    assert {key[0] for key in restored.tracks} <= {"pot", "oven"}
    assert restored.cooks["1-c1"].probe == "oven"


def _started(path: Path, setups: list[ProbeSetup], clock: HandClock) -> tuple[Hub, HistoryRecorder]:
    """A start of the service on ``path`` with these probes configured."""
    recorder = recorder_for(path)
    kitchen, _ = restore_now(recorder, setups, clock)
    clock.t = max(clock.t, kitchen.now)
    hub = Hub(kitchen, clock, PROFILES)
    recorder.attach(hub)
    recorder.start()
    return hub, recorder


async def test_a_probe_dropped_at_one_restart_stays_dropped_in_the_replay_of_the_next(tmp_path: Path) -> None:
    """The replay gives each run the probes its own start had: the same alerts, the same ids, the same acks.

    Were the removed oven back in the replay, a recorded tick past its stale
    timeout would raise a "lost" that never happened live, shift every later
    alert id by one, and land the cook's acknowledgement on the wrong alert.
    """
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = _started(path, [ProbeSetup("pot", 10.0), ProbeSetup("oven", 10.0)], clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    for _ in range(5):
        clock.t += 1.0
        hub.apply(Tick(clock.t))
        hub.apply(Sample(clock.t, "pot", "", f_to_c(200.0)))
        hub.apply(Sample(clock.t, "oven", "", 90.0))
    stop(recorder, clean=False)

    hub, recorder = _started(path, [ProbeSetup("pot", 10.0)], clock)  # the oven taken out of the config
    assert "oven" not in hub.kitchen.probes
    out: list[Output] = []
    for _ in range(15):  # the pot drops out: lost, on a recorded tick
        clock.t += 1.0
        out += hub.apply(Tick(clock.t))
    for value in [*climb(200.0, 226.0, 60), *[226.0] * 10]:
        clock.t += 1.0
        out += hub.apply(Tick(clock.t))
        out += hub.apply(Sample(clock.t, "pot", "", f_to_c(value)))
    reached = next(o.alert.id for o in out if isinstance(o, AlertRaised) and o.alert.kind.value == "target_reached")
    hub.apply(Acknowledge(clock.t, reached))
    live = {a.id: (a.kind.value, a.probe, a.acked, a.active) for a in hub.kitchen.alerts.values()}
    stop(recorder, clean=False)

    hub, recorder = _started(path, [ProbeSetup("pot", 10.0)], HandClock(clock.t))
    replayed = {a.id: (a.kind.value, a.probe, a.acked, a.active) for a in hub.kitchen.alerts.values()}
    stop(recorder)
    assert replayed == live
    assert live[reached] == ("target_reached", "pot", True, False)


async def test_acked_alerts_stay_acked_and_unacked_ones_ring_again(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    approaching = alerts_of(feed(hub, clock, climb(212.0, 221.0, 60)))
    assert approaching == ["target_approaching"]
    warning = hub.kitchen.active_alerts()[0]
    hub.apply(Acknowledge(clock.t, warning.id))
    assert "target_reached" in alerts_of(feed(hub, clock, [225.0 + 0.05 * i for i in range(20)]))
    stop(recorder, clean=False)

    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    by_kind = {a.kind.value: a for a in restored.alerts.values()}
    assert by_kind["target_approaching"].acked and not by_kind["target_approaching"].active
    assert by_kind["target_reached"].active and not by_kind["target_reached"].acked
    assert restored.cooks["1-c1"].machine.stage == "reached"


async def test_an_alerts_first_accepted_push_is_recorded_and_comes_back_after_a_kill(tmp_path: Path) -> None:
    """What lets a restart push a warning the cut kept from the phone, and not one the phone has."""
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    assert alerts_of(feed(hub, clock, climb(212.0, 221.0, 60))) == ["target_approaching"]
    (warning,) = hub.kitchen.active_alerts()
    pushed_at = clock.t
    assert hub.apply(MarkPushed(pushed_at, warning.id, "push:ntfy")) == [
        AlertPushed(pushed_at, warning.id, "push:ntfy")
    ]
    clock.t += 1.0  # the second service takes it too: no news, the first one is kept
    assert hub.apply(MarkPushed(clock.t, warning.id, "push:pushover")) == []
    assert hub.apply(MarkPushed(clock.t, "1-a99", "push:ntfy")) == []  # an alert the kitchen does not know
    assert "target_reached" in alerts_of(feed(hub, clock, [225.0 + 0.05 * i for i in range(20)]))
    stop(recorder, clean=False)

    recorded = rows(path, "SELECT kind, pushed_at, pushed_via FROM alerts WHERE pushed_at IS NOT NULL")
    assert recorded == [("target_approaching", pushed_at, "push:ntfy")]
    assert len(rows(path, "SELECT seq FROM events WHERE kind = ?", Kind.PUSHED)) == 3  # every input, replayed
    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    by_kind = {a.kind.value: a for a in restored.alerts.values()}
    assert by_kind["target_approaching"].pushed_at == pushed_at  # (cleared since: the target reached)
    assert by_kind["target_reached"].pushed_at is None and by_kind["target_reached"].active


def test_a_resume_continues_the_time_line() -> None:
    run = RunRow(1, 1, "boot-A", mono_base=500.0, line_base=500.0, speed=1.0)
    # same boot: the monotonic clock measures the downtime exactly
    assert resumed_now(900.0, 1e9, run, "boot-A", mono_now=930.0, wall_now=0.0, speed=1.0) == 930.0
    # another boot: the wall clock is all there is…
    assert resumed_now(900.0, 1e9, run, "boot-B", mono_now=12.0, wall_now=1e9 + 45.0, speed=1.0) == 945.0
    # …and one set late by a Pi without a real-time clock never moves time backwards
    assert resumed_now(900.0, 1e9, run, "boot-B", mono_now=12.0, wall_now=1e9 - 3600.0, speed=1.0) == 900.0
    # the demo's clock runs faster: so does its downtime
    fast = RunRow(1, 1, "boot-A", mono_base=500.0, line_base=500.0, speed=60.0)
    assert resumed_now(560.0, 1e9, fast, "boot-A", mono_now=503.0, wall_now=0.0, speed=60.0) == 680.0


async def test_resumed_clock_is_on_the_recorded_time_line(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock(t=50_000.0)
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 5)
    stop(recorder, clean=False)
    recorder2 = recorder_for(path, boot="boot-B")
    restored, new_clock = restore_now(recorder2, [ProbeSetup("pot")], Clock())
    # a real clock now, whose monotonic() continues from the last recorded event, not from this boot's zero
    assert new_clock.monotonic() >= restored.now >= 50_005.0
    assert type(new_clock) is Clock
    recorder2.store.close()


async def test_two_restarts_in_a_row_replay_the_whole_time_line(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    trace = sim_trace(1600.0)
    reference_clock = HandClock()
    reference = Hub(Kitchen([ProbeSetup("pot")], id_prefix="1-"), reference_clock, PROFILES)
    reference.apply(StartCook(reference_clock.t, SHORT_RILLONS, "pot"))
    t0 = reference_clock.t
    play(reference, reference_clock, trace, t0)

    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, SHORT_RILLONS, "pot"))
    play(hub, clock, trace[:500], t0)
    stop(recorder, clean=False)
    for part in (trace[500:1000], trace[1000:]):
        clock = HandClock(clock.t)  # no downtime, so the inputs are exactly the reference's
        hub, recorder = start(path, clock)
        play(hub, clock, part, t0)
        stop(recorder, clean=False)
    assert snapshot(hub.kitchen) == snapshot(reference.kitchen)
    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    assert snapshot(restored) == snapshot(reference.kitchen)
    assert rows(path, "SELECT id, chain FROM runs") == [(1, 1), (2, 1), (3, 1)]


async def test_a_finished_cook_is_not_resumed_and_a_new_time_line_begins(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 5)
    hub.apply(StopCook(clock.t, "1-c1"))
    stop(recorder)
    hub2, recorder2 = start(path, HandClock())
    assert not hub2.kitchen.cooks
    assert hub2.kitchen.id_prefix == "2-"
    hub2.apply(StartCook(hub2.clock.monotonic(), PROFILES["caramel"], "pot"))
    stop(recorder2)
    assert rows(path, "SELECT id, chain, outcome FROM cooks ORDER BY first_seq") == [
        ("1-c1", 1, "stopped"),
        ("2-c1", 2, None),
    ]


# ---- the wall clock ----------------------------------------------------------------------------


async def test_a_wall_clock_jump_never_reorders_history(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0 + i for i in range(30)])
    hub.apply(StopCook(clock.t, "1-c1"))
    clock.jump = -86400.0  # NTP sets the clock a day back (say) between two cooks
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 10)
    clock.jump = +3600.0  # and forward again in the middle of the second one
    feed(hub, clock, [151.0] * 10)
    stop(recorder)
    async with client_for(hub, recorder) as client:
        listed = (await client.get("/api/cooks")).json()
        assert [c["id"] for c in listed] == ["1-c2", "1-c1"]  # newest first although its wall time is older
        # the running cook shows the start /api/status shows (its time line, on today's wall clock)
        status = (await client.get("/api/status")).json()
        assert listed[0]["started_at"] == status["cook"]["started_at"]
        assert listed[1]["started_at"] < listed[0]["started_at"]  # the ended one keeps the stamp it was written with
        points = (await client.get("/api/cooks/1-c2/series")).json()["points"]
    ts = [p[0] for p in points]
    assert ts == sorted(ts) and ts[-1] == pytest.approx(20.0)  # durations from the monotonic line


# ---- read-only and full filesystems -----------------------------------------------------------


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only_bind(folder: Path) -> Iterator[bool]:
    """``folder`` made read-only by a read-only bind mount of itself; False when mounts are not allowed."""
    if not _run("mount", "--bind", str(folder), str(folder)):
        yield False
        return
    try:
        yield _run("mount", "-o", "remount,bind,ro", str(folder), str(folder))
    finally:
        _run("umount", "-l", str(folder))


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[bool]:
    folder.mkdir()
    if not _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)):
        yield False
        return
    try:
        yield True
    finally:
        _run("umount", "-l", str(folder))


def simulated(what: str) -> None:
    warnings.warn(f"{what}: not possible on this machine; the sqlite3 error is simulated at the store", stacklevel=2)


async def test_a_read_only_directory_pauses_recording_but_still_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    path = state / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [200.0] * 20)
    stop(recorder)  # a clean stop: no -wal or -shm left, the hardest file to read on a read-only card
    with read_only_bind(state) as real:
        if not real:
            simulated("a read-only bind mount")
            failing = fail_writes(monkeypatch, "attempt to write a readonly database")
        clock2 = HandClock(clock.t + 5.0)
        hub2, recorder2 = start(path, clock2, retry_s=0.1)
        assert "1-c1" in hub2.kitchen.cooks  # resumed from the read-only file
        feed(hub2, clock2, [201.0] * 10)
        wait_until(lambda: recorder2.status().startswith("paused"), 5, "recording to pause")
        status = recorder2.status()
        assert status in ("paused: read-only file system", "paused: read-only: attempt to write a readonly database")
        assert int(str(recorder2.health()["recording_backlog"])) >= 10  # the run row and the readings, in memory
        if not real:
            failing[0] = False
    # the card is writable again: what was kept in memory goes in
    wait_until(lambda: recorder2.status() == "ok", 10, "recording to resume")
    stop(recorder2)
    assert rows(path, "SELECT count(*) FROM readings WHERE run = 2") == [(10,)]
    assert rows(path, "SELECT id, chain FROM runs") == [(1, 1), (2, 1)]


async def test_writes_refused_mid_run_pause_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel refusing writes under a running recorder (``chattr +i``: EPERM, like an ext4 gone read-only)."""
    state = tmp_path / "state"
    state.mkdir()
    path = state / "potwatch.db"
    clock = HandClock()
    hub, recorder = start(path, clock, retry_s=0.1)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 5)
    assert recorder.sync()
    frozen = [path, path.with_name("potwatch.db-wal"), state]  # never -shm: it is mapped, writes would SIGBUS
    real = _run("chattr", "+i", *map(str, frozen))
    try:
        if not real:
            simulated("chattr +i")
            failing = fail_writes(monkeypatch, "disk I/O error")
        feed(hub, clock, [151.0] * 2000)  # more than the WAL has room for already
        outputs = feed(hub, clock, [224.0 + 0.3 * i for i in range(20)])
        assert "target_reached" in alerts_of(outputs)  # the tracker does not care
        await asyncio.sleep(0)
        wait_until(lambda: recorder.status().startswith("paused"), 5, "recording to pause")
        # which refusal SQLite meets first depends on where its writer is: a page write (I/O
        # error) or reopening the journal (read-only); both are the same pause to the cook
        refusals = ("paused: disk I/O error", "paused: read-only: attempt to write a readonly database")
        assert recorder.status() in refusals
    finally:
        if real:
            _run("chattr", "-i", *map(str, frozen))
        else:
            failing[0] = False
    wait_until(lambda: recorder.status() == "ok", 10, "recording to resume")
    stop(recorder)
    assert rows(path, "SELECT count(*) FROM readings") == [(5 + 2000 + 20,)]
    assert rows(path, "SELECT count(*) FROM alerts WHERE kind = 'target_reached'") == [(1,)]
    assert rows(path, "PRAGMA quick_check") == [("ok",)]


async def test_a_full_disk_pauses_recording_and_it_resumes_when_space_is_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tmp_path / "small"
    with tmpfs(small, "2m") as real:
        if not real:
            small.mkdir(exist_ok=True)
            simulated("a size-limited tmpfs")
            failing = fail_writes(monkeypatch, "database or disk is full")
        path = small / "potwatch.db"
        clock = HandClock()
        hub, recorder = start(path, clock, retry_s=0.1)
        hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
        feed(hub, clock, [150.0] * 5)
        assert recorder.sync() or not real
        filler = small / "filler"
        if real:
            # unbuffered: a short write leaves nothing for close() to flush (and fail on) outside the suppress
            with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
        feed(hub, clock, [150.0 + 0.01 * i for i in range(3000)])
        await asyncio.sleep(0)
        recorder._wake.set()
        wait_until(lambda: recorder.status() == "paused: disk full", 5, "recording to pause")
        health = recorder.health()
        assert health["recording"] == "paused: disk full" and int(str(health["recording_backlog"])) > 0
        if real:
            filler.unlink()
        else:
            failing[0] = False
        wait_until(lambda: recorder.status() == "ok", 10, "recording to resume")
        stop(recorder)
        assert rows(path, "SELECT count(*) FROM readings") == [(3005,)]
        assert rows(path, "PRAGMA quick_check") == [("ok",)]


# ---- the routes ----------------------------------------------------------------------------------


def client_for(hub: Hub, recorder: HistoryRecorder) -> httpx.AsyncClient:
    return api.client_for(hub, AppSettings(history=HistoryReader(recorder.path), health=[recorder.health]))


async def test_routes_list_page_and_describe_cooks(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    for i in range(3):
        hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
        out = feed(hub, clock, climb(200.0, 229.5, 60))
        if i < 2:
            hub.apply(StopCook(clock.t, f"1-c{i + 1}"))
    assert "target_reached" in alerts_of(out)
    hub.apply(Acknowledge(clock.t, "all"))
    stop(recorder)
    # a later start: the first run's cooks are in the file only
    hub2, recorder2 = start(path, HandClock(clock.t + 100.0))
    async with client_for(hub2, recorder2) as client:
        r = await client.get("/api/cooks", params={"limit": 2})
        assert r.headers["X-Total-Count"] == "3"
        assert [c["id"] for c in r.json()] == ["1-c3", "1-c2"]
        assert [c["id"] for c in (await client.get("/api/cooks?limit=2&offset=2")).json()] == ["1-c1"]
        assert (await client.get("/api/cooks?limit=0")).status_code == 422
        running = (await client.get("/api/cooks/current")).json()
        assert running["id"] == "1-c3" and running["stage"] == "reached" and running["running"]
        past = (await client.get("/api/cooks/1-c1")).json()
        assert past["outcome"] == "stopped" and past["steps"] == ["caramel"]
        assert past["target_c"] == pytest.approx(f_to_c(225.0), abs=0.01)
        assert [s["stage"] for s in past["stages"]][:2] == ["heating", "approaching"]
        assert {"id", "kind", "level", "acked", "at", "message"} <= set(past["alerts"][0])
        assert (await client.get("/api/cooks/9-c9")).status_code == 404
        assert (await client.get("/api/cooks/9-c9/series")).status_code == 404
        assert (await client.get("/api/cooks/9-c9/readings.csv")).status_code == 404
        health = (await client.get("/healthz")).json()
        assert health["recording"] == "ok"
    stop(recorder2)


async def test_series_is_thinned_and_shows_gaps(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0 + 0.001 * i for i in range(5000)])
    clock.t += 120.0  # two minutes without a reading
    feed(hub, clock, [155.0] * 100)
    stop(recorder)
    async with client_for(hub, recorder) as client:
        body = (await client.get("/api/cooks/1-c1/series")).json()
    assert set(body) >= {"cook", "t0", "points", "target_c", "stages", "alerts"}
    assert len(body["points"]) <= 2000 + 10
    nulls = [p for p in body["points"] if p[1] is None]
    assert len(nulls) == 1 and 5000 < nulls[0][0] < 5121
    assert [a[1] for a in body["alerts"]] == ["probe_lost", "probe_restored"]


async def test_the_csv_export_replays_to_the_same_alerts(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    scenario = PotScenario(kind="caramel", seed=5, noise_c=0.1, spikes_at=(900.0,), bursts_at=(1200.0,),
                           faults_at=(1300.0, 1301.0, 1302.0, 1303.0), dropouts=((1500.0, 30.0),))  # fmt: skip
    trace = [(s.t, s.reading_c) for s in simulate(scenario, 2000.0)]
    outputs = play(hub, clock, trace, clock.t)
    stop(recorder)
    live = [(o.alert.kind.value, o.alert.level.value, o.alert.step) for o in outputs if isinstance(o, AlertRaised)]
    assert {"probe_fault", "probe_lost", "target_reached", "target_overshoot"} <= {k for k, _, _ in live}
    async with client_for(hub, recorder) as client:
        r = await client.get("/api/cooks/1-c1/readings.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0] == "# profile: caramel"
    assert "t,temp_c,probe" in r.text.splitlines()
    exported = tmp_path / "cook.csv"
    exported.write_text(r.text)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "replay", str(exported)], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    replayed = [(x["kind"], x["level"], x["step"]) for x in lines if x["type"] == "alert"]
    assert replayed == live
    recorded = rows(path, "SELECT at - (SELECT started_at FROM cooks), kind FROM alerts ORDER BY rowid")
    assert [x["t"] for x in lines if x["type"] == "alert"] == pytest.approx([t for t, _ in recorded], abs=0.01)


# ---- retention -----------------------------------------------------------------------------------


async def test_retention_forgets_old_cooks_but_never_the_current_time_line(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 10)
    hub.apply(StopCook(clock.t, "1-c1"))
    feed(hub, clock, [20.0] * 10)  # between cooks
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 10)
    hub.apply(StopCook(clock.t, "1-c2"))
    stop(recorder)
    with contextlib.closing(sqlite3.connect(path)) as conn:  # the first run was 40 days ago
        conn.execute("UPDATE cooks SET started_wall = started_wall - 40 * 86400, ended_wall = ended_wall - 40 * 86400")
        conn.execute("UPDATE events SET wall = wall - 40 * 86400")
        conn.execute("UPDATE cooks SET started_wall = started_wall + 35 * 86400, ended_wall = ended_wall + 35 * 86400 "
                     "WHERE id = '1-c2'")  # fmt: skip
        conn.commit()
    hub2, recorder2 = start(path, HandClock(clock.t + 10.0), retention_days=30)
    hub2.apply(StartCook(hub2.clock.monotonic(), PROFILES["caramel"], "pot"))
    assert recorder2.sync()
    stop(recorder2)
    assert [r[0] for r in rows(path, "SELECT id FROM cooks ORDER BY first_seq")] == ["1-c2", "2-c1"]
    # the first cook's readings and the idle ones between cooks are gone; the second cook's stay
    assert rows(path, "SELECT count(*) FROM readings WHERE run = 1") == [(10,)]
    assert rows(path, "SELECT count(*) FROM alerts WHERE cook = '1-c1'") == [(0,)]


# ---- snapshots and migrations ---------------------------------------------------------------


async def test_a_resume_starts_from_the_newest_snapshot_and_is_still_exact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock, checkpoint_every_s=0.0)  # a snapshot after every hub step
    hub.apply(StartCook(clock.t, SHORT_RILLONS, "pot"))
    trace = sim_trace(1400.0)
    play(hub, clock, trace, clock.t)
    stop(recorder, clean=False)
    assert len(rows(path, "SELECT seq FROM checkpoints")) == 1  # only the newest is kept
    with caplog.at_level(logging.INFO):
        restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    assert "replayed from a snapshot" in caplog.text
    assert snapshot(restored, clock.t) == snapshot(hub.kitchen, clock.t)


async def test_a_snapshot_mid_way_plus_the_events_after_it_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock, checkpoint_every_s=1e9)
    hub.apply(StartCook(clock.t, SHORT_RILLONS, "pot"))
    t0 = clock.t
    trace = sim_trace(1400.0)
    play(hub, clock, trace[:700], t0)
    await asyncio.sleep(0)
    recorder._checkpoint()  # as the timer would, half-way
    play(hub, clock, trace[700:], t0)
    stop(recorder, clean=False)
    (seq,) = rows(path, "SELECT seq FROM checkpoints")[0]
    assert rows(path, "SELECT count(*) FROM events WHERE seq > ?", seq)[0][0] > 600
    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    assert snapshot(restored, clock.t) == snapshot(hub.kitchen, clock.t)


async def test_a_snapshot_from_another_version_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock, checkpoint_every_s=0.0)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 30)
    stop(recorder, clean=False)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE checkpoints SET version = '0.0.1'")
        conn.commit()
    with caplog.at_level(logging.INFO):
        restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock())
    assert "replayed from its start" in caplog.text
    assert snapshot(restored) == snapshot(hub.kitchen)


def test_a_snapshot_may_only_hold_the_tracker() -> None:
    import pickle
    import zlib

    from service.history import checkpoint

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os)\.system"):
        checkpoint.load(zlib.compress(pickle.dumps(Evil())))
    with pytest.raises(pickle.UnpicklingError, match="holds a dict"):
        checkpoint.load(zlib.compress(pickle.dumps({"a": 1})))
    kitchen = Kitchen([ProbeSetup("pot")], id_prefix="7-")
    kitchen.handle(StartCook(1.0, PROFILES["rillons"], "pot"))
    assert checkpoint.load(checkpoint.dump(kitchen)).cooks["7-c1"].profile == PROFILES["rillons"]


def test_a_version_1_file_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    from service.history.schema import MIGRATIONS, _statements

    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in _statements(MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO runs (id, chain, after_seq, boot_id, started_wall, mono_base, line_base, setups, version) "
            "VALUES (1, 1, 0, 'b', 0, 0, 0, '[]', 'old')"
        )
        conn.commit()
    conn2 = connect(path)
    assert conn2.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert conn2.execute("SELECT count(*) FROM heater_log").fetchone()[0] == 0
    assert conn2.execute("SELECT version FROM runs").fetchall() == [("old",)]
    assert conn2.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0
    conn2.close()


async def test_a_version_2_file_is_migrated_forward_and_its_cook_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file from before the push record: its alerts get empty ``pushed_*`` columns, its snapshots are dropped
    (their alerts lack the mark: a replay from the start is exact), and its unfinished cook resumes."""
    from service.history import schema

    path = tmp_path / "old.db"
    clock = HandClock()
    with monkeypatch.context() as patch:  # the potwatch of schema 2 writes the file
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        patch.setattr(schema, "SCHEMA_VERSION", 2)
        hub, recorder = start(path, clock, checkpoint_every_s=0.0)
        hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
        assert alerts_of(feed(hub, clock, climb(212.0, 221.0, 60))) == ["target_approaching"]
        (warning,) = hub.kitchen.active_alerts()
        stop(recorder, clean=False)
    assert rows(path, "PRAGMA user_version") == [(2,)]
    assert rows(path, "SELECT count(*) FROM checkpoints")[0][0] > 0
    with pytest.raises(sqlite3.OperationalError, match="pushed_at"):
        rows(path, "SELECT pushed_at FROM alerts")

    restored, _ = restore_now(recorder_for(path), [ProbeSetup("pot")], HandClock(clock.t))
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert rows(path, "SELECT id, pushed_at, pushed_via FROM alerts") == [(warning.id, None, None)]
    assert rows(path, "SELECT count(*) FROM checkpoints") == [(0,)]
    assert restored.cooks["1-c1"].ended_at is None
    assert restored.alerts[warning.id].active and restored.alerts[warning.id].pushed_at is None


async def test_a_cook_that_cannot_be_resumed_is_marked_interrupted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "h.db"
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, [150.0] * 10)
    stop(recorder, clean=False)
    with contextlib.closing(sqlite3.connect(path)) as conn:  # a recipe this potwatch cannot read any more
        conn.execute("UPDATE events SET data = '{\"name\": 1}' WHERE kind = ?", (Kind.START,))
        conn.commit()
    clock2 = HandClock(clock.t + 60.0)
    with caplog.at_level(logging.ERROR):
        hub2, recorder2 = start(path, clock2)
    assert "cannot resume" in caplog.text and not hub2.kitchen.cooks
    feed(hub2, clock2, [20.0] * 5)
    stop(recorder2)
    assert rows(path, "SELECT id, outcome, ended_at IS NOT NULL FROM cooks") == [("1-c1", "interrupted", 1)]
    async with client_for(hub2, recorder2) as client:
        listed = (await client.get("/api/cooks")).json()
        points = (await client.get("/api/cooks/1-c1/series")).json()["points"]
    assert listed[0]["outcome"] == "interrupted" and not listed[0]["running"]
    assert len(points) == 10  # the readings of the next run are not this cook's


async def test_without_a_file_the_routes_answer_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "h.db"  # a state directory that is not there (an unmounted card)
    clock = HandClock()
    hub, recorder = start(path, clock)
    hub.apply(StartCook(clock.t, PROFILES["caramel"], "pot"))
    feed(hub, clock, climb(210.0, 227.0, 40))
    await asyncio.sleep(0)
    wait_until(lambda: recorder.status().startswith("paused"), 5, "recording to pause")
    async with client_for(hub, recorder) as client:
        assert (await client.get("/healthz")).json()["recording"].startswith("paused: ")
        (listed,) = (await client.get("/api/cooks")).json()
        assert listed["id"] == "1-c1" and listed["running"]
        detail = (await client.get("/api/cooks/1-c1")).json()
        assert detail["stage"] == "reached"
        assert [s["stage"] for s in detail["stages"]] == ["heating", "approaching", "reached"]
        series = (await client.get("/api/cooks/1-c1/series")).json()
        assert len(series["points"]) == 40
        csv = (await client.get("/api/cooks/1-c1/readings.csv")).text
        assert csv.startswith("# profile: caramel") and len(csv.splitlines()) == 40 + 4


def test_a_snapshot_of_every_kind_of_tracker_state_loads_and_goes_on_the_same() -> None:
    """The snapshot loader only takes public classes of service.core: anything a cook holds must be one."""
    from service.core.events import Sample
    from service.history import checkpoint
    from tests.core.traces import lagged, run, syrup_curve

    truth, _ = syrup_curve(rate_at_target=6.0, seconds=1200.0)
    probe = lagged(truth, 15.0)
    half = len(probe) * 3 // 4  # on the boil, fitting, the pot's slope filled
    kitchen = run(probe[:half], lag_s=15.0, altitude_m=300.0).kitchen
    copy = checkpoint.load(checkpoint.dump(kitchen))
    for t, f in probe[half:]:
        assert f is not None
        sample = Sample(t, "pot", "", f_to_c(f))
        assert repr(copy.handle(sample)) == repr(kitchen.handle(sample))

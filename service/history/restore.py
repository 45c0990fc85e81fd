"""Resume after a power cut: rebuild the kitchen from the recorded events, on the recorded time line.

The tracker is pure, so feeding a fresh ``Kitchen`` the same inputs in the same
order gives the same kitchen: the stage, the hold time counted, the alerts with
their ids, which were acknowledged and which still ring. The inputs replayed
are those of the whole time line ("chain") the unfinished cook belongs to,
from the start with nothing to resume that began it, so even the probe
filters and the id counters come back as they were. To keep that short on a
Pi that has run for weeks, the replay starts from the newest snapshot of the
kitchen on that line (checkpoint.py, every 10 min) when there is one.

The clock then continues that time line: ``Clock.monotonic()`` after the
restart reads the last recorded time plus the downtime, so the downtime is
time without readings (a probe lost, a hold timer that did not count it),
never a jump backwards. Within one boot the downtime comes from the monotonic
clock and is exact; across a reboot it can only come from the wall clock,
which a Pi without a real-time clock may set late, so a negative downtime
counts as none.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sqlite3
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service import __version__
from service.core.cook import Kitchen, ProbeSetup
from service.history import checkpoint
from service.history.codec import SELECT_EVENTS, row_event, setups_from_json
from service.history.reader import HistoryReader
from service.history.recorder import HistoryRecorder
from service.history.rederive import missing_cooks, write_back, write_back_alerts
from service.history.runs import fresh_run, run_info
from service.runtime.clock import Clock, ScaledClock

log = logging.getLogger(__name__)

# the run each event was recorded in, first: a run's setups apply where it began
SELECT_REPLAY = SELECT_EVENTS.replace("SELECT ", "SELECT run, ", 1) + " WHERE seq > ? ORDER BY seq"

Restore = Callable[[list[ProbeSetup], Clock], Awaitable[tuple[Kitchen, Clock]]]


def restorer(recorder: HistoryRecorder) -> Restore:
    """The ``restore`` coroutine ``Service`` calls before the hub exists."""

    async def restore(setups: list[ProbeSetup], clock: Clock) -> tuple[Kitchen, Clock]:
        return await asyncio.to_thread(restore_now, recorder, setups, clock)

    return restore


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    chain: int
    boot_id: str
    mono_base: float
    line_base: float
    speed: float


def resumed_now(
    last_at: float, last_wall: float, run: RunRow, this_boot: str, mono_now: float, wall_now: float, speed: float
) -> float:
    """Where the time line stands now, given the last recorded event and the run that recorded it."""
    if run.boot_id == this_boot:
        recorded_mono = run.mono_base + (last_at - run.line_base) / run.speed
        real = mono_now - recorded_mono
    else:
        real = wall_now - last_wall
    return last_at + max(0.0, real) * speed


def continued_clock(clock: Clock, line_now: float) -> Clock:
    """A clock of the same kind whose monotonic() reads ``line_now`` now."""
    if isinstance(clock, ScaledClock):
        return ScaledClock(clock.speed, line_now - time.monotonic())
    return Clock(line_now - time.monotonic())


def restore_now(recorder: HistoryRecorder, setups: list[ProbeSetup], clock: Clock) -> tuple[Kitchen, Clock]:
    """Open the file and resume its unfinished cooks, or start a new time line."""
    conn = recorder.open_for_restore(HistoryReader(recorder.path).connect)
    if conn is not None:
        try:
            resumed = _resume(recorder, conn, setups, clock)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            log.error("history: cannot resume from %s (%s); starting afresh", recorder.path, exc)
            resumed = None
        finally:
            if conn is not recorder.store.conn:
                conn.close()
        if resumed is not None:
            return resumed
    info = fresh_run(recorder.store.conn, recorder.path, recorder.boot(), setups, clock)
    recorder.begin_run(info)
    return Kitchen(setups, id_prefix=info.id_prefix), clock


def _starting_point(
    conn: sqlite3.Connection, chain: int, after_seq: int, chain_setups: str, setups: list[ProbeSetup]
) -> tuple[Kitchen, int, str]:
    """The newest usable snapshot of the time line, or a fresh kitchen at its start; and the seq it stands at."""
    found = conn.execute(
        "SELECT seq, version, state FROM checkpoints WHERE seq > ? ORDER BY seq DESC LIMIT 1", (after_seq,)
    ).fetchone()
    if found is not None and found[1] == __version__:
        try:
            kitchen = checkpoint.load(found[2])
        except (pickle.UnpicklingError, zlib.error, EOFError, AttributeError, ImportError, TypeError) as exc:
            log.warning("history: ignoring a kitchen snapshot that does not load (%s); replaying from the start", exc)
        else:
            if kitchen.id_prefix == f"{chain}-":
                return kitchen, int(found[0]), "a snapshot"
    # the probes as the time line began with them; each later run's come where it began
    return Kitchen(setups_from_json(chain_setups), id_prefix=f"{chain}-"), after_seq, "its start"


def _resume(
    recorder: HistoryRecorder, conn: sqlite3.Connection, setups: list[ProbeSetup], clock: Clock
) -> tuple[Kitchen, Clock] | None:
    last = conn.execute("SELECT id, chain FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        return None
    run_id = int(last[0]) + 1
    chain = int(last[1])
    unfinished = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM cooks WHERE chain = ? AND ended_at IS NULL AND outcome IS NULL ORDER BY first_seq",
            (chain,),
        )
    ]
    salvaged = recorder.store.salvaged
    lost_rows = salvaged is not None and salvaged.lost("cooks")
    if not unfinished and not lost_rows:
        return None
    head = conn.execute("SELECT after_seq, setups FROM runs WHERE id = ?", (chain,)).fetchone()
    if head is None:
        return None
    started = time.perf_counter()
    kitchen, after, origin = _starting_point(conn, chain, head[0], head[1], setups)
    handle = kitchen.handle
    # the later runs of this time line, each with the probes its start gave the kitchen
    starts = {
        int(r[0]): setups_from_json(r[1])
        for r in conn.execute(
            "SELECT id, setups FROM runs WHERE chain = ? AND id != ? AND after_seq >= ? ORDER BY id",
            (chain, chain, after),
        )
    }
    count = 0
    for row in conn.execute(SELECT_REPLAY, (after,)):
        while starts and min(starts) <= row[0]:
            kitchen.configure(starts.pop(min(starts)))
        event = row_event(row[1:])
        count += 1
        try:
            handle(event)
        except Exception:
            # the hub logged and skipped the same failure live: do exactly the same
            log.exception("history: the tracker failed on a recorded event %r", event)
    last = conn.execute(
        "SELECT e.at, e.wall, r.id, r.chain, r.boot_id, r.mono_base, r.line_base, r.speed FROM events e "
        "JOIN runs r ON r.id = e.run WHERE e.seq = (SELECT max(seq) FROM events WHERE seq > ?)",
        (head[0],),
    ).fetchone()
    if last is None:
        return None
    if lost_rows:
        # a damaged page cost rows of the cooks summary: the replay knows those cooks (rederive.py)
        missing = missing_cooks(conn, kitchen, chain)
        if missing and conn is recorder.store.conn:
            write_back(conn, kitchen, chain, missing)
        unfinished += [c.id for c in missing if c.ended_at is None]
        if not unfinished:
            return None
    if salvaged is not None and salvaged.lost("alerts") and conn is recorder.store.conn:
        write_back_alerts(conn, kitchen)
    last_at, last_wall = float(last[0]), float(last[1])
    run = RunRow(*last[2:])
    now_line = resumed_now(last_at, last_wall, run, recorder.boot(), time.monotonic(), time.time(), clock.speed)
    now_line = max(now_line, kitchen.now)
    clock = continued_clock(clock, now_line)
    for start in sorted(starts):  # runs that recorded no event
        kitchen.configure(starts[start])
    # this start's probes, as every start's were: settings from this config, removed ones dropped
    before = set(kitchen.probes)
    kept = kitchen.configure(setups)
    for probe_id in sorted(before - set(kitchen.probes)):
        log.info("history: probe %s is no longer in the config: dropped", probe_id)
    for probe_id in kept:
        log.warning("history: probe %s is no longer in the config, but a running cook follows it", probe_id)
    recorder.begin_run(run_info(run_id, chain, recorder.boot(), setups, clock))
    took = time.perf_counter() - started
    for cook_id in unfinished:
        cook = kitchen.cooks.get(cook_id)
        if cook is None or cook.ended_at is not None:
            continue
        held = kitchen.cook_snapshot(cook, now_line).progress.hold_elapsed_s
        log.info(
            "history: resumed cook %s (%s): step %s, stage %s%s; down %.1f s; %d events replayed from %s in %.2f s",
            cook.id,
            cook.profile.name,
            cook.step.name,
            cook.machine.stage,
            f", held {held:.0f} s" if held is not None else "",
            (now_line - last_at) / clock.speed,
            count,
            origin,
            took,
        )
    active = [a.id for a in kitchen.active_alerts()]
    if active:
        log.warning("history: alerts still ringing after the restart: %s", ", ".join(active))
    return kitchen, clock

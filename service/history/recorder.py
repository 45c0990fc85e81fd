"""The history recorder: a Part that writes everything the hub applies and emits to SQLite.

The hub calls our hooks in its own task for every input and output; they only
encode a row (a tuple) and append it. A writer thread commits what has
gathered every ``FLUSH_EVERY_S`` seconds, and at once after an alert, an ack, a
stage change or a cook starting or ending. One commit per reading would cost
the SD card a 4 KiB page each; a batch shares the page (docs/history.md has the
measured bytes per reading).

When the file cannot be written (disk full, read-only, I/O errors) recording
pauses and says so on /healthz; what the hub applied meanwhile is kept in
memory (up to ``MAX_BACKLOG`` hub steps; beyond that readings are dropped, never
commands or alerts) and written when the file takes writes again. It is also
saved in the runtime directory (spill.py) at each failed flush, so a stop or
a kill before then does not lose it: the next start writes it first.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from service import __version__
from service.core.events import (
    AlertAcked,
    AlertPushed,
    AlertRaised,
    CookEnded,
    CookStarted,
    Event,
    Output,
    StageChanged,
    Tick,
)
from service.history import checkpoint
from service.history.codec import Kind, event_row
from service.history.overrides import DOUBT, OVERRIDE, recorded_overrides, unwritten_overrides
from service.history.reader import damage_found
from service.history.runs import RunInfo, boot_id, fresh_run, probe_setups
from service.history.schema import NotOurs, Trouble, classify, describe
from service.history.spill import Spill
from service.history.store import Op, Store, Unit, Unusable
from service.runtime.clock import Clock
from service.runtime.views import HeaterCommand, HeaterDoubt, HeaterOverride, HeaterRecord, Recalled

if TYPE_CHECKING:
    from fastapi import APIRouter

    from service.core.cook import Kitchen
    from service.runtime.hub import Hub

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 3.0  # the most a cut can lose, plus one commit's time; the issue allows 5 s
RETRY_S = 5.0  # a paused recorder tries the file again this often
RETENTION_EVERY_S = 6 * 3600.0
MAX_BACKLOG = 50_000  # hub steps kept in memory while paused: 14 h of a 1 Hz probe
URGENT = (AlertRaised, AlertAcked, AlertPushed, CookStarted, CookEnded, StageChanged)


class HistoryRecorder:
    """The Part: ``attach`` hooks into the hub, ``run`` starts the writer thread, ``close`` flushes."""

    name = "history"

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int | None = None,
        flush_every_s: float = FLUSH_EVERY_S,
        retry_s: float = RETRY_S,
        checkpoint_every_s: float = checkpoint.CHECKPOINT_EVERY_S,
        boot: Callable[[], str] = boot_id,
        spill_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.spill = Spill(path, spill_dir)
        self.retention_days = retention_days
        self.flush_every_s = flush_every_s
        self.retry_s = retry_s
        self.checkpoint_every_s = checkpoint_every_s
        self.boot = boot
        self.store = Store(path)
        self.run_info: RunInfo | None = None
        # read (never changed) for a cook's title and calibration, and for the snapshots
        self._kitchen: Kitchen | None = None
        self._clock: Clock = Clock()
        # hub side (event loop thread only)
        self._unit: Unit = []
        self._tick_only = False
        self._urgent = False
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # handed over to the writer: deque appends/pops are atomic
        self._queue: deque[Unit] = deque()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._queued = 0  # units handed over (hub side)
        self._written = 0  # units committed (writer side)
        # writer side
        self._backlog: list[Unit] = []
        self._paused: str | None = None
        self._opened = False
        self._retry_at = 0.0
        self._dropped = 0
        self._spilled = -1  # backlog length last saved to the spill (-1: nothing there of ours)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._forget_at = 0.0
        self._checkpoint_at = time.monotonic() + checkpoint_every_s

    # ---- wiring -------------------------------------------------------------------

    def begin_run(self, info: RunInfo) -> None:
        """Called by the restore (before the hub exists): the run every row will name."""
        self.run_info = info
        params = (info.id, info.chain, info.boot_id, info.started_wall, info.mono_base, info.line_base, info.speed,
                  info.setups, __version__)  # fmt: skip
        unit: Unit = [("run", params)]
        if info.chain == info.id:
            unit.append(("interrupt", (info.chain,)))
        self._queue.append(unit)
        self._queued += 1

    def remembered(self, heater_ids: list[str]) -> Recalled:
        """The heaters' last overrides at this start (``Heaters.remembered``; overrides.py).

        Called at the heaters' attach, after the restore has opened the file: by then
        its first open has checked it, and ``Store.lost_at_start`` says what a damage
        cost. An override still waiting in the backlog (a paused run's spill that the
        file refuses at this start) is newer than the file's and wins over it.

        A file that could not even be opened at this start (a card remounted
        read-only refuses the write-ahead log) was never checked, and its spill was
        never taken into the backlog (that happens once it opens): the spill is read
        here, and the file's rows are in doubt, so the heaters start forced off.
        """
        doubt = self.store.lost_at_start("heater_log")
        pending = list(self._backlog)
        if not self._opened:
            pending = [*self.spill.load(), *pending]
            doubt = doubt or "the file could not be opened to be checked at this start"
        recalled = recorded_overrides(self.path, heater_ids, doubt)
        unwritten = unwritten_overrides(pending, heater_ids)
        return Recalled({**recalled.modes, **unwritten}, recalled.doubt)

    def attach(self, hub: Hub) -> None:
        self._kitchen = hub.kitchen
        self._clock = hub.clock
        if self.run_info is None:
            self._begin_without_restore(hub)
        hub.on_input.append(self._on_input)
        hub.on_output.append(self._on_output)
        hub.on_heater.append(self._on_heater)

    def routers(self) -> list[APIRouter]:
        """None: the API reads past cooks with a ``HistoryReader`` of its own (service.api.cooks)."""
        return []

    def health(self) -> dict[str, object]:
        body: dict[str, object] = {"recording": self.status()}
        if self._paused is not None:
            body["recording_backlog"] = len(self._backlog) + len(self._queue)
        damage = damage_found(self.path)
        if damage is not None:
            body["history_damage"] = damage  # a read of a past cook hit a damaged page (reader.py)
        return body

    def status(self) -> str:
        if self._paused is not None:
            return f"paused: {self._paused}"
        return self.store.note or "ok"

    async def run(self) -> None:
        self.start()
        await asyncio.Event().wait()

    async def close(self) -> None:
        """Flush what is left, mark the run as stopped in order, close the file."""
        self._close_unit()
        thread = self._thread
        if thread is None:
            self.store.close()
            return
        self._stopping = True
        self._wake.set()
        await asyncio.to_thread(thread.join, 5.0)

    # ---- the hub's hooks (event loop: hand over, never block) --------------------

    def _on_input(self, event: Event) -> None:
        if self._unit:
            self._close_unit()
        info = self.run_info
        run = info.id if info is not None else 0
        clock = self._clock
        self._unit = [("event", event_row(event, run, clock.wall_at(event.at)))]
        self._tick_only = type(event) is Tick
        if not self._scheduled:
            self._scheduled = True
            loop = self._loop
            if loop is None:
                try:
                    loop = self._loop = asyncio.get_running_loop()
                except RuntimeError:
                    loop = None
            if loop is not None:
                # after the hub's apply() returns: the unit then holds every output of this input
                loop.call_soon(self._close_unit)

    def _on_output(self, out: Output) -> None:
        ops = self._ops_for(out)
        if not ops:
            return
        self._unit.extend(ops)
        self._tick_only = False
        if isinstance(out, URGENT):
            self._urgent = True

    def _on_heater(self, item: HeaterRecord) -> None:
        """A plug command or report, or a cook's override: its own unit.

        An OFF and an override are written at once: a command is what a cook asks about
        afterwards, and an override is what the next start reads back (overrides.py), so a
        kill or a power cut just after the cook said "off" must not lose it.
        """
        info = self.run_info
        run = info.id if info is not None else 0
        kitchen = self._kitchen
        running = kitchen.running_on(item.probe) if kitchen is not None else None
        cook = running.id if running is not None else None
        wall = self._clock.wall_at(item.at)
        row: tuple[object, ...]
        if isinstance(item, HeaterCommand):
            row = (run, cook, item.at, wall, item.heater, "command", int(item.on), None, item.hold_s, int(item.sent),
                   item.reason)  # fmt: skip
        elif isinstance(item, HeaterOverride):
            row = (run, cook, item.at, wall, item.heater, OVERRIDE, None, None, None, None, item.mode)
        elif isinstance(item, HeaterDoubt):
            row = (run, cook, item.at, wall, item.heater, DOUBT, None, None, None, None, item.why)
        elif item.on is not None:
            row = (run, cook, item.at, wall, item.heater, "state", int(item.on), None, None, None, item.detail)
        else:
            available = None if item.available is None else int(item.available)
            row = (run, cook, item.at, wall, item.heater, "availability", None, available, None, None, item.detail)
        self._queue.append([("heater", row)])
        self._queued += 1
        if isinstance(item, HeaterOverride) or (isinstance(item, HeaterCommand) and item.on is False):
            self._wake.set()

    def _ops_for(self, out: Output) -> list[Op]:
        info = self.run_info
        run = info.id if info is not None else 0
        wall = self._clock.wall_at(out.at)
        if isinstance(out, AlertRaised):
            a = out.alert
            return [("alert", (a.id, a.cook_id, run, a.at, wall, a.kind.value, a.level.value, a.probe, a.step,
                               a.celsius, a.message))]  # fmt: skip
        if isinstance(out, AlertAcked):
            return [("ack", (out.at, wall, out.alert_id))]
        if isinstance(out, AlertPushed):
            return [("pushed", (out.at, wall, out.channel, out.alert_id))]
        if isinstance(out, StageChanged):
            previous = str(out.previous) if out.previous is not None else None
            return [("stage", (out.cook_id, run, out.at, wall, out.step, str(out.stage), previous))]
        if isinstance(out, CookStarted):
            return [self._cook_op(out, run, wall)]
        if isinstance(out, CookEnded):
            return [("end", (out.at, wall, out.outcome, out.cook_id))]
        return []

    def _cook_op(self, out: CookStarted, run: int, wall: float) -> Op:
        kitchen = self._kitchen
        info = self.run_info
        title, channel, boil_c, offset_c = out.profile, None, None, 0.0
        if kitchen is not None:
            cook = kitchen.cooks.get(out.cook_id)
            health = kitchen.probes.get(out.probe)
            if cook is not None:
                title, channel = cook.profile.title, cook.channel
            if health is not None:
                boil_c, offset_c = health.boil_c, health.offset_c
        chain = info.chain if info is not None else 0
        return ("cook", (out.cook_id, chain, run, out.profile, title, out.probe, channel, out.at, wall, boil_c,
                         offset_c))  # fmt: skip

    def _close_unit(self) -> None:
        self._scheduled = False
        unit, self._unit = self._unit, []
        if not unit or (self._tick_only and len(unit) == 1):
            # a tick that changed nothing is not history (and replaying it would change nothing)
            return
        self._queue.append(unit)
        self._queued += 1
        if self._urgent:
            self._urgent = False
            self._wake.set()
        if time.monotonic() >= self._checkpoint_at:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Snapshot the kitchen as it stands after the unit just handed over (see checkpoint.py)."""
        self._checkpoint_at = time.monotonic() + self.checkpoint_every_s
        kitchen, info = self._kitchen, self.run_info
        if kitchen is None or info is None:
            return
        try:
            blob = checkpoint.dump(kitchen)
        except Exception:
            log.exception("history: cannot snapshot the kitchen; a resume replays from the start")
            return
        self._queue.append([("checkpoint", (info.id, __version__, blob)), ("prune", ())])
        self._queued += 1

    # ---- the writer thread ---------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name="history-writer", daemon=True)
        self._thread.start()

    def sync(self, timeout: float = 10.0) -> bool:
        """Write everything handed over so far, now; True when it is in the file.

        For tests and benchmarks, from the hub's own thread (it closes the hub
        step in progress); it blocks that thread until the commit is done.
        """
        self._close_unit()
        target = self._queued
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._written >= target, timeout)

    def _main(self) -> None:
        next_flush = time.monotonic()
        while True:
            wait = max(0.0, next_flush - time.monotonic())
            self._wake.wait(wait)
            self._wake.clear()
            stopping = self._stopping
            if self._paused is not None and not stopping and time.monotonic() < self._retry_at:
                next_flush = self._retry_at
                continue
            self._flush()
            next_flush = time.monotonic() + (self.flush_every_s if self._paused is None else self.retry_s)
            if stopping:
                self._finish()
                return

    def _take(self) -> None:
        queue = self._queue
        while queue:
            self._backlog.append(queue.popleft())
        if len(self._backlog) > MAX_BACKLOG:
            self._drop_readings()

    def _drop_readings(self) -> None:
        """Keep commands, alerts and stages; let the oldest plain readings go."""
        excess = len(self._backlog) - MAX_BACKLOG
        kept: list[Unit] = []
        for unit in self._backlog:
            if excess > 0 and len(unit) == 1 and unit[0][0] == "event" and unit[0][1][1] == Kind.READING:
                excess -= 1
                self._dropped += 1
                continue
            kept.append(unit)
        if self._dropped and self._dropped % 1000 < 100:
            log.warning("history: recording paused too long: %d readings dropped so far", self._dropped)
        # what was dropped is still counted as handled, or sync() would wait for it forever
        self._mark_written(len(self._backlog) - len(kept))
        self._backlog = kept

    def _flush(self) -> None:
        self._take()
        backlog = self._backlog
        try:
            self._open()
            backlog = self._backlog  # _open may have put a spilled backlog in front
            if backlog:
                self.store.write(backlog)
        except Unusable as exc:
            self._pause(exc.reason, exc.trouble)
            self._keep_backlog()
            return
        except (sqlite3.Error, OSError) as exc:
            trouble = classify(exc)
            if trouble is Trouble.CORRUPT:
                self._corrupt_mid_run(exc)
                return
            self._pause(describe(trouble, self.path, exc), trouble, exc)
            self._keep_backlog()
            return
        written = len(backlog)
        self._backlog = []
        self._mark_written(written)
        if self._spilled >= 0:
            self.spill.clear()
            self._spilled = -1
        if self._paused is not None:
            log.warning("history: recording resumed; %d steps written from memory", written)
            self._paused = None
        self._maybe_forget()

    def _keep_backlog(self) -> None:
        """Paused: save the backlog beside memory too, so a stop or a kill before the file comes back loses nothing."""
        if self._backlog and len(self._backlog) != self._spilled:
            self.spill.save(self._backlog)
            self._spilled = len(self._backlog)

    def _mark_written(self, units: int) -> None:
        with self._done:
            self._written += units
            self._done.notify_all()

    def _open(self) -> None:
        if self.store.conn is not None:
            return
        first = not self._opened
        try:
            self.store.open(first=first)
        except NotOurs as exc:
            raise Unusable(f"{exc}; move {self.path} away to record again", Trouble.OTHER) from None
        self._opened = True
        if first:
            self._write_spilled()

    def _write_spilled(self) -> None:
        """What the last run did while paused (spill.py): into the file before the restore reads it."""
        units = self.spill.load()
        if not units:
            return
        try:
            self.store.write(units)
        except (sqlite3.Error, OSError):
            # still paused for it: keep it first in line, and in the spill
            self._backlog[:0] = units
            self._spilled = 0
            raise
        self.spill.clear()
        log.warning(
            "history: wrote %d steps the last run kept while recording was paused (from %s)",
            len(units),
            self.spill.path,
        )

    def _pause(self, reason: str, trouble: Trouble, exc: BaseException | None = None) -> None:
        if self._paused != reason:
            detail = f" ({exc})" if exc is not None and str(exc) not in reason else ""
            log.error("history: recording paused: %s%s; retrying every %g s", reason, detail, self.retry_s)
        self._paused = reason
        self._retry_at = time.monotonic() + self.retry_s
        # a fresh connection on the retry: after a remount the old one may hold a dead file
        self.store.close()

    def _corrupt_mid_run(self, exc: BaseException) -> None:
        """The file went bad under us: set it aside, salvage what it still reads, go on with this run's row first.

        Salvaged, because the cook running now began in that file: without its
        start and its events a later resume would have nothing to rebuild.
        """
        try:
            self.store.replace(f"damaged while recording ({exc})", "corrupt")
        except (sqlite3.Error, OSError) as move_exc:
            self.store.close()
            self._pause(describe(classify(move_exc), self.path, move_exc), classify(move_exc), move_exc)
            return
        info = self.run_info
        if info is not None:
            params = (info.id, info.chain, info.boot_id, info.started_wall, info.mono_base, info.line_base,
                      info.speed, info.setups, __version__)  # fmt: skip
            self._backlog.insert(0, [("run", params)])
        self._retry_at = 0.0
        self._paused = "starting a new database"
        self._wake.set()

    def _maybe_forget(self) -> None:
        days = self.retention_days
        info = self.run_info
        if days is None or info is None or time.monotonic() < self._forget_at:
            return
        self._forget_at = time.monotonic() + RETENTION_EVERY_S
        conn = self.store.conn
        if conn is None:
            return
        try:
            row = conn.execute("SELECT after_seq FROM runs WHERE id = ?", (info.chain,)).fetchone()
            keep_from = (row[0] if row else 0) + 1
            forgotten = self.store.forget_before(time.time() - days * 86400.0, keep_from)
        except (sqlite3.Error, OSError) as exc:
            log.warning("history: retention failed: %s", exc)
            return
        if forgotten:
            log.info("history: forgot %d cooks older than %d days", forgotten, days)

    def _finish(self) -> None:
        info = self.run_info
        if self._paused is None and info is not None and self.store.conn is not None:
            try:
                self.store.write([[("clean", (info.id,))]])
            except (sqlite3.Error, OSError) as exc:
                log.warning("history: could not mark the run as stopped in order: %s", exc)
        elif self._backlog:
            log.error(
                "history: stopping with %d steps not recorded (%s); kept in %s for the next start",
                len(self._backlog),
                self._paused,
                self.spill.path,
            )
        self.store.close()

    # ---- for the restore ---------------------------------------------------------------

    def open_for_restore(self, read_only: Callable[[], sqlite3.Connection | None]) -> sqlite3.Connection | None:
        """Open the file before the hub exists (check it, migrate it, move a bad one aside).

        Returns the writer's connection, or ``read_only()`` when the file
        cannot be written now (a resume from a read-only card still works), or
        None for a file that is not ours to read.
        """
        try:
            self._open()
            return self.store.conn
        except Unusable as exc:
            self._pause(exc.reason, exc.trouble)
            return None
        except (sqlite3.Error, OSError) as exc:
            trouble = classify(exc)
            self._pause(describe(trouble, self.path, exc), trouble, exc)
            return read_only()

    def _begin_without_restore(self, hub: Hub) -> None:
        """Wired without the restore: a fresh time line, ids namespaced so they cannot repeat."""
        info = fresh_run(self.store.conn, self.path, self.boot(), probe_setups(hub.kitchen), hub.clock)
        if not hub.kitchen.cooks and not hub.kitchen.alerts:
            hub.kitchen.id_prefix = info.id_prefix
        self.begin_run(info)

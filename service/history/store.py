"""The recorder's side of the file: open and check it (a bad one set aside, salvaged), write batches, forget old cooks.

Everything here runs on the recorder's writer thread (or, before the hub
exists, in the restore's worker thread), never on the event loop. One batch is
one transaction: a cut leaves the file at the end of the last whole batch, and
a batch holds whole hub steps (an input with everything it caused), so the
events log and the cooks, stages and alerts it produced always agree.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from service.history.codec import INSERT_EVENT
from service.history.integrity import harmless, precheck, quick_check, serious, wal_tail
from service.history.reader import forget_damage
from service.history.salvage import Salvaged, salvage
from service.history.schema import NotOurs, Trouble, aside_name, classify, connect, move_aside

log = logging.getLogger(__name__)

# One write: (statement key, parameters). A unit is one hub step's writes, never split.
Op = tuple[str, tuple[Any, ...]]
Unit = list[Op]

LAST_SEQ = "(SELECT coalesce(max(seq), 0) FROM events)"
SQL: dict[str, str] = {
    "event": INSERT_EVENT,
    "run": (
        "INSERT OR IGNORE INTO runs (id, chain, after_seq, boot_id, started_wall, mono_base, line_base, speed, "
        f"setups, version) VALUES (?, ?, {LAST_SEQ}, ?, ?, ?, ?, ?, ?, ?)"
    ),
    # a new time line: cooks left unfinished on an older one will never be resumed
    "interrupt": (
        f"UPDATE cooks SET outcome = 'interrupted', last_seq = {LAST_SEQ}, "
        f"ended_at = (SELECT at FROM events WHERE seq = {LAST_SEQ}), "
        f"ended_wall = (SELECT wall FROM events WHERE seq = {LAST_SEQ}) "
        "WHERE ended_at IS NULL AND outcome IS NULL AND chain != ?"
    ),
    "cook": (
        "INSERT OR IGNORE INTO cooks (id, chain, run, profile, title, probe, channel, started_at, started_wall, "
        f"boil_c, offset_c, first_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {LAST_SEQ})"
    ),
    "end": f"UPDATE cooks SET ended_at = ?, ended_wall = ?, outcome = ?, last_seq = {LAST_SEQ} WHERE id = ?",
    "stage": "INSERT INTO stages (cook, run, at, wall, step, stage, previous) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "alert": (
        "INSERT OR IGNORE INTO alerts (id, cook, run, at, wall, kind, level, probe, step, celsius, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "ack": "UPDATE alerts SET acked_at = ?, acked_wall = ? WHERE id = ? AND acked_at IS NULL",
    "pushed": "UPDATE alerts SET pushed_at = ?, pushed_wall = ?, pushed_via = ? WHERE id = ? AND pushed_at IS NULL",
    "heater": (
        "INSERT INTO heater_log (run, cook, at, wall, heater, what, on_, available, hold_s, sent, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "clean": "UPDATE runs SET clean = 1 WHERE id = ?",
    "checkpoint": f"INSERT OR REPLACE INTO checkpoints (seq, run, version, state) VALUES ({LAST_SEQ}, ?, ?, ?)",
    # only the newest snapshot is ever used
    "prune": "DELETE FROM checkpoints WHERE seq < (SELECT max(seq) FROM checkpoints)",
}


class Unusable(Exception):
    """The file cannot be recorded to now; ``reason`` is what /healthz says."""

    def __init__(self, reason: str, trouble: Trouble) -> None:
        super().__init__(reason)
        self.reason = reason
        self.trouble = trouble


class Store:
    """The writer's connection to the history file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        # set when a bad file was moved aside this run: /healthz keeps saying so
        self.note: str | None = None
        self.last_check = "not checked"
        # what the first open carried over from a damaged file, for the restore (rederive.py)
        self.salvaged: Salvaged | None = None
        # what the first open found wrong, for ``lost_at_start``: why the file was set aside, and
        # what a damaged write-ahead log lost (SQLite dropped its frames, whichever tables they held)
        self.set_aside_at_start: str | None = None
        self.log_lost_at_start: str | None = None

    # ---- opening -----------------------------------------------------------------

    def open(self, *, first: bool) -> sqlite3.Connection:
        """Connect and migrate; on the first open, check the file and set a bad one aside, salvaged.

        The check runs after a clean stop too: a card can go bad while the
        service is stopped, and ``quick_check`` costs ~0.4 s per 100 MB.
        Raises NotOurs for a file we must not touch, or a sqlite3/OS error when
        the file cannot be written now (read-only, full): the caller pauses.
        """
        if self.conn is not None:
            return self.conn
        path = self.path
        existed = path.exists()
        checking = first and existed
        if checking:
            unfit = precheck(path)
            if unfit is not None:
                self.set_aside_at_start = unfit
                return self.replace(unfit, "unreadable")
            self._keep_a_damaged_log()
        try:
            conn = connect(path)
            try:
                problem = self._check(conn) if checking else None
            except BaseException:
                conn.close()
                raise
        except NotOurs:
            raise
        except (sqlite3.Error, OSError) as exc:
            corrupt = classify(exc) is Trouble.CORRUPT
            if not (existed and (corrupt or _unreadable(path, exc))):
                raise
            why = f"{'damaged' if corrupt else 'unreadable'} ({exc})"
            if checking:
                self.set_aside_at_start = why
            return self.replace(why, "corrupt")
        if problem is not None:
            conn.close()
            self.set_aside_at_start = f"damaged (quick_check: {problem})"
            return self.replace(self.set_aside_at_start, "corrupt")
        self.conn = conn
        return conn

    def lost_at_start(self, table: str) -> str | None:
        """Why rows of ``table`` may be missing since this start's check of the file, or None.

        For the heaters (``table`` = ``heater_log``): a forced off that was on a
        lost page must not come back as the "auto" an older row says. Rows may be
        missing when the write-ahead log had frames SQLite dropped (they can have
        held any table's pages), or when the file was set aside and the salvage
        read nothing of it (a file with no header, 0 bytes, unreadable: no run, no
        event), failed, or lost rows of ``table``. A file set aside whose salvage
        read every row of ``table`` (a damaged header or schema page, a bad page
        of events) has lost none of them: None, as for a sound or a new file.
        """
        if self.log_lost_at_start is not None:
            return self.log_lost_at_start
        why = self.set_aside_at_start
        if why is None:
            return None
        got = self.salvaged
        if got is None or not got.anything:
            return f"the file was {why}; nothing could be read from it"
        if got.lost(table):
            return f"the file was {why}; rows of {table} were lost"
        return None

    def replace(self, why: str, tag: str) -> sqlite3.Connection:
        """Set the file aside as it is, start a new one, and carry into it what the old one still reads."""
        path = self.path
        self.close()
        moved = move_aside(path, tag)
        forget_damage(path)
        conn = connect(path)
        try:
            got = salvage(moved, conn)
        except BaseException:
            conn.close()
            raise
        self.salvaged = got
        if got.anything:
            self.note = f"salvaged into a new file: {got.summary()}; the old file was {why} and is kept as {moved}"
            log.error("history: %s was %s; moved it to %s; %s (%.2f s)", path, why, moved, got.summary(), got.seconds)
        else:
            self.note = f"new database: the old file was {why} and is kept untouched as {moved}; nothing read from it"
            log.error("history: %s was %s; kept it as %s; nothing could be read from it; recording into a new file",
                      path, why, moved)  # fmt: skip
        self.conn = conn
        return conn

    def _check(self, conn: sqlite3.Connection) -> str | None:
        """What ``quick_check`` found that matters, or None; harmless complaints are only logged."""
        started = time.perf_counter()
        try:
            rows = quick_check(conn)
        except sqlite3.DatabaseError as exc:
            if classify(exc) is not Trouble.CORRUPT:
                raise
            rows = [(str(exc),)]  # a page so broken that the check itself stops there
        took = time.perf_counter() - started
        problems = serious(rows)
        spare = harmless(rows)
        verdict = "; ".join(problems[:3]) if problems else "ok"
        self.last_check = f"quick_check {verdict} in {took:.2f} s"
        log.info("history: %s: %s%s", self.path, self.last_check, f" ({spare} unused pages, harmless)" * bool(spare))
        return verdict if problems else None

    def _keep_a_damaged_log(self) -> None:
        """Before SQLite drops a damaged ``-wal`` tail (and the next write reuses the log), keep a copy and say so."""
        wal = self.path.with_name(self.path.name + "-wal")
        problem = wal_tail(wal).problem if wal.exists() else None
        if problem is None:
            return
        kept = aside_name(wal, "damaged")
        try:
            shutil.copyfile(wal, kept)
            where = f"; a copy is kept as {kept}"
        except OSError as exc:
            log.warning("history: could not keep a copy of %s: %s", wal, exc)
            where = ""
        self.note = f"recovered: {problem}{where}"
        self.log_lost_at_start = problem
        log.error("history: %s: %s%s", self.path, problem, where)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                log.debug("history: closing: %s", exc)

    # ---- writing -----------------------------------------------------------------

    def write(self, units: Iterable[Unit]) -> int:
        """Write every unit in one transaction; return the number of ops written."""
        conn = self.conn
        if conn is None:
            raise sqlite3.OperationalError("not open")
        ops = [op for unit in units for op in unit]
        if not ops:
            return 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            for key, group in groupby(ops, key=lambda op: op[0]):
                params = [op[1] for op in group]
                if len(params) == 1:
                    conn.execute(SQL[key], params[0])
                else:
                    conn.executemany(SQL[key], params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error as exc:
                    log.debug("history: rollback: %s", exc)
            raise
        return len(ops)

    # ---- retention ---------------------------------------------------------------

    def forget_before(self, cut_wall: float, keep_from_seq: int) -> int:
        """Delete cooks that ended before ``cut_wall`` (epoch s) and events no kept cook needs.

        Events at or after ``keep_from_seq`` (the current time line's) are never
        deleted: a resume replays them. Returns the number of cooks forgotten.
        """
        conn = self.conn
        if conn is None:
            return 0
        newest = conn.execute("SELECT max(wall) FROM events").fetchone()[0]
        if newest is not None and time.time() < newest - 86400.0:
            # the clock is behind what was recorded (a Pi before NTP): a cut from it means nothing
            log.info("history: retention skipped: the wall clock is behind the history")
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM cooks WHERE coalesce(ended_wall, started_wall) < ? "
                    "AND (ended_at IS NOT NULL OR outcome IS NOT NULL)",
                    (cut_wall,),
                )
            ]
            for cook_id in old:
                conn.execute("DELETE FROM stages WHERE cook = ?", (cook_id,))
                conn.execute("DELETE FROM alerts WHERE cook = ?", (cook_id,))
                conn.execute("DELETE FROM cooks WHERE id = ?", (cook_id,))
            conn.execute("DELETE FROM alerts WHERE cook IS NULL AND wall < ?", (cut_wall,))
            ranges = conn.execute(
                "SELECT first_seq, coalesce(last_seq, ?) FROM cooks ORDER BY first_seq", (keep_from_seq,)
            ).fetchall()
            for low, high in _gaps(ranges, keep_from_seq):
                conn.execute("DELETE FROM events WHERE seq > ? AND seq < ? AND wall < ?", (low, high, cut_wall))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return len(old)


def _gaps(ranges: Sequence[tuple[int, int]], stop: int) -> list[tuple[int, int]]:
    """The open intervals of seq below ``stop`` that no (first, last) range covers."""
    out: list[tuple[int, int]] = []
    low = 0
    for first, last in ranges:
        if first > low + 1:
            out.append((low, min(first, stop)))
        low = max(low, last)
        if low >= stop:
            return out
    if stop > low + 1:
        out.append((low, stop))
    return out


def _unreadable(path: Path, exc: BaseException) -> bool:
    """An existing file we may not read, in a folder we may write: move it aside like a corrupt one."""
    if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN":
        return False
    return os.access(path.parent, os.W_OK) and not os.access(path, os.R_OK | os.W_OK)

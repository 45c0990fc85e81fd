"""The history file: its tables, its migrations and how it is opened.

One SQLite file in WAL mode. ``events`` is the tracker's input log, one row per
event applied by the hub, in the order applied (``seq``): replaying it through a
fresh ``Kitchen`` rebuilds the kitchen exactly, because the tracker is pure.
``cooks``, ``stages`` and ``alerts`` are what came out, kept for people and the
API. Every row names its ``run`` (one start of the service); a run knows its
kernel boot id and where its monotonic clock sat on the time line, so history is
ordered by run and monotonic time, never by the wall clock that a Pi without a
real-time clock sets late.

The schema version is ``PRAGMA user_version``; ``MIGRATIONS[i]`` takes a file
from version ``i`` to ``i + 1`` and each runs in its own transaction, so a cut
in the middle of one leaves the file at the version before it. ``INDEXES`` only
make a question faster: each is made, if missing, after the migrations, so a
file of this version written before it gets it at its next start, and the
version stays (an older potwatch of the same version still opens the file, and
SQLite keeps the index up to date for it).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

log = logging.getLogger(__name__)

# The recorder commits a few rows every few seconds, and each commit appends the
# changed pages to the WAL, each with a 24-byte header. A 4 KiB page's frame then
# straddles two 4 KiB filesystem blocks (8 KiB dirtied per commit); a 1 KiB one
# fits in one. bench/history_write.py measures it: 1 KiB pages cost the disk
# about a third less per reading (docs/history.md).
PAGE_SIZE = 1024
# Keep the WAL file from growing past this between checkpoints (bytes).
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024
BUSY_TIMEOUT_MS = 5000

MIGRATIONS: list[str] = [
    # 0 → 1: the first schema.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        chain INTEGER NOT NULL,          -- the first run of the time line this run continues
        after_seq INTEGER NOT NULL,      -- events of this run have seq > after_seq
        boot_id TEXT NOT NULL,           -- /proc/sys/kernel/random/boot_id of this start
        started_wall REAL NOT NULL,      -- epoch seconds, for people
        mono_base REAL NOT NULL,         -- time.monotonic() at the start
        line_base REAL NOT NULL,         -- the tracker's time line at the start
        speed REAL NOT NULL DEFAULT 1.0, -- the demo's clock runs faster
        setups TEXT NOT NULL,            -- JSON: the probes the kitchen started with
        version TEXT NOT NULL,
        clean INTEGER NOT NULL DEFAULT 0 -- 1: stopped in order (no integrity check needed)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,         -- the order the hub applied them in
        run INTEGER NOT NULL,
        kind INTEGER NOT NULL,           -- see codec.Kind
        at REAL NOT NULL,                -- the tracker's time line (monotonic seconds)
        wall REAL NOT NULL,              -- epoch seconds when it happened, for people
        probe TEXT,
        channel TEXT,
        celsius REAL,                    -- a reading's value (NULL: a fault), a calibration's boil
        fault TEXT,                      -- a fault reading's reason, a lost probe's reason
        live INTEGER,                    -- 0: a retained (old) value
        data TEXT                        -- a command's argument: profile JSON, cook or alert id
    );
    CREATE VIEW readings AS
        SELECT seq, run, at, wall, probe, channel, celsius, fault, live FROM events WHERE kind = 0;
    CREATE TABLE cooks (
        id TEXT PRIMARY KEY,             -- the tracker's id, unique per time line ("12-c1")
        chain INTEGER NOT NULL,
        run INTEGER NOT NULL,
        profile TEXT NOT NULL,
        title TEXT NOT NULL,
        probe TEXT NOT NULL,
        channel TEXT,
        first_seq INTEGER NOT NULL,      -- the StartCook event
        last_seq INTEGER,                -- the event that ended it
        started_at REAL NOT NULL,
        started_wall REAL NOT NULL,
        ended_at REAL,
        ended_wall REAL,
        outcome TEXT,                    -- done | stopped | interrupted
        boil_c REAL,                     -- calibration used at the start (NULL: water boils at 100 °C)
        offset_c REAL NOT NULL DEFAULT 0.0
    );
    CREATE TABLE stages (
        cook TEXT NOT NULL,
        run INTEGER NOT NULL,
        at REAL NOT NULL,
        wall REAL NOT NULL,
        step TEXT NOT NULL,
        stage TEXT NOT NULL,
        previous TEXT
    );
    CREATE INDEX stages_cook ON stages (cook);
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        cook TEXT,
        run INTEGER NOT NULL,
        at REAL NOT NULL,
        wall REAL NOT NULL,
        kind TEXT NOT NULL,
        level TEXT NOT NULL,
        probe TEXT NOT NULL,
        step TEXT,
        celsius REAL,
        message TEXT NOT NULL,
        acked_at REAL,
        acked_wall REAL
    );
    CREATE INDEX alerts_cook ON alerts (cook);
    """,
    # 1 → 2: kitchen snapshots, so a resume does not replay weeks of readings (checkpoint.py).
    """
    CREATE TABLE checkpoints (
        seq INTEGER PRIMARY KEY,         -- the last event applied to the kitchen in this snapshot
        run INTEGER NOT NULL,
        version TEXT NOT NULL,           -- the potwatch that wrote it; another one replays from the start
        state BLOB NOT NULL              -- zlib(pickle(Kitchen))
    );
    """,
    # 2 → 3: an alert's first accepted push (events of kind 9 carry it for the replay), so that
    # a restart pushes a warning the power cut kept from its phone, and not one already there.
    # A potwatch of schema 2 would not know those events: the version keeps it off the file.
    # Its snapshots hold alerts without the mark: dropped, a resume replays from the start once.
    """
    DELETE FROM checkpoints;
    ALTER TABLE alerts ADD COLUMN pushed_at REAL;
    ALTER TABLE alerts ADD COLUMN pushed_wall REAL;
    ALTER TABLE alerts ADD COLUMN pushed_via TEXT;  -- the push channel that took it first ("push:ntfy")
    """,
    # 3 → 4: the heaters (docs/heat.md): every command sent to a plug and every report from it, and
    # events of kinds 10 and 11 (a heater's mismatch alert, raised and cleared) that a potwatch of
    # schema 3 would not know. Its snapshots hold a kitchen without the heater alerts: dropped.
    """
    DELETE FROM checkpoints;
    CREATE TABLE heater_log (
        run INTEGER NOT NULL,
        cook TEXT,                       -- the cook running on the heater's probe then (NULL: none)
        at REAL NOT NULL,                -- the tracker's time line
        wall REAL NOT NULL,
        heater TEXT NOT NULL,
        what TEXT NOT NULL,              -- command | state | availability
        on_ INTEGER,                     -- command, state: 1 on, 0 off
        available INTEGER,               -- availability: 1 usable, 0 not
        hold_s REAL,                     -- an ON command: the dead-man period the plug was given
        sent INTEGER,                    -- a command: 1 it reached a live link to an available plug
        detail TEXT                      -- a command's reason, a state's topic, why (un)available
    );
    CREATE INDEX heater_log_cook ON heater_log (cook);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Made by migrate(), after the migrations, so nothing in them may depend on one; and never in the
# template a salvage rebuilds a file's schema pages from (salvage.py): an index's pages come after the
# tables', where a file made before it has its first rows.
# Each with the first schema version that has its table: a file written at an older version (what the
# tests' older potwatch writes, SCHEMA_VERSION patched down) has no table to index.
INDEXES: list[tuple[int, str]] = [
    # each heater's newest override at the start (overrides.py, whose query repeats this WHERE to use it):
    # the override rows alone, by heater and rowid, not an entry for each command and report of a year
    (4, "CREATE INDEX IF NOT EXISTS heater_log_override ON heater_log (heater) WHERE what = 'override'"),
]


class Trouble(Enum):
    """What a failed SQLite call means for the recorder."""

    CORRUPT = "corrupt"  # move the file aside, start a new one
    FULL = "disk full"  # pause, retry
    READ_ONLY = "read-only"  # pause, retry
    IO = "disk I/O error"  # pause, retry (a read-only remount shows up as this)
    OTHER = "error"


_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


def classify(exc: BaseException) -> Trouble:
    """Translate a sqlite3 or OS error once, here, into what the recorder does about it."""
    if isinstance(exc, sqlite3.Error):
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(tuple(_CORRUPT)) or "malformed" in str(exc) or "not a database" in str(exc):
            return Trouble.CORRUPT
        if name == "SQLITE_FULL" or "disk is full" in str(exc):
            return Trouble.FULL
        if name.startswith("SQLITE_READONLY") or "readonly" in str(exc):
            return Trouble.READ_ONLY
        if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "I/O error" in str(exc):
            return Trouble.IO
        return Trouble.OTHER
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Trouble.FULL
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return Trouble.READ_ONLY
        return Trouble.IO
    return Trouble.OTHER


def describe(trouble: Trouble, path: Path, exc: BaseException) -> str:
    """The words /healthz shows: what is wrong, with the filesystem's own answer where it helps."""
    if trouble is Trouble.FULL:
        return "disk full"
    folder = path.parent
    try:
        stat = os.statvfs(folder)
    except OSError:
        return f"{trouble.value}: {exc}"
    if stat.f_flag & os.ST_RDONLY:
        return "read-only file system"
    if stat.f_bavail * stat.f_frsize < 64 * 1024:
        return "disk full"
    if trouble is Trouble.READ_ONLY:
        return f"read-only: {exc}"
    return trouble.value if str(exc) == trouble.value else f"{trouble.value}: {exc}"


class NotOurs(Exception):
    """A file that is a database, but not a potwatch history (or one from a newer potwatch)."""


def connect(path: Path) -> sqlite3.Connection:
    """The writer's connection: WAL, and a commit is on the card when it returns.

    ``synchronous=FULL`` syncs the WAL at every commit. With NORMAL a commit
    survives a crash of the process but not a power cut: the kernel may hold it
    for 30 s before writing it, and the issue asks for at most 5 s lost.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        fresh = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        if fresh:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL (journal_mode is {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read(path: Path) -> sqlite3.Connection:
    """A reader's connection (the API, a restore from a read-only card): never writes.

    A WAL file needs its ``-shm`` index to be read; on a read-only filesystem
    where the last stop removed it, nobody can be writing, so the file is
    opened as immutable instead.
    """
    for query in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{path.as_uri()}?{query}", uri=True, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            if query == "immutable=1":
                raise
            continue
        return conn
    raise AssertionError("unreachable")


def migrate(conn: sqlite3.Connection, *, indexes: bool = True) -> None:
    """Bring the file forward to SCHEMA_VERSION; refuse one we do not understand."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise NotOurs(f"the database is from a newer potwatch (schema {version}, this one knows {SCHEMA_VERSION})")
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
        if tables:
            raise NotOurs("the file is an SQLite database, but not a potwatch history")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[target - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("history: schema migrated to version %d", target)
    for since, statement in INDEXES if indexes else ():
        if since <= SCHEMA_VERSION:
            conn.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out


def aside_name(path: Path, tag: str) -> Path:
    """``potwatch.db.corrupt-20261128T140200Z`` (``-2``, ``-3`` when that is taken): a name beside ``path``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
    return target


def move_aside(path: Path, tag: str = "corrupt") -> Path:
    """Rename a bad file (and its WAL) out of the way, unchanged; the data stays for anyone who wants to look."""
    target = aside_name(path, tag)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    path.replace(target)
    return target

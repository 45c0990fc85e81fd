"""Carry what a damaged history file still reads into a new one, so the running cook can resume.

A file SQLite cannot walk safely (quick_check found a broken b-tree, the
header or the schema page is gone, the file was cut short) is moved aside and
never written again: writing into a damaged b-tree can spread the damage. But
a single bad page usually costs a few hundred rows, not the cook: the rest of
the file still reads. So before the new file takes its first write, every
table is copied into it row by row, in rowid order, from a scratch copy of
the moved file (the moved file itself stays as it was, for its owner):

- a read that fails at a damaged page skips ahead (rowids 1, 2, 4, … further
  on, then back by halves to the first that reads), so one bad leaf costs the
  rows on it and a bad interior page the subtree under it, nothing more;
- rows keep their rowids (``seq``, ``first_seq`` and ``last_seq`` still
  agree), so the restore then replays the salvaged file exactly as it would
  have replayed the old one: the unfinished cook, its snapshot and its
  events, an unacknowledged alarm ringing again;
- when SQLite will not open the copy at all (a damaged header, a damaged
  schema page, a 0-byte file whose pages are all still in its ``-wal``), the
  copy's header and schema pages are rebuilt from a fresh potwatch file of
  the same page size: a potwatch history always puts its tables at the same
  root pages, so the rest of the file reads again. A root page that does not look like a
  b-tree of the right kind is not read.

What could not be read is counted and named (the ``seq`` ranges of events
lost); a hole in the events of a cook being resumed is, for the replay, a
silence of its probe, as a hole from a long pause is (docs/history.md).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.history.integrity import MAGIC, WAL_MAGIC, precheck
from service.history.schema import PAGE_SIZE, migrate

log = logging.getLogger(__name__)

# The order matters only for the log: what a resume needs first. ``heater_log`` too: its
# override rows are what a restart reads to keep a heater forced off (overrides.py).
TABLES = ("runs", "cooks", "checkpoints", "events", "stages", "alerts", "heater_log")
CHUNK = 5000
TABLE_PAGES = (0x05, 0x0D)  # interior, leaf
INDEX_PAGES = (0x02, 0x0A)


@dataclass
class Salvaged:
    """What was carried over from a damaged file."""

    rows: dict[str, int] = field(default_factory=dict)
    holes: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)  # (last read, next read) rowids
    unread: list[str] = field(default_factory=list)  # tables not read at all
    rebuilt_schema: bool = False
    seconds: float = 0.0

    def lost(self, table: str) -> bool:
        """Whether some of ``table``'s rows could not be read."""
        return bool(self.holes.get(table)) or table in self.unread

    @property
    def anything(self) -> bool:
        return self.rows.get("runs", 0) > 0 or self.rows.get("events", 0) > 0

    def summary(self) -> str:
        """One line for the log and /healthz."""
        cooks, events = self.rows.get("cooks", 0), self.rows.get("events", 0)
        text = f"{cooks} cooks and {events} events salvaged"
        lost = self.holes.get("events", [])
        if lost:
            spans = ", ".join(f"after seq {a}" + (f" up to {b}" if b is not None else " to the end") for a, b in lost)
            text += f"; events lost to the damage: {spans}"
        damaged = [t for t, h in self.holes.items() if h and t != "events"] + self.unread
        if damaged:
            text += f"; rows lost from {', '.join(sorted(set(damaged)))}"
        return text


def salvage(damaged: Path, into: sqlite3.Connection) -> Salvaged:
    """Copy every row ``damaged`` (moved aside, with its ``-wal``) still reads into ``into``, a new file."""
    started = time.perf_counter()
    result = Salvaged()
    with tempfile.TemporaryDirectory(prefix=".salvage-", dir=damaged.parent) as scratch:
        copy = Path(scratch) / "copy.db"
        try:
            source = _open_copy(damaged, copy, result)
        except (sqlite3.Error, OSError) as exc:
            log.error("history: nothing could be read from %s: %s", damaged, exc)
            result.seconds = time.perf_counter() - started
            return result
        try:
            into.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                _copy_table(source, into, table, result)
            into.execute("COMMIT")
        except BaseException:
            if into.in_transaction:
                into.execute("ROLLBACK")
            raise
        finally:
            source.close()
    result.seconds = time.perf_counter() - started
    return result


# ---- opening the scratch copy ------------------------------------------------------------


def _open_copy(damaged: Path, copy: Path, result: Salvaged) -> sqlite3.Connection:
    wal = damaged.with_name(damaged.name + "-wal")
    try:
        shutil.copyfile(damaged, copy)
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    except OSError as exc:
        if precheck(damaged) is not None:
            raise
        # a card too full for a second copy: read the file where it lies, without writing to it
        log.warning("history: salvage: no room for a scratch copy (%s); reading %s in place", exc, damaged)
        return _readable(f"{damaged.as_uri()}?mode=ro")
    if precheck(copy) is None:
        with contextlib.suppress(sqlite3.DatabaseError):
            return _readable(str(copy))
    # SQLite will not read it as it is (or would delete the -wal of a 0-byte file): rebuild its schema
    _rebuild_schema(copy, _page_size(damaged, wal))
    result.rebuilt_schema = True
    return _readable(str(copy))


def _readable(target: str) -> sqlite3.Connection:
    """A connection to ``target`` (a path or a file: URI) on which our schema reads, or an error."""
    conn = sqlite3.connect(target, isolation_level=None, uri=target.startswith("file:"))
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not names & set(TABLES):
            raise sqlite3.DatabaseError("no potwatch table in the schema")
    except BaseException:
        conn.close()
        raise
    return conn


def _page_size(damaged: Path, wal: Path) -> int:
    """The page size the file was written with: its header's word, else its log's, else ours."""
    with contextlib.suppress(OSError), damaged.open("rb") as fh:
        head = fh.read(100)
        if head[: len(MAGIC)] == MAGIC:
            size = struct.unpack(">H", head[16:18])[0]
            size = 65536 if size == 1 else size
            if _sane(size):
                return size
    with contextlib.suppress(OSError, struct.error):
        with wal.open("rb") as fh:
            magic, _, size = struct.unpack(">3I", fh.read(12))
        if magic in WAL_MAGIC and _sane(size):
            return int(size)
    return PAGE_SIZE


def _sane(size: int) -> bool:
    return 512 <= size <= 65536 and size & (size - 1) == 0


def _template(page_size: int) -> tuple[bytes, set[int]]:
    """A fresh potwatch file of that page size, and its root pages (every other page holds the schema).

    Its tables only: every potwatch file has them at these pages, but an index made after them has
    its pages where a file older than it has rows. The salvaged file gets its indexes when it is
    opened for writing.
    """
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {page_size}")
        migrate(conn, indexes=False)
        roots = {int(r[0]) for r in conn.execute("SELECT rootpage FROM sqlite_master WHERE rootpage > 0")}
        return conn.serialize(), roots
    finally:
        conn.close()


def _rebuild_schema(copy: Path, page_size: int) -> None:
    """Put back the header and the schema's pages (``sqlite_master``: page 1 and, with 1 KiB pages, a few more)."""
    data = bytearray(copy.read_bytes())
    fresh, roots = _template(page_size)
    if len(data) < len(fresh):
        data.extend(b"\0" * (len(fresh) - len(data)))
    for number in range(1, len(fresh) // page_size + 1):
        if number not in roots:
            at = (number - 1) * page_size
            data[at : at + page_size] = fresh[at : at + page_size]
    data[18:20] = b"\x02\x02"  # WAL mode: read the copy's -wal, where the newest pages are
    pages = -(-len(data) // page_size)
    data[28:32] = struct.pack(">I", pages)  # the file's size in pages, valid for this change counter:
    data[92:96] = data[24:28]
    data[32:40] = b"\0" * 8  # the freelist is unknown: its pages read as "never used", harmlessly
    copy.write_bytes(bytes(data))
    _apply_log(copy)
    _drop_misplaced_roots(copy, page_size, -(-copy.stat().st_size // page_size))


def _apply_log(copy: Path) -> None:
    """Copy the scratch ``-wal``'s pages into the scratch file, so that its bytes are the whole database.

    After a kill most of a file's pages can still be in its ``-wal`` (even its
    first page, then the undamaged one): the roots are checked on the bytes.
    """
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.DatabaseError as exc:
        log.warning("history: salvage: the write-ahead log could not be applied: %s", exc)
    finally:
        conn.close()


def _drop_misplaced_roots(copy: Path, page_size: int, pages: int) -> None:
    """Forget a table whose root page in this file is not a b-tree of its kind (a file migrated in another order)."""
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        roots = conn.execute("SELECT type, name, rootpage FROM sqlite_master WHERE rootpage > 1").fetchall()
        raw = copy.read_bytes()
        bad = []
        for kind, name, root in roots:
            flag = raw[(root - 1) * page_size] if root <= pages and (root - 1) * page_size < len(raw) else -1
            if flag not in (TABLE_PAGES if kind == "table" else INDEX_PAGES):
                bad.append((kind, name))
        if bad:
            conn.execute("PRAGMA writable_schema = ON")
            for kind, name in bad:
                log.warning("history: salvage: the %s %s is not where a potwatch file keeps it; not read", kind, name)
                conn.execute("DELETE FROM sqlite_master WHERE type = ? AND name = ?", (kind, name))
    finally:
        conn.close()


# ---- copying --------------------------------------------------------------------------------


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]


def _copy_table(source: sqlite3.Connection, into: sqlite3.Connection, table: str, result: Salvaged) -> None:
    try:
        have = set(_columns(source, table))
    except sqlite3.DatabaseError:
        have = set()
    columns = [c for c in _columns(into, table) if c in have]
    if not columns:
        result.unread.append(table)
        return
    names = ", ".join(columns)
    select = f"SELECT rowid, {names} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT {CHUNK}"
    insert = f"INSERT OR IGNORE INTO {table} (rowid, {names}) VALUES ({', '.join('?' * (len(columns) + 1))})"
    top = _top(source, table)
    holes: list[tuple[int, int | None]] = []
    copied = 0
    start = 1
    while True:
        batch: list[tuple[Any, ...]] = []
        failed = False
        try:
            for row in source.execute(select, (start,)):
                batch.append(tuple(row))
        except sqlite3.DatabaseError:
            failed = True
        copied += _insert(into, insert, batch)
        last = int(batch[-1][0]) if batch else start - 1
        if not failed:
            if len(batch) < CHUNK:
                break
            start = last + 1
            continue
        resumed = _next_readable(source, select, last, top)
        holes.append((last, resumed))
        if resumed is None:
            break
        start = resumed
    result.rows[table] = copied
    result.holes[table] = holes


def _insert(into: sqlite3.Connection, insert: str, batch: list[tuple[Any, ...]]) -> int:
    """Insert what reads as a row; a row that breaks a constraint (garbage from a bad page) is left out."""
    done = 0
    try:
        into.executemany(insert, batch)
        return len(batch)
    except sqlite3.IntegrityError:
        pass
    for row in batch:
        with contextlib.suppress(sqlite3.IntegrityError):
            into.execute(insert, row)
            done += 1
    return done


def _top(source: sqlite3.Connection, table: str) -> int:
    try:
        found = source.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
    except sqlite3.DatabaseError:
        found = None
    return int(found) if found is not None else 2**40


def _probe(source: sqlite3.Connection, select: str, at: int) -> int | None:
    """The rowid of the first row at or after ``at`` that reads whole, or None when the read fails there."""
    try:
        row = source.execute(select.replace(f"LIMIT {CHUNK}", "LIMIT 1"), (at,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return int(row[0]) if row is not None else 2**62


def _next_readable(source: sqlite3.Connection, select: str, last: int, top: int) -> int | None:
    """Where reading can go on after a failure past rowid ``last``: ahead by doubling steps, then back by halves."""
    failed = last + 1
    step = 1
    while failed + step <= top + 1:
        found = _probe(source, select, failed + step)
        if found is not None:
            if found == 2**62:
                return None  # nothing readable after the damage
            low, high = failed, failed + step
            while high - low > 1:
                mid = (low + high) // 2
                if _probe(source, select, mid) is None:
                    low = mid
                else:
                    high = mid
            return high
        step *= 2
    return None

"""What state the history file is in at start-up, before anything trusts it.

Three looks, cheapest first:

- ``precheck``: the bytes on disk, before SQLite opens the file. A 0-byte
  file must never reach SQLite: it takes an empty file for a new database,
  and deletes the write-ahead log beside it (measured: a read-only open does
  it too), so a cook whose pages were all still in the ``-wal`` would vanish
  without a word. A file without SQLite's 16-byte magic is not a database
  (a text file copied over it, a card that returned another file's blocks).
- ``wal_tail``: the write-ahead log, frame by frame, with SQLite's own
  checksums. SQLite silently ignores every frame after the first bad one;
  we count what it will ignore so it can be said aloud, and so a copy can be
  kept before the first write resets the log.
- ``serious``: ``PRAGMA quick_check``'s complaints, minus the harmless ones.
  "Page N is never used" is a page that no table and no freelist holds (a
  freelist pointer lost in a crash): space wasted, nothing lost or at risk.
  Anything else means a b-tree that SQLite cannot walk safely, and writing
  into it risks more damage: the file is set aside and salvaged (salvage.py).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SQLite format 3\x00"
WAL_MAGIC = (0x377F0682, 0x377F0683)  # checksums little-endian, big-endian
WAL_HEADER = 32
FRAME_HEADER = 24
HARMLESS = re.compile(r"^Page \d+ is never used$")


def precheck(path: Path) -> str | None:
    """None when the file may be opened by SQLite; else why not, in words for /healthz."""
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty (0 bytes)"
        with path.open("rb") as fh:
            head = fh.read(len(MAGIC))
    except OSError:
        return None  # SQLite will say what is wrong (and the caller pauses or moves it)
    if head != MAGIC:
        return "without SQLite's header (damaged, or not a database)"
    return None


def serious(rows: list[tuple[object, ...]]) -> list[str]:
    """The complaints of ``PRAGMA quick_check`` that matter (empty: the file is sound).

    SQLite returns ``ok``, or lines (sometimes several in one row, prefixed
    ``*** in database main ***``).
    """
    out: list[str] = []
    for row in rows:
        for line in str(row[0]).splitlines():
            line = line.strip()
            if not line or line == "ok" or line.startswith("*** in database"):
                continue
            if not HARMLESS.match(line):
                out.append(line)
    return out


def harmless(rows: list[tuple[object, ...]]) -> int:
    """How many of quick_check's complaints are harmless (for the log)."""
    return sum(1 for row in rows for line in str(row[0]).splitlines() if HARMLESS.match(line.strip()))


@dataclass(frozen=True, slots=True)
class WalTail:
    """What SQLite will read of a write-ahead log, and what it will silently drop."""

    frames: int  # frames of the current log generation that SQLite will apply (up to the last commit)
    dropped: int  # frames of the current generation from the first bad checksum on
    header_ok: bool
    size: int

    @property
    def problem(self) -> str | None:
        if self.size == 0:
            return None
        if not self.header_ok:
            return f"the write-ahead log ({self.size} bytes) has a damaged header: SQLite ignores all of it"
        if self.dropped:
            return (
                f"the write-ahead log has {self.dropped} unreadable frames after {self.frames} good ones "
                "(damage, or a commit cut short): what they held is lost"
            )
        return None


def wal_tail(wal: Path) -> WalTail:
    """Walk ``wal``'s frames with SQLite's checksum (docs: "WAL File Format")."""
    try:
        data = wal.read_bytes()
    except OSError:
        return WalTail(0, 0, True, 0)
    if len(data) < WAL_HEADER:
        return WalTail(0, 0, len(data) == 0, len(data))
    magic, _version, page_size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", data[:WAL_HEADER])
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        return WalTail(0, 0, False, len(data))
    order = ">" if magic & 1 else "<"
    s = _checksum(data[:24], order, (0, 0))
    if s != (c1, c2):
        return WalTail(0, 0, False, len(data))
    frame = FRAME_HEADER + page_size
    good = committed = dropped = 0
    broken = False
    for at in range(WAL_HEADER, len(data) - frame + 1, frame):
        _page, commit, f1, f2, k1, k2 = struct.unpack(">6I", data[at : at + FRAME_HEADER])
        if (f1, f2) != (salt1, salt2):
            break  # an older generation of the log: never read, as SQLite does
        if not broken:
            s = _checksum(data[at : at + 8] + data[at + FRAME_HEADER : at + frame], order, s)
            if s == (k1, k2):
                good += 1
                if commit:
                    committed = good
                continue
            broken = True
        dropped += 1
    # good frames after the last commit frame are a transaction that never committed: not a loss to report
    return WalTail(committed, dropped, True, len(data))


def _checksum(block: bytes, order: str, seed: tuple[int, int]) -> tuple[int, int]:
    s0, s1 = seed
    words = struct.unpack(f"{order}{len(block) // 4}I", block)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def quick_check(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """``PRAGMA quick_check`` (every page read, indexes not compared: ~0.4 s per 100 MB)."""
    return [tuple(r) for r in conn.execute("PRAGMA quick_check").fetchall()]

"""Rows of ``cooks`` a salvage could not read, written again from the replayed kitchen.

The ``cooks`` table is a summary of what the events log says; the restore
looks there for the unfinished cooks to resume. When a damaged page cost some
of its rows (salvage.py), the events that made them are usually still there,
and the replay of the time line rebuilds those cooks exactly. This writes
their rows back from what the replay holds and the ``StartCook`` event each
began with, so the cook is resumed and listed again, instead of being lost
with a page of its summary.
"""

from __future__ import annotations

import logging
import sqlite3

from service.core.cook import Cook, Kitchen
from service.history.codec import Kind

log = logging.getLogger(__name__)

INSERT = (
    "INSERT OR IGNORE INTO cooks (id, chain, run, profile, title, probe, channel, first_seq, last_seq, started_at, "
    f"started_wall, ended_at, ended_wall, outcome, boil_c, offset_c) VALUES ({', '.join('?' * 16)})"
)


def missing_cooks(conn: sqlite3.Connection, kitchen: Kitchen, chain: int) -> list[Cook]:
    """The replayed cooks of ``chain`` that the file's ``cooks`` table does not have."""
    known = {r[0] for r in conn.execute("SELECT id FROM cooks WHERE chain = ?", (chain,))}
    return [c for c in kitchen.cooks.values() if c.id not in known]


def write_back(conn: sqlite3.Connection, kitchen: Kitchen, chain: int, cooks: list[Cook]) -> int:
    """Write a row for each of ``cooks`` whose start is in the events; returns how many were written."""
    written = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for cook in cooks:
            start = conn.execute(
                "SELECT seq, run, wall FROM events WHERE kind = ? AND at = ? AND probe = ? ORDER BY seq LIMIT 1",
                (Kind.START, cook.started_at, cook.probe),
            ).fetchone()
            if start is None:
                log.warning("history: cook %s is resumed, but its start is lost too: it is not listed", cook.id)
                continue
            last_seq = ended_wall = None
            if cook.ended_at is not None:
                end = conn.execute(
                    "SELECT seq, wall FROM events WHERE at <= ? ORDER BY seq DESC LIMIT 1", (cook.ended_at,)
                ).fetchone()
                last_seq, ended_wall = (end[0], end[1]) if end is not None else (None, None)
            health = kitchen.probes.get(cook.probe)
            boil_c, offset_c = (health.boil_c, health.offset_c) if health is not None else (None, 0.0)
            conn.execute(
                INSERT,
                (cook.id, chain, start[1], cook.profile.name, cook.profile.title, cook.probe, cook.channel, start[0],
                 last_seq, cook.started_at, start[2], cook.ended_at, ended_wall, cook.outcome, boil_c, offset_c),
            )  # fmt: skip
            written += 1
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if written:
        log.warning(
            "history: %d cooks lost from the damaged file's summary were written again from the replay", written
        )
    return written

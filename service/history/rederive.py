"""Rows of ``cooks`` and ``alerts`` a salvage could not read, written again from the replayed kitchen.

The ``cooks`` and ``alerts`` tables are a summary of what the events log
says; the restore looks in ``cooks`` for the unfinished cooks to resume, the
API in both for what a cook did. When a damaged page cost some of their rows
(salvage.py), the events that made them are usually still there, and the
replay of the time line rebuilds those cooks and alerts exactly. This writes
their rows back from what the replay holds (a cook's first event is its
``StartCook``; a time on the line finds its wall time and run in the events),
so the cook is resumed and listed again, instead of being lost with a page
of its summary, and its alerts (acknowledged or not) are listed with it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from service.core.cook import Cook, Kitchen
from service.history.codec import Kind

log = logging.getLogger(__name__)

INSERT_COOK = (
    "INSERT OR IGNORE INTO cooks (id, chain, run, profile, title, probe, channel, first_seq, last_seq, started_at, "
    f"started_wall, ended_at, ended_wall, outcome, boil_c, offset_c) VALUES ({', '.join('?' * 16)})"
)
INSERT_ALERT = (
    "INSERT OR IGNORE INTO alerts (id, cook, run, at, wall, kind, level, probe, step, celsius, message, acked_at, "
    f"acked_wall, pushed_at, pushed_wall) VALUES ({', '.join('?' * 15)})"
)
START_OF = "SELECT seq, run, wall FROM events WHERE kind = ? AND at = ? AND probe = ? ORDER BY seq LIMIT 1"
AT_OR_BEFORE = "SELECT seq, run, wall FROM events WHERE at <= ? ORDER BY seq DESC LIMIT 1"


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _near(conn: sqlite3.Connection, at: float | None) -> tuple[int, int, float] | None:
    """(seq, run, wall) of the last event at or before ``at`` on the line."""
    if at is None:
        return None
    found = conn.execute(AT_OR_BEFORE, (at,)).fetchone()
    return (int(found[0]), int(found[1]), float(found[2])) if found is not None else None


def missing_cooks(conn: sqlite3.Connection, kitchen: Kitchen, chain: int) -> list[Cook]:
    """The replayed cooks of ``chain`` that the file's ``cooks`` table does not have."""
    known = {r[0] for r in conn.execute("SELECT id FROM cooks WHERE chain = ?", (chain,))}
    return [c for c in kitchen.cooks.values() if c.id not in known]


def write_back(conn: sqlite3.Connection, kitchen: Kitchen, chain: int, cooks: list[Cook]) -> int:
    """Write a row for each of ``cooks`` whose start is in the events; returns how many were written."""
    written = 0
    with _transaction(conn):
        for cook in cooks:
            start = conn.execute(START_OF, (Kind.START, cook.started_at, cook.probe)).fetchone()
            if start is None:
                log.warning("history: cook %s is resumed, but its start is lost too: it is not listed", cook.id)
                continue
            end = _near(conn, cook.ended_at)
            health = kitchen.probes.get(cook.probe)
            boil_c, offset_c = (health.boil_c, health.offset_c) if health is not None else (None, 0.0)
            conn.execute(
                INSERT_COOK,
                (cook.id, chain, start[1], cook.profile.name, cook.profile.title, cook.probe, cook.channel, start[0],
                 end[0] if end else None, cook.started_at, start[2], cook.ended_at, end[2] if end else None,
                 cook.outcome, boil_c, offset_c),
            )  # fmt: skip
            written += 1
    if written:
        log.warning("history: %d cooks lost from the damaged file's summary written again from the replay", written)
    return written


def write_back_alerts(conn: sqlite3.Connection, kitchen: Kitchen) -> int:
    """Write a row for each alert of the replayed kitchen that ``alerts`` lacks; returns how many."""
    known = {r[0] for r in conn.execute("SELECT id FROM alerts")}
    written = 0
    with _transaction(conn):
        for alert in kitchen.alerts.values():
            if alert.id in known:
                continue
            raised, acked, pushed = _near(conn, alert.at), _near(conn, alert.acked_at), _near(conn, alert.pushed_at)
            conn.execute(
                INSERT_ALERT,
                (alert.id, alert.cook_id, raised[1] if raised else 0, alert.at, raised[2] if raised else 0.0,
                 alert.kind.value, alert.level.value, alert.probe, alert.step, alert.celsius, alert.message,
                 alert.acked_at, acked[2] if acked else None, alert.pushed_at, pushed[2] if pushed else None),
            )  # fmt: skip
            written += 1
    if written:
        log.warning("history: %d alerts lost from the damaged file's summary written again from the replay", written)
    return written

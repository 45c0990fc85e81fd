"""Reading the history file back: the past cooks, for the API and for the restore's bookkeeping.

It needs only the file's path. Every read opens its own read-only connection
and closes it (WAL lets it read while the recorder writes; a connection is
cheap next to a cook's worth of rows), so it is safe from any worker thread
and never shares state with the recorder. Nothing here runs on the event
loop: callers hand the methods to ``asyncio.to_thread``.

A file that is missing or locked away reads as "nothing recorded" (logged),
never as an error: the kitchen keeps working without its history. A file
that is damaged where a read goes is different: answering "no such cook" for
a cook the listing shows would be a lie, so ``record`` raises ``Damaged``
(the API answers 503 naming the damage) and the damage is noted for
``/healthz`` (``damage_found``, which the recorder reports). The file is
checked and salvaged at the next start (store.py, salvage.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from service.core.profile import Profile
from service.history.codec import Kind, profile_from_json
from service.history.schema import Trouble, classify, connect_read
from service.runtime.clock import iso_utc
from service.runtime.views import both

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

COOK_COLUMNS = (
    "id, profile, title, probe, channel, first_seq, last_seq, started_at, started_wall, ended_at, ended_wall, "
    "outcome, boil_c, offset_c, run, chain"
)


@dataclass
class CookRow:
    """A row of ``cooks``: times ``*_at`` on the tracker's time line, ``*_wall`` in epoch seconds."""

    id: str
    profile: str
    title: str
    probe: str
    channel: str | None
    first_seq: int
    last_seq: int | None
    started_at: float
    started_wall: float
    ended_at: float | None
    ended_wall: float | None
    outcome: str | None
    boil_c: float | None
    offset_c: float
    run: int
    chain: int

    @property
    def running(self) -> bool:
        """As far as the file knows: the hub has the last word on a cook it holds."""
        return self.ended_at is None and self.outcome is None


@dataclass
class Reading:
    at: float
    celsius: float | None
    gone: str | None = None  # a ProbeGone: the reason


@dataclass
class CookRecord:
    """One cook as the file has it (or, for a cook the file lacks, as the hub's memory has it)."""

    row: CookRow
    profile: Profile | None
    stages: list[tuple[float, float, str, str, str | None]] = field(default_factory=list)  # at, wall, step, ...
    alerts: list[dict[str, Any]] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    runs: list[tuple[float, int]] = field(default_factory=list)  # (at, run) where a restart began


@dataclass(frozen=True)
class Listing:
    """One page of the cooks, newest first.

    ``unwritten`` are the ids (of those the caller holds in memory) that the
    file does not have yet, because recording is paused: they are the newest,
    so they come first; ``rows`` are the file's part of the page; ``total``
    counts both, for every page.
    """

    unwritten: list[str]
    rows: list[CookRow]
    total: int

    @classmethod
    def unrecorded(cls, live: Sequence[str], limit: int, offset: int) -> Listing:
        """The page when there is no file to read: only what is in memory."""
        return cls(list(live[offset : offset + limit]), [], len(live))


class Damaged(Exception):
    """A read hit a damaged part of the file: not "nothing there", but "there, and unreadable"."""


# what reads found damaged, by file, for /healthz: the reader and the recorder share nothing else
_damage: dict[Path, str] = {}
_damage_lock = threading.Lock()


def damage_found(path: Path) -> str | None:
    """What a read of ``path`` last found damaged since the file was (re)opened, or None."""
    with _damage_lock:
        return _damage.get(path.absolute())


def forget_damage(path: Path) -> None:
    """The file at ``path`` was set aside and replaced: what was found in the old one no longer applies."""
    with _damage_lock:
        _damage.pop(path.absolute(), None)


def _note_damage(path: Path, what: str) -> None:
    with _damage_lock:
        _damage[path.absolute()] = what


class HistoryReader:
    """Read-only access to one history file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> sqlite3.Connection | None:
        """A read-only connection to the file, or None when there is none to read."""
        if not self.path.exists():
            return None
        try:
            return connect_read(self.path)
        except sqlite3.Error as exc:
            log.warning("history: cannot read %s: %s", self.path, exc)
            return None

    def read(
        self, work: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T | None:
        """``work(conn, ...)`` on a connection of its own; None when the file cannot be read."""
        conn = self.connect()
        if conn is None:
            return None
        try:
            return work(conn, *args, **kwargs)
        except sqlite3.Error as exc:
            if classify(exc) is Trouble.CORRUPT:
                raise Damaged(str(exc)) from exc
            log.warning("history: cannot read %s: %s", self.path, exc)
            return None
        finally:
            conn.close()

    def listing(self, live: Sequence[str], limit: int, offset: int) -> Listing:
        """A page of every recorded cook; ``live``: the ids held in memory, newest first."""
        try:
            found = self.read(_listing, live, limit, offset)
        except Damaged as exc:
            self._damaged("the list of cooks", exc)
            found = None
        return found if found is not None else Listing.unrecorded(live, limit, offset)

    def record(self, cook_id: str, *, with_readings: bool) -> CookRecord | None:
        """One cook with its stages and alerts (and its readings, for a chart or an export).

        Raises Damaged when the file is damaged where the cook is kept.
        """
        try:
            return self.read(_record, cook_id, with_readings)
        except Damaged as exc:
            raise self._damaged(f"cook {cook_id}", exc) from exc

    def _damaged(self, what: str, exc: Damaged) -> Damaged:
        detail = f"{what} cannot be read: the history file is damaged there ({exc}); it is salvaged at the next start"
        if damage_found(self.path) != detail:
            log.error("history: %s: %s", self.path, detail)
        _note_damage(self.path, detail)
        return Damaged(detail)


def _listing(conn: sqlite3.Connection, live: Sequence[str], limit: int, offset: int) -> Listing:
    known = _known(conn, live)
    unwritten = [cook_id for cook_id in live if cook_id not in known]
    total = int(conn.execute("SELECT count(*) FROM cooks").fetchone()[0]) + len(unwritten)
    first = unwritten[offset : offset + limit]
    room = limit - len(first)
    rows: list[CookRow] = []
    if room > 0:
        skip = max(0, offset - len(unwritten))
        found = conn.execute(
            f"SELECT {COOK_COLUMNS} FROM cooks ORDER BY first_seq DESC LIMIT ? OFFSET ?", (room, skip)
        ).fetchall()
        rows = [CookRow(*r) for r in found]
    return Listing(first, rows, total)


def _known(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {r[0] for r in conn.execute(f"SELECT id FROM cooks WHERE id IN ({marks})", list(ids))}


def _record(conn: sqlite3.Connection, cook_id: str, with_readings: bool) -> CookRecord | None:
    found = conn.execute(f"SELECT {COOK_COLUMNS} FROM cooks WHERE id = ?", (cook_id,)).fetchone()
    if found is None:
        return None
    row = CookRow(*found)
    start = conn.execute("SELECT data FROM events WHERE seq = ? AND kind = ?", (row.first_seq, Kind.START)).fetchone()
    profile = _profile(start[0]) if start and start[0] else None
    record = CookRecord(row, profile)
    record.stages = conn.execute(
        "SELECT at, wall, step, stage, previous FROM stages WHERE cook = ? ORDER BY rowid", (cook_id,)
    ).fetchall()
    for a in conn.execute(
        "SELECT id, kind, level, at, wall, probe, step, celsius, message, acked_at, acked_wall FROM alerts "
        "WHERE cook = ? ORDER BY rowid",
        (cook_id,),
    ):
        celsius, fahrenheit = both(a[7])
        record.alerts.append(
            {
                "id": a[0],
                "kind": a[1],
                "level": a[2],
                "active": False,
                "acked": a[9] is not None,
                "at": iso_utc(a[4]),
                "acked_at": iso_utc(a[10]) if a[10] is not None else None,
                "probe": a[5],
                "cook": cook_id,
                "step": a[6],
                "celsius": celsius,
                "fahrenheit": fahrenheit,
                "message": a[8],
                "t": round(a[3] - row.started_at, 3),
            }
        )
    if with_readings:
        _readings(conn, record)
    return record


def _profile(data: str) -> Profile | None:
    """The recipe a cook ran; None when this potwatch cannot read it (the cook is still listed)."""
    try:
        return profile_from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("history: unreadable recipe in the file: %r", exc)
        return None


def _readings(conn: sqlite3.Connection, record: CookRecord) -> None:
    row = record.row
    last = row.last_seq if row.last_seq is not None else 2**62
    channel = row.channel
    previous_run = row.run
    for kind, at, celsius, chan, live, fault, run in conn.execute(
        "SELECT kind, at, celsius, channel, live, fault, run FROM events "
        "WHERE seq >= ? AND seq <= ? AND kind IN (?, ?) AND probe = ? ORDER BY seq",
        (row.first_seq, last, Kind.READING, Kind.GONE, row.probe),
    ):
        if run != previous_run:
            record.runs.append((at, run))
            previous_run = run
        if kind == Kind.GONE:
            record.readings.append(Reading(at, None, fault or "gone"))
            continue
        if not live:
            continue  # a retained (old) value: shown live, never part of the curve
        if channel is None:
            channel = chan  # the cook follows the first channel it heard, as the tracker does
        elif chan != channel:
            continue
        record.readings.append(Reading(at, celsius))

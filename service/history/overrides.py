"""The cook's last override of each heater, read back from the history at the start (docs/heat.md, Override).

Every override the API accepts is a ``heater_log`` row (``what = 'override'``,
the mode in ``detail``), written at once by the recorder. A restarted potwatch
reads the newest one of each configured heater here, before its controllers
start, so that a heater the cook forced off stays off after a restart, a power
cut or a kill (which of the modes a restarted controller keeps is the
controller's decision: ``service.core.heat.controller.restarted_mode``).

Why ``heater_log`` and not an event the tracker replays: the kitchen is only
rebuilt when a cook is left unfinished, and the override outlives cooks (a
heater forced off stays off for the next cook too); the rows need no new
table, so a file keeps its schema version and an older potwatch can still
open it (nor does the index the question uses, ``heater_log_override``: see
``schema.INDEXES``). Rows are taken in the order they were written (rowid):
each override is written at once, the log is only appended to, and the
salvage of a damaged file copies it in order; a run's number or its clock
could not be trusted across a salvage that lost rows of ``runs``. A row whose
mode this potwatch does not know (a newer version's, a damaged one) is passed
over: the last one it knows stands, so a forced off is not undone by a row it
cannot read.

The override is the heater id's: a heater renamed in the config starts in
"auto". A missing file (a first start) or one from before overrides were
recorded gives no override: "auto". A file that was damaged at this start
(``Store.lost_at_start``: set aside with nothing read or with rows of
``heater_log`` lost, or a write-ahead log whose frames SQLite dropped), or
that cannot be read here, may have lost the cook's last word: its surviving
rows are not trusted (``Recalled.doubt``) and every heater starts forced off
until the cook hands control back. Which heater's rows were on a lost page
cannot be told, so it is every heater, not some. Neither ever stops the start.

A paused run's rows kept in the spill (spill.py) and still refused by the file
at the next start are read from the recorder's backlog instead
(``unwritten_overrides``): newer than the file's, they win. Rows the spill
itself lost (the power gone during the pause) leave no trace to find.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from service.core.heat.events import OverrideMode
from service.history.schema import connect_read
from service.history.store import SQL, Unit
from service.runtime.views import Recalled

log = logging.getLogger(__name__)

# A heater_log row as the recorder queues it: the columns of its INSERT, in order (store.SQL).
_HEATER_COLUMNS = tuple(c.strip() for c in SQL["heater"].split("(", 1)[1].split(")", 1)[0].split(","))
_HEATER, _WHAT, _DETAIL = (_HEATER_COLUMNS.index(c) for c in ("heater", "what", "detail"))

OVERRIDE = "override"  # heater_log.what of an override row
# heater_log.what of the row just before a forced off that a damaged start imposed: why it was not the cook's
DOUBT = "doubt"

# One heater's override rows, newest first, from the index heater_log_override (schema.INDEXES): the log
# may be a year of commands and reports, and only the newest row is read unless this potwatch cannot read
# it. The mode is written into the query, not bound: SQLite takes a partial index only for a query whose
# own WHERE says what the index's does.
NEWEST = f"SELECT detail FROM heater_log WHERE what = '{OVERRIDE}' AND heater = ? ORDER BY rowid DESC"


def last_overrides(conn: sqlite3.Connection, heater_ids: Iterable[str]) -> dict[str, OverrideMode]:
    """The newest recorded override of each heater that has one, among the modes this potwatch knows."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'heater_log'").fetchone() is None:
        return {}  # a history from before the heaters
    found: dict[str, OverrideMode] = {}
    for heater in dict.fromkeys(heater_ids):
        for (detail,) in conn.execute(NEWEST, (heater,)):
            try:
                found[heater] = OverrideMode(detail)
            except ValueError:
                log.warning("history: heater %s: unknown recorded override %r passed over", heater, detail)
                continue
            break
    return found


def recorded_overrides(path: Path, heater_ids: Iterable[str], doubt: str | None = None) -> Recalled:
    """``last_overrides`` of the file at ``path`` on a read-only connection, and whether to trust them.

    ``doubt``: what the start's check of the file found lost (``Store.lost_at_start``),
    passed on. A file that cannot be read here is a doubt of its own: nothing says the
    cook did not force a heater off in it. No file at all is a first start: no doubt.
    """
    if not path.exists():
        return Recalled({}, doubt)
    try:
        with contextlib.closing(connect_read(path)) as conn:
            return Recalled(last_overrides(conn, heater_ids), doubt)
    except (sqlite3.Error, OSError) as exc:
        log.warning("history: cannot read the heaters' last overrides from %s (%s); they start forced off", path, exc)
        return Recalled({}, doubt or f"the file cannot be read ({exc})")


def unwritten_overrides(units: Iterable[Unit], heater_ids: Iterable[str]) -> dict[str, OverrideMode]:
    """The newest override of each heater among writes not in the file yet, among the modes this potwatch knows.

    ``units``: the recorder's backlog at the start. A run that paused (disk full, a
    card remounted read-only) kept its rows in the spill (spill.py); a start whose
    file still refuses them holds them in its backlog, not in the file, and they
    are newer than anything the file holds: a forced off among them is the cook's
    last word.
    """
    wanted = set(heater_ids)
    found: dict[str, OverrideMode] = {}
    for unit in units:
        for key, row in unit:
            if key != "heater" or len(row) != len(_HEATER_COLUMNS):
                continue  # another table's row, or a spill of another shape: not a heater row we can read
            if row[_WHAT] != OVERRIDE or row[_HEATER] not in wanted:
                continue
            with contextlib.suppress(ValueError):
                found[str(row[_HEATER])] = OverrideMode(row[_DETAIL])
    return found

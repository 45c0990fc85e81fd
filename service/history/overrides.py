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
"auto". A history that cannot be read (missing, not ours, damaged, from before
overrides were recorded) gives no override, the old behaviour, and never stops
the start: the safety gate still holds every heater off until it has a cook
and a reading.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from service.core.heat.events import OverrideMode
from service.history.schema import connect_read

log = logging.getLogger(__name__)

OVERRIDE = "override"  # heater_log.what of an override row

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


def recorded_overrides(path: Path, heater_ids: Iterable[str]) -> dict[str, OverrideMode]:
    """``last_overrides`` of the file at ``path`` on a read-only connection; nothing when it cannot be read."""
    if not path.exists():
        return {}
    try:
        with contextlib.closing(connect_read(path)) as conn:
            return last_overrides(conn, heater_ids)
    except (sqlite3.Error, OSError) as exc:
        log.warning("history: cannot read the heaters' last overrides from %s (%s); they start in auto", path, exc)
        return {}

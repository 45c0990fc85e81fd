"""The runs of the service: one row per start, naming its boot and where its clock sat on the time line.

Its own module because the recorder (which writes the row) and the restore
(which decides whether this start continues an older time line) both need it,
and neither should have to import the other to get it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from service.core.cook import Kitchen, ProbeSetup
from service.history.codec import setups_json
from service.history.reader import HistoryReader
from service.runtime.clock import Clock

log = logging.getLogger(__name__)

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot of the machine: monotonic times only compare within one."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return f"unknown-{time.time() - time.monotonic():.0f}"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One start of the service, as the ``runs`` row records it."""

    id: int
    chain: int  # the run that began this time line (itself, when nothing was resumed)
    boot_id: str
    started_wall: float
    mono_base: float  # time.monotonic() at the start
    line_base: float  # the tracker's time line at the start
    speed: float
    setups: str  # JSON, see codec.setups_json
    after_seq: int = 0  # filled by the file; known to restore for runs it read

    @property
    def id_prefix(self) -> str:
        """Cook and alert ids carry their time line, so they never repeat in the file."""
        return f"{self.chain}-"


def run_info(run_id: int, chain: int, boot: str, setups: list[ProbeSetup], clock: Clock) -> RunInfo:
    """This start, as it stands now on ``clock``'s time line."""
    line_base = clock.monotonic()
    mono_base = time.monotonic()
    return RunInfo(run_id, chain, boot, time.time(), mono_base, line_base, clock.speed, setups_json(setups))


def fresh_run(
    writer: sqlite3.Connection | None, path: Path, boot: str, setups: list[ProbeSetup], clock: Clock
) -> RunInfo:
    """A run that begins a new time line, numbered after every run the file has.

    Asks the writer's connection when the recorder has one open, else a
    read-only look at the file; a file nobody can read starts at run 1.
    """
    run_id = _next_run_id(writer) if writer is not None else HistoryReader(path).read(_next_run_id) or 1
    return run_info(run_id, run_id, boot, setups, clock)


def _next_run_id(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()[0])
    except sqlite3.Error as exc:
        log.warning("history: cannot read the runs: %s", exc)
        return 1


def probe_setups(kitchen: Kitchen) -> list[ProbeSetup]:
    """The probes a kitchen was built with (for a run the restore did not begin)."""
    return [ProbeSetup(h.id, h.stale_after, h.boil_c, h.lag_s, h.altitude_m) for h in kitchen.probes.values()]
